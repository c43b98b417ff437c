//! F3SA, momentum-assisted F2SA (ALGORITHMS.md §5): a single loop (one `z`,
//! one `y` and one `x` step per iteration) in which all six first-order
//! estimates are STORM recursions (§9.1 form B) with a common weight `η_k`,
//! each evaluating one fresh sample at the current and the previous point.
//!
//! ```text
//! h_z   ← Gy(x_k, z_k; ζ_z)      + (1−η)(h_z   − Gy(x_{k−1}, z_{k−1}; ζ_z))
//! h_fy  ← Fy(x_k, y_k; ξ_y)      + (1−η)(h_fy  − Fy(x_{k−1}, y_{k−1}; ξ_y))
//! h_gy  ← Gy(x_k, y_k; ζ_y)      + (1−η)(h_gy  − Gy(x_{k−1}, y_{k−1}; ζ_y))
//! z_{k+1} = z_k − γ_k h_z ;   y_{k+1} = y_k − α_k (h_fy + λ_k h_gy)
//! h_fx  ← Fx(x_k, y_{k+1}; ξ_x)  + (1−η)(h_fx  − Fx(x_{k−1}, y_k; ξ_x))
//! h_gxy ← Gx(x_k, y_{k+1}; ζ_x)  + (1−η)(h_gxy − Gx(x_{k−1}, y_k; ζ_x))
//! h_gxz ← Gx(x_k, z_{k+1}; ζ'_x) + (1−η)(h_gxz − Gx(x_{k−1}, z_k; ζ'_x))
//! x_{k+1} = x_k − s_k (h_fx + λ_k (h_gxy − h_gxz)) ;   λ_{k+1} = next(λ_k)
//! ```
//!
//! The three `x`-estimators, their evaluation points (the fresh `y`, `z`, as
//! in F2SA), the schedules and `η_0 = 1` at `k = 0` are (not verified) in
//! §5; the crate follows §5 as written. As in [`F2sa`](super::F2sa), the
//! `y`-step is `step_y(k)/λ_k` by default (`scale_y_by_penalty`).
//!
//! - Oracle calls per iteration (`k ≥ 1`): 12 first-order calls (8 `grad_g`,
//!   4 `grad_f`); 6 at `k = 0`.
//! - Memory: `workspace_len(p, q) = 11p + 14q` (state `5p + 7q`, plus `λ`).
//! - Complexity (§5): `ε^(−5/2)` with both levels noisy.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::{Momentum, Penalty, Step};
//! use bilevel::solvers::{F3sa, F3saConfig, Iterates, f3sa};
//!
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let cfg = F3saConfig {
//!     step_x: Step::Constant(0.5), step_y: Step::Constant(0.3), step_z: Step::Constant(0.3),
//!     penalty: Penalty::Constant(10.0), eta: Momentum::Constant(1.0), ..Default::default()
//! };
//! let mut s = F3sa::new(cfg, [0.0; f3sa::workspace_len(1, 1)], &[0.0], &[0.0])?;
//! let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
//! # use rand_xoshiro::rand_core::SeedableRng;
//! for _ in 0..3000 { s.step(&pb, &mut rng)?; }
//! let x_lambda = 1.0 / (0.1 + 0.5 / 2.1) / 2.1; // zero of ∇L*_10 (§10.1)
//! assert!((s.x()[0] - x_lambda).abs() < 1e-9);
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::checkpoint::impl_checkpoint;
use super::config::F3saConfig;
use super::shared::{
    Core, PenaltySteps, candidate, check_bounded, commit, diverged_on_nonfinite, penalty_start, shift, to_t,
    workspace,
};
use super::{StepReport, impl_solver};
use crate::error::Error;
use crate::oracles::FirstOrder;
use crate::schedule::Schedule;
use crate::{Backend, Float};

workspace! {
    /// F3SA's workspace (§5): the iterates and the previous point, the six
    /// STORM estimates `h_*`; a fresh and a previous-point sample per
    /// dimension, and the candidates.
    struct Workspace(p, q) {
        state {
            z: q, prev_x: p, prev_y: q, prev_z: q,
            h_z: q, h_fy: q, h_gy: q, h_fx: p, h_gxy: p, h_gxz: p,
        }
        scratch {
            g_q: q, g_q_prev: q, g_p: p, g_p_prev: p, next_x: p, next_y: q, next_z: q,
            next_h_z: q, next_h_fy: q, next_h_gy: q, next_h_fx: p, next_h_gxy: p, next_h_gxz: p,
        }
    }
}

/// Length of the buffer an [`F3sa`] needs: `11p + 14q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::f3sa::workspace_len(3, 5), 11 * 3 + 14 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    Workspace::<f64>::len(p, q)
}

/// One STORM estimate (§9.1 form B): `next_h ← g + (1−η)(h − g_prev)`, with
/// `g` the fresh sample at the current point and `g_prev` the same sample at
/// the previous point (`eval_prev`; equal to `g` at `k = 0`, where `η = 1`).
#[inline]
fn storm<T: Float>(
    b: Backend,
    eta: T,
    (h, next_h): (&[T], &mut [T]),
    (g, g_prev): (&[T], &mut [T]),
    eval_prev: Option<impl FnOnce(&mut [T])>,
) -> Result<(), Error> {
    match eval_prev {
        Some(eval) => eval(g_prev),
        None => g_prev.copy_from_slice(g),
    }
    next_h.copy_from_slice(h);
    b.storm_update(next_h, g, g_prev, eta)
}

/// The F3SA solver on storage `S` (see the [module docs](self)).
///
/// ```
/// use bilevel::solvers::{PenaltyMethod, F3sa, F3saConfig, Iterates, f3sa};
/// let s = F3sa::new(F3saConfig::default(), [0.0f64; f3sa::workspace_len(1, 1)], &[1.0], &[2.0])?;
/// assert_eq!((s.y(), s.z(), s.penalty()), (&[2.0][..], &[2.0][..], 10.0));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct F3sa<T, S> {
    config: F3saConfig,
    core: Core<T, S>,
    lambda: f64,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> F3sa<T, S> {
    /// A solver starting at `x0`, `y0`, `z_0 = y0`, `λ_0`, zero momentum
    /// buffers, on `storage` of length [`workspace_len`]`(x0.len(), y0.len())`.
    ///
    /// Errors: [`F3saConfig::validate`]'s; [`Error::Empty`];
    /// [`Error::LengthMismatch`] for `storage`; [`Error::NonFinite`].
    ///
    /// ```
    /// use bilevel::{Error, solvers::{F3sa, F3saConfig, f3sa}};
    /// let e = F3sa::new(F3saConfig::default(), [0.0f64; f3sa::workspace_len(1, 1)], &[f64::NAN], &[0.0]).unwrap_err();
    /// assert_eq!(e, Error::NonFinite { what: "initial point" });
    /// ```
    pub fn new(config: F3saConfig, storage: S, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        config.validate()?;
        let (core, lambda) =
            penalty_start(storage, (workspace_len, Workspace::<T>::state_len), (x0, y0), &config.penalty)?;
        Ok(F3sa { config, core, lambda })
    }

    /// The configuration.
    ///
    /// ```
    /// # use bilevel::solvers::{F3sa, F3saConfig};
    /// let s = F3sa::<f64, _>::new_owned(F3saConfig::default(), &[0.0], &[0.0])?;
    /// assert!(s.config().scale_y_by_penalty);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &F3saConfig {
        &self.config
    }

    /// One F3SA iteration (§5; see the [module docs](self)). Samples drawn,
    /// in order: `ζ_z`, `ξ_y`, `ζ_y`, `ξ_x`, `ζ_x`, `ζ'_x`.
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ;
    /// [`Error::Diverged`] (`"z"`, `"y"` or `"x"`) with the previous state,
    /// momentum buffers and `λ` kept.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{F3sa, F3saConfig};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = F3sa::new_owned(F3saConfig::default(), &[1.0], &[0.5])?;
    /// let r = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!((r.eta, r.penalty), (1.0, 10.0));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn step<P: FirstOrder<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let k = self.core.t;
        let c = &self.config;
        let first = k == 0;
        let eta: T = if first { T::ONE } else { to_t("eta", c.eta.at(k))? };
        let st: PenaltySteps<T> = PenaltySteps::at(
            k,
            self.lambda,
            [&c.step_x, &c.step_y, &c.step_z],
            &c.penalty,
            c.scale_y_by_penalty,
        )?;
        let (lam, b, limit) = (st.lambda, self.core.backend, self.core.limit);
        let zeta_z = problem.sample_inner(rng);
        let xi_y = problem.sample_outer(rng);
        let zeta_y = problem.sample_inner(rng);
        let xi_x = problem.sample_outer(rng);
        let zeta_x = problem.sample_inner(rng);
        let zeta_x2 = if c.shared_cross_sample { zeta_x } else { problem.sample_inner(rng) };
        let (p, q) = (self.core.p, self.core.q);
        let w = Workspace::split(self.core.buffer(), p, q);
        let (x, y, z) = (&*w.x, &*w.y, &*w.z);
        let (xp, yp, zp) = (&*w.prev_x, &*w.prev_y, &*w.prev_z);
        let later = !first;

        // y/z estimators: the same sample at (x_k, ·_k) and (x_{k−1}, ·_{k−1}).
        problem.grad_g(x, z, &zeta_z, None, Some(w.g_q));
        let eval = later.then_some(|o: &mut [T]| problem.grad_g(xp, zp, &zeta_z, None, Some(o)));
        storm(b, eta, (w.h_z, w.next_h_z), (w.g_q, w.g_q_prev), eval)?;
        problem.grad_f(x, y, &xi_y, None, Some(w.g_q));
        let eval = later.then_some(|o: &mut [T]| problem.grad_f(xp, yp, &xi_y, None, Some(o)));
        storm(b, eta, (w.h_fy, w.next_h_fy), (w.g_q, w.g_q_prev), eval)?;
        problem.grad_g(x, y, &zeta_y, None, Some(w.g_q));
        let eval = later.then_some(|o: &mut [T]| problem.grad_g(xp, yp, &zeta_y, None, Some(o)));
        storm(b, eta, (w.h_gy, w.next_h_gy), (w.g_q, w.g_q_prev), eval)?;

        // z ← z − γ h_z ;  y ← y − α (h_fy + λ h_gy).
        candidate((b, limit), "z", k, (z, -st.step_z, w.next_h_z), w.next_z)?;
        candidate((b, limit), "y", k, (y, -st.step_y, w.next_h_fy), w.next_y)?;
        b.axpy(-st.step_y * lam, w.next_h_gy, w.next_y).map_err(diverged_on_nonfinite("y", k))?;
        check_bounded("y", w.next_y, k, limit)?;

        // x estimators at (x_k, ·_{k+1}) and (x_{k−1}, ·_k).
        let (ny, nz) = (&*w.next_y, &*w.next_z);
        problem.grad_f(x, ny, &xi_x, Some(w.g_p), None);
        let eval = later.then_some(|o: &mut [T]| problem.grad_f(xp, y, &xi_x, Some(o), None));
        storm(b, eta, (w.h_fx, w.next_h_fx), (w.g_p, w.g_p_prev), eval)?;
        problem.grad_g(x, ny, &zeta_x, Some(w.g_p), None);
        let eval = later.then_some(|o: &mut [T]| problem.grad_g(xp, y, &zeta_x, Some(o), None));
        storm(b, eta, (w.h_gxy, w.next_h_gxy), (w.g_p, w.g_p_prev), eval)?;
        problem.grad_g(x, nz, &zeta_x2, Some(w.g_p), None);
        let eval = later.then_some(|o: &mut [T]| problem.grad_g(xp, z, &zeta_x2, Some(o), None));
        storm(b, eta, (w.h_gxz, w.next_h_gxz), (w.g_p, w.g_p_prev), eval)?;

        // x ← x − s (h_fx + λ (h_gxy − h_gxz)).
        candidate((b, limit), "x", k, (x, -st.step_x, w.next_h_fx), w.next_x)?;
        let sl = st.step_x * lam;
        b.axpy(-sl, w.next_h_gxy, w.next_x).map_err(diverged_on_nonfinite("x", k))?;
        b.axpy(sl, w.next_h_gxz, w.next_x).map_err(diverged_on_nonfinite("x", k))?;
        check_bounded("x", w.next_x, k, limit)?;

        shift([(w.prev_x, w.x, &*w.next_x), (w.prev_y, w.y, &*w.next_y), (w.prev_z, w.z, &*w.next_z)]);
        commit([
            (w.h_z, &*w.next_h_z),
            (w.h_fy, &*w.next_h_fy),
            (w.h_gy, &*w.next_h_gy),
            (w.h_fx, &*w.next_h_fx),
            (w.h_gxy, &*w.next_h_gxy),
            (w.h_gxz, &*w.next_h_gxz),
        ]);
        self.core.t = k + 1;
        self.lambda = st.next_lambda;
        Ok(st.report(k, eta))
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> F3sa<T, alloc::vec::Vec<T>> {
    /// A solver owning a `Vec` workspace (allocated once, here).
    ///
    /// ```
    /// use bilevel::solvers::{PenaltyMethod, F3sa, F3saConfig};
    /// let s = F3sa::<f32, _>::new_owned(F3saConfig::default(), &[1.0], &[0.0; 3])?;
    /// assert_eq!(s.z().len(), 3);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: F3saConfig, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        F3sa::new(config, super::shared::owned(workspace_len(x0.len(), y0.len()))?, x0, y0)
    }
}

impl_solver!(penalty: F3sa<T, S> where [], FirstOrder<T>);
impl_checkpoint!(F3sa<T, S> where [], tables: none, penalty: lambda);
