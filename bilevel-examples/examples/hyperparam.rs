//! Hyperparameter selection for logistic regression with one regularization
//! strength per feature (ALGORITHMS.md §10.2, the IJCNN1 experiment of the
//! SOBA/SABA paper) on seeded synthetic data of the IJCNN1 shape.
//!
//! The inner problem trains the weights `y` with the penalty
//! `½ Σ_k e^{x_k} y_k²`; the outer problem picks the log-strengths `x` that
//! minimize the logistic loss on the validation set. Half of the synthetic
//! features carry no signal, so a good solver regularizes them more.
//!
//! Run: `cargo run --release --example hyperparam` (flags: `--help`).
//! Writes `trace.csv` and `plot.svg` into the output directory (default
//! `out/hyperparam`).

use bilevel::Float;
use bilevel_problems::logistic::{LogisticHyper, binary_data};
use bilevel_problems::synthetic::LogisticDataset;

use bilevel_examples::driver::{self, Metrics};
use bilevel_examples::report::{self, Args, Columns, Flag};
use bilevel_examples::solvers::{ALL_SOLVERS, Tuning};

/// Held-out samples drawn after the validation set, for the test accuracy.
const N_TEST: usize = 20_000;
/// Minibatch size of the inner and outer losses.
const BATCH: usize = 64;
/// Step sizes for this problem (see `common/solvers.rs`).
const TUNING: Tuning = Tuning { inner: 0.5, outer: 0.5, v_radius: 50.0, lambda0: 3.0 };

const HELP: &str = "\
hyperparam: per-feature regularization of logistic regression on synthetic IJCNN1-shaped data
(49,990 training, 91,701 validation, 20,000 test samples, 22 features) with every solver.

USAGE: cargo run --release --example hyperparam -- [FLAGS]

FLAGS:
  --solver LIST      comma-separated subset of soba,saba,f2sa,f3sa,fdehbo,fmbo, or all (default all)
  --iters N          iterations per solver (default 20000)
  --seed S           seed of the data and the sampling (default 0)
  --f32              run in single precision (default f64)
  --out DIR          output directory for trace.csv and plot.svg (default out/hyperparam)
  --help             this text
";

fn main() {
    let args = match Args::parse(
        std::env::args().skip(1),
        &[
            Flag::list("--solver", ALL_SOLVERS),
            Flag::int("--iters", 20000),
            Flag::int("--seed", 0),
            Flag::switch("--f32"),
            Flag::path("--out", "out/hyperparam"),
        ],
        HELP,
    ) {
        Ok(a) => a,
        Err(code) => std::process::exit(code),
    };
    let result = if args.switch("--f32") { run::<f32>(&args) } else { run::<f64>(&args) };
    if let Err(e) = result {
        eprintln!("hyperparam: {e}");
        std::process::exit(1);
    }
}

/// Mean of `e^{x_k}` over the features `range`.
fn mean_strength<T: Float>(x: &[T], range: std::ops::Range<usize>) -> f64 {
    let n = range.len().max(1) as f64;
    x[range].iter().map(|v| v.to_f64().exp()).sum::<f64>() / n
}

fn run<T: Float>(args: &Args) -> Result<(), String> {
    let iters = args.int("--iters");
    let seed = args.int("--seed");
    let (n_train, n_val, d) = (
        LogisticDataset::<T>::IJCNN1_TRAIN,
        LogisticDataset::<T>::IJCNN1_VAL,
        LogisticDataset::<T>::IJCNN1_DIM,
    );
    // One draw of the same linear model; its extra validation rows become the test set.
    let data =
        LogisticDataset::<T>::synthetic(seed, n_train, n_val + N_TEST, d, 0.3).map_err(|e| e.to_string())?;
    let all_val = data.val();
    let (vf, tf) = all_val.features().split_at(n_val * d);
    let (vl, tl) = all_val.labels().split_at(n_val);
    let val = binary_data(vf, vl, d).map_err(|e| e.to_string())?;
    let test = binary_data(tf, tl, d).map_err(|e| e.to_string())?;
    let pb = LogisticHyper::new(data.train(), val, BATCH, BATCH).map_err(|e| e.to_string())?;
    // The generator puts the signal on the first ⌈d/2⌉ features.
    let informative = d.div_ceil(2);
    println!(
        "per-feature regularization: synthetic IJCNN1 shape, {n_train} train, {n_val} validation, {N_TEST} test, \
         {d} features ({informative} informative), minibatches of {BATCH}; p = q = {d}, {}",
        T::NAME
    );

    let columns = Columns {
        accuracy: "test accuracy",
        loss: "logistic loss",
        extra: ["mean e^x informative", "mean e^x noise features"],
    };
    let eval = |y: &[T]| -> Result<(f64, f64), String> {
        let val_loss = val.mean_loss(y).map_err(|e| e.to_string())?.to_f64();
        Ok((val_loss, test.accuracy(y).map_err(|e| e.to_string())?))
    };
    let extra = |x: &[T], _: &[T]| -> Result<[String; 2], String> {
        Ok([
            format!("{:.3}", mean_strength(x, 0..informative)),
            format!("{:.3}", mean_strength(x, informative..d)),
        ])
    };
    let metrics = Metrics { columns, eval: &eval, extra: &extra };
    let (rows, trace) = driver::run_solvers(&args.list("--solver"), iters, seed, &pb, TUNING, &metrics)?;
    report::table(&rows, &columns, "mean e^x: learned regularization strength (start: 1)");
    let dir = std::path::PathBuf::from(args.path("--out"));
    let (csv, svg) =
        report::write_outputs(&dir, &trace, "Per-feature regularization (synthetic IJCNN1 shape)", &columns)?;
    println!("wrote {}\nwrote {}", csv.display(), svg.display());
    Ok(())
}
