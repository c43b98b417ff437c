//! Criterion benchmarks of every kernel: for each (kernel, float type, size)
//! one group compares every backend this CPU has (scalar, AVX2+FMA,
//! AVX-512, NEON), the automatic dispatch, a naive index loop and the same
//! operation composed from nalgebra calls. Throughput is the kernel's nominal
//! traffic (each vector it reads or writes, once per pass), so criterion's
//! GiB/s can be compared with the `triad` and `copy` groups (the bandwidth
//! references, 3 and 2 vectors per element).
//!
//! `cargo bench --bench kernels -- storm/f64` runs one family; for the
//! one-line-per-kernel report with ratios use
//! `cargo run --release --example kernel_report`.

// The naive references are index loops on purpose.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;
use std::time::Duration;

use bilevel::kernels::{Delta, RowWeights, SagaTable, ScalarSagaTable};
use bilevel::{Backend, Float};
use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use nalgebra::DVector;

const SIZES: [usize; 6] = [16, 64, 1000, 1 << 16, (1 << 16) + 3, 1 << 22];

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

/// The backends this CPU can run, with their labels; `auto` is the free function.
fn backends() -> Vec<(&'static str, Backend)> {
    Backend::ALL.into_iter().filter(|b| b.is_available()).map(|b| (b.name(), b)).collect()
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    dtype: &str,
    n: usize,
    vectors: u64,
    es: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(format!("{name}/{dtype}/{n}"));
    g.throughput(Throughput::Bytes(vectors * es * n as u64));
    if n >= 1 << 20 {
        g.sample_size(10).measurement_time(Duration::from_secs(2));
    }
    g
}

/// An `f64` constant in `T` (disambiguates `Float` from nalgebra's traits).
fn k<T: Float>(x: f64) -> T {
    <T as Float>::from_f64(x)
}

fn bench_type<T: Float + nalgebra::RealField>(c: &mut Criterion) {
    let dtype = <T as Float>::NAME;
    let es = core::mem::size_of::<T>() as u64;
    let half = k::<T>(0.5);
    for n in SIZES {
        let (b, cc) = (fill::<T>(n, 1), fill::<T>(n, 2));
        let mut a = vec![<T as Float>::ZERO; n];
        let mut g = group(c, "triad", dtype, n, 3, es);
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                for i in 0..n {
                    a[i] = b[i] + half * cc[i];
                }
                black_box(&mut a);
            })
        });
        g.finish();
        let mut g = group(c, "copy", dtype, n, 2, es);
        g.bench_function("naive", |bch| bch.iter(|| black_box(&mut a).copy_from_slice(&b)));
        g.finish();

        // STORM update: h ← g + (1 − η)(h − g_prev): reads h, g, g_prev, writes h.
        let (gr, gp) = (fill::<T>(n, 3), fill::<T>(n, 4));
        let mut h = fill::<T>(n, 5);
        let eta = k::<T>(0.1);
        let cm = <T as Float>::ONE - eta;
        let mut g = group(c, "storm", dtype, n, 4, es);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| bch.iter(|| bk.storm_update(&mut h, &gr, &gp, eta).unwrap()));
        }
        g.bench_function("auto", |bch| {
            bch.iter(|| bilevel::kernels::storm_update(&mut h, &gr, &gp, eta).unwrap())
        });
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                for i in 0..n {
                    h[i] = gr[i] + cm * (h[i] - gp[i]);
                }
                black_box(&mut h);
            })
        });
        let (ng, ngp, mut nh) = (
            DVector::from_column_slice(&gr),
            DVector::from_column_slice(&gp),
            DVector::from_column_slice(&h),
        );
        g.bench_function("nalgebra", |bch| {
            bch.iter(|| {
                nh -= &ngp;
                nh *= cm;
                nh += &ng;
                black_box(&mut nh);
            })
        });
        g.finish();

        // Fused STORM step: also x ← x − α h (reads/writes x too: 6 vectors).
        let mut x = fill::<T>(n, 6);
        let alpha = k::<T>(1e-3);
        let mut g = group(c, "storm_step", dtype, n, 6, es);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| {
                bch.iter(|| bk.storm_step(&mut h, &mut x, &gr, &gp, eta, alpha).unwrap())
            });
        }
        g.bench_function("auto", |bch| {
            bch.iter(|| bilevel::kernels::storm_step(&mut h, &mut x, &gr, &gp, eta, alpha).unwrap())
        });
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                for i in 0..n {
                    h[i] = gr[i] + cm * (h[i] - gp[i]);
                    x[i] -= alpha * h[i];
                }
                black_box((&mut h, &mut x));
            })
        });
        let mut nx = DVector::from_column_slice(&x);
        g.bench_function("nalgebra", |bch| {
            bch.iter(|| {
                nh -= &ngp;
                nh *= cm;
                nh += &ng;
                nx.axpy(-alpha, &nh, <T as Float>::ONE);
                black_box((&mut nh, &mut nx));
            })
        });
        g.finish();

        // EMA: h ← ρ h + (1 − ρ) g (3 vectors).
        let rho = k::<T>(0.9);
        let om = <T as Float>::ONE - rho;
        let mut g = group(c, "ema", dtype, n, 3, es);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| bch.iter(|| bk.ema_update(&mut h, &gr, rho).unwrap()));
        }
        g.bench_function("auto", |bch| bch.iter(|| bilevel::kernels::ema_update(&mut h, &gr, rho).unwrap()));
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                for i in 0..n {
                    h[i] = rho * h[i] + om * gr[i];
                }
                black_box(&mut h);
            })
        });
        g.bench_function("nalgebra", |bch| bch.iter(|| nh.axpy(om, &ng, rho)));
        g.finish();

        // Projection of a point outside the ball, restored by a copy each
        // time: norm pass (1) + scaling (2) + restore (2) = 5 vectors.
        let v0 = fill::<T>(n, 7);
        let mut v = v0.clone();
        let r = k::<T>(1e-3);
        let mut g = group(c, "project", dtype, n, 5, es);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| {
                bch.iter(|| {
                    bk.project_ball(&mut v, r).unwrap();
                    v.copy_from_slice(&v0);
                })
            });
        }
        g.bench_function("auto", |bch| {
            bch.iter(|| {
                bilevel::kernels::project_ball(&mut v, r).unwrap();
                v.copy_from_slice(&v0);
            })
        });
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                let mut s = <T as Float>::ZERO;
                for i in 0..n {
                    s += v[i] * v[i];
                }
                let nrm = Float::sqrt(s);
                if nrm > r {
                    for i in 0..n {
                        v[i] *= r / nrm;
                    }
                }
                black_box(&mut v);
                v.copy_from_slice(&v0);
            })
        });
        let (mut nv, nv0) = (DVector::from_column_slice(&v0), DVector::from_column_slice(&v0));
        g.bench_function("nalgebra", |bch| {
            bch.iter(|| {
                let nrm = nv.norm();
                if nrm > r {
                    nv *= r / nrm;
                }
                black_box(&mut nv);
                nv.copy_from(&nv0);
            })
        });
        g.finish();

        // Fused FdeHBO step-and-project: w = v − λ h, then projection
        // (reads v, h; writes v; second pass only when outside: 3-5 vectors).
        let mut g = group(c, "step_project", dtype, n, 3, es);
        let lam = k::<T>(0.01);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| {
                bch.iter(|| {
                    bk.step_project(&mut v, &gr, lam, k::<T>(1e6)).unwrap();
                    black_box(&mut v);
                })
            });
        }
        g.bench_function("auto", |bch| {
            bch.iter(|| bilevel::kernels::step_project(&mut v, &gr, lam, k::<T>(1e6)).unwrap())
        });
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                let mut s = <T as Float>::ZERO;
                for i in 0..n {
                    v[i] -= lam * gr[i];
                    s += v[i] * v[i];
                }
                let nrm = Float::sqrt(s);
                if nrm > k::<T>(1e6) {
                    for i in 0..n {
                        v[i] *= k::<T>(1e6) / nrm;
                    }
                }
                black_box(&mut v);
            })
        });
        g.finish();

        // Reductions: dot (2 vectors), norm (1 vector).
        let mut g = group(c, "dot", dtype, n, 2, es);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| bch.iter(|| black_box(bk.dot(&gr, &gp).unwrap())));
        }
        g.bench_function("auto", |bch| bch.iter(|| black_box(bilevel::kernels::dot(&gr, &gp).unwrap())));
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                let mut s = <T as Float>::ZERO;
                for i in 0..n {
                    s += gr[i] * gp[i];
                }
                black_box(s)
            })
        });
        g.bench_function("nalgebra", |bch| bch.iter(|| black_box(ng.dot(&ngp))));
        g.finish();
        let mut g = group(c, "norm", dtype, n, 1, es);
        for (name, bk) in backends() {
            g.bench_function(name, |bch| bch.iter(|| black_box(bk.norm(&gr).unwrap())));
        }
        g.bench_function("auto", |bch| bch.iter(|| black_box(bilevel::kernels::norm(&gr).unwrap())));
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                let mut s = <T as Float>::ZERO;
                for i in 0..n {
                    s += gr[i] * gr[i];
                }
                black_box(Float::sqrt(s))
            })
        });
        g.bench_function("nalgebra", |bch| bch.iter(|| black_box(ng.norm())));
        g.finish();

        // FD Hessian-vector product with a cheap diagonal oracle: 2 oracle
        // calls, each reading the point and writing a gradient (≈ 6 vectors
        // plus the kernel's own passes); its cost is its oracle.
        if n <= 1 << 16 {
            let diag = fill::<T>(n, 8);
            let oracle = |y: &[T], out: &mut [T]| {
                for ((o, &yi), &di) in out.iter_mut().zip(y).zip(&diag) {
                    *o = di * yi;
                }
            };
            let mut out = vec![<T as Float>::ZERO; n];
            let mut scratch = vec![<T as Float>::ZERO; Delta::<T>::Relative.scratch_len(n, n)];
            let mut g = group(c, "fd_hvp", dtype, n, 8, es);
            for (name, bk) in backends() {
                g.bench_function(name, |bch| {
                    bch.iter(|| {
                        bk.hvp_central(oracle, &h, &gr, Delta::Relative, &mut scratch, &mut out).unwrap()
                    })
                });
            }
            g.bench_function("naive", |bch| {
                bch.iter(|| {
                    // (∇g(y + d v) − ∇g(y − d v)) / 2d with a fixed d, two scratch vectors.
                    let d = k::<T>(1e-4);
                    let (p, m) = scratch.split_at_mut(n);
                    for i in 0..n {
                        p[i] = h[i] + d * gr[i];
                    }
                    oracle(p, &mut out);
                    for i in 0..n {
                        p[i] = h[i] - d * gr[i];
                    }
                    oracle(p, &mut m[..n]);
                    for i in 0..n {
                        out[i] = (out[i] - m[i]) / (d + d);
                    }
                    black_box(&mut out);
                })
            });
            g.finish();
        }
    }

    // SAGA tables at the IJCNN1 shape: n = 49,990 rows, d = 22, random row.
    let (rows, d) = (49_990usize, 22usize);
    let idx: Vec<usize> =
        fill::<f64>(4096, 9).iter().map(|u| ((u + 0.5) * rows as f64) as usize % rows).collect();
    let newrow = fill::<T>(d, 10);
    let mut dir = vec![<T as Float>::ZERO; d];
    let mut buf = vec![<T as Float>::ZERO; SagaTable::<T, Vec<T>>::storage_len(rows, d)];
    let mut g = c.benchmark_group(format!("saga_dense/{dtype}/d22"));
    // Per update: reads new, row, avg (+comp); writes dir, row, avg (+comp).
    g.throughput(Throughput::Bytes(8 * d as u64 * es));
    for (name, bk) in backends() {
        let mut t =
            SagaTable::zeroed(&mut buf[..], rows, d, RowWeights::Uniform).unwrap().with_backend(bk).unwrap();
        let mut k = 0;
        g.bench_function(name, |bch| {
            bch.iter(|| {
                k = (k + 1) & 4095;
                t.update(idx[k], &newrow, &mut dir).unwrap();
            })
        });
    }
    let mut naive_rows = vec![<T as Float>::ZERO; rows * d];
    let mut avg = vec![<T as Float>::ZERO; d];
    let inv = <T as Float>::ONE / <T as Float>::from_usize(rows);
    let mut k = 0;
    g.bench_function("naive", |bch| {
        bch.iter(|| {
            k = (k + 1) & 4095;
            let i = idx[k];
            for j in 0..d {
                let diff = newrow[j] - naive_rows[i * d + j];
                dir[j] = diff + avg[j];
                avg[j] += inv * diff;
                naive_rows[i * d + j] = newrow[j];
            }
            black_box(&mut dir);
        })
    });
    g.finish();

    let feats = fill::<T>(rows * d, 11);
    let mut sbuf = vec![<T as Float>::ZERO; ScalarSagaTable::<T, Vec<T>>::storage_len(rows, d, 1)];
    let mut g = c.benchmark_group(format!("saga_scalar/{dtype}/d22"));
    // Per update: reads the feature row, avg (+comp); writes dir, avg (+comp).
    g.throughput(Throughput::Bytes(6 * d as u64 * es));
    for (name, bk) in backends() {
        let mut t = ScalarSagaTable::zeroed(&mut sbuf[..], rows, d, 1, RowWeights::Uniform)
            .unwrap()
            .with_backend(bk)
            .unwrap();
        let mut k = 0;
        g.bench_function(name, |bch| {
            bch.iter(|| {
                k = (k + 1) & 4095;
                let i = idx[k];
                t.update(i, &[half], &feats[i * d..(i + 1) * d], &mut dir).unwrap();
            })
        });
    }
    g.finish();
}

/// Kernels for user oracles: `gemv` and `gemv_t` at 100×100 and 1000×1000
/// (throughput: the matrix's bytes), the benchopt-quadratic batched product
/// (64 samples of 100×100 per call), and the GLM accumulation at the IJCNN1
/// width (1000 rows of 22).
fn bench_oracles<T: Float + nalgebra::RealField>(c: &mut Criterion) {
    let dtype = <T as Float>::NAME;
    let es = core::mem::size_of::<T>() as u64;
    let one = <T as Float>::ONE;
    for n in [100usize, 1000] {
        let (a, x) = (fill::<T>(n * n, 1), fill::<T>(n, 2));
        let mut y = fill::<T>(n, 3);
        let mut g = c.benchmark_group(format!("gemv/{dtype}/{n}x{n}"));
        g.throughput(Throughput::Bytes(es * (n * n) as u64));
        for (name, b) in backends() {
            g.bench_function(name, |bch| {
                bch.iter(|| b.gemv(one, &a, &x, <T as Float>::ZERO, &mut y).unwrap())
            });
        }
        g.bench_function("naive", |bch| {
            bch.iter(|| {
                for r in 0..n {
                    let mut s = <T as Float>::ZERO;
                    for k in 0..n {
                        s += a[r * n + k] * x[k];
                    }
                    y[r] = s;
                }
                black_box(&mut y);
            })
        });
        let na = nalgebra::DMatrix::from_row_slice(n, n, &a);
        let nx = DVector::from_column_slice(&x);
        let mut ny = DVector::from_column_slice(&y);
        g.bench_function("nalgebra", |bch| bch.iter(|| ny.gemv(one, &na, &nx, <T as Float>::ZERO)));
        g.finish();
        let mut g = c.benchmark_group(format!("gemv_t/{dtype}/{n}x{n}"));
        g.throughput(Throughput::Bytes(es * (n * n) as u64));
        for (name, b) in backends() {
            g.bench_function(name, |bch| {
                bch.iter(|| b.gemv_t(one, &a, &x, <T as Float>::ZERO, &mut y).unwrap())
            });
        }
        g.bench_function("nalgebra", |bch| bch.iter(|| ny.gemv_tr(one, &na, &nx, <T as Float>::ZERO)));
        g.finish();
    }
    let (d, samples, batch) = (100usize, 256usize, 64usize);
    let mats = fill::<T>(samples * d * d, 4);
    let x = fill::<T>(d, 5);
    let mut y = vec![<T as Float>::ZERO; d];
    let idx: Vec<usize> = (0..batch).map(|k| (k * 37) % samples).collect();
    let mut g = c.benchmark_group(format!("batched_gemv/{dtype}/{batch}x{d}x{d}"));
    g.throughput(Throughput::Bytes(es * (batch * d * d) as u64));
    let alpha = k::<T>(1.0 / batch as f64);
    for (name, b) in backends() {
        g.bench_function(name, |bch| {
            bch.iter(|| b.batched_gemv(alpha, &mats, &idx, &x, <T as Float>::ZERO, &mut y).unwrap())
        });
    }
    g.finish();
    let (rows, d) = (1000usize, 22usize);
    let (a, x) = (fill::<T>(rows * d, 6), fill::<T>(d, 7));
    let mut out = vec![<T as Float>::ZERO; d];
    let mut g = c.benchmark_group(format!("glm_accumulate/{dtype}/{rows}x{d}"));
    g.throughput(Throughput::Bytes(es * (rows * d) as u64));
    for (name, b) in backends() {
        g.bench_function(name, |bch| {
            bch.iter(|| b.glm_accumulate(&a, &x, |_, s| s * half_of::<T>(), &mut out).unwrap())
        });
    }
    g.finish();
}

/// ½ in `T`.
fn half_of<T: Float>() -> T {
    <T as Float>::HALF
}

fn all(c: &mut Criterion) {
    bench_type::<f64>(c);
    bench_type::<f32>(c);
    bench_oracles::<f64>(c);
    bench_oracles::<f32>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = all
}
criterion_main!(benches);
