//! What every solver shares: the named workspace layout ([`workspace!`]),
//! the storage and counter ([`Core`]), owned storage, schedule conversion and
//! the candidate-then-commit step. Each solver file holds only its update
//! rule.

use core::marker::PhantomData;

use crate::error::{Error, check_len};
use crate::oracles::{FiniteSum, Problem};
use crate::schedule::{Penalty, Schedule, Step};
use crate::{Backend, Float};

/// Declares a solver's workspace: one flat buffer split into named slices.
///
/// ```text
/// workspace! {
///     /// SOBA's workspace.
///     pub(crate) struct SobaWorkspace(p, q) {
///         state { v: q }                       // persistent, after x (p) and y (q)
///         scratch { d_x: p, d_y: q, next_x: p } // rewritten every step
///     }
/// }
/// ```
///
/// Every layout starts with `x` (length `p`) and `y` (length `q`); the
/// persistent state (`x`, `y`, then the `state` fields) is a prefix of the
/// buffer, [`state_len`](SobaWorkspace::state_len) long, which is what a
/// checkpoint exports. `len(p, q)` is the whole buffer (saturating: `usize::MAX`
/// signals overflow). `split` hands out every field as its own `&mut [T]`, by
/// name; the buffer length is checked once, at construction.
macro_rules! workspace {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($p:ident, $q:ident) {
            state { $($s:ident: $sd:ident),* $(,)? }
            scratch { $($w:ident: $wd:ident),* $(,)? }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        #[allow(dead_code)]
        $vis struct $name<'a, T> {
            pub(crate) x: &'a mut [T],
            pub(crate) y: &'a mut [T],
            $(pub(crate) $s: &'a mut [T],)*
            $(pub(crate) $w: &'a mut [T],)*
        }

        #[allow(dead_code)]
        impl<'a, T> $name<'a, T> {
            /// Floats of persistent state: `x`, `y` and the `state` fields.
            pub(crate) const fn state_len($p: usize, $q: usize) -> usize {
                0usize.saturating_add($p).saturating_add($q) $(.saturating_add($sd))*
            }

            /// Floats of the whole workspace (saturating).
            pub(crate) const fn len($p: usize, $q: usize) -> usize {
                Self::state_len($p, $q) $(.saturating_add($wd))*
            }

            /// Every field as its own slice. `buf` has exactly `len(p, q)`
            /// elements (checked by `Core::new`).
            #[inline]
            pub(crate) fn split(buf: &'a mut [T], $p: usize, $q: usize) -> Self {
                let (x, rest) = buf.split_at_mut($p);
                let (y, rest) = rest.split_at_mut($q);
                $(let ($s, rest) = rest.split_at_mut($sd);)*
                $(let ($w, rest) = rest.split_at_mut($wd);)*
                debug_assert!(rest.is_empty());
                $name { x, y, $($s,)* $($w,)* }
            }
        }
    };
}
pub(crate) use workspace;

/// A workspace length as a function of `(p, q)`.
pub(crate) type LenFn = fn(usize, usize) -> usize;

/// The storage, dimensions, counter and backend of a solver.
#[derive(Clone, Debug)]
pub(crate) struct Core<T, S> {
    pub(crate) storage: S,
    pub(crate) p: usize,
    pub(crate) q: usize,
    pub(crate) t: u64,
    pub(crate) backend: Backend,
    /// Floats of persistent state at the front of `storage`.
    pub(crate) state_len: usize,
    /// The growth guard: a candidate entry beyond it is divergence
    /// ([`growth_limit`]).
    pub(crate) limit: T,
    _t: PhantomData<T>,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> Core<T, S> {
    /// Checks the dimensions and the buffer length (`need`, from the
    /// solver's `workspace_len`), zeroes the buffer and writes `x0`, `y0`
    /// into its first `p + q` entries.
    pub(crate) fn new(
        mut storage: S,
        (need, state): (LenFn, LenFn),
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
        check_len("storage", fits_usize(need(p, q))?, storage.as_ref().len())?;
        if x0.iter().chain(y0).any(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "initial point" });
        }
        let buf = storage.as_mut();
        buf.fill(T::ZERO);
        buf[..p].copy_from_slice(x0);
        buf[p..p + q].copy_from_slice(y0);
        let state_len = state(p, q);
        let limit = growth_limit(x0.iter().chain(y0).fold(T::ZERO, |m, v| m.max(v.abs())));
        Ok(Core { storage, p, q, t: 0, backend: Backend::detect(), state_len, limit, _t: PhantomData })
    }

    /// The outer iterate (the buffer's first `p` entries).
    #[inline]
    pub(crate) fn x(&self) -> &[T] {
        &self.storage.as_ref()[..self.p]
    }

    /// The inner iterate (the next `q` entries).
    #[inline]
    pub(crate) fn y(&self) -> &[T] {
        &self.storage.as_ref()[self.p..self.p + self.q]
    }

    /// The `len` entries after `x` and `y` plus `skip` more: the first
    /// `state` field of a layout when `skip = 0`.
    #[inline]
    pub(crate) fn after_y(&self, skip: usize, len: usize) -> &[T] {
        let start = self.p + self.q + skip;
        &self.storage.as_ref()[start..start + len]
    }

    /// The whole buffer, for a layout's `split`.
    #[inline]
    pub(crate) fn buffer(&mut self) -> &mut [T] {
        self.storage.as_mut()
    }

    /// The persistent state (`x`, `y`, then the layout's `state` fields).
    #[inline]
    pub(crate) fn state(&self) -> &[T] {
        &self.storage.as_ref()[..self.state_len]
    }

    /// The persistent state, writable (for a restore).
    #[inline]
    pub(crate) fn state_mut(&mut self) -> &mut [T] {
        let n = self.state_len;
        &mut self.storage.as_mut()[..n]
    }

    /// The problem's dimensions must match the solver's.
    #[inline]
    pub(crate) fn check_problem<T2: Float, P: Problem<T2> + ?Sized>(&self, problem: &P) -> Result<(), Error> {
        check_len("problem.dim_x", self.p, problem.dim_x())?;
        check_len("problem.dim_y", self.q, problem.dim_y())
    }

    /// Uses `backend` from now on.
    ///
    /// Errors: [`Error::BackendUnavailable`].
    pub(crate) fn set_backend(&mut self, backend: Backend) -> Result<(), Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(())
    }
}

/// The growth guard of every solver: a candidate iterate with an entry beyond
/// `max(1, s₀) · MAX^(1/4)` (`s₀` the largest entry of the starting point;
/// about `1.2e77 s₀` in f64, `4.3e9 s₀` in f32) is reported as
/// [`Error::Diverged`], with the state kept. No convergent run gets there, and
/// it fires long before overflow, where an inner problem that is not strongly
/// convex (indefinite or singular Hessian) or a step that is too large would
/// otherwise produce `Ok` steps towards `1e300`.
#[inline]
pub(crate) fn growth_limit<T: Float>(start_scale: T) -> T {
    let scale = if start_scale > T::ONE { start_scale } else { T::ONE };
    T::MAX_T.sqrt().sqrt() * scale
}

/// `Ok(n)` unless a saturating length computation overflowed.
#[inline]
pub(crate) fn fits_usize(n: usize) -> Result<usize, Error> {
    if n == usize::MAX {
        Err(Error::InvalidParameter { name: "x0", requirement: "dimensions whose workspace fits in usize" })
    } else {
        Ok(n)
    }
}

/// A zeroed `Vec` of `n` floats, `n` from a saturating length computation.
#[cfg(feature = "alloc")]
pub(crate) fn owned<T: Float>(n: usize) -> Result<alloc::vec::Vec<T>, Error> {
    Ok(alloc::vec![T::ZERO; fits_usize(n)?])
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

/// Maps a non-finite kernel result on a candidate iterate to `Diverged`.
#[inline]
pub(crate) fn diverged_on_nonfinite(variable: &'static str, iteration: u64) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::NonFinite { .. } => Error::Diverged { variable, iteration },
        other => other,
    }
}

/// `next ← cur + a·d`, checked against the growth `limit` in the same pass
/// (`Diverged` naming `variable` otherwise).
#[inline]
pub(crate) fn candidate<T: Float>(
    (b, limit): (Backend, T),
    variable: &'static str,
    t: u64,
    (cur, a, d): (&[T], T, &[T]),
    next: &mut [T],
) -> Result<(), Error> {
    b.axpy_into_bounded(a, (d, None), cur, next, limit).map_err(diverged_on_nonfinite(variable, t))
}

/// A direction given as one vector or as the sum of two (the sum is formed
/// inside the candidate pass, with the bits of adding it first).
pub(crate) type Direction<'d, T> = (&'d [T], Option<&'d [T]>);

/// `Err(Diverged)` unless every entry is finite (for oracle outputs).
#[inline]
pub(crate) fn check_finite<T: Float>(variable: &'static str, v: &[T], iteration: u64) -> Result<(), Error> {
    check_bounded(variable, v, iteration, T::MAX_T)
}

/// `Err(Diverged)` unless every entry is within the growth `limit` (for
/// candidate iterates; NaN fails).
#[inline]
pub(crate) fn check_bounded<T: Float>(
    variable: &'static str,
    v: &[T],
    iteration: u64,
    limit: T,
) -> Result<(), Error> {
    if v.iter().all(|a| a.abs() <= limit) { Ok(()) } else { Err(Error::Diverged { variable, iteration }) }
}

/// Commits checked candidates: `cur ← next` for each pair.
#[inline]
pub(crate) fn commit<T: Float, const N: usize>(pairs: [(&mut [T], &[T]); N]) {
    for (cur, next) in pairs {
        cur.copy_from_slice(next);
    }
}

/// Commits a step of a method that keeps the previous point (STORM):
/// `prev ← cur ← next` for each triple.
#[inline]
pub(crate) fn shift<T: Float, const N: usize>(triples: [(&mut [T], &mut [T], &[T]); N]) {
    for (prev, cur, next) in triples {
        prev.copy_from_slice(cur);
        cur.copy_from_slice(next);
    }
}

/// The SOBA-family step (§2, §3): `y ← y − ρ D_y`, `v ← Π_r(v − ρ D_v)`,
/// `x ← x − γ D_x`, formed as candidates in `next_*` and committed only if
/// all are within the growth guard. Each direction may be a sum of two
/// vectors, added inside the candidate pass. Returns the projection factor;
/// nothing changes on error.
pub(crate) struct SobaStep<'s, T> {
    pub(crate) x: &'s mut [T],
    pub(crate) y: &'s mut [T],
    pub(crate) v: &'s mut [T],
    pub(crate) next_x: &'s mut [T],
    pub(crate) next_y: &'s mut [T],
    pub(crate) next_v: &'s mut [T],
}

impl<T: Float> SobaStep<'_, T> {
    /// Forms and checks the candidate from the directions; commits it.
    #[inline]
    pub(crate) fn apply(
        self,
        (b, limit): (Backend, T),
        t: u64,
        [d_x, d_y, d_v]: [Direction<'_, T>; 3],
        (rho, gamma, radius): (T, T, T),
    ) -> Result<T, Error> {
        let SobaStep { x, y, v, next_x, next_y, next_v } = self;
        let step = |var, cur: &[T], a, d: Direction<'_, T>, out: &mut [T]| {
            b.axpy_into_bounded(a, d, cur, out, limit).map_err(diverged_on_nonfinite(var, t))
        };
        step("y", y, -rho, d_y, next_y)?;
        let projection = if radius == T::INFINITY_T {
            step("v", v, -rho, d_v, next_v)?;
            T::ONE
        } else {
            // The stepped vector (not yet bounded: the projection may bring
            // it back), then the projection onto the ball.
            b.axpy_into_bounded(-rho, d_v, v, next_v, T::MAX_T).map_err(diverged_on_nonfinite("v", t))?;
            let s = b.project_ball(next_v, radius).map_err(diverged_on_nonfinite("v", t))?;
            check_bounded("v", next_v, t, limit)?;
            s
        };
        step("x", x, -gamma, d_x, next_x)?;
        commit([(x, &*next_x), (y, &*next_y), (v, &*next_v)]);
        Ok(projection)
    }
}

/// Checks a projection radius (`> 0`, `+∞` allowed).
#[inline]
pub(crate) fn check_radius(name: &'static str, r: f64) -> Result<(), Error> {
    if r > 0.0 { Ok(()) } else { Err(Error::InvalidParameter { name, requirement: "> 0 (+inf allowed)" }) }
}

/// A configured radius in `T` (`+∞`, or a radius beyond `T`'s range, is no
/// projection).
#[inline]
pub(crate) fn radius_t<T: Float>(r: f64) -> T {
    T::from_f64(r)
}

/// The row counts of a finite-sum problem, with its weights checked: each
/// finite and `≥ 0`, each side summing to 1 within `4 n ε` (§3, §9.4).
pub(crate) fn check_rows<T: Float, P: FiniteSum<T>>(problem: &P) -> Result<(usize, usize), Error> {
    let (n, m) = (problem.n_inner(), problem.n_outer());
    if n == 0 {
        return Err(Error::Empty { what: "inner samples" });
    }
    if m == 0 {
        return Err(Error::Empty { what: "outer samples" });
    }
    for (name, rows, weight) in [
        ("inner_weight", n, &(|i| problem.inner_weight(i)) as &dyn Fn(usize) -> T),
        ("outer_weight", m, &|j| problem.outer_weight(j)),
    ] {
        let mut sum = 0.0f64;
        for r in 0..rows {
            sum += checked_weight(name, weight(r))?.to_f64();
        }
        let tol = 4.0 * rows as f64 * T::EPSILON_T.to_f64();
        if (sum - 1.0).abs() > tol {
            return Err(Error::InvalidParameter { name, requirement: "row weights that sum to 1" });
        }
    }
    Ok((n, m))
}

/// The problem still has the row counts the solver was built for.
#[inline]
pub(crate) fn check_same_rows<T: Float, P: FiniteSum<T>>(
    problem: &P,
    n: usize,
    m: usize,
) -> Result<(), Error> {
    check_len("inner samples", n, problem.n_inner())?;
    check_len("outer samples", m, problem.n_outer())
}

/// A row weight: finite and `≥ 0`.
#[inline]
pub(crate) fn checked_weight<T: Float>(name: &'static str, w: T) -> Result<T, Error> {
    if w.is_finite() && w >= T::ZERO {
        Ok(w)
    } else {
        Err(Error::InvalidParameter { name, requirement: "finite and >= 0" })
    }
}

/// The step sizes and penalty of one F2SA/F3SA iteration `k` (§4, §5).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PenaltySteps<T> {
    /// `λ_k`.
    pub(crate) lambda: T,
    /// The `y`-step (divided by `λ_k` when configured).
    pub(crate) step_y: T,
    /// The `z`-step `γ_k`.
    pub(crate) step_z: T,
    /// The `x`-step `s_k`.
    pub(crate) step_x: T,
    /// `λ_{k+1}`, stored once the step commits.
    pub(crate) next_lambda: f64,
}

impl<T: Float> PenaltySteps<T> {
    /// Evaluates the schedules at `k` with the stored penalty `lambda`. A
    /// value not finite in `T`, including the next penalty, is refused before
    /// any state changes (the stored `λ` stays finite).
    pub(crate) fn at(
        k: u64,
        lambda: f64,
        [step_x, step_y, step_z]: [&Step; 3],
        penalty: &Penalty,
        scale_y_by_penalty: bool,
    ) -> Result<Self, Error> {
        let ay = step_y.at(k);
        let next_lambda = penalty.next(lambda, k);
        to_t::<T>("penalty", next_lambda)?;
        Ok(PenaltySteps {
            lambda: to_t("penalty", lambda)?,
            step_y: to_t("step_y", if scale_y_by_penalty { ay / lambda } else { ay })?,
            step_z: to_t("step_z", step_z.at(k))?,
            step_x: to_t("step_x", step_x.at(k))?,
            next_lambda,
        })
    }

    /// What the iteration reports.
    pub(crate) fn report(&self, iteration: u64, eta: T) -> crate::solvers::StepReport<T> {
        crate::solvers::StepReport {
            iteration,
            step_x: self.step_x,
            step_y: self.step_y,
            step_v: self.step_z,
            eta,
            penalty: self.lambda,
            projection: T::ONE,
        }
    }
}

/// The start of a penalty method (F2SA, F3SA: §4, §5): the core at `x0`,
/// `y0`, the first state field after `y` (`z`) set to `y0`, and `λ_0`,
/// checked finite in `T`.
pub(crate) fn penalty_start<T: Float, S: AsRef<[T]> + AsMut<[T]>>(
    storage: S,
    lens: (LenFn, LenFn),
    (x0, y0): (&[T], &[T]),
    penalty: &Penalty,
) -> Result<(Core<T, S>, f64), Error> {
    let mut core = Core::new(storage, lens, x0, y0)?;
    let (p, q) = (core.p, core.q);
    core.buffer()[p + q..p + 2 * q].copy_from_slice(y0);
    let lambda = penalty.at(0);
    to_t::<T>("penalty", lambda)?;
    Ok((core, lambda))
}
