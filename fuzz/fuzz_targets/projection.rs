//! Ball projections: radius of every sign gives the documented error; when
//! `Ok` the result lies in the ball, a second projection changes nothing
//! beyond rounding, interior points are untouched, and the backends agree
//! within the norm's documented bound.
#![no_main]

use bilevel::{Error, Float};
use bilevel_fuzz::{Bytes, backends, same};
use libfuzzer_sys::fuzz_target;

fn norm64<T: Float>(v: &[T]) -> f64 {
    let big = v.iter().fold(0.0f64, |m, x| m.max(x.to_f64().abs()));
    if big == 0.0 { 0.0 } else { big * v.iter().map(|x| (x.to_f64() / big).powi(2)).sum::<f64>().sqrt() }
}

fn run<T: Float>(b: &mut Bytes) {
    let n = b.len(70);
    let v0: Vec<T> = b.vec(n);
    let c_len = if b.u8() < 230 { n } else { b.len(70) };
    let center: Vec<T> = b.vec(c_len);
    let hlen = if b.u8() < 230 { n } else { b.len(70) };
    let h: Vec<T> = b.vec(hlen);
    let (r, lam): (T, T) = (b.float(), b.float());
    let eps = T::EPSILON_T.to_f64();
    let mut outs = Vec::new();
    for bk in backends() {
        let mut v = v0.clone();
        let res = bk.project_ball(&mut v, r);
        if !(r > T::ZERO) || r.is_nan() {
            assert!(matches!(res, Err(Error::InvalidParameter { .. })), "{res:?} for r = {r:?}");
        }
        match res {
            Ok(_) => {
                let nv = norm64(&v);
                if r.is_finite() {
                    assert!(
                        nv <= r.to_f64() * (1.0 + 8.0 * eps) + T::MIN_POSITIVE_T.to_f64(),
                        "outside: {nv} > {r:?}"
                    );
                }
                // Strictly inside (beyond the norm's rounding): returned unchanged.
                if norm64(&v0) <= r.to_f64() * (1.0 - 4.0 * (n.div_ceil(16) as f64 + 4.0) * eps) {
                    assert!(same(&v, &v0), "interior point moved");
                }
                let mut w = v.clone();
                bk.project_ball(&mut w, r).unwrap();
                let moved = norm64(&w.iter().zip(&v).map(|(a, b)| *a - *b).collect::<Vec<_>>());
                assert!(
                    moved
                        <= 8.0 * eps * nv.max(T::MIN_POSITIVE_T.to_f64())
                            + 2.0 * n as f64 * T::MIN_POSITIVE_T.to_f64() * eps,
                    "not idempotent: {moved:e} v0={v0:?} v={v:?} w={w:?} r={r:?}"
                );
            }
            Err(_) => assert!(same(&v, &v0), "project_ball wrote on error"),
        }
        let mut vc = v0.clone();
        let rc = bk.project_ball_centered(&mut vc, &center, r);
        if rc.is_err() {
            assert!(same(&vc, &v0));
        }
        let mut vs = v0.clone();
        let rs = bk.step_project(&mut vs, &h, lam, r);
        if hlen != n {
            assert!(matches!(rs, Err(Error::LengthMismatch { .. })));
        }
        outs.push((res, v, rc, vc, rs, vs));
    }
    // The norm is a reduction (FMA lanes on AVX2), so backends agree within
    // the documented bound, not bit for bit: compare factors and entries
    // relatively (ρ ≈ (⌈n/16⌉ + 10)·eps/4, doubled for safety).
    let rho = 2.0 * (n.div_ceil(16) as f64 + 10.0) * eps / 4.0 * 2.0;
    let near = |a: &[T], b: &[T]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                let (x, y) = (x.to_f64(), y.to_f64());
                (x.is_nan() && y.is_nan())
                    || x == y
                    || (x - y).abs() <= rho * x.abs().max(y.abs()) + 4.0 * T::MIN_POSITIVE_T.to_f64() * eps
            })
    };
    let close = |a: &Result<T, Error>, b: &Result<T, Error>| match (a, b) {
        (Ok(x), Ok(y)) => near(&[*x], &[*y]),
        (Err(x), Err(y)) => x == y,
        _ => false,
    };
    for o in &outs[1..] {
        assert!(close(&o.0, &outs[0].0), "{:?} vs {:?}", o.0, outs[0].0);
        assert!(near(&o.1, &outs[0].1), "project_ball differs across backends beyond the bound");
        assert!(close(&o.2, &outs[0].2), "{:?} vs {:?}", o.2, outs[0].2);
        // c + s·(w − c): a one-ulp difference in s moves the result by up to
        // ρ·|w − c| + ulp(c), which can dwarf a result that cancels to ~0.
        let ok_c = o.3.len() == outs[0].3.len()
            && o.3.iter().zip(&outs[0].3).zip(&center).zip(&v0).all(|(((x, y), c), w)| {
                let (x, y, c, w) = (x.to_f64(), y.to_f64(), c.to_f64(), w.to_f64());
                (x.is_nan() && y.is_nan())
                    || x == y
                    || (x - y).abs()
                        <= rho * ((w - c).abs() + c.abs() + x.abs()) + 4.0 * T::MIN_POSITIVE_T.to_f64() * eps
            });
        assert!(ok_c, "project_ball_centered differs across backends beyond the bound");
        assert!(close(&o.4, &outs[0].4), "{:?} vs {:?}", o.4, outs[0].4);
        assert!(near(&o.5, &outs[0].5), "step_project differs across backends beyond the bound");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    if b.bool() { run::<f64>(&mut b) } else { run::<f32>(&mut b) }
});
