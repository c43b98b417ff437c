//! Solvers on the §10.1 quadratic (q = 5, p = 3, eigenvalues of A in [0.5, 2]):
//! exact convergence, noisy convergence over seeds, first steps against dense
//! nalgebra formulas, configuration errors and divergence handling.
//!
//! `cargo test --test solvers_quadratic -- --nocapture` prints iterations and
//! wall time to the thresholds.

use std::time::Instant;

use bilevel::Error;
use bilevel::quadratic::Quadratic;
use bilevel::schedule::{Momentum, Penalty, Step};
use bilevel::solvers::{
    Control, F2sa, F2saConfig, F3sa, F3saConfig, Fmbo, FmboConfig, Iterates, LinearSystem, PenaltyMethod,
    Soba, SobaConfig, Solver,
};
use nalgebra::{DMatrix, DVector};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const P: usize = 3;
const Q: usize = 5;
const RHO: f64 = 0.1;

/// Test data: A = QΛQᵀ (Λ in [0.5, 2]), B, b, and x0, y0.
struct Data {
    a: Vec<f64>,
    bm: Vec<f64>,
    b: Vec<f64>,
    x0: Vec<f64>,
    y0: Vec<f64>,
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    // Sum of 12 uniforms − 6: a cheap, independent approximately normal draw.
    (0..12).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).sum::<f64>() - 6.0
}

fn data() -> Data {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    let m = DMatrix::from_fn(Q, Q, |_, _| normal(&mut rng));
    let qr = m.qr();
    let qm = qr.q();
    let eig = DVector::from_iterator(Q, (0..Q).map(|i| 0.5 + 1.5 * i as f64 / (Q - 1) as f64));
    let a = &qm * DMatrix::from_diagonal(&eig) * qm.transpose();
    let mut av = vec![0.0; Q * Q];
    for i in 0..Q {
        for j in 0..Q {
            // Exactly symmetric: copy the lower triangle.
            av[i * Q + j] = if j <= i { a[(i, j)] } else { a[(j, i)] };
        }
    }
    // B scaled to spectral norm 1, so Lip(∇Φ) ≤ λ_max(A⁻²) + ρ = 4.1.
    let bm: Vec<f64> = (0..Q * P).map(|_| normal(&mut rng)).collect();
    let smax = DMatrix::from_row_slice(Q, P, &bm).singular_values().max();
    let bm: Vec<f64> = bm.iter().map(|v| v / smax).collect();
    let b: Vec<f64> = (0..Q).map(|_| normal(&mut rng)).collect();
    let x0: Vec<f64> = (0..P).map(|_| 3.0 * normal(&mut rng)).collect();
    let y0: Vec<f64> = (0..Q).map(|_| normal(&mut rng)).collect();
    Data { a: av, bm, b, x0, y0 }
}

fn dense(d: &Data) -> (DMatrix<f64>, DMatrix<f64>, DVector<f64>) {
    (
        DMatrix::from_row_slice(Q, Q, &d.a),
        DMatrix::from_row_slice(Q, P, &d.bm),
        DVector::from_column_slice(&d.b),
    )
}

/// ‖∇Φ(x)‖ by the closed form.
fn hg_norm(pb: &Quadratic<'_, f64>, x: &[f64]) -> f64 {
    let mut g = [0.0; P];
    let mut w = vec![0.0; pb.work_len()];
    pb.hypergrad(x, &mut g, &mut w).unwrap();
    g.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The §10.1 bound ‖∇L*_λ − ∇Φ‖ ≤ ‖B‖ ‖y* − b‖ / (λ μ_g²) at x.
fn penalty_bias_bound(d: &Data, x: &[f64], lambda: f64) -> f64 {
    let (a, bm, b) = dense(d);
    let ys = a.clone().cholesky().unwrap().solve(&(&bm * DVector::from_column_slice(x)));
    let mu = a.symmetric_eigenvalues().min();
    bm.singular_values().max() * (ys - b).norm() / (lambda * mu * mu)
}

#[test]
fn closed_forms_match_dense_nalgebra() {
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let (a, bm, b) = dense(&d);
    let x = DVector::from_column_slice(&d.x0);
    let ainv = a.clone().try_inverse().unwrap();
    let ys = &ainv * &bm * &x;
    let grad = RHO * &x + bm.transpose() * &ainv * (&ys - &b);
    let mut w = vec![0.0; pb.work_len()];
    let mut g = [0.0; P];
    pb.hypergrad(&d.x0, &mut g, &mut w).unwrap();
    assert!((DVector::from_column_slice(&g) - &grad).norm() < 1e-12 * grad.norm());
    // x* solves (BᵀA⁻²B + ρI) x = BᵀA⁻¹b.
    let m = bm.transpose() * &ainv * &ainv * &bm + RHO * DMatrix::identity(P, P);
    let xs = m.lu().solve(&(bm.transpose() * &ainv * &b)).unwrap();
    pb.x_star(&mut g, &mut w).unwrap();
    assert!((DVector::from_column_slice(&g) - &xs).norm() < 1e-11 * xs.norm());
    assert!(hg_norm(&pb, &g) < 1e-11);
    // F2SA's ∇L*_λ = ρx − λBᵀ(y*_λ − y*), y*_λ = (λA + I)⁻¹(λBx + b).
    let lam = 7.0;
    let yl = (lam * &a + DMatrix::identity(Q, Q)).lu().solve(&(lam * &bm * &x + &b)).unwrap();
    let gl = RHO * &x - lam * bm.transpose() * (&yl - &ys);
    let mut y = [0.0; Q];
    pb.y_star_lambda(&d.x0, lam, &mut y, &mut w).unwrap();
    assert!((DVector::from_column_slice(&y) - &yl).norm() < 1e-12 * yl.norm());
    pb.penalty_grad(&d.x0, lam, &mut g, &mut w).unwrap();
    assert!((DVector::from_column_slice(&g) - &gl).norm() < 1e-10 * gl.norm());
    // The bias bound holds.
    assert!((&gl - &grad).norm() <= penalty_bias_bound(&d, &d.x0, lam));
}

/// Runs `solver` until ‖∇Φ(x)‖ ≤ `target` or `max_iter`; returns (iterations, seconds, final norm).
fn run_to<S, P2>(
    solver: &mut S,
    pb: &P2,
    hg: impl Fn(&[f64]) -> f64,
    target: f64,
    max_iter: u64,
    seed: u64,
) -> (u64, f64, f64)
where
    S: Solver<f64, P2>,
    P2: bilevel::oracles::Problem<f64>,
{
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let t0 = Instant::now();
    let out = solver
        .run(
            pb,
            &mut rng,
            max_iter,
            |s, _| if hg(s.x()) <= target { Control::Stop } else { Control::Continue },
        )
        .unwrap();
    (out.iterations, t0.elapsed().as_secs_f64(), hg(solver.x()))
}

// ---------------------------------------------------------------------------
// Exact oracles

#[test]
fn soba_exact_reaches_1e_8() {
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    let cfg = SobaConfig { step_y: Step::Constant(0.5), step_x: Step::Constant(0.2), ..Default::default() };
    let mut s = Soba::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let (it, sec, g) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 20_000, 1);
    println!("SOBA exact: ‖∇Φ‖/‖∇Φ0‖ = {:.2e} after {it} iterations, {:.3} ms", g / g0, sec * 1e3);
    assert!(g / g0 < 1e-8, "ratio {}", g / g0);
}

fn fmbo_exact_config() -> FmboConfig {
    let mut c = FmboConfig::new(100.0);
    c.step_x = Step::Constant(0.2);
    c.step_y = Step::Constant(0.5);
    c.step_v = Step::Constant(0.5);
    c.eta_x = Momentum::Constant(0.5);
    c.eta_y = Momentum::Constant(0.5);
    c.eta_v = Momentum::Constant(0.5);
    c
}

#[test]
fn fmbo_exact_reaches_1e_8() {
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    let mut s = Fmbo::new_owned(fmbo_exact_config(), &d.x0, &d.y0).unwrap();
    let (it, sec, g) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 20_000, 1);
    println!("FMBO exact (η = 0.5): ‖∇Φ‖/‖∇Φ0‖ = {:.2e} after {it} iterations, {:.3} ms", g / g0, sec * 1e3);
    assert!(g / g0 < 1e-8, "ratio {}", g / g0);
}

/// F2SA/F3SA: with exact oracles x converges to the zero of ∇L*_λ; the
/// remaining ‖∇Φ‖ must be within the §10.1 bias bound of the final λ.
fn check_penalty_bias(
    name: &str,
    d: &Data,
    pb: &Quadratic<'_, f64>,
    x: &[f64],
    lambda: f64,
    it: u64,
    sec: f64,
) {
    let g0 = hg_norm(pb, &d.x0);
    let mut w = vec![0.0; pb.work_len()];
    let mut gl = [0.0; P];
    pb.penalty_grad(x, lambda, &mut gl, &mut w).unwrap();
    let gl = gl.iter().map(|v| v * v).sum::<f64>().sqrt();
    let g = hg_norm(pb, x);
    let bound = penalty_bias_bound(d, x, lambda);
    println!(
        "{name} exact: λ = {lambda:.1}, ‖∇L*_λ‖/‖∇Φ0‖ = {:.2e}, ‖∇Φ‖ = {g:.3e} ≤ bound {bound:.3e}, ‖∇Φ‖/‖∇Φ0‖ = {:.2e}; {it} iterations, {:.3} ms",
        gl / g0,
        g / g0,
        sec * 1e3
    );
    assert!(gl / g0 < 1e-8, "{name}: ‖∇L*_λ‖ ratio {}", gl / g0);
    assert!(g <= bound + 1e-8 * g0, "{name}: ‖∇Φ‖ = {g} above the bias bound {bound}");
}

#[test]
fn f2sa_exact_within_penalty_bias() {
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let lambda = 1000.0;
    let cfg = F2saConfig {
        step_x: Step::Constant(0.2),
        step_y: Step::Constant(0.5),
        step_z: Step::Constant(0.5),
        penalty: Penalty::Constant(lambda),
        scale_y_by_penalty: true,
        shared_cross_sample: false,
        inner_steps: 10,
    };
    let mut s = F2sa::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let mut w = vec![0.0; pb.work_len()];
    let g0 = hg_norm(&pb, &d.x0);
    let gl = |x: &[f64], w: &mut Vec<f64>| {
        let mut g = [0.0; P];
        pb.penalty_grad(x, lambda, &mut g, w).unwrap();
        g.iter().map(|v| v * v).sum::<f64>().sqrt()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let t0 = Instant::now();
    let mut it = 0;
    while gl(s.x(), &mut w) > 1e-9 * g0 && it < 5000 {
        s.step(&pb, &mut rng).unwrap();
        it += 1;
    }
    check_penalty_bias("F2SA", &d, &pb, s.x(), lambda, it, t0.elapsed().as_secs_f64());
}

#[test]
fn f2sa_growing_penalty_tracks_bias() {
    // Theory shape λ_k = 100 (k+1)^(1/7): the final ‖∇Φ‖ is within the bias of the final λ.
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let cfg = F2saConfig {
        step_x: Step::Constant(0.2),
        step_y: Step::Constant(0.5),
        step_z: Step::Constant(0.5),
        penalty: Penalty::Poly { c: 100.0, k0: 1.0, e: 1.0 / 7.0 },
        ..Default::default()
    };
    let mut s = F2sa::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let t0 = Instant::now();
    let mut lam = 0.0;
    for _ in 0..3000 {
        lam = s.step(&pb, &mut rng).unwrap().penalty;
    }
    let g = hg_norm(&pb, s.x());
    let bound = penalty_bias_bound(&d, s.x(), lam);
    println!(
        "F2SA growing λ: λ = {lam:.1}, ‖∇Φ‖ = {g:.3e} ≤ bound {bound:.3e}; 3000 iterations, {:.3} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    assert!(g <= bound, "‖∇Φ‖ = {g}, bound {bound}");
}

#[test]
fn f3sa_exact_within_penalty_bias() {
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let lambda = 1000.0;
    let cfg = F3saConfig {
        step_x: Step::Constant(0.2),
        step_y: Step::Constant(0.5),
        step_z: Step::Constant(0.5),
        penalty: Penalty::Constant(lambda),
        eta: Momentum::Constant(0.5),
        scale_y_by_penalty: true,
        shared_cross_sample: false,
    };
    let mut s = F3sa::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let mut w = vec![0.0; pb.work_len()];
    let g0 = hg_norm(&pb, &d.x0);
    let gl = |x: &[f64], w: &mut Vec<f64>| {
        let mut g = [0.0; P];
        pb.penalty_grad(x, lambda, &mut g, w).unwrap();
        g.iter().map(|v| v * v).sum::<f64>().sqrt()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let t0 = Instant::now();
    let mut it = 0;
    while gl(s.x(), &mut w) > 1e-9 * g0 && it < 50_000 {
        s.step(&pb, &mut rng).unwrap();
        it += 1;
    }
    check_penalty_bias("F3SA", &d, &pb, s.x(), lambda, it, t0.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// Noisy oracles over several seeds

const SIGMA: f64 = 0.1;
/// Smaller inner noise: F2SA/F3SA multiply g-noise by λ (§4).
const SIGMA_G: f64 = 0.01;
const SEEDS: [u64; 5] = [11, 22, 33, 44, 55];

fn noisy_check<S: Solver<f64, Quadratic<'static, f64>>>(name: &str, make: impl Fn(&Data) -> S, iters: u64) {
    // Fixed budget; reports the first iteration below 1e-2·‖∇Φ0‖ and asserts the FINAL ratio.
    let d: &'static Data = Box::leak(Box::new(data()));
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap().with_noise(SIGMA_G, SIGMA).unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    for seed in SEEDS {
        let mut s = make(d);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut first: Option<(u64, f64)> = None;
        let t0 = Instant::now();
        s.run(&pb, &mut rng, iters, |s, r| {
            if first.is_none() && hg_norm(&pb, s.x()) <= 1e-2 * g0 {
                first = Some((r.iteration + 1, t0.elapsed().as_secs_f64()));
            }
            Control::Continue
        })
        .unwrap();
        let total = t0.elapsed().as_secs_f64();
        let g = hg_norm(&pb, s.x());
        let (fi, ft) = first.unwrap_or((u64::MAX, f64::NAN));
        println!(
            "{name} noisy σ = {SIGMA}, seed {seed}: first ≤ 1e-2 at iteration {fi} ({:.3} ms); final ratio {:.2e} after {iters} ({:.1} ms incl. closed-form checks)",
            ft * 1e3,
            g / g0,
            total * 1e3
        );
        assert!(g <= 1e-2 * g0, "{name} seed {seed}: final ratio {}", g / g0);
    }
}

#[test]
fn soba_noisy_100x() {
    // Inner step twice the outer one: y and v track their targets closely
    // enough that the decreasing steps average the noise out (worst final
    // ratio 4.8e-3 over 8 seeds; with equal steps 0.5 one seed ends at 1.2e-2).
    let cfg = SobaConfig { step_y: Step::poly(1.0, 0.5), step_x: Step::poly(0.5, 0.5), ..Default::default() };
    noisy_check("SOBA", |d| Soba::new_owned(cfg, &d.x0, &d.y0).unwrap(), 20_000);
}

#[test]
fn fmbo_noisy_100x() {
    let mut cfg = FmboConfig::new(100.0);
    let third = 1.0 / 3.0;
    cfg.step_x = Step::Poly { c: 0.5, w: 1.0, p: third };
    cfg.step_y = Step::Poly { c: 0.5, w: 1.0, p: third };
    cfg.step_v = Step::Poly { c: 0.5, w: 1.0, p: third };
    let eta = Momentum::Storm { c: 1.0, step: cfg.step_y };
    (cfg.eta_x, cfg.eta_y, cfg.eta_v) = (eta, eta, eta);
    noisy_check("FMBO", |d| Fmbo::new_owned(cfg, &d.x0, &d.y0).unwrap(), 20_000);
}

#[test]
fn f2sa_noisy_100x() {
    let cfg = F2saConfig {
        step_x: Step::poly(0.4, 5.0 / 7.0),
        step_y: Step::poly(0.5, 4.0 / 7.0),
        step_z: Step::poly(0.5, 4.0 / 7.0),
        penalty: Penalty::Poly { c: 10.0, k0: 1.0, e: 1.0 / 7.0 },
        scale_y_by_penalty: true,
        shared_cross_sample: false,
        inner_steps: 10,
    };
    noisy_check("F2SA", |d| F2sa::new_owned(cfg, &d.x0, &d.y0).unwrap(), 20_000);
}

#[test]
fn f3sa_noisy_100x() {
    let gamma = Step::poly(0.5, 0.4);
    let cfg = F3saConfig {
        step_x: Step::poly(0.4, 5.0 / 7.0),
        step_y: gamma,
        step_z: gamma,
        penalty: Penalty::Poly { c: 10.0, k0: 1.0, e: 0.2 },
        eta: Momentum::Storm { c: 4.0, step: gamma },
        scale_y_by_penalty: true,
        shared_cross_sample: false,
    };
    noisy_check("F3SA", |d| F3sa::new_owned(cfg, &d.x0, &d.y0).unwrap(), 20_000);
}

// ---------------------------------------------------------------------------
// First two steps against dense nalgebra formulas (noise-free oracles; step 2
// exercises v ≠ 0 and, for FMBO/F3SA, the STORM previous-point bookkeeping:
// with exact oracles h_t equals the exact gradient at the current point).

fn dv(s: &[f64]) -> DVector<f64> {
    DVector::from_column_slice(s)
}

fn close(name: &str, got: &[f64], want: &DVector<f64>) {
    let err = (dv(got) - want).norm();
    assert!(err <= 1e-12 * (1.0 + want.norm()), "{name}: error {err}, got {got:?}, want {want}");
}

#[test]
fn first_steps_match_dense_formulas() {
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let (a, bm, b) = dense(&d);
    let bt = bm.transpose();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);

    // SOBA (§2), SOBA sign.
    let (rho, gam) = (0.3, 0.2);
    let cfg = SobaConfig { step_y: Step::Constant(rho), step_x: Step::Constant(gam), ..Default::default() };
    let mut s = Soba::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let (mut x, mut y, mut v) = (dv(&d.x0), dv(&d.y0), DVector::zeros(Q));
    for _ in 0..2 {
        let dy = &a * &y - &bm * &x;
        let dvv = &a * &v + (&y - &b);
        let dx = -&bt * &v + RHO * &x;
        (y, v, x) = (&y - rho * dy, &v - rho * dvv, &x - gam * dx);
        s.step(&pb, &mut rng).unwrap();
        close("SOBA y", s.y(), &y);
        close("SOBA v", s.v(), &v);
        close("SOBA x", s.x(), &x);
    }

    // FMBO (§7), FdeHBO sign, radius large enough to stay inactive.
    let mut cfg = FmboConfig::new(1e6);
    cfg.step_x = Step::Constant(gam);
    cfg.step_y = Step::Constant(rho);
    cfg.step_v = Step::Constant(0.25);
    cfg.eta_x = Momentum::Constant(0.3);
    cfg.eta_y = Momentum::Constant(0.6);
    cfg.eta_v = Momentum::Constant(0.9);
    let mut s = Fmbo::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let (mut x, mut y, mut v) = (dv(&d.x0), dv(&d.y0), DVector::zeros(Q));
    for _ in 0..2 {
        let hg = &a * &y - &bm * &x;
        let hr = &a * &v - (&y - &b);
        let hf = RHO * &x + &bt * &v; // Fx − JVP with JVP = −Bᵀv
        (y, v, x) = (&y - rho * hg, &v - 0.25 * hr, &x - gam * hf);
        s.step(&pb, &mut rng).unwrap();
        close("FMBO y", s.y(), &y);
        close("FMBO v", s.v(), &v);
        close("FMBO x", s.x(), &x);
    }

    // F2SA (§4): T inner steps, then the x-step at the fresh y, z.
    let (lam, al, ga, sx, t_in) = (4.0, 0.8, 0.3, 0.2, 3);
    let cfg = F2saConfig {
        step_x: Step::Constant(sx),
        step_y: Step::Constant(al),
        step_z: Step::Constant(ga),
        penalty: Penalty::Constant(lam),
        scale_y_by_penalty: true,
        shared_cross_sample: false,
        inner_steps: t_in,
    };
    let mut s = F2sa::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let (mut x, mut y, mut z) = (dv(&d.x0), dv(&d.y0), dv(&d.y0));
    for _ in 0..2 {
        for _ in 0..t_in {
            z = &z - ga * (&a * &z - &bm * &x);
            y = &y - (al / lam) * ((&y - &b) + lam * (&a * &y - &bm * &x));
        }
        let g = RHO * &x + lam * (-&bt * &y + &bt * &z);
        x = &x - sx * g;
        s.step(&pb, &mut rng).unwrap();
        close("F2SA y", s.y(), &y);
        close("F2SA z", s.z(), &z);
        close("F2SA x", s.x(), &x);
    }

    // F3SA (§5): one z/y step, then the x-step at the fresh y, z.
    let cfg = F3saConfig {
        step_x: Step::Constant(sx),
        step_y: Step::Constant(al),
        step_z: Step::Constant(ga),
        penalty: Penalty::Constant(lam),
        eta: Momentum::Constant(0.4),
        scale_y_by_penalty: false,
        shared_cross_sample: false,
    };
    let mut s = F3sa::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let (mut x, mut y, mut z) = (dv(&d.x0), dv(&d.y0), dv(&d.y0));
    for _ in 0..3 {
        let nz = &z - ga * (&a * &z - &bm * &x);
        let ny = &y - al * ((&y - &b) + lam * (&a * &y - &bm * &x));
        let g = RHO * &x + lam * (-&bt * &ny + &bt * &nz);
        (x, y, z) = (&x - sx * g, ny, nz);
        s.step(&pb, &mut rng).unwrap();
        close("F3SA y", s.y(), &y);
        close("F3SA z", s.z(), &z);
        close("F3SA x", s.x(), &x);
    }
}

#[test]
fn storm_cancels_same_sample_noise() {
    // §9.1: with η = 0 (pure recursive estimator) and x, v frozen, FMBO's
    // h^g_t = Gy(y_t; ζ_t) + h^g_{t−1} − Gy(y_{t−1}; ζ_t) = ∇_y g(y_t) + ε_0:
    // the additive noise of every later draw cancels exactly, only the first
    // draw's ε_0 remains. So y_t → A⁻¹(Bx − ε_0) and y_noisy − y_clean → −A⁻¹ε_0.
    let d = data();
    let clean = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let noisy = clean.with_noise(0.5, 0.0).unwrap();
    let mut cfg = FmboConfig::new(1e6);
    cfg.step_x = Step::Constant(0.0);
    cfg.step_v = Step::Constant(0.0);
    cfg.step_y = Step::Constant(0.3);
    cfg.eta_y = Momentum::Constant(0.0);
    let mut sc = Fmbo::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let mut sn = Fmbo::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let (mut r1, mut r2) = (Xoshiro256PlusPlus::seed_from_u64(9), Xoshiro256PlusPlus::seed_from_u64(9));
    for _ in 0..300 {
        sc.step(&clean, &mut r1).unwrap();
        sn.step(&noisy, &mut r2).unwrap();
    }
    // ε_0: the noise of the first ζ (the first draw of each step is ζ).
    let z0 = Xoshiro256PlusPlus::seed_from_u64(9).next_u64();
    use bilevel::oracles::FirstOrder;
    let (mut gn, mut gc) = ([0.0; Q], [0.0; Q]);
    noisy.grad_g(&d.x0, &d.y0, &z0, None, Some(&mut gn));
    clean.grad_g(&d.x0, &d.y0, &z0, None, Some(&mut gc));
    let eps0 = dv(&gn) - dv(&gc);
    let (a, _, _) = dense(&d);
    let want = -a.lu().solve(&eps0).unwrap();
    let diff = dv(sn.y()) - dv(sc.y());
    assert!(eps0.norm() > 0.1);
    assert!((&diff - &want).norm() < 1e-10, "diff {diff}, want {want}");
}

// ---------------------------------------------------------------------------
// Errors and divergence

#[test]
fn bad_configurations_are_typed_errors() {
    let (x0, y0) = ([0.0f64; P], [0.0f64; Q]);
    let neg = Step::Constant(-0.1);
    assert!(matches!(
        Soba::new_owned(SobaConfig { step_y: neg, ..Default::default() }, &x0, &y0),
        Err(Error::InvalidParameter { name: "step_y", .. })
    ));
    assert!(matches!(
        Soba::new_owned(SobaConfig { v_radius: 0.0, ..Default::default() }, &x0, &y0),
        Err(Error::InvalidParameter { name: "v_radius", .. })
    ));
    let mut c = FmboConfig::new(1.0);
    c.eta_y = Momentum::Constant(1.5);
    assert!(matches!(Fmbo::new_owned(c, &x0, &y0), Err(Error::InvalidParameter { name: "eta_y", .. })));
    assert!(matches!(
        Fmbo::new_owned(FmboConfig::new(-1.0), &x0, &y0),
        Err(Error::InvalidParameter { name: "v_radius", .. })
    ));
    assert!(matches!(
        F2sa::new_owned(F2saConfig { step_z: neg, ..Default::default() }, &x0, &y0),
        Err(Error::InvalidParameter { name: "step_z", .. })
    ));
    assert!(matches!(
        F2sa::new_owned(F2saConfig { penalty: Penalty::Constant(0.0), ..Default::default() }, &x0, &y0),
        Err(Error::InvalidParameter { name: "penalty", .. })
    ));
    assert!(matches!(
        F3sa::new_owned(F3saConfig { eta: Momentum::Constant(-0.5), ..Default::default() }, &x0, &y0),
        Err(Error::InvalidParameter { name: "eta", .. })
    ));
    // Empty data, wrong storage length.
    assert!(matches!(Soba::new_owned(SobaConfig::default(), &[], &y0), Err(Error::Empty { what: "x0" })));
    assert!(matches!(F3sa::new_owned(F3saConfig::default(), &x0, &[]), Err(Error::Empty { what: "y0" })));
    let mut buf = [0.0f64; 7];
    assert!(matches!(
        F2sa::new(F2saConfig::default(), &mut buf[..], &x0, &y0),
        Err(Error::LengthMismatch { what: "storage", .. })
    ));
    // Problem dimensions differ from the solver's: error before any write.
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let mut s = Soba::new_owned(SobaConfig::default(), &[0.0; P + 1], &y0).unwrap();
    let e = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0)).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "problem.dim_x", expected: P + 1, found: P });
    assert_eq!((s.iteration(), s.x()), (0, &[0.0; P + 1][..]));
}

/// Steps a solver with a huge step until it reports divergence; checks that
/// the state after the error equals the state before the failing step.
fn diverges_intact<S: Solver<f64, Quadratic<'static, f64>>>(
    name: &str,
    mut s: S,
    state: impl Fn(&S) -> Vec<f64>,
) {
    let d: &'static Data = Box::leak(Box::new(data()));
    let pb: &'static Quadratic<'static, f64> =
        Box::leak(Box::new(Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap()));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for _ in 0..10_000 {
        let before = state(&s);
        let it = s.iteration();
        match s.step(pb, &mut rng) {
            Ok(_) => continue,
            Err(Error::Diverged { variable, iteration }) => {
                assert_eq!(iteration, it, "{name}");
                assert_eq!(s.iteration(), it, "{name}: counter advanced");
                let after = state(&s);
                assert!(after.iter().all(|v| v.is_finite()), "{name}: state not finite");
                assert_eq!(before, after, "{name}: state changed by the failed step");
                println!("{name}: diverged on `{variable}` at iteration {iteration}, state intact");
                return;
            }
            Err(e) => panic!("{name}: unexpected {e:?}"),
        }
    }
    panic!("{name}: never diverged");
}

#[test]
fn divergence_keeps_previous_state() {
    let d = data();
    let big = Step::Constant(1e3);
    let cfg = SobaConfig { step_y: big, step_x: big, ..Default::default() };
    diverges_intact("SOBA", Soba::new_owned(cfg, &d.x0, &d.y0).unwrap(), |s| [s.x(), s.y(), s.v()].concat());
    let mut c = FmboConfig::new(f64::INFINITY);
    (c.step_x, c.step_y, c.step_v) = (big, big, big);
    diverges_intact("FMBO", Fmbo::new_owned(c, &d.x0, &d.y0).unwrap(), |s| [s.x(), s.y(), s.v()].concat());
    let c = F2saConfig { step_x: big, step_y: big, step_z: big, ..Default::default() };
    diverges_intact("F2SA", F2sa::new_owned(c, &d.x0, &d.y0).unwrap(), |s| {
        [s.x(), s.y(), s.z(), &[s.penalty()]].concat()
    });
    let c = F3saConfig { step_x: big, step_y: big, step_z: big, ..Default::default() };
    diverges_intact("F3SA", F3sa::new_owned(c, &d.x0, &d.y0).unwrap(), |s| {
        [s.x(), s.y(), s.z(), &[s.penalty()]].concat()
    });
}

// ---------------------------------------------------------------------------
// FdeHBO: FMBO with central finite differences of the first-order oracles.

#[test]
fn fdehbo_exact_reaches_1e_8_and_tracks_fmbo() {
    use bilevel::kernels::Delta;
    use bilevel::solvers::FdeHbo;
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    for delta in [Delta::Relative, Delta::Adaptive, Delta::Fixed(1e-3)] {
        let mut s = FdeHbo::new_owned(fmbo_exact_config(), delta, &d.x0, &d.y0).unwrap();
        let (it, sec, g) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 20_000, 1);
        println!(
            "FdeHBO exact ({delta:?}): ‖∇Φ‖/‖∇Φ0‖ = {:.2e} after {it} iterations, {:.3} ms",
            g / g0,
            sec * 1e3
        );
        assert!(g / g0 < 1e-8, "ratio {}", g / g0);
    }
    // On a quadratic the finite differences are exact up to rounding, so the
    // first 50 iterates stay within a few ulps of FMBO's.
    let mut f = FdeHbo::new_owned(fmbo_exact_config(), Delta::Relative, &d.x0, &d.y0).unwrap();
    let mut m = Fmbo::new_owned(fmbo_exact_config(), &d.x0, &d.y0).unwrap();
    let (mut r1, mut r2) = (Xoshiro256PlusPlus::seed_from_u64(5), Xoshiro256PlusPlus::seed_from_u64(5));
    for _ in 0..50 {
        f.step(&pb, &mut r1).unwrap();
        m.step(&pb, &mut r2).unwrap();
    }
    for (name, a, b) in [("x", f.x(), m.x()), ("y", f.y(), m.y()), ("v", f.v(), m.v())] {
        for (u, w) in a.iter().zip(b) {
            assert!((u - w).abs() <= 1e-9 * (1.0 + w.abs()), "{name}: FdeHBO {u} vs FMBO {w}");
        }
    }
}

#[test]
fn fdehbo_noisy_100x() {
    use bilevel::kernels::Delta;
    use bilevel::solvers::FdeHbo;
    let mut cfg = FmboConfig::new(100.0);
    let third = 1.0 / 3.0;
    cfg.step_x = Step::Poly { c: 0.5, w: 1.0, p: third };
    cfg.step_y = Step::Poly { c: 0.5, w: 1.0, p: third };
    cfg.step_v = Step::Poly { c: 0.5, w: 1.0, p: third };
    let eta = Momentum::Storm { c: 1.0, step: cfg.step_y };
    (cfg.eta_x, cfg.eta_y, cfg.eta_v) = (eta, eta, eta);
    noisy_check("FdeHBO", |d| FdeHbo::new_owned(cfg, Delta::Relative, &d.x0, &d.y0).unwrap(), 20_000);
}

#[test]
fn fdehbo_bad_configuration_is_a_typed_error() {
    use bilevel::kernels::Delta;
    use bilevel::solvers::{FdeHbo, fmbo};
    let d = data();
    for bad in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            FdeHbo::new_owned(fmbo_exact_config(), Delta::Fixed(bad), &d.x0, &d.y0),
            Err(Error::InvalidParameter { name: "delta", .. })
        ));
    }
    assert!(matches!(
        FdeHbo::new(
            FmboConfig::new(1.0),
            Delta::Relative,
            vec![0.0; fmbo::workspace_len(P, Q)],
            vec![0.0; 3],
            &d.x0,
            &d.y0
        ),
        Err(Error::LengthMismatch { what: "scratch", .. })
    ));
    assert!(FdeHbo::new_owned(FmboConfig::new(0.0), Delta::Relative, &d.x0, &d.y0).is_err());
}

// ---------------------------------------------------------------------------
// SABA: SOBA with SAGA tables on the finite-sum form of the quadratic
// (`with_finite_sum(n, m)`: rows carry paired opposite noise, so the mean of
// the rows is the exact problem and SAGA's variance vanishes at the optimum).

fn saba_config(init: bilevel::solvers::SabaInit) -> bilevel::solvers::SabaConfig {
    bilevel::solvers::SabaConfig {
        step_y: Step::Constant(0.2),
        step_x: Step::Constant(0.05),
        v_radius: f64::INFINITY,
        init,
    }
}

#[test]
fn saba_exact_reaches_1e_8() {
    use bilevel::solvers::{Saba, SabaInit};
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap().with_finite_sum(8, 8).unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    for init in [SabaInit::FullPass, SabaInit::Zero] {
        let mut s = Saba::new_owned(saba_config(init), &pb, &d.x0, &d.y0).unwrap();
        let (it, sec, g) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 20_000, 1);
        println!(
            "SABA exact ({init:?}): ‖∇Φ‖/‖∇Φ0‖ = {:.2e} after {it} iterations, {:.3} ms",
            g / g0,
            sec * 1e3
        );
        assert!(g / g0 < 1e-8, "{init:?}: ratio {}", g / g0);
    }
}

#[test]
fn saba_noisy_finite_sum_converges_with_constant_steps() {
    use bilevel::solvers::{Saba, SabaInit};
    let d = data();
    // Noise large enough that SOBA with these constant steps stalls at a
    // noise floor; SABA's tables remove it.
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO)
        .unwrap()
        .with_noise(SIGMA, SIGMA)
        .unwrap()
        .with_finite_sum(16, 16)
        .unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    let cfg = saba_config(SabaInit::FullPass);
    for seed in SEEDS {
        let mut s = Saba::new_owned(cfg, &pb, &d.x0, &d.y0).unwrap();
        let (it, sec, g) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 40_000, seed);
        println!(
            "SABA noisy σ = {SIGMA}, n = m = 16, seed {seed}: ratio {:.2e} after {it} iterations ({:.1} ms)",
            g / g0,
            sec * 1e3
        );
        assert!(g <= 1e-2 * g0, "seed {seed}: final ratio {}", g / g0);
    }
    // The same constant steps without variance reduction stay at the noise floor.
    let soba_cfg =
        SobaConfig { step_y: Step::Constant(0.2), step_x: Step::Constant(0.05), ..Default::default() };
    let mut s = Soba::new_owned(soba_cfg, &d.x0, &d.y0).unwrap();
    let (_, _, g_soba) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 40_000, 11);
    let mut s = Saba::new_owned(cfg, &pb, &d.x0, &d.y0).unwrap();
    let (_, _, g_saba) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 0.0, 40_000, 11);
    println!(
        "constant steps, 40000 iterations: SOBA ratio {:.2e}, SABA ratio {:.2e}",
        g_soba / g0,
        g_saba / g0
    );
    assert!(g_saba < 1e-3 * g_soba, "SABA {g_saba} vs SOBA {g_soba}");
}

#[test]
fn saba_first_steps_match_dense_formulas() {
    use bilevel::solvers::{Saba, SabaInit};
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap().with_finite_sum(4, 2).unwrap();
    let (a, bm, b) = dense(&d);
    let bt = bm.transpose();
    let (rho, gam) = (0.3, 0.2);
    let cfg = bilevel::solvers::SabaConfig {
        step_y: Step::Constant(rho),
        step_x: Step::Constant(gam),
        ..saba_config(SabaInit::FullPass)
    };
    let mut s = Saba::new_owned(cfg, &pb, &d.x0, &d.y0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    // With a full pass and identical rows (no noise), the SAGA direction of the
    // first two steps is the exact SOBA direction: new − M[i] + avg with
    // M[i] = avg = the quantity at the previous point (v_0 = 0 keeps the HVP
    // and JVP tables at their exact value 0 on step 1).
    let (mut x, mut y, mut v) = (dv(&d.x0), dv(&d.y0), DVector::zeros(Q));
    for _ in 0..2 {
        let dy = &a * &y - &bm * &x;
        let dvv = &a * &v + (&y - &b);
        let dx = -&bt * &v + RHO * &x;
        (y, v, x) = (&y - rho * dy, &v - rho * dvv, &x - gam * dx);
        s.step(&pb, &mut rng).unwrap();
        close("SABA y", s.y(), &y);
        close("SABA v", s.v(), &v);
        close("SABA x", s.x(), &x);
    }
    // Zero initialization: the first direction is the sampled quantity itself
    // (new − 0 + 0), i.e. the exact SOBA step too.
    let mut s = Saba::new_owned(saba_config(SabaInit::Zero), &pb, &d.x0, &d.y0).unwrap();
    s.step(&pb, &mut rng).unwrap();
    let (x, y) = (dv(&d.x0), dv(&d.y0));
    close("SABA(zero) y", s.y(), &(&y - 0.2 * (&a * &y - &bm * &x)));
    close("SABA(zero) v", s.v(), &(-0.2 * (&y - &b)));
    close("SABA(zero) x", s.x(), &(&x - 0.05 * RHO * &x));
}

#[test]
fn saba_errors_and_divergence() {
    use bilevel::solvers::{Saba, SabaConfig, SabaInit};
    let d = data();
    let streaming = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    assert!(matches!(
        Saba::new_owned(SabaConfig::default(), &streaming, &d.x0, &d.y0),
        Err(Error::Empty { what: "inner samples" })
    ));
    let pb = streaming.with_finite_sum(4, 4).unwrap();
    assert!(matches!(
        Saba::new_owned(SabaConfig { v_radius: -1.0, ..Default::default() }, &pb, &d.x0, &d.y0),
        Err(Error::InvalidParameter { name: "v_radius", .. })
    ));
    assert!(matches!(
        Saba::new_owned(
            SabaConfig { step_x: Step::Constant(f64::NAN), ..Default::default() },
            &pb,
            &d.x0,
            &d.y0
        ),
        Err(Error::InvalidParameter { name: "step_x", .. })
    ));
    assert!(matches!(
        Saba::new_owned(SabaConfig::default(), &pb, &[], &d.y0),
        Err(Error::Empty { what: "x0" })
    ));
    let w = bilevel::solvers::saba::workspace_len(P, Q);
    assert!(matches!(
        Saba::new(SabaConfig::default(), &pb, vec![0.0; w], vec![0.0; 3], &d.x0, &d.y0),
        Err(Error::LengthMismatch { what: "tables", .. })
    ));
    // A problem with other row counts than at construction is refused before any write.
    let other = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap().with_finite_sum(6, 4).unwrap();
    let mut s = Saba::new_owned(SabaConfig::default(), &pb, &d.x0, &d.y0).unwrap();
    let e = s.step(&other, &mut Xoshiro256PlusPlus::seed_from_u64(0)).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "inner samples", expected: 4, found: 6 });
    assert_eq!(s.iteration(), 0);
    // Diverging run: typed error, state intact, for both initializations.
    let big = Step::Constant(1e3);
    for init in [SabaInit::Zero, SabaInit::FullPass] {
        let cfg = SabaConfig { step_y: big, step_x: big, v_radius: f64::INFINITY, init };
        let mut s = Saba::new_owned(cfg, &pb, &d.x0, &d.y0).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut failed = false;
        for _ in 0..10_000 {
            let before = [s.x(), s.y(), s.v()].concat();
            let it = s.iteration();
            match s.step(&pb, &mut rng) {
                Ok(_) => {}
                Err(Error::Diverged { iteration, .. }) => {
                    assert_eq!((iteration, s.iteration()), (it, it));
                    assert_eq!(before, [s.x(), s.y(), s.v()].concat());
                    failed = true;
                    break;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(failed, "{init:?}: never diverged");
    }
}

#[test]
fn resume_after_divergence_from_the_last_finite_state() {
    // A run with a step far too large stops with a typed error; the caller
    // restarts from the kept finite (x, y) with a sane step and converges.
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    let big = Step::Constant(50.0);
    let mut s =
        Soba::new_owned(SobaConfig { step_y: big, step_x: big, ..Default::default() }, &d.x0, &d.y0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let err = s.run(&pb, &mut rng, 100_000, |_, _| Control::Continue).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err:?}");
    let (x, y) = (s.x().to_vec(), s.y().to_vec());
    assert!(x.iter().chain(&y).all(|v| v.is_finite()));
    println!("SOBA with step 50: {err} (‖x‖∞ = {:.1e})", x.iter().fold(0.0f64, |m, v| m.max(v.abs())));
    let good = SobaConfig { step_y: Step::Constant(0.2), step_x: Step::Constant(0.05), ..Default::default() };
    let mut r = Soba::new_owned(good, &x, &y).unwrap();
    let (it, _, g) = run_to(&mut r, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 200_000, 1);
    println!("resumed: ‖∇Φ‖/‖∇Φ(x0)‖ = {:.2e} after {it} iterations", g / g0);
    assert!(g < 1e-8 * g0);
}

/// Found by `fuzz/solvers`: schedules that leave the float range are typed
/// errors, never kernel errors or an infinite stored penalty.
#[test]
fn schedules_outside_the_float_range_are_typed_errors() {
    let (x0, y0) = ([0.0f64; P], [0.0f64; Q]);
    // Initial penalty c·k0^e overflows f64.
    let cfg = F2saConfig { penalty: Penalty::Poly { c: 1e308, k0: 10.0, e: 2.0 }, ..Default::default() };
    assert!(matches!(F2sa::new_owned(cfg, &x0, &y0), Err(Error::InvalidParameter { name: "penalty", .. })));
    // Finite in f64, infinite in f32.
    let cfg = F3saConfig { penalty: Penalty::Constant(1e39), ..Default::default() };
    assert!(matches!(
        F3sa::new_owned(cfg, &[0.0f32; 2], &[0.0f32; 2]),
        Err(Error::InvalidParameter { name: "penalty", .. })
    ));
    // A step offset below 1 could make c/(w+t)^p infinite at t = 0.
    let cfg = SobaConfig { step_x: Step::Poly { c: 1.0, w: 1e-300, p: 3.0 }, ..Default::default() };
    assert!(matches!(Soba::new_owned(cfg, &x0, &y0), Err(Error::InvalidParameter { name: "step_x", .. })));
    // α·λ overflowing inside F3SA's y-step is reported as divergence, state kept.
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap();
    let cfg = F3saConfig {
        step_y: Step::Constant(1e300),
        penalty: Penalty::Constant(1e300),
        scale_y_by_penalty: false,
        ..Default::default()
    };
    let mut s = F3sa::new_owned(cfg, &d.x0, &d.y0).unwrap();
    let before = [s.x(), s.y(), s.z()].concat();
    let e = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(1)).unwrap_err();
    assert!(matches!(e, Error::Diverged { .. }), "{e:?}");
    assert_eq!(before, [s.x(), s.y(), s.z()].concat());
}

// ---------------------------------------------------------------------------
// Sampling policies of the SAGA solvers.

#[test]
fn sampling_policies_visit_every_row_as_defined() {
    use bilevel::solvers::sampling::{Cyclic, Reshuffled, RowSampler, WithReplacement};
    let (n, m, epochs) = (7usize, 3usize, 50usize);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    // Reshuffled and cyclic: every row exactly once in every epoch.
    let mut reshuffled = Reshuffled::new_owned(n, m).unwrap();
    let mut cyclic = Cyclic::default();
    let mut orders = std::collections::HashSet::new();
    for _ in 0..epochs {
        let (mut seen_r, mut seen_c) = (vec![0usize; n], vec![0usize; n]);
        let mut order = Vec::new();
        for _ in 0..n {
            let r = reshuffled.next_inner(&mut rng, n);
            seen_r[r] += 1;
            order.push(r);
            seen_c[cyclic.next_inner(&mut rng, n)] += 1;
        }
        assert_eq!(seen_r, vec![1; n], "reshuffled epoch {order:?}");
        assert_eq!(seen_c, vec![1; n]);
        orders.insert(order);
        let mut seen_o = vec![0usize; m];
        for _ in 0..m {
            seen_o[reshuffled.next_outer(&mut rng, m)] += 1;
        }
        assert_eq!(seen_o, vec![1; m]);
    }
    // Fresh permutations: 50 epochs of 7! = 5040 orders are nearly all distinct.
    assert!(orders.len() >= 45, "only {} distinct orders", orders.len());
    // With replacement: counts of 70,000 draws over 7 rows pass a chi-square
    // test at the 0.1% level (6 degrees of freedom: 22.46).
    let draws = 70_000usize;
    let mut counts = vec![0usize; n];
    for _ in 0..draws {
        counts[WithReplacement.next_inner(&mut rng, n)] += 1;
    }
    let expect = (draws / n) as f64;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - expect).powi(2) / expect).sum();
    assert!(chi2 < 22.46, "chi2 = {chi2}, counts {counts:?}");
}

#[test]
fn sampler_undo_restores_the_sequence() {
    use bilevel::solvers::sampling::{Cyclic, Reshuffled, RowSampler};
    let (n, m) = (5usize, 4usize);
    let mut a = Reshuffled::new_owned(n, m).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for step in 0..23 {
        let before = a.clone();
        let mut probe = rng.clone();
        let (i, j) = (a.next_inner(&mut probe, n), a.next_outer(&mut probe, m));
        a.undo();
        assert_eq!(a, before, "step {step}: undo did not restore");
        let (i2, j2) = (a.next_inner(&mut rng, n), a.next_outer(&mut rng, m));
        assert_eq!((i, j), (i2, j2));
    }
    let mut c = Cyclic::default();
    c.next_inner(&mut rng, n);
    c.next_outer(&mut rng, m);
    c.undo();
    assert_eq!(c, Cyclic::default());
}

#[test]
fn saba_with_reshuffled_epochs_converges() {
    use bilevel::solvers::sampling::Reshuffled;
    use bilevel::solvers::{Saba, SabaInit};
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO)
        .unwrap()
        .with_noise(SIGMA, SIGMA)
        .unwrap()
        .with_finite_sum(16, 16)
        .unwrap();
    let g0 = hg_norm(&pb, &d.x0);
    for seed in SEEDS {
        let sampler = Reshuffled::new_owned(16, 16).unwrap();
        let mut s = Saba::new_owned(saba_config(SabaInit::FullPass), &pb, &d.x0, &d.y0)
            .unwrap()
            .with_sampler(sampler);
        let (it, _, g) = run_to(&mut s, &pb, |x| hg_norm(&pb, x), 1e-8 * g0, 40_000, seed);
        println!("SABA reshuffled, seed {seed}: ratio {:.2e} after {it} iterations", g / g0);
        assert!(g <= 1e-8 * g0, "seed {seed}: final ratio {}", g / g0);
    }
}

/// A finite `v_radius` with `p ≠ q` (a fuzz finding: the projected `v`-step
/// used a `p`-long scratch): `v` stays in the ball and the run converges.
#[test]
fn finite_v_radius_with_p_unequal_q() {
    use bilevel::solvers::{Saba, SabaConfig};
    let d = data();
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, P, RHO).unwrap().with_finite_sum(4, 2).unwrap();
    let r = 0.3;
    let soba = SobaConfig { step_y: Step::Constant(0.2), step_x: Step::Constant(0.05), v_radius: r };
    let saba = SabaConfig {
        step_y: Step::Constant(0.2),
        step_x: Step::Constant(0.05),
        v_radius: r,
        ..Default::default()
    };
    let mut a = Soba::new_owned(soba, &d.x0, &d.y0).unwrap();
    let mut b = Saba::new_owned(saba, &pb, &d.x0, &d.y0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    for _ in 0..200 {
        a.step(&pb, &mut rng).unwrap();
        b.step(&pb, &mut rng).unwrap();
        for v in [a.v(), b.v()] {
            assert_eq!(v.len(), Q);
            assert!(v.iter().map(|e| e * e).sum::<f64>().sqrt() <= r * (1.0 + 1e-12));
        }
    }
}
