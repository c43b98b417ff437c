//! SOBA, the StOchastic Bilevel Algorithm (ALGORITHMS.md §2), SOBA sign
//! convention (`v ≈ −H⁻¹∇_y f`, §0).
//!
//! Iteration `t`, every direction at `(x_t, y_t, v_t)` (Jacobi order), one
//! inner sample `ζ` for `Gy`, HVP, JVP and one outer sample `ξ` for `Fy`, `Fx`:
//!
//! ```text
//! D_y = Gy(x,y;ζ)    D_v = HVP(x,y,v;ζ) + Fy(x,y;ξ)    D_x = JVP(x,y,v;ζ) + Fx(x,y;ξ)
//! y ← y − ρ_t D_y    v ← Π_{r_v}(v − ρ_t D_v)          x ← x − γ_t D_x
//! ```
//!
//! The projection of `v` onto `‖v‖ ≤ r_v` is §2's optional safeguard (§9.2);
//! the default `r_v = +∞` is plain SOBA.
//!
//! - Oracle calls per iteration: 1 [`inner_eval`](crate::oracles::SecondOrder::inner_eval)
//!   (`∇_y g`, `H v`, `J v` on the same `ζ`, one pass), 1 `grad_f` (both
//!   gradients, same `ξ`). `∇_x g` is never requested.
//! - Memory: `workspace_len(p, q) = 4p + 7q` (state `p + 2q`, directions,
//!   next iterate); time `O(p + q)` per iteration plus the oracles.
//! - Complexity (§2): `Õ(ε^(−2))` samples with `ρ_t, γ_t ∝ t^(−1/2)`.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::Step;
//! use bilevel::solvers::{LinearSystem, Iterates, Soba, SobaConfig, soba};
//! use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
//!
//! // §10.1 scalar problem: A = 2, B = 1, b = 1, ρ = 0.1, x* = 1/0.7.
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let cfg = SobaConfig { step_y: Step::Constant(0.4), step_x: Step::Constant(1.0), ..Default::default() };
//! let mut buf = [0.0f64; soba::workspace_len(1, 1)];
//! let mut s = Soba::new(cfg, buf, &[0.0], &[0.0])?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
//! for _ in 0..2000 { s.step(&pb, &mut rng)?; }
//! assert!((s.x()[0] - 1.0 / 0.7).abs() < 1e-9);
//! assert!((s.v()[0] + (s.y()[0] - 1.0) / 2.0).abs() < 1e-9); // v*_S = −A⁻¹(y* − b)
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::checkpoint::impl_checkpoint;
use super::config::SobaConfig;
use super::shared::{Core, SobaStep, radius_t, to_t, workspace};
use super::{StepReport, impl_solver};
use crate::Float;
use crate::error::Error;
use crate::oracles::{InnerEval, SecondOrder};
use crate::schedule::Schedule;

workspace! {
    /// SOBA's workspace (§2): the state `x, y, v`, the three directions, the
    /// outer `y`-gradient and the candidate iterate.
    struct Workspace(p, q) {
        state { v: q }
        scratch { d_y: q, d_v: q, d_x: p, f_y: q, f_x: p, next_x: p, next_y: q, next_v: q }
    }
}

/// Length of the buffer a [`Soba`] with `x ∈ R^p`, `y ∈ R^q` needs:
/// `4p + 7q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::soba::workspace_len(3, 5), 4 * 3 + 7 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    Workspace::<f64>::len(p, q)
}

/// The SOBA solver on storage `S` (see the [module docs](self)). Its
/// iterates are read through [`Iterates`](super::Iterates).
///
/// ```
/// use bilevel::solvers::{LinearSystem, Iterates, Soba, SobaConfig, soba};
/// let mut buf = vec![0.0f32; soba::workspace_len(2, 3)];
/// let s = Soba::new(SobaConfig::default(), &mut buf[..], &[1.0, 2.0], &[0.0; 3])?;
/// assert_eq!((s.x(), s.v(), s.iteration()), (&[1.0f32, 2.0][..], &[0.0f32; 3][..], 0));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Soba<T, S> {
    config: SobaConfig,
    core: Core<T, S>,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> Soba<T, S> {
    /// A solver starting at `x0`, `y0`, `v_0 = 0`, on `storage` of length
    /// [`workspace_len`]`(x0.len(), y0.len())` (it is overwritten).
    ///
    /// Errors: the config's [`SobaConfig::validate`] errors;
    /// [`Error::Empty`] for an empty `x0` or `y0`;
    /// [`Error::LengthMismatch`] for `storage`; [`Error::NonFinite`] for a
    /// non-finite initial point.
    ///
    /// ```
    /// use bilevel::{Error, solvers::{Soba, SobaConfig}};
    /// let e = Soba::new(SobaConfig::default(), [0.0f64; 5], &[0.0], &[0.0]).unwrap_err();
    /// assert!(matches!(e, Error::LengthMismatch { what: "storage", expected: 11, found: 5 }));
    /// ```
    pub fn new(config: SobaConfig, storage: S, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        config.validate()?;
        Ok(Soba { config, core: Core::new(storage, (workspace_len, Workspace::<T>::state_len), x0, y0)? })
    }

    /// The configuration.
    ///
    /// ```
    /// # use bilevel::solvers::{Soba, SobaConfig};
    /// let s = Soba::new(SobaConfig::default(), [0.0; 11], &[0.0], &[0.0])?;
    /// assert_eq!(s.config().v_radius, f64::INFINITY);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &SobaConfig {
        &self.config
    }

    /// One SOBA iteration (§2; see the [module docs](self)).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ;
    /// [`Error::Diverged`] (`"y"`, `"v"` or `"x"`) if the new iterate is not
    /// finite, with the previous state kept.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{Iterates, Soba, SobaConfig};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = Soba::new(SobaConfig::default(), [0.0; 11], &[1.0], &[0.5])?;
    /// let r = s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// // y = y*(1), v = 0: D_x = Fx = ρx = 0.1, so x moves by −γ_0 · 0.1.
    /// assert!((s.x()[0] - (1.0 - r.step_x * 0.1)).abs() < 1e-16);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn step<P: SecondOrder<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let t = self.core.t;
        let rho: T = to_t("step_y", self.config.step_y.at(t))?;
        let gamma: T = to_t("step_x", self.config.step_x.at(t))?;
        let b = self.core.backend;
        let zeta = problem.sample_inner(rng);
        let xi = problem.sample_outer(rng);
        let (p, q) = (self.core.p, self.core.q);
        let limit = self.core.limit;
        let w = Workspace::split(self.core.buffer(), p, q);

        // Directions at (x_t, y_t, v_t): D_y = Gy, D_v = HVP + Fy, D_x = JVP + Fx.
        let inner = InnerEval {
            grad_y: Some(&mut *w.d_y),
            grad_x: None,
            hvp: Some(&mut *w.d_v),
            jvp: Some(&mut *w.d_x),
        };
        problem.inner_eval(w.x, w.y, w.v, &zeta, inner);
        problem.grad_f(w.x, w.y, &xi, Some(w.f_x), Some(w.f_y));
        // D_v = HVP + Fy and D_x = JVP + Fx are summed inside the candidate pass.

        let next = SobaStep { x: w.x, y: w.y, v: w.v, next_x: w.next_x, next_y: w.next_y, next_v: w.next_v };
        let projection = next.apply(
            (b, limit),
            t,
            [(w.d_x, Some(w.f_x)), (w.d_y, None), (w.d_v, Some(w.f_y))],
            (rho, gamma, radius_t(self.config.v_radius)),
        )?;
        self.core.t = t + 1;
        Ok(StepReport::soba(t, gamma, rho, projection))
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> Soba<T, alloc::vec::Vec<T>> {
    /// A solver owning a `Vec` workspace (allocated once, here).
    ///
    /// ```
    /// use bilevel::solvers::{Iterates, Soba, SobaConfig};
    /// let s = Soba::new_owned(SobaConfig::default(), &[1.0, 2.0], &[0.0])?;
    /// assert_eq!(s.x(), &[1.0, 2.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: SobaConfig, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        Soba::new(config, super::shared::owned(workspace_len(x0.len(), y0.len()))?, x0, y0)
    }
}

impl_solver!(v: Soba<T, S> where [], SecondOrder<T>);
impl_checkpoint!(Soba<T, S> where [], tables: none, penalty: none);
