//! Reductions (`dot`, `sum_sq`, `norm`) against compensated references,
//! within the bounds stated in src/kernels/dot.rs and src/kernels/norm.rs,
//! on every backend, for f32 and f64. The norm is also checked at the edges
//! of the exponent range (ALGORITHMS.md §9.2).
//!
//! `cargo test --test reductions -- --nocapture measured_agreement` prints the
//! largest observed errors.

mod common;

use bilevel::{Backend, kernels};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn check_dot<T: TestFloat>(v: Vec<Vec<T>>) -> Result<(), TestCaseError> {
    let (a, b) = (&v[0], &v[1]);
    let n = a.len();
    let (hi, lo, abs) = dot2(a, b);
    for be in backends() {
        let c = be.dot(a, b).unwrap().to_f64();
        let err = ((c - hi) - lo).abs();
        let tol = dot_tolerance::<T>(n, abs, c, hi, lo);
        prop_assert!(err <= tol, "{:?} {} n={} err={:e} tol={:e}", be, T::NAME, n, err, tol);
    }
    prop_assert_eq!(kernels::dot(a, b).unwrap().to_f64(), Backend::detect().dot(a, b).unwrap().to_f64());
    Ok(())
}

fn check_sum_sq<T: TestFloat>(v: Vec<Vec<T>>) -> Result<(), TestCaseError> {
    let a = &v[0];
    let n = a.len();
    let (hi, lo, abs) = dot2(a, a);
    for be in backends() {
        let c = be.sum_sq(a).unwrap();
        let cf = c.to_f64();
        let err = ((cf - hi) - lo).abs();
        let tol = dot_tolerance::<T>(n, abs, cf, hi, lo);
        prop_assert!(err <= tol, "{:?} n={} err={:e} tol={:e}", be, n, err, tol);
        // Same accumulation as dot(a, a), so the same bits.
        prop_assert_eq!(c.to_f64().to_bits(), be.dot(a, a).unwrap().to_f64().to_bits());
    }
    Ok(())
}

fn check_norm<T: TestFloat>(a: &[T]) -> Result<(), TestCaseError> {
    let n = a.len();
    let tol = norm_bound::<T>(n) + norm_underflow::<T>(n) + subnormal_allowance(a) + 4.0 * 2f64.powi(-53);
    for be in backends() {
        let c = be.norm(a).unwrap();
        prop_assert!(c.is_finite() && c >= T::ZERO, "{:?} n={} norm={:e}", be, n, c);
        let err = norm_rel_err(a, c);
        prop_assert!(err <= tol, "{:?} {} n={} norm={:e} rel err={:e} tol={:e}", be, T::NAME, n, c, err, tol);
    }
    prop_assert_eq!(kernels::norm(a).unwrap().to_f64(), Backend::detect().norm(a).unwrap().to_f64());
    Ok(())
}

/// Entries spread over the whole exponent range of `T`, scaled so the true
/// norm stays representable: `big` picks the top of the range (near
/// `MAX/2`), `tiny` the subnormal range, otherwise anywhere.
fn extreme<T: TestFloat>() -> BoxedStrategy<(Vec<T>, u8)> {
    (len(), 0u8..4)
        .prop_flat_map(|(n, kind)| {
            let el = (0.5f64..1.0, any::<bool>(), 0.0f64..1.0);
            (proptest::collection::vec(el, n), Just(kind))
        })
        .prop_map(|(raw, kind)| {
            let n = raw.len().max(1) as f64;
            let max = T::MAX_T.to_f64();
            let min_sub = T::MIN_POSITIVE_T.to_f64() * T::EPSILON_T.to_f64();
            let v = raw
                .iter()
                .map(|&(m, neg, t)| {
                    let mag = match kind {
                        // Near MAX/2, divided by √n so that the norm ≤ MAX/2.
                        0 => max / 2.0 * m / n.sqrt(),
                        // Subnormal: up to 2^20 · smallest subnormal.
                        1 => min_sub * libm::floor(m * libm::exp2(20.0 * t)).max(1.0),
                        // Mixed: log-uniform over the whole finite range.
                        2 => {
                            let lo = libm::log2(min_sub);
                            let hi = libm::log2(max / 2.0 / n.sqrt());
                            m * libm::exp2(lo + (hi - lo) * t)
                        }
                        // Just below/above the one-pass threshold region.
                        _ => {
                            m * libm::exp2(-60.0 + 40.0 * t)
                                * if T::MANTISSA_DIGITS_T == 24 { 1.0 } else { 2f64.powi(-420) }
                        }
                    };
                    let x = T::from_f64(if neg { -mag } else { mag });
                    // f32 conversion of a value in range cannot overflow here.
                    if x.is_finite() { x } else { T::ZERO }
                })
                .collect();
            (v, kind)
        })
        .boxed()
}

macro_rules! both {
    ($($name:ident: $strat:expr => |$v:ident| $body:expr;)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(config(256))]
                    #[test]
                    fn f32($v in { type T = f32; $strat }) {
                        type T = f32;
                        $body?;
                    }
                    #[test]
                    fn f64($v in { type T = f64; $strat }) {
                        type T = f64;
                        $body?;
                    }
                }
            }
        )*
    };
}

both! {
    dot_within_bound: vecs(2, moderate::<T>) => |v| check_dot::<T>(v);
    sum_sq_within_bound: vecs(1, moderate::<T>) => |v| check_sum_sq::<T>(v);
    norm_within_bound: vecs(1, moderate::<T>) => |v| check_norm::<T>(&v[0]);
    norm_extreme_magnitudes: extreme::<T>() => |v| check_norm::<T>(&v.0);
}

/// Exact cases: Pythagorean triples, huge pairs, subnormal pairs; special
/// values NaN → NaN, ∞ → ∞, zero → +0; norms above MAX → ∞.
fn norm_special_cases<T: TestFloat>() {
    let t = T::from_f64;
    let max = T::MAX_T;
    let sub = T::MIN_POSITIVE_T * T::EPSILON_T; // smallest subnormal
    for be in backends() {
        let nrm = |a: &[T]| be.norm(a).unwrap();
        assert_eq!(nrm(&[t(3.0), t(4.0)]), t(5.0));
        assert_eq!(nrm(&[]), T::ZERO);
        assert_eq!(nrm(&[T::ZERO; 40]).to_f64().to_bits(), 0.0f64.to_bits());
        assert_eq!(nrm(&[-T::ZERO; 3]).to_f64().to_bits(), 0.0f64.to_bits());
        // 3-4-5 at the top and bottom of the range (exact in the scaled path).
        let big = max * t(0.125);
        assert_eq!(nrm(&[big * t(0.375), big * t(0.5)]), big * t(0.625));
        assert_eq!(nrm(&[sub * t(3.0), sub * t(4.0)]), sub * t(5.0));
        assert_eq!(nrm(&[sub]), sub);
        // Two entries of MAX/2: √2·MAX/2 is representable.
        let r = nrm(&[max * T::HALF, -max * T::HALF]).to_f64();
        let want = max.to_f64() * 0.5 * core::f64::consts::SQRT_2;
        assert!((r / want - 1.0).abs() <= norm_bound::<T>(2), "{r:e} vs {want:e}");
        // The true norm exceeds MAX: ∞.
        assert_eq!(nrm(&[max, max]), T::INFINITY_T);
        for n in [1usize, 5, 16, 17, 40] {
            for pos in [0, n / 2, n - 1] {
                let mut a = vec![t(1.5); n];
                a[pos] = T::NAN_T;
                assert!(nrm(&a).is_nan(), "{be:?} NaN at {pos}/{n}");
                a[pos] = -T::INFINITY_T;
                assert_eq!(nrm(&a), T::INFINITY_T);
                a[(pos + 1) % n] = T::NAN_T;
                if n > 1 {
                    assert!(nrm(&a).is_nan(), "{be:?} NaN with ∞, n={n}");
                }
                let mut a = vec![max; n];
                a[pos] = T::INFINITY_T;
                assert_eq!(nrm(&a), T::INFINITY_T);
            }
        }
    }
}

#[test]
fn norm_special_cases_f32() {
    norm_special_cases::<f32>();
}

#[test]
fn norm_special_cases_f64() {
    norm_special_cases::<f64>();
}

/// `dot` of exact small integers is exact; empty dot is 0; NaN/∞ propagate.
#[test]
fn dot_exact_and_special() {
    for be in backends() {
        for n in 0..=67usize {
            let a: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 3.0).collect();
            let b: Vec<f64> = (0..n).map(|i| (i % 5) as f64 + 1.0).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(be.dot(&a, &b).unwrap(), want, "{be:?} n={n}");
            let af: Vec<f32> = a.iter().map(|&x| x as f32).collect();
            let bf: Vec<f32> = b.iter().map(|&x| x as f32).collect();
            assert_eq!(be.dot(&af, &bf).unwrap(), want as f32);
            if n > 0 {
                let mut c = a.clone();
                c[n - 1] = f64::NAN;
                assert!(be.dot(&c, &b).unwrap().is_nan());
                c[n - 1] = f64::INFINITY;
                assert_eq!(be.dot(&c, &b).unwrap(), f64::INFINITY);
            }
        }
    }
}

/// Measured agreement with the compensated references, per dtype and
/// backend, over fixed random data (lengths 0..=67 and up to 20000, positive
/// data and mixed signs). Prints the largest errors and asserts the bounds.
fn measure<T: TestFloat>() {
    let mut rng = SplitMix(2024);
    let lens: Vec<usize> = (1..=67).chain([100, 255, 256, 1000, 4097, 20000]).collect();
    for be in backends() {
        // (max |err|/Σ|ab| in eps, max ratio to the bound, max relative error on positive data)
        let mut dot_stats = (0.0f64, 0.0f64, 0.0f64);
        let mut norm_stats = (0.0f64, 0.0f64);
        let eps = T::EPSILON_T.to_f64();
        for &n in &lens {
            for trial in 0..8 {
                let positive = trial % 2 == 0;
                let draw = |rng: &mut SplitMix| {
                    let x = rng.unit() * 10f64.powf(4.0 * rng.signed());
                    T::from_f64(if positive || rng.unit() < 0.5 { x } else { -x })
                };
                let a: Vec<T> = (0..n).map(|_| draw(&mut rng)).collect();
                let b: Vec<T> = (0..n).map(|_| draw(&mut rng)).collect();
                let (hi, lo, abs) = dot2(&a, &b);
                let c = be.dot(&a, &b).unwrap().to_f64();
                let err = ((c - hi) - lo).abs();
                let tol = dot_tolerance::<T>(n, abs, c, hi, lo);
                assert!(err <= tol, "{be:?} {} n={n}", T::NAME);
                dot_stats.0 = dot_stats.0.max(err / abs / eps);
                dot_stats.1 = dot_stats.1.max(err / tol);
                if positive {
                    dot_stats.2 = dot_stats.2.max(err / (hi + lo).abs());
                }
                let nr = be.norm(&a).unwrap();
                let rel = norm_rel_err(&a, nr);
                let ntol = norm_bound::<T>(n) + norm_underflow::<T>(n) + 4.0 * 2f64.powi(-53);
                assert!(rel <= ntol, "{be:?} {} n={n} norm", T::NAME);
                norm_stats.0 = norm_stats.0.max(rel / eps);
                norm_stats.1 = norm_stats.1.max(rel / ntol);
            }
        }
        println!(
            "{} {:>6}: dot max |err|/Σ|ab| = {:.3} eps (max {:.3} of bound), max rel err (positive data) = {:.3} eps; \
             norm max rel err = {:.3} eps ({:.3} of bound)",
            T::NAME,
            be.name(),
            dot_stats.0,
            dot_stats.1,
            dot_stats.2 / eps,
            norm_stats.0,
            norm_stats.1
        );
    }
}

#[test]
fn measured_agreement() {
    measure::<f32>();
    measure::<f64>();
}
