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

use std::io::Read as _;
use std::time::Instant;

use bilevel::Float;
use bilevel::oracles::Problem;
use bilevel::problems::hyperclean::{CleaningData, HyperClean, detection_scores, parse_digits};
use bilevel::solvers::{Control, Solver};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

#[path = "common/report.rs"]
mod report;
#[path = "common/solvers.rs"]
mod solvers;

use report::{Args, Flag, Row, TracePoint};
use solvers::{ALL_SOLVERS, Tuning, make_solver};

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
  --solver LIST      comma-separated subset of soba,f2sa,f3sa,fdehbo,fmbo, or all (default all)
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

fn load_digits<T: Float>() -> Result<bilevel::problems::hyperclean::Dataset<T>, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");
    let gz = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot decompress {path}: {e}"))?;
    parse_digits::<T>(&text).map_err(|e| format!("{path}: {e}"))
}

fn run<T: Float>(args: &Args) -> Result<(), String> {
    let iters = args.int("--iters");
    let seed = args.int("--seed");
    let corruption = args.fraction("--corruption");
    let data = load_digits::<T>()?;
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

    let every = (iters / 40).max(1);
    let mut rows = Vec::new();
    let mut trace: Vec<TracePoint> = Vec::new();
    for name in args.list("--solver") {
        let mut solver = make_solver::<T, _>(name, TUNING, &pb, p, q).map_err(|e| format!("{name}: {e}"))?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED);
        let start = Instant::now();
        let eval = |y: &[T], t: u64, secs: f64| -> Result<TracePoint, String> {
            let val_loss = pb.mean_cross_entropy(y, pb.val()).map_err(|e| e.to_string())?.to_f64();
            let test_acc = pb.accuracy(y, test).map_err(|e| e.to_string())?;
            Ok(TracePoint { solver: name, iteration: t, seconds: secs, val_loss, test_acc })
        };
        let first = eval(solver.y(), 0, 0.0)?;
        report::progress(&first);
        trace.push(first);
        // Evaluation time is excluded from the reported solver time.
        let mut eval_secs = 0.0;
        let mut failure = None;
        let summary = solver.run(&pb, &mut rng, iters, |s, r| {
            let t = r.iteration + 1;
            if t % every == 0 || t == iters {
                let e0 = Instant::now();
                let secs = start.elapsed().as_secs_f64() - eval_secs;
                match eval(s.y(), t, secs) {
                    Ok(pt) => {
                        if t % (every * 4) == 0 || t == iters {
                            report::progress(&pt);
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
        let last = eval(solver.y(), done, secs)?;
        let det = detection_scores(solver.x(), &exp.corrupted).map_err(|e| e.to_string())?;
        rows.push(Row {
            solver: name,
            iterations: done,
            seconds: secs,
            val_loss: last.val_loss,
            test_acc: last.test_acc,
            precision: det.precision(),
            recall: det.recall(),
            status,
        });
    }
    report::table(&rows, "precision/recall: sigma(x_i) < 0.5 against the true corruption mask");
    let dir = std::path::PathBuf::from(args.path("--out"));
    let (csv, svg) = report::write_outputs(&dir, &trace, "Data hyper-cleaning (digits)")?;
    println!("wrote {}\nwrote {}", csv.display(), svg.display());
    Ok(())
}
