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
//! - Oracle calls per iteration: as SOBA (one `grad_g` + one `hvp_jvp_g` on
//!   row `i`, one `grad_f` on row `j`), plus five fused table updates.
//! - Memory: the iterates `p + 2q` and a workspace of [`workspace_len`]; the
//!   tables [`tables_len`]`(p, q, n, m) = n(2q + p) + m(q + p) + 2(3q + 2p)`
//!   (rows plus compensated averages).
//! - Complexity (§3): `O((n+m)^(2/3) ε^(−1))` oracle calls with constant steps.
//! - Initialization ([`SabaInit`]): zero memory (benchopt; biased until
//!   every row is visited) or a full pass at the start point (classical SAGA;
//!   `n + m` extra oracle calls on the first step).
//!
//! If the sampled quantities are not finite, the step fails with
//! [`Error::Diverged`] before any table is touched; the iterates are never
//! overwritten by a non-finite candidate.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::schedule::Step;
//! use bilevel::solvers::{Saba, SabaConfig, SabaInit, Solver};
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

use super::{Core, Layout, Solver, StepReport, check_finite, check_radius, layout_len, soba_commit, to_t};
use crate::Float;
use crate::backend::Backend;
use crate::error::Error;
use crate::kernels::{RowWeights, SagaTable};
use crate::oracles::{FiniteSum, SecondOrder, uniform_index};
use crate::schedule::{Schedule, Step};

// x, y, v | gy, hv, jv, fy, fx | dy, dv, dx, tq, tp | nx, ny, nv
const LAYOUT: Layout<16> = [
    (1, 0),
    (0, 1),
    (0, 1),
    (0, 1),
    (0, 1),
    (1, 0),
    (0, 1),
    (1, 0),
    (0, 1),
    (0, 1),
    (1, 0),
    (0, 1),
    (1, 0),
    (1, 0),
    (0, 1),
    (0, 1),
];

/// Workspace length of [`Saba`] (iterates and scratch): `6p + 10q`.
///
/// ```
/// assert_eq!(bilevel::solvers::saba::workspace_len(3, 5), 6 * 3 + 10 * 5);
/// ```
pub const fn workspace_len(p: usize, q: usize) -> usize {
    layout_len(&LAYOUT, p, q)
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

/// How SABA's tables start (§3 "Table initialisation").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SabaInit {
    /// Zero memory (benchopt HEAD): biased until every row is visited.
    Zero,
    /// A full pass at the start point on the first step (classical SAGA, the
    /// paper's choice): `n` inner and `m` outer evaluations. With `v_0 = 0`
    /// the HVP and JVP tables stay zero.
    FullPass,
}

/// SABA's parameters (§3). Defaults: benchopt's constant `ρ = γ = 0.1`
/// ("Decisions": constant steps), no projection, zero initialization.
///
/// ```
/// use bilevel::schedule::Schedule;
/// let c = bilevel::solvers::SabaConfig::<f64>::default();
/// assert_eq!((c.step_y.at(100), c.step_x.at(0)), (0.1, 0.1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SabaConfig<T> {
    /// `ρ`, the step of `y` and `v`.
    pub step_y: Step,
    /// `γ`, the step of `x`.
    pub step_x: Step,
    /// Radius of the optional ball projection of `v` (`+∞`: none).
    pub v_radius: T,
    /// Table initialization.
    pub init: SabaInit,
}

impl<T: Float> Default for SabaConfig<T> {
    fn default() -> Self {
        SabaConfig {
            step_y: Step::Constant(0.1),
            step_x: Step::Constant(0.1),
            v_radius: T::INFINITY_T,
            init: SabaInit::Zero,
        }
    }
}

impl<T: Float> SabaConfig<T> {
    /// Checks the schedules and the radius.
    ///
    /// ```
    /// let c = bilevel::solvers::SabaConfig::<f32> { v_radius: -1.0, ..Default::default() };
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_y.validate("step_y")?;
        self.step_x.validate("step_x")?;
        check_radius("v_radius", self.v_radius)
    }
}

/// The SABA solver: iterates on storage `S`, the five SAGA tables on
/// storage `M` (see the [module docs](self)).
pub struct Saba<T: Float, S, M> {
    config: SabaConfig<T>,
    core: Core<T, S>,
    tables: M,
    n: usize,
    m: usize,
    initialized: bool,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>> Saba<T, S, M> {
    /// A solver for `problem`'s finite sum (its `n_inner()` and `n_outer()`
    /// rows), starting at `x0`, `y0`, `v_0 = 0`.
    ///
    /// Errors: the config's errors; [`Error::Empty`] if the problem has no
    /// inner or outer rows, or `x0`/`y0` is empty; [`Error::LengthMismatch`]
    /// for `storage` or a `tables` buffer shorter than [`tables_len`].
    pub fn new<P: FiniteSum<T>>(
        config: SabaConfig<T>,
        problem: &P,
        storage: S,
        mut tables: M,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        config.validate()?;
        let (n, m) = (problem.n_inner(), problem.n_outer());
        if n == 0 {
            return Err(Error::Empty { what: "inner samples" });
        }
        if m == 0 {
            return Err(Error::Empty { what: "outer samples" });
        }
        let core = Core::new(&LAYOUT, storage, x0, y0)?;
        core.check_problem(problem)?;
        let need = tables_len(x0.len(), y0.len(), n, m);
        let buf = tables.as_mut();
        if buf.len() < need {
            return Err(Error::LengthMismatch { what: "tables", expected: need, found: buf.len() });
        }
        buf[..need].fill(T::ZERO);
        Ok(Saba { config, core, tables, n, m, initialized: config.init == SabaInit::Zero })
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

    /// One SABA iteration (module docs).
    ///
    /// Errors: [`Error::LengthMismatch`] if the problem's dimensions or row
    /// counts differ from construction; [`Error::Diverged`] if a sampled
    /// quantity or the new iterate is not finite (tables untouched in the
    /// first case; iterates kept in both).
    pub fn step<P: SecondOrder<T> + FiniteSum<T>, R: Rng + ?Sized>(
        &mut self,
        problem: &P,
        rng: &mut R,
    ) -> Result<StepReport<T>, Error> {
        self.core.check_problem(problem)?;
        let (n, m) = (self.n, self.m);
        if problem.n_inner() != n {
            return Err(Error::LengthMismatch {
                what: "inner samples",
                expected: n,
                found: problem.n_inner(),
            });
        }
        if problem.n_outer() != m {
            return Err(Error::LengthMismatch {
                what: "outer samples",
                expected: m,
                found: problem.n_outer(),
            });
        }
        let (p, q) = (self.core.p, self.core.q);
        let t = self.core.t;
        let rho: T = to_t("step_y", self.config.step_y.at(t))?;
        let gamma: T = to_t("step_x", self.config.step_x.at(t))?;
        let radius = self.config.v_radius;
        let b = self.core.backend;
        let i = uniform_index(rng, n);
        let j = uniform_index(rng, m);
        let (zeta, xi) = (problem.inner_batch(i), problem.outer_batch(j));
        let (wi, wj) = (problem.inner_weight(i), problem.outer_weight(j));
        let [x, y, v, gy, hv, jv, fy, fx, dy, dv, dx, tq, tp, nx, ny, nv] =
            self.core.slots::<16, 16>(&LAYOUT);

        // Split the table buffer into the five tables (shape checked at
        // construction).
        let buf = self.tables.as_mut();
        let sl = SagaTable::<T, &mut [T]>::storage_len;
        let (b_gy, rest) = buf.split_at_mut(sl(n, q));
        let (b_hv, rest) = rest.split_at_mut(sl(n, q));
        let (b_jv, rest) = rest.split_at_mut(sl(n, p));
        let (b_fy, rest) = rest.split_at_mut(sl(m, q));
        let b_fx = &mut rest[..sl(m, p)];
        let u = RowWeights::Uniform;
        let mut t_gy = SagaTable::attach(b_gy, n, q, u, b);
        let mut t_hv = SagaTable::attach(b_hv, n, q, u, b);
        let mut t_jv = SagaTable::attach(b_jv, n, p, u, b);
        let mut t_fy = SagaTable::attach(b_fy, m, q, u, b);
        let mut t_fx = SagaTable::attach(b_fx, m, p, u, b);

        if !self.initialized {
            // Classical SAGA: every row at the start point; v_0 = 0, so the
            // HVP and JVP tables stay zero.
            for r in 0..n {
                problem.grad_g(x, y, &problem.inner_batch(r), None, Some(gy));
                check_finite("y", gy, t)?;
                t_gy.update_weighted(r, problem.inner_weight(r), gy, dy)?;
            }
            for r in 0..m {
                problem.grad_f(x, y, &problem.outer_batch(r), Some(fx), Some(fy));
                check_finite("v", fy, t)?;
                check_finite("x", fx, t)?;
                t_fy.update_weighted(r, problem.outer_weight(r), fy, dv)?;
                t_fx.update_weighted(r, problem.outer_weight(r), fx, dx)?;
            }
            self.initialized = true;
        }

        // Fresh quantities at (x_t, y_t, v_t) on rows i and j.
        problem.grad_g(x, y, &zeta, None, Some(gy));
        problem.hvp_jvp_g(x, y, v, &zeta, Some(hv), Some(jv));
        problem.grad_f(x, y, &xi, Some(fx), Some(fy));
        check_finite("y", gy, t)?;
        check_finite("v", hv, t)?;
        check_finite("v", fy, t)?;
        check_finite("x", jv, t)?;
        check_finite("x", fx, t)?;

        // SAGA directions (§9.4).
        t_gy.update_weighted(i, wi, gy, dy)?;
        t_hv.update_weighted(i, wi, hv, dv)?;
        t_fy.update_weighted(j, wj, fy, tq)?;
        b.axpy(T::ONE, tq, dv)?;
        t_jv.update_weighted(i, wi, jv, dx)?;
        t_fx.update_weighted(j, wj, fx, tp)?;
        b.axpy(T::ONE, tp, dx)?;

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

    /// The same solver on an explicit backend (bit-exact reproducibility).
    ///
    /// Errors: [`Error::BackendUnavailable`].
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.core.backend = backend;
        Ok(self)
    }
}

#[cfg(feature = "alloc")]
impl<T: Float> Saba<T, alloc::vec::Vec<T>, alloc::vec::Vec<T>> {
    /// [`Saba::new`] on owned buffers of the right lengths.
    ///
    /// ```
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel::solvers::{Saba, SabaConfig};
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_noise(0.1, 0.1)?.with_finite_sum(2, 2)?;
    /// let s = Saba::new_owned(SabaConfig::default(), &pb, &[0.0], &[0.0])?;
    /// assert_eq!(s.iteration(), 0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned<P: FiniteSum<T>>(
        config: SabaConfig<T>,
        problem: &P,
        x0: &[T],
        y0: &[T],
    ) -> Result<Self, Error> {
        let w = workspace_len(x0.len(), y0.len());
        let tl = tables_len(x0.len(), y0.len(), problem.n_inner(), problem.n_outer());
        if w == usize::MAX || tl == usize::MAX {
            return Err(Error::InvalidParameter {
                name: "x0",
                requirement: "dimensions whose workspace fits in usize",
            });
        }
        Saba::new(config, problem, alloc::vec![T::ZERO; w], alloc::vec![T::ZERO; tl], x0, y0)
    }
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>, M: AsMut<[T]>, P: SecondOrder<T> + FiniteSum<T>> Solver<T, P>
    for Saba<T, S, M>
{
    fn step<R: Rng + ?Sized>(&mut self, problem: &P, rng: &mut R) -> Result<StepReport<T>, Error> {
        Saba::step(self, problem, rng)
    }
    fn x(&self) -> &[T] {
        Saba::x(self)
    }
    fn y(&self) -> &[T] {
        Saba::y(self)
    }
    fn iteration(&self) -> u64 {
        Saba::iteration(self)
    }
}
