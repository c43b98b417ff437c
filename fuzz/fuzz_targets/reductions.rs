//! dot, sum_sq and norm: every backend within the documented bound of an
//! exact (f64 / double-double-free, wider) reference, and the norm never
//! overflows or underflows when the true norm is representable; sum_sq
//! propagates NaN, gives +∞ for infinite entries and for sums far above MAX.
#![no_main]

use bilevel::Float;
use bilevel_fuzz::{Bytes, backends};
use libfuzzer_sys::fuzz_target;

/// γ(m) with m = ⌈n/16⌉ + 4 and u = eps/2 (src/kernels/dot.rs).
fn gamma(n: usize, eps: f64) -> f64 {
    let m = n.div_ceil(16) as f64 + 4.0;
    let u = eps / 2.0;
    m * u / (1.0 - m * u)
}

fn finite_x<T: Float>(x: &[T]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// Σx² in f64, scaled by the largest magnitude so that it neither overflows
/// nor underflows f64 for any f32 or f64 input (`+∞` when it exceeds f64).
fn exact_sum_sq<T: Float>(x: &[T]) -> f64 {
    let big = x.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
    if big == 0.0 {
        return 0.0;
    }
    // Neumaier-compensated, so the reference's own error is a few f64 ulps
    // (each scaled square is rounded once or twice: ≤ eps·Σ in total).
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for v in x {
        let t = (v.to_f64() / big).powi(2);
        let u = s + t;
        c += if s >= t { (s - u) + t } else { (t - u) + s };
        s = u;
    }
    let s = s + c;
    // big² · s, in two steps so that a representable result is not lost to
    // an intermediate overflow.
    big * (big * s)
}

fn run<T: Float>(b: &mut Bytes) {
    let n = b.len(300);
    let wide = b.bool();
    let (x, y): (Vec<T>, Vec<T>) =
        if wide { (b.vec(n), b.vec(n)) } else { (b.moderate_vec(n), b.moderate_vec(n)) };
    let eps = T::EPSILON_T.to_f64();
    let finite = x.iter().chain(&y).all(|v| v.is_finite());
    for bk in backends() {
        // dot: compare with an f64 sum (exact products for f32; for f64 the
        // reference's own error is within the same bound's order, so use 2γ).
        if let Ok(d) = bk.dot(&x, &y) {
            if finite && !wide {
                let exact: f64 = x.iter().zip(&y).map(|(a, b)| a.to_f64() * b.to_f64()).sum();
                let mag: f64 = x.iter().zip(&y).map(|(a, b)| (a.to_f64() * b.to_f64()).abs()).sum();
                let tol = 2.0 * gamma(n, eps) * mag + 4.0 * f64::EPSILON * mag;
                assert!((d.to_f64() - exact).abs() <= tol, "{bk:?} dot {d:?} vs {exact} (tol {tol:e})");
            }
        }
        // norm: scaled accumulation; for finite input whose true norm fits in
        // T the result is finite and within its relative bound.
        let r = bk.norm(&x);
        if finite {
            let big = x.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
            let exact = if big == 0.0 {
                0.0
            } else {
                big * x.iter().map(|v| (v.to_f64() / big).powi(2)).sum::<f64>().sqrt()
            };
            match r {
                Ok(nrm) => {
                    if exact <= T::MAX_T.to_f64() * 0.5 {
                        let tol = (gamma(n, eps) + eps) * exact + T::MIN_POSITIVE_T.to_f64() * eps;
                        assert!((nrm.to_f64() - exact).abs() <= 2.0 * tol, "{bk:?} norm {nrm:?} vs {exact}");
                    }
                }
                Err(e) => assert!(
                    exact > T::MAX_T.to_f64() * 0.5,
                    "{bk:?} norm error {e:?} for representable norm {exact}"
                ),
            }
        }
        // sum_sq: NaN in, NaN out; ±∞ (no NaN) gives +∞; finite input within
        // γ(m)·Σx² of the exact sum (plus half a subnormal quantum per
        // underflowing square), +∞ when the exact sum is far above MAX.
        let s = bk.sum_sq(&x).expect("sum_sq has no error on an available backend");
        if x.iter().any(|v| v.is_nan()) {
            assert!(s.is_nan(), "{bk:?} sum_sq {s:?} of a NaN input");
        } else if !finite_x(&x) {
            assert!(s == T::INFINITY_T, "{bk:?} sum_sq {s:?} of an infinite input");
        } else {
            let exact = exact_sum_sq(&x);
            assert!(s >= T::ZERO, "{bk:?} sum_sq {s:?} negative");
            if exact <= T::MAX_T.to_f64() * 0.5 {
                let quantum = T::MIN_POSITIVE_T.to_f64() * eps;
                let tol = 2.0 * gamma(n, eps) * exact + 4.0 * f64::EPSILON * exact + n as f64 * quantum;
                assert!((s.to_f64() - exact).abs() <= tol, "{bk:?} sum_sq {s:?} vs {exact} (tol {tol:e})");
            } else if exact >= T::MAX_T.to_f64() * 2.0 {
                assert!(s == T::INFINITY_T, "{bk:?} sum_sq {s:?} of a sum {exact:e} above MAX");
            }
        }
    }
    // Mismatched lengths are an error, never a panic.
    if n > 0 {
        for bk in backends() {
            assert!(bk.dot(&x[1..], &y).is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    if b.bool() { run::<f64>(&mut b) } else { run::<f32>(&mut b) }
});
