//! STORM, fused STORM step, EMA and axpy on every backend against the scalar
//! one (bit-exact, NaN = NaN), with adversarial floats, mismatched lengths and
//! weights of any value: `Ok` or the documented error, identical everywhere,
//! outputs untouched on error.
#![no_main]

use bilevel::{Error, Float};
use bilevel_fuzz::{Bytes, backends, same};
use libfuzzer_sys::fuzz_target;

fn run<T: Float>(b: &mut Bytes) {
    let n = b.len(80);
    let lens: Vec<usize> = (0..3).map(|_| if b.u8() < 230 { n } else { b.len(80) }).collect();
    let h0: Vec<T> = b.vec(n);
    let g: Vec<T> = b.vec(lens[0]);
    let gp: Vec<T> = b.vec(lens[1]);
    let x0: Vec<T> = b.vec(lens[2]);
    let (eta, alpha, rho, a): (T, T, T, T) = (b.float(), b.float(), b.float(), b.float());
    let eta_ok = eta >= T::ZERO && eta <= T::ONE;
    let rho_ok = rho >= T::ZERO && rho <= T::ONE;
    let mut results: Vec<(
        Result<(), Error>,
        Vec<T>,
        Result<(), Error>,
        Vec<T>,
        Vec<T>,
        Result<(), Error>,
        Vec<T>,
        Result<(), Error>,
        Vec<T>,
    )> = Vec::new();
    for bk in backends() {
        let mut h = h0.clone();
        let r1 = bk.storm_update(&mut h, &g, &gp, eta);
        if r1.is_err() {
            assert!(same(&h, &h0), "storm_update wrote on error");
        }
        assert_eq!(r1.is_ok(), eta_ok && lens[0] == n && lens[1] == n, "{r1:?}");
        let r2_ok_expected = eta_ok && lens[0] == n && lens[1] == n && lens[2] == n && alpha.is_finite();
        let (mut h2, mut x) = (h0.clone(), x0.clone());
        let r2 = bk.storm_step(&mut h2, &mut x, &g, &gp, eta, alpha);
        assert_eq!(r2.is_ok(), r2_ok_expected, "{r2:?}");
        if r2.is_err() {
            assert!(same(&h2, &h0) && same(&x, &x0), "storm_step wrote on error");
        }
        let mut h3 = h0.clone();
        let r3 = bk.ema_update(&mut h3, &g, rho);
        assert_eq!(r3.is_ok(), rho_ok && lens[0] == n, "{r3:?} rho={rho:?} n={n} lens={lens:?}");
        if r3.is_err() {
            assert!(same(&h3, &h0));
        }
        let mut y = h0.clone();
        let r4 = bk.axpy(a, &g, &mut y);
        assert_eq!(r4.is_ok(), lens[0] == n && a.is_finite(), "{r4:?}");
        results.push((r1, h, r2, h2, x, r3, h3, r4, y));
    }
    let first = &results[0];
    for r in &results[1..] {
        assert_eq!(r.0, first.0);
        assert!(same(&r.1, &first.1), "storm_update differs across backends");
        assert_eq!(r.2, first.2);
        assert!(same(&r.3, &first.3) && same(&r.4, &first.4), "storm_step differs across backends");
        assert_eq!(r.5, first.5);
        assert!(same(&r.6, &first.6), "ema differs across backends");
        assert_eq!(r.7, first.7);
        assert!(same(&r.8, &first.8), "axpy differs across backends");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    if b.bool() { run::<f64>(&mut b) } else { run::<f32>(&mut b) }
});
