//! Elementwise kernels (`axpy`, `storm_update`, `storm_step`, `ema_update`,
//! ALGORITHMS.md §9.1) against plain reference loops: bit-exact on every
//! backend, for f32 and f64, every tail length and special values.

mod common;

use bilevel::{Backend, Float, kernels};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Form B of §9.1, one element at a time, `c = 1 − η` as the kernel forms it.
fn storm_ref<T: Float>(h: &mut [T], g: &[T], gp: &[T], eta: T) {
    let c = T::ONE - eta;
    for i in 0..h.len() {
        h[i] = g[i] + c * (h[i] - gp[i]);
    }
}

fn check_axpy<T: TestFloat>(v: Vec<Vec<T>>, a: T) -> Result<(), TestCaseError> {
    let (x, y0) = (&v[0], &v[1]);
    let mut want = y0.clone();
    for i in 0..want.len() {
        want[i] += a * x[i];
    }
    for b in backends() {
        let mut y = y0.clone();
        b.axpy(a, x, &mut y).unwrap();
        prop_assert_eq!(first_diff(&y, &want), None, "{:?} n={}", b, y.len());
    }
    let mut y = y0.clone();
    kernels::axpy(a, x, &mut y).unwrap();
    prop_assert_eq!(first_diff(&y, &want), None);
    Ok(())
}

fn check_storm<T: TestFloat>(v: Vec<Vec<T>>, eta: T) -> Result<(), TestCaseError> {
    let (h0, g, gp) = (&v[0], &v[1], &v[2]);
    let mut want = h0.clone();
    storm_ref(&mut want, g, gp, eta);
    for b in backends() {
        let mut h = h0.clone();
        b.storm_update(&mut h, g, gp, eta).unwrap();
        prop_assert_eq!(first_diff(&h, &want), None, "{:?} n={} eta={}", b, h.len(), eta);
    }
    let mut h = h0.clone();
    kernels::storm_update(&mut h, g, gp, eta).unwrap();
    prop_assert_eq!(first_diff(&h, &want), None);
    Ok(())
}

fn check_storm_step<T: TestFloat>(v: Vec<Vec<T>>, eta: T, alpha: T) -> Result<(), TestCaseError> {
    let (h0, x0, g, gp) = (&v[0], &v[1], &v[2], &v[3]);
    let mut want_h = h0.clone();
    storm_ref(&mut want_h, g, gp, eta);
    let mut want_x = x0.clone();
    for i in 0..want_x.len() {
        want_x[i] -= alpha * want_h[i];
    }
    for b in backends() {
        let (mut h, mut x) = (h0.clone(), x0.clone());
        b.storm_step(&mut h, &mut x, g, gp, eta, alpha).unwrap();
        prop_assert_eq!(first_diff(&h, &want_h), None, "{:?} h", b);
        prop_assert_eq!(first_diff(&x, &want_x), None, "{:?} x", b);
        // The fused kernel equals storm_update followed by axpy(−α).
        let (mut h2, mut x2) = (h0.clone(), x0.clone());
        b.storm_update(&mut h2, g, gp, eta).unwrap();
        b.axpy(-alpha, &h2, &mut x2).unwrap();
        prop_assert_eq!(first_diff(&h, &h2), None);
        prop_assert_eq!(first_diff(&x, &x2), None);
    }
    let (mut h, mut x) = (h0.clone(), x0.clone());
    kernels::storm_step(&mut h, &mut x, g, gp, eta, alpha).unwrap();
    prop_assert_eq!(first_diff(&x, &want_x), None);
    Ok(())
}

fn check_ema<T: TestFloat>(v: Vec<Vec<T>>, rho: T) -> Result<(), TestCaseError> {
    let (h0, g) = (&v[0], &v[1]);
    let s = T::ONE - rho;
    let want: Vec<T> = h0.iter().zip(g).map(|(&h, &g)| rho * h + s * g).collect();
    for b in backends() {
        let mut h = h0.clone();
        b.ema_update(&mut h, g, rho).unwrap();
        prop_assert_eq!(first_diff(&h, &want), None, "{:?} n={} rho={}", b, h.len(), rho);
    }
    let mut h = h0.clone();
    kernels::ema_update(&mut h, g, rho).unwrap();
    prop_assert_eq!(first_diff(&h, &want), None);
    Ok(())
}

/// Scalar and AVX2+FMA agree bit for bit on all four kernels at once
/// (redundant with the reference checks, but states the cross-backend
/// property directly).
fn check_cross_backend<T: TestFloat>(v: Vec<Vec<T>>, eta: T, alpha: T) -> Result<(), TestCaseError> {
    let run = |b: Backend| {
        let (mut h, mut x, mut y) = (v[0].clone(), v[1].clone(), v[1].clone());
        b.storm_step(&mut h, &mut x, &v[2], &v[3], eta, alpha).unwrap();
        b.ema_update(&mut h, &v[2], eta).unwrap();
        b.axpy(alpha, &h, &mut y).unwrap();
        b.storm_update(&mut y, &v[2], &v[3], eta).unwrap();
        (h, x, y)
    };
    let base = run(Backend::Scalar);
    for b in backends() {
        let got = run(b);
        prop_assert_eq!(first_diff(&got.0, &base.0), None, "{:?}", b);
        prop_assert_eq!(first_diff(&got.1, &base.1), None, "{:?}", b);
        prop_assert_eq!(first_diff(&got.2, &base.2), None, "{:?}", b);
    }
    Ok(())
}

fn finite_scalar<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![
        1 => Just(T::ZERO),
        4 => (-10.0f64..10.0).prop_map(T::from_f64),
        1 => (-1e30f64..1e30).prop_map(T::from_f64),
    ]
    .boxed()
}

macro_rules! for_both_types {
    ($($name:ident => $check:ident($($strat:ident($($arg:expr),*)),*);)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(config(256))]
                    #[test]
                    fn f32(args in ($($strat::<f32>($($arg),*),)*)) {
                        let ($($strat,)*) = args;
                        $check::<f32>($($strat),*)?;
                    }
                    #[test]
                    fn f64(args in ($($strat::<f64>($($arg),*),)*)) {
                        let ($($strat,)*) = args;
                        $check::<f64>($($strat),*)?;
                    }
                }
            }
        )*
    };
}

// Strategy shorthands with distinct names (the macro binds each to a variable).
fn vecs2<T: TestFloat>() -> BoxedStrategy<Vec<Vec<T>>> {
    vecs(2, elem::<T>)
}
fn vecs3<T: TestFloat>() -> BoxedStrategy<Vec<Vec<T>>> {
    vecs(3, elem::<T>)
}
fn vecs4<T: TestFloat>() -> BoxedStrategy<Vec<Vec<T>>> {
    vecs(4, elem::<T>)
}
fn scal<T: TestFloat>() -> BoxedStrategy<T> {
    finite_scalar::<T>()
}
fn scal2<T: TestFloat>() -> BoxedStrategy<T> {
    finite_scalar::<T>()
}

for_both_types! {
    axpy_matches_reference => check_axpy(vecs2(), scal());
    storm_update_matches_reference => check_storm(vecs3(), unit());
    storm_step_matches_reference => check_storm_step(vecs4(), unit(), scal());
    ema_update_matches_reference => check_ema(vecs2(), unit());
    backends_bit_identical => check_cross_backend(vecs4(), unit(), scal2());
}

/// η = 1 forgets the history (`h = g`), η = 0 is the pure recursion
/// `h + g − g_prev`, on moderate finite data (§9.1 limits).
#[test]
fn storm_limits() {
    let mut rng = SplitMix(7);
    for n in [0usize, 1, 15, 16, 17, 33, 67, 1000] {
        let g: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
        let gp: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
        let h0: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
        for b in backends() {
            let mut h = h0.clone();
            b.storm_update(&mut h, &g, &gp, 1.0).unwrap();
            assert_eq!(h, g, "{b:?} n={n}");
            let mut h = h0.clone();
            b.storm_update(&mut h, &g, &gp, 0.0).unwrap();
            let want: Vec<f64> = (0..n).map(|i| g[i] + (h0[i] - gp[i])).collect();
            assert_eq!(h, want, "{b:?} n={n}");
            let mut h = h0.clone();
            b.ema_update(&mut h, &g, 0.0).unwrap();
            assert_eq!(h, g);
            let mut h = h0.clone();
            b.ema_update(&mut h, &g, 1.0).unwrap();
            assert_eq!(h, h0);
        }
    }
}

/// Form A `η g + (1−η)(h + g − g_prev)` equals form B up to rounding (§9.1):
/// an independent algebraic check of the kernel's formula.
#[test]
fn storm_form_a_agrees() {
    let mut rng = SplitMix(11);
    for n in [1usize, 16, 31, 500] {
        for _ in 0..20 {
            let eta = rng.unit();
            let g: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
            let gp: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
            let h0: Vec<f64> = (0..n).map(|_| rng.signed()).collect();
            let mut h = h0.clone();
            kernels::storm_update(&mut h, &g, &gp, eta).unwrap();
            for i in 0..n {
                let a = eta * g[i] + (1.0 - eta) * (h0[i] + g[i] - gp[i]);
                // Entries in [-1, 1): summing u·|intermediate| times its
                // amplification over the roundings gives ≤ 15u for form A
                // and ≤ 9u for form B, 24u = 12 eps in all.
                assert!((a - h[i]).abs() <= 12.0 * f64::EPSILON, "i={i} a={a} b={}", h[i]);
            }
        }
    }
}
