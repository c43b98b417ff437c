//! Shared by the problem examples: every solver behind one enum, with the
//! configurations tuned for the example problems.

#![allow(dead_code)]

use bilevel::kernels::Delta;
use bilevel::oracles::{FiniteSum, SecondOrder};
use bilevel::schedule::{Momentum, Penalty, Step};
use bilevel::solvers::{
    F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, SabaInit, Soba,
    SobaConfig, Solver, StepReport,
};
use bilevel::{Error, Float};
use rand_xoshiro::rand_core::Rng;

/// Solver names accepted by `--solver`, in table order.
pub const ALL_SOLVERS: &[&str] = &["soba", "saba", "f2sa", "f3sa", "fdehbo", "fmbo"];

/// Step sizes of one example problem. The outer steps are large because the
/// hypergradient of a per-sample weight is O(1/n) (ALGORITHMS.md §10.3).
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Inner step (y, v, z).
    pub inner: f64,
    /// Outer step (x).
    pub outer: f64,
    /// Projection radius of v for FMBO/FdeHBO.
    pub v_radius: f64,
    /// Penalty for F2SA/F3SA at the first iteration.
    pub lambda0: f64,
}

/// Any of the solvers on owned storage.
pub enum AnySolver<T: Float> {
    Soba(Soba<T, Vec<T>>),
    Saba(Saba<T, Vec<T>, Vec<T>>),
    F2sa(F2sa<T, Vec<T>>),
    F3sa(F3sa<T, Vec<T>>),
    Fmbo(Fmbo<T, Vec<T>>),
    FdeHbo(FdeHbo<T, Vec<T>, Vec<T>>),
}

/// Builds solver `name` at `x0 = 0`, `y0 = 0` for `problem` with dimensions
/// `(p, q)` (SABA sizes its tables from the problem's finite sum).
pub fn make_solver<T: Float, P: FiniteSum<T>>(
    name: &str,
    tuning: Tuning,
    problem: &P,
    p: usize,
    q: usize,
) -> Result<AnySolver<T>, Error> {
    let (x0, y0) = (vec![T::ZERO; p], vec![T::ZERO; q]);
    let Tuning { inner, outer, lambda0, .. } = tuning;
    Ok(match name {
        "soba" => AnySolver::Soba(Soba::new_owned(
            SobaConfig {
                step_y: Step::Constant(inner),
                step_x: Step::Constant(outer),
                v_radius: T::INFINITY_T,
            },
            &x0,
            &y0,
        )?),
        // SABA: constant steps (its theory and benchopt), a full pass at the start.
        "saba" => AnySolver::Saba(Saba::new_owned(
            SabaConfig {
                step_y: Step::Constant(inner),
                step_x: Step::Constant(outer),
                v_radius: T::INFINITY_T,
                init: SabaInit::FullPass,
            },
            problem,
            &x0,
            &y0,
        )?),
        "f2sa" => AnySolver::F2sa(F2sa::new_owned(
            F2saConfig {
                step_x: Step::Constant(outer / 2.0),
                step_y: Step::Constant(inner),
                step_z: Step::Constant(inner),
                penalty: Penalty::Poly { c: lambda0, k0: 1.0, e: 1.0 / 7.0 },
                scale_y_by_penalty: true,
                shared_cross_sample: true,
                inner_steps: 2,
            },
            &x0,
            &y0,
        )?),
        "f3sa" => AnySolver::F3sa(F3sa::new_owned(
            F3saConfig {
                step_x: Step::Constant(outer / 2.0),
                step_y: Step::Constant(inner),
                step_z: Step::Constant(inner),
                penalty: Penalty::Poly { c: lambda0, k0: 1.0, e: 1.0 / 7.0 },
                eta: Momentum::Constant(0.5),
                scale_y_by_penalty: true,
                shared_cross_sample: true,
            },
            &x0,
            &y0,
        )?),
        "fmbo" => AnySolver::Fmbo(Fmbo::new_owned(momentum_config(tuning), &x0, &y0)?),
        "fdehbo" => AnySolver::FdeHbo(FdeHbo::new_owned(momentum_config(tuning), Delta::Relative, &x0, &y0)?),
        _ => return Err(Error::InvalidParameter { name: "solver", requirement: "one of the known names" }),
    })
}

/// FMBO / FdeHBO configuration: constant steps, STORM weight 0.5.
fn momentum_config<T: Float>(tuning: Tuning) -> FmboConfig<T> {
    FmboConfig {
        step_x: Step::Constant(tuning.outer),
        step_y: Step::Constant(tuning.inner),
        step_v: Step::Constant(tuning.inner),
        eta_x: Momentum::Constant(0.5),
        eta_y: Momentum::Constant(0.5),
        eta_v: Momentum::Constant(0.5),
        v_radius: T::from_f64(tuning.v_radius),
    }
}

impl<T: Float, P: SecondOrder<T> + FiniteSum<T>> Solver<T, P> for AnySolver<T> {
    fn step<R: Rng + ?Sized>(&mut self, problem: &P, rng: &mut R) -> Result<StepReport<T>, Error> {
        match self {
            AnySolver::Soba(s) => s.step(problem, rng),
            AnySolver::Saba(s) => s.step(problem, rng),
            AnySolver::F2sa(s) => s.step(problem, rng),
            AnySolver::F3sa(s) => s.step(problem, rng),
            AnySolver::Fmbo(s) => s.step(problem, rng),
            AnySolver::FdeHbo(s) => s.step(problem, rng),
        }
    }
    fn x(&self) -> &[T] {
        AnySolver::x(self)
    }
    fn y(&self) -> &[T] {
        AnySolver::y(self)
    }
    fn iteration(&self) -> u64 {
        AnySolver::iteration(self)
    }
}

impl<T: Float> AnySolver<T> {
    pub fn x(&self) -> &[T] {
        match self {
            AnySolver::Soba(s) => s.x(),
            AnySolver::Saba(s) => s.x(),
            AnySolver::F2sa(s) => s.x(),
            AnySolver::F3sa(s) => s.x(),
            AnySolver::Fmbo(s) => s.x(),
            AnySolver::FdeHbo(s) => s.x(),
        }
    }
    pub fn y(&self) -> &[T] {
        match self {
            AnySolver::Soba(s) => s.y(),
            AnySolver::Saba(s) => s.y(),
            AnySolver::F2sa(s) => s.y(),
            AnySolver::F3sa(s) => s.y(),
            AnySolver::Fmbo(s) => s.y(),
            AnySolver::FdeHbo(s) => s.y(),
        }
    }
    pub fn iteration(&self) -> u64 {
        match self {
            AnySolver::Soba(s) => s.iteration(),
            AnySolver::Saba(s) => s.iteration(),
            AnySolver::F2sa(s) => s.iteration(),
            AnySolver::F3sa(s) => s.iteration(),
            AnySolver::Fmbo(s) => s.iteration(),
            AnySolver::FdeHbo(s) => s.iteration(),
        }
    }
}
