//! Shared by the problem examples: runs each selected solver on one problem
//! with a fixed seed, records a monitoring trace and a final table row.

#![allow(dead_code)]

use std::time::Instant;

use bilevel::Float;
use bilevel::oracles::{FiniteSum, SecondOrder};
use bilevel::solvers::{Control, Iterates, Solver};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::report::{self, Columns, Row, TracePoint};
use crate::solvers::{Tuning, make_solver};

/// `(validation loss, accuracy)` at `y`.
pub type EvalFn<'e, T> = &'e dyn Fn(&[T]) -> Result<(f64, f64), String>;
/// The two extra table cells at the final `(x, y)`.
pub type ExtraFn<'e, T> = &'e dyn Fn(&[T], &[T]) -> Result<[String; 2], String>;

/// What one example measures.
pub struct Metrics<'e, T> {
    pub columns: Columns,
    /// `(validation loss, accuracy)` at the current `y`.
    pub eval: EvalFn<'e, T>,
    /// The two extra table cells at the final `(x, y)`.
    pub extra: ExtraFn<'e, T>,
}

/// Runs every solver in `names` for `iters` iterations on `pb` (same seed for
/// each), evaluating about 40 times per run; the evaluation time is excluded
/// from the reported solver time. Returns the table rows and the trace.
pub fn run_solvers<T: Float, P: SecondOrder<T> + FiniteSum<T>>(
    names: &[&'static str],
    iters: u64,
    seed: u64,
    pb: &P,
    tuning: Tuning,
    metrics: &Metrics<'_, T>,
) -> Result<(Vec<Row>, Vec<TracePoint>), String> {
    let (p, q) = (pb.dim_x(), pb.dim_y());
    let every = (iters / 40).max(1);
    let mut rows = Vec::new();
    let mut trace: Vec<TracePoint> = Vec::new();
    let cols = &metrics.columns;
    for &name in names {
        let mut solver = make_solver::<T, _>(name, tuning, pb, p, q).map_err(|e| format!("{name}: {e}"))?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED);
        let point = |y: &[T], t: u64, secs: f64| -> Result<TracePoint, String> {
            let (val_loss, test_acc) = (metrics.eval)(y)?;
            Ok(TracePoint { solver: name, iteration: t, seconds: secs, val_loss, test_acc })
        };
        let first = point(solver.y(), 0, 0.0)?;
        report::progress(&first, cols);
        trace.push(first);
        let start = Instant::now();
        let mut eval_secs = 0.0;
        let mut failure = None;
        let summary = solver.run(pb, &mut rng, iters, |s, r| {
            let t = r.iteration + 1;
            if t % every == 0 || t == iters {
                let e0 = Instant::now();
                let secs = start.elapsed().as_secs_f64() - eval_secs;
                match point(s.y(), t, secs) {
                    Ok(pt) => {
                        if t % (every * 4) == 0 || t == iters {
                            report::progress(&pt, cols);
                        }
                        trace.push(pt);
                    }
                    Err(e) => {
                        failure = Some(e);
                        return Control::Stop;
                    }
                }
                eval_secs += e0.elapsed().as_secs_f64();
            }
            Control::Continue
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let secs = start.elapsed().as_secs_f64() - eval_secs;
        let (done, status) = match summary {
            Ok(s) => (s.iterations, "ok".to_string()),
            Err(e) => (solver.iteration(), format!("stopped: {e}")),
        };
        let last = point(solver.y(), done, secs)?;
        rows.push(Row {
            solver: name,
            iterations: done,
            seconds: secs,
            val_loss: last.val_loss,
            test_acc: last.test_acc,
            extra: (metrics.extra)(solver.x(), solver.y())?,
            status,
        });
    }
    Ok((rows, trace))
}
