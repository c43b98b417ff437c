//! Every solver (SABA-GLM included) built from fuzzed configurations on
//! fuzzed problems: SPD, indefinite or singular quadratics, fuzzed row weights,
//! and oracles poisoned once (NaN, ±∞, MAX) at a fuzzed call. Constructors
//! return `Ok` or a documented error; steps return `Ok` or a typed error, and
//! after any error the whole exported state (iterates, momentum buffers, SAGA
//! tables and averages, counters, penalty) is bit for bit what it was before
//! the failing step, and finite.
#![no_main]

use bilevel::Error;
use bilevel::kernels::Delta;
use bilevel::oracles::Problem;
use bilevel::quadratic::Quadratic;
use bilevel::schedule::{Momentum, Penalty, Step};
use bilevel::solvers::{
    Checkpoint, F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, SabaGlm, SabaInit,
    Soba, SobaConfig, Solver,
};
use bilevel_fuzz::Bytes;
use bilevel_problems::synthetic::LogisticDataset;
use bilevel_problems::testing::Poisoned;
use libfuzzer_sys::fuzz_target;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

fn step(b: &mut Bytes) -> Step {
    let c = b.float::<f64>();
    match b.u8() % 3 {
        0 => Step::Constant(c),
        1 => Step::Poly { c, w: b.float(), p: b.float() },
        _ => Step::Constant(c.abs() % 2.0),
    }
}

fn momentum(b: &mut Bytes) -> Momentum {
    if b.bool() { Momentum::Constant(b.float()) } else { Momentum::Storm { c: b.float(), step: step(b) } }
}

fn exported<S: Checkpoint<f64>>(s: &S) -> (Vec<u64>, u64, u64) {
    let mut out = vec![0.0; s.state_len()];
    let c = s.export(&mut out).expect("export");
    (out.iter().map(|v| v.to_bits()).collect(), c.iteration, c.penalty.to_bits())
}

/// Steps `s` on `pb` and checks the all-or-nothing contract.
fn drive<P: Problem<f64>, S: Solver<f64, P> + Checkpoint<f64>>(s: &mut S, pb: &P, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..30 {
        let before = exported(s);
        match Solver::step(s, pb, &mut rng) {
            Ok(_) => {}
            // A schedule that leaves T's range is a typed configuration
            // error at that step; same state contract.
            Err(Error::Diverged { .. } | Error::InvalidParameter { .. }) => {
                let after = exported(s);
                assert_eq!(before, after, "{}: state changed by a failed step", core::any::type_name::<S>());
                let name = core::any::type_name::<S>();
                assert!(after.0.iter().all(|&v| f64::from_bits(v).is_finite()), "{name}: non-finite state kept");
                return;
            }
            Err(e) => panic!("{}: unexpected error {e:?}", core::any::type_name::<S>()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let q = 1 + b.len(3);
    let p = 1 + b.len(3);
    // A = c I + M Mᵀ (SPD), or with a negative shift (indefinite or singular).
    let m: Vec<f64> = b.moderate_vec(q * q);
    let c = match b.u8() % 3 {
        0 => 0.1 + b.moderate::<f64>().abs(),
        1 => -b.moderate::<f64>().abs(),
        _ => 0.0,
    };
    let mut a = vec![0.0; q * q];
    for i in 0..q {
        for j in 0..q {
            a[i * q + j] =
                (0..q).map(|k| m[i * q + k] * m[j * q + k]).sum::<f64>() + if i == j { c } else { 0.0 };
        }
    }
    let bm: Vec<f64> = b.moderate_vec(q * p);
    let bv: Vec<f64> = b.moderate_vec(q);
    let Ok(pb) = Quadratic::new(&a, &bm, &bv, p, b.moderate::<f64>().abs()) else { return };
    let pb = if b.bool() { pb.with_noise(0.1, 0.1).unwrap() } else { pb };
    let pb = pb.with_finite_sum(4, 2).unwrap();
    let poison = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX][b.u8() as usize % 4];
    let bad = Poisoned::new(&pb, b.u64() % 200, poison);
    let x0: Vec<f64> = b.moderate_vec(p);
    let y0: Vec<f64> = b.moderate_vec(q);
    let seed = b.u64();
    let radius = b.float::<f64>();
    match b.u8() % 7 {
        0 => {
            let cfg = SobaConfig { step_y: step(&mut b), step_x: step(&mut b), v_radius: radius };
            if let Ok(mut s) = Soba::new_owned(cfg, &x0, &y0) {
                drive(&mut s, &bad, seed);
            }
        }
        1 => {
            let init = if b.bool() { SabaInit::Zero } else { SabaInit::FullPass };
            let cfg = SabaConfig { step_y: step(&mut b), step_x: step(&mut b), v_radius: radius, init };
            if let Ok(mut s) = Saba::new_owned(cfg, &bad, &x0, &y0) {
                drive(&mut s, &bad, seed);
            }
        }
        2 => {
            let penalty = if b.bool() {
                Penalty::Constant(b.float())
            } else {
                Penalty::Poly { c: b.float(), k0: b.float(), e: b.float() }
            };
            let cfg = F2saConfig {
                step_x: step(&mut b),
                step_y: step(&mut b),
                step_z: step(&mut b),
                penalty,
                scale_y_by_penalty: b.bool(),
                shared_cross_sample: b.bool(),
                inner_steps: b.len(4) as u32,
            };
            if let Ok(mut s) = F2sa::new_owned(cfg, &x0, &y0) {
                drive(&mut s, &bad, seed);
            }
        }
        3 => {
            let cfg = F3saConfig {
                step_x: step(&mut b),
                step_y: step(&mut b),
                step_z: step(&mut b),
                penalty: Penalty::Constant(b.float()),
                eta: momentum(&mut b),
                scale_y_by_penalty: b.bool(),
                shared_cross_sample: b.bool(),
            };
            if let Ok(mut s) = F3sa::new_owned(cfg, &x0, &y0) {
                drive(&mut s, &bad, seed);
            }
        }
        6 => {
            let Ok(data) = LogisticDataset::<f64>::synthetic(seed, 1 + b.len(20), 1 + b.len(10), q, 0.3) else { return };
            let Ok(glm) = data.problem(1, 1) else { return };
            let bad_glm = Poisoned::new(&glm, b.u64() % 200, poison);
            let init = if b.bool() { SabaInit::Zero } else { SabaInit::FullPass };
            let cfg = SabaConfig { step_y: step(&mut b), step_x: step(&mut b), v_radius: radius, init };
            if let Ok(mut s) = SabaGlm::new_owned(cfg, &bad_glm, &vec![0.0; q], &y0) {
                drive(&mut s, &bad_glm, seed);
            }
        }
        k => {
            let cfg = FmboConfig {
                step_x: step(&mut b),
                step_y: step(&mut b),
                step_v: step(&mut b),
                eta_x: momentum(&mut b),
                eta_y: momentum(&mut b),
                eta_v: momentum(&mut b),
                v_radius: radius,
            };
            if k == 4 {
                if let Ok(mut s) = Fmbo::new_owned(cfg, &x0, &y0) {
                    drive(&mut s, &bad, seed);
                }
            } else {
                let delta = if b.bool() { Delta::Fixed(b.float()) } else { Delta::Relative };
                if let Ok(mut s) = FdeHbo::new_owned(cfg, delta, &x0, &y0) {
                    drive(&mut s, &bad, seed);
                }
            }
        }
    }
});
