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
//! shorter run, `-- --kernel storm` to select one kernel, `-- --sizes 16,64`
//! to select sizes).

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
    /// Sizes given with `--sizes 16,64` (default: all).
    sizes: Option<Vec<usize>>,
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

#[allow(clippy::too_many_arguments)]
fn report(
    l: &Line,
    api: &str,
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
        "kernel={} dtype={} n={} api={} backend={} ns_per_elem={:.3} gbps={:.1} vs_triad={:.2} vs_naive={:.2} vs_nalgebra={}",
        l.kernel,
        l.dtype,
        l.n,
        api,
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
    let available = Backend::ALL.into_iter().filter(|b| b.is_available());
    for (name, b) in available.map(|b| (b.name(), Some(b))).chain([("auto", None)]) {
        let ns = best_time(|| run(b.unwrap_or_else(Backend::detect)), l.n, budget(l.n, quick));
        report(l, "slice", name, ns, triad.0, triad.1, naive_ns, na_ns);
    }
}

/// `v` as a fixed-size array (the `api=array` lines).
fn arr<T, const N: usize>(v: &[T]) -> &[T; N] {
    v.try_into().unwrap()
}

/// `v` as a mutable fixed-size array.
fn arr_mut<T, const N: usize>(v: &mut [T]) -> &mut [T; N] {
    v.try_into().unwrap()
}

/// The `api=array` line of one kernel at n = 16 and 64: `$setup` binds the
/// fixed-size views (outside the timing), then `$body` is timed, both with
/// the constant `$N` equal to the size.
macro_rules! array_line {
    ($l:expr, $triad:expr, $naive:expr, $na:expr, $quick:expr, |$N:ident| [$($setup:stmt;)*] $body:block) => {
        match $l.n {
            16 => {
                const $N: usize = 16;
                $($setup)*
                array_line!(@run $l, $triad, $naive, $na, $quick, $body)
            }
            64 => {
                const $N: usize = 64;
                $($setup)*
                array_line!(@run $l, $triad, $naive, $na, $quick, $body)
            }
            _ => {}
        }
    };
    (@run $l:expr, $triad:expr, $naive:expr, $na:expr, $quick:expr, $body:block) => {{
        let ns = best_time(|| $body, $l.n, budget($l.n, $quick));
        report(&$l, "array", bilevel::array::BACKEND.name(), ns, $triad.0, $triad.1, $naive, $na);
    }};
}

/// Kernels measured by [`measure`] (the streaming ones).
const STREAMING: [&str; 7] = ["storm", "storm_step", "ema", "axpy", "dot", "norm", "project"];

fn measure<T: Float + nalgebra::RealField>(opts: &Opts) {
    if opts.only.as_deref().is_some_and(|o| !STREAMING.contains(&o)) {
        return;
    }
    let dtype = T::NAME;
    let es = core::mem::size_of::<T>() as f64;
    for n in opts.sizes.clone().unwrap_or_else(|| sizes(opts.quick)) {
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
        report(&l, "slice", "naive", triad_ns, triad_ns, 3.0 * es, triad_ns, None);
        let l = Line { kernel: "copy", dtype, n, bytes_per_elem: 2.0 * es };
        report(&l, "slice", "naive", copy_ns, triad_ns, 3.0 * es, copy_ns, None);

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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let (ha, ga, gpa) = (arr_mut::<T, N>(&mut h), arr::<T, N>(&g), arr::<T, N>(&gp));
            ] {
                bilevel::array::storm_update(ha, ga, gpa, eta).unwrap();
                black_box(&mut *ha);
            });
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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let (ha, xa) = (arr_mut::<T, N>(&mut h), arr_mut::<T, N>(&mut x));
                let (ga, gpa) = (arr::<T, N>(&g), arr::<T, N>(&gp));
            ] {
                bilevel::array::storm_step(ha, xa, ga, gpa, eta, alpha).unwrap();
                black_box((&mut *ha, &mut *xa));
            });
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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let (ha, ga) = (arr_mut::<T, N>(&mut h), arr::<T, N>(&g));
            ] {
                bilevel::array::ema_update(ha, ga, rho).unwrap();
                black_box(&mut *ha);
            });
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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let (xa, ya) = (arr::<T, N>(&xv), arr_mut::<T, N>(&mut y));
            ] {
                bilevel::array::axpy(al, xa, ya).unwrap();
                black_box(&mut *ya);
            });
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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let (xa, ya) = (arr::<T, N>(&x), arr::<T, N>(&y));
            ] {
                black_box(bilevel::array::dot(black_box(xa), black_box(ya)).unwrap());
            });
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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let xa = arr::<T, N>(&x);
            ] {
                black_box(bilevel::array::norm(black_box(xa)).unwrap());
            });
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
            array_line!(l, triad, naive, Some(na), opts.quick, |N| [
                let (xa, x0a) = (arr_mut::<T, N>(&mut x), arr::<T, N>(&x0));
            ] {
                bilevel::array::project_ball(xa, r).unwrap();
                black_box(&mut *xa);
                *xa = *x0a;
            });
        }
    }
}

/// Every available backend with its name, then `auto` (the detected one).
fn with_auto() -> Vec<(&'static str, Backend)> {
    let available = Backend::ALL.into_iter().filter(|b| b.is_available());
    available.map(|b| (b.name(), b)).chain([("auto", Backend::detect())]).collect()
}

/// FD Hessian-vector product with a cheap diagonal oracle (its cost is the
/// oracle's: two gradient calls), and the SAGA table updates.
fn measure_fd_saga<T: Float + nalgebra::RealField>(opts: &Opts) {
    use bilevel::kernels::{Delta, RowWeights, SagaTable, ScalarSagaTable};
    let dtype = T::NAME;
    let es = core::mem::size_of::<T>() as f64;
    let want = |k: &str| opts.only.as_deref().is_none_or(|o| o == k);
    if want("fd_hvp") {
        for n in [64usize, 1000, 1 << 16] {
            let bud = budget(n, opts.quick);
            let (y, v, diag) = (fill::<T>(n, 1), fill::<T>(n, 2), fill::<T>(n, 3));
            let (b, c) = (fill::<T>(n, 4), fill::<T>(n, 5));
            let mut a = vec![T::ZERO; n];
            let s = f::<T>(0.5);
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
            let oracle = |p: &[T], out: &mut [T]| {
                for ((o, &pi), &di) in out.iter_mut().zip(p).zip(&diag) {
                    *o = di * pi;
                }
            };
            let mut out = vec![T::ZERO; n];
            let mut scratch = vec![T::ZERO; Delta::<T>::Relative.scratch_len(n, n)];
            let d = f::<T>(1.0 / 1024.0);
            let naive = best_time(
                || {
                    let (p, m) = scratch.split_at_mut(n);
                    for i in 0..n {
                        p[i] = y[i] + d * v[i];
                    }
                    oracle(p, &mut out);
                    for i in 0..n {
                        p[i] = y[i] - d * v[i];
                    }
                    oracle(p, &mut m[..n]);
                    for i in 0..n {
                        out[i] = (out[i] - m[i]) / (d + d);
                    }
                    black_box(&mut out);
                },
                n,
                bud,
            );
            // Nominal traffic: two points formed (read y, v, write p: 3 each),
            // two oracle calls (read p, diag, write g: 3 each), one difference
            // (read 2, write 1): 15 vectors.
            let l = Line { kernel: "fd_hvp", dtype, n, bytes_per_elem: 15.0 * es };
            backends(
                &l,
                (triad_ns, 3.0 * es),
                naive,
                None,
                |bk| {
                    bk.hvp_central(oracle, &y, &v, Delta::Relative, &mut scratch, &mut out).unwrap();
                    black_box(&mut out);
                },
                opts.quick,
            );
        }
    }
    let (rows, d) = (49_990usize, 22usize);
    let idx: Vec<usize> =
        (0..4096u64).map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize % rows).collect();
    let newrow = fill::<T>(d, 10);
    let mut dir = vec![T::ZERO; d];
    let bud = budget(1000, opts.quick);
    if want("saga_dense") {
        let mut buf = vec![T::ZERO; SagaTable::<T, Vec<T>>::storage_len(rows, d)];
        let mut naive_rows = vec![T::ZERO; rows * d];
        let mut avg = vec![T::ZERO; d];
        let inv = T::ONE / <T as Float>::from_usize(rows);
        let mut k = 0;
        let naive = best_time(
            || {
                k = (k + 1) & 4095;
                let i = idx[k];
                for j in 0..d {
                    let diff = newrow[j] - naive_rows[i * d + j];
                    dir[j] = diff + avg[j];
                    avg[j] += inv * diff;
                    naive_rows[i * d + j] = newrow[j];
                }
                black_box(&mut dir);
            },
            1,
            bud,
        );
        for (name, bk) in with_auto() {
            let mut t = SagaTable::zeroed(&mut buf[..], rows, d, RowWeights::Uniform)
                .unwrap()
                .with_backend(bk)
                .unwrap();
            let mut k = 0;
            let ns = best_time(
                || {
                    k = (k + 1) & 4095;
                    t.update(idx[k], &newrow, &mut dir).unwrap();
                    black_box(&mut dir);
                },
                1,
                bud,
            );
            println!(
                "kernel=saga_dense dtype={dtype} n={rows} d={d} backend={name} ns_per_update={ns:.1} vs_naive={:.2} (compensated average; naive is uncompensated)",
                naive / ns
            );
        }
    }
    if want("saga_scalar") {
        let feats = fill::<T>(rows * d, 11);
        let mut sbuf = vec![T::ZERO; ScalarSagaTable::<T, Vec<T>>::storage_len(rows, d, 1)];
        for (name, bk) in with_auto() {
            let mut t = ScalarSagaTable::zeroed(&mut sbuf[..], rows, d, 1, RowWeights::Uniform)
                .unwrap()
                .with_backend(bk)
                .unwrap();
            let mut k = 0;
            let coef = [f::<T>(0.25)];
            let ns = best_time(
                || {
                    k = (k + 1) & 4095;
                    let i = idx[k];
                    t.update(i, &coef, &feats[i * d..(i + 1) * d], &mut dir).unwrap();
                    black_box(&mut dir);
                },
                1,
                bud,
            );
            println!("kernel=saga_scalar dtype={dtype} n={rows} d={d} backend={name} ns_per_update={ns:.1}");
        }
    }
}

/// One epoch of scalar-memory SAGA on L2-regularized logistic regression at
/// the IJCNN1 shape (49,990 × 22, f64, random order): per sample, the
/// derivative coefficient at the current weights, the scalar table update
/// (direction from the feature row), and the step `w −= γ (dir + λ w)`.
fn saga_epoch() {
    use bilevel::kernels::{RowWeights, ScalarSagaTable};
    // Synthetic IJCNN1-shaped binary data (49,990 × 22, seeded): standard
    // normal-ish features, labels from a planted model with 30% flipped.
    let (n, d) = (49_990usize, 22usize);
    let feats: Vec<f64> = fill::<f64>(n * d, 11).into_iter().map(|x| 3.4 * x).collect();
    let truth = fill::<f64>(d, 12);
    let flips = fill::<f64>(n, 13);
    let labels: Vec<f64> = (0..n)
        .map(|i| {
            let s = feats[i * d..(i + 1) * d].iter().zip(&truth).map(|(a, t)| a * t).sum::<f64>();
            let c = if s >= 0.0 { 1.0 } else { -1.0 };
            if flips[i] < -0.2 { -c } else { c }
        })
        .collect();
    // ℓ(z) = ln(1 + e^-z), ℓ'(z) = −1 / (1 + e^z).
    let loss_d1 = |z: f64| -1.0 / (1.0 + z.exp());
    let mut order: Vec<usize> = (0..n).collect();
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let mut buf = vec![0.0; ScalarSagaTable::<f64, Vec<f64>>::storage_len(n, d, 1)];
    let mut table = ScalarSagaTable::zeroed(&mut buf[..], n, d, 1, RowWeights::Uniform).unwrap();
    let (mut w, mut dir) = (vec![0.0; d], vec![0.0; d]);
    let (step, lambda) = (0.05, 1e-3);
    // Random order makes every feature row a cache miss (8.8 MB of rows);
    // the row LOOKAHEAD samples ahead is prefetched so its latency overlaps
    // the current update (sequential order needs no prefetch).
    const LOOKAHEAD: usize = 16;
    let mut epoch = |w: &mut [f64]| {
        for (k, &i) in order.iter().enumerate() {
            if let Some(&ahead) = order.get(k + LOOKAHEAD) {
                bilevel::backend::prefetch(&feats[ahead * d..(ahead + 1) * d]);
            }
            let a = &feats[i * d..(i + 1) * d];
            let c = labels[i];
            // Score, coefficient and table update fused in one pass.
            table.update_scored(i, a, w, |s| c * loss_d1(c * s), &mut dir).unwrap();
            for (wk, &dk) in w.iter_mut().zip(&dir) {
                *wk -= step * (dk + lambda * *wk);
            }
        }
    };
    epoch(&mut w); // warm-up: fills the table
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let t = Instant::now();
        epoch(&mut w);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let loss = (0..n)
        .map(|i| {
            let z = labels[i] * feats[i * d..(i + 1) * d].iter().zip(&w).map(|(a, w)| a * w).sum::<f64>();
            (-z).exp().ln_1p()
        })
        .sum::<f64>()
        / n as f64;
    println!(
        "kernel=saga_epoch dtype=f64 n={n} d={d} backend=auto ms_per_epoch={:.2} ns_per_sample={:.1} train_loss_after_11_epochs={loss:.4} (target < 3 ms; scikit-learn SAGA ≈ 23 ms)",
        best * 1e3,
        best * 1e9 / n as f64
    );
}

/// Time of elementwise kernels on subnormal vs normal inputs (the FP control
/// register is left alone: no flush-to-zero).
fn subnormal<T: Float>(tiny: f64) {
    let n = 1 << 16;
    let bud = budget(n, true);
    let normal = fill::<T>(n, 1);
    let sub: Vec<T> = normal.iter().map(|v| *v * f::<T>(tiny)).collect();
    assert!(sub.iter().filter(|v| **v != T::ZERO).all(|v| v.abs() < T::MIN_POSITIVE_T));
    for bk in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let name = bk.name();
        for kernel in ["storm", "ema"] {
            let time = |src: &[T]| {
                let (g, gp) = (src.to_vec(), src.iter().rev().copied().collect::<Vec<_>>());
                let mut h = src.to_vec();
                best_time(
                    || {
                        if kernel == "storm" {
                            bk.storm_update(&mut h, &g, &gp, f::<T>(0.1)).unwrap();
                        } else {
                            bk.ema_update(&mut h, &g, f::<T>(0.9)).unwrap();
                        }
                        h.copy_from_slice(&g);
                        black_box(&mut h);
                    },
                    n,
                    bud,
                )
            };
            let (tn, ts) = (time(&normal), time(&sub));
            println!(
                "subnormal kernel={kernel} dtype={} n={n} backend={name} ns_normal={:.3} ns_subnormal={:.3} slowdown={:.2}",
                T::NAME,
                tn / n as f64,
                ts / n as f64,
                ts / tn
            );
        }
    }
}

/// One line of the oracle kernels: time per call, matrix bytes per second,
/// speed-up over a naive loop and nalgebra (when given).
#[allow(clippy::too_many_arguments)]
fn oracle_line(
    kernel: &str,
    dtype: &str,
    shape: &str,
    backend: &str,
    ns: f64,
    bytes: f64,
    naive: f64,
    na: Option<f64>,
) {
    let na = na.map_or("n/a".into(), |t| format!("{:.2}", t / ns));
    println!(
        "kernel={kernel} dtype={dtype} n={shape} api=slice backend={backend} ns_per_call={ns:.0} gbps={:.1} vs_naive={:.2} vs_nalgebra={na}",
        bytes / ns,
        naive / ns
    );
}

/// Kernels for user oracles: `gemv`, `gemv_t` (100×100, 1000×1000),
/// the benchopt-quadratic batched product (64 samples of 100×100), and the
/// GLM accumulation (1000 rows of 22).
fn measure_oracles<T: Float + nalgebra::RealField>(opts: &Opts) {
    let dtype = T::NAME;
    let es = core::mem::size_of::<T>() as f64;
    let want = |k: &str| opts.only.as_deref().is_none_or(|o| o == k);
    let bud = budget(1000, opts.quick);
    let available: Vec<Backend> = Backend::ALL.into_iter().filter(|b| b.is_available()).collect();
    for n in [100usize, 1000] {
        let shape = format!("{n}x{n}");
        let (a, x) = (fill::<T>(n * n, 1), fill::<T>(n, 2));
        let mut y = fill::<T>(n, 3);
        let bytes = es * (n * n) as f64;
        let na_a = nalgebra::DMatrix::from_row_slice(n, n, &a);
        let nx = DVector::from_column_slice(&x);
        let mut ny = DVector::from_column_slice(&y);
        if want("gemv") {
            let naive = best_time(
                || {
                    for r in 0..n {
                        let mut s = T::ZERO;
                        for k in 0..n {
                            s += a[r * n + k] * x[k];
                        }
                        y[r] = s;
                    }
                    black_box(&mut y);
                },
                n,
                bud,
            );
            let na = best_time(|| ny.gemv(T::ONE, &na_a, &nx, T::ZERO), n, bud);
            for &b in &available {
                let ns = best_time(|| b.gemv(T::ONE, &a, &x, T::ZERO, &mut y).unwrap(), n, bud);
                oracle_line("gemv", dtype, &shape, b.name(), ns, bytes, naive, Some(na));
            }
        }
        if want("gemv_t") {
            let naive = best_time(
                || {
                    y.fill(T::ZERO);
                    for r in 0..n {
                        for k in 0..n {
                            y[k] += x[r] * a[r * n + k];
                        }
                    }
                    black_box(&mut y);
                },
                n,
                bud,
            );
            let na = best_time(|| ny.gemv_tr(T::ONE, &na_a, &nx, T::ZERO), n, bud);
            for &b in &available {
                let ns = best_time(|| b.gemv_t(T::ONE, &a, &x, T::ZERO, &mut y).unwrap(), n, bud);
                oracle_line("gemv_t", dtype, &shape, b.name(), ns, bytes, naive, Some(na));
            }
        }
    }
    if want("batched_gemv") {
        let (d, samples, batch) = (100usize, 256usize, 64usize);
        let mats = fill::<T>(samples * d * d, 4);
        let x = fill::<T>(d, 5);
        let mut y = vec![T::ZERO; d];
        let idx: Vec<usize> = (0..batch).map(|k| (k * 37) % samples).collect();
        let alpha = f::<T>(1.0 / batch as f64);
        let naive = best_time(
            || {
                y.fill(T::ZERO);
                for &s in &idx {
                    for r in 0..d {
                        let mut acc = T::ZERO;
                        for k in 0..d {
                            acc += mats[s * d * d + r * d + k] * x[k];
                        }
                        y[r] += alpha * acc;
                    }
                }
                black_box(&mut y);
            },
            d,
            bud,
        );
        let shape = format!("{batch}x{d}x{d}");
        for &b in &available {
            let ns = best_time(|| b.batched_gemv(alpha, &mats, &idx, &x, T::ZERO, &mut y).unwrap(), d, bud);
            oracle_line(
                "batched_gemv",
                dtype,
                &shape,
                b.name(),
                ns,
                es * (batch * d * d) as f64,
                naive,
                None,
            );
        }
    }
    if want("glm_accumulate") {
        let (rows, d) = (1000usize, 22usize);
        let (a, x) = (fill::<T>(rows * d, 6), fill::<T>(d, 7));
        let mut out = vec![T::ZERO; d];
        let h = T::HALF;
        let naive = best_time(
            || {
                out.fill(T::ZERO);
                for r in 0..rows {
                    let mut s = T::ZERO;
                    for k in 0..d {
                        s += a[r * d + k] * x[k];
                    }
                    let c = h * s;
                    for k in 0..d {
                        out[k] += c * a[r * d + k];
                    }
                }
                black_box(&mut out);
            },
            rows,
            bud,
        );
        let shape = format!("{rows}x{d}");
        for &b in &available {
            let ns = best_time(|| b.glm_accumulate(&a, &x, |_, s| h * s, &mut out).unwrap(), rows, bud);
            oracle_line("glm_accumulate", dtype, &shape, b.name(), ns, es * (rows * d) as f64, naive, None);
        }
    }
}

/// The CPU model, from /proc/cpuinfo where present.
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Opts { quick: false, only: None, sizes: None };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => opts.quick = true,
            "--kernel" if i + 1 < args.len() => {
                opts.only = Some(args[i + 1].clone());
                i += 1;
            }
            "--sizes" if i + 1 < args.len() => {
                opts.sizes =
                    Some(args[i + 1].split(',').map(|n| n.parse().expect("--sizes 16,64")).collect());
                i += 1;
            }
            other => {
                eprintln!(
                    "kernel_report: unknown argument `{other}` (use --quick, --kernel NAME, --sizes N,M)"
                );
                std::process::exit(2);
            }
        }
        i += 1;
    }
    println!("# bilevel kernel report: {}, detected backend {}", cpu_name(), Backend::detect().name());
    measure::<f64>(&opts);
    measure::<f32>(&opts);
    measure_fd_saga::<f64>(&opts);
    measure_fd_saga::<f32>(&opts);
    measure_oracles::<f64>(&opts);
    measure_oracles::<f32>(&opts);
    let want = |k: &str| opts.only.as_deref().is_none_or(|o| o == k);
    if want("saga_epoch") {
        saga_epoch();
    }
    if want("subnormal") {
        subnormal::<f64>(1e-310);
        subnormal::<f32>(1e-40);
    }
}
