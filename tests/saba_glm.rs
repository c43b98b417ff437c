//! SABA with scalar SAGA memory on the §10.2 logistic problem: every step
//! against an independent shadow implementation (dense nalgebra vectors, the
//! textbook SAGA formula with stored dense rows), convergence to a stationary
//! point of Φ computed by Newton's method, typed errors.

use bilevel::Error;
use bilevel::oracles::uniform_index;
use bilevel::schedule::Step;
use bilevel::solvers::{
    Control, Iterates, LinearSystem, SabaConfig, SabaGlm, SabaInit, Soba, SobaConfig, Solver,
};
use bilevel_problems::synthetic::LogisticDataset;
use nalgebra::{DMatrix, DVector};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

struct Dense {
    a: Vec<DVector<f64>>,
    c: Vec<f64>,
    b: Vec<DVector<f64>>,
    cb: Vec<f64>,
}

fn dense(data: &LogisticDataset<f64>) -> Dense {
    let d = data.dim();
    let rows = |f: &[f64]| f.chunks(d).map(DVector::from_column_slice).collect::<Vec<_>>();
    Dense {
        a: rows(data.train().features()),
        c: data.train().labels().to_vec(),
        b: rows(data.val().features()),
        cb: data.val().labels().to_vec(),
    }
}

impl Dense {
    /// Per-sample ∇_y of the data term of g (no regularizer).
    fn gy_i(&self, y: &DVector<f64>, i: usize) -> DVector<f64> {
        let c = self.c[i];
        // ℓ'(s) = −σ(−s)
        -c * sigmoid(-c * self.a[i].dot(y)) * &self.a[i]
    }
    fn hv_i(&self, y: &DVector<f64>, v: &DVector<f64>, i: usize) -> DVector<f64> {
        let s = sigmoid(self.a[i].dot(y));
        s * (1.0 - s) * self.a[i].dot(v) * &self.a[i]
    }
    fn fy_j(&self, y: &DVector<f64>, j: usize) -> DVector<f64> {
        let c = self.cb[j];
        -c * sigmoid(-c * self.b[j].dot(y)) * &self.b[j]
    }
    fn mean<F: Fn(usize) -> DVector<f64>>(n: usize, d: usize, f: F) -> DVector<f64> {
        (0..n).fold(DVector::zeros(d), |acc, i| acc + f(i)) / n as f64
    }
    /// Hypergradient ∇Φ(x) = e^x ⊙ y* ⊙ v*_S (§10.2).
    fn hypergrad(&self, x: &DVector<f64>) -> DVector<f64> {
        let (y, v) = self.solution(x);
        x.map(f64::exp).component_mul(&y).component_mul(&v)
    }
    /// y*(x) by Newton's method and v*_S = −H⁻¹∇_y f.
    fn solution(&self, x: &DVector<f64>) -> (DVector<f64>, DVector<f64>) {
        let d = x.len();
        let n = self.a.len();
        let ex = x.map(f64::exp);
        let hess = |y: &DVector<f64>| {
            let mut h = DMatrix::from_diagonal(&ex);
            for i in 0..n {
                let s = sigmoid(self.a[i].dot(y));
                h += (s * (1.0 - s) / n as f64) * &self.a[i] * self.a[i].transpose();
            }
            h
        };
        let mut y = DVector::zeros(d);
        for _ in 0..50 {
            let g = Self::mean(n, d, |i| self.gy_i(&y, i)) + ex.component_mul(&y);
            y -= hess(&y).cholesky().unwrap().solve(&g);
        }
        let fy = Self::mean(self.b.len(), d, |j| self.fy_j(&y, j));
        let v = -hess(&y).cholesky().unwrap().solve(&fy);
        (y, v)
    }
}

fn close(name: &str, t: usize, got: &[f64], want: &DVector<f64>) {
    let err = (DVector::from_column_slice(got) - want).norm();
    assert!(err <= 1e-12 * (1.0 + want.norm()), "{name} at step {t}: error {err:e}");
}

#[test]
fn every_step_matches_a_dense_shadow_implementation() {
    let data = LogisticDataset::<f64>::synthetic(4, 30, 20, 5, 0.3).unwrap();
    let pb = data.problem(1, 1).unwrap();
    let dn = dense(&data);
    let (n, m, d) = (30, 20, 5);
    for init in [SabaInit::FullPass, SabaInit::Zero] {
        let (rho, gam) = (0.3, 0.2);
        let cfg = SabaConfig {
            step_y: Step::Constant(rho),
            step_x: Step::Constant(gam),
            v_radius: f64::INFINITY,
            init,
        };
        let x0 = vec![0.1; d];
        let y0: Vec<f64> = (0..d).map(|k| 0.2 * k as f64 - 0.3).collect();
        let mut s = SabaGlm::new_owned(cfg, &pb, &x0, &y0).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let mut shadow_rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let (mut x, mut y, mut v) = (DVector::from_vec(x0), DVector::from_vec(y0), DVector::<f64>::zeros(d));
        // Dense tables of the per-sample data terms (the textbook SAGA memory).
        let zero = DVector::<f64>::zeros(d);
        let (mut mg, mut mh, mut mf) = (vec![zero.clone(); n], vec![zero.clone(); n], vec![zero.clone(); m]);
        if init == SabaInit::FullPass {
            mg = (0..n).map(|i| dn.gy_i(&y, i)).collect();
            mf = (0..m).map(|j| dn.fy_j(&y, j)).collect();
        }
        let avg = |t: &[DVector<f64>]| t.iter().fold(DVector::zeros(d), |a, r| a + r) / t.len() as f64;
        for t in 0..60 {
            let i = uniform_index(&mut shadow_rng, n);
            let j = uniform_index(&mut shadow_rng, m);
            let ex = x.map(f64::exp);
            let (g_new, h_new, f_new) = (dn.gy_i(&y, i), dn.hv_i(&y, &v, i), dn.fy_j(&y, j));
            let dy = &g_new - &mg[i] + avg(&mg) + ex.component_mul(&y);
            let dv = &h_new - &mh[i] + avg(&mh) + &f_new - &mf[j] + avg(&mf) + ex.component_mul(&v);
            let dx = ex.component_mul(&y).component_mul(&v);
            (mg[i], mh[i], mf[j]) = (g_new, h_new, f_new);
            (y, v, x) = (&y - rho * dy, &v - rho * dv, &x - gam * dx);
            s.step(&pb, &mut rng).unwrap();
            close("y", t, s.y(), &y);
            close("v", t, s.v(), &v);
            close("x", t, s.x(), &x);
        }
    }
}

#[test]
fn frozen_x_inner_iterates_converge_exactly_with_constant_steps() {
    // With γ = 0 the (y, v) recursion is SAGA on a strongly convex problem:
    // constant steps reach y*(x) and v*_S(x) up to rounding, and the x
    // direction e^x ⊙ y ⊙ v reaches ∇Φ(x). SOBA with the same constant steps
    // stops at its sampling-noise floor.
    let data = LogisticDataset::<f64>::synthetic(11, 200, 100, 4, 0.3).unwrap();
    let pb = data.problem(1, 1).unwrap();
    let dn = dense(&data);
    let x0 = [-1.0, 0.5, -2.0, 0.0];
    let x = DVector::from_column_slice(&x0);
    let (ys, vs) = dn.solution(&x);
    let hg = x.map(f64::exp).component_mul(&ys).component_mul(&vs);
    assert!((&hg - dn.hypergrad(&x)).norm() <= 1e-12 * hg.norm());
    let (rho, zero) = (Step::Constant(0.2), Step::Constant(0.0));
    let iters = 40_000;
    let cfg = SabaConfig { step_y: rho, step_x: zero, v_radius: f64::INFINITY, init: SabaInit::FullPass };
    let mut s = SabaGlm::new_owned(cfg, &pb, &x0, &[0.0; 4]).unwrap();
    s.run(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(1), iters, |_, _| Control::Continue).unwrap();
    let ey = (DVector::from_column_slice(s.y()) - &ys).norm() / ys.norm();
    let ev = (DVector::from_column_slice(s.v()) - &vs).norm() / vs.norm();
    let mut soba =
        Soba::new_owned(SobaConfig { step_y: rho, step_x: zero, ..Default::default() }, &x0, &[0.0; 4])
            .unwrap();
    soba.run(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(1), iters, |_, _| Control::Continue).unwrap();
    let ey_soba = (DVector::from_column_slice(soba.y()) - &ys).norm() / ys.norm();
    println!(
        "x frozen, {iters} single-sample steps of 0.2: SABA-GLM ‖y−y*‖/‖y*‖ = {ey:.2e}, ‖v−v*‖/‖v*‖ = {ev:.2e}; SOBA ‖y−y*‖/‖y*‖ = {ey_soba:.2e}"
    );
    assert!(ey < 1e-10 && ev < 1e-10, "{ey} {ev}");
    assert_eq!(x0, s.x());
    assert!(ey_soba > 1e4 * ey.max(1e-16));
}

#[test]
fn bad_input_is_a_typed_error() {
    let data = LogisticDataset::<f64>::synthetic(0, 10, 6, 3, 0.0).unwrap();
    let pb = data.problem(1, 1).unwrap();
    let cfg = SabaConfig::default();
    assert!(matches!(
        SabaGlm::new_owned(SabaConfig { v_radius: 0.0, ..cfg }, &pb, &[0.0; 3], &[0.0; 3]),
        Err(Error::InvalidParameter { name: "v_radius", .. })
    ));
    assert!(matches!(SabaGlm::new_owned(cfg, &pb, &[], &[0.0; 3]), Err(Error::Empty { what: "x0" })));
    let w = bilevel::solvers::saba_glm::workspace_len(3, 3);
    assert!(matches!(
        SabaGlm::new(cfg, &pb, vec![0.0; w], vec![0.0; 5], &[0.0; 3], &[0.0; 3]),
        Err(Error::LengthMismatch { what: "tables", .. })
    ));
    // A problem of another size is refused before any write.
    let other_data = LogisticDataset::<f64>::synthetic(0, 12, 6, 3, 0.0).unwrap();
    let other = other_data.problem(1, 1).unwrap();
    let mut s = SabaGlm::new_owned(cfg, &pb, &[0.0; 3], &[0.0; 3]).unwrap();
    let e = s.step(&other, &mut Xoshiro256PlusPlus::seed_from_u64(0)).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "inner samples", expected: 10, found: 12 });
    // Divergence: typed error, state intact.
    let big = SabaConfig { step_y: Step::Constant(1e6), step_x: Step::Constant(1e6), ..cfg };
    let mut s = SabaGlm::new_owned(big, &pb, &[0.0; 3], &[0.0; 3]).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    for _ in 0..10_000 {
        let before = [s.x(), s.y(), s.v()].concat();
        match s.step(&pb, &mut rng) {
            Ok(_) => {}
            Err(Error::Diverged { .. }) => {
                assert_eq!(before, [s.x(), s.y(), s.v()].concat());
                assert!(before.iter().all(|v| v.is_finite()));
                return;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    panic!("never diverged");
}
