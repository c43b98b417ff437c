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
//! use bilevel::solvers::{SabaConfig, SabaGlm, SabaInit};
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

use super::{
    Core, Layout, SabaConfig, SabaInit, Solver, StepReport, check_finite, layout_len, soba_commit, to_t,
};
use crate::Float;
use crate::backend::Backend;
use crate::error::Error;
use crate::kernels::{RowWeights, ScalarSagaTable};
use crate::oracles::{Glm, uniform_index};
use crate::schedule::Schedule;

// x, y, v | dy, dv, dx, tq, ry, rv | nx, ny, nv
const LAYOUT: Layout<12> =
    [(1, 0), (0, 1), (0, 1), (0, 1), (0, 1), (1, 0), (0, 1), (0, 1), (0, 1), (1, 0), (0, 1), (0, 1)];

/// Workspace length of [`SabaGlm`]: `3p + 9q`.
///
/// ```
/// assert_eq!(bilevel::solvers::saba_glm::workspace_len(2, 3), 3 * 2 + 9 * 3);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    layout_len(&LAYOUT, p, q)
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

/// The SABA solver with scalar SAGA tables (see the [module docs](self)).
pub struct SabaGlm<T: Float, S, M> {
    config: SabaConfig<T>,
    core: Core<T, S>,
    tables: M,
    n: usize,
    m: usize,
    initialized: bool,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>> SabaGlm<T, S, M> {
    /// A solver for `problem`'s `glm_n_inner()` and `glm_n_outer()` samples,
    /// starting at `x0`, `y0`, `v_0 = 0`.
    ///
    /// Errors: the config's errors; [`Error::Empty`] if the problem has no
    /// samples or `x0`/`y0` is empty; [`Error::LengthMismatch`] if `x0`, `y0` do not
    /// match the problem's dimensions, or for
    /// `storage` or a `tables` buffer shorter than [`tables_len`].
    pub fn new<P: Glm<T>>(
        config: SabaConfig<T>,
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
        let core = Core::new(&LAYOUT, storage, x0, y0)?;
        core.check_problem(problem)?;
        let need = tables_len(y0.len(), n, m);
        let buf = tables.as_mut();
        if buf.len() < need {
            return Err(Error::LengthMismatch { what: "tables", expected: need, found: buf.len() });
        }
        buf[..need].fill(T::ZERO);
        Ok(SabaGlm { config, core, tables, n, m, initialized: config.init == SabaInit::Zero })
    }

    /// Outer iterate `x_t`.
    pub fn x(&self) -> &[T] {
        self.core.slot(&LAYOUT, 0)
    }
    /// Inner iterate `y_t`.
    pub fn y(&self) -> &[T] {
        self.core.slot(&LAYOUT, 1)
    }
    /// Linear-system iterate `v_t ≈ −H⁻¹∇_y f`.
    pub fn v(&self) -> &[T] {
        self.core.slot(&LAYOUT, 2)
    }
    /// Completed iterations.
    pub fn iteration(&self) -> u64 {
        self.core.t
    }
    /// The configuration.
    pub fn config(&self) -> &SabaConfig<T> {
        &self.config
    }

    /// One iteration (module docs).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions or
    /// sample counts differ from construction; [`Error::Diverged`] if a
    /// coefficient, a deterministic part or the new iterate is not finite
    /// (iterates kept; tables untouched unless the new iterate is the only
    /// non-finite value).
    pub fn step<P: Glm<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let (n, m) = (self.n, self.m);
        for (what, expected, found) in
            [("inner samples", n, problem.glm_n_inner()), ("outer samples", m, problem.glm_n_outer())]
        {
            if expected != found {
                return Err(Error::LengthMismatch { what, expected, found });
            }
        }
        let q = self.core.q;
        let t = self.core.t;
        let rho: T = to_t("step_y", self.config.step_y.at(t))?;
        let gamma: T = to_t("step_x", self.config.step_x.at(t))?;
        let radius = self.config.v_radius;
        let b = self.core.backend;
        let [x, y, v, dy, dv, dx, tq, ry, rv, nx, ny, nv] = self.core.slots::<12, 12>(&LAYOUT);

        let sl = ScalarSagaTable::<T, &mut [T]>::storage_len;
        let buf = self.tables.as_mut();
        let (b_s, rest) = buf.split_at_mut(sl(n, q, 1));
        let (b_u, rest) = rest.split_at_mut(sl(n, q, 1));
        let b_t = &mut rest[..sl(m, q, 1)];
        let u = RowWeights::Uniform;
        let mut t_s = ScalarSagaTable::attach(b_s, n, q, 1, u, b);
        let mut t_u = ScalarSagaTable::attach(b_u, n, q, 1, u, b);
        let mut t_t = ScalarSagaTable::attach(b_t, m, q, 1, u, b);

        let row = |r: &[T], what: &'static str| -> Result<(), Error> {
            if r.len() == q {
                Ok(())
            } else {
                Err(Error::LengthMismatch { what, expected: q, found: r.len() })
            }
        };
        if !self.initialized {
            // Classical SAGA start: coefficients at (x_0, y_0); u_i = 0 since v_0 = 0.
            for r in 0..n {
                let (s, _) = problem.glm_inner_coefs(y, v, r);
                if !s.is_finite() {
                    return Err(Error::Diverged { variable: "y", iteration: t });
                }
                let a = problem.glm_inner_row(r);
                row(a, "inner feature row")?;
                t_s.update(r, &[s], a, dy)?;
            }
            for r in 0..m {
                let tj = problem.glm_outer_coef(y, r);
                if !tj.is_finite() {
                    return Err(Error::Diverged { variable: "v", iteration: t });
                }
                let bj = problem.glm_outer_row(r);
                row(bj, "outer feature row")?;
                t_t.update(r, &[tj], bj, tq)?;
            }
            self.initialized = true;
        }

        let i = uniform_index(rng, n);
        let j = uniform_index(rng, m);
        let (a, bj) = (problem.glm_inner_row(i), problem.glm_outer_row(j));
        row(a, "inner feature row")?;
        row(bj, "outer feature row")?;
        let (s, uc) = problem.glm_inner_coefs(y, v, i);
        let tj = problem.glm_outer_coef(y, j);
        problem.glm_exact(x, y, v, ry, rv, dx);
        for (var, ok) in [("y", s.is_finite()), ("v", uc.is_finite() && tj.is_finite())] {
            if !ok {
                return Err(Error::Diverged { variable: var, iteration: t });
            }
        }
        check_finite("y", ry, t)?;
        check_finite("v", rv, t)?;
        check_finite("x", dx, t)?;

        // Scalar SAGA directions (§9.4) plus the exact parts.
        t_s.update(i, &[s], a, dy)?;
        b.axpy(T::ONE, ry, dy)?;
        t_u.update(i, &[uc], a, dv)?;
        t_t.update(j, &[tj], bj, tq)?;
        b.axpy(T::ONE, tq, dv)?;
        b.axpy(T::ONE, rv, dv)?;

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

    /// The same solver on an explicit backend. Errors: [`Error::BackendUnavailable`].
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.core.backend = backend;
        Ok(self)
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> SabaGlm<T, alloc::vec::Vec<T>, alloc::vec::Vec<T>> {
    /// [`SabaGlm::new`] on owned buffers of the right lengths.
    ///
    /// ```
    /// use bilevel_problems::synthetic::LogisticDataset;
    /// use bilevel::solvers::{SabaConfig, SabaGlm};
    /// let data = LogisticDataset::<f32>::synthetic(0, 10, 5, 3, 0.0)?;
    /// let pb = data.problem(1, 1)?;
    /// assert!(SabaGlm::new_owned(SabaConfig::default(), &pb, &[0.0; 3], &[0.0; 3]).is_ok());
    /// assert!(SabaGlm::new_owned(SabaConfig::default(), &pb, &[0.0; 3], &[0.0; 2]).is_err());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned<P: Glm<T>>(
        config: SabaConfig<T>,
        problem: &P,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        let w = workspace_len(x0.len(), y0.len());
        let tl = tables_len(y0.len(), problem.glm_n_inner(), problem.glm_n_outer());
        if w == usize::MAX || tl == usize::MAX {
            return Err(Error::InvalidParameter {
                name: "x0",
                requirement: "dimensions whose workspace fits in usize",
            });
        }
        SabaGlm::new(config, problem, alloc::vec![T::ZERO; w], alloc::vec![T::ZERO; tl], x0, y0)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>, P: Glm<T>> Solver<T, P> for SabaGlm<T, S, M> {
    fn step<R: Rng + ?Sized>(&mut self, problem: &P, rng: &mut R) -> Result<StepReport<T>, Error> {
        SabaGlm::step(self, problem, rng)
    }
    fn x(&self) -> &[T] {
        SabaGlm::x(self)
    }
    fn y(&self) -> &[T] {
        SabaGlm::y(self)
    }
    fn iteration(&self) -> u64 {
        SabaGlm::iteration(self)
    }
}
