//! Central finite differences with a NON-linear separable oracle
//! `∇g_i = D_i y_i + C_i y_i³/3` (Hessian `D_i + C_i y_i²`): its central
//! difference at step `d` is exactly `(D_i + C_i y_i²) v_i + C_i d² v_i³/3`,
//! so the truncation error is known and checked, not only the rounding.
//! - any Delta (including 0, negative, NaN, ∞), any lengths and scratch
//!   sizes: `Ok` or a documented error, never a panic;
//! - `v = 0` makes no oracle call (an `out` of another length is a product of
//!   that length, as documented: `hvp_central` doubles as the JVP);
//! - the reported δ is a power of two in `[MIN_POSITIVE, 2^e_max]`, the
//!   oracle saw `y + δ·v`, and a fixed request is rounded to within √2 (or
//!   clamped);
//! - for moderate inputs the product matches the exact difference within the
//!   rounding bound: `Fixed`/`Relative` including their truncation term,
//!   `Extrapolated` with it cancelled, `Adaptive` within truncation plus
//!   rounding; on every backend, bit-identically.
#![no_main]

use bilevel::Float;
use bilevel::kernels::Delta;
use bilevel_fuzz::{Bytes, backends, same};
use libfuzzer_sys::fuzz_target;

/// Largest finite power of two of `T`.
fn max_pow2<T: Float>() -> f64 {
    T::exp2i(T::MAX_T.exponent()).to_f64()
}

fn is_pow2(d: f64) -> bool {
    d > 0.0 && d.is_finite() && d.to_bits() & ((1u64 << 52) - 1) == 0
}

fn run<T: Float>(b: &mut Bytes) {
    let q = b.len(40);
    let moderate = b.bool();
    let (y, v, diag, cubic): (Vec<T>, Vec<T>, Vec<T>, Vec<T>) = if moderate {
        (b.moderate_vec(q), b.moderate_vec(q), b.moderate_vec(q), b.moderate_vec(q))
    } else {
        (b.vec(q), b.vec(q), b.moderate_vec(q), b.moderate_vec(q))
    };
    let delta = match b.u8() % 5 {
        0 => Delta::Fixed(b.float::<T>()),
        1 => Delta::Relative,
        2 => Delta::Adaptive,
        _ => Delta::Extrapolated,
    };
    let scratch_len = if b.u8() < 220 { delta.scratch_len(q, q) } else { b.len(200) };
    let out_len = if b.u8() < 230 { q } else { b.len(40) };
    let third = T::ONE / T::from_f64(3.0);
    let mut outs = Vec::new();
    for bk in backends() {
        let mut points: Vec<Vec<T>> = Vec::new();
        let oracle = |p: &[T], g: &mut [T]| {
            points.push(p.to_vec());
            for (i, (gi, &pi)) in g.iter_mut().zip(p).enumerate() {
                *gi = diag[i] * pi + cubic[i] * (pi * pi * pi * third);
            }
        };
        let mut scratch = vec![T::ZERO; scratch_len];
        let mut out = vec![T::ZERO; out_len];
        let r = bk.hvp_central(oracle, &y, &v, delta, &mut scratch, &mut out);
        if let Ok(rep) = &r {
            assert_eq!(rep.oracle_calls as usize, points.len());
            assert!(rep.oracle_calls <= delta.oracle_calls());
            if v.iter().all(|t| *t == T::ZERO) {
                assert_eq!(points.len(), 0, "v = 0 called the oracle");
                assert!(out.iter().all(|t| *t == T::ZERO));
                assert_eq!(rep.delta, T::ZERO);
            } else {
                check_step(&y, &v, delta, rep.delta, &points);
                if moderate && out_len == q {
                    check_product(&y, &v, &diag, &cubic, delta, rep.delta.to_f64(), &out);
                }
            }
        }
        outs.push((r.map(|rep| (rep.delta.to_f64().to_bits(), rep.oracle_calls)), out));
    }
    for o in &outs[1..] {
        assert_eq!(o.0, outs[0].0);
        assert!(same(&o.1, &outs[0].1), "FD differs across backends");
    }
}

/// The reported step is a power of two in range, it is the step used (the
/// oracle saw `y + δ·v`), and a fixed request is honoured up to rounding to a
/// power of two or clamping.
fn check_step<T: Float>(y: &[T], v: &[T], delta: Delta<T>, reported: T, points: &[Vec<T>]) {
    let d = reported.to_f64();
    assert!(is_pow2(d), "δ = {d:e} is not a power of two");
    assert!(d >= T::MIN_POSITIVE_T.to_f64() && d <= max_pow2::<T>(), "δ = {d:e} out of range");
    let shifted: Vec<T> = y.iter().zip(v).map(|(&a, &b)| a + reported * b).collect();
    assert!(points.iter().any(|p| same(p, &shifted)), "the oracle never saw y + δ·v (δ = {d:e})");
    if let Delta::Fixed(want) = delta {
        let want = want.to_f64();
        let (lo, hi) = (T::MIN_POSITIVE_T.to_f64(), max_pow2::<T>());
        if want < lo {
            assert_eq!(d, lo, "Fixed({want:e}) used δ = {d:e}");
        } else if want > hi {
            assert_eq!(d, hi, "Fixed({want:e}) used δ = {d:e}");
        } else {
            // Nearest power of two in ratio (the rounding of `want·√2` in T
            // may tip a request at the midpoint either way).
            let ratio = d / want;
            let slack = 1.0 + 4.0 * T::EPSILON_T.to_f64();
            assert!(
                ratio >= core::f64::consts::FRAC_1_SQRT_2 / slack && ratio <= core::f64::consts::SQRT_2 * slack,
                "Fixed({want:e}) used δ = {d:e}"
            );
        }
    }
    if delta == Delta::Extrapolated {
        assert!(points.len().is_multiple_of(4), "Extrapolated made {} calls", points.len());
    }
}

/// Each entry against the exact central difference of the cubic oracle.
fn check_product<T: Float>(y: &[T], v: &[T], diag: &[T], cubic: &[T], delta: Delta<T>, d: f64, out: &[T]) {
    let eps = T::EPSILON_T.to_f64();
    for i in 0..y.len() {
        let (yi, vi, di, ci) = (y[i].to_f64(), v[i].to_f64(), diag[i].to_f64(), cubic[i].to_f64());
        let exact = (di + ci * yi * yi) * vi;
        // Rounding of one central difference at step s: each gradient
        // `D p + C p³/3` at a rounded point carries ≤ 8·eps·(|D||p| + |C||p|³)
        // (the point's rounding moved through G' included); two of them,
        // divided by 2s.
        let rounding = |s: f64| {
            let p = yi.abs() + s * vi.abs();
            8.0 * eps * (di.abs() * p + ci.abs() * p * p * p) / s + 2.0 * eps * exact.abs()
        };
        // (v_i = 0 has no truncation, also when s² overflows f64.)
        let trunc = |s: f64| if vi == 0.0 { 0.0 } else { ci * s * s * vi * vi * vi / 3.0 };
        // Skip entries whose gradient could overflow T at the points used
        // (the oracle forms p³ before scaling it by C).
        let p = yi.abs() + 2.0 * d * vi.abs();
        let big = p * p * p + di.abs() * p + ci.abs() * p * p * p;
        if !(big <= T::MAX_T.to_f64() / 16.0) {
            continue;
        }
        let got = out[i].to_f64();
        let (want, tol) = match delta {
            Delta::Fixed(_) | Delta::Relative => (exact + trunc(d), rounding(d)),
            // (4·D(d) − D(2d))/3 cancels the d² term exactly for a cubic.
            Delta::Extrapolated => {
                let tol = (4.0 * rounding(d) + rounding(2.0 * d)) / 3.0 + 2.0 * eps * (exact.abs() + trunc(d).abs());
                (exact, tol)
            }
            Delta::Adaptive => (exact, trunc(d).abs() + rounding(d)),
        };
        if tol.is_finite() && want.is_finite() {
            assert!(
                (got - want).abs() <= tol,
                "{delta:?} HVP[{i}] {got:e} vs {want:e} (tol {tol:e}, δ = {d:e}, y {yi:e}, v {vi:e})"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    if b.bool() { run::<f64>(&mut b) } else { run::<f32>(&mut b) }
});
