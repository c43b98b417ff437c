//! SABA with scalar SAGA memory for generalized linear models
//! (ALGORITHMS.md §3 "Memory", §9.4 "Scalar memory", §10.2): the same update
//! as [`Saba`](super::Saba), but each table keeps one scalar per sample
//! ([`ScalarSagaTable`]) and the
//! deterministic parts (regularizer, cross term, `∇_x f`) are computed
//! exactly instead of being averaged. Needs a [`Glm`] problem; samples are
//! single rows (`i ~ U[n]`, `j ~ U[m]`). SOBA sign convention.
//!
//! ```text
//! (s_i, u_i) = coefficients of sample i at (y_t, v_t);  t_j at y_t
//! D_y = saga_s(i, s_i)·a + R_y          (saga: a_i (new − old) + avg)
//! D_v = saga_u(i, u_i)·a + R_v + saga_t(j, t_j)·b
//! D_x = R_x + F_x                       (exact)
//! y ← y − ρ D_y ;  v ← Π_r(v − ρ D_v) ;  x ← x − γ D_x
//! ```
//!
//! - Oracle calls per iteration: two coefficients of one training sample,
//!   one of one validation sample, and the deterministic parts: `O(q)` work
//!   plus `O(p + q)` for the exact terms.
//! - Memory: iterates `p + 2q`, a workspace of [`workspace_len`], tables of
//!   [`tables_len`]`(q, n, m) = 2n + m + 6q` floats: `O(n + m)` instead of
//!   SABA's `O((n + m)(p + q))`.
//! - Initialization as [`SabaInit`] (a full pass computes `s_i` and `t_j` at
//!   the start point; `u_i = 0` because `v_0 = 0`).
//!
//! ```
//! use bilevel_problems::synthetic::LogisticDataset;
//! use bilevel::schedule::Step;
//! use bilevel::solvers::{Iterates, SabaConfig, SabaGlm, SabaInit};
//! use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
//!
//! let data = LogisticDataset::<f64>::synthetic(1, 200, 100, 4, 0.3)?;
//! let pb = data.problem(1, 1)?;
//! let cfg = SabaConfig { step_y: Step::Constant(0.1), step_x: Step::Constant(0.05), init: SabaInit::FullPass, ..Default::default() };
//! let mut s = SabaGlm::new_owned(cfg, &pb, &[0.0; 4], &[0.0; 4])?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
//! let loss0 = data.val().mean_loss(s.y())?;
//! for _ in 0..2000 { s.step(&pb, &mut rng)?; }
//! assert!(data.val().mean_loss(s.y())? < loss0);
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::checkpoint::impl_checkpoint;
use super::sampling::{RowSampler, WithReplacement};
use super::shared::{Core, SobaStep, check_finite, diverged_on_nonfinite, radius_t, to_t, workspace};
use super::{SabaConfig, SabaInit, StepReport, impl_solver};
use crate::error::{Error, check_len};
use crate::kernels::{RowWeights, ScalarSagaTable};
use crate::oracles::Glm;
use crate::schedule::Schedule;
use crate::{Backend, Float};

workspace! {
    /// SABA-GLM's workspace: the state `x, y, v`, the three directions, the
    /// outer table's direction, the exact parts and the candidate iterate.
    struct Workspace(p, q) {
        state { v: q }
        scratch { d_y: q, d_v: q, d_x: p, d_t: q, r_y: q, r_v: q, next_x: p, next_y: q, next_v: q }
    }
}

/// Workspace length of [`SabaGlm`]: `3p + 9q`.
///
/// ```
/// assert_eq!(bilevel::solvers::saba_glm::workspace_len(2, 3), 3 * 2 + 9 * 3);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    Workspace::<f64>::len(p, q)
}

/// Table storage of [`SabaGlm`] for `n` inner and `m` outer samples of
/// dimension `q`: `2n + m + 6q` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::saba_glm::tables_len(22, 49_990, 91_701), 2 * 49_990 + 91_701 + 6 * 22);
/// ```
pub const fn tables_len(q: usize, n: usize, m: usize) -> usize {
    let t = ScalarSagaTable::<f64, &mut [f64]>::storage_len;
    t(n, q, 1).saturating_add(t(n, q, 1)).saturating_add(t(m, q, 1))
}

/// The three scalar SAGA tables (§9.4 "Scalar memory"), by name.
struct Tables<'a, T> {
    /// `s_i`, the inner gradient coefficients.
    grad: ScalarSagaTable<T, &'a mut [T]>,
    /// `u_i`, the inner HVP coefficients.
    hvp: ScalarSagaTable<T, &'a mut [T]>,
    /// `t_j`, the outer gradient coefficients.
    outer: ScalarSagaTable<T, &'a mut [T]>,
}

impl<'a, T: Float> Tables<'a, T> {
    fn split(buf: &'a mut [T], (q, n, m): (usize, usize, usize), b: Backend) -> Self {
        let len = ScalarSagaTable::<T, &mut [T]>::storage_len;
        let (grad, rest) = buf.split_at_mut(len(n, q, 1));
        let (hvp, rest) = rest.split_at_mut(len(n, q, 1));
        let outer = &mut rest[..len(m, q, 1)];
        let u = RowWeights::Uniform;
        Tables {
            grad: ScalarSagaTable::attach(grad, n, q, 1, u, b),
            hvp: ScalarSagaTable::attach(hvp, n, q, 1, u, b),
            outer: ScalarSagaTable::attach(outer, m, q, 1, u, b),
        }
    }
}

/// A coefficient that must be finite (`Diverged` naming `variable` otherwise).
fn finite<T: Float>(c: T, variable: &'static str, iteration: u64) -> Result<T, Error> {
    if c.is_finite() { Ok(c) } else { Err(Error::Diverged { variable, iteration }) }
}

/// The SABA solver with scalar SAGA tables (see the [module docs](self)).
///
/// ```
/// use bilevel::solvers::{Iterates, SabaConfig, SabaGlm};
/// let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 3, 0.3)?;
/// let pb = data.problem(1, 1)?;
/// let s = SabaGlm::new_owned(SabaConfig::default(), &pb, &[0.0; 3], &[0.0; 3])?;
/// assert_eq!(s.y(), &[0.0; 3]);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SabaGlm<T, S, M, D = WithReplacement> {
    config: SabaConfig,
    core: Core<T, S>,
    tables: M,
    n: usize,
    m: usize,
    sampler: D,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>> SabaGlm<T, S, M> {
    /// A solver for `problem`'s `glm_n_inner()` and `glm_n_outer()` samples,
    /// starting at `x0`, `y0`, `v_0 = 0`; with [`SabaInit::FullPass`] it
    /// fills the tables at the start point here.
    ///
    /// Errors: the config's errors; [`Error::Empty`] if the problem has no
    /// samples or `x0`/`y0` is empty; [`Error::LengthMismatch`] if `x0`, `y0`
    /// do not match the problem's dimensions, for `storage`, a `tables` buffer
    /// shorter than [`tables_len`], or a feature row of the wrong length;
    /// [`Error::Diverged`] if the full pass meets a non-finite coefficient.
    ///
    /// ```
    /// use bilevel::{Error, solvers::{SabaConfig, SabaGlm, saba_glm}};
    /// let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 3, 0.3)?;
    /// let pb = data.problem(1, 1)?;
    /// let e = SabaGlm::new(SabaConfig::default(), &pb, vec![0.0; saba_glm::workspace_len(3, 3)], vec![0.0; 5], &[0.0; 3], &[0.0; 3]);
    /// assert!(matches!(e, Err(Error::LengthMismatch { what: "tables", .. })));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new<P: Glm<T>>(
        config: SabaConfig,
        problem: &P,
        storage: S,
        mut tables: M,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        config.validate()?;
        let (n, m) = (problem.glm_n_inner(), problem.glm_n_outer());
        if n == 0 {
            return Err(Error::Empty { what: "inner samples" });
        }
        if m == 0 {
            return Err(Error::Empty { what: "outer samples" });
        }
        let mut core = Core::new(storage, (workspace_len, Workspace::<T>::state_len), x0, y0)?;
        core.check_problem(problem)?;
        let (p, q) = (core.p, core.q);
        let need = tables_len(q, n, m);
        let buf = tables.as_mut();
        if buf.len() < need {
            return Err(Error::LengthMismatch { what: "tables", expected: need, found: buf.len() });
        }
        buf[..need].fill(T::ZERO);
        if config.init == SabaInit::FullPass {
            // Classical SAGA start: coefficients at (x_0, y_0); u_i = 0 since v_0 = 0.
            let w = Workspace::split(core.buffer(), p, q);
            let mut t = Tables::split(buf, (q, n, m), Backend::detect());
            for r in 0..n {
                let s = finite(problem.glm_inner_coefs(w.y, w.v, r).0, "y", 0)?;
                let a = problem.glm_inner_row(r);
                check_len("inner feature row", q, a.len())?;
                t.grad.store(r, &[s], a)?;
            }
            for r in 0..m {
                let tj = finite(problem.glm_outer_coef(w.y, r), "v", 0)?;
                let b = problem.glm_outer_row(r);
                check_len("outer feature row", q, b.len())?;
                t.outer.store(r, &[tj], b)?;
            }
            if buf[..need].iter().any(|v| !v.is_finite()) {
                return Err(Error::Diverged { variable: "tables", iteration: 0 });
            }
        }
        Ok(SabaGlm { config, core, tables, n, m, sampler: WithReplacement })
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>, D: RowSampler> SabaGlm<T, S, M, D> {
    /// The same solver drawing its rows with `sampler` (see
    /// [`sampling`](super::sampling); default [`WithReplacement`]).
    ///
    /// ```
    /// use bilevel::solvers::{SabaConfig, SabaGlm, sampling::Cyclic};
    /// # let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// # let pb = data.problem(2, 2)?;
    /// let s = SabaGlm::new_owned(SabaConfig::default(), &pb, &[0.0; 2], &[0.0; 2])?.with_sampler(Cyclic::default());
    /// assert_eq!(s.sampler(), &Cyclic::default());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn with_sampler<D2: RowSampler>(self, sampler: D2) -> SabaGlm<T, S, M, D2> {
        let SabaGlm { config, core, tables, n, m, .. } = self;
        SabaGlm { config, core, tables, n, m, sampler }
    }

    /// The row sampler.
    ///
    /// ```
    /// use bilevel::solvers::{SabaConfig, SabaGlm, sampling::WithReplacement};
    /// # let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// # let pb = data.problem(2, 2)?;
    /// let s = SabaGlm::new_owned(SabaConfig::default(), &pb, &[0.0; 2], &[0.0; 2])?;
    /// assert_eq!(s.sampler(), &WithReplacement);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn sampler(&self) -> &D {
        &self.sampler
    }

    /// The configuration.
    ///
    /// ```
    /// use bilevel::solvers::{SabaConfig, SabaGlm};
    /// let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// let s = SabaGlm::new_owned(SabaConfig::default(), &data.problem(1, 1)?, &[0.0; 2], &[0.0; 2])?;
    /// assert_eq!(s.config(), &SabaConfig::default());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &SabaConfig {
        &self.config
    }

    /// One iteration (module docs): all or nothing.
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions,
    /// sample counts or feature rows differ from construction;
    /// [`Error::Diverged`] if a coefficient, a deterministic part or the new
    /// iterate is not finite. In every case the iterates and the tables are
    /// left as they were.
    ///
    /// ```
    /// use bilevel::solvers::{Iterates, SabaConfig, SabaGlm};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// let pb = data.problem(1, 1)?;
    /// let mut s = SabaGlm::new_owned(SabaConfig::default(), &pb, &[0.0; 2], &[0.0; 2])?;
    /// s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!(s.iteration(), 1);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn step<P: Glm<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let (n, m) = (self.n, self.m);
        check_len("inner samples", n, problem.glm_n_inner())?;
        check_len("outer samples", m, problem.glm_n_outer())?;
        let t = self.core.t;
        let rho: T = to_t("step_y", self.config.step_y.at(t))?;
        let gamma: T = to_t("step_x", self.config.step_x.at(t))?;
        let i = self.sampler.next_inner(rng, n);
        let j = self.sampler.next_outer(rng, m);
        let done = self.step_at(problem, (i, j), (rho, gamma));
        if done.is_err() {
            self.sampler.undo();
        }
        done
    }

    /// The step on samples `i` and `j` (the sampler has drawn them).
    fn step_at<P: Glm<T>>(
        &mut self,
        problem: &P,
        (i, j): (usize, usize),
        (rho, gamma): (T, T),
    ) -> Result<StepReport<T>, Error> {
        let (p, q, n, m, t) = (self.core.p, self.core.q, self.n, self.m, self.core.t);
        let b = self.core.backend;
        let limit = self.core.limit;
        let w = Workspace::split(self.core.buffer(), p, q);
        let mut tables = Tables::split(self.tables.as_mut(), (q, n, m), b);

        let (a, bj) = (problem.glm_inner_row(i), problem.glm_outer_row(j));
        check_len("inner feature row", q, a.len())?;
        check_len("outer feature row", q, bj.len())?;
        let (s, u) = problem.glm_inner_coefs(w.y, w.v, i);
        let (s, u) = (finite(s, "y", t)?, finite(u, "v", t)?);
        let tj = finite(problem.glm_outer_coef(w.y, j), "v", t)?;
        problem.glm_exact(w.x, w.y, w.v, w.r_y, w.r_v, w.d_x);
        check_finite("y", w.r_y, t)?;
        check_finite("v", w.r_v, t)?;
        check_finite("x", w.d_x, t)?;

        // Scalar SAGA directions (§9.4), read without writing, plus the exact parts.
        tables.grad.direction(i, &[s], a, w.d_y).map_err(diverged_on_nonfinite("y", t))?;

        tables.hvp.direction(i, &[u], a, w.d_v).map_err(diverged_on_nonfinite("v", t))?;
        tables.outer.direction(j, &[tj], bj, w.d_t).map_err(diverged_on_nonfinite("v", t))?;

        b.axpy(T::ONE, w.r_v, w.d_v)?;

        let next = SobaStep { x: w.x, y: w.y, v: w.v, next_x: w.next_x, next_y: w.next_y, next_v: w.next_v };
        let radius = radius_t(self.config.v_radius);
        let dirs = [(&*w.d_x, None), (&*w.d_y, Some(&*w.r_y)), (&*w.d_v, Some(&*w.d_t))];
        let projection = next.apply((b, limit), t, dirs, (rho, gamma, radius))?;
        // Committed: store the coefficients (cannot fail, checked above).
        tables.grad.store(i, &[s], a)?;
        tables.hvp.store(i, &[u], a)?;
        tables.outer.store(j, &[tj], bj)?;
        self.core.t = t + 1;
        Ok(StepReport::soba(t, gamma, rho, projection))
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> SabaGlm<T, alloc::vec::Vec<T>, alloc::vec::Vec<T>> {
    /// [`SabaGlm::new`] on owned buffers of the right lengths.
    ///
    /// ```
    /// use bilevel::solvers::{Iterates, SabaConfig, SabaGlm};
    /// let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// let s = SabaGlm::new_owned(SabaConfig::default(), &data.problem(1, 1)?, &[0.0; 2], &[0.0; 2])?;
    /// assert_eq!(s.iteration(), 0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned<P: Glm<T>>(config: SabaConfig, problem: &P, x0: &[T], y0: &[T]) -> Result<Self, Error> {
        use super::shared::owned;
        let (p, q) = (x0.len(), y0.len());
        let tables = owned(tables_len(q, problem.glm_n_inner(), problem.glm_n_outer()))?;
        SabaGlm::new(config, problem, owned(workspace_len(p, q))?, tables, x0, y0)
    }
}

impl_solver!(v: SabaGlm<T, S, M, D> where [M: AsMut<[T]>, D: RowSampler], Glm<T>);
impl_checkpoint!(SabaGlm<T, S, M, D> where [M: AsRef<[T]> + AsMut<[T]>, D: RowSampler], tables: |s: &Self| tables_len(s.core.q, s.n, s.m), penalty: none);
