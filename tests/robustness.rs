//! Nothing changes on error: a poisoned oracle call at a random point of a
//! random step leaves every bit of solver state as it was (the run then goes
//! on as a twin that never saw the bad step); bad row weights are typed
//! errors; inner problems that are not strongly convex end in `Diverged`
//! instead of `Ok` steps towards overflow.

use bilevel::oracles::{FiniteSum, FirstOrder, Problem, SecondOrder};
use bilevel::quadratic::Quadratic;
use bilevel::solvers::sampling::Reshuffled;
use bilevel::solvers::{
    Checkpoint, F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, SabaGlm,
    SabaInit, Soba, SobaConfig, Solver,
};
use bilevel::{Error, Float, kernels::Delta};
use bilevel_problems::synthetic::LogisticDataset;
use bilevel_problems::testing::Poisoned;
use proptest::prelude::*;
use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

fn state_bits<T: Float, S: Checkpoint<T>>(s: &S) -> (Vec<u64>, u64, u64) {
    let mut out = vec![T::ZERO; s.state_len()];
    let c = s.export(&mut out).unwrap();
    (out.iter().map(|v| v.to_f64().to_bits()).collect(), c.iteration, c.penalty.to_bits())
}

/// Steps on the poisoned problem until a step fails; that step must leave
/// the state unchanged, and the run must then go on exactly as a twin that
/// never saw it (a clone taken before the step, sampler included). Returns
/// whether an error happened.
fn twin_after_error<T, P, S>(
    make: impl Fn() -> S,
    pb: &P,
    at: u64,
    value: T,
    seed: u64,
) -> Result<bool, TestCaseError>
where
    T: Float,
    P: Problem<T>,
    S: Solver<T, P> + Checkpoint<T> + Clone,
    for<'a> S: Solver<T, Poisoned<'a, P, T>>,
{
    let bad = Poisoned::new(pb, at, value);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut s = make();
    for _ in 0..60 {
        let mut twin = s.clone();
        match Solver::<T, Poisoned<'_, P, T>>::step(&mut s, &bad, &mut rng) {
            Ok(_) => continue,
            Err(e) => {
                prop_assert!(matches!(e, Error::Diverged { .. }), "{:?}", e);
                prop_assert_eq!(state_bits(&s), state_bits(&twin));
                let mut rng_twin = rng.clone();
                for _ in 0..20 {
                    Solver::<T, P>::step(&mut s, pb, &mut rng).unwrap();
                    Solver::<T, P>::step(&mut twin, pb, &mut rng_twin).unwrap();
                }
                prop_assert_eq!(state_bits(&s), state_bits(&twin));
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn poisoned_runs<T: Float>(at: u64, value: f64, seed: u64) -> Result<(), TestCaseError> {
    let f = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>();
    let (a, bm, b) = (
        f(&[2.0, 0.3, 0.1, 0.3, 1.5, 0.2, 0.1, 0.2, 1.0]),
        f(&[1.0, 0.5, -0.5, 0.2, 0.3, 0.3]),
        f(&[1.0, 0.0, -1.0]),
    );
    let sig = T::from_f64(0.1);
    let pb = Quadratic::new(&a, &bm, &b, 2, T::from_f64(0.1))
        .unwrap()
        .with_noise(sig, sig)
        .unwrap()
        .with_finite_sum(4, 2)
        .unwrap();
    let (x0, y0) = ([T::from_f64(0.5), T::from_f64(-0.5)], [T::ZERO; 3]);
    let v = T::from_f64(value);
    let mut errors = 0;
    errors +=
        twin_after_error(|| Soba::new_owned(SobaConfig::default(), &x0, &y0).unwrap(), &pb, at, v, seed)?
            as u32;
    let saba = SabaConfig { init: SabaInit::FullPass, ..Default::default() };
    errors += twin_after_error(|| Saba::new_owned(saba, &pb, &x0, &y0).unwrap(), &pb, at, v, seed)? as u32;
    let reshuffled =
        || Saba::new_owned(saba, &pb, &x0, &y0).unwrap().with_sampler(Reshuffled::new_owned(4, 2).unwrap());
    errors += twin_after_error(reshuffled, &pb, at, v, seed)? as u32;
    errors +=
        twin_after_error(|| F2sa::new_owned(F2saConfig::default(), &x0, &y0).unwrap(), &pb, at, v, seed)?
            as u32;
    errors +=
        twin_after_error(|| F3sa::new_owned(F3saConfig::default(), &x0, &y0).unwrap(), &pb, at, v, seed)?
            as u32;
    errors +=
        twin_after_error(|| Fmbo::new_owned(FmboConfig::new(10.0), &x0, &y0).unwrap(), &pb, at, v, seed)?
            as u32;
    let fd = || FdeHbo::new_owned(FmboConfig::new(10.0), Delta::Relative, &x0, &y0).unwrap();
    errors += twin_after_error(fd, &pb, at, v, seed)? as u32;
    let data = LogisticDataset::<T>::synthetic(seed, 30, 20, 3, 0.3).unwrap();
    let glm = data.problem(1, 1).unwrap();
    let z = [T::ZERO; 3];
    errors += twin_after_error(|| SabaGlm::new_owned(saba, &glm, &z, &z).unwrap(), &glm, at, v, seed)? as u32;
    // A NaN or infinite value always fails the step it lands in.
    if !value.is_finite() {
        prop_assert_eq!(errors, 8);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_failed_step_changes_nothing_f64(at in 0u64..120, which in 0usize..3, seed in 0u64..1000) {
        poisoned_runs::<f64>(at, [f64::NAN, f64::INFINITY, f64::MAX][which], seed)?;
    }

    #[test]
    fn a_failed_step_changes_nothing_f32(at in 0u64..120, which in 0usize..3, seed in 0u64..1000) {
        poisoned_runs::<f32>(at, [f64::NAN, f64::NEG_INFINITY, f32::MAX as f64][which], seed)?;
    }
}

/// A finite sum whose outer row weights are replaced.
struct Reweighted<'a, P> {
    inner: &'a P,
    outer: [f64; 2],
}

impl<P: Problem<f64>> Problem<f64> for Reweighted<'_, P> {
    type Sample = P::Sample;
    fn dim_x(&self) -> usize {
        self.inner.dim_x()
    }
    fn dim_y(&self) -> usize {
        self.inner.dim_y()
    }
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> P::Sample {
        self.inner.sample_inner(rng)
    }
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> P::Sample {
        self.inner.sample_outer(rng)
    }
}
impl<P: FirstOrder<f64>> FirstOrder<f64> for Reweighted<'_, P> {
    fn grad_g(&self, x: &[f64], y: &[f64], s: &P::Sample, gx: Option<&mut [f64]>, gy: Option<&mut [f64]>) {
        self.inner.grad_g(x, y, s, gx, gy)
    }
    fn grad_f(&self, x: &[f64], y: &[f64], s: &P::Sample, fx: Option<&mut [f64]>, fy: Option<&mut [f64]>) {
        self.inner.grad_f(x, y, s, fx, fy)
    }
}
impl<P: SecondOrder<f64>> SecondOrder<f64> for Reweighted<'_, P> {
    fn hvp_jvp_g(
        &self,
        x: &[f64],
        y: &[f64],
        v: &[f64],
        s: &P::Sample,
        hv: Option<&mut [f64]>,
        jv: Option<&mut [f64]>,
    ) {
        self.inner.hvp_jvp_g(x, y, v, s, hv, jv)
    }
}
impl<P: FiniteSum<f64>> FiniteSum<f64> for Reweighted<'_, P> {
    fn n_inner(&self) -> usize {
        self.inner.n_inner()
    }
    fn n_outer(&self) -> usize {
        2
    }
    fn inner_batch(&self, i: usize) -> P::Sample {
        self.inner.inner_batch(i)
    }
    fn outer_batch(&self, j: usize) -> P::Sample {
        self.inner.outer_batch(j)
    }
    fn outer_weight(&self, j: usize) -> f64 {
        self.outer[j]
    }
}

#[test]
fn invalid_row_weights_are_typed_errors() {
    let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1).unwrap().with_finite_sum(2, 2).unwrap();
    for outer in [[-1.0, 2.0], [f64::NAN, 1.0], [0.5, 0.6], [f64::INFINITY, 0.0]] {
        let bad = Reweighted { inner: &pb, outer };
        let e = Saba::new_owned(SabaConfig::default(), &bad, &[0.0], &[0.0]).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { name: "outer_weight", .. }), "{outer:?}: {e:?}");
    }
    let ok = Reweighted { inner: &pb, outer: [0.25, 0.75] };
    assert!(Saba::new_owned(SabaConfig::default(), &ok, &[0.0], &[0.0]).is_ok());
}

/// Runs up to `iters` steps and returns the error that stopped the run.
fn first_error<P: Problem<f64>, S: Solver<f64, P>>(s: &mut S, pb: &P, iters: u64) -> Option<Error> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for _ in 0..iters {
        if let Err(e) = Solver::step(s, pb, &mut rng) {
            return Some(e);
        }
        assert!(s.x().iter().chain(s.y()).all(|v| v.abs() < 1.2e77), "an Ok step beyond the growth guard");
    }
    None
}

#[test]
fn inner_problems_that_are_not_strongly_convex_end_in_diverged() {
    use bilevel::schedule::Step;
    // Indefinite: eigenvalues 0.6, −0.4 (and 0.25); singular: eigenvalues 2, 0.
    let indefinite = [0.1, 0.5, 0.0, 0.5, 0.1, 0.0, 0.0, 0.0, 0.25];
    let singular = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let bm = [1.0, 0.5, -0.5, 0.2, 0.3, 0.3];
    let b = [1.0, 0.0, -1.0];
    let (x0, y0) = ([0.5, -0.5], [0.1, -0.2, 0.3]);
    let steps = |c: f64| Step::Constant(c);
    for (name, a) in [("indefinite", indefinite), ("singular", singular)] {
        let pb = Quadratic::new(&a, &bm, &b, 2, 0.1).unwrap().with_finite_sum(2, 2).unwrap();
        let soba = SobaConfig { step_y: steps(0.2), step_x: steps(0.1), ..Default::default() };
        let saba = SabaConfig { step_y: steps(0.2), step_x: steps(0.1), ..Default::default() };
        let fmbo = FmboConfig {
            step_x: steps(0.1),
            step_y: steps(0.2),
            step_v: steps(0.2),
            ..FmboConfig::new(f64::INFINITY)
        };
        let f2sa =
            F2saConfig { step_x: steps(0.1), step_y: steps(0.2), step_z: steps(0.2), ..Default::default() };
        let f3sa =
            F3saConfig { step_x: steps(0.1), step_y: steps(0.2), step_z: steps(0.2), ..Default::default() };
        let budget = 200_000;
        let errs = [
            ("soba", first_error(&mut Soba::new_owned(soba, &x0, &y0).unwrap(), &pb, budget)),
            ("saba", first_error(&mut Saba::new_owned(saba, &pb, &x0, &y0).unwrap(), &pb, budget)),
            ("fmbo", first_error(&mut Fmbo::new_owned(fmbo, &x0, &y0).unwrap(), &pb, budget)),
            (
                "fdehbo",
                first_error(&mut FdeHbo::new_owned(fmbo, Delta::Relative, &x0, &y0).unwrap(), &pb, budget),
            ),
            ("f2sa", first_error(&mut F2sa::new_owned(f2sa, &x0, &y0).unwrap(), &pb, budget)),
            ("f3sa", first_error(&mut F3sa::new_owned(f3sa, &x0, &y0).unwrap(), &pb, budget)),
        ];
        for (solver, e) in errs {
            println!("{name} inner Hessian, {solver}: {e:?}");
            assert!(matches!(e, Some(Error::Diverged { .. })), "{name}, {solver}: {e:?}");
        }
    }
}
