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
//! use bilevel::solvers::{LinearSystem, Fmbo, FmboConfig, Iterates, fmbo};
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

use super::checkpoint::impl_checkpoint;
use super::config::FmboConfig;
use super::shared::{Core, check_bounded, commit, diverged_on_nonfinite, radius_t, shift, to_t, workspace};
use super::{StepReport, impl_solver};
use crate::error::Error;
use crate::oracles::SecondOrder;
use crate::schedule::{Momentum, Schedule};
use crate::{Backend, Float};

workspace! {
    /// FMBO's workspace (§7): the iterates, the previous point, the three
    /// STORM estimates; the fresh and previous-point samples of each
    /// estimator and the candidates.
    struct Workspace(p, q) {
        state { v: q, prev_x: p, prev_y: q, prev_v: q, h_y: q, h_v: q, h_x: p }
        scratch {
            g_y: q, g_y_prev: q, r: q, r_prev: q, u: p, u_prev: p, tmp_q: q, tmp_p: p,
            next_x: p, next_y: q, next_v: q, next_h_y: q, next_h_v: q, next_h_x: p,
        }
    }
}

/// Length of the buffer an [`Fmbo`] needs: `8p + 15q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::fmbo::workspace_len(3, 5), 8 * 3 + 15 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    Workspace::<f64>::len(p, q)
}

/// The FMBO solver on storage `S` (see the [module docs](self)).
///
/// ```
/// use bilevel::solvers::{LinearSystem, Fmbo, FmboConfig, Iterates, fmbo};
/// let s = Fmbo::new(FmboConfig::new(1.0), [0.0f64; fmbo::workspace_len(1, 2)], &[1.0], &[0.0, 0.0])?;
/// assert_eq!((s.x(), s.v()), (&[1.0][..], &[0.0, 0.0][..]));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Fmbo<T, S> {
    config: FmboConfig,
    core: Core<T, S>,
}

/// `r ← HVP(x,y,v;s_g) − Fy(x,y;s_f)` (§7 eq 5); `tmp` is scratch.
#[inline]
fn linear_grad<T: Float, P: SecondOrder<T>>(
    b: Backend,
    pb: &P,
    (x, y, v): (&[T], &[T], &[T]),
    (sg, sf): (&P::Sample, &P::Sample),
    r: &mut [T],
    tmp: &mut [T],
) -> Result<(), Error> {
    pb.hvp_jvp_g(x, y, v, sg, Some(r), None);
    pb.grad_f(x, y, sf, None, Some(tmp));
    b.axpy(-T::ONE, tmp, r)
}

/// `u ← Fx(x,y;s_f) − JVP(x,y,v;s_g)` (§7 eq 3); `tmp` is scratch.
#[inline]
fn hyper_grad<T: Float, P: SecondOrder<T>>(
    b: Backend,
    pb: &P,
    (x, y, v): (&[T], &[T], &[T]),
    (sg, sf): (&P::Sample, &P::Sample),
    u: &mut [T],
    tmp: &mut [T],
) -> Result<(), Error> {
    pb.grad_f(x, y, sf, Some(u), None);
    pb.hvp_jvp_g(x, y, v, sg, None, Some(tmp));
    b.axpy(-T::ONE, tmp, u)
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> Fmbo<T, S> {
    /// A solver starting at `x0`, `y0`, `v_0 = 0` (inside every ball), on
    /// `storage` of length [`workspace_len`]`(x0.len(), y0.len())`.
    ///
    /// Errors: [`FmboConfig::validate`]'s; [`Error::Empty`];
    /// [`Error::LengthMismatch`] for `storage`; [`Error::NonFinite`].
    ///
    /// ```
    /// use bilevel::{Error, solvers::{Fmbo, FmboConfig, fmbo}};
    /// let e = Fmbo::new(FmboConfig::new(-1.0), [0.0f64; fmbo::workspace_len(1, 1)], &[0.0], &[0.0]).unwrap_err();
    /// assert!(matches!(e, Error::InvalidParameter { name: "v_radius", .. }));
    /// ```
    pub fn new(config: FmboConfig, storage: S, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        config.validate()?;
        Ok(Fmbo { config, core: Core::new(storage, (workspace_len, Workspace::<T>::state_len), x0, y0)? })
    }

    /// The configuration.
    ///
    /// ```
    /// # use bilevel::solvers::{Fmbo, FmboConfig, fmbo};
    /// let s = Fmbo::new(FmboConfig::new(3.0), [0.0f64; fmbo::workspace_len(1, 1)], &[0.0], &[0.0])?;
    /// assert_eq!(s.config().v_radius, 3.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &FmboConfig {
        &self.config
    }

    /// One FMBO iteration (§7; see the [module docs](self)). Samples drawn,
    /// in order: `ζ` (for `Gy`), `ψ = (ψ_g, ψ_f)`, `ξ̄ = (ξ̄_g, ξ̄_f)`.
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ;
    /// [`Error::Diverged`] (`"y"`, `"v"` or `"x"`) with the previous state and
    /// momentum buffers kept.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{Fmbo, FmboConfig};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = Fmbo::new_owned(FmboConfig::new(10.0), &[1.0], &[0.5])?;
    /// let r = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!(r.eta, 1.0); // η_0 = 1: the first estimates are plain samples
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
        let radius = radius_t(c.v_radius);
        let b = self.core.backend;
        let zeta = problem.sample_inner(rng);
        let psi = (problem.sample_inner(rng), problem.sample_outer(rng));
        let xib = (problem.sample_inner(rng), problem.sample_outer(rng));
        let (p, q) = (self.core.p, self.core.q);
        let limit = self.core.limit;
        let w = Workspace::split(self.core.buffer(), p, q);

        // Estimates at the current point, and the same samples at the previous one.
        problem.grad_g(w.x, w.y, &zeta, None, Some(w.g_y));
        linear_grad(b, problem, (w.x, w.y, w.v), (&psi.0, &psi.1), w.r, w.tmp_q)?;
        hyper_grad(b, problem, (w.x, w.y, w.v), (&xib.0, &xib.1), w.u, w.tmp_p)?;
        if first {
            w.g_y_prev.copy_from_slice(w.g_y);
            w.r_prev.copy_from_slice(w.r);
            w.u_prev.copy_from_slice(w.u);
        } else {
            let prev = (&*w.prev_x, &*w.prev_y, &*w.prev_v);
            problem.grad_g(prev.0, prev.1, &zeta, None, Some(w.g_y_prev));
            linear_grad(b, problem, prev, (&psi.0, &psi.1), w.r_prev, w.tmp_q)?;
            hyper_grad(b, problem, prev, (&xib.0, &xib.1), w.u_prev, w.tmp_p)?;
        }

        // STORM recursions and steps on copies (§9.1 form B).
        w.next_h_y.copy_from_slice(w.h_y);
        w.next_y.copy_from_slice(w.y);
        b.storm_step(w.next_h_y, w.next_y, w.g_y, w.g_y_prev, eta_y, beta)?;
        w.next_h_v.copy_from_slice(w.h_v);
        b.storm_update(w.next_h_v, w.r, w.r_prev, eta_v)?;
        w.next_v.copy_from_slice(w.v);
        let projection =
            b.step_project(w.next_v, w.next_h_v, lam, radius).map_err(diverged_on_nonfinite("v", t))?;
        w.next_h_x.copy_from_slice(w.h_x);
        w.next_x.copy_from_slice(w.x);
        b.storm_step(w.next_h_x, w.next_x, w.u, w.u_prev, eta_x, alpha)?;
        check_bounded("y", w.next_y, t, limit)?;
        check_bounded("v", w.next_v, t, limit)?;
        check_bounded("x", w.next_x, t, limit)?;

        shift([(w.prev_x, w.x, &*w.next_x), (w.prev_y, w.y, &*w.next_y), (w.prev_v, w.v, &*w.next_v)]);
        commit([(w.h_y, &*w.next_h_y), (w.h_v, &*w.next_h_v), (w.h_x, &*w.next_h_x)]);
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
    /// use bilevel::solvers::{Fmbo, FmboConfig, Iterates};
    /// let s = Fmbo::<f64, _>::new_owned(FmboConfig::new(1.0), &[1.0], &[0.0; 4])?;
    /// assert_eq!(s.y().len(), 4);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: FmboConfig, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        Fmbo::new(config, super::shared::owned(workspace_len(x0.len(), y0.len()))?, x0, y0)
    }
}

impl_solver!(v: Fmbo<T, S> where [], SecondOrder<T>);
impl_checkpoint!(Fmbo<T, S> where [], tables: none, penalty: none);
