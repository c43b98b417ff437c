//! Central finite differences with a diagonal quadratic oracle `∇g = D y`:
//! any Delta (including 0, negative, NaN, ∞), any lengths and scratch sizes
//! give `Ok` or a documented error, never a panic; `v = 0` makes no oracle
//! call (an `out` of another length is a product of that length, as
//! documented: `hvp_central` doubles as the JVP); for moderate inputs the HVP matches `D v` within the truncation-free
//! rounding bound (the oracle is linear), on every backend, bit-identically.
#![no_main]

use bilevel::Float;
use bilevel::kernels::Delta;
use bilevel_fuzz::{Bytes, backends, same};
use libfuzzer_sys::fuzz_target;

fn run<T: Float>(b: &mut Bytes) {
    let q = b.len(40);
    let moderate = b.bool();
    let (y, v, diag): (Vec<T>, Vec<T>, Vec<T>) = if moderate {
        (b.moderate_vec(q), b.moderate_vec(q), b.moderate_vec(q))
    } else {
        (b.vec(q), b.vec(q), b.moderate_vec(q))
    };
    let delta = match b.u8() % 4 {
        0 => Delta::Fixed(b.float::<T>()),
        1 => Delta::Relative,
        _ => Delta::Adaptive,
    };
    let scratch_len = if b.u8() < 220 { delta.scratch_len(q, q) } else { b.len(200) };
    let out_len = if b.u8() < 230 { q } else { b.len(40) };
    let mut outs = Vec::new();
    for bk in backends() {
        let mut calls = 0usize;
        let oracle = |p: &[T], g: &mut [T]| {
            calls += 1;
            for ((gi, &pi), &di) in g.iter_mut().zip(p).zip(&diag) {
                *gi = di * pi;
            }
        };
        let mut scratch = vec![T::ZERO; scratch_len];
        let mut out = vec![T::ZERO; out_len];
        let r = bk.hvp_central(oracle, &y, &v, delta, &mut scratch, &mut out);
        if let Ok(rep) = &r {
            assert_eq!(rep.oracle_calls as usize, calls);
            if v.iter().all(|t| *t == T::ZERO) {
                assert_eq!(calls, 0, "v = 0 called the oracle");
                assert!(out.iter().all(|t| *t == T::ZERO));
            } else if moderate && out_len == q && matches!(delta, Delta::Relative | Delta::Adaptive) {
                // Linear oracle: only rounding. |err_i| ≤ c·eps·|D_i|(|y_i| + d|v_i|)/d.
                let d = rep.delta.to_f64();
                let eps = T::EPSILON_T.to_f64();
                for i in 0..q {
                    let (di, yi, vi) = (diag[i].to_f64(), y[i].to_f64(), v[i].to_f64());
                    let tol =
                        4.0 * eps * di.abs() * (yi.abs() + d * vi.abs()) / d + 4.0 * eps * (di * vi).abs();
                    assert!((out[i].to_f64() - di * vi).abs() <= tol, "HVP[{i}] {:?} vs {}", out[i], di * vi);
                }
            }
        }
        outs.push((r.map(|rep| rep.delta.to_f64().to_bits()), out));
    }
    for o in &outs[1..] {
        assert_eq!(o.0, outs[0].0);
        assert!(same(&o.1, &outs[0].1), "FD differs across backends");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    if b.bool() { run::<f64>(&mut b) } else { run::<f32>(&mut b) }
});
