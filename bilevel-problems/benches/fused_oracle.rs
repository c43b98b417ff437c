//! SABA on benchopt's quadratic shape (4,096 inner samples with dense 100×100
//! matrices, 1,024 outer samples, p = 10, batches of 64): time per iteration
//! with the fused inner oracle against the split calls, in one run.
//!
//! `cargo bench -p bilevel-problems --bench fused_oracle`

use bilevel::oracles::{FiniteSum, FirstOrder, Problem, SecondOrder};
use bilevel::solvers::{Saba, SabaConfig};
use bilevel_problems::per_sample::PerSampleQuadratic;
use criterion::{Criterion, criterion_group, criterion_main};
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

/// The same problem without its one-pass `inner_eval`: solvers then make the
/// split calls (the trait's default).
struct Split<'a>(&'a PerSampleQuadratic<f64>);

impl Problem<f64> for Split<'_> {
    type Sample = usize;
    fn dim_x(&self) -> usize {
        self.0.dim_x()
    }
    fn dim_y(&self) -> usize {
        self.0.dim_y()
    }
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.0.sample_inner(rng)
    }
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.0.sample_outer(rng)
    }
}

impl FirstOrder<f64> for Split<'_> {
    fn grad_g(&self, x: &[f64], y: &[f64], s: &usize, gx: Option<&mut [f64]>, gy: Option<&mut [f64]>) {
        self.0.grad_g(x, y, s, gx, gy)
    }
    fn grad_f(&self, x: &[f64], y: &[f64], s: &usize, fx: Option<&mut [f64]>, fy: Option<&mut [f64]>) {
        self.0.grad_f(x, y, s, fx, fy)
    }
}

impl SecondOrder<f64> for Split<'_> {
    fn hvp_jvp_g(
        &self,
        x: &[f64],
        y: &[f64],
        v: &[f64],
        s: &usize,
        hv: Option<&mut [f64]>,
        jv: Option<&mut [f64]>,
    ) {
        self.0.hvp_jvp_g(x, y, v, s, hv, jv)
    }
}

impl FiniteSum<f64> for Split<'_> {
    fn n_inner(&self) -> usize {
        self.0.n_inner()
    }
    fn n_outer(&self) -> usize {
        self.0.n_outer()
    }
    fn inner_batch(&self, i: usize) -> usize {
        i
    }
    fn outer_batch(&self, j: usize) -> usize {
        j
    }
    fn inner_weight(&self, i: usize) -> f64 {
        self.0.inner_weight(i)
    }
    fn outer_weight(&self, j: usize) -> f64 {
        self.0.outer_weight(j)
    }
}

fn saba_step(c: &mut Criterion) {
    let pb =
        PerSampleQuadratic::<f64>::generate(0, (4096, 1024), (100, 10), 0.1, 0.1, (64, 64)).expect("problem");
    let split = Split(&pb);
    let mut group = c.benchmark_group("saba_step_benchopt_quadratic");
    let (x0, y0) = ([0.0; 10], [0.0; 100]);
    let mut fused_solver = Saba::new_owned(SabaConfig::default(), &pb, &x0, &y0).expect("solver");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    group.bench_function("fused", |b| b.iter(|| fused_solver.step(&pb, &mut rng).expect("step")));
    let mut split_solver = Saba::new_owned(SabaConfig::default(), &split, &x0, &y0).expect("solver");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    group.bench_function("split", |b| b.iter(|| split_solver.step(&split, &mut rng).expect("step")));
    group.finish();
}

criterion_group!(benches, saba_step);
criterion_main!(benches);
