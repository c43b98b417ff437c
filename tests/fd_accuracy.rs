//! Accuracy of each `Delta` policy against the best step found by search
//! (ALGORITHMS.md §9.3), over f32/f64, ‖y‖ ∈ {1, 10, 100, 1e3} and
//! ‖v‖ ∈ {1e-3, 1e-1, 1, 10, 1e3}, on a smooth non-quadratic inner loss
//! `g(y) = Σ_k w_k [ (y_k + b_k)⁴/12 + (y_k + b_k)²/2 ]`, whose third and
//! fourth derivatives never vanish, so the truncation error is real at every
//! scale (a saturating loss such as log-cosh becomes exactly linear for large
//! `‖y‖`, where any step is exact).
//!
//! Run with `cargo test --release --test fd_accuracy -- --nocapture` to see
//! the table.

use bilevel::Float;
use bilevel::kernels::{Delta, hvp_central};

const Q: usize = 8;

fn params() -> ([f64; Q], [f64; Q]) {
    let mut w = [0.0; Q];
    let mut b = [0.0; Q];
    for k in 0..Q {
        w[k] = 0.5 + 0.25 * k as f64;
        b[k] = 0.3 * (k as f64 - 3.5);
    }
    (w, b)
}

/// ∇g in `T`: `w_k [ (y_k + b_k)³/3 + (y_k + b_k) ]`, computed in `T`.
fn grad<T: Float>(y: &[T], g: &mut [T]) {
    let (w, b) = params();
    let third = T::ONE / T::from_f64(3.0);
    for k in 0..Q {
        let u = y[k] + T::from_f64(b[k]);
        g[k] = T::from_f64(w[k]) * (u * u * u * third + u);
    }
}

/// Exact HVP in f64: diagonal Hessian `w_k [ (y_k + b_k)² + 1 ]`.
fn exact_hvp(y: &[f64], v: &[f64]) -> Vec<f64> {
    let (w, b) = params();
    (0..Q)
        .map(|k| {
            let u = y[k] + b[k];
            w[k] * (u * u + 1.0) * v[k]
        })
        .collect()
}

fn unit(seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f64> = (0..Q)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            2.0 * ((s >> 11) as f64 / (1u64 << 53) as f64) - 1.0
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn error_of<T: Float>(y: &[T], v: &[T], delta: Delta<T>) -> f64 {
    let mut out = [T::ZERO; Q];
    let mut scratch = vec![T::ZERO; delta.scratch_len(Q, Q)];
    hvp_central(grad::<T>, y, v, delta, &mut scratch, &mut out).unwrap();
    let yf: Vec<f64> = y.iter().map(|t| t.to_f64()).collect();
    let vf: Vec<f64> = v.iter().map(|t| t.to_f64()).collect();
    let e = exact_hvp(&yf, &vf);
    let num: f64 = out.iter().zip(&e).map(|(a, b)| (a.to_f64() - b).powi(2)).sum::<f64>().sqrt();
    let den: f64 = e.iter().map(|b| b * b).sum::<f64>().sqrt();
    num / den
}

fn table<T: Float>() -> Vec<(f64, f64, f64, f64, f64, f64)> {
    let mut rows = Vec::new();
    for (iy, ny) in [1.0, 10.0, 100.0, 1e3].into_iter().enumerate() {
        for (iv, nv) in [1e-3, 1e-1, 1.0, 10.0, 1e3].into_iter().enumerate() {
            let y: Vec<T> = unit(11 + iy as u64).into_iter().map(|t| T::from_f64(t * ny)).collect();
            let v: Vec<T> = unit(101 + iv as u64).into_iter().map(|t| T::from_f64(t * nv)).collect();
            // Best power-of-two step by exhaustive search.
            let mut best = f64::INFINITY;
            for k in -80..=20 {
                let e = error_of(&y, &v, Delta::Fixed(T::from_f64(libm::exp2(k as f64))));
                if e < best {
                    best = e;
                }
            }
            let rel = error_of(&y, &v, Delta::Relative);
            let ada = error_of(&y, &v, Delta::Adaptive);
            let fixed = error_of(&y, &v, Delta::Fixed(T::from_f64(1e-4)));
            rows.push((ny, nv, best, rel, ada, fixed));
        }
    }
    rows
}

fn check<T: Float>() {
    println!("\n{}: relative error ‖D − Hv‖/‖Hv‖", T::NAME);
    println!("| ‖y‖ | ‖v‖ | best (search) | Relative | Adaptive | Fixed(1e-4) | Adaptive/best |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut worst: f64 = 0.0;
    for (ny, nv, best, rel, ada, fixed) in table::<T>() {
        let ratio = ada / best.max(f64::MIN_POSITIVE);
        worst = worst.max(ratio);
        println!("| {ny:.0e} | {nv:.0e} | {best:.2e} | {rel:.2e} | {ada:.2e} | {fixed:.2e} | {ratio:.2} |");
        assert!(
            ratio <= 3.0,
            "{}: adaptive {ada:e} is more than 3x the best {best:e} at ‖y‖={ny}, ‖v‖={nv}",
            T::NAME
        );
    }
    println!("worst Adaptive/best ({}): {worst:.2}", T::NAME);
}

#[test]
fn adaptive_is_within_3x_of_the_best_step_f64() {
    check::<f64>();
}

#[test]
fn adaptive_is_within_3x_of_the_best_step_f32() {
    check::<f32>();
}

/// Where the relative step is far from optimal (a length scale 1/ω much
/// shorter than ‖y‖: `∇g = sin(ω y)/ω`, Hessian `cos(ω y)`), the adaptive
/// policy moves away from it and is clearly more accurate.
#[test]
fn adaptive_corrects_a_badly_scaled_relative_step() {
    const OMEGA: f64 = 1e4;
    let grad = |y: &[f64], g: &mut [f64]| {
        for (gk, &yk) in g.iter_mut().zip(y) {
            *gk = libm::sin(OMEGA * yk) / OMEGA;
        }
    };
    let y = [10.0, -7.0, 3.0];
    let v = [1.0, 0.5, -0.25];
    let exact: Vec<f64> = y.iter().zip(&v).map(|(&a, &b)| libm::cos(OMEGA * a) * b).collect();
    let err = |delta: Delta<f64>| {
        let mut out = [0.0; 3];
        let mut s = vec![0.0; delta.scratch_len(3, 3)];
        hvp_central(grad, &y, &v, delta, &mut s, &mut out).unwrap();
        out.iter().zip(&exact).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
    };
    let (rel, ada) = (err(Delta::Relative), err(Delta::Adaptive));
    println!("short length scale: Relative {rel:.2e}, Adaptive {ada:.2e}");
    assert!(ada * 4.0 < rel, "adaptive {ada:e} should beat relative {rel:e} clearly");
}
