//! dot, sum_sq and norm: every backend within the documented bound of an
//! exact (f64 / double-double-free, wider) reference, and the norm never
//! overflows or underflows when the true norm is representable.
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
        let _ = bk.sum_sq(&x);
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
