//! Kernel throughput report, measured against this machine's own limits.
//!
//! For every kernel, float type, size and backend it prints one line:
//!
//! ```text
//! kernel=storm dtype=f64 n=4194304 backend=auto ns_per_elem=1.41 gbps=22.7 vs_triad=0.98 vs_naive=1.02 vs_nalgebra=2.9
//! ```
//!
//! - `gbps`: the kernel's nominal traffic (each vector it reads or writes,
//!   counted once per pass) divided by the best time.
//! - `vs_triad`: that bandwidth divided by the bandwidth of a STREAM-style
//!   triad `a = b + s·c` (24 bytes per f64 element) measured in the same run at
//!   the same size.
//! - `vs_naive`, `vs_nalgebra`: speed-up over a plain index loop and over the
//!   same operation composed from nalgebra calls (time ratio, > 1 is faster).
//!
//! Every figure is the minimum over repeated timings. Run:
//! `cargo run --release --example kernel_report` (add `-- --quick` for a
//! shorter run, `-- --kernel storm` to select one kernel).

// The naive references are index loops on purpose.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bilevel::{Backend, Float};
use nalgebra::DVector;

/// One measured variant: a closure run `reps` times per sample.
fn best_time(mut f: impl FnMut(), elems: usize, budget: Duration) -> f64 {
    // Calibrate the inner repetition count so one sample takes ~1 ms.
    let mut reps = 1usize;
    loop {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        let el = t.elapsed();
        if el >= Duration::from_micros(800) || reps >= 1 << 24 {
            break;
        }
        reps *= 2;
    }
    let _ = elems;
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut samples = 0;
    while samples < 5 || (start.elapsed() < budget && samples < 200) {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        let ns = t.elapsed().as_nanos() as f64 / reps as f64;
        best = best.min(ns);
        samples += 1;
    }
    best
}

/// An `f64` constant in `T`.
fn f<T: Float>(x: f64) -> T {
    T::from_f64(x)
}

struct Opts {
    quick: bool,
    only: Option<String>,
}

fn sizes(quick: bool) -> Vec<usize> {
    if quick { vec![64, 1 << 16, 1 << 22] } else { vec![16, 64, 1000, 1 << 16, (1 << 16) + 3, 1 << 22] }
}

fn budget(n: usize, quick: bool) -> Duration {
    let ms = if n >= 1 << 20 { 400 } else { 120 };
    Duration::from_millis(if quick { ms / 2 } else { ms })
}

fn fill<T: Float>(n: usize, seed: u64) -> Vec<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            T::from_f64((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

struct Line<'a> {
    kernel: &'a str,
    dtype: &'a str,
    n: usize,
    bytes_per_elem: f64,
}

fn report(
    l: &Line,
    backend: &str,
    ns: f64,
    triad_ns: f64,
    triad_bpe: f64,
    naive_ns: f64,
    na_ns: Option<f64>,
) {
    let gbps = l.bytes_per_elem * l.n as f64 / ns;
    let triad_gbps = triad_bpe * l.n as f64 / triad_ns;
    let na = match na_ns {
        Some(t) => format!("{:.2}", t / ns),
        None => "n/a".into(),
    };
    println!(
        "kernel={} dtype={} n={} backend={} ns_per_elem={:.3} gbps={:.1} vs_triad={:.2} vs_naive={:.2} vs_nalgebra={}",
        l.kernel,
        l.dtype,
        l.n,
        backend,
        ns / l.n as f64,
        gbps,
        gbps / triad_gbps,
        naive_ns / ns,
        na
    );
}

/// Runs the three backends of one kernel and prints their lines.
fn backends(
    l: &Line,
    triad: (f64, f64),
    naive_ns: f64,
    na_ns: Option<f64>,
    mut run: impl FnMut(Backend),
    quick: bool,
) {
    for (name, b) in [("scalar", Some(Backend::Scalar)), ("avx2", Some(Backend::Avx2Fma)), ("auto", None)] {
        if let Some(b) = b
            && !b.is_available()
        {
            continue;
        }
        let ns = best_time(|| run(b.unwrap_or_else(Backend::detect)), l.n, budget(l.n, quick));
        report(l, name, ns, triad.0, triad.1, naive_ns, na_ns);
    }
}

fn measure<T: Float + nalgebra::RealField>(opts: &Opts) {
    let dtype = T::NAME;
    let es = core::mem::size_of::<T>() as f64;
    for n in sizes(opts.quick) {
        let want = |k: &str| opts.only.as_deref().is_none_or(|o| o == k);
        let bud = budget(n, opts.quick);
        let (b, c) = (fill::<T>(n, 1), fill::<T>(n, 2));
        let mut a = vec![T::ZERO; n];
        let s = f::<T>(0.5);
        // Bandwidth references: triad a = b + s c, and copy.
        let triad_ns = best_time(
            || {
                for ((a, &b), &c) in a.iter_mut().zip(&b).zip(&c) {
                    *a = b + s * c;
                }
                black_box(&mut a);
            },
            n,
            bud,
        );
        let triad = (triad_ns, 3.0 * es);
        let copy_ns = best_time(
            || {
                a.copy_from_slice(&b);
                black_box(&mut a);
            },
            n,
            bud,
        );
        let l = Line { kernel: "triad", dtype, n, bytes_per_elem: 3.0 * es };
        report(&l, "naive", triad_ns, triad_ns, 3.0 * es, triad_ns, None);
        let l = Line { kernel: "copy", dtype, n, bytes_per_elem: 2.0 * es };
        report(&l, "naive", copy_ns, triad_ns, 3.0 * es, copy_ns, None);

        if want("storm") {
            let (g, gp) = (fill::<T>(n, 3), fill::<T>(n, 4));
            let mut h = fill::<T>(n, 5);
            let eta = f::<T>(0.1);
            let cc = T::ONE - eta;
            let naive = best_time(
                || {
                    for i in 0..h.len() {
                        h[i] = g[i] + cc * (h[i] - gp[i]);
                    }
                    black_box(&mut h);
                },
                n,
                bud,
            );
            let (ng, ngp) = (DVector::from_column_slice(&g), DVector::from_column_slice(&gp));
            let mut nh = DVector::from_column_slice(&h);
            let na = best_time(
                || {
                    nh -= &ngp;
                    nh *= cc;
                    nh += &ng;
                    black_box(&mut nh);
                },
                n,
                bud,
            );
            let l = Line { kernel: "storm", dtype, n, bytes_per_elem: 4.0 * es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    b.storm_update(&mut h, &g, &gp, eta).unwrap();
                    black_box(&mut h);
                },
                opts.quick,
            );
        }
        if want("storm_step") {
            let (g, gp) = (fill::<T>(n, 3), fill::<T>(n, 4));
            let (mut h, mut x) = (fill::<T>(n, 5), fill::<T>(n, 6));
            let eta = f::<T>(0.1);
            let cc = T::ONE - eta;
            let alpha = f::<T>(1e-3);
            let naive = best_time(
                || {
                    for i in 0..h.len() {
                        h[i] = g[i] + cc * (h[i] - gp[i]);
                        x[i] -= alpha * h[i];
                    }
                    black_box((&mut h, &mut x));
                },
                n,
                bud,
            );
            let (ng, ngp) = (DVector::from_column_slice(&g), DVector::from_column_slice(&gp));
            let (mut nh, mut nx) = (DVector::from_column_slice(&h), DVector::from_column_slice(&x));
            let na = best_time(
                || {
                    nh -= &ngp;
                    nh *= cc;
                    nh += &ng;
                    nx.axpy(-alpha, &nh, T::ONE);
                    black_box((&mut nh, &mut nx));
                },
                n,
                bud,
            );
            let l = Line { kernel: "storm_step", dtype, n, bytes_per_elem: 6.0 * es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    b.storm_step(&mut h, &mut x, &g, &gp, eta, alpha).unwrap();
                    black_box((&mut h, &mut x));
                },
                opts.quick,
            );
        }
        if want("ema") {
            let g = fill::<T>(n, 3);
            let mut h = fill::<T>(n, 5);
            let rho = f::<T>(0.9);
            let om = T::ONE - rho;
            let naive = best_time(
                || {
                    for i in 0..h.len() {
                        h[i] = rho * h[i] + om * g[i];
                    }
                    black_box(&mut h);
                },
                n,
                bud,
            );
            let ng = DVector::from_column_slice(&g);
            let mut nh = DVector::from_column_slice(&h);
            let na = best_time(
                || {
                    nh.axpy(om, &ng, rho);
                    black_box(&mut nh);
                },
                n,
                bud,
            );
            let l = Line { kernel: "ema", dtype, n, bytes_per_elem: 3.0 * es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    b.ema_update(&mut h, &g, rho).unwrap();
                    black_box(&mut h);
                },
                opts.quick,
            );
        }
        if want("axpy") {
            let xv = fill::<T>(n, 3);
            let mut y = fill::<T>(n, 5);
            let al = f::<T>(1e-3);
            let naive = best_time(
                || {
                    for i in 0..y.len() {
                        y[i] += al * xv[i];
                    }
                    black_box(&mut y);
                },
                n,
                bud,
            );
            let nxv = DVector::from_column_slice(&xv);
            let mut ny = DVector::from_column_slice(&y);
            let na = best_time(
                || {
                    ny.axpy(al, &nxv, T::ONE);
                    black_box(&mut ny);
                },
                n,
                bud,
            );
            let l = Line { kernel: "axpy", dtype, n, bytes_per_elem: 3.0 * es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    b.axpy(al, &xv, &mut y).unwrap();
                    black_box(&mut y);
                },
                opts.quick,
            );
        }
        if want("dot") {
            let (x, y) = (fill::<T>(n, 3), fill::<T>(n, 4));
            let naive = best_time(
                || {
                    let mut acc = T::ZERO;
                    for i in 0..x.len() {
                        acc += x[i] * y[i];
                    }
                    black_box(acc);
                },
                n,
                bud,
            );
            let (nx, ny) = (DVector::from_column_slice(&x), DVector::from_column_slice(&y));
            let na = best_time(
                || {
                    black_box(nx.dot(&ny));
                },
                n,
                bud,
            );
            let l = Line { kernel: "dot", dtype, n, bytes_per_elem: 2.0 * es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    black_box(b.dot(&x, &y).unwrap());
                },
                opts.quick,
            );
        }
        if want("norm") {
            let x = fill::<T>(n, 3);
            let naive = best_time(
                || {
                    let mut acc = T::ZERO;
                    for i in 0..x.len() {
                        acc += x[i] * x[i];
                    }
                    black_box(Float::sqrt(acc));
                },
                n,
                bud,
            );
            let nx = DVector::from_column_slice(&x);
            let na = best_time(
                || {
                    black_box(nx.norm());
                },
                n,
                bud,
            );
            let l = Line { kernel: "norm", dtype, n, bytes_per_elem: es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    black_box(b.norm(&x).unwrap());
                },
                opts.quick,
            );
        }
        if want("project") {
            // A point outside the ball, restored by a copy after each call so
            // every call scales: norm pass (1) + scaling pass (2) + copy (2) =
            // 5 vector transfers, counted for every variant alike.
            let x0 = fill::<T>(n, 3);
            let mut x = x0.clone();
            let r = f::<T>(1e-3);
            let naive = best_time(
                || {
                    let mut acc = T::ZERO;
                    for i in 0..x.len() {
                        acc += x[i] * x[i];
                    }
                    let nrm = Float::sqrt(acc);
                    if nrm > r {
                        let s = r / nrm;
                        for v in x.iter_mut() {
                            *v *= s;
                        }
                    }
                    black_box(&mut x);
                    x.copy_from_slice(&x0);
                },
                n,
                bud,
            );
            let mut nx = DVector::from_column_slice(&x0);
            let nx0 = nx.clone();
            let na = best_time(
                || {
                    let nrm = nx.norm();
                    if nrm > r {
                        nx *= r / nrm;
                    }
                    black_box(&mut nx);
                    nx.copy_from(&nx0);
                },
                n,
                bud,
            );
            let l = Line { kernel: "project", dtype, n, bytes_per_elem: 5.0 * es };
            backends(
                &l,
                triad,
                naive,
                Some(na),
                |b| {
                    b.project_ball(&mut x, r).unwrap();
                    black_box(&mut x);
                    x.copy_from_slice(&x0);
                },
                opts.quick,
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Opts { quick: false, only: None };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => opts.quick = true,
            "--kernel" if i + 1 < args.len() => {
                opts.only = Some(args[i + 1].clone());
                i += 1;
            }
            other => {
                eprintln!("kernel_report: unknown argument `{other}` (use --quick, --kernel NAME)");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    println!("# bilevel kernel report: detected backend {}", Backend::detect().name());
    measure::<f64>(&opts);
    measure::<f32>(&opts);
}
