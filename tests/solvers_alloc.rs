//! A counting global allocator shows that `step` allocates nothing, for every
//! solver (the workspace is allocated once, at construction).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bilevel::quadratic::Quadratic;
use bilevel::schedule::Penalty;
use bilevel::solvers::{
    Control, F2sa, F2saConfig, F3sa, F3saConfig, Fmbo, FmboConfig, Iterates, Soba, SobaConfig, Solver,
};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

struct Counting;

// Per-thread switch and count: tests run in parallel threads, and a global
// counter would also see the other tests' allocations.
thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    if ON.with(|c| c.get()) {
        ALLOCS.with(|a| a.set(a.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn count(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(|a| a.get());
    ON.with(|c| c.set(true));
    f();
    ON.with(|c| c.set(false));
    ALLOCS.with(|a| a.get()) - before
}

#[test]
fn counter_sees_allocations() {
    // The counter can fail: a Vec allocation is counted.
    assert!(count(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}

#[test]
fn step_and_run_allocate_nothing() {
    let (p, q) = (3, 5);
    let a: Vec<f64> = (0..q * q).map(|k| if k % (q + 1) == 0 { 1.5 } else { 0.0 }).collect();
    let bm: Vec<f64> = (0..q * p).map(|k| ((k * 7 % 5) as f64 - 2.0) / 5.0).collect();
    let b = vec![0.5; q];
    let pb = Quadratic::new(&a, &bm, &b, p, 0.1).unwrap().with_noise(0.1, 0.1).unwrap();
    let (x0, y0) = (vec![1.0; p], vec![0.0; q]);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);

    let mut soba = Soba::new_owned(SobaConfig::default(), &x0, &y0).unwrap();
    let mut fmbo = Fmbo::new_owned(FmboConfig::new(10.0), &x0, &y0).unwrap();
    let mut f2sa =
        F2sa::new_owned(F2saConfig { penalty: Penalty::benchopt(0.01), ..Default::default() }, &x0, &y0)
            .unwrap();
    let mut f3sa = F3sa::new_owned(F3saConfig::default(), &x0, &y0).unwrap();
    let mut fdehbo = bilevel::solvers::FdeHbo::new_owned(
        FmboConfig::new(10.0),
        bilevel::kernels::Delta::Adaptive,
        &x0,
        &y0,
    )
    .unwrap();

    let n = count(|| {
        for _ in 0..50 {
            soba.step(&pb, &mut rng).unwrap();
            fmbo.step(&pb, &mut rng).unwrap();
            f2sa.step(&pb, &mut rng).unwrap();
            f3sa.step(&pb, &mut rng).unwrap();
            fdehbo.step(&pb, &mut rng).unwrap();
        }
    });
    assert_eq!(n, 0, "step allocated {n} times");
    let n = count(|| {
        soba.run(&pb, &mut rng, 20, |_, _| Control::Continue).unwrap();
        fmbo.run(&pb, &mut rng, 20, |_, _| Control::Continue).unwrap();
        f2sa.run(&pb, &mut rng, 20, |_, _| Control::Continue).unwrap();
        f3sa.run(&pb, &mut rng, 20, |_, _| Control::Continue).unwrap();
        fdehbo.run(&pb, &mut rng, 20, |_, _| Control::Continue).unwrap();
    });
    assert_eq!(n, 0, "run allocated {n} times");
    // Stack storage works too (no_std pattern).
    let mut s =
        Soba::new(SobaConfig::default(), [0.0f64; bilevel::solvers::soba::workspace_len(3, 5)], &x0, &y0)
            .unwrap();
    assert_eq!(count(|| assert_eq!(s.step(&pb, &mut rng).unwrap().iteration, 0)), 0);

    // SABA on the finite-sum form, including the full pass of its first step.
    let fs = pb.with_finite_sum(6, 4).unwrap();
    let cfg =
        bilevel::solvers::SabaConfig { init: bilevel::solvers::SabaInit::FullPass, ..Default::default() };
    let mut saba = bilevel::solvers::Saba::new_owned(cfg, &fs, &x0, &y0).unwrap();
    let n = count(|| {
        for _ in 0..50 {
            saba.step(&fs, &mut rng).unwrap();
        }
        saba.run(&fs, &mut rng, 20, |_, _| Control::Continue).unwrap();
    });
    assert_eq!(n, 0, "SABA allocated {n} times");
    assert_eq!(saba.iteration(), 70);

    // SABA with scalar tables on the logistic problem (single-sample rows).
    let data = bilevel_problems::synthetic::LogisticDataset::<f64>::synthetic(0, 50, 30, 4, 0.3).unwrap();
    let lp = data.problem(1, 1).unwrap();
    let mut glm = bilevel::solvers::SabaGlm::new_owned(cfg, &lp, &[0.0; 4], &[0.0; 4]).unwrap();
    let n = count(|| {
        for _ in 0..50 {
            glm.step(&lp, &mut rng).unwrap();
        }
        glm.run(&lp, &mut rng, 20, |_, _| Control::Continue).unwrap();
    });
    assert_eq!(n, 0, "SabaGlm allocated {n} times");
    assert_eq!(glm.iteration(), 70);
}
