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
//! use bilevel::solvers::{Control, Soba, SobaConfig, Solver, soba};
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

use core::marker::PhantomData;

use rand_core::Rng;

use crate::error::{Error, check_len};
use crate::oracles::Problem;
use crate::{Backend, Float};

pub mod f2sa;
pub mod f3sa;
pub mod fdehbo;
pub mod fmbo;
pub mod saba;
pub mod saba_glm;
pub mod soba;

pub use f2sa::{F2sa, F2saConfig};
pub use f3sa::{F3sa, F3saConfig};
pub use fdehbo::FdeHbo;
pub use fmbo::{Fmbo, FmboConfig};
pub use saba::{Saba, SabaConfig, SabaInit};
pub use saba_glm::SabaGlm;
pub use soba::{Soba, SobaConfig};

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

/// The interface shared by every solver: one iteration, the outer iterate,
/// the counter, and a driver loop.
///
/// See the [module docs](self) for an example.
pub trait Solver<T: Float, P: Problem<T>> {
    /// One iteration (see each solver's docs for the update rule).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions differ
    /// from the solver's; [`Error::Diverged`] if the new iterate is not finite
    /// (the previous state is kept); [`Error::InvalidParameter`] naming the
    /// schedule if a step size, momentum weight or penalty is not finite in
    /// `T` at this iteration (state kept as well).
    fn step<R: Rng + ?Sized>(&mut self, problem: &P, rng: &mut R) -> Result<StepReport<T>, Error>;

    /// The current outer iterate `x`.
    fn x(&self) -> &[T];

    /// The current inner iterate `y` (what a user evaluates the learned
    /// model with).
    fn y(&self) -> &[T];

    /// Number of completed iterations.
    fn iteration(&self) -> u64;

    /// Runs up to `iters` iterations, calling `callback(self, report)` after
    /// each; stops early on [`Control::Stop`] or at the first error.
    fn run<R, F>(
        &mut self,
        problem: &P,
        rng: &mut R,
        iters: u64,
        mut callback: F,
    ) -> Result<RunSummary<T>, Error>
    where
        Self: Sized,
        R: Rng + ?Sized,
        F: FnMut(&Self, &StepReport<T>) -> Control,
    {
        let mut summary = RunSummary { iterations: 0, stopped_early: false, last: None };
        while summary.iterations < iters {
            let report = self.step(problem, rng)?;
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

// ---------------------------------------------------------------------------
// Shared machinery (crate-private).

/// A buffer layout: slot `i` has `a·p + b·q` elements for `(a, b) = L[i]`.
pub(crate) type Layout<const K: usize> = [(usize, usize); K];

/// Total length of a layout (saturating; `usize::MAX` signals overflow).
pub(crate) const fn layout_len<const K: usize>(layout: &Layout<K>, p: usize, q: usize) -> usize {
    let mut total = 0usize;
    let mut i = 0;
    while i < K {
        let (a, b) = layout[i];
        total = total.saturating_add(a.saturating_mul(p)).saturating_add(b.saturating_mul(q));
        i += 1;
    }
    total
}

/// State common to every solver: the buffer, dimensions, counter, backend.
#[derive(Clone, Debug)]
pub(crate) struct Core<T, S> {
    pub(crate) storage: S,
    pub(crate) p: usize,
    pub(crate) q: usize,
    pub(crate) t: u64,
    pub(crate) backend: Backend,
    _t: PhantomData<T>,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> Core<T, S> {
    /// Checks dimensions and the buffer length, zeroes the buffer and writes
    /// `x0`, `y0` into slots 0 and 1.
    pub(crate) fn new<const K: usize>(
        layout: &Layout<K>,
        mut storage: S,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        let (p, q) = (x0.len(), y0.len());
        if p == 0 {
            return Err(Error::Empty { what: "x0" });
        }
        if q == 0 {
            return Err(Error::Empty { what: "y0" });
        }
        let need = layout_len(layout, p, q);
        if need == usize::MAX {
            return Err(Error::InvalidParameter {
                name: "x0",
                requirement: "dimensions whose workspace fits in usize",
            });
        }
        check_len("storage", need, storage.as_ref().len())?;
        if x0.iter().chain(y0).any(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "initial point" });
        }
        let buf = storage.as_mut();
        buf.fill(T::ZERO);
        let mut core = Core { storage, p, q, t: 0, backend: Backend::detect(), _t: PhantomData };
        let [x, y] = core.slots::<2, K>(layout);
        x.copy_from_slice(x0);
        y.copy_from_slice(y0);
        Ok(core)
    }

    /// The first `N` slots of the layout as disjoint mutable slices.
    #[inline]
    pub(crate) fn slots<const N: usize, const K: usize>(&mut self, layout: &Layout<K>) -> [&mut [T]; N] {
        let (p, q) = (self.p, self.q);
        let mut rest: &mut [T] = self.storage.as_mut();
        core::array::from_fn(|i| {
            let (a, b) = layout.get(i).copied().unwrap_or((0, 0));
            let len = a * p + b * q;
            let taken = core::mem::take(&mut rest);
            match taken.split_at_mut_checked(len) {
                Some((head, tail)) => {
                    rest = tail;
                    head
                }
                None => &mut [],
            }
        })
    }

    /// Slot `i` read-only.
    #[inline]
    pub(crate) fn slot<const K: usize>(&self, layout: &Layout<K>, i: usize) -> &[T] {
        let (p, q) = (self.p, self.q);
        let start: usize = layout.iter().take(i).map(|&(a, b)| a * p + b * q).sum();
        let (a, b) = layout.get(i).copied().unwrap_or((0, 0));
        self.storage.as_ref().get(start..start + a * p + b * q).unwrap_or(&[])
    }

    /// The problem's dimensions must match the solver's.
    #[inline]
    pub(crate) fn check_problem<P: Problem<T>>(&self, problem: &P) -> Result<(), Error> {
        check_len("problem.dim_x", self.p, problem.dim_x())?;
        check_len("problem.dim_y", self.q, problem.dim_y())
    }
}

/// `Err(Diverged)` unless every entry is finite.
#[inline]
pub(crate) fn check_finite<T: Float>(variable: &'static str, v: &[T], iteration: u64) -> Result<(), Error> {
    if v.iter().all(|a| a.is_finite()) { Ok(()) } else { Err(Error::Diverged { variable, iteration }) }
}

/// Maps a non-finite kernel result on a candidate iterate to `Diverged`.
#[inline]
pub(crate) fn diverged_on_nonfinite(variable: &'static str, iteration: u64) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::NonFinite { .. } => Error::Diverged { variable, iteration },
        other => other,
    }
}

/// A schedule value (f64) converted to `T`; a value that is not finite in
/// `T` (an f64 step beyond f32's range, a penalty ratio that overflows) is an
/// [`Error::InvalidParameter`] naming the schedule, before any state changes.
#[inline]
pub(crate) fn to_t<T: Float>(name: &'static str, v: f64) -> Result<T, Error> {
    let t = T::from_f64(v);
    if t.is_finite() {
        Ok(t)
    } else {
        Err(Error::InvalidParameter { name, requirement: "a finite value in T at every iteration" })
    }
}

/// Checks a projection radius (`> 0`, `+∞` allowed).
#[inline]
pub(crate) fn check_radius<T: Float>(name: &'static str, r: T) -> Result<(), Error> {
    if r > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name, requirement: "> 0 (+inf allowed)" })
    }
}

/// The SOBA-family update (§2, §3): `y ← y − ρ D_y`, `v ← Π_r(v − ρ D_v)`,
/// `x ← x − γ D_x`, formed in the candidate buffers `n*` and committed only
/// if all are finite. Returns the projection factor; the state is untouched
/// on error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn soba_commit<T: Float>(
    b: Backend,
    [x, y, v]: [&mut [T]; 3],
    [nx, ny, nv]: [&mut [T]; 3],
    [dx, dy, dv]: [&[T]; 3],
    (rho, gamma, radius): (T, T, T),
    t: u64,
) -> Result<T, Error> {
    ny.copy_from_slice(y);
    b.axpy(-rho, dy, ny)?;
    nv.copy_from_slice(v);
    let projection = b.step_project(nv, dv, rho, radius).map_err(diverged_on_nonfinite("v", t))?;
    nx.copy_from_slice(x);
    b.axpy(-gamma, dx, nx)?;
    check_finite("y", ny, t)?;
    check_finite("v", nv, t)?;
    check_finite("x", nx, t)?;
    x.copy_from_slice(nx);
    y.copy_from_slice(ny);
    v.copy_from_slice(nv);
    Ok(projection)
}
