//! Data hyper-cleaning on real handwritten digits (ALGORITHMS.md §10.3).
//!
//! A linear 10-class classifier is trained on digits whose training labels are
//! partly corrupted; every training sample i has a weight σ(x_i) in the inner
//! loss, and the outer loss is the cross-entropy on a clean validation set. The
//! bilevel solvers learn the weights: corrupted samples should end with
//! σ(x_i) < 0.5.
//!
//! Run: `cargo run --release --example hyperclean` (flags: `--help`).
//! Writes `trace.csv` and `plot.svg` into the output directory (default
//! `out/hyperclean`).

use bilevel::Float;
use bilevel::oracles::Problem;
use bilevel_problems::hyperclean::HyperClean;
use bilevel_problems::metrics::detection_scores;
use bilevel_problems::pipeline::{CleaningData, load_digits};

use bilevel_examples::driver::{self, Metrics};
use bilevel_examples::report::{self, Args, Columns, Flag};
use bilevel_examples::solvers::{ALL_SOLVERS, Tuning};

const K: usize = 10;
const N_TRAIN: usize = 1000;
const N_VAL: usize = 400;
const BATCH: usize = 32;
/// Step sizes for this problem (see `common/solvers.rs`).
const TUNING: Tuning = Tuning { inner: 0.2, outer: 3000.0, v_radius: 50.0, lambda0: 3.0 };

const HELP: &str = "\
hyperclean: data hyper-cleaning on the UCI handwritten digits with every solver.

USAGE: cargo run --release --example hyperclean -- [FLAGS]

FLAGS:
  --solver LIST      comma-separated subset of soba,saba,f2sa,f3sa,fdehbo,fmbo, or all (default all)
  --iters N          iterations per solver (default 20000)
  --seed S           seed of the split, the corruption and the sampling (default 0)
  --corruption F     fraction of training labels corrupted, in [0, 1) (default 0.5)
  --f32              run in single precision (default f64)
  --out DIR          output directory for trace.csv and plot.svg (default out/hyperclean)
  --help             this text
";

fn main() {
    let args = match Args::parse(
        std::env::args().skip(1),
        &[
            Flag::list("--solver", ALL_SOLVERS),
            Flag::int("--iters", 20000),
            Flag::int("--seed", 0),
            Flag::fraction("--corruption", 0.5),
            Flag::switch("--f32"),
            Flag::path("--out", "out/hyperclean"),
        ],
        HELP,
    ) {
        Ok(a) => a,
        Err(code) => std::process::exit(code),
    };
    let result = if args.switch("--f32") { run::<f32>(&args) } else { run::<f64>(&args) };
    if let Err(e) = result {
        eprintln!("hyperclean: {e}");
        std::process::exit(1);
    }
}

fn run<T: Float>(args: &Args) -> Result<(), String> {
    let iters = args.int("--iters");
    let seed = args.int("--seed");
    let corruption = args.fraction("--corruption");
    let data = load_digits::<T>().map_err(|e| e.to_string())?;
    let exp = CleaningData::prepare(&data, K, N_TRAIN, N_VAL, corruption, seed).map_err(|e| e.to_string())?;
    let pb: HyperClean<'_, T, K> = exp.problem::<K>(BATCH, BATCH).map_err(|e| e.to_string())?;
    let test = exp.test.view().map_err(|e| e.to_string())?;
    let (p, q) = (pb.dim_x(), pb.dim_y());
    println!(
        "data hyper-cleaning: digits, {} train ({:.0}% labels corrupted), {} validation, {} test; p = {p}, q = {q}, {}",
        N_TRAIN,
        corruption * 100.0,
        N_VAL,
        test.len(),
        T::NAME
    );

    let columns =
        Columns { accuracy: "test accuracy", loss: "cross-entropy", extra: ["precision", "recall"] };
    let eval = |y: &[T]| -> Result<(f64, f64), String> {
        let val_loss = pb.mean_cross_entropy(y, pb.val()).map_err(|e| e.to_string())?.to_f64();
        Ok((val_loss, pb.accuracy(y, test).map_err(|e| e.to_string())?))
    };
    let extra = |x: &[T], _: &[T]| -> Result<[String; 2], String> {
        let det = detection_scores(x, &exp.corrupted).map_err(|e| e.to_string())?;
        Ok([report::pct(det.precision()), report::pct(det.recall())])
    };
    let metrics = Metrics { columns, eval: &eval, extra: &extra };
    let (rows, trace) = driver::run_solvers(&args.list("--solver"), iters, seed, &pb, TUNING, &metrics)?;
    report::table(&rows, &columns, "precision/recall: sigma(x_i) < 0.5 against the true corruption mask");
    let dir = std::path::PathBuf::from(args.path("--out"));
    let (csv, svg) = report::write_outputs(&dir, &trace, "Data hyper-cleaning (digits)", &columns)?;
    println!("wrote {}\nwrote {}", csv.display(), svg.display());
    Ok(())
}
