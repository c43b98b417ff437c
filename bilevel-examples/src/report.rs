//! Shared by the problem examples: command-line flags, progress lines, the
//! final table, the CSV trace and the SVG plot.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One accepted flag and its default.
pub struct Flag {
    name: &'static str,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    List(&'static [&'static str]),
    Int(u64),
    Fraction(f64),
    Switch,
    Path(&'static str),
}

#[derive(Clone)]
enum Value {
    List(Vec<&'static str>),
    Int(u64),
    Fraction(f64),
    Switch(bool),
    Path(String),
}

impl Flag {
    /// A comma-separated subset of `choices`, or `all` (the default).
    pub fn list(name: &'static str, choices: &'static [&'static str]) -> Flag {
        Flag { name, kind: Kind::List(choices) }
    }
    /// A non-negative integer.
    pub fn int(name: &'static str, default: u64) -> Flag {
        Flag { name, kind: Kind::Int(default) }
    }
    /// A number in `[0, 1)`.
    pub fn fraction(name: &'static str, default: f64) -> Flag {
        Flag { name, kind: Kind::Fraction(default) }
    }
    /// A flag without a value.
    pub fn switch(name: &'static str) -> Flag {
        Flag { name, kind: Kind::Switch }
    }
    /// A path.
    pub fn path(name: &'static str, default: &'static str) -> Flag {
        Flag { name, kind: Kind::Path(default) }
    }
}

/// Parsed flags.
pub struct Args {
    values: Vec<(&'static str, Value)>,
}

impl Args {
    /// Parses `args`; on `--help` prints `help` and returns `Err(0)`; on a bad
    /// flag or value prints a message and returns `Err(2)`.
    pub fn parse(args: impl Iterator<Item = String>, flags: &[Flag], help: &str) -> Result<Args, i32> {
        let mut values: Vec<(&'static str, Value)> = flags
            .iter()
            .map(|f| {
                let v = match f.kind {
                    Kind::List(c) => Value::List(c.to_vec()),
                    Kind::Int(d) => Value::Int(d),
                    Kind::Fraction(d) => Value::Fraction(d),
                    Kind::Switch => Value::Switch(false),
                    Kind::Path(d) => Value::Path(d.to_string()),
                };
                (f.name, v)
            })
            .collect();
        let fail = |msg: String| -> i32 {
            eprintln!("error: {msg}\n(run with --help for the list of flags)");
            2
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                print!("{help}");
                return Err(0);
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let Some(flag) = flags.iter().find(|f| f.name == name) else {
                return Err(fail(format!("unknown flag `{arg}`")));
            };
            let slot = values.iter_mut().find(|(n, _)| *n == flag.name).map(|(_, v)| v).ok_or(2)?;
            if let Kind::Switch = flag.kind {
                if inline.is_some() {
                    return Err(fail(format!("`{name}` takes no value")));
                }
                *slot = Value::Switch(true);
                continue;
            }
            let Some(raw) = inline.or_else(|| args.next()) else {
                return Err(fail(format!("`{name}` needs a value")));
            };
            *slot = match flag.kind.clone() {
                Kind::List(choices) => {
                    if raw == "all" {
                        Value::List(choices.to_vec())
                    } else {
                        let mut picked = Vec::new();
                        for part in raw.split(',').map(str::trim) {
                            match choices.iter().find(|c| c.eq_ignore_ascii_case(part)) {
                                Some(c) if !picked.contains(c) => picked.push(*c),
                                Some(_) => {}
                                None => {
                                    return Err(fail(format!(
                                        "`{name}`: unknown value `{part}` (expected `all` or a comma-separated subset of {})",
                                        choices.join(",")
                                    )));
                                }
                            }
                        }
                        if picked.is_empty() {
                            return Err(fail(format!("`{name}` needs at least one value")));
                        }
                        Value::List(picked)
                    }
                }
                Kind::Int(_) => match raw.parse::<u64>() {
                    Ok(n) => Value::Int(n),
                    Err(_) => return Err(fail(format!("`{name}`: `{raw}` is not a non-negative integer"))),
                },
                Kind::Fraction(_) => match raw.parse::<f64>() {
                    Ok(f) if (0.0..1.0).contains(&f) => Value::Fraction(f),
                    _ => return Err(fail(format!("`{name}`: `{raw}` is not a number in [0, 1)"))),
                },
                Kind::Path(_) => Value::Path(raw),
                Kind::Switch => unreachable!("handled above"),
            };
        }
        Ok(Args { values })
    }

    fn get(&self, name: &str) -> &Value {
        &self.values.iter().find(|(n, _)| *n == name).expect("flag declared").1
    }
    /// The selected items of a list flag.
    pub fn list(&self, name: &str) -> Vec<&'static str> {
        match self.get(name) {
            Value::List(v) => v.clone(),
            _ => panic!("{name} is not a list flag"),
        }
    }
    /// An integer flag.
    pub fn int(&self, name: &str) -> u64 {
        match self.get(name) {
            Value::Int(v) => *v,
            _ => panic!("{name} is not an integer flag"),
        }
    }
    /// A fraction flag.
    pub fn fraction(&self, name: &str) -> f64 {
        match self.get(name) {
            Value::Fraction(v) => *v,
            _ => panic!("{name} is not a fraction flag"),
        }
    }
    /// A switch.
    pub fn switch(&self, name: &str) -> bool {
        matches!(self.get(name), Value::Switch(true))
    }
    /// A path flag.
    pub fn path(&self, name: &str) -> String {
        match self.get(name) {
            Value::Path(v) => v.clone(),
            _ => panic!("{name} is not a path flag"),
        }
    }
}

/// One monitoring point of one solver.
#[derive(Clone, Debug)]
pub struct TracePoint {
    pub solver: &'static str,
    pub iteration: u64,
    /// Solver time (evaluation excluded).
    pub seconds: f64,
    pub val_loss: f64,
    pub test_acc: f64,
}

/// What an example's metrics are called.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    /// The accuracy column (`test accuracy`, ...).
    pub accuracy: &'static str,
    /// The loss axis of the plot (`cross-entropy`, ...).
    pub loss: &'static str,
    /// Two problem-specific columns of the final table.
    pub extra: [&'static str; 2],
}

/// Prints one progress line.
pub fn progress(p: &TracePoint, cols: &Columns) {
    println!(
        "  {:<7} iter {:>6}  {:>7.3} s  validation loss {:.4}  {} {:5.1}%",
        p.solver,
        p.iteration,
        p.seconds,
        p.val_loss,
        cols.accuracy,
        100.0 * p.test_acc
    );
}

/// One line of the final table.
pub struct Row {
    pub solver: &'static str,
    pub iterations: u64,
    pub seconds: f64,
    pub val_loss: f64,
    pub test_acc: f64,
    /// The two problem-specific columns, formatted.
    pub extra: [String; 2],
    pub status: String,
}

/// A fraction as a percentage, or `n/a`.
pub fn pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// Prints the final table (Markdown, so it can be pasted into a README).
pub fn table(rows: &[Row], cols: &Columns, note: &str) {
    println!();
    println!(
        "| solver | iterations | time (s) | validation loss | {} | {} | {} | status |",
        cols.accuracy, cols.extra[0], cols.extra[1]
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.2} | {:.4} | {:.1}% | {} | {} | {} |",
            r.solver,
            r.iterations,
            r.seconds,
            r.val_loss,
            100.0 * r.test_acc,
            r.extra[0],
            r.extra[1],
            r.status
        );
    }
    println!("{note}");
    println!();
}

/// Writes `trace.csv` and `plot.svg` into `dir`; returns their paths.
pub fn write_outputs(
    dir: &Path,
    trace: &[TracePoint],
    title: &str,
    cols: &Columns,
) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let csv_path = dir.join("trace.csv");
    let mut csv = format!("solver,iteration,seconds,val_loss,{}\n", cols.accuracy.replace(' ', "_"));
    for p in trace {
        let _ = writeln!(
            csv,
            "{},{},{:.6},{:.8},{:.6}",
            p.solver, p.iteration, p.seconds, p.val_loss, p.test_acc
        );
    }
    std::fs::write(&csv_path, csv).map_err(|e| format!("cannot write {}: {e}", csv_path.display()))?;
    let svg_path = dir.join("plot.svg");
    plot(&svg_path, trace, title, cols).map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    Ok((csv_path, svg_path))
}

fn plot(
    path: &Path,
    trace: &[TracePoint],
    title: &str,
    cols: &Columns,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut solvers: Vec<&str> = Vec::new();
    for p in trace {
        if !solvers.contains(&p.solver) {
            solvers.push(p.solver);
        }
    }
    let finite = |v: f64| v.is_finite();
    let t_max = trace.iter().map(|p| p.seconds).filter(|v| finite(*v)).fold(0.0f64, f64::max).max(1e-6);
    let (l_min, l_max) = trace
        .iter()
        .map(|p| p.val_loss)
        .filter(|v| finite(*v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (l_min, l_max) = if l_min < l_max { (l_min, l_max) } else { (0.0, 1.0) };
    let pad = 0.05 * (l_max - l_min);

    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    let (left, right) = root.split_horizontally(550);
    let palette = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];

    let mut loss = ChartBuilder::on(&left)
        .caption("validation loss", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..t_max * 1.02, (l_min - pad)..(l_max + pad))?;
    loss.configure_mesh().x_desc("solver time (s)").y_desc(cols.loss).draw()?;
    let mut acc = ChartBuilder::on(&right)
        .caption(cols.accuracy, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..t_max * 1.02, 0.0..1.0)?;
    acc.configure_mesh().x_desc("solver time (s)").y_desc("fraction correct").draw()?;

    for (k, name) in solvers.iter().enumerate() {
        let color = palette[k % palette.len()];
        let pts = || trace.iter().filter(move |p| p.solver == *name);
        loss.draw_series(LineSeries::new(
            pts().filter(|p| finite(p.val_loss)).map(|p| (p.seconds, p.val_loss)),
            color.stroke_width(2),
        ))?
        .label(*name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        acc.draw_series(LineSeries::new(pts().map(|p| (p.seconds, p.test_acc)), color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    loss.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    acc.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
