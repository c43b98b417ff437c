//! The finite-difference accuracy table (ALGORITHMS.md §9.3; issue 15 §5):
//! every `Delta` policy against the best power-of-two step, on
//! - L2-regularized logistic regression, `n = 2000` samples, `d = 22`
//!   standard-normal features, labels from a planted model, `μ = 0.01`,
//!   exact HVP from the dense Hessian `μI + (1/n) Σ σ'(a_iᵀy) a_i a_iᵀ`;
//! - the quartic `g(y) = Σ_k w_k [(y_k + b_k)⁴/12 + (y_k + b_k)²/2]` (q = 8),
//!   whose third derivative never vanishes;
//!
//! at ‖y‖ ∈ {1, 10, 100, 1000}, ‖v‖ ∈ {1e-3, 1, 1e3} (quartic: also 0.1 and
//! 10), 20 random directions `(y, v)` each, gradients evaluated in f32 or f64.
//!
//! A policy's ratio is its error over the mean error of the three powers of
//! two around the best one (so that a lucky cancellation at one step does not
//! decide). Shared by tests/fd_accuracy.rs (which asserts) and
//! examples/fd_accuracy.rs (which prints [`report`]).
#![allow(dead_code)]

use bilevel::Float;
use bilevel::kernels::{Delta, hvp_central};

/// Deterministic xorshift generator with Box–Muller normals.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unif(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unif(), self.unif());
        (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
    }
    /// A uniformly random direction of norm `r`.
    pub fn sphere(&mut self, d: usize, r: f64) -> Vec<f64> {
        let v: Vec<f64> = (0..d).map(|_| self.normal()).collect();
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.into_iter().map(|x| r * x / n).collect()
    }
}

/// A test problem: a gradient map evaluated in `T`, and its exact HVP in f64.
pub trait Problem {
    const NAME: &'static str;
    fn dim(&self) -> usize;
    fn grad<T: Float>(&self, y: &[T], g: &mut [T]);
    fn exact_hvp(&self, y: &[f64], v: &[f64]) -> Vec<f64>;
}

/// `g(y) = (1/n) Σ log(1 + exp(−c_i a_iᵀy)) + (μ/2)‖y‖²`.
pub struct Logistic {
    n: usize,
    d: usize,
    a: Vec<f64>,
    c: Vec<f64>,
    mu: f64,
}

impl Logistic {
    pub fn new(n: usize, d: usize, mu: f64, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let a: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        let w = rng.sphere(d, 3.0);
        let c = (0..n)
            .map(|i| {
                let m: f64 = a[i * d..(i + 1) * d].iter().zip(&w).map(|(x, y)| x * y).sum();
                if m + rng.normal() >= 0.0 { 1.0 } else { -1.0 }
            })
            .collect();
        Logistic { n, d, a, c, mu }
    }
    fn row(&self, i: usize) -> &[f64] {
        &self.a[i * self.d..(i + 1) * self.d]
    }
}

impl Problem for Logistic {
    const NAME: &'static str = "logistic";
    fn dim(&self) -> usize {
        self.d
    }
    /// Everything in `T`, the sigmoid included.
    fn grad<T: Float>(&self, y: &[T], g: &mut [T]) {
        for (gk, &yk) in g.iter_mut().zip(y) {
            *gk = T::from_f64(self.mu) * yk;
        }
        let inv_n = T::ONE / T::from_usize(self.n);
        for i in 0..self.n {
            let row = self.row(i);
            let mut s = T::ZERO;
            for (&a, &yk) in row.iter().zip(y) {
                s += T::from_f64(a) * yk;
            }
            let ci = T::from_f64(self.c[i]);
            let m = ci * s;
            // σ(−m), without overflow for either sign.
            let sig = if m >= T::ZERO {
                let e = (-m).exp();
                e / (T::ONE + e)
            } else {
                T::ONE / (T::ONE + m.exp())
            };
            let coef = -sig * ci * inv_n;
            for (gk, &a) in g.iter_mut().zip(row) {
                *gk += coef * T::from_f64(a);
            }
        }
    }
    fn exact_hvp(&self, y: &[f64], v: &[f64]) -> Vec<f64> {
        let mut out: Vec<f64> = v.iter().map(|x| self.mu * x).collect();
        for i in 0..self.n {
            let row = self.row(i);
            let m: f64 = row.iter().zip(y).map(|(a, b)| a * b).sum();
            let s = 1.0 / (1.0 + (-m).exp());
            let av: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
            let c = s * (1.0 - s) * av / self.n as f64;
            for (o, a) in out.iter_mut().zip(row) {
                *o += c * a;
            }
        }
        out
    }
}

/// `g(y) = Σ_k w_k [(y_k + b_k)⁴/12 + (y_k + b_k)²/2]`, q = 8.
pub struct Quartic;

const Q: usize = 8;

fn quartic_params(k: usize) -> (f64, f64) {
    (0.5 + 0.25 * k as f64, 0.3 * (k as f64 - 3.5))
}

impl Problem for Quartic {
    const NAME: &'static str = "quartic";
    fn dim(&self) -> usize {
        Q
    }
    fn grad<T: Float>(&self, y: &[T], g: &mut [T]) {
        let third = T::ONE / T::from_f64(3.0);
        for (k, (gk, &yk)) in g.iter_mut().zip(y).enumerate() {
            let (w, b) = quartic_params(k);
            let u = yk + T::from_f64(b);
            *gk = T::from_f64(w) * (u * u * u * third + u);
        }
    }
    fn exact_hvp(&self, y: &[f64], v: &[f64]) -> Vec<f64> {
        (0..Q)
            .map(|k| {
                let (w, b) = quartic_params(k);
                let u = y[k] + b;
                w * (u * u + 1.0) * v[k]
            })
            .collect()
    }
}

/// One case of the table: the reference error and each policy's ratio.
#[derive(Clone, Debug)]
pub struct Case {
    pub problem: &'static str,
    pub dtype: &'static str,
    pub ny: f64,
    pub nv: f64,
    /// Mean error of the three powers of two around the best step.
    pub reference: f64,
    /// log2(best step / relative step).
    pub best_offset: i32,
    /// `true` when the best step is inside the searched window (not at an edge).
    pub interior: bool,
    /// Error ratios (policy error / reference).
    pub default: f64,
    pub relative: f64,
    pub adaptive: f64,
    /// Oracle calls the default policy made.
    pub default_calls: u32,
}

/// `‖D − Hv‖ / ‖Hv‖` for one product.
fn rel_error<T: Float, P: Problem>(p: &P, y: &[T], v: &[T], delta: Delta<T>) -> (f64, f64, u32) {
    let q = p.dim();
    let mut out = vec![T::ZERO; q];
    let mut scratch = vec![T::ZERO; delta.scratch_len(q, q)];
    let r = hvp_central(|pt: &[T], g: &mut [T]| p.grad(pt, g), y, v, delta, &mut scratch, &mut out).unwrap();
    let yf: Vec<f64> = y.iter().map(|t| t.to_f64()).collect();
    let vf: Vec<f64> = v.iter().map(|t| t.to_f64()).collect();
    let e = p.exact_hvp(&yf, &vf);
    let num: f64 = out.iter().zip(&e).map(|(a, b)| (a.to_f64() - b).powi(2)).sum::<f64>().sqrt();
    let den: f64 = e.iter().map(|b| b * b).sum::<f64>().sqrt();
    (num / den, r.delta.to_f64(), r.oracle_calls)
}

/// Steps searched: `2^(r + k)` for `k` in this window around the relative
/// step `2^r` (measured best offsets are −6..=1).
const WINDOW: core::ops::RangeInclusive<i32> = -14..=8;

/// All cases of one problem in `T`: `norms_v` × {1, 10, 100, 1000} × `dirs`.
pub fn cases<T: Float, P: Problem>(p: &P, norms_v: &[f64], dirs: usize, seed: u64) -> Vec<Case> {
    let mut rng = Rng(seed);
    let mut rows = Vec::new();
    for ny in [1.0, 10.0, 100.0, 1000.0] {
        for &nv in norms_v {
            for _ in 0..dirs {
                let y: Vec<T> = rng.sphere(p.dim(), ny).into_iter().map(T::from_f64).collect();
                let v: Vec<T> = rng.sphere(p.dim(), nv).into_iter().map(T::from_f64).collect();
                let (rel, d_rel, _) = rel_error(p, &y, &v, Delta::Relative);
                let r = libm::log2(d_rel).round() as i32;
                let errs: Vec<f64> =
                    WINDOW.map(|k| rel_error(p, &y, &v, Delta::Fixed(T::exp2i(r + k))).0).collect();
                let best = (0..errs.len()).min_by(|&a, &b| errs[a].total_cmp(&errs[b])).unwrap();
                let interior = best > 0 && best + 1 < errs.len();
                let around = &errs[best.saturating_sub(1)..(best + 2).min(errs.len())];
                let reference = around.iter().sum::<f64>() / around.len() as f64;
                let (def, _, calls) = rel_error(p, &y, &v, Delta::default());
                let (ada, _, _) = rel_error(p, &y, &v, Delta::Adaptive);
                rows.push(Case {
                    problem: P::NAME,
                    dtype: T::NAME,
                    ny,
                    nv,
                    reference,
                    best_offset: *WINDOW.start() + best as i32,
                    interior,
                    default: def / reference,
                    relative: rel / reference,
                    adaptive: ada / reference,
                    default_calls: calls,
                });
            }
        }
    }
    rows
}

/// Directions per (‖y‖, ‖v‖) pair.
pub const DIRECTIONS: usize = 20;

/// The whole table: logistic and quartic, f64 and f32.
pub fn table() -> Vec<Case> {
    let logistic = Logistic::new(2000, 22, 0.01, 12345);
    let (lv, qv) = ([1e-3, 1.0, 1e3], [1e-3, 1e-1, 1.0, 10.0, 1e3]);
    let mut all = cases::<f64, _>(&logistic, &lv, DIRECTIONS, 0xC0FFEE);
    all.extend(cases::<f32, _>(&logistic, &lv, DIRECTIONS, 0xC0FFEE));
    all.extend(cases::<f64, _>(&Quartic, &qv, DIRECTIONS, 0xBEEF));
    all.extend(cases::<f32, _>(&Quartic, &qv, DIRECTIONS, 0xBEEF));
    all
}

/// Worst ratio and number of ratios above 3.
fn summary(it: impl Iterator<Item = f64>) -> (f64, usize) {
    it.fold((0.0f64, 0), |(w, n), r| (w.max(r), n + usize::from(r > 3.0)))
}

/// Prints the table of `cases`: per problem, type and ‖y‖, the worst ratio of
/// each policy and how many of its cases exceed 3×, and the default's calls.
pub fn print(cases: &[Case]) {
    println!("fd_accuracy: HVP error / best-step error (mean of the 3 powers of two around the best)");
    println!(
        "| problem | type | ‖y‖ | cases | default (Extrapolated) worst | > 3× | calls (mean) | Relative worst | > 3× | Adaptive worst | > 3× |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut keys: Vec<(&str, &str, u64)> = Vec::new();
    for c in cases {
        let key = (c.problem, c.dtype, c.ny.to_bits());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (problem, dtype, ny) in keys {
        let rows: Vec<&Case> = cases
            .iter()
            .filter(|c| c.problem == problem && c.dtype == dtype && c.ny.to_bits() == ny)
            .collect();
        let (dw, dn) = summary(rows.iter().map(|c| c.default));
        let (rw, rn) = summary(rows.iter().map(|c| c.relative));
        let (aw, an) = summary(rows.iter().map(|c| c.adaptive));
        let calls = rows.iter().map(|c| c.default_calls as f64).sum::<f64>() / rows.len() as f64;
        println!(
            "| {problem} | {dtype} | {:.0e} | {} | {dw:.2} | {dn} | {calls:.1} | {rw:.2} | {rn} | {aw:.2} | {an} |",
            f64::from_bits(ny),
            rows.len()
        );
    }
    let (dw, dn) = summary(cases.iter().map(|c| c.default));
    let calls = cases.iter().map(|c| c.default_calls as f64).sum::<f64>() / cases.len() as f64;
    println!(
        "all {} cases: default worst {dw:.2}, {dn} above 3×, {calls:.2} oracle calls per HVP on average",
        cases.len()
    );
}

/// Computes and prints the table (for `kernel_report` and the example).
pub fn report() {
    print(&table());
}
