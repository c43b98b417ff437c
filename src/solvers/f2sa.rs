//! F2SA, the Fully First-order Stochastic Approximation (ALGORITHMS.md §4):
//! gradient descent on the penalty `L_λ(x, y) = f + λ(g − g*)` with two inner
//! sequences, `y → y*_λ(x)` and `z → y*(x)`, and first-order oracles only.
//!
//! Outer iteration `k` (the `x`-step uses the fresh `y`, `z`; §0 "Update
//! order"), every gradient on its own fresh sample:
//!
//! ```text
//! repeat T times (x_k frozen):
//!     z ← z − γ_k Gy(x_k, z; ζ^z)
//!     y ← y − α_k (Fy(x_k, y; ξ^y) + λ_k Gy(x_k, y; ζ^y))
//! G_k = Fx(x_k, y; ξ^x) + λ_k (Gx(x_k, y; ζ^x) − Gx(x_k, z; ζ'^x))
//! x_{k+1} = x_k − s_k G_k ;   λ_{k+1} = next(λ_k)
//! ```
//!
//! With `scale_y_by_penalty` (the default, "Decisions") the `y`-step is
//! `α_k = step_y(k) / λ_k`, so `α_k λ_k = step_y(k)` stays bounded as `λ`
//! grows; [`F2saConfig::benchopt`] is benchopt's unscaled preset. The
//! theory's `x`-step `ν α_k` is `step_x` here.
//!
//! - Oracle calls per outer iteration: `2T + 2` `grad_g`, `T + 1` `grad_f`.
//! - Memory: `workspace_len(p, q) = 4p + 6q` (state `p + 2q`, plus `λ`).
//! - Complexity (§4): `O(ε^(−7/2))` iterations with both levels noisy.
//! - The distance of `∇L*_λ` to `∇Φ` is `O(1/λ)`; on the §10.1 quadratic it is
//!   at most `‖B‖ ‖y* − b‖ / (λ μ_g²)`.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::{Penalty, Step};
//! use bilevel::solvers::{F2sa, F2saConfig, Iterates, f2sa};
//!
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let cfg = F2saConfig {
//!     step_x: Step::Constant(1.0), step_y: Step::Constant(0.4), step_z: Step::Constant(0.4),
//!     penalty: Penalty::Constant(10.0), ..Default::default()
//! };
//! let mut s = F2sa::new(cfg, [0.0; f2sa::workspace_len(1, 1)], &[0.0], &[0.0])?;
//! let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
//! # use rand_xoshiro::rand_core::SeedableRng;
//! for _ in 0..500 { s.step(&pb, &mut rng)?; }
//! // The zero of ∇L*_10(x) = 0.1x + (x/2 − 1)/2.1 (§10.1, λ = 10).
//! let x_lambda = 1.0 / (0.1 + 0.5 / 2.1) / 2.1;
//! assert!((s.x()[0] - x_lambda).abs() < 1e-9);
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::checkpoint::impl_checkpoint;
use super::config::F2saConfig;
use super::shared::{
    Core, PenaltySteps, candidate, check_bounded, commit, diverged_on_nonfinite, penalty_start, workspace,
};
use super::{StepReport, impl_solver};
use crate::Float;
use crate::error::Error;
use crate::oracles::FirstOrder;

workspace! {
    /// F2SA's workspace (§4): the state `x, y, z`, the `y`-direction, a
    /// gradient, the `x`-direction and its scratch, and the candidates.
    struct Workspace(p, q) {
        state { z: q }
        scratch { d_y: q, g_q: q, d_x: p, g_p: p, next_x: p, next_y: q, next_z: q }
    }
}

/// Length of the buffer an [`F2sa`] needs: `4p + 6q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::f2sa::workspace_len(3, 5), 4 * 3 + 6 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    Workspace::<f64>::len(p, q)
}

/// The F2SA solver on storage `S` (see the [module docs](self)).
///
/// ```
/// use bilevel::solvers::{PenaltyMethod, F2sa, F2saConfig, Iterates, f2sa};
/// let s = F2sa::new(F2saConfig::default(), [0.0f64; f2sa::workspace_len(1, 1)], &[1.0], &[2.0])?;
/// assert_eq!((s.y(), s.z(), s.penalty()), (&[2.0][..], &[2.0][..], 10.0));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct F2sa<T, S> {
    config: F2saConfig,
    core: Core<T, S>,
    lambda: f64,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> F2sa<T, S> {
    /// A solver starting at `x0`, `y0`, `z_0 = y0` (benchopt), `λ_0`, on
    /// `storage` of length [`workspace_len`]`(x0.len(), y0.len())`.
    ///
    /// Errors: [`F2saConfig::validate`]'s; [`Error::Empty`];
    /// [`Error::LengthMismatch`] for `storage`; [`Error::NonFinite`].
    ///
    /// ```
    /// use bilevel::{Error, solvers::{F2sa, F2saConfig}};
    /// let e = F2sa::new(F2saConfig::default(), [0.0f64; 3], &[0.0], &[0.0]).unwrap_err();
    /// assert!(matches!(e, Error::LengthMismatch { what: "storage", .. }));
    /// ```
    pub fn new(config: F2saConfig, storage: S, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        config.validate()?;
        let (core, lambda) =
            penalty_start(storage, (workspace_len, Workspace::<T>::state_len), (x0, y0), &config.penalty)?;
        Ok(F2sa { config, core, lambda })
    }

    /// The configuration.
    ///
    /// ```
    /// # use bilevel::solvers::{F2sa, F2saConfig};
    /// let s = F2sa::<f64, _>::new_owned(F2saConfig::default(), &[0.0], &[0.0])?;
    /// assert_eq!(s.config().inner_steps, 10);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &F2saConfig {
        &self.config
    }

    /// One F2SA iteration (§4; see the [module docs](self)): `T` inner steps
    /// on `y` and `z` with `x_k` frozen, then the `x`-step. Samples drawn per
    /// inner step: `ζ_z`, `ξ_y`, `ζ_y`; then `ξ_x`, `ζ_x` (and `ζ'_x` when the
    /// cross sample is not shared).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ;
    /// [`Error::Diverged`] (`"z"`, `"y"` or `"x"`) with the previous state and
    /// `λ` kept.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{F2sa, F2saConfig};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = F2sa::new_owned(F2saConfig::default(), &[1.0], &[0.5])?;
    /// let r = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!(r.penalty, 10.0);
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
        let st: PenaltySteps<T> = PenaltySteps::at(
            k,
            self.lambda,
            [&c.step_x, &c.step_y, &c.step_z],
            &c.penalty,
            c.scale_y_by_penalty,
        )?;
        let (lam, b, limit) = (st.lambda, self.core.backend, self.core.limit);
        let (p, q) = (self.core.p, self.core.q);
        let w = Workspace::split(self.core.buffer(), p, q);

        // Inner loop on copies of y and z, x_k frozen.
        w.next_y.copy_from_slice(w.y);
        w.next_z.copy_from_slice(w.z);
        for _ in 0..c.inner_steps {
            let zeta_z = problem.sample_inner(rng);
            problem.grad_g(w.x, w.next_z, &zeta_z, None, Some(w.g_q));
            b.axpy(-st.step_z, w.g_q, w.next_z).map_err(diverged_on_nonfinite("z", k))?;
            let xi_y = problem.sample_outer(rng);
            let zeta_y = problem.sample_inner(rng);
            problem.grad_f(w.x, w.next_y, &xi_y, None, Some(w.d_y));
            problem.grad_g(w.x, w.next_y, &zeta_y, None, Some(w.g_q));
            b.axpy(lam, w.g_q, w.d_y).map_err(diverged_on_nonfinite("y", k))?;
            b.axpy(-st.step_y, w.d_y, w.next_y).map_err(diverged_on_nonfinite("y", k))?;
            check_bounded("z", w.next_z, k, limit)?;
            check_bounded("y", w.next_y, k, limit)?;
        }

        // G_k = ∇_x f(y) + λ(∇_x g(y) − ∇_x g(z)) at the fresh (y, z), then the x-step.
        let (xi_x, zeta_x) = (problem.sample_outer(rng), problem.sample_inner(rng));
        let zeta_x2 = if c.shared_cross_sample { zeta_x } else { problem.sample_inner(rng) };
        problem.grad_f(w.x, w.next_y, &xi_x, Some(w.d_x), None);
        problem.grad_g(w.x, w.next_y, &zeta_x, Some(w.g_p), None);
        b.axpy(lam, w.g_p, w.d_x).map_err(diverged_on_nonfinite("x", k))?;
        problem.grad_g(w.x, w.next_z, &zeta_x2, Some(w.g_p), None);
        b.axpy(-lam, w.g_p, w.d_x).map_err(diverged_on_nonfinite("x", k))?;
        candidate((b, limit), "x", k, (w.x, -st.step_x, w.d_x), w.next_x)?;

        commit([(w.x, &*w.next_x), (w.y, &*w.next_y), (w.z, &*w.next_z)]);
        self.core.t = k + 1;
        self.lambda = st.next_lambda;
        Ok(st.report(k, T::ONE))
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> F2sa<T, alloc::vec::Vec<T>> {
    /// A solver owning a `Vec` workspace (allocated once, here).
    ///
    /// ```
    /// use bilevel::solvers::{F2sa, F2saConfig, Iterates};
    /// let s = F2sa::<f32, _>::new_owned(F2saConfig::default(), &[1.0], &[0.0; 3])?;
    /// assert_eq!(s.y().len(), 3);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: F2saConfig, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        F2sa::new(config, super::shared::owned(workspace_len(x0.len(), y0.len()))?, x0, y0)
    }
}

impl_solver!(penalty: F2sa<T, S> where [], FirstOrder<T>);
impl_checkpoint!(F2sa<T, S> where [], tables: none, penalty: lambda);
