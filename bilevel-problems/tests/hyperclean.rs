//! Proof of the data hyper-cleaning problem (ALGORITHMS.md §10.3): oracles
//! against central differences of the batch loss (checked against a plain
//! loop), HVP and cross products against dense nalgebra Hessians/Jacobians
//! (finite differences and an independent Kronecker closed form), finite-sum
//! structure, softmax coefficients, f32, detection scores, and the data
//! pipeline (CSV parser, split, standardization, corruption, real digits file).

use bilevel::oracles::{FiniteSum, FirstOrder, Problem, SecondOrder};
use bilevel::{Backend, Error};
use bilevel_problems::DataError;
use bilevel_problems::hyperclean::{ClassData, HyperClean};
use bilevel_problems::metrics::detection_scores;
use bilevel_problems::pipeline::{
    CleaningData, DIGITS_CLASSES, DIGITS_FEATURES, DIGITS_ROWS, Dataset, Standardizer, corrupt_labels,
    parse_csv, parse_digits,
};
use bilevel_problems::softmax::{log_sum_exp, softmax};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const D: usize = 4;
const K: usize = 3;
const Q: usize = D * K;
const N: usize = 11; // batches of 4: the last holds 3
const M: usize = 7; // batches of 3: the last holds 1
const BI: usize = 4;
const BO: usize = 3;
const C: f64 = 0.3;

fn unif(rng: &mut Xoshiro256PlusPlus, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

struct Data {
    tf: Vec<f64>,
    tl: Vec<usize>,
    vf: Vec<f64>,
    vl: Vec<usize>,
}

fn data(seed: u64) -> Data {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut gen_set = |n: usize| {
        let f: Vec<f64> = (0..n * D).map(|_| unif(&mut rng, -1.5, 1.5)).collect();
        let l: Vec<usize> = (0..n).map(|_| (rng.next_u64() % K as u64) as usize).collect();
        (f, l)
    };
    let (tf, tl) = gen_set(N);
    let (vf, vl) = gen_set(M);
    Data { tf, tl, vf, vl }
}

fn problem(d: &Data) -> HyperClean<'_, f64, K> {
    let train = ClassData::new(&d.tf, &d.tl, D).unwrap();
    let val = ClassData::new(&d.vf, &d.vl, D).unwrap();
    HyperClean::new(train, val, BI, BO).unwrap().with_reg(C).unwrap()
}

/// (x ∈ R^n, W ∈ R^{dK}, V ∈ R^{dK}).
fn point(seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = (0..N).map(|_| unif(&mut rng, -2.0, 2.0)).collect();
    let w = (0..Q).map(|_| unif(&mut rng, -1.0, 1.0)).collect();
    let v = (0..Q).map(|_| unif(&mut rng, -1.0, 1.0)).collect();
    (x, w, v)
}

/// Logits z = Wᵀa with W row-major d×K.
fn logits(a: &[f64], w: &[f64]) -> Vec<f64> {
    (0..K).map(|c| (0..D).map(|k| a[k] * w[k * K + c]).sum()).collect()
}

/// Naive softmax and cross-entropy (moderate logits only).
fn naive_softmax(z: &[f64]) -> Vec<f64> {
    let s: f64 = z.iter().map(|v| v.exp()).sum();
    z.iter().map(|v| v.exp() / s).collect()
}

fn naive_ce(z: &[f64], c: usize) -> f64 {
    z.iter().map(|v| v.exp()).sum::<f64>().ln() - z[c]
}

fn sig(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn ref_loss_g(d: &Data, rows: std::ops::Range<usize>, x: &[f64], w: &[f64]) -> f64 {
    let nb = rows.len() as f64;
    let data: f64 = rows.map(|i| sig(x[i]) * naive_ce(&logits(&d.tf[i * D..(i + 1) * D], w), d.tl[i])).sum();
    data / nb + C * w.iter().map(|v| v * v).sum::<f64>()
}

fn ref_loss_f(d: &Data, rows: std::ops::Range<usize>, w: &[f64]) -> f64 {
    let nb = rows.len() as f64;
    rows.map(|j| naive_ce(&logits(&d.vf[j * D..(j + 1) * D], w), d.vl[j])).sum::<f64>() / nb
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y} (tol {tol})");
    }
}

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
    let (x, w, _) = point(2);
    for b in 0..pb.n_inner() {
        let got = pb.loss_g_batch(&x, &w, b).unwrap();
        let want = ref_loss_g(&d, pb.inner_rows(b).unwrap(), &x, &w);
        assert!((got - want).abs() < 1e-14, "g batch {b}: {got} vs {want}");
    }
    for b in 0..pb.n_outer() {
        let got = pb.loss_f_batch(&w, b).unwrap();
        let want = ref_loss_f(&d, pb.outer_rows(b).unwrap(), &w);
        assert!((got - want).abs() < 1e-14, "f batch {b}: {got} vs {want}");
    }
    assert!((pb.loss_g(&x, &w).unwrap() - ref_loss_g(&d, 0..N, &x, &w)).abs() < 1e-14);
    assert!((pb.loss_f(&w).unwrap() - ref_loss_f(&d, 0..M, &w)).abs() < 1e-14);
    let test = ClassData::new(&d.tf, &d.tl, D).unwrap();
    let ce = pb.mean_cross_entropy(&w, test).unwrap();
    let want: f64 =
        (0..N).map(|i| naive_ce(&logits(&d.tf[i * D..(i + 1) * D], &w), d.tl[i])).sum::<f64>() / N as f64;
    assert!((ce - want).abs() < 1e-14);
}

#[test]
fn first_order_oracles_match_central_differences_of_the_loss() {
    let d = data(3);
    let pb = problem(&d);
    let h = 1e-5;
    for seed in 0..3 {
        let (x, w, _) = point(10 + seed);
        for b in 0..pb.n_inner() {
            let (mut gx, mut gw) = (vec![9.0; N], vec![0.0; Q]);
            pb.grad_g(&x, &w, &b, Some(&mut gx), Some(&mut gw));
            let fdx = fd_grad(&x, h, |xx| pb.loss_g_batch(xx, &w, b).unwrap());
            let fdw = fd_grad(&w, h, |ww| pb.loss_g_batch(&x, ww, b).unwrap());
            assert_close(&gx, &fdx, 1e-8, "grad_x g");
            assert_close(&gw, &fdw, 1e-8, "grad_W g");
            // Sparse x-gradient: exact zeros off the batch.
            let r = pb.inner_rows(b).unwrap();
            for i in (0..N).filter(|i| !r.contains(i)) {
                assert_eq!(gx[i], 0.0);
            }
            // Each output alone equals the joint call.
            let (mut gx2, mut gw2) = (vec![0.0; N], vec![0.0; Q]);
            pb.grad_g(&x, &w, &b, Some(&mut gx2), None);
            pb.grad_g(&x, &w, &b, None, Some(&mut gw2));
            assert_eq!((gx, gw), (gx2, gw2));
        }
        for b in 0..pb.n_outer() {
            let (mut fx, mut fw) = (vec![5.0; N], vec![0.0; Q]);
            pb.grad_f(&x, &w, &b, Some(&mut fx), Some(&mut fw));
            let fdw = fd_grad(&w, h, |ww| pb.loss_f_batch(ww, b).unwrap());
            assert_close(&fw, &fdw, 1e-8, "grad_W f");
            assert_eq!(fx, vec![0.0; N]);
        }
    }
}

/// Independent closed form of the batch Hessian in row-major (k, c) order:
/// (1/|b|) Σ σ(x_i) (a_i a_iᵀ) ⊗ (diag π_i − π_i π_iᵀ) + 2C I.
fn closed_hessian(d: &Data, rows: std::ops::Range<usize>, x: &[f64], w: &[f64]) -> DMatrix<f64> {
    let nb = rows.len() as f64;
    let mut h = DMatrix::identity(Q, Q) * (2.0 * C);
    for i in rows {
        let a = DVector::from_column_slice(&d.tf[i * D..(i + 1) * D]);
        let p = DVector::from_vec(naive_softmax(&logits(a.as_slice(), w)));
        let s = DMatrix::from_diagonal(&p) - &p * p.transpose();
        h += (&a * a.transpose()).kronecker(&s) * (sig(x[i]) / nb);
    }
    h
}

#[test]
fn hvp_matches_dense_hessian() {
    let d = data(4);
    let pb = problem(&d);
    let h = 1e-5;
    for seed in 0..3 {
        let (x, w, v) = point(20 + seed);
        for b in 0..pb.n_inner() {
            // FD Hessian, column by column, from the oracle gradient.
            let mut hfd = DMatrix::zeros(Q, Q);
            for k in 0..Q {
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp[k] += h;
                wm[k] -= h;
                let (mut gp, mut gm) = (vec![0.0; Q], vec![0.0; Q]);
                pb.grad_g(&x, &wp, &b, None, Some(&mut gp));
                pb.grad_g(&x, &wm, &b, None, Some(&mut gm));
                for r in 0..Q {
                    hfd[(r, k)] = (gp[r] - gm[r]) / (2.0 * h);
                }
            }
            let hcl = closed_hessian(&d, pb.inner_rows(b).unwrap(), &x, &w);
            assert!((&hfd - &hcl).abs().max() < 1e-8, "FD vs closed Hessian, batch {b}");
            let mut hv = vec![0.0; Q];
            pb.hvp_jvp_g(&x, &w, &v, &b, Some(&mut hv), None);
            let want = &hcl * DVector::from_column_slice(&v);
            assert_close(&hv, want.as_slice(), 1e-13, "HVP vs closed Hessian");
            let want_fd = &hfd * DVector::from_column_slice(&v);
            assert_close(&hv, want_fd.as_slice(), 1e-7, "HVP vs FD Hessian");
            // Strong convexity: the smallest eigenvalue is at least μ_g = 2C.
            let lmin = hcl.clone().symmetric_eigen().eigenvalues.min();
            assert!(lmin >= 2.0 * C - 1e-12, "λ_min {lmin}");
        }
    }
}

#[test]
fn jvp_matches_dense_cross_jacobian() {
    let d = data(5);
    let pb = problem(&d);
    let h = 1e-5;
    for seed in 0..3 {
        let (x, w, v) = point(30 + seed);
        for b in 0..pb.n_inner() {
            let rows = pb.inner_rows(b).unwrap();
            let nb = rows.len() as f64;
            // J[i][(k,c)] = ∂(∇_W g)_{kc} / ∂x_i by central differences in x.
            let mut j = DMatrix::zeros(N, Q);
            for i in 0..N {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let (mut gp, mut gm) = (vec![0.0; Q], vec![0.0; Q]);
                pb.grad_g(&xp, &w, &b, None, Some(&mut gp));
                pb.grad_g(&xm, &w, &b, None, Some(&mut gm));
                for r in 0..Q {
                    j[(i, r)] = (gp[r] - gm[r]) / (2.0 * h);
                }
            }
            // Closed form: row i ∈ batch is (1/|b|) s'_i vec(a_i r_iᵀ); other rows are 0.
            let mut jcl = DMatrix::zeros(N, Q);
            for i in rows {
                let a = &d.tf[i * D..(i + 1) * D];
                let mut r = naive_softmax(&logits(a, &w));
                r[d.tl[i]] -= 1.0;
                let ds = sig(x[i]) * (1.0 - sig(x[i]));
                for k in 0..D {
                    for c in 0..K {
                        jcl[(i, k * K + c)] = ds * a[k] * r[c] / nb;
                    }
                }
            }
            assert!((&j - &jcl).abs().max() < 1e-8, "FD vs closed Jacobian, batch {b}");
            let (mut hv, mut jv) = (vec![0.0; Q], vec![3.0; N]);
            pb.hvp_jvp_g(&x, &w, &v, &b, Some(&mut hv), Some(&mut jv));
            let want = &jcl * DVector::from_column_slice(&v);
            assert_close(&jv, want.as_slice(), 1e-13, "JVP vs closed Jacobian");
            let want_fd = &j * DVector::from_column_slice(&v);
            assert_close(&jv, want_fd.as_slice(), 1e-7, "JVP vs FD Jacobian");
            let mut jv2 = vec![0.0; N];
            pb.hvp_jvp_g(&x, &w, &v, &b, None, Some(&mut jv2));
            assert_eq!(jv, jv2);
        }
    }
}

#[test]
fn finite_sum_weights_and_batch_means_reproduce_the_full_problem() {
    let d = data(6);
    let pb = problem(&d);
    assert_eq!((pb.n_inner(), pb.n_outer()), (3, 3));
    let wi: f64 = (0..pb.n_inner()).map(|i| pb.inner_weight(i)).sum();
    let wo: f64 = (0..pb.n_outer()).map(|j| pb.outer_weight(j)).sum();
    assert!((wi - 1.0).abs() < 1e-15 && (wo - 1.0).abs() < 1e-15);
    assert_eq!(pb.inner_weight(2), 3.0 / N as f64);
    assert_eq!(pb.outer_weight(2), 1.0 / M as f64);
    let train = ClassData::new(&d.tf, &d.tl, D).unwrap();
    let val = ClassData::new(&d.vf, &d.vl, D).unwrap();
    let full = HyperClean::<f64, K>::new(train, val, N, M).unwrap().with_reg(C).unwrap();
    let (x, w, v) = point(7);
    let mut acc = [vec![0.0; N], vec![0.0; Q], vec![0.0; Q], vec![0.0; N], vec![0.0; Q]];
    for i in 0..pb.n_inner() {
        let wt = pb.inner_weight(i);
        let s = pb.inner_batch(i);
        let (mut a, mut b, mut c, mut e) = (vec![0.0; N], vec![0.0; Q], vec![0.0; Q], vec![0.0; N]);
        pb.grad_g(&x, &w, &s, Some(&mut a), Some(&mut b));
        pb.hvp_jvp_g(&x, &w, &v, &s, Some(&mut c), Some(&mut e));
        for (acc, o) in acc.iter_mut().zip([&a, &b, &c, &e]) {
            for (t, u) in acc.iter_mut().zip(o.iter()) {
                *t += wt * u;
            }
        }
    }
    for j in 0..pb.n_outer() {
        let mut fw = vec![0.0; Q];
        pb.grad_f(&x, &w, &pb.outer_batch(j), None, Some(&mut fw));
        for (t, u) in acc[4].iter_mut().zip(&fw) {
            *t += pb.outer_weight(j) * u;
        }
    }
    let mut want = [vec![0.0; N], vec![0.0; Q], vec![0.0; Q], vec![0.0; N], vec![0.0; Q]];
    {
        let [w0, w1, w2, w3, w4] = &mut want;
        full.grad_g(&x, &w, &0, Some(w0), Some(w1));
        full.hvp_jvp_g(&x, &w, &v, &0, Some(w2), Some(w3));
        full.grad_f(&x, &w, &0, None, Some(w4));
    }
    for (name, (a, b)) in ["gx", "gW", "hv", "jv", "fW"].iter().zip(acc.iter().zip(&want)) {
        assert_close(a, b, 1e-14, name);
    }
    // §10.3: (∇_x g)_i = (1/n) s'_i ℓ_i, from a plain loop.
    for i in 0..N {
        let l = naive_ce(&logits(&d.tf[i * D..(i + 1) * D], &w), d.tl[i]);
        let want = sig(x[i]) * (1.0 - sig(x[i])) * l / N as f64;
        assert!((acc[0][i] - want).abs() < 1e-15);
    }
    let g_mean: f64 =
        (0..pb.n_inner()).map(|i| pb.inner_weight(i) * pb.loss_g_batch(&x, &w, i).unwrap()).sum();
    assert!((g_mean - pb.loss_g(&x, &w).unwrap()).abs() < 1e-14);
}

#[test]
fn softmax_coefficients_reproduce_the_oracles() {
    let d = data(8);
    let pb = problem(&d);
    let (x, w, v) = point(9);
    for b in 0..pb.n_inner() {
        let r = pb.inner_rows(b).unwrap();
        let nb = r.len() as f64;
        let (mut gw, mut hv, mut gx, mut jv) = (vec![0.0; Q], vec![0.0; Q], vec![0.0; N], vec![0.0; N]);
        pb.reg_grad_w(&w, &mut gw).unwrap();
        pb.reg_hvp(&v, &mut hv).unwrap();
        for i in r {
            let a = pb.train().row(i).unwrap();
            let c = pb.inner_coefs(&x, &w, Some(&v), i).unwrap();
            let c0 = pb.inner_coefs(&x, &w, None, i).unwrap();
            assert_eq!((c0.grad_w, c0.grad_x, c0.loss), (c.grad_w, c.grad_x, c.loss));
            assert_eq!((c0.hvp_w, c0.cross), ([0.0; K], 0.0));
            for k in 0..D {
                for cc in 0..K {
                    gw[k * K + cc] += a[k] * c.grad_w[cc] / nb;
                    hv[k * K + cc] += a[k] * c.hvp_w[cc] / nb;
                }
            }
            gx[i] = c.grad_x / nb;
            jv[i] = c.cross / nb;
            let want = naive_ce(&logits(a, &w), d.tl[i]);
            assert!((c.loss - want).abs() < 1e-14);
        }
        let (mut ogw, mut ohv, mut ogx, mut ojv) = (vec![0.0; Q], vec![0.0; Q], vec![0.0; N], vec![0.0; N]);
        pb.grad_g(&x, &w, &b, Some(&mut ogx), Some(&mut ogw));
        pb.hvp_jvp_g(&x, &w, &v, &b, Some(&mut ohv), Some(&mut ojv));
        assert_close(&gw, &ogw, 1e-14, "scalar-memory gradient");
        assert_close(&hv, &ohv, 1e-14, "scalar-memory HVP");
        assert_close(&gx, &ogx, 1e-14, "x-gradient scalars");
        assert_close(&jv, &ojv, 1e-14, "cross scalars");
    }
    for b in 0..pb.n_outer() {
        let r = pb.outer_rows(b).unwrap();
        let nb = r.len() as f64;
        let mut fw = vec![0.0; Q];
        for j in r {
            let a = pb.val().row(j).unwrap();
            let t = pb.outer_grad_coef(&w, j).unwrap();
            for k in 0..D {
                for cc in 0..K {
                    fw[k * K + cc] += a[k] * t[cc] / nb;
                }
            }
        }
        let mut ofw = vec![0.0; Q];
        pb.grad_f(&x, &w, &b, None, Some(&mut ofw));
        assert_close(&fw, &ofw, 1e-14, "scalar-memory outer gradient");
    }
    assert!(matches!(pb.inner_coefs(&x, &w, None, N), Err(Error::IndexOutOfRange { index: N, .. })));
    assert!(matches!(pb.inner_coefs(&x, &w, Some(&v[..3]), 0), Err(Error::LengthMismatch { what: "v", .. })));
    assert!(matches!(pb.outer_grad_coef(&w, M), Err(Error::IndexOutOfRange { .. })));
}

#[test]
fn f32_oracles_agree_with_f64() {
    let d = data(11);
    let pb = problem(&d);
    let cast = |v: &[f64]| v.iter().map(|&t| t as f32).collect::<Vec<f32>>();
    let (tf, vf) = (cast(&d.tf), cast(&d.vf));
    let train = ClassData::new(&tf, &d.tl, D).unwrap();
    let val = ClassData::new(&vf, &d.vl, D).unwrap();
    let p32 = HyperClean::<f32, K>::new(train, val, BI, BO).unwrap().with_reg(C as f32).unwrap();
    let (x, w, v) = point(12);
    let (x32, w32, v32) = (cast(&x), cast(&w), cast(&v));
    let up = |v: &[f32]| v.iter().map(|&t| t as f64).collect::<Vec<f64>>();
    for b in 0..pb.n_inner() {
        let (mut a, mut bb, mut c, mut e) = (vec![0.0; N], vec![0.0; Q], vec![0.0; Q], vec![0.0; N]);
        pb.grad_g(&x, &w, &b, Some(&mut a), Some(&mut bb));
        pb.hvp_jvp_g(&x, &w, &v, &b, Some(&mut c), Some(&mut e));
        let (mut a3, mut b3, mut c3, mut e3) = (vec![0.0f32; N], vec![0.0; Q], vec![0.0; Q], vec![0.0; N]);
        p32.grad_g(&x32, &w32, &b, Some(&mut a3), Some(&mut b3));
        p32.hvp_jvp_g(&x32, &w32, &v32, &b, Some(&mut c3), Some(&mut e3));
        for (w64, g32) in [(&a, &a3), (&bb, &b3), (&c, &c3), (&e, &e3)] {
            assert_close(&up(g32), w64, 2e-5, "f32 vs f64");
        }
    }
    let (l32, l64) = (p32.loss_f(&w32).unwrap() as f64, pb.loss_f(&w).unwrap());
    assert!((l32 - l64).abs() < 1e-5);
}

#[test]
fn backends_agree() {
    let d = data(13);
    let pb = problem(&d);
    let (x, w, v) = point(14);
    let p0 = pb.with_backend(Backend::Scalar).unwrap();
    for backend in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let pbb = pb.with_backend(backend).unwrap();
        let (mut a, mut a0, mut h, mut h0) = (vec![0.0; Q], vec![0.0; Q], vec![0.0; Q], vec![0.0; Q]);
        pbb.grad_g(&x, &w, &1, None, Some(&mut a));
        p0.grad_g(&x, &w, &1, None, Some(&mut a0));
        pbb.hvp_jvp_g(&x, &w, &v, &0, Some(&mut h), None);
        p0.hvp_jvp_g(&x, &w, &v, &0, Some(&mut h0), None);
        assert_close(&a, &a0, 1e-14, backend.name());
        assert_close(&h, &h0, 1e-14, backend.name());
        assert_eq!(pbb.accuracy(&w, pb.val()).unwrap(), p0.accuracy(&w, pb.val()).unwrap());
    }
}

#[test]
fn bad_input_poisons_outputs_and_checked_calls_fail() {
    let d = data(15);
    let pb = problem(&d);
    let (x, w, v) = point(16);
    let nan = |o: &[f64]| o.iter().all(|t| t.is_nan());
    let (mut gx, mut gw) = (vec![0.0; N], vec![0.0; Q]);
    pb.grad_g(&x, &w, &3, Some(&mut gx), Some(&mut gw));
    assert!(nan(&gx) && nan(&gw));
    let mut fw = vec![0.0; Q];
    pb.grad_f(&x[..3], &w, &0, None, Some(&mut fw));
    assert!(nan(&fw));
    let (mut hv, mut jv) = (vec![0.0; Q], vec![0.0; Q]); // jv must have length n
    pb.hvp_jvp_g(&x, &w, &v, &0, Some(&mut hv), Some(&mut jv));
    assert!(nan(&hv) && nan(&jv));
    assert!(matches!(pb.loss_g_batch(&x, &w, 3), Err(Error::IndexOutOfRange { index: 3, len: 3, .. })));
    assert!(matches!(pb.loss_f(&w[..2]), Err(Error::LengthMismatch { what: "w", .. })));
    let wide = ClassData::new(&[0.0; 5], &[0], 5).unwrap();
    assert!(matches!(pb.accuracy(&w, wide), Err(Error::LengthMismatch { .. })));
    let bad_label = ClassData::new(&[0.0; D], &[K], D).unwrap();
    assert!(matches!(pb.accuracy(&w, bad_label), Err(Error::IndexOutOfRange { index: K, len: K, .. })));
    assert!(matches!(
        HyperClean::<f64, K>::new(bad_label, pb.val(), 1, 1),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        HyperClean::<f64, 1>::new(pb.val(), pb.val(), 1, 1),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        HyperClean::<f64, K>::new(pb.train(), pb.val(), 0, 1),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(pb.with_reg(f64::NAN), Err(Error::InvalidParameter { .. })));
    assert!(matches!(ClassData::new(&[f64::INFINITY], &[0], 1), Err(Error::NonFinite { .. })));
    assert!(matches!(detection_scores(&[0.0f64], &[true, false]), Err(Error::LengthMismatch { .. })));
}

#[test]
fn accuracy_matches_a_plain_argmax_loop() {
    let d = data(17);
    let pb = problem(&d);
    let (_, w, _) = point(18);
    let mut correct = 0;
    for j in 0..M {
        let z = logits(&d.vf[j * D..(j + 1) * D], &w);
        let best = (0..K).fold(0, |b, c| if z[c] > z[b] { c } else { b });
        correct += usize::from(best == d.vl[j]);
    }
    assert_eq!(pb.accuracy(&w, pb.val()).unwrap(), correct as f64 / M as f64);
}

#[test]
fn softmax_and_log_sum_exp_are_stable() {
    let mut p = [0.0f64; 3];
    let lse = softmax(&[800.0, 799.0, -800.0], &mut p).unwrap();
    let e = (-1.0f64).exp();
    assert_close(&p, &[1.0 / (1.0 + e), e / (1.0 + e), 0.0], 1e-15, "softmax");
    assert!((lse - (800.0 + (1.0 + e).ln())).abs() < 1e-12);
    assert_eq!(log_sum_exp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), f64::NEG_INFINITY);
    assert_eq!(log_sum_exp(&[f64::INFINITY, 0.0]), f64::INFINITY);
    assert!(log_sum_exp(&[f64::NAN, 0.0]).is_nan());
    assert!(matches!(softmax(&[1.0f64], &mut [0.0; 2]), Err(Error::LengthMismatch { .. })));
    assert!(matches!(softmax::<f64>(&[], &mut []), Err(Error::Empty { .. })));
    // Huge weights: losses stay finite.
    let dd = ClassData::new(&[1.0f64], &[1], 1).unwrap();
    let pb = HyperClean::<f64, 2>::new(dd, dd, 1, 1).unwrap();
    let l = pb.loss_f(&[1000.0, -1000.0]).unwrap();
    assert_eq!(l, 2000.0);
}

#[test]
fn detection_scores_match_manual_counts() {
    let x = [-3.0f64, -0.1, 0.2, 4.0, -2.0, 1.0];
    let mask = [true, false, true, false, true, false];
    let s = detection_scores(&x, &mask).unwrap();
    // flagged: 0, 1, 4. corrupted: 0, 2, 4.
    assert_eq!((s.true_positives, s.false_positives, s.false_negatives, s.true_negatives), (2, 1, 1, 2));
    assert_eq!(s.precision(), Some(2.0 / 3.0));
    assert_eq!(s.recall(), Some(2.0 / 3.0));
    let none = detection_scores(&[1.0f32, 2.0], &[false, false]).unwrap();
    assert_eq!((none.precision(), none.recall()), (None, None));
}

// ---------------------------------------------------------------------------
// Data pipeline

fn toy_dataset(n: usize, dim: usize, k: usize, seed: u64) -> Dataset<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let f = (0..n * dim).map(|_| unif(&mut rng, -3.0, 5.0)).collect();
    let l = (0..n).map(|_| (rng.next_u64() % k as u64) as usize).collect();
    Dataset::new(f, l, dim).unwrap()
}

#[test]
fn split_is_a_seeded_partition() {
    // Rows tagged by their first feature = row index.
    let n = 50;
    let f: Vec<f64> = (0..n).flat_map(|i| [i as f64, -(i as f64)]).collect();
    let l: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let d = Dataset::new(f, l, 2).unwrap();
    let s = d.split(30, 12, 77).unwrap();
    assert_eq!((s.train.len(), s.val.len(), s.test.len()), (30, 12, 8));
    let mut seen = vec![false; n];
    for part in [&s.train, &s.val, &s.test] {
        for (row, &lab) in part.features().chunks(2).zip(part.labels()) {
            let i = row[0] as usize;
            assert!(!seen[i], "row {i} twice");
            seen[i] = true;
            assert_eq!((row[1], lab), (-(i as f64), i % 4), "row kept intact");
        }
    }
    assert!(seen.iter().all(|&t| t));
    assert_eq!(s, d.split(30, 12, 77).unwrap());
    assert_ne!(s.train, d.split(30, 12, 78).unwrap().train);
    // Not the identity order.
    assert_ne!(s.train.features()[..2], [0.0, 0.0]);
    assert!(d.split(30, 21, 0).is_err());
    assert!(d.split(0, 5, 0).is_err());
    assert!(d.split(usize::MAX, 5, 0).is_err());
    assert!(d.split(25, 25, 0).unwrap().test.is_empty());
}

#[test]
fn standardizer_centers_and_scales_the_training_set() {
    let mut d = toy_dataset(200, 3, 2, 4);
    // Make feature 2 constant.
    let (mut f, l, dim) = d.clone().into_parts();
    for row in f.chunks_mut(dim) {
        row[2] = 0.7;
    }
    d = Dataset::new(f, l, dim).unwrap();
    let st = Standardizer::fit(&d).unwrap();
    let mut t = d.clone();
    st.apply(&mut t).unwrap();
    for k in 0..3 {
        let col: Vec<f64> = t.features().chunks(3).map(|r| r[k]).collect();
        let mean = col.iter().sum::<f64>() / 200.0;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 200.0;
        assert!(mean.abs() < 1e-13, "mean {k}: {mean}");
        if k < 2 {
            assert!((var - 1.0).abs() < 1e-12, "var {k}: {var}");
        } else {
            assert!(col.iter().all(|&v| v.abs() < 1e-15), "constant feature only centered");
        }
    }
    assert_eq!(st.inv_sd()[2], 1.0);
    let mut other = toy_dataset(3, 2, 2, 0);
    assert!(matches!(st.apply(&mut other), Err(Error::LengthMismatch { .. })));
    assert!(matches!(
        Standardizer::fit(&Dataset::<f64>::new(vec![], vec![], 2).unwrap()),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn corruption_changes_an_exact_fraction_to_other_classes_uniformly() {
    let n = 30_000;
    let k = 5;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let clean: Vec<usize> = (0..n).map(|_| (rng.next_u64() % k as u64) as usize).collect();
    let mut labels = clean.clone();
    let mask = corrupt_labels(&mut labels, k, 1.0, 5).unwrap();
    assert!(mask.iter().all(|&m| m));
    // Every label changed; the new class is uniform over the K − 1 others.
    let mut counts = vec![vec![0usize; k]; k];
    for (&a, &b) in clean.iter().zip(&labels) {
        assert_ne!(a, b);
        counts[a][b] += 1;
    }
    for (a, row) in counts.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (b, &c) in row.iter().enumerate().filter(|&(b, _)| b != a) {
            let frac = c as f64 / total as f64;
            assert!((frac - 0.25).abs() < 0.03, "{a}->{b}: {frac}");
        }
    }
    // Reproducible per seed.
    let mut l2 = clean.clone();
    let mut l3 = clean.clone();
    let m2 = corrupt_labels(&mut l2, k, 0.3, 8).unwrap();
    let m3 = corrupt_labels(&mut l3, k, 0.3, 8).unwrap();
    assert_eq!((l2.clone(), m2.clone()), (l3, m3));
    let mut l4 = clean.clone();
    assert_ne!(corrupt_labels(&mut l4, k, 0.3, 9).unwrap(), m2);
    // Errors leave the labels unchanged.
    let mut l5 = vec![0usize, 1, 7];
    assert!(matches!(
        corrupt_labels(&mut l5, 3, 0.5, 0),
        Err(Error::IndexOutOfRange { index: 7, len: 3, .. })
    ));
    assert_eq!(l5, [0, 1, 7]);
    assert!(corrupt_labels(&mut [0usize, 1], 2, 1.5, 0).is_err());
    assert!(corrupt_labels(&mut [0usize, 1], 2, f64::NAN, 0).is_err());
    assert!(corrupt_labels(&mut [0usize, 0], 1, 0.5, 0).is_err());
    assert_eq!(corrupt_labels(&mut [0usize, 0], 1, 0.0, 0).unwrap(), [false, false]);
}

proptest! {
    #[test]
    fn corruption_fraction_is_exact(n in 0usize..300, k in 2usize..12, frac in 0.0f64..=1.0, seed in any::<u64>()) {
        let clean: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % k).collect();
        let mut labels = clean.clone();
        let mask = corrupt_labels(&mut labels, k, frac, seed).unwrap();
        let want = (frac * n as f64).round() as usize;
        prop_assert_eq!(mask.iter().filter(|&&m| m).count(), want);
        for i in 0..n {
            prop_assert_eq!(mask[i], labels[i] != clean[i]);
            prop_assert!(labels[i] < k);
        }
    }

    #[test]
    fn detection_scores_add_up(x in prop::collection::vec(-5.0f64..5.0, 0..50), seed in any::<u64>()) {
        let mask: Vec<bool> = x.iter().enumerate().map(|(i, _)| (seed >> (i % 64)) & 1 == 1).collect();
        let s = detection_scores(&x, &mask).unwrap();
        prop_assert_eq!(s.true_positives + s.false_positives + s.false_negatives + s.true_negatives, x.len());
        let flagged = x.iter().filter(|&&t| t < 0.0).count();
        prop_assert_eq!(s.true_positives + s.false_positives, flagged);
        prop_assert_eq!(s.true_positives + s.false_negatives, mask.iter().filter(|&&m| m).count());
    }

    #[test]
    fn csv_round_trips(rows in prop::collection::vec((prop::collection::vec(-1000i32..1000, 3), 0usize..4), 1..40)) {
        let text: String = rows
            .iter()
            .map(|(f, l)| format!("{},{},{},{}\n", f[0], f[1], f[2], l))
            .collect();
        let d = parse_csv::<f64>(&text, 3, 4).unwrap();
        prop_assert_eq!(d.len(), rows.len());
        for (i, (f, l)) in rows.iter().enumerate() {
            prop_assert_eq!(&d.features()[i * 3..i * 3 + 3], &[f[0] as f64, f[1] as f64, f[2] as f64][..]);
            prop_assert_eq!(d.labels()[i], *l);
        }
    }
}

#[test]
fn csv_parser_reports_the_malformed_line() {
    let line_err = |text: &str| match parse_csv::<f64>(text, 2, 3) {
        Err(DataError::Parse { line, reason }) => (reason, line),
        other => panic!("expected a line error, got {other:?}"),
    };
    assert_eq!(line_err("1,2,0\n1,2\n").1, 2); // too few columns
    assert_eq!(line_err("1,2,0\n\n1,2,0,0\n").1, 3); // too many (blank line counted)
    assert_eq!(line_err("a,b,label\n1,2,0\n").1, 1); // header
    assert_eq!(line_err("1,2,0\n1,nan,1\n").1, 2); // non-finite feature
    assert_eq!(line_err("1,2,3\n").1, 1); // label out of range
    assert_eq!(line_err("1,2,1.5\n").1, 1); // label not an integer
    assert_eq!(line_err("1,2,-1\n").1, 1); // negative label
    assert_eq!(line_err("1,,0\n").1, 1); // empty field
    let (what, line) = line_err("1,2,0\r\n3,4,0\r\n5;6;0\r\n");
    assert_eq!(line, 3);
    assert!(what.contains("columns"), "{what}");
    assert!(matches!(parse_csv::<f64>("", 2, 3), Err(DataError::Invalid(Error::Empty { what: "csv" }))));
    assert!(matches!(parse_csv::<f64>("\n \n", 2, 3), Err(DataError::Invalid(Error::Empty { .. }))));
    assert!(matches!(parse_csv::<f64>("1,0\n", 0, 3), Err(DataError::Invalid(Error::Empty { .. }))));
    // Accepted: spaces, CRLF, blank lines, trailing newline or none.
    let d = parse_csv::<f32>(" 1 , 2 ,0\r\n\r\n-3,4.5, 2", 2, 3).unwrap();
    assert_eq!((d.features(), d.labels()), (&[1.0f32, 2.0, -3.0, 4.5][..], &[0, 2][..]));
}

fn digits_text() -> String {
    bilevel_problems::pipeline::read_gz_text(bilevel_problems::pipeline::DIGITS_PATH)
        .expect("data/digits.csv.gz is in the repository")
}

#[test]
fn the_real_digits_file_loads() {
    let d = parse_digits::<f64>(&digits_text()).unwrap();
    assert_eq!((d.len(), d.dim()), (DIGITS_ROWS, DIGITS_FEATURES));
    assert_eq!(d.len(), 1797);
    let mut per_class = [0usize; DIGITS_CLASSES];
    for &c in d.labels() {
        per_class[c] += 1;
    }
    assert!(per_class.iter().all(|&c| c > 150), "{per_class:?}");
    assert!(d.features().iter().all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0));

    // The whole pipeline: split, standardize, corrupt half of the training labels.
    let exp = CleaningData::prepare(&d, DIGITS_CLASSES, 1000, 400, 0.5, 2024).unwrap();
    assert_eq!((exp.train.len(), exp.val.len(), exp.test.len()), (1000, 400, 397));
    assert_eq!(exp.corrupted.iter().filter(|&&c| c).count(), 500);
    for i in 0..1000 {
        assert_eq!(exp.corrupted[i], exp.train.labels()[i] != exp.clean_train_labels[i]);
    }
    assert_eq!(exp, CleaningData::prepare(&d, DIGITS_CLASSES, 1000, 400, 0.5, 2024).unwrap());
    let pb = exp.problem::<10>(64, 400).unwrap();
    assert_eq!((pb.dim_x(), pb.dim_y()), (1000, 640));
    // W = 0: every cross-entropy is ln 10, exactly the uniform prediction.
    let w = vec![0.0; 640];
    assert!((pb.loss_f(&w).unwrap() - 10f64.ln()).abs() < 1e-14);
    // A few full-batch gradient steps on the clean validation loss beat chance by far.
    let full = exp.problem::<10>(1000, 400).unwrap();
    let mut w = vec![0.0; 640];
    let mut g = vec![0.0; 640];
    let x = vec![0.0; 1000];
    for _ in 0..50 {
        full.grad_f(&x, &w, &0, None, Some(&mut g));
        for (wi, gi) in w.iter_mut().zip(&g) {
            *wi -= 0.5 * gi;
        }
    }
    let acc = full.accuracy(&w, exp.test.view().unwrap()).unwrap();
    assert!(acc > 0.85, "test accuracy {acc}");
}
