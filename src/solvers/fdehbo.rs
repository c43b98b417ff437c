//! FdeHBO, the Hessian/Jacobian-free bilevel optimizer with projection-aided
//! finite differences (Yang, Xiao, Ji 2023; ALGORITHMS.md §6), FdeHBO sign
//! convention (`v ≈ +H⁻¹∇_y f`, §0).
//!
//! The iteration is FMBO's (see [`fmbo`](super::fmbo): STORM on `y`, `v`,
//! `x`, ball projection of `v`, Jacobi order) with the two second-order
//! products replaced by central finite differences of the first-order
//! oracles on the same sample (eqs 8, 9, 11; kernels in §9.3):
//!
//! ```text
//! H̃(x,y,v;ψ) = [Gy(x, y+δv; ψ) − Gy(x, y−δv; ψ)] / (2δ)        (eq 9)
//! r = H̃(x_t,y_t,v_t;ψ) − Fy(x_t,y_t;ψ)                            (eq 8)
//! J̃(x,y,v;ξ̄) = [Gx(x, y+δv; ξ̄) − Gx(x, y−δv; ξ̄)] / (2δ)        (eq 11)
//! u = Fx(x_t,y_t;ξ̄) − J̃(x_t,y_t,v_t;ξ̄)
//! ```
//!
//! - Oracle calls per iteration (`t ≥ 1`, `Delta::Relative`): 2 `Gy` for
//!   `y`, 4 `Gy` + 2 `Fy` for `v`, 4 `Gx` + 2 `Fx` for `x` (14 first-order
//!   calls, §6); half at `t = 0`.
//! - Memory: FMBO's workspace [`fmbo::workspace_len`](super::fmbo::workspace_len)
//!   plus the finite-difference scratch [`scratch_len`] (`p + 2q` with
//!   `Relative`); the persistent state is `3p + 6q` (§1).
//! - Complexity (§6 Theorem 1): `Õ(ε^(−3/2))` samples with
//!   `α_t = (w+t)^(−1/3)`, `η ∝ α²`, `δ` small enough.
//! - `r_v` must contain `v* = H⁻¹∇_y f`: choose `r_v ≥ sup‖∇_y f‖/μ_g` with a
//!   margin (§6 "Why the projection matters"); the crate never guesses it.
//!
//! ```
//! use bilevel::kernels::Delta;
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::{Momentum, Step};
//! use bilevel::solvers::{FdeHbo, FmboConfig, Iterates};
//! use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
//!
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let mut cfg = FmboConfig::new(10.0);
//! cfg.step_x = Step::Constant(0.5);
//! cfg.step_y = Step::Constant(0.3);
//! cfg.step_v = Step::Constant(0.3);
//! cfg.eta_x = Momentum::Constant(1.0);
//! cfg.eta_y = Momentum::Constant(1.0);
//! cfg.eta_v = Momentum::Constant(1.0);
//! let mut s = FdeHbo::new_owned(cfg, Delta::Relative, &[0.0], &[0.0])?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
//! for _ in 0..3000 { s.step(&pb, &mut rng)?; }
//! assert!((s.x()[0] - 1.0 / 0.7).abs() < 1e-9); // finite differences are exact on quadratics
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::{Fmbo, FmboConfig, Iterates, Solver, StepReport};
use crate::error::Error;
use crate::kernels::Delta;
use crate::oracles::{FiniteDifference, FirstOrder};
use crate::{Backend, Float};

/// Finite-difference scratch length for dimensions `(p, q)`.
///
/// ```
/// use bilevel::kernels::Delta;
/// assert_eq!(bilevel::solvers::fdehbo::scratch_len::<f64>(2, 3, Delta::Relative), 8);
/// ```
pub const fn scratch_len<T: Float>(p: usize, q: usize, delta: Delta<T>) -> usize {
    FiniteDifference::<(), T>::scratch_len(p, q, delta)
}

/// The FdeHBO solver: FMBO's state on storage `S` plus finite-difference
/// scratch `W` (see the [module docs](self)).
///
/// ```
/// use bilevel::kernels::Delta;
/// use bilevel::solvers::{FdeHbo, FmboConfig, Iterates, fdehbo, fmbo};
/// let s = FdeHbo::new(
///     FmboConfig::new(5.0),
///     Delta::Relative,
///     [0.0f32; fmbo::workspace_len(1, 2)],
///     [0.0f32; fdehbo::scratch_len::<f32>(1, 2, Delta::Relative)],
///     &[1.0],
///     &[0.0, 0.0],
/// )?;
/// assert_eq!(s.x(), &[1.0]);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FdeHbo<T, S, W> {
    inner: Fmbo<T, S>,
    delta: Delta<T>,
    scratch: W,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, W: AsMut<[T]>> FdeHbo<T, S, W> {
    /// Builds the solver at `(x0, y0)`, `v0 = 0`.
    ///
    /// Errors: as [`Fmbo::new`]; [`Error::InvalidParameter`] for a fixed
    /// `delta` that is not finite and positive; [`Error::LengthMismatch`] if
    /// `scratch` is shorter than [`scratch_len`].
    ///
    /// ```
    /// use bilevel::{Error, kernels::Delta, solvers::{FdeHbo, FmboConfig, fmbo}};
    /// let e = FdeHbo::new(FmboConfig::new(1.0), Delta::Fixed(-1.0), [0.0f64; fmbo::workspace_len(1, 1)], [0.0; 8], &[0.0], &[0.0]);
    /// assert!(matches!(e, Err(Error::InvalidParameter { name: "delta", .. })));
    /// ```
    pub fn new(
        config: FmboConfig,
        delta: Delta<T>,
        storage: S,
        mut scratch: W,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        if let Delta::Fixed(d) = delta
            && !(d.is_finite() && d > T::ZERO)
        {
            return Err(Error::InvalidParameter { name: "delta", requirement: "finite and > 0" });
        }
        let need = scratch_len(x0.len(), y0.len(), delta);
        let have = scratch.as_mut().len();
        if have < need {
            return Err(Error::LengthMismatch { what: "scratch", expected: need, found: have });
        }
        Ok(FdeHbo { inner: Fmbo::new(config, storage, x0, y0)?, delta, scratch })
    }

    /// One iteration (module docs): FMBO's step on the finite-difference
    /// products, on the solver's backend.
    ///
    /// Errors: as [`Fmbo::step`]; a finite-difference product that cannot be
    /// formed (non-finite `y` or `v`) surfaces as [`Error::Diverged`].
    ///
    /// ```
    /// use bilevel::{kernels::Delta, quadratic::Quadratic, solvers::{FdeHbo, FmboConfig, Iterates}};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut s = FdeHbo::new_owned(FmboConfig::new(10.0), Delta::Relative, &[1.0], &[0.5])?;
    /// s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!(s.iteration(), 1);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn step<P: FirstOrder<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        let fd = FiniteDifference::new(problem, self.delta, self.scratch.as_mut())
            .with_backend(self.inner.backend())?;
        self.inner.step(&fd, rng)
    }

    /// The step policy of the finite differences.
    ///
    /// ```
    /// use bilevel::{kernels::Delta, solvers::{FdeHbo, FmboConfig}};
    /// let s = FdeHbo::<f64, _, _>::new_owned(FmboConfig::new(1.0), Delta::Adaptive, &[0.0], &[0.0])?;
    /// assert_eq!(s.delta(), Delta::Adaptive);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn delta(&self) -> Delta<T> {
        self.delta
    }

    /// The configuration.
    ///
    /// ```
    /// use bilevel::{kernels::Delta, solvers::{FdeHbo, FmboConfig}};
    /// let s = FdeHbo::<f64, _, _>::new_owned(FmboConfig::new(2.0), Delta::Relative, &[0.0], &[0.0])?;
    /// assert_eq!(s.config().v_radius, 2.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &FmboConfig {
        self.inner.config()
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> FdeHbo<T, alloc::vec::Vec<T>, alloc::vec::Vec<T>> {
    /// [`FdeHbo::new`] on owned buffers of the right lengths.
    ///
    /// ```
    /// use bilevel::{kernels::Delta, solvers::{FdeHbo, FmboConfig, LinearSystem}};
    /// let s = FdeHbo::new_owned(FmboConfig::new(1.0), Delta::Adaptive, &[0.0f64; 2], &[0.0; 3])?;
    /// assert_eq!(s.v(), &[0.0; 3]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(config: FmboConfig, delta: Delta<T>, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        use super::shared::owned;
        let (p, q) = (x0.len(), y0.len());
        FdeHbo::new(
            config,
            delta,
            owned(super::fmbo::workspace_len(p, q))?,
            owned(scratch_len(p, q, delta))?,
            x0,
            y0,
        )
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, W> Iterates<T> for FdeHbo<T, S, W> {
    fn x(&self) -> &[T] {
        self.inner.x()
    }
    fn y(&self) -> &[T] {
        self.inner.y()
    }
    fn iteration(&self) -> u64 {
        self.inner.iteration()
    }
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    fn set_backend(&mut self, backend: Backend) -> Result<(), Error> {
        self.inner.set_backend(backend)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, W: AsMut<[T]>, P: FirstOrder<T>> Solver<T, P> for FdeHbo<T, S, W> {
    fn step(&mut self, problem: &P, rng: &mut dyn Rng) -> Result<StepReport<T>, Error> {
        FdeHbo::step(self, problem, rng)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, W> super::checkpoint::sealed::Parts<T> for FdeHbo<T, S, W> {
    fn parts(&self) -> [&[T]; 2] {
        self.inner.parts()
    }
    fn parts_mut(&mut self) -> [&mut [T]; 2] {
        self.inner.parts_mut()
    }
    fn counters(&self) -> super::Counters {
        self.inner.counters()
    }
    fn check_counters(&self, counters: super::Counters) -> Result<(), Error> {
        self.inner.check_counters(counters)
    }
    fn set_counters(&mut self, counters: super::Counters) {
        self.inner.set_counters(counters)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, W> super::Checkpoint<T> for FdeHbo<T, S, W> {}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, W> super::LinearSystem<T> for FdeHbo<T, S, W> {
    fn v(&self) -> &[T] {
        self.inner.v()
    }
}
