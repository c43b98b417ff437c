//! Shared by the problem examples: every solver behind one enum, with the
//! configurations tuned for the example problems.

#![allow(dead_code)]

use bilevel::kernels::Delta;
use bilevel::oracles::{FiniteSum, SecondOrder};
use bilevel::schedule::{Momentum, Penalty, Step};
use bilevel::solvers::{
    F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, SabaInit, Soba,
    SobaConfig, Solver,
};
use bilevel::{Error, Float};

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

/// Any of the solvers on owned storage, behind one trait object.
pub type AnySolver<'p, T, P> = Box<dyn Solver<T, P> + 'p>;

/// Builds solver `name` at `x0 = 0`, `y0 = 0` for `problem` with dimensions
/// `(p, q)` (SABA sizes its tables from the problem's finite sum).
pub fn make_solver<'p, T: Float, P: SecondOrder<T> + FiniteSum<T> + 'p>(
    name: &str,
    tuning: Tuning,
    problem: &P,
    p: usize,
    q: usize,
) -> Result<AnySolver<'p, T, P>, Error> {
    let (x0, y0) = (vec![T::ZERO; p], vec![T::ZERO; q]);
    let Tuning { inner, outer, lambda0, .. } = tuning;
    Ok(match name {
        "soba" => Box::new(Soba::new_owned(
            SobaConfig {
                step_y: Step::Constant(inner),
                step_x: Step::Constant(outer),
                v_radius: f64::INFINITY,
            },
            &x0,
            &y0,
        )?),
        // SABA: constant steps (its theory and benchopt), a full pass at the start.
        "saba" => Box::new(Saba::new_owned(
            SabaConfig {
                step_y: Step::Constant(inner),
                step_x: Step::Constant(outer),
                v_radius: f64::INFINITY,
                init: SabaInit::FullPass,
            },
            problem,
            &x0,
            &y0,
        )?),
        "f2sa" => Box::new(F2sa::new_owned(
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
        "f3sa" => Box::new(F3sa::new_owned(
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
        "fmbo" => Box::new(Fmbo::new_owned(momentum_config(tuning), &x0, &y0)?),
        "fdehbo" => Box::new(FdeHbo::new_owned(momentum_config(tuning), Delta::Relative, &x0, &y0)?),
        _ => return Err(Error::InvalidParameter { name: "solver", requirement: "one of the known names" }),
    })
}

/// FMBO / FdeHBO configuration: constant steps, STORM weight 0.5.
fn momentum_config(tuning: Tuning) -> FmboConfig {
    FmboConfig {
        step_x: Step::Constant(tuning.outer),
        step_y: Step::Constant(tuning.inner),
        step_v: Step::Constant(tuning.inner),
        eta_x: Momentum::Constant(0.5),
        eta_y: Momentum::Constant(0.5),
        eta_v: Momentum::Constant(0.5),
        v_radius: tuning.v_radius,
    }
}
