//! Momentum that decays toward zero passes through the subnormal range:
//! every backend must keep producing the reference values bit for bit (no
//! flush-to-zero, no NaN), down to exact zero. The floating-point control
//! register is never touched; whether subnormals slow a kernel down is
//! measured by `examples/kernel_report.rs` (`subnormal` lines).

mod common;

use bilevel::kernels;
use common::*;

/// Runs `steps` EMA updates with `g = 0` (pure decay `h ← ρ h`) on every
/// backend and checks them against the scalar formula, element by element.
fn ema_decay<T: TestFloat>(h0: T, rho: T, steps: usize) -> usize {
    let n = 37; // a SIMD body plus a tail
    let g = vec![T::ZERO; n];
    let mut subnormal_steps = 0;
    for b in backends() {
        let mut h = vec![h0; n];
        let mut want = h0;
        let mut seen_sub = 0;
        for t in 0..steps {
            b.ema_update(&mut h, &g, rho).unwrap();
            want = rho * want + (T::ONE - rho) * T::ZERO;
            for &v in &h {
                assert_eq!(v.bits(), want.bits(), "{b:?} step {t}: {v:?} vs {want:?}");
            }
            if want != T::ZERO && want.abs() < T::MIN_POSITIVE_T {
                seen_sub += 1;
            }
        }
        assert_eq!(want, T::ZERO, "{b:?}: did not decay to zero in {steps} steps");
        subnormal_steps = seen_sub;
    }
    subnormal_steps
}

#[test]
fn ema_decays_through_subnormals_to_zero_f64() {
    // 0.5^t from 1: 1022 normal halvings, then 52 subnormal ones, then 0.
    let sub = ema_decay(1.0f64, 0.5, 1100);
    assert_eq!(sub, 52);
    // A non-power-of-two weight rounds in the subnormal range; still bit-exact.
    assert!(ema_decay(3.0f64, 0.3, 700) > 0);
}

#[test]
fn ema_decays_through_subnormals_to_zero_f32() {
    assert_eq!(ema_decay(1.0f32, 0.5, 200), 23);
    // (ρ ≤ ½: with ρ > ½ the smallest subnormal is a fixed point of round(ρ h), as IEEE rounding requires.)
    assert!(ema_decay(-7.0f32, 0.45, 400) > 0);
}

#[test]
fn storm_with_subnormal_gradients_matches_reference() {
    // h ← g + (1 − η)(h − g_prev) with every input subnormal or tiny.
    let tiny = f64::MIN_POSITIVE;
    let n = 45;
    let g: Vec<f64> = (0..n).map(|k| tiny * (k as f64 - 20.0) / 64.0).collect();
    let gp: Vec<f64> = (0..n).map(|k| tiny * (13.0 - k as f64) / 128.0).collect();
    for eta in [0.0, 0.1, 0.5, 1.0] {
        let mut want = vec![tiny / 3.0; n];
        for (w, (&gi, &gpi)) in want.iter_mut().zip(g.iter().zip(&gp)) {
            *w = gi + (1.0 - eta) * (*w - gpi);
        }
        for b in backends() {
            let mut h = vec![tiny / 3.0; n];
            b.storm_update(&mut h, &g, &gp, eta).unwrap();
            assert_eq!(first_diff(&h, &want), None, "{b:?} eta {eta}");
        }
        let mut h = vec![tiny / 3.0; n];
        kernels::storm_update(&mut h, &g, &gp, eta).unwrap();
        assert_eq!(first_diff(&h, &want), None);
        assert!(want.iter().any(|v| *v != 0.0 && v.abs() < tiny), "inputs reach the subnormal range");
    }
}
