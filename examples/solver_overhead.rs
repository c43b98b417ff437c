//! Solver overhead at p = q = 100: the time of one `step` of each solver
//! minus the time of its oracle calls, on a problem whose oracles are
//! O(p + q) (identity Hessian). Moved out of `kernel_report` so that the
//! kernel report depends only on the kernels.
//!
//! Run: `cargo run --release --example solver_overhead`.

use std::hint::black_box;
use std::time::{Duration, Instant};

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

/// Solver overhead at p = q = 100: time of one `step` minus the time of its
/// oracle calls, on a problem whose oracles are O(p + q) (identity Hessian).
fn solver_overhead() {
    use bilevel::kernels::Delta;
    use bilevel::oracles::{FiniteSum, FirstOrder, Problem, SecondOrder};
    use bilevel::solvers::{
        F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, Soba, SobaConfig,
    };
    use rand_xoshiro::Xoshiro256PlusPlus;
    use rand_xoshiro::rand_core::{Rng, SeedableRng};

    /// g = ½‖y − x‖², f = ½‖y‖² + ½‖x‖²; 8 "samples" for SABA.
    struct Cheap;
    impl Problem<f64> for Cheap {
        type Sample = ();
        fn dim_x(&self) -> usize {
            100
        }
        fn dim_y(&self) -> usize {
            100
        }
        fn sample_inner<R: Rng + ?Sized>(&self, _: &mut R) {}
        fn sample_outer<R: Rng + ?Sized>(&self, _: &mut R) {}
    }
    impl FirstOrder<f64> for Cheap {
        fn grad_g(&self, x: &[f64], y: &[f64], _: &(), gx: Option<&mut [f64]>, gy: Option<&mut [f64]>) {
            if let Some(gx) = gx {
                for ((o, a), b) in gx.iter_mut().zip(x).zip(y) {
                    *o = a - b;
                }
            }
            if let Some(gy) = gy {
                for ((o, a), b) in gy.iter_mut().zip(y).zip(x) {
                    *o = a - b;
                }
            }
        }
        fn grad_f(&self, x: &[f64], y: &[f64], _: &(), fx: Option<&mut [f64]>, fy: Option<&mut [f64]>) {
            if let Some(fx) = fx {
                fx.copy_from_slice(x);
            }
            if let Some(fy) = fy {
                fy.copy_from_slice(y);
            }
        }
    }
    impl SecondOrder<f64> for Cheap {
        fn hvp_jvp_g(
            &self,
            _: &[f64],
            _: &[f64],
            v: &[f64],
            _: &(),
            hv: Option<&mut [f64]>,
            jv: Option<&mut [f64]>,
        ) {
            if let Some(hv) = hv {
                hv.copy_from_slice(v);
            }
            if let Some(jv) = jv {
                for (o, a) in jv.iter_mut().zip(v) {
                    *o = -a;
                }
            }
        }
    }
    impl FiniteSum<f64> for Cheap {
        fn n_inner(&self) -> usize {
            8
        }
        fn n_outer(&self) -> usize {
            8
        }
        fn inner_batch(&self, _: usize) {}
        fn outer_batch(&self, _: usize) {}
    }

    let pb = Cheap;
    let (x0, y0) = (vec![0.5; 100], vec![0.0; 100]);
    let bud = Duration::from_millis(150);
    // Oracle costs alone.
    let (mut gx, mut gy, mut hv, mut jv) = (vec![0.0; 100], vec![0.0; 100], vec![0.0; 100], vec![0.0; 100]);
    let t_grad_g = best_time(
        || {
            pb.grad_g(&x0, black_box(&y0), &(), Some(&mut gx), Some(&mut gy));
            black_box((&mut gx, &mut gy));
        },
        1,
        bud,
    );
    let t_grad_f = best_time(
        || {
            pb.grad_f(&x0, black_box(&y0), &(), Some(&mut gx), Some(&mut gy));
            black_box((&mut gx, &mut gy));
        },
        1,
        bud,
    );
    let t_hvp = best_time(
        || {
            pb.hvp_jvp_g(&x0, &y0, black_box(&y0), &(), Some(&mut hv), Some(&mut jv));
            black_box((&mut hv, &mut jv));
        },
        1,
        bud,
    );
    let line = |name: &str, step_ns: f64, oracle_ns: f64| {
        println!(
            "solver_overhead solver={name} p=100 q=100 ns_per_step={step_ns:.0} oracle_ns={oracle_ns:.0} overhead_ns={:.0}",
            step_ns - oracle_ns
        );
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let small = bilevel::schedule::Step::Constant(1e-3);
    let mut time_solver = |s: &mut dyn FnMut(&mut Xoshiro256PlusPlus)| best_time(|| s(&mut rng), 1, bud);
    let mut soba =
        Soba::new_owned(SobaConfig { step_y: small, step_x: small, ..Default::default() }, &x0, &y0).unwrap();
    let ns = time_solver(&mut |r| {
        soba.step(&pb, r).unwrap();
    });
    line("soba", ns, t_grad_g + t_hvp + t_grad_f);
    let cfg = SabaConfig { step_y: small, step_x: small, ..Default::default() };
    let mut saba = Saba::new_owned(cfg, &pb, &x0, &y0).unwrap();
    let ns = time_solver(&mut |r| {
        saba.step(&pb, r).unwrap();
    });
    line("saba", ns, t_grad_g + t_hvp + t_grad_f);
    let mut f2 = F2sa::new_owned(
        F2saConfig { step_x: small, step_y: small, step_z: small, inner_steps: 1, ..Default::default() },
        &x0,
        &y0,
    )
    .unwrap();
    let ns = time_solver(&mut |r| {
        f2.step(&pb, r).unwrap();
    });
    // One inner step: ∇_y g at z, ∇_y g and ∇_y f at y; then ∇_x g twice and ∇_x f.
    line("f2sa", ns, 4.0 * t_grad_g + 2.0 * t_grad_f);
    let mut f3 = F3sa::new_owned(
        F3saConfig { step_x: small, step_y: small, step_z: small, ..Default::default() },
        &x0,
        &y0,
    )
    .unwrap();
    let ns = time_solver(&mut |r| {
        f3.step(&pb, r).unwrap();
    });
    // STORM evaluates every gradient at two points.
    line("f3sa", ns, 8.0 * t_grad_g + 4.0 * t_grad_f);
    let mut fc = FmboConfig::new(1e6);
    (fc.step_x, fc.step_y, fc.step_v) = (small, small, small);
    let mut fm = Fmbo::new_owned(fc, &x0, &y0).unwrap();
    let ns = time_solver(&mut |r| {
        fm.step(&pb, r).unwrap();
    });
    line("fmbo", ns, 2.0 * (t_grad_g + t_hvp + t_grad_f));
    let mut fd = FdeHbo::new_owned(fc, Delta::Relative, &x0, &y0).unwrap();
    let ns = time_solver(&mut |r| {
        fd.step(&pb, r).unwrap();
    });
    // Each product: two ∇g calls at y ± d v, at both points.
    line("fdehbo", ns, 2.0 * (t_grad_g + 2.0 * t_grad_g + t_grad_f));
}

fn main() {
    solver_overhead();
}
