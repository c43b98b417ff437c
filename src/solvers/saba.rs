//! SABA, the Stochastic Average Bilevel Algorithm (Dagréou et al. 2022;
//! ALGORITHMS.md §3): SOBA's directions with each of the five sampled
//! quantities replaced by a SAGA variance-reduced estimate (§9.4), on a
//! finite-sum problem (`g = Σ_i w_i g_i`, `f = Σ_j w_j f_j`). SOBA sign
//! convention (`v ≈ −H⁻¹∇_y f`, §0).
//!
//! ```text
//! i ~ U[n], j ~ U[m]   (rows of the tables: the problem's minibatches)
//! D_y = saga(M_gy, i, Gy(x,y;i))
//! D_v = saga(M_hv, i, HVP(x,y,v;i)) + saga(M_fy, j, Fy(x,y;j))
//! D_x = saga(M_jv, i, JVP(x,y,v;i)) + saga(M_fx, j, Fx(x,y;j))
//! y ← y − ρ D_y ;  v ← Π_r(v − ρ D_v) ;  x ← x − γ D_x
//! ```
//!
//! `saga(M, i, new)` returns `new − M[i] + avg(M)` and stores `new`
//! ([`SagaTable::update_weighted`](crate::kernels::SagaTable::update_weighted)).
//!
//! - Oracle calls per iteration: as SOBA (one
//!   [`inner_eval`](crate::oracles::SecondOrder::inner_eval) on row `i` for
//!   `∇_y g`, `H v`, `J v`, one `grad_f` on row `j`), plus five table
//!   directions and, once the step is accepted, five table stores. `∇_x g` is
//!   never requested.
//! - Memory: the iterates `p + 2q` and a workspace of [`workspace_len`]; the
//!   tables [`tables_len`]`(p, q, n, m) = n(2q + p) + m(q + p) + 2(3q + 2p)`
//!   (rows plus compensated averages).
//! - Complexity (§3): `O((n+m)^(2/3) ε^(−1))` oracle calls with constant steps.
//! - Initialization ([`SabaInit`]): zero memory (benchopt; biased until
//!   every row is visited) or a full pass at the start point (classical SAGA;
//!   `n + m` extra oracle calls, made by the constructor).
//!
//! Steps are all-or-nothing: the directions are read from the tables
//! ([`SagaTable::direction`](crate::kernels::SagaTable::direction)), the
//! candidate iterate is checked, and only then are the iterates and the five
//! tables written ([`SagaTable::store`](crate::kernels::SagaTable::store)).
//! A failed step ([`Error::Diverged`], a bad weight) leaves every table,
//! average and iterate as it was.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::Step;
//! use bilevel::solvers::{Iterates, Saba, SabaConfig, SabaInit};
//! use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
//!
//! // §10.1 scalar problem as a finite sum of 4 noisy terms whose mean is exact.
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_noise(0.5, 0.5)?.with_finite_sum(4, 4)?;
//! let cfg = SabaConfig { step_y: Step::Constant(0.2), step_x: Step::Constant(0.1), init: SabaInit::FullPass, ..Default::default() };
//! let mut s = Saba::new_owned(cfg, &pb, &[0.0], &[0.0])?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
//! for _ in 0..4000 { s.step(&pb, &mut rng)?; }
//! assert!((s.x()[0] - 1.0 / 0.7).abs() < 1e-6); // variance reduction: converges with constant steps
//! # Ok::<(), bilevel::Error>(())
//! ```

use rand_core::Rng;

use super::checkpoint::impl_checkpoint;
use super::config::{SabaConfig, SabaInit};
use super::sampling::{RowSampler, WithReplacement};
use super::shared::{Core, SobaStep, checked_weight, diverged_on_nonfinite, radius_t, to_t, workspace};
use super::{StepReport, impl_solver};
use crate::error::Error;
use crate::kernels::{RowWeights, SagaTable};
use crate::oracles::{FiniteSum, InnerEval, SecondOrder};
use crate::schedule::Schedule;
use crate::{Backend, Float};

workspace! {
    /// SABA's workspace (§3): the state `x, y, v`, the five sampled
    /// quantities, the three directions and the candidate iterate.
    struct Workspace(p, q) {
        state { v: q }
        scratch {
            g_y: q, hvp: q, jvp: p, f_y: q, f_x: p, d_y: q, d_v: q, d_x: p, tmp_q: q, tmp_p: p,
            next_x: p, next_y: q, next_v: q,
        }
    }
}

/// Workspace length of [`Saba`] (iterates and scratch): `6p + 10q`.
///
/// ```
/// assert_eq!(bilevel::solvers::saba::workspace_len(3, 5), 6 * 3 + 10 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    Workspace::<f64>::len(p, q)
}

/// Table storage of [`Saba`] for `n` inner and `m` outer rows:
/// `n(2q + p) + m(q + p) + 2(3q + 2p)` (saturating).
///
/// ```
/// assert_eq!(bilevel::solvers::saba::tables_len(1, 1, 4, 2), 4 * 3 + 2 * 2 + 2 * 5);
/// ```
pub const fn tables_len(p: usize, q: usize, n: usize, m: usize) -> usize {
    let t = SagaTable::<f64, &mut [f64]>::storage_len;
    t(n, q).saturating_add(t(n, q)).saturating_add(t(n, p)).saturating_add(t(m, q)).saturating_add(t(m, p))
}

/// SABA's five SAGA tables (§3), by name, on one buffer.
struct Tables<'a, T> {
    /// `∇_y g_i`, `n × q`.
    g_y: SagaTable<T, &'a mut [T]>,
    /// `∇²_yy g_i v`, `n × q`.
    hvp: SagaTable<T, &'a mut [T]>,
    /// `∇²_xy g_i v`, `n × p`.
    jvp: SagaTable<T, &'a mut [T]>,
    /// `∇_y f_j`, `m × q`.
    f_y: SagaTable<T, &'a mut [T]>,
    /// `∇_x f_j`, `m × p`.
    f_x: SagaTable<T, &'a mut [T]>,
}

impl<'a, T: Float> Tables<'a, T> {
    /// Views of the tables in `buf` (at least [`tables_len`] long, checked at
    /// construction).
    fn split(buf: &'a mut [T], (p, q, n, m): (usize, usize, usize, usize), b: Backend) -> Self {
        let len = SagaTable::<T, &mut [T]>::storage_len;
        let (g_y, rest) = buf.split_at_mut(len(n, q));
        let (hvp, rest) = rest.split_at_mut(len(n, q));
        let (jvp, rest) = rest.split_at_mut(len(n, p));
        let (f_y, rest) = rest.split_at_mut(len(m, q));
        let f_x = &mut rest[..len(m, p)];
        let u = RowWeights::Uniform;
        Tables {
            g_y: SagaTable::attach(g_y, n, q, u, b),
            hvp: SagaTable::attach(hvp, n, q, u, b),
            jvp: SagaTable::attach(jvp, n, p, u, b),
            f_y: SagaTable::attach(f_y, m, q, u, b),
            f_x: SagaTable::attach(f_x, m, p, u, b),
        }
    }
}

/// The SABA solver: iterates on storage `S`, the five SAGA tables on
/// storage `M` (see the [module docs](self)).
///
/// ```
/// use bilevel::quadratic::Quadratic;
/// use bilevel::solvers::{Iterates, Saba, SabaConfig, saba};
/// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_finite_sum(4, 2)?;
/// let mut tables = vec![0.0; saba::tables_len(1, 1, 4, 2)];
/// let s = Saba::new(SabaConfig::default(), &pb, [0.0; saba::workspace_len(1, 1)], &mut tables[..], &[1.0], &[0.0])?;
/// assert_eq!(s.x(), &[1.0]);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Saba<T, S, M, D = WithReplacement> {
    config: SabaConfig,
    core: Core<T, S>,
    tables: M,
    n: usize,
    m: usize,
    sampler: D,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>> Saba<T, S, M> {
    /// A solver for `problem`'s finite sum (its `n_inner()` and `n_outer()`
    /// rows), starting at `x0`, `y0`, `v_0 = 0`; with [`SabaInit::FullPass`]
    /// it fills the tables at the start point here.
    ///
    /// Errors: the config's errors; [`Error::Empty`] if the problem has no
    /// inner or outer rows, or `x0`/`y0` is empty; [`Error::LengthMismatch`]
    /// for `storage` or a `tables` buffer shorter than [`tables_len`];
    /// [`Error::InvalidParameter`] (`"inner_weight"`, `"outer_weight"`) for
    /// row weights that are negative, not finite, or do not sum to 1;
    /// [`Error::Diverged`] if the full pass meets a non-finite gradient.
    ///
    /// ```
    /// use bilevel::{Error, quadratic::Quadratic, solvers::{Saba, SabaConfig, saba}};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_finite_sum(4, 2)?;
    /// let e = Saba::new(SabaConfig::default(), &pb, [0.0; saba::workspace_len(1, 1)], vec![0.0; 3], &[1.0], &[0.0]);
    /// assert!(matches!(e, Err(Error::LengthMismatch { what: "tables", .. })));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new<P: SecondOrder<T> + FiniteSum<T>>(
        config: SabaConfig,
        problem: &P,
        storage: S,
        mut tables: M,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        config.validate()?;
        let mut core = Core::new(storage, (workspace_len, Workspace::<T>::state_len), x0, y0)?;
        core.check_problem(problem)?;
        let (n, m) = super::shared::check_rows(problem)?;
        let (p, q) = (core.p, core.q);
        let need = tables_len(p, q, n, m);
        let buf = tables.as_mut();
        if buf.len() < need {
            return Err(Error::LengthMismatch { what: "tables", expected: need, found: buf.len() });
        }
        buf[..need].fill(T::ZERO);
        if config.init == SabaInit::FullPass {
            // Classical SAGA: every row at the start point; v_0 = 0, so the
            // HVP and JVP tables stay zero.
            let w = Workspace::split(core.buffer(), p, q);
            let mut t = Tables::split(buf, (p, q, n, m), Backend::detect());
            for r in 0..n {
                problem.grad_g(w.x, w.y, &problem.inner_batch(r), None, Some(w.g_y));
                super::shared::check_finite("y", w.g_y, 0)?;
                t.g_y.store(r, problem.inner_weight(r), w.g_y)?;
            }
            for r in 0..m {
                problem.grad_f(w.x, w.y, &problem.outer_batch(r), Some(w.f_x), Some(w.f_y));
                super::shared::check_finite("v", w.f_y, 0)?;
                super::shared::check_finite("x", w.f_x, 0)?;
                t.f_y.store(r, problem.outer_weight(r), w.f_y)?;
                t.f_x.store(r, problem.outer_weight(r), w.f_x)?;
            }
            if buf[..need].iter().any(|v| !v.is_finite()) {
                return Err(Error::Diverged { variable: "tables", iteration: 0 });
            }
        }
        Ok(Saba { config, core, tables, n, m, sampler: WithReplacement })
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>, D: RowSampler> Saba<T, S, M, D> {
    /// The same solver drawing its rows with `sampler` (see
    /// [`sampling`](super::sampling); default [`WithReplacement`]).
    ///
    /// ```
    /// use bilevel::solvers::{SabaConfig, Saba, sampling::Cyclic};
    /// # let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// # let pb = data.problem(2, 2)?;
    /// let s = Saba::new_owned(SabaConfig::default(), &pb, &[0.0; 2], &[0.0; 2])?.with_sampler(Cyclic::default());
    /// assert_eq!(s.sampler(), &Cyclic::default());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn with_sampler<D2: RowSampler>(self, sampler: D2) -> Saba<T, S, M, D2> {
        let Saba { config, core, tables, n, m, .. } = self;
        Saba { config, core, tables, n, m, sampler }
    }

    /// The row sampler.
    ///
    /// ```
    /// use bilevel::solvers::{SabaConfig, Saba, sampling::WithReplacement};
    /// # let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(1, 20, 10, 2, 0.3)?;
    /// # let pb = data.problem(2, 2)?;
    /// let s = Saba::new_owned(SabaConfig::default(), &pb, &[0.0; 2], &[0.0; 2])?;
    /// assert_eq!(s.sampler(), &WithReplacement);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn sampler(&self) -> &D {
        &self.sampler
    }

    /// The configuration.
    ///
    /// ```
    /// use bilevel::{quadratic::Quadratic, solvers::{Saba, SabaConfig, SabaInit}};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_finite_sum(2, 2)?;
    /// assert_eq!(Saba::new_owned(SabaConfig::default(), &pb, &[0.0], &[0.0])?.config().init, SabaInit::Zero);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn config(&self) -> &SabaConfig {
        &self.config
    }

    /// One SABA iteration (module docs): all or nothing.
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions or row
    /// counts differ from construction; [`Error::InvalidParameter`] for a
    /// sampled row weight that is negative or not finite; [`Error::Diverged`]
    /// if the new iterate is not finite. In every case the iterates and the
    /// tables are left as they were.
    ///
    /// ```
    /// use bilevel::{quadratic::Quadratic, solvers::{Iterates, Saba, SabaConfig}};
    /// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_finite_sum(2, 2)?;
    /// let mut s = Saba::new_owned(SabaConfig::default(), &pb, &[0.0], &[0.0])?;
    /// s.step(&pb, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// assert_eq!(s.iteration(), 1);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn step<P: SecondOrder<T> + FiniteSum<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let (n, m) = (self.n, self.m);
        super::shared::check_same_rows(problem, n, m)?;
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

    /// The step on rows `i` and `j` (the sampler has drawn them).
    fn step_at<P: SecondOrder<T> + FiniteSum<T>>(
        &mut self,
        problem: &P,
        (i, j): (usize, usize),
        (rho, gamma): (T, T),
    ) -> Result<StepReport<T>, Error> {
        let (p, q, n, m, t) = (self.core.p, self.core.q, self.n, self.m, self.core.t);
        let b = self.core.backend;
        let (zeta, xi) = (problem.inner_batch(i), problem.outer_batch(j));
        let wi = checked_weight("inner_weight", problem.inner_weight(i))?;
        let wj = checked_weight("outer_weight", problem.outer_weight(j))?;
        let limit = self.core.limit;
        let w = Workspace::split(self.core.buffer(), p, q);
        let mut tables = Tables::split(self.tables.as_mut(), (p, q, n, m), b);

        // Fresh quantities at (x_t, y_t, v_t) on rows i and j.
        let inner = InnerEval {
            grad_y: Some(&mut *w.g_y),
            grad_x: None,
            hvp: Some(&mut *w.hvp),
            jvp: Some(&mut *w.jvp),
        };
        problem.inner_eval(w.x, w.y, w.v, &zeta, inner);
        problem.grad_f(w.x, w.y, &xi, Some(w.f_x), Some(w.f_y));

        // SAGA directions (§9.4), read without writing the tables.
        tables.g_y.direction(i, wi, w.g_y, w.d_y).map_err(diverged_on_nonfinite("y", t))?;
        tables.hvp.direction(i, wi, w.hvp, w.d_v).map_err(diverged_on_nonfinite("v", t))?;
        tables.f_y.direction(j, wj, w.f_y, w.tmp_q).map_err(diverged_on_nonfinite("v", t))?;

        tables.jvp.direction(i, wi, w.jvp, w.d_x).map_err(diverged_on_nonfinite("x", t))?;
        tables.f_x.direction(j, wj, w.f_x, w.tmp_p).map_err(diverged_on_nonfinite("x", t))?;

        let next = SobaStep { x: w.x, y: w.y, v: w.v, next_x: w.next_x, next_y: w.next_y, next_v: w.next_v };
        let radius = radius_t(self.config.v_radius);
        let dirs = [(&*w.d_x, Some(&*w.tmp_p)), (&*w.d_y, None), (&*w.d_v, Some(&*w.tmp_q))];
        let projection = next.apply((b, limit), t, dirs, (rho, gamma, radius))?;
        // The step is committed: store the fresh quantities (cannot fail:
        // rows, lengths and weights were checked above).
        tables.g_y.store(i, wi, w.g_y)?;
        tables.hvp.store(i, wi, w.hvp)?;
        tables.jvp.store(i, wi, w.jvp)?;
        tables.f_y.store(j, wj, w.f_y)?;
        tables.f_x.store(j, wj, w.f_x)?;
        self.core.t = t + 1;
        Ok(StepReport::soba(t, gamma, rho, projection))
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> Saba<T, alloc::vec::Vec<T>, alloc::vec::Vec<T>> {
    /// [`Saba::new`] on owned buffers of the right lengths.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{Iterates, Saba, SabaConfig};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_noise(0.1, 0.1)?.with_finite_sum(2, 2)?;
    /// let s = Saba::new_owned(SabaConfig::default(), &pb, &[0.0], &[0.0])?;
    /// assert_eq!(s.iteration(), 0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned<P: SecondOrder<T> + FiniteSum<T>>(
        config: SabaConfig,
        problem: &P,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        use super::shared::owned;
        let (p, q, n, m) = (x0.len(), y0.len(), problem.n_inner(), problem.n_outer());
        Saba::new(config, problem, owned(workspace_len(p, q))?, owned(tables_len(p, q, n, m))?, x0, y0)
    }
}

impl_solver!(v: Saba<T, S, M, D> where [M: AsMut<[T]>, D: RowSampler], SecondOrder<T> + FiniteSum<T>);
impl_checkpoint!(Saba<T, S, M, D> where [M: AsRef<[T]> + AsMut<[T]>, D: RowSampler], tables: |s: &Self| tables_len(s.core.p, s.core.q, s.n, s.m), penalty: none);
