//! Every solver built from fuzzed configurations on a small random SPD
//! quadratic: constructors return `Ok` or a documented error; steps return
//! `Ok` or `Error::Diverged`, and after `Diverged` the iterates are finite and
//! exactly those before the failing step.
#![no_main]

use bilevel::Error;
use bilevel::kernels::Delta;
use bilevel::problems::quadratic::Quadratic;
use bilevel::schedule::{Momentum, Penalty, Step};
use bilevel::solvers::{Iterates, 
    F2sa, F2saConfig, F3sa, F3saConfig, FdeHbo, Fmbo, FmboConfig, Saba, SabaConfig, SabaInit, Soba,
    SobaConfig, Solver,
};
use bilevel_fuzz::Bytes;
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

/// Steps `s` and checks the divergence contract.
fn drive<'a, S: Solver<f64, Quadratic<'a, f64>>>(
    s: &mut S,
    pb: &Quadratic<'a, f64>,
    state: impl Fn(&S) -> Vec<f64>,
    seed: u64,
) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for _ in 0..30 {
        let before = state(s);
        match s.step(pb, &mut rng) {
            Ok(_) => {}
            // A schedule that leaves T's range (a penalty growing to ∞) is a
            // typed configuration error at that step; same state contract.
            Err(Error::Diverged { .. } | Error::InvalidParameter { .. }) => {
                let after = state(s);
                assert!(
                    after.iter().all(|v| v.is_finite()),
                    "{}: non-finite state kept: {after:?}",
                    core::any::type_name::<S>()
                );
                assert_eq!(
                    before.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    after.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
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
    // A = c I + M Mᵀ (SPD), B and b moderate.
    let m: Vec<f64> = b.moderate_vec(q * q);
    let c = 0.1 + b.moderate::<f64>().abs();
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
    let x0: Vec<f64> = b.moderate_vec(p);
    let y0: Vec<f64> = b.moderate_vec(q);
    let seed = b.u64();
    let radius = b.float::<f64>();
    match b.u8() % 6 {
        0 => {
            let cfg = SobaConfig { step_y: step(&mut b), step_x: step(&mut b), v_radius: radius };
            if let Ok(mut s) = Soba::new_owned(cfg, &x0, &y0) {
                drive(&mut s, &pb, |s| [s.x(), s.y(), s.v()].concat(), seed);
            }
        }
        1 => {
            let init = if b.bool() { SabaInit::Zero } else { SabaInit::FullPass };
            let cfg = SabaConfig { step_y: step(&mut b), step_x: step(&mut b), v_radius: radius, init };
            if let Ok(mut s) = Saba::new_owned(cfg, &pb, &x0, &y0) {
                drive(&mut s, &pb, |s| [s.x(), s.y(), s.v()].concat(), seed);
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
                drive(&mut s, &pb, |s| [s.x(), s.y(), s.z(), &[s.penalty()]].concat(), seed);
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
                drive(&mut s, &pb, |s| [s.x(), s.y(), s.z(), &[s.penalty()]].concat(), seed);
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
                    drive(&mut s, &pb, |s| [s.x(), s.y(), s.v()].concat(), seed);
                }
            } else {
                let delta = if b.bool() { Delta::Fixed(b.float()) } else { Delta::Relative };
                if let Ok(mut s) = FdeHbo::new_owned(cfg, delta, &x0, &y0) {
                    drive(&mut s, &pb, |s| [s.x(), s.y(), s.v()].concat(), seed);
                }
            }
        }
    }
});
