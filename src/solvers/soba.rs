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
//! - Oracle calls per iteration: 1 `grad_g` (`Gy`), 1 `hvp_jvp_g` (both
//!   products, same `ζ`), 1 `grad_f` (both gradients, same `ξ`).
//! - Memory: `workspace_len(p, q) = 3p + 7q` (state `p + 2q`, directions,
//!   next iterate); time `O(p + q)` per iteration plus the oracles.
//! - Complexity (§2): `Õ(ε^(−2))` samples with `ρ_t, γ_t ∝ t^(−1/2)`.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::Step;
//! use bilevel::solvers::{Soba, SobaConfig, Solver, soba};
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

use super::{Core, Layout, Solver, StepReport, check_radius, layout_len, soba_commit, to_t};
use crate::Float;
use crate::error::Error;
use crate::oracles::SecondOrder;
use crate::schedule::{Schedule, Step};

// x, y, v | dy, dv, dx, tq | nx, ny, nv
const LAYOUT: Layout<10> = [(1, 0), (0, 1), (0, 1), (0, 1), (0, 1), (1, 0), (0, 1), (1, 0), (0, 1), (0, 1)];

/// Length of the buffer a [`Soba`] with `x ∈ R^p`, `y ∈ R^q` needs:
/// `3p + 7q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::soba::workspace_len(3, 5), 3 * 3 + 7 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    layout_len(&LAYOUT, p, q)
}

/// SOBA's parameters (§2). Defaults: benchopt's `ρ_t = γ_t = 0.1/√(t+1)`
/// ("Decisions": decreasing `c/√(t+1)` steps), no projection.
///
/// ```
/// use bilevel::schedule::{Schedule, Step};
/// let c = bilevel::solvers::SobaConfig::<f64>::default();
/// assert_eq!(c.step_y.at(3), 0.05);
/// assert_eq!(c.v_radius, f64::INFINITY);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SobaConfig<T> {
    /// `ρ_t`, the step of `y` and `v`.
    pub step_y: Step,
    /// `γ_t`, the step of `x`.
    pub step_x: Step,
    /// Radius `r_v > 0` of the optional ball projection of `v` (`+∞`: none).
    pub v_radius: T,
}

impl<T: Float> Default for SobaConfig<T> {
    fn default() -> Self {
        SobaConfig { step_y: Step::poly(0.1, 0.5), step_x: Step::poly(0.1, 0.5), v_radius: T::INFINITY_T }
    }
}

impl<T: Float> SobaConfig<T> {
    /// Checks every parameter.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative or non-finite step,
    /// or `v_radius ≤ 0` / NaN.
    ///
    /// ```
    /// use bilevel::schedule::Step;
    /// let c = bilevel::solvers::SobaConfig::<f64> { step_x: Step::Constant(-1.0), ..Default::default() };
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_y.validate("step_y")?;
        self.step_x.validate("step_x")?;
        check_radius("v_radius", self.v_radius)
    }
}

/// The SOBA solver on storage `S` (see the [module docs](self)).
///
/// ```
/// use bilevel::solvers::{Soba, SobaConfig, soba};
/// let mut buf = vec![0.0f32; soba::workspace_len(2, 3)];
/// let s = Soba::new(SobaConfig::default(), &mut buf[..], &[1.0, 2.0], &[0.0; 3])?;
/// assert_eq!((s.x(), s.v(), s.iteration()), (&[1.0f32, 2.0][..], &[0.0f32; 3][..], 0));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Soba<T, S> {
    config: SobaConfig<T>,
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
    /// assert!(matches!(e, Error::LengthMismatch { what: "storage", expected: 10, found: 5 }));
    /// ```
    pub fn new(config: SobaConfig<T>, storage: S, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        config.validate()?;
        Ok(Soba { config, core: Core::new(&LAYOUT, storage, x0, y0)? })
    }

    /// The configuration.
    ///
    /// ```
    /// # use bilevel::solvers::{Soba, SobaConfig};
    /// let s = Soba::new(SobaConfig::<f64>::default(), [0.0; 10], &[0.0], &[0.0])?;
    /// assert_eq!(s.config().v_radius, f64::INFINITY);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &SobaConfig<T> {
        &self.config
    }

    /// Outer iterate `x_t`.
    ///
    /// ```
    /// # use bilevel::solvers::{Soba, SobaConfig};
    /// assert_eq!(Soba::new(SobaConfig::default(), [0.0f64; 10], &[4.0], &[0.0])?.x(), &[4.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn x(&self) -> &[T] {
        self.core.slot(&LAYOUT, 0)
    }

    /// Inner iterate `y_t`.
    ///
    /// ```
    /// # use bilevel::solvers::{Soba, SobaConfig};
    /// assert_eq!(Soba::new(SobaConfig::default(), [0.0f64; 10], &[0.0], &[3.0])?.y(), &[3.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn y(&self) -> &[T] {
        self.core.slot(&LAYOUT, 1)
    }

    /// Linear-system iterate `v_t ≈ −H⁻¹∇_y f` (SOBA sign).
    ///
    /// ```
    /// # use bilevel::solvers::{Soba, SobaConfig};
    /// assert_eq!(Soba::new(SobaConfig::default(), [0.0f64; 10], &[0.0], &[3.0])?.v(), &[0.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn v(&self) -> &[T] {
        self.core.slot(&LAYOUT, 2)
    }

    /// Completed iterations `t`.
    ///
    /// ```
    /// # use bilevel::solvers::{Soba, SobaConfig};
    /// assert_eq!(Soba::new(SobaConfig::default(), [0.0f64; 10], &[0.0], &[0.0])?.iteration(), 0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn iteration(&self) -> u64 {
        self.core.t
    }

    /// One SOBA iteration (§2; see the [module docs](self)).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ;
    /// [`Error::Diverged`] (`"y"`, `"v"` or `"x"`) if the new iterate is not
    /// finite, with the previous state kept.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{Soba, SobaConfig};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = Soba::new(SobaConfig::default(), [0.0; 10], &[1.0], &[0.5])?;
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
        let radius = self.config.v_radius;
        let b = self.core.backend;
        let zeta = problem.sample_inner(rng);
        let xi = problem.sample_outer(rng);
        let [x, y, v, dy, dv, dx, tq, nx, ny, nv] = self.core.slots::<10, 10>(&LAYOUT);

        // Directions at (x_t, y_t, v_t); nx holds Fx until the x-step.
        problem.grad_g(x, y, &zeta, None, Some(dy));
        problem.hvp_jvp_g(x, y, v, &zeta, Some(dv), Some(dx));
        problem.grad_f(x, y, &xi, Some(nx), Some(tq));
        b.axpy(T::ONE, tq, dv)?;
        b.axpy(T::ONE, nx, dx)?;

        // Candidate iterate, committed only if finite.
        let projection = soba_commit(b, [x, y, v], [nx, ny, nv], [dx, dy, dv], (rho, gamma, radius), t)?;
        self.core.t = t + 1;
        Ok(StepReport {
            iteration: t,
            step_x: gamma,
            step_y: rho,
            step_v: rho,
            eta: T::ONE,
            penalty: T::ZERO,
            projection,
        })
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> Soba<T, alloc::vec::Vec<T>> {
    /// A solver owning a `Vec` workspace (allocated once, here).
    ///
    /// ```
    /// use bilevel::solvers::{Soba, SobaConfig};
    /// let s = Soba::new_owned(SobaConfig::<f64>::default(), &[1.0, 2.0], &[0.0])?;
    /// assert_eq!(s.x(), &[1.0, 2.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: SobaConfig<T>, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        let n = workspace_len(x0.len(), y0.len());
        if n == usize::MAX {
            return Err(Error::InvalidParameter {
                name: "x0",
                requirement: "dimensions whose workspace fits in usize",
            });
        }
        Soba::new(config, alloc::vec![T::ZERO; n], x0, y0)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, P: SecondOrder<T>> Solver<T, P> for Soba<T, S> {
    fn step<R: Rng + ?Sized>(&mut self, problem: &P, rng: &mut R) -> Result<StepReport<T>, Error> {
        Soba::step(self, problem, rng)
    }
    fn x(&self) -> &[T] {
        Soba::x(self)
    }
    fn y(&self) -> &[T] {
        Soba::y(self)
    }
    fn iteration(&self) -> u64 {
        Soba::iteration(self)
    }
}
