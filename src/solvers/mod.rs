//! Single-loop stochastic bilevel solvers (ALGORITHMS.md §2–§7), built from
//! the [`kernels`](crate::kernels) and the [`oracles`](crate::oracles) traits.
//!
//! | solver | file | ALGORITHMS.md | oracles | state (floats) |
//! |---|---|---|---|---|
//! | [`Soba`] | `soba.rs` | §2 | [`SecondOrder`](crate::oracles::SecondOrder) | `p + 2q` |
//! | [`F2sa`] | `f2sa.rs` | §4 | [`FirstOrder`](crate::oracles::FirstOrder) | `p + 2q + 1` |
//! | [`F3sa`] | `f3sa.rs` | §5 | [`FirstOrder`](crate::oracles::FirstOrder) | `5p + 7q + 1` |
//! | [`Fmbo`] | `fmbo.rs` | §7 | [`SecondOrder`](crate::oracles::SecondOrder) | `3p + 6q` |
//!
//! **Storage pattern.** Every solver is `Name<T, S>` = a validated
//! `NameConfig<T>` plus one flat buffer `S: AsRef<[T]> + AsMut<[T]>` holding
//! its persistent state, its scratch and a copy of the next iterate. The
//! buffer has exactly `name::workspace_len(p, q)` elements (a `const fn`, so
//! `[T; N]` works on the stack in `no_std`); `&mut [T]` borrows caller memory,
//! and with `alloc` `Name::new_owned` allocates a `Vec<T>` once. `step` never
//! allocates.
//!
//! **Divergence.** Each `step` computes the new iterate into the buffer's
//! "next" slots, checks it is finite, and only then commits it. A non-finite
//! value returns [`Error::Diverged`] and leaves the previous (finite) state,
//! momentum buffers and iteration counter unchanged.
//!
//! [`Solver::run`] repeats `step` and calls a callback after each one; the
//! callback returns [`Control::Stop`] to stop early.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::Step;
//! use bilevel::solvers::{Control, Iterates, Soba, SobaConfig, Solver, soba};
//! use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
//!
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let cfg = SobaConfig { step_y: Step::Constant(0.4), step_x: Step::Constant(1.0), ..Default::default() };
//! let mut buf = [0.0f64; soba::workspace_len(1, 1)];
//! let mut s = Soba::new(cfg, &mut buf[..], &[0.0], &[0.0])?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
//! let out = s.run(&pb, &mut rng, 10_000, |s, _| {
//!     if (s.x()[0] - 1.0 / 0.7).abs() < 1e-10 { Control::Stop } else { Control::Continue }
//! })?;
//! assert!(out.stopped_early);
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use crate::error::Error;
use crate::{Backend, Float};

pub mod checkpoint;
mod config;
pub mod f2sa;
pub mod f3sa;
pub mod fdehbo;
pub mod fmbo;
pub mod saba;
pub mod saba_glm;
pub mod sampling;
pub(crate) mod shared;
pub mod soba;

#[cfg(feature = "alloc")]
pub use checkpoint::Snapshot;
pub use checkpoint::{Checkpoint, Counters};
pub use config::{F2saConfig, F3saConfig, FmboConfig, SabaConfig, SabaInit, SobaConfig};
pub use f2sa::F2sa;
pub use f3sa::F3sa;
pub use fdehbo::FdeHbo;
pub use fmbo::Fmbo;
pub use saba::Saba;
pub use saba_glm::SabaGlm;
pub use soba::Soba;

/// What one iteration did (the step sizes actually used).
///
/// ```
/// let r = bilevel::solvers::StepReport::<f64> {
///     iteration: 0, step_x: 0.1, step_y: 0.1, step_v: 0.1, eta: 1.0, penalty: 0.0, projection: 1.0,
/// };
/// assert_eq!(r.iteration, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport<T> {
    /// Index `t` of the iteration just completed (the counter before it).
    pub iteration: u64,
    /// Step applied to `x`.
    pub step_x: T,
    /// Step applied to `y` (F2SA/F3SA: after the optional division by `λ`).
    pub step_y: T,
    /// Step applied to `v` (SOBA, FMBO) or `z` (F2SA, F3SA).
    pub step_v: T,
    /// STORM weight `η` used (1 for solvers without momentum and at `t = 0`).
    pub eta: T,
    /// Penalty `λ` used (F2SA, F3SA); 0 otherwise.
    pub penalty: T,
    /// Factor applied by the projection of `v` (1 if none or inside).
    pub projection: T,
}

impl<T: Float> StepReport<T> {
    /// The report of a SOBA-family step (no momentum, no penalty).
    pub(crate) fn soba(iteration: u64, step_x: T, step_y: T, projection: T) -> Self {
        StepReport { iteration, step_x, step_y, step_v: step_y, eta: T::ONE, penalty: T::ZERO, projection }
    }
}

/// Returned by a [`Solver::run`] callback.
///
/// ```
/// assert_ne!(bilevel::solvers::Control::Stop, bilevel::solvers::Control::Continue);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep iterating.
    Continue,
    /// Stop after this iteration.
    Stop,
}

/// Outcome of [`Solver::run`].
///
/// ```
/// let s = bilevel::solvers::RunSummary::<f64> { iterations: 0, stopped_early: false, last: None };
/// assert!(s.last.is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSummary<T> {
    /// Iterations completed by this call.
    pub iterations: u64,
    /// Whether the callback stopped the run before `iters` iterations.
    pub stopped_early: bool,
    /// Report of the last completed iteration.
    pub last: Option<StepReport<T>>,
}

/// What every solver exposes between steps: its iterates and counter.
/// Separate from [`Solver`] so that reading `x` needs no problem type.
///
/// ```
/// use bilevel::solvers::{Iterates, Soba, SobaConfig};
/// let s = Soba::new_owned(SobaConfig::default(), &[1.0, 2.0], &[0.5])?;
/// assert_eq!((s.x(), s.y(), s.iteration()), (&[1.0, 2.0][..], &[0.5][..], 0));
/// # Ok::<(), bilevel::Error>(())
/// ```
pub trait Iterates<T> {
    /// The current outer iterate `x`.
    fn x(&self) -> &[T];
    /// The current inner iterate `y` (what a user evaluates the learned
    /// model with).
    fn y(&self) -> &[T];
    /// Number of completed iterations.
    fn iteration(&self) -> u64;

    /// The backend the solver's kernels run on ([`Backend::detect`] unless
    /// set by [`Iterates::set_backend`]).
    ///
    /// ```
    /// use bilevel::{Backend, solvers::{Iterates, Soba, SobaConfig}};
    /// let s = Soba::new_owned(SobaConfig::default(), &[0.0f32], &[0.0])?;
    /// assert_eq!(s.backend(), Backend::detect());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    fn backend(&self) -> Backend;

    /// Runs the solver's kernels on `backend` from now on (bit-exact
    /// reproducibility across machines).
    ///
    /// Errors: [`Error::BackendUnavailable`] (the solver is unchanged).
    ///
    /// ```
    /// use bilevel::{Backend, solvers::{Iterates, Soba, SobaConfig}};
    /// let mut s = Soba::new_owned(SobaConfig::default(), &[0.0f64], &[0.0])?;
    /// s.set_backend(Backend::Scalar)?;
    /// assert_eq!(s.backend(), Backend::Scalar);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    fn set_backend(&mut self, backend: Backend) -> Result<(), Error>;
}

/// The linear-system iterate `v` of SOBA, SABA and SABA-GLM (`v ≈ −H⁻¹∇_y f`,
/// SOBA sign) and of FMBO and FdeHBO (`v ≈ H⁻¹∇_y f`, FMBO sign; §0).
///
/// ```
/// use bilevel::solvers::{LinearSystem, Soba, SobaConfig};
/// let s = Soba::new_owned(SobaConfig::default(), &[1.0f64], &[0.5, 0.5])?;
/// assert_eq!(s.v(), &[0.0, 0.0]); // v_0 = 0
/// # Ok::<(), bilevel::Error>(())
/// ```
pub trait LinearSystem<T>: Iterates<T> {
    /// The current `v`.
    fn v(&self) -> &[T];
}

/// The state particular to the penalty methods F2SA and F3SA (§4, §5).
///
/// ```
/// use bilevel::solvers::{F2sa, F2saConfig, PenaltyMethod};
/// let s = F2sa::new_owned(F2saConfig::default(), &[1.0f64], &[2.0])?;
/// assert_eq!((s.z(), s.penalty()), (&[2.0][..], 10.0)); // z_0 = y_0, λ_0
/// # Ok::<(), bilevel::Error>(())
/// ```
pub trait PenaltyMethod<T>: Iterates<T> {
    /// Inner iterate `z_k ≈ y*(x)` of the unpenalized inner problem.
    fn z(&self) -> &[T];
    /// The penalty `λ_k` the next iteration uses (in `T`, as
    /// [`StepReport::penalty`]).
    fn penalty(&self) -> T;
}

/// One iteration of a solver on problem type `P`, and a driver loop.
///
/// Dyn-compatible: `Box<dyn Solver<T, P>>` holds any solver whose oracle
/// needs `P` meets; `step` then draws its samples through `&mut dyn Rng`.
/// Each solver also has an inherent `step` generic over the RNG, which
/// method-call syntax prefers on a concrete type.
///
/// ```
/// use bilevel::quadratic::Quadratic;
/// use bilevel::solvers::{Fmbo, FmboConfig, Soba, SobaConfig, Solver};
/// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
///
/// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
/// let mut solvers: Vec<Box<dyn Solver<f64, Quadratic<f64>>>> = vec![
///     Box::new(Soba::new_owned(SobaConfig::default(), &[0.0], &[0.0])?),
///     Box::new(Fmbo::new_owned(FmboConfig::new(1.0), &[0.0], &[0.0])?),
/// ];
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
/// for s in &mut solvers {
///     s.step(&pb, &mut rng)?;
///     assert_eq!(s.iteration(), 1);
/// }
/// # Ok::<(), bilevel::Error>(())
/// ```
pub trait Solver<T: Float, P: ?Sized>: Iterates<T> {
    /// One iteration (see each solver's docs for the update rule).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ
    /// from the solver's; [`Error::Diverged`] if the new iterate is not finite
    /// (the previous state is kept); [`Error::InvalidParameter`] naming the
    /// schedule if a step size, momentum weight or penalty is not finite in
    /// `T` at this iteration (state kept as well).
    fn step(&mut self, problem: &P, rng: &mut dyn Rng) -> Result<StepReport<T>, Error>;

    /// Runs up to `iters` iterations, calling `callback(self, report)` after
    /// each; stops early on [`Control::Stop`] or at the first error.
    fn run<F>(
        &mut self,
        problem: &P,
        rng: &mut dyn Rng,
        iters: u64,
        mut callback: F,
    ) -> Result<RunSummary<T>, Error>
    where
        Self: Sized,
        F: FnMut(&Self, &StepReport<T>) -> Control,
    {
        let mut summary = RunSummary { iterations: 0, stopped_early: false, last: None };
        while summary.iterations < iters {
            let report = Solver::step(self, problem, rng)?;
            summary.iterations += 1;
            summary.last = Some(report);
            if callback(self, &report) == Control::Stop {
                summary.stopped_early = summary.iterations < iters;
                break;
            }
        }
        Ok(summary)
    }
}

/// A boxed solver is a solver, so `Box<dyn Solver<T, P>>` has [`Solver::run`].
#[cfg(feature = "alloc")]
impl<T, S: Iterates<T> + ?Sized> Iterates<T> for alloc::boxed::Box<S> {
    fn x(&self) -> &[T] {
        (**self).x()
    }
    fn y(&self) -> &[T] {
        (**self).y()
    }
    fn iteration(&self) -> u64 {
        (**self).iteration()
    }
    fn backend(&self) -> Backend {
        (**self).backend()
    }
    fn set_backend(&mut self, backend: Backend) -> Result<(), Error> {
        (**self).set_backend(backend)
    }
}

#[cfg(feature = "alloc")]
impl<T: Float, P: ?Sized, S: Solver<T, P> + ?Sized> Solver<T, P> for alloc::boxed::Box<S> {
    fn step(&mut self, problem: &P, rng: &mut dyn Rng) -> Result<StepReport<T>, Error> {
        (**self).step(problem, rng)
    }
}

/// Implements [`Iterates`] and [`Solver`] for a solver whose inherent
/// `step<P, R>` takes any problem meeting `$bound`.
macro_rules! impl_solver {
    (v: $name:ident<T, S $(, $extra:ident)*> where [$($wc:tt)*], $($bound:tt)+) => {
        impl_solver!($name<T, S $(, $extra)*> where [$($wc)*], $($bound)+);
        impl<T: Float, S: AsRef<[T]> + AsMut<[T]> $(, $extra)*> $crate::solvers::LinearSystem<T> for $name<T, S $(, $extra)*>
        where
            $($wc)*
        {
            fn v(&self) -> &[T] {
                self.core.after_y(0, self.core.q)
            }
        }
    };
    (penalty: $name:ident<T, S $(, $extra:ident)*> where [$($wc:tt)*], $($bound:tt)+) => {
        impl_solver!($name<T, S $(, $extra)*> where [$($wc)*], $($bound)+);
        impl<T: Float, S: AsRef<[T]> + AsMut<[T]> $(, $extra)*> $crate::solvers::PenaltyMethod<T> for $name<T, S $(, $extra)*>
        where
            $($wc)*
        {
            fn z(&self) -> &[T] {
                self.core.after_y(0, self.core.q)
            }
            fn penalty(&self) -> T {
                T::from_f64(self.lambda)
            }
        }
    };
    ($name:ident<T, S $(, $extra:ident)*> where [$($wc:tt)*], $($bound:tt)+) => {
        impl<T: Float, S: AsRef<[T]> + AsMut<[T]> $(, $extra)*> $crate::solvers::Iterates<T> for $name<T, S $(, $extra)*>
        where
            $($wc)*
        {
            fn x(&self) -> &[T] {
                self.core.x()
            }
            fn y(&self) -> &[T] {
                self.core.y()
            }
            fn iteration(&self) -> u64 {
                self.core.t
            }
            fn backend(&self) -> $crate::Backend {
                self.core.backend
            }
            fn set_backend(&mut self, backend: $crate::Backend) -> Result<(), $crate::Error> {
                self.core.set_backend(backend)
            }
        }

        impl<T: Float, S: AsRef<[T]> + AsMut<[T]> $(, $extra)*, P: $($bound)+> $crate::solvers::Solver<T, P>
            for $name<T, S $(, $extra)*>
        where
            $($wc)*
        {
            fn step(
                &mut self,
                problem: &P,
                rng: &mut dyn rand_core::Rng,
            ) -> Result<$crate::solvers::StepReport<T>, $crate::Error> {
                $name::step(self, problem, rng)
            }
        }
    };
}
use impl_solver;
