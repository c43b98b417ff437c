//! Checkpoint and resume: for every solver, `N` steps, export, restore into a
//! fresh solver, `M` more steps must equal `N + M` uninterrupted steps bit for
//! bit (all exported state: iterates, momentum buffers, SAGA tables, counters),
//! in f32 and f64. Also: every solver boxes as `dyn Solver`.

use bilevel::Float;
use bilevel::kernels::Delta;
use bilevel::oracles::Problem;
use bilevel::quadratic::Quadratic;
use bilevel::solvers::{
    Checkpoint, F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, SabaGlm,
    SabaInit, Soba, SobaConfig, Solver,
};
use bilevel_problems::synthetic::LogisticDataset;
use proptest::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

fn state_bits<T: Float, S: Checkpoint<T>>(s: &S) -> (Vec<u64>, u64, u64) {
    let mut out = vec![T::ZERO; s.state_len()];
    let c = s.export(&mut out).unwrap();
    (out.iter().map(|v| v.to_f64().to_bits()).collect(), c.iteration, c.penalty.to_bits())
}

/// Runs `n` steps, checkpoints, and compares `m` more steps of the original
/// with `m` steps of a restored fresh solver.
fn check_resume<T, P, S>(make: impl Fn() -> S, pb: &P, n: u64, m: u64, seed: u64) -> Result<(), TestCaseError>
where
    T: Float,
    P: Problem<T>,
    S: Solver<T, P> + Checkpoint<T>,
{
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut a = make();
    for _ in 0..n {
        Solver::step(&mut a, pb, &mut rng).unwrap();
    }
    let mut saved = vec![T::ZERO; a.state_len()];
    let counters = a.export(&mut saved).unwrap();
    let mut b = make();
    b.restore(&saved, counters).unwrap();
    prop_assert_eq!(state_bits(&a), state_bits(&b));
    let mut rng_b = rng.clone();
    for _ in 0..m {
        Solver::step(&mut a, pb, &mut rng).unwrap();
        Solver::step(&mut b, pb, &mut rng_b).unwrap();
    }
    prop_assert_eq!(state_bits(&a), state_bits(&b));
    prop_assert_eq!(a.iteration(), n + m);
    Ok(())
}

struct QuadData<T> {
    a: Vec<T>,
    bm: Vec<T>,
    b: Vec<T>,
}

fn quad_data<T: Float>() -> QuadData<T> {
    let f = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>();
    QuadData {
        a: f(&[2.0, 0.3, 0.1, 0.3, 1.5, 0.2, 0.1, 0.2, 1.0]),
        bm: f(&[1.0, 0.5, -0.5, 0.2, 0.3, 0.3]),
        b: f(&[1.0, 0.0, -1.0]),
    }
}

fn all_solvers_resume<T: Float>(n: u64, m: u64, seed: u64) -> Result<(), TestCaseError> {
    let d = quad_data::<T>();
    let sig = T::from_f64(0.1);
    let pb = Quadratic::new(&d.a, &d.bm, &d.b, 2, T::from_f64(0.1))
        .unwrap()
        .with_noise(sig, sig)
        .unwrap()
        .with_finite_sum(4, 2)
        .unwrap();
    let (x0, y0) = ([T::from_f64(0.5), T::from_f64(-0.5)], [T::ZERO; 3]);
    check_resume(|| Soba::new_owned(SobaConfig::default(), &x0, &y0).unwrap(), &pb, n, m, seed)?;
    let saba = SabaConfig { init: SabaInit::FullPass, ..Default::default() };
    check_resume(|| Saba::new_owned(saba, &pb, &x0, &y0).unwrap(), &pb, n, m, seed)?;
    check_resume(|| F2sa::new_owned(F2saConfig::default(), &x0, &y0).unwrap(), &pb, n, m, seed)?;
    check_resume(|| F3sa::new_owned(F3saConfig::default(), &x0, &y0).unwrap(), &pb, n, m, seed)?;
    check_resume(|| Fmbo::new_owned(FmboConfig::new(10.0), &x0, &y0).unwrap(), &pb, n, m, seed)?;
    let fd = || FdeHbo::new_owned(FmboConfig::new(10.0), Delta::Relative, &x0, &y0).unwrap();
    check_resume(fd, &pb, n, m, seed)?;
    let data = LogisticDataset::<T>::synthetic(seed, 30, 20, 3, 0.3).unwrap();
    let glm = data.problem(1, 1).unwrap();
    let z = [T::ZERO; 3];
    check_resume(|| SabaGlm::new_owned(saba, &glm, &z, &z).unwrap(), &glm, n, m, seed)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn resume_is_bit_identical_f64(n in 0u64..40, m in 0u64..40, seed in 0u64..1000) {
        all_solvers_resume::<f64>(n, m, seed)?;
    }

    #[test]
    fn resume_is_bit_identical_f32(n in 0u64..40, m in 0u64..40, seed in 0u64..1000) {
        all_solvers_resume::<f32>(n, m, seed)?;
    }
}

#[test]
fn restore_rejects_bad_states_and_changes_nothing() {
    let mut s = F2sa::new_owned(F2saConfig::default(), &[1.0f64], &[2.0]).unwrap();
    let before = state_bits(&s);
    let c = bilevel::solvers::Counters { iteration: 5, penalty: 3.0 };
    assert!(s.restore(&[0.0; 2], c).is_err()); // wrong length
    assert!(s.restore(&[0.0, f64::INFINITY, 0.0], c).is_err());
    assert!(s.restore(&[0.0; 3], bilevel::solvers::Counters { penalty: -1.0, ..c }).is_err());
    assert_eq!(state_bits(&s), before);
    s.restore(&[4.0, 5.0, 6.0], c).unwrap();
    assert_eq!(state_bits(&s), (vec![4f64.to_bits(), 5f64.to_bits(), 6f64.to_bits()], 5, 3f64.to_bits()));
}

#[cfg(feature = "serde")]
#[test]
fn snapshots_and_configs_round_trip_through_serde() {
    let cfg = F3saConfig::default();
    let text = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<F3saConfig>(&text).unwrap(), cfg);
    let s = Soba::new_owned(SobaConfig::default(), &[1.5f64], &[2.5]).unwrap();
    let snap = s.snapshot();
    let back: bilevel::solvers::Snapshot<f64> =
        serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
    assert_eq!(back, snap);
}

/// All seven solvers in one `Vec<Box<dyn Solver>>` on one problem type.
#[test]
fn every_solver_boxes_as_dyn_solver() {
    let data = LogisticDataset::<f64>::synthetic(4, 60, 30, 3, 0.3).unwrap();
    let pb = data.problem(4, 4).unwrap();
    let z = [0.0; 3];
    let saba = SabaConfig::default();
    type Dyn<'a> = Box<dyn Solver<f64, bilevel_problems::logistic::LogisticHyper<'a, f64>> + 'a>;
    let mut solvers: Vec<(&str, Dyn<'_>)> = vec![
        ("soba", Box::new(Soba::new_owned(SobaConfig::default(), &z, &z).unwrap())),
        ("saba", Box::new(Saba::new_owned(saba, &pb, &z, &z).unwrap())),
        ("saba-glm", Box::new(SabaGlm::new_owned(saba, &pb, &z, &z).unwrap())),
        ("f2sa", Box::new(F2sa::new_owned(F2saConfig::default(), &z, &z).unwrap())),
        ("f3sa", Box::new(F3sa::new_owned(F3saConfig::default(), &z, &z).unwrap())),
        ("fmbo", Box::new(Fmbo::new_owned(FmboConfig::new(10.0), &z, &z).unwrap())),
        ("fdehbo", Box::new(FdeHbo::new_owned(FmboConfig::new(10.0), Delta::Relative, &z, &z).unwrap())),
    ];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    for (name, s) in &mut solvers {
        let out = s.run(&pb, &mut rng, 50, |_, _| bilevel::solvers::Control::Continue).unwrap();
        assert_eq!((out.iterations, s.iteration()), (50, 50), "{name}");
        assert!(s.x().iter().chain(s.y()).all(|v| v.is_finite()), "{name}");
    }
}
