//! Dense and scalar SAGA tables under random update sequences (indices and
//! lengths possibly out of range): errors exactly when documented, nothing
//! modified on error, and `dir` and the running average equal a plain
//! recomputation from shadow rows within a bound proportional to
//! `eps · n · max|row|`.
#![no_main]

use bilevel::Float;
use bilevel::kernels::{RowWeights, SagaTable, ScalarSagaTable};
use bilevel_fuzz::{Bytes, backends};
use libfuzzer_sys::fuzz_target;

fn run<T: Float>(b: &mut Bytes) {
    let n = 1 + b.len(30);
    let d = 1 + b.len(24);
    let steps = b.len(60);
    let eps = T::EPSILON_T.to_f64();
    for bk in backends() {
        let mut buf = vec![T::ZERO; SagaTable::<T, Vec<T>>::storage_len(n, d)];
        let mut t =
            SagaTable::zeroed(&mut buf[..], n, d, RowWeights::Uniform).unwrap().with_backend(bk).unwrap();
        let mut sbuf = vec![T::ZERO; ScalarSagaTable::<T, Vec<T>>::storage_len(n, d, 1)];
        let mut st = ScalarSagaTable::zeroed(&mut sbuf[..], n, d, 1, RowWeights::Uniform)
            .unwrap()
            .with_backend(bk)
            .unwrap();
        let feats: Vec<T> = b.moderate_vec(n * d);
        let mut shadow = vec![0.0f64; n * d];
        let mut coefs = vec![0.0f64; n];
        let mut max_abs = 0.0f64;
        for _ in 0..steps {
            let i = if b.u8() < 240 { b.len(n - 1) } else { n + b.len(5) };
            let len = if b.u8() < 240 { d } else { b.len(30) };
            let new: Vec<T> = b.moderate_vec(len);
            let mut dir = vec![T::ZERO; d];
            let r = t.update(i, &new, &mut dir);
            assert_eq!(r.is_ok(), i < n && len == d, "{r:?}");
            let c: T = b.moderate();
            let mut sdir = vec![T::ZERO; d];
            let feature = if i < n { &feats[i * d..(i + 1) * d] } else { &feats[..d] };
            let rs = st.update(i, &[c], feature, &mut sdir);
            assert_eq!(rs.is_ok(), i < n, "{rs:?}");
            if r.is_err() {
                assert!(dir.iter().all(|v| *v == T::ZERO), "dir written on error");
                if rs.is_ok() {
                    coefs[i] = c.to_f64();
                }
                continue;
            }
            // Shadow recomputation in f64.
            let avg: Vec<f64> =
                (0..d).map(|k| (0..n).map(|r| shadow[r * d + k]).sum::<f64>() / n as f64).collect();
            for k in 0..d {
                let want = new[k].to_f64() - shadow[i * d + k] + avg[k];
                max_abs = max_abs.max(new[k].to_f64().abs());
                let tol = 8.0 * eps * (n as f64 + 4.0) * (max_abs + 1e-300);
                assert!((dir[k].to_f64() - want).abs() <= tol, "dense dir[{k}] {:?} vs {want}", dir[k]);
                shadow[i * d + k] = new[k].to_f64();
            }
            let savg: Vec<f64> = (0..d)
                .map(|k| (0..n).map(|r| coefs[r] * feats[r * d + k].to_f64()).sum::<f64>() / n as f64)
                .collect();
            for k in 0..d {
                let want = feature[k].to_f64() * (c.to_f64() - coefs[i]) + savg[k];
                let tol = 16.0 * eps * (n as f64 + 4.0) * 16.0 + 1e-300;
                assert!((sdir[k].to_f64() - want).abs() <= tol, "scalar dir[{k}] {:?} vs {want}", sdir[k]);
            }
            coefs[i] = c.to_f64();
        }
        // Running averages against the exact means.
        let mut avg = vec![T::ZERO; d];
        t.average(&mut avg).unwrap();
        for k in 0..d {
            let want = (0..n).map(|r| shadow[r * d + k]).sum::<f64>() / n as f64;
            assert!((avg[k].to_f64() - want).abs() <= 4.0 * eps * (max_abs + 1e-300), "avg[{k}]");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    if b.bool() { run::<f64>(&mut b) } else { run::<f32>(&mut b) }
});
