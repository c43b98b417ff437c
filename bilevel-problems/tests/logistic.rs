//! Proof of the logistic hyperparameter problem (ALGORITHMS.md §10.2): every
//! first-order oracle against central differences of the batch loss (itself
//! checked against a plain reference loop), every second-order product against
//! dense nalgebra Hessians/Jacobians (finite differences of the gradients and
//! an independent closed form), finite-sum weights, GLM coefficients, f32, and
//! the synthetic data generator.

use bilevel::oracles::{FiniteSum, FirstOrder, Problem, SecondOrder};
use bilevel::{Backend, Error};
use bilevel_problems::logistic::{
    BinaryData, LogisticHyper, logistic_loss, logistic_loss_d1, logistic_loss_d2, sigmoid,
};
use bilevel_problems::synthetic::LogisticDataset;
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const D: usize = 5;
const N: usize = 23; // batches of 5: the last holds 3
const M: usize = 13; // batches of 4: the last holds 1
const BI: usize = 5;
const BO: usize = 4;

fn unif(rng: &mut Xoshiro256PlusPlus, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

struct Data {
    tf: Vec<f64>,
    tl: Vec<f64>,
    vf: Vec<f64>,
    vl: Vec<f64>,
}

fn data(seed: u64) -> Data {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut gen_set = |n: usize| {
        let f: Vec<f64> = (0..n * D).map(|_| unif(&mut rng, -1.5, 1.5)).collect();
        let l: Vec<f64> = (0..n).map(|_| if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 }).collect();
        (f, l)
    };
    let (tf, tl) = gen_set(N);
    let (vf, vl) = gen_set(M);
    Data { tf, tl, vf, vl }
}

fn problem(d: &Data) -> LogisticHyper<'_, f64> {
    let train = BinaryData::new(&d.tf, &d.tl, D).unwrap();
    let val = BinaryData::new(&d.vf, &d.vl, D).unwrap();
    LogisticHyper::new(train, val, BI, BO).unwrap()
}

fn point(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = (0..D).map(|_| unif(&mut rng, -2.0, 1.0)).collect();
    let y = (0..D).map(|_| unif(&mut rng, -1.0, 1.0)).collect();
    let v = (0..D).map(|_| unif(&mut rng, -1.0, 1.0)).collect();
    (x, y, v)
}

/// Plain reference: mean of log(1 + exp(−c aᵀy)) over `rows` (moderate margins only).
fn ref_loss(f: &[f64], l: &[f64], rows: std::ops::Range<usize>, y: &[f64]) -> f64 {
    let n = rows.len() as f64;
    rows.map(|i| {
        let s: f64 = (0..D).map(|k| f[i * D + k] * y[k]).sum();
        (1.0 + (-l[i] * s).exp()).ln()
    })
    .sum::<f64>()
        / n
}

fn ref_reg(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(xk, yk)| 0.5 * xk.exp() * yk * yk).sum()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y} (tol {tol})");
    }
}

/// Central difference of `loss` along each coordinate of `z`.
fn fd_grad(z: &[f64], h: f64, mut loss: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    (0..z.len())
        .map(|k| {
            let (mut zp, mut zm) = (z.to_vec(), z.to_vec());
            zp[k] += h;
            zm[k] -= h;
            (loss(&zp) - loss(&zm)) / (2.0 * h)
        })
        .collect()
}

#[test]
fn batch_losses_match_a_reference_loop() {
    let d = data(1);
    let pb = problem(&d);
    let (x, y, _) = point(2);
    for b in 0..pb.n_inner() {
        let r = pb.inner_rows(b).unwrap();
        let want = ref_loss(&d.tf, &d.tl, r, &y) + ref_reg(&x, &y);
        let got = pb.loss_g_batch(&x, &y, b).unwrap();
        assert!((got - want).abs() < 1e-14, "g batch {b}: {got} vs {want}");
    }
    for b in 0..pb.n_outer() {
        let r = pb.outer_rows(b).unwrap();
        let got = pb.loss_f_batch(&y, b).unwrap();
        let want = ref_loss(&d.vf, &d.vl, r, &y);
        assert!((got - want).abs() < 1e-14, "f batch {b}: {got} vs {want}");
    }
    let g = pb.loss_g(&x, &y).unwrap();
    assert!((g - (ref_loss(&d.tf, &d.tl, 0..N, &y) + ref_reg(&x, &y))).abs() < 1e-14);
    let f = pb.loss_f(&y).unwrap();
    assert!((f - ref_loss(&d.vf, &d.vl, 0..M, &y)).abs() < 1e-14);
}

#[test]
fn first_order_oracles_match_central_differences_of_the_loss() {
    let d = data(3);
    let pb = problem(&d);
    let h = 1e-5;
    for seed in 0..3 {
        let (x, y, _) = point(10 + seed);
        for b in 0..pb.n_inner() {
            let (mut gx, mut gy) = (vec![0.0; D], vec![0.0; D]);
            pb.grad_g(&x, &y, &b, Some(&mut gx), Some(&mut gy));
            let fx = fd_grad(&x, h, |xx| pb.loss_g_batch(xx, &y, b).unwrap());
            let fy = fd_grad(&y, h, |yy| pb.loss_g_batch(&x, yy, b).unwrap());
            assert_close(&gx, &fx, 1e-8, "grad_x g");
            assert_close(&gy, &fy, 1e-8, "grad_y g");
            // Each output alone equals the joint call.
            let mut gy2 = vec![0.0; D];
            pb.grad_g(&x, &y, &b, None, Some(&mut gy2));
            assert_eq!(gy, gy2);
        }
        for b in 0..pb.n_outer() {
            let (mut fxo, mut fyo) = (vec![7.0; D], vec![0.0; D]);
            pb.grad_f(&x, &y, &b, Some(&mut fxo), Some(&mut fyo));
            let fdy = fd_grad(&y, h, |yy| pb.loss_f_batch(yy, b).unwrap());
            assert_close(&fyo, &fdy, 1e-8, "grad_y f");
            assert_eq!(fxo, vec![0.0; D], "f does not depend on x");
        }
    }
}

/// Dense inner Hessian of batch `b` by central differences of the oracle gradient.
fn fd_hessian(pb: &LogisticHyper<'_, f64>, x: &[f64], y: &[f64], b: usize, h: f64) -> DMatrix<f64> {
    let mut hm = DMatrix::zeros(D, D);
    for k in 0..D {
        let (mut yp, mut ym) = (y.to_vec(), y.to_vec());
        yp[k] += h;
        ym[k] -= h;
        let (mut gp, mut gm) = (vec![0.0; D], vec![0.0; D]);
        pb.grad_g(x, &yp, &b, None, Some(&mut gp));
        pb.grad_g(x, &ym, &b, None, Some(&mut gm));
        for r in 0..D {
            hm[(r, k)] = (gp[r] - gm[r]) / (2.0 * h);
        }
    }
    hm
}

/// Independent closed form: Aᵀ diag(σ(s)(1−σ(s))) A / |b| + diag(e^x), σ written naively.
fn closed_hessian(d: &Data, rows: std::ops::Range<usize>, x: &[f64], y: &[f64]) -> DMatrix<f64> {
    let nb = rows.len();
    let a = DMatrix::from_fn(nb, D, |r, k| d.tf[(rows.start + r) * D + k]);
    let s = &a * DVector::from_column_slice(y);
    let w = DMatrix::from_diagonal(&s.map(|t| {
        let sg = 1.0 / (1.0 + (-t).exp());
        sg * (1.0 - sg)
    }));
    a.transpose() * w * &a / nb as f64
        + DMatrix::from_diagonal(&DVector::from_iterator(D, x.iter().map(|v| v.exp())))
}

#[test]
fn hvp_matches_dense_hessian() {
    let d = data(4);
    let pb = problem(&d);
    for seed in 0..3 {
        let (x, y, v) = point(20 + seed);
        for b in 0..pb.n_inner() {
            let hfd = fd_hessian(&pb, &x, &y, b, 1e-5);
            let hcl = closed_hessian(&d, pb.inner_rows(b).unwrap(), &x, &y);
            assert!((&hfd - &hcl).abs().max() < 1e-8, "FD Hessian vs closed form, batch {b}");
            assert!((&hcl - hcl.transpose()).abs().max() < 1e-15);
            let mut hv = vec![0.0; D];
            pb.hvp_jvp_g(&x, &y, &v, &b, Some(&mut hv), None);
            let want = &hcl * DVector::from_column_slice(&v);
            assert_close(&hv, want.as_slice(), 1e-13, "HVP vs closed Hessian");
            let want_fd = &hfd * DVector::from_column_slice(&v);
            assert_close(&hv, want_fd.as_slice(), 1e-7, "HVP vs FD Hessian");
        }
    }
}

#[test]
fn jvp_matches_dense_cross_jacobian() {
    let d = data(5);
    let pb = problem(&d);
    let h = 1e-5;
    for seed in 0..3 {
        let (x, y, v) = point(30 + seed);
        for b in 0..pb.n_inner() {
            // J[a][c] = ∂(∇_y g)_c / ∂x_a, by central differences in x.
            let mut j = DMatrix::zeros(D, D);
            for a in 0..D {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[a] += h;
                xm[a] -= h;
                let (mut gp, mut gm) = (vec![0.0; D], vec![0.0; D]);
                pb.grad_g(&xp, &y, &b, None, Some(&mut gp));
                pb.grad_g(&xm, &y, &b, None, Some(&mut gm));
                for c in 0..D {
                    j[(a, c)] = (gp[c] - gm[c]) / (2.0 * h);
                }
            }
            // Closed form J = diag(e^x ⊙ y).
            let jcl = DMatrix::from_diagonal(&DVector::from_iterator(D, (0..D).map(|k| x[k].exp() * y[k])));
            assert!((&j - &jcl).abs().max() < 1e-8);
            // The same J from the other side: ∂(∇_x g)_a / ∂y_c.
            let jy = DMatrix::from_fn(D, D, |a, c| {
                let (mut yp, mut ym) = (y.clone(), y.clone());
                yp[c] += h;
                ym[c] -= h;
                let (mut gp, mut gm) = (vec![0.0; D], vec![0.0; D]);
                pb.grad_g(&x, &yp, &b, Some(&mut gp), None);
                pb.grad_g(&x, &ym, &b, Some(&mut gm), None);
                (gp[a] - gm[a]) / (2.0 * h)
            });
            assert!((&jy - &jcl).abs().max() < 1e-8);
            let (mut hv, mut jv) = (vec![0.0; D], vec![0.0; D]);
            pb.hvp_jvp_g(&x, &y, &v, &b, Some(&mut hv), Some(&mut jv));
            let want = &j * DVector::from_column_slice(&v);
            assert_close(&jv, want.as_slice(), 1e-7, "JVP vs FD Jacobian");
            let mut jv2 = vec![0.0; D];
            pb.hvp_jvp_g(&x, &y, &v, &b, None, Some(&mut jv2));
            assert_eq!(jv, jv2);
        }
    }
}

#[test]
fn finite_sum_weights_and_batch_means_reproduce_the_full_problem() {
    let d = data(6);
    let pb = problem(&d);
    assert_eq!((pb.n_inner(), pb.n_outer()), (5, 4));
    let wi: f64 = (0..pb.n_inner()).map(|i| pb.inner_weight(i)).sum();
    let wo: f64 = (0..pb.n_outer()).map(|j| pb.outer_weight(j)).sum();
    assert!((wi - 1.0).abs() < 1e-15 && (wo - 1.0).abs() < 1e-15);
    assert_eq!(pb.inner_weight(4), 3.0 / N as f64);
    assert_eq!(pb.outer_weight(3), 1.0 / M as f64);
    assert_eq!(pb.inner_weight(5), 0.0);
    // One batch holding everything: the full problem.
    let train = BinaryData::new(&d.tf, &d.tl, D).unwrap();
    let val = BinaryData::new(&d.vf, &d.vl, D).unwrap();
    let full = LogisticHyper::new(train, val, N, M).unwrap();
    assert_eq!((full.n_inner(), full.n_outer()), (1, 1));
    let (x, y, v) = point(7);
    let mut acc = [vec![0.0; D], vec![0.0; D], vec![0.0; D], vec![0.0; D], vec![0.0; D]];
    let mut tmp = [vec![0.0; D], vec![0.0; D]];
    for i in 0..pb.n_inner() {
        let w = pb.inner_weight(i);
        let s = pb.inner_batch(i);
        let [t0, t1] = &mut tmp;
        pb.grad_g(&x, &y, &s, Some(t0), Some(t1));
        for k in 0..D {
            acc[0][k] += w * tmp[0][k];
            acc[1][k] += w * tmp[1][k];
        }
        let [t0, t1] = &mut tmp;
        pb.hvp_jvp_g(&x, &y, &v, &s, Some(t0), Some(t1));
        for k in 0..D {
            acc[2][k] += w * tmp[0][k];
            acc[3][k] += w * tmp[1][k];
        }
    }
    for j in 0..pb.n_outer() {
        let w = pb.outer_weight(j);
        pb.grad_f(&x, &y, &pb.outer_batch(j), None, Some(&mut tmp[0]));
        for k in 0..D {
            acc[4][k] += w * tmp[0][k];
        }
    }
    let mut want = [vec![0.0; D], vec![0.0; D], vec![0.0; D], vec![0.0; D], vec![0.0; D]];
    {
        let [w0, w1, w2, w3, w4] = &mut want;
        full.grad_g(&x, &y, &0, Some(w0), Some(w1));
        full.hvp_jvp_g(&x, &y, &v, &0, Some(w2), Some(w3));
        full.grad_f(&x, &y, &0, None, Some(w4));
    }
    for (name, (a, w)) in ["gx", "gy", "hv", "jv", "fy"].iter().zip(acc.iter().zip(&want)) {
        assert_close(a, w, 1e-14, name);
    }
    // And the full gradient from a plain loop: (1/n) Σ c ℓ'(c aᵀy) a + e^x ⊙ y.
    let mut gy = vec![0.0; D];
    for i in 0..N {
        let a = &d.tf[i * D..(i + 1) * D];
        let s: f64 = a.iter().zip(&y).map(|(p, q)| p * q).sum();
        let coef = -d.tl[i] / (1.0 + (d.tl[i] * s).exp());
        for k in 0..D {
            gy[k] += coef * a[k] / N as f64;
        }
    }
    for k in 0..D {
        gy[k] += x[k].exp() * y[k];
    }
    assert_close(&acc[1], &gy, 1e-14, "gy vs plain loop");
    // The loss too.
    let g_mean: f64 =
        (0..pb.n_inner()).map(|i| pb.inner_weight(i) * pb.loss_g_batch(&x, &y, i).unwrap()).sum();
    assert!((g_mean - pb.loss_g(&x, &y).unwrap()).abs() < 1e-14);
}

#[test]
fn glm_coefficients_reproduce_the_oracles() {
    let d = data(8);
    let pb = problem(&d);
    let (x, y, v) = point(9);
    let mut reg = vec![0.0; D];
    for b in 0..pb.n_inner() {
        let r = pb.inner_rows(b).unwrap();
        let nb = r.len() as f64;
        let (mut gy, mut hv) = (vec![0.0; D], vec![0.0; D]);
        pb.reg_grad_y(&x, &y, &mut gy).unwrap();
        pb.reg_hvp(&x, &v, &mut hv).unwrap();
        for i in r {
            let a = pb.train().row(i).unwrap();
            let s = pb.inner_grad_coef(&y, i).unwrap();
            let u = pb.inner_hvp_coef(&y, &v, i).unwrap();
            for k in 0..D {
                gy[k] += s * a[k] / nb;
                hv[k] += u * a[k] / nb;
            }
        }
        let (mut ogy, mut ohv, mut ojv, mut ogx) = (vec![0.0; D], vec![0.0; D], vec![0.0; D], vec![0.0; D]);
        pb.grad_g(&x, &y, &b, Some(&mut ogx), Some(&mut ogy));
        pb.hvp_jvp_g(&x, &y, &v, &b, Some(&mut ohv), Some(&mut ojv));
        assert_close(&gy, &ogy, 1e-14, "scalar-memory gradient");
        assert_close(&hv, &ohv, 1e-14, "scalar-memory HVP");
        pb.reg_jvp(&x, &y, &v, &mut reg).unwrap();
        assert_eq!(reg, ojv, "the whole cross term is deterministic");
        pb.reg_grad_x(&x, &y, &mut reg).unwrap();
        assert_eq!(reg, ogx);
    }
    for b in 0..pb.n_outer() {
        let r = pb.outer_rows(b).unwrap();
        let nb = r.len() as f64;
        let mut fy = vec![0.0; D];
        for j in r {
            let a = pb.val().row(j).unwrap();
            let t = pb.outer_grad_coef(&y, j).unwrap();
            for k in 0..D {
                fy[k] += t * a[k] / nb;
            }
        }
        let mut ofy = vec![0.0; D];
        pb.grad_f(&x, &y, &b, None, Some(&mut ofy));
        assert_close(&fy, &ofy, 1e-14, "scalar-memory outer gradient");
    }
    assert!(matches!(pb.inner_grad_coef(&y, N), Err(Error::IndexOutOfRange { index: N, len: N, .. })));
    assert!(matches!(pb.outer_grad_coef(&y, M), Err(Error::IndexOutOfRange { .. })));
    assert!(matches!(pb.inner_hvp_coef(&y, &v[..2], 0), Err(Error::LengthMismatch { .. })));
}

#[test]
fn f32_oracles_agree_with_f64() {
    let d = data(11);
    let pb = problem(&d);
    let cast = |v: &[f64]| v.iter().map(|&t| t as f32).collect::<Vec<f32>>();
    let (tf, tl, vf, vl) = (cast(&d.tf), cast(&d.tl), cast(&d.vf), cast(&d.vl));
    let train = BinaryData::new(&tf, &tl, D).unwrap();
    let val = BinaryData::new(&vf, &vl, D).unwrap();
    let p32 = LogisticHyper::new(train, val, BI, BO).unwrap();
    let (x, y, v) = point(12);
    let (x32, y32, v32) = (cast(&x), cast(&y), cast(&v));
    let up = |v: &[f32]| v.iter().map(|&t| t as f64).collect::<Vec<f64>>();
    for b in 0..pb.n_inner() {
        let mut o64 = [vec![0.0; D], vec![0.0; D], vec![0.0; D], vec![0.0; D]];
        let mut o32 = [vec![0.0f32; D], vec![0.0; D], vec![0.0; D], vec![0.0; D]];
        {
            let [a, b2, c, e] = &mut o64;
            pb.grad_g(&x, &y, &b, Some(a), Some(b2));
            pb.hvp_jvp_g(&x, &y, &v, &b, Some(c), Some(e));
        }
        {
            let [a, b2, c, e] = &mut o32;
            p32.grad_g(&x32, &y32, &b, Some(a), Some(b2));
            p32.hvp_jvp_g(&x32, &y32, &v32, &b, Some(c), Some(e));
        }
        for (w, g) in o64.iter().zip(&o32) {
            assert_close(&up(g), w, 2e-5, "f32 vs f64");
        }
        let l32 = p32.loss_g_batch(&x32, &y32, b).unwrap() as f64;
        assert!((l32 - pb.loss_g_batch(&x, &y, b).unwrap()).abs() < 1e-5);
    }
    // FD check directly in f32 (loose: h = 1e-2, error O(h²) + O(eps/h)).
    let h = 1e-2f32;
    let mut gy = vec![0.0f32; D];
    p32.grad_g(&x32, &y32, &0, None, Some(&mut gy));
    for k in 0..D {
        let (mut yp, mut ym) = (y32.clone(), y32.clone());
        yp[k] += h;
        ym[k] -= h;
        let fd =
            (p32.loss_g_batch(&x32, &yp, 0).unwrap() - p32.loss_g_batch(&x32, &ym, 0).unwrap()) / (2.0 * h);
        assert!((fd - gy[k]).abs() < 1e-3, "f32 FD {k}: {fd} vs {}", gy[k]);
    }
}

#[test]
fn backends_agree() {
    let d = data(13);
    let pb = problem(&d);
    let (x, y, v) = point(14);
    for backend in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let pbb = pb.with_backend(backend).unwrap();
        let (mut a, mut b) = (vec![0.0; D], vec![0.0; D]);
        let (mut a0, mut b0) = (vec![0.0; D], vec![0.0; D]);
        let p0 = pb.with_backend(Backend::Scalar).unwrap();
        pbb.grad_g(&x, &y, &1, None, Some(&mut a));
        p0.grad_g(&x, &y, &1, None, Some(&mut a0));
        pbb.hvp_jvp_g(&x, &y, &v, &2, Some(&mut b), None);
        p0.hvp_jvp_g(&x, &y, &v, &2, Some(&mut b0), None);
        assert_close(&a, &a0, 1e-14, backend.name());
        assert_close(&b, &b0, 1e-14, backend.name());
    }
}

#[test]
fn bad_input_poisons_outputs_and_checked_calls_fail() {
    let d = data(15);
    let pb = problem(&d);
    let (x, y, v) = point(16);
    let nan = |o: &[f64]| o.iter().all(|t| t.is_nan());
    // Batch index out of range.
    let (mut gx, mut gy) = (vec![0.0; D], vec![0.0; D]);
    pb.grad_g(&x, &y, &pb.n_inner(), Some(&mut gx), Some(&mut gy));
    assert!(nan(&gx) && nan(&gy));
    let mut fy = vec![0.0; D];
    pb.grad_f(&x, &y, &usize::MAX, None, Some(&mut fy));
    assert!(nan(&fy));
    // Wrong lengths.
    let mut hv = vec![0.0; D];
    let mut jv = vec![0.0; D - 1];
    pb.hvp_jvp_g(&x, &y, &v, &0, Some(&mut hv), Some(&mut jv));
    assert!(nan(&hv) && nan(&jv));
    let mut gy = vec![0.0; D];
    pb.grad_g(&x[..2], &y, &0, None, Some(&mut gy));
    assert!(nan(&gy));
    // Checked API.
    assert!(matches!(pb.loss_g_batch(&x, &y, 5), Err(Error::IndexOutOfRange { index: 5, len: 5, .. })));
    assert!(matches!(pb.loss_f(&y[..1]), Err(Error::LengthMismatch { what: "y", .. })));
    assert!(matches!(pb.reg_jvp(&x, &y, &v, &mut [0.0; 2]), Err(Error::LengthMismatch { what: "out", .. })));
    assert!(matches!(BinaryData::new(&[1.0, f64::NAN], &[1.0], 2), Err(Error::NonFinite { .. })));
    assert!(matches!(BinaryData::new(&[1.0, 2.0], &[0.5], 2), Err(Error::InvalidParameter { .. })));
    assert!(matches!(BinaryData::<f64>::new(&[], &[], 2), Err(Error::Empty { .. })));
    assert!(matches!(BinaryData::new(&[1.0], &[1.0], 0), Err(Error::Empty { what: "dim" })));
    let other = BinaryData::new(&[1.0, 2.0], &[1.0], 2).unwrap();
    assert!(matches!(LogisticHyper::new(pb.train(), other, 1, 1), Err(Error::LengthMismatch { .. })));
    assert!(matches!(LogisticHyper::new(pb.train(), pb.val(), 1, 0), Err(Error::InvalidParameter { .. })));
}

#[test]
fn sampling_draws_every_batch_uniformly() {
    let d = data(17);
    let pb = problem(&d);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let mut counts = [0usize; 5];
    for _ in 0..50_000 {
        let s: usize = pb.sample_inner(&mut rng);
        counts[s] += 1;
        assert!(Problem::<f64>::sample_outer(&pb, &mut rng) < 4);
    }
    for c in counts {
        assert!((c as f64 / 50_000.0 - 0.2).abs() < 0.01, "{counts:?}");
    }
}

#[test]
fn synthetic_data_has_the_ijcnn1_shape_and_is_seeded() {
    let a = LogisticDataset::<f64>::ijcnn1_like(5).unwrap();
    assert_eq!((a.train().len(), a.val().len(), a.dim()), (49_990, 91_701, 22));
    assert_eq!(a.train().features().len(), 49_990 * 22);
    let pos = a.train().labels().iter().filter(|&&c| c == 1.0).count() as f64 / 49_990.0;
    assert!(pos > 0.2 && pos < 0.8, "class balance {pos}");
    assert!(a.train().labels().iter().all(|&c| c == 1.0 || c == -1.0));
    let b = LogisticDataset::<f64>::ijcnn1_like(5).unwrap();
    assert!(a == b, "same seed, same data");
    let c = LogisticDataset::<f64>::ijcnn1_like(6).unwrap();
    assert!(a != c);
    assert!(LogisticDataset::<f64>::synthetic(0, 0, 1, 1, 0.0).is_err());
    assert!(LogisticDataset::<f64>::synthetic(0, 1, 1, 1, -1.0).is_err());
    assert!(LogisticDataset::<f64>::synthetic(0, 1, 1, 0, 0.0).is_err());
}

#[test]
fn synthetic_labels_come_from_a_linear_model() {
    // With little label noise, plain gradient descent on the full inner loss
    // (tiny regularization) must reach a validation accuracy close to 1 − noise effect.
    let data = LogisticDataset::<f64>::synthetic(21, 2000, 2000, 6, 0.05).unwrap();
    let pb = data.problem(2000, 2000).unwrap();
    let x = vec![(1e-4f64).ln(); 6];
    let mut y = vec![0.0; 6];
    let mut g = vec![0.0; 6];
    let acc0 = data.val().accuracy(&y).unwrap();
    for _ in 0..300 {
        pb.grad_g(&x, &y, &0, None, Some(&mut g));
        for k in 0..6 {
            y[k] -= 2.0 * g[k];
        }
    }
    let acc = data.val().accuracy(&y).unwrap();
    assert!(acc > 0.9, "validation accuracy {acc} (start {acc0})");
    assert!(pb.loss_f(&y).unwrap() < std::f64::consts::LN_2);
}

proptest! {
    #[test]
    fn batches_partition_the_rows(n in 1usize..200, bsize in 1usize..50) {
        let f = vec![0.0f64; n];
        let l = vec![1.0f64; n];
        let dset = BinaryData::new(&f, &l, 1).unwrap();
        let pb = LogisticHyper::new(dset, dset, bsize, bsize).unwrap();
        let nb = FiniteSum::<f64>::n_inner(&pb);
        prop_assert_eq!(nb, n.div_ceil(bsize));
        let mut next = 0;
        let mut wsum = 0.0;
        for b in 0..nb {
            let r = pb.inner_rows(b).unwrap();
            prop_assert_eq!(r.start, next);
            prop_assert!(r.len() == bsize || (b == nb - 1 && r.len() <= bsize && !r.is_empty()));
            next = r.end;
            wsum += FiniteSum::<f64>::inner_weight(&pb, b);
        }
        prop_assert_eq!(next, n);
        prop_assert!((wsum - 1.0).abs() < 1e-12);
        prop_assert_eq!(pb.inner_rows(nb), None);
    }

    #[test]
    fn stable_scalar_functions_match_naive_formulas(s in -30.0f64..30.0) {
        let sg = 1.0 / (1.0 + (-s).exp());
        prop_assert!((sigmoid(s) - sg).abs() <= 1e-15);
        prop_assert!((logistic_loss(s) - (1.0 + (-s).exp()).ln()).abs() <= 1e-13 * (1.0 + s.abs()));
        prop_assert!((logistic_loss_d1(s) - (sg - 1.0)).abs() <= 1e-15);
        prop_assert!((logistic_loss_d2(s) - sg * (1.0 - sg)).abs() <= 1e-15);
        // d1 is the derivative of the loss, d2 of d1 (central differences).
        let h = 1e-5;
        prop_assert!(((logistic_loss(s + h) - logistic_loss(s - h)) / (2.0 * h) - logistic_loss_d1(s)).abs() < 1e-9);
        prop_assert!(((logistic_loss_d1(s + h) - logistic_loss_d1(s - h)) / (2.0 * h) - logistic_loss_d2(s)).abs() < 1e-9);
    }

    #[test]
    fn scalar_functions_stay_finite_at_extreme_margins(s in prop::num::f64::NORMAL) {
        prop_assert!(sigmoid(s).is_finite() && (0.0..=1.0).contains(&sigmoid(s)));
        prop_assert!(logistic_loss(s).is_finite() && logistic_loss(s) >= 0.0);
        prop_assert!(logistic_loss_d1(s).is_finite() && logistic_loss_d2(s).is_finite());
        prop_assert!(logistic_loss_d2(s) >= 0.0 && logistic_loss_d2(s) <= 0.25);
        let f32s = s as f32;
        if f32s.is_finite() {
            prop_assert!(sigmoid(f32s).is_finite() && logistic_loss(f32s).is_finite());
        }
    }
}
