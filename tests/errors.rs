//! Every documented error of the slice kernels, on every backend, for f32
//! and f64: mismatched lengths (each argument), momentum weights outside
//! [0, 1] or NaN, radii ≤ 0 or NaN, non-finite steps, non-finite vectors;
//! and in each case the outputs are left untouched (except where documented).

mod common;

use bilevel::{Backend, Error, array};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn len_err(what: &'static str, expected: usize, found: usize) -> Error {
    Error::LengthMismatch { what, expected, found }
}

fn unit_err(name: &'static str) -> Error {
    Error::InvalidParameter { name, requirement: "in [0, 1]" }
}

fn radius_err() -> Error {
    Error::InvalidParameter { name: "radius", requirement: "> 0 and not NaN" }
}

/// Weights outside [0, 1] (including NaN and ±∞).
fn bad_unit<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![
        Just(T::NAN_T),
        Just(T::INFINITY_T),
        Just(-T::INFINITY_T),
        (1e-7f64..1e3).prop_map(|d| T::ONE + T::from_f64(d)),
        (1e-30f64..1e3).prop_map(|d| -T::from_f64(d)),
    ]
    .boxed()
}

/// Radii that must be rejected: ≤ 0 (including −0 and −∞) and NaN.
fn bad_radius<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![
        Just(T::NAN_T),
        Just(T::ZERO),
        Just(-T::ZERO),
        Just(-T::INFINITY_T),
        (1e-30f64..1e3).prop_map(|d| -T::from_f64(d)),
    ]
    .boxed()
}

fn non_finite<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![Just(T::NAN_T), Just(T::INFINITY_T), Just(-T::INFINITY_T)].boxed()
}

/// A length different from `n` (shorter or longer, within 0..=70).
fn other_len(n: usize, d: usize) -> usize {
    if d <= n && d.is_multiple_of(2) { n - d } else { n + d }
}

fn fill<T: TestFloat>(n: usize, seed: u64) -> Vec<T> {
    let mut r = SplitMix(seed);
    (0..n).map(|_| T::from_f64(r.signed() * 4.0)).collect()
}

fn check_lengths<T: TestFloat>(n: usize, d: usize) -> Result<(), TestCaseError> {
    let m = other_len(n, d);
    let (a, bad) = (fill::<T>(n, 1), fill::<T>(m, 2));
    let half = T::HALF;
    for be in backends() {
        let mut h = fill::<T>(n, 3);
        let mut x = fill::<T>(n, 4);
        let (h0, x0) = (h.clone(), x.clone());
        // axpy: x against y.
        prop_assert_eq!(be.axpy(half, &bad, &mut h), Err(len_err("x", n, m)));
        // dot: b against a.
        prop_assert_eq!(be.dot(&a, &bad), Err(len_err("b", n, m)));
        // storm_update: g, g_prev.
        prop_assert_eq!(be.storm_update(&mut h, &bad, &a, half), Err(len_err("g", n, m)));
        prop_assert_eq!(be.storm_update(&mut h, &a, &bad, half), Err(len_err("g_prev", n, m)));
        // storm_step: x, g, g_prev.
        let mut xb = bad.clone();
        prop_assert_eq!(be.storm_step(&mut h, &mut xb, &a, &a, half, half), Err(len_err("x", n, m)));
        prop_assert_eq!(xb.as_slice(), bad.as_slice());
        prop_assert_eq!(be.storm_step(&mut h, &mut x, &bad, &a, half, half), Err(len_err("g", n, m)));
        prop_assert_eq!(be.storm_step(&mut h, &mut x, &a, &bad, half, half), Err(len_err("g_prev", n, m)));
        // ema_update: g.
        prop_assert_eq!(be.ema_update(&mut h, &bad, half), Err(len_err("g", n, m)));
        // project_ball_centered: center; step_project: h.
        prop_assert_eq!(be.project_ball_centered(&mut h, &bad, T::ONE), Err(len_err("center", n, m)));
        prop_assert_eq!(be.step_project(&mut h, &bad, half, T::ONE), Err(len_err("h", n, m)));
        prop_assert_eq!(first_diff(&h, &h0), None, "{:?}", be);
        prop_assert_eq!(first_diff(&x, &x0), None, "{:?}", be);
    }
    Ok(())
}

fn check_bad_unit<T: TestFloat>(n: usize, w: T) -> Result<(), TestCaseError> {
    let (g, gp) = (fill::<T>(n, 5), fill::<T>(n, 6));
    for be in backends() {
        let mut h = fill::<T>(n, 7);
        let mut x = fill::<T>(n, 8);
        let (h0, x0) = (h.clone(), x.clone());
        prop_assert_eq!(be.storm_update(&mut h, &g, &gp, w), Err(unit_err("eta")));
        prop_assert_eq!(be.storm_step(&mut h, &mut x, &g, &gp, w, T::HALF), Err(unit_err("eta")));
        prop_assert_eq!(be.ema_update(&mut h, &g, w), Err(unit_err("rho")));
        prop_assert_eq!(first_diff(&h, &h0), None);
        prop_assert_eq!(first_diff(&x, &x0), None);
    }
    let mut h = [T::ONE; 4];
    prop_assert_eq!(array::storm_update(&mut h, &[T::ONE; 4], &[T::ZERO; 4], w), Err(unit_err("eta")));
    prop_assert_eq!(array::ema_update(&mut h, &[T::ZERO; 4], w), Err(unit_err("rho")));
    prop_assert_eq!(h, [T::ONE; 4]);
    Ok(())
}

fn check_bad_radius<T: TestFloat>(n: usize, r: T) -> Result<(), TestCaseError> {
    let c = fill::<T>(n, 9);
    for be in backends() {
        let mut v = fill::<T>(n, 10);
        let v0 = v.clone();
        prop_assert_eq!(be.project_ball(&mut v, r), Err(radius_err()));
        prop_assert_eq!(be.project_ball_centered(&mut v, &c, r), Err(radius_err()));
        prop_assert_eq!(be.step_project(&mut v, &c, T::HALF, r), Err(radius_err()));
        prop_assert_eq!(first_diff(&v, &v0), None);
    }
    let mut v = [T::ONE; 3];
    prop_assert_eq!(array::project_ball(&mut v, r), Err(radius_err()));
    prop_assert_eq!(v, [T::ONE; 3]);
    Ok(())
}

fn check_non_finite_scalars<T: TestFloat>(n: usize, bad: T) -> Result<(), TestCaseError> {
    let (g, gp) = (fill::<T>(n, 11), fill::<T>(n, 12));
    for be in backends() {
        let mut h = fill::<T>(n, 13);
        let mut x = fill::<T>(n, 14);
        let (h0, x0) = (h.clone(), x.clone());
        prop_assert_eq!(be.axpy(bad, &g, &mut h), Err(Error::NonFinite { what: "a" }));
        prop_assert_eq!(
            be.storm_step(&mut h, &mut x, &g, &gp, T::HALF, bad),
            Err(Error::NonFinite { what: "alpha" })
        );
        prop_assert_eq!(be.step_project(&mut h, &g, bad, T::ONE), Err(Error::NonFinite { what: "lambda" }));
        prop_assert_eq!(first_diff(&h, &h0), None);
        prop_assert_eq!(first_diff(&x, &x0), None);
    }
    Ok(())
}

/// NaN anywhere (or ±∞ with a finite radius) in the vector to project.
fn check_non_finite_vector<T: TestFloat>(n: usize, pos: usize, bad: T, r: f64) -> Result<(), TestCaseError> {
    let n = n.max(1);
    let pos = pos % n;
    let r = T::from_f64(r);
    let mut w = fill::<T>(n, 15);
    w[pos] = bad;
    let c = fill::<T>(n, 16);
    let err = Err(Error::NonFinite { what: "v" });
    for be in backends() {
        let mut v = w.clone();
        prop_assert_eq!(be.project_ball(&mut v, r), err);
        prop_assert_eq!(first_diff(&v, &w), None);
        prop_assert_eq!(be.project_ball_centered(&mut v, &c, r), err);
        prop_assert_eq!(first_diff(&v, &w), None);
        // A non-finite centre is the same error, v untouched.
        let mut v = c.clone();
        prop_assert_eq!(be.project_ball_centered(&mut v, &w, r), err);
        prop_assert_eq!(first_diff(&v, &c), None);
        // step_project: documented to leave the unprojected step in v.
        let mut v = c.clone();
        let zeros = vec![T::ZERO; n];
        prop_assert_eq!(be.step_project(&mut v, &w, -T::ONE, r), err);
        let mut want = c.clone();
        be.axpy(T::ONE, &w, &mut want).unwrap();
        prop_assert_eq!(first_diff(&v, &want), None);
        let mut v = w.clone();
        prop_assert_eq!(be.step_project(&mut v, &zeros, T::ONE, r), err);
        prop_assert_eq!(first_diff(&v, &w), None);
    }
    Ok(())
}

macro_rules! both {
    ($($name:ident: $strat:expr => |$v:pat_param| $body:expr;)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(config(64))]
                    #[test]
                    fn f32($v in { #[allow(dead_code)] type T = f32; $strat }) {
                        type T = f32;
                        $body?;
                    }
                    #[test]
                    fn f64($v in { #[allow(dead_code)] type T = f64; $strat }) {
                        type T = f64;
                        $body?;
                    }
                }
            }
        )*
    };
}

both! {
    length_mismatch: (0usize..=67, 1usize..=3) => |(n, d)| check_lengths::<T>(n, d);
    weight_outside_unit_interval: (0usize..=40, bad_unit::<T>()) => |(n, w)| check_bad_unit::<T>(n, w);
    radius_not_positive: (0usize..=40, bad_radius::<T>()) => |(n, r)| check_bad_radius::<T>(n, r);
    non_finite_step: (0usize..=40, non_finite::<T>()) => |(n, a)| check_non_finite_scalars::<T>(n, a);
    non_finite_vector: (
        0usize..=40,
        any::<usize>(),
        non_finite::<T>(),
        prop_oneof![Just(1.0), Just(1e-3), Just(1e30)],
    ) => |(n, p, b, r)| check_non_finite_vector::<T>(n, p, b, r);
}

/// A NaN in the vector is an error even with `r = +∞`; ±∞ is not.
#[test]
fn infinite_radius_rejects_nan_only() {
    for be in backends() {
        let mut v = [1.0f64, f64::NAN, 2.0];
        assert_eq!(be.project_ball(&mut v, f64::INFINITY), Err(Error::NonFinite { what: "v" }));
        let mut v = [1.0f32, f32::NEG_INFINITY];
        assert_eq!(be.project_ball(&mut v, f32::INFINITY), Ok(1.0));
        assert_eq!(v, [1.0, f32::NEG_INFINITY]);
    }
}

/// `v − center` that overflows is a non-finite distance: error, v untouched.
#[test]
fn centered_difference_overflow() {
    for be in backends() {
        let mut v = [f64::MAX, 0.0];
        assert_eq!(
            be.project_ball_centered(&mut v, &[-f64::MAX, 0.0], 1.0),
            Err(Error::NonFinite { what: "v" })
        );
        assert_eq!(v, [f64::MAX, 0.0]);
    }
}

/// Zero-length inputs are valid everywhere (nothing to write).
#[test]
fn empty_inputs_are_fine() {
    for be in backends() {
        let e: [f64; 0] = [];
        let mut h: [f64; 0] = [];
        let mut x: [f64; 0] = [];
        be.axpy(1.0, &e, &mut h).unwrap();
        assert_eq!(be.dot(&e, &e), Ok(0.0));
        assert_eq!(be.sum_sq(&e), Ok(0.0));
        assert_eq!(be.norm(&e), Ok(0.0));
        be.storm_update(&mut h, &e, &e, 0.5).unwrap();
        be.storm_step(&mut h, &mut x, &e, &e, 0.5, 1.0).unwrap();
        be.ema_update(&mut h, &e, 0.5).unwrap();
        assert_eq!(be.project_ball(&mut h, 1.0), Ok(1.0));
        assert_eq!(be.project_ball_centered(&mut h, &e, 1.0), Ok(1.0));
        assert_eq!(be.step_project(&mut h, &e, 1.0, 1.0), Ok(1.0));
    }
}

/// A backend this CPU cannot run reports `BackendUnavailable` and writes
/// nothing (checked on whichever backends are unavailable here).
#[test]
fn unavailable_backend() {
    for be in Backend::ALL.into_iter().filter(|b| !b.is_available()) {
        let mut h = [1.0f64; 5];
        let g = [2.0f64; 5];
        let err = Err(Error::BackendUnavailable(be));
        assert_eq!(be.storm_update(&mut h, &g, &g, 0.5), err);
        assert_eq!(be.axpy(1.0, &g, &mut h), err);
        assert_eq!(be.project_ball(&mut h, 0.5).map(|_| ()), err);
        assert_eq!(be.dot(&g, &g).map(|_| ()), err);
        assert_eq!(h, [1.0; 5]);
    }
    assert!(Backend::Scalar.is_available());
}
