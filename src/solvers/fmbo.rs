//! FMBO, the Fully single-loop Momentum-based Bilevel Optimizer
//! (ALGORITHMS.md §7, FdeHBO's Algorithm 2), FdeHBO sign convention
//! (`v ≈ +H⁻¹∇_y f`, §0).
//!
//! Iteration `t`: three STORM recursions (§9.1), each evaluating the same
//! fresh sample at the current point `(x_t, y_t, v_t)` and at the previous
//! point `(x_{t−1}, y_{t−1}, v_{t−1})` (Jacobi order, §6):
//!
//! ```text
//! a = Gy(x_t,y_t;ζ)                     a' = Gy(x_{t−1},y_{t−1};ζ)
//! r = HVP(x_t,y_t,v_t;ψ) − Fy(x_t,y_t;ψ)  r' = same at t−1            (§7 eq 5)
//! u = Fx(x_t,y_t;ξ̄) − JVP(x_t,y_t,v_t;ξ̄)   u' = same at t−1            (§7 eq 3)
//! h^g ← a + (1−η^g)(h^g − a')    y_{t+1} = y_t − β_t h^g
//! h^R ← r + (1−η^R)(h^R − r')    v_{t+1} = Π_{‖·‖≤r_v}(v_t − λ_t h^R)   (§6, §9.2)
//! h^f ← u + (1−η^f)(h^f − u')    x_{t+1} = x_t − α_t h^f
//! ```
//!
//! At `t = 0` every `η = 1` (plain estimates, no previous-point calls). `ψ`
//! and `ξ̄` are each a pair (inner sample for the product, outer sample for
//! `f`). `h^R` holds the unprojected gradient; only `v` is projected.
//!
//! - Oracle calls per iteration (`t ≥ 1`): 2 `grad_g` (`Gy`), 4 `hvp_jvp_g`
//!   (2 HVP + 2 JVP), 4 `grad_f` (2 `Fy` + 2 `Fx`); half of that at `t = 0`.
//! - Memory: `workspace_len(p, q) = 8p + 15q` (state `3p + 6q`, §1).
//! - Complexity (§7 Theorem 2): `Õ(ε^(−3/2))` samples with
//!   `α_t ∝ (w+t)^(−1/3)`, `η ∝ α²`.
//!
//! FdeHBO (§6) is this iteration with the two products replaced by central
//! finite differences of `Gy`, `Gx` (§9.3).
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::{Momentum, Step};
//! use bilevel::solvers::{Fmbo, FmboConfig, fmbo};
//!
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let mut cfg = FmboConfig::new(10.0); // r_v ≥ sup‖∇_y f‖/μ_g with margin
//! cfg.step_x = Step::Constant(0.5);
//! cfg.step_y = Step::Constant(0.3);
//! cfg.step_v = Step::Constant(0.3);
//! cfg.eta_x = Momentum::Constant(1.0);
//! cfg.eta_y = Momentum::Constant(1.0);
//! cfg.eta_v = Momentum::Constant(1.0);
//! let mut s = Fmbo::new(cfg, [0.0; fmbo::workspace_len(1, 1)], &[0.0], &[0.0])?;
//! let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
//! # use rand_xoshiro::rand_core::SeedableRng;
//! for _ in 0..3000 { s.step(&pb, &mut rng)?; }
//! assert!((s.x()[0] - 1.0 / 0.7).abs() < 1e-9);
//! assert!((s.v()[0] - (s.y()[0] - 1.0) / 2.0).abs() < 1e-9); // v*_F = A⁻¹(y* − b)
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::{
    Core, Layout, Solver, StepReport, check_finite, check_radius, diverged_on_nonfinite, layout_len, to_t,
};
use crate::Backend;
use crate::Float;
use crate::error::Error;
use crate::oracles::SecondOrder;
use crate::schedule::{Momentum, Schedule, Step};

// x, y, v, xp, yp, vp, hg, hr, hf | a, a2, r, r2, u, u2, tq, tp | nx, ny, nv, nhg, nhr, nhf
const LAYOUT: Layout<23> = [
    (1, 0),
    (0, 1),
    (0, 1),
    (1, 0),
    (0, 1),
    (0, 1),
    (0, 1),
    (0, 1),
    (1, 0),
    (0, 1),
    (0, 1),
    (0, 1),
    (0, 1),
    (1, 0),
    (1, 0),
    (0, 1),
    (1, 0),
    (1, 0),
    (0, 1),
    (0, 1),
    (0, 1),
    (0, 1),
    (1, 0),
];

/// Length of the buffer an [`Fmbo`] needs: `8p + 15q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::fmbo::workspace_len(3, 5), 8 * 3 + 15 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    layout_len(&LAYOUT, p, q)
}

/// FMBO's parameters (§6 Theorem 1 shape, §7). The radius `r_v` has no
/// default: choose `r_v ≥ sup‖∇_y f‖ / μ_g` with a margin (§6 "Why the
/// projection matters"; "Decisions": the crate never guesses it).
///
/// Defaults ([`FmboConfig::new`], constants not verified, §12.6):
/// `α_t = 0.05/(1+t)^(1/3)` (x), `β_t = λ_t = 0.1/(1+t)^(1/3)` (y, v),
/// `η_t = min(1, 10 β_t²)` for all three recursions (`η ∝ α²`).
///
/// ```
/// use bilevel::schedule::Schedule;
/// let c = bilevel::solvers::FmboConfig::<f64>::new(5.0);
/// assert!((c.eta_y.at(0) - 0.1).abs() < 1e-15);
/// assert!(bilevel::solvers::FmboConfig::<f64>::new(0.0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FmboConfig<T> {
    /// `α_t`, the step of `x`.
    pub step_x: Step,
    /// `β_t`, the step of `y`.
    pub step_y: Step,
    /// `λ_t`, the step of `v` (FdeHBO's notation; not a penalty).
    pub step_v: Step,
    /// `η^f_t`, STORM weight of the hypergradient estimate.
    pub eta_x: Momentum,
    /// `η^g_t`, STORM weight of `Gy`.
    pub eta_y: Momentum,
    /// `η^R_t`, STORM weight of the linear-system gradient.
    pub eta_v: Momentum,
    /// Projection radius `r_v > 0` of `v` (`+∞` disables it).
    pub v_radius: T,
}

impl<T: Float> FmboConfig<T> {
    /// The default schedules with radius `v_radius`.
    ///
    /// ```
    /// assert_eq!(bilevel::solvers::FmboConfig::<f32>::new(2.0).v_radius, 2.0);
    /// ```
    pub fn new(v_radius: T) -> Self {
        let third = 1.0 / 3.0;
        let beta = Step::Poly { c: 0.1, w: 1.0, p: third };
        let eta = Momentum::Storm { c: 10.0, step: beta };
        FmboConfig {
            step_x: Step::Poly { c: 0.05, w: 1.0, p: third },
            step_y: beta,
            step_v: beta,
            eta_x: eta,
            eta_y: eta,
            eta_v: eta,
            v_radius,
        }
    }

    /// Checks every parameter.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative step, a momentum
    /// weight outside `[0, 1]`, or `v_radius ≤ 0` / NaN.
    ///
    /// ```
    /// use bilevel::schedule::Momentum;
    /// let mut c = bilevel::solvers::FmboConfig::<f64>::new(1.0);
    /// c.eta_v = Momentum::Constant(1.5);
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_x.validate("step_x")?;
        self.step_y.validate("step_y")?;
        self.step_v.validate("step_v")?;
        self.eta_x.validate("eta_x")?;
        self.eta_y.validate("eta_y")?;
        self.eta_v.validate("eta_v")?;
        check_radius("v_radius", self.v_radius)
    }
}

/// The FMBO solver on storage `S` (see the [module docs](self)).
///
/// ```
/// use bilevel::solvers::{Fmbo, FmboConfig, fmbo};
/// let s = Fmbo::new(FmboConfig::new(1.0), [0.0f64; fmbo::workspace_len(1, 2)], &[1.0], &[0.0, 0.0])?;
/// assert_eq!((s.x(), s.v()), (&[1.0][..], &[0.0, 0.0][..]));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Fmbo<T, S> {
    config: FmboConfig<T>,
    core: Core<T, S>,
}

/// `r ← HVP(x,y,v;s_g) − Fy(x,y;s_f)` (§7 eq 5); `tq` is scratch.
#[inline]
#[allow(clippy::too_many_arguments)]
fn linear_grad<T: Float, P: SecondOrder<T>>(
    b: Backend,
    pb: &P,
    (x, y, v): (&[T], &[T], &[T]),
    (sg, sf): (&P::Sample, &P::Sample),
    r: &mut [T],
    tq: &mut [T],
) -> Result<(), Error> {
    pb.hvp_jvp_g(x, y, v, sg, Some(r), None);
    pb.grad_f(x, y, sf, None, Some(tq));
    b.axpy(-T::ONE, tq, r)
}

/// `u ← Fx(x,y;s_f) − JVP(x,y,v;s_g)` (§7 eq 3); `tp` is scratch.
#[inline]
fn hyper_grad<T: Float, P: SecondOrder<T>>(
    b: Backend,
    pb: &P,
    (x, y, v): (&[T], &[T], &[T]),
    (sg, sf): (&P::Sample, &P::Sample),
    u: &mut [T],
    tp: &mut [T],
) -> Result<(), Error> {
    pb.grad_f(x, y, sf, Some(u), None);
    pb.hvp_jvp_g(x, y, v, sg, None, Some(tp));
    b.axpy(-T::ONE, tp, u)
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> Fmbo<T, S> {
    /// A solver starting at `x0`, `y0`, `v_0 = 0` (inside every ball), on
    /// `storage` of length [`workspace_len`]`(x0.len(), y0.len())`.
    ///
    /// Errors: [`FmboConfig::validate`]'s; [`Error::Empty`];
    /// [`Error::LengthMismatch`] for `storage`; [`Error::NonFinite`].
    ///
    /// ```
    /// use bilevel::{Error, solvers::{Fmbo, FmboConfig}};
    /// let e = Fmbo::new(FmboConfig::new(-1.0), [0.0f64; 23], &[0.0], &[0.0]).unwrap_err();
    /// assert!(matches!(e, Error::InvalidParameter { name: "v_radius", .. }));
    /// ```
    pub fn new(config: FmboConfig<T>, storage: S, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        config.validate()?;
        Ok(Fmbo { config, core: Core::new(&LAYOUT, storage, x0, y0)? })
    }

    /// The configuration.
    ///
    /// ```
    /// # use bilevel::solvers::{Fmbo, FmboConfig};
    /// let s = Fmbo::new(FmboConfig::new(3.0), [0.0f64; 23], &[0.0], &[0.0])?;
    /// assert_eq!(s.config().v_radius, 3.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &FmboConfig<T> {
        &self.config
    }

    /// Outer iterate `x_t`.
    ///
    /// ```
    /// # use bilevel::solvers::{Fmbo, FmboConfig};
    /// assert_eq!(Fmbo::new(FmboConfig::new(1.0), [0.0f64; 23], &[2.0], &[0.0])?.x(), &[2.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn x(&self) -> &[T] {
        self.core.slot(&LAYOUT, 0)
    }

    /// Inner iterate `y_t`.
    ///
    /// ```
    /// # use bilevel::solvers::{Fmbo, FmboConfig};
    /// assert_eq!(Fmbo::new(FmboConfig::new(1.0), [0.0f64; 23], &[2.0], &[1.0])?.y(), &[1.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn y(&self) -> &[T] {
        self.core.slot(&LAYOUT, 1)
    }

    /// Linear-system iterate `v_t ≈ +H⁻¹∇_y f` (FdeHBO sign), `‖v_t‖ ≤ r_v`.
    ///
    /// ```
    /// # use bilevel::solvers::{Fmbo, FmboConfig};
    /// assert_eq!(Fmbo::new(FmboConfig::new(1.0), [0.0f64; 23], &[2.0], &[1.0])?.v(), &[0.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn v(&self) -> &[T] {
        self.core.slot(&LAYOUT, 2)
    }

    /// Completed iterations `t`.
    ///
    /// ```
    /// # use bilevel::solvers::{Fmbo, FmboConfig};
    /// assert_eq!(Fmbo::new(FmboConfig::new(1.0), [0.0f64; 23], &[2.0], &[1.0])?.iteration(), 0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn iteration(&self) -> u64 {
        self.core.t
    }

    /// One FMBO iteration (§7; see the [module docs](self)). Samples drawn,
    /// in order: `ζ` (inner), `ψ` (inner, outer), `ξ̄` (inner, outer).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ;
    /// [`Error::Diverged`] (`"y"`, `"v"` or `"x"`) with the previous state
    /// (iterates, previous iterates, momentum buffers) kept.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{Fmbo, FmboConfig};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = Fmbo::new(FmboConfig::new(1.0), [0.0; 23], &[1.0], &[0.5])?;
    /// let r = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!(r.eta, 1.0); // first STORM step: plain estimates
    /// assert!((s.x()[0] - (1.0 - r.step_x * 0.1)).abs() < 1e-16); // h^f = Fx − J·0
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn step<P: SecondOrder<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let t = self.core.t;
        let c = &self.config;
        let first = t == 0;
        let eta =
            |name, m: &Momentum| -> Result<T, Error> { if first { Ok(T::ONE) } else { to_t(name, m.at(t)) } };
        let (eta_x, eta_y, eta_v) =
            (eta("eta_x", &c.eta_x)?, eta("eta_y", &c.eta_y)?, eta("eta_v", &c.eta_v)?);
        let alpha: T = to_t("step_x", c.step_x.at(t))?;
        let beta: T = to_t("step_y", c.step_y.at(t))?;
        let lam: T = to_t("step_v", c.step_v.at(t))?;
        let radius = c.v_radius;
        let b = self.core.backend;
        let zeta = problem.sample_inner(rng);
        let psi = (problem.sample_inner(rng), problem.sample_outer(rng));
        let xib = (problem.sample_inner(rng), problem.sample_outer(rng));
        let [x, y, v, xp, yp, vp, hg, hr, hf, a, a2, r, r2, u, u2, tq, tp, nx, ny, nv, nhg, nhr, nhf] =
            self.core.slots::<23, 23>(&LAYOUT);

        // Estimates at the current point, and the same samples at the previous one.
        problem.grad_g(x, y, &zeta, None, Some(a));
        linear_grad(b, problem, (x, y, v), (&psi.0, &psi.1), r, tq)?;
        hyper_grad(b, problem, (x, y, v), (&xib.0, &xib.1), u, tp)?;
        if first {
            a2.copy_from_slice(a);
            r2.copy_from_slice(r);
            u2.copy_from_slice(u);
        } else {
            problem.grad_g(xp, yp, &zeta, None, Some(a2));
            linear_grad(b, problem, (xp, yp, vp), (&psi.0, &psi.1), r2, tq)?;
            hyper_grad(b, problem, (xp, yp, vp), (&xib.0, &xib.1), u2, tp)?;
        }

        // STORM recursions and steps on copies (§9.1 form B).
        nhg.copy_from_slice(hg);
        ny.copy_from_slice(y);
        b.storm_step(nhg, ny, a, a2, eta_y, beta)?;
        nhr.copy_from_slice(hr);
        b.storm_update(nhr, r, r2, eta_v)?;
        nv.copy_from_slice(v);
        let projection = b.step_project(nv, nhr, lam, radius).map_err(diverged_on_nonfinite("v", t))?;
        nhf.copy_from_slice(hf);
        nx.copy_from_slice(x);
        b.storm_step(nhf, nx, u, u2, eta_x, alpha)?;
        check_finite("y", ny, t)?;
        check_finite("v", nv, t)?;
        check_finite("x", nx, t)?;

        // Commit: previous ← current ← next.
        for (prev, cur, next) in [(xp, &mut *x, &*nx), (yp, &mut *y, &*ny), (vp, &mut *v, &*nv)] {
            prev.copy_from_slice(cur);
            cur.copy_from_slice(next);
        }
        hg.copy_from_slice(nhg);
        hr.copy_from_slice(nhr);
        hf.copy_from_slice(nhf);
        self.core.t = t + 1;
        Ok(StepReport {
            iteration: t,
            step_x: alpha,
            step_y: beta,
            step_v: lam,
            eta: eta_x,
            penalty: T::ZERO,
            projection,
        })
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> Fmbo<T, alloc::vec::Vec<T>> {
    /// A solver owning a `Vec` workspace (allocated once, here).
    ///
    /// ```
    /// use bilevel::solvers::{Fmbo, FmboConfig};
    /// let s = Fmbo::new_owned(FmboConfig::<f64>::new(1.0), &[1.0], &[0.0; 4])?;
    /// assert_eq!(s.y().len(), 4);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: FmboConfig<T>, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        let n = workspace_len(x0.len(), y0.len());
        if n == usize::MAX {
            return Err(Error::InvalidParameter {
                name: "x0",
                requirement: "dimensions whose workspace fits in usize",
            });
        }
        Fmbo::new(config, alloc::vec![T::ZERO; n], x0, y0)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, P: SecondOrder<T>> Solver<T, P> for Fmbo<T, S> {
    fn step<R: Rng + ?Sized>(&mut self, problem: &P, rng: &mut R) -> Result<StepReport<T>, Error> {
        Fmbo::step(self, problem, rng)
    }
    fn x(&self) -> &[T] {
        Fmbo::x(self)
    }
    fn y(&self) -> &[T] {
        Fmbo::y(self)
    }
    fn iteration(&self) -> u64 {
        Fmbo::iteration(self)
    }
}
