//! Accuracy of each `Delta` policy against the best power-of-two step
//! (ALGORITHMS.md §9.3; issue 15 §5): the table of tests/common/fd_cases.rs
//! (logistic regression n = 2000, d = 22, and a quartic loss; ‖y‖ up to
//! 1000; f32 and f64), asserted. Print it with
//! `cargo run --release --example fd_accuracy`.

#[path = "common/fd_cases.rs"]
mod fd_cases;

use bilevel::kernels::{Delta, hvp_central};
use fd_cases::Case;
use std::sync::OnceLock;

/// The table is computed once and shared by the tests below.
fn table() -> &'static [Case] {
    static TABLE: OnceLock<Vec<Case>> = OnceLock::new();
    TABLE.get_or_init(fd_cases::table)
}

#[test]
fn the_search_window_contains_every_best_step() {
    // Otherwise the reference is not the best step and every ratio is moot.
    for c in table() {
        assert!(c.interior, "best step at the window's edge: {c:?}");
        assert!(c.reference > 0.0 && c.reference.is_finite(), "{c:?}");
    }
}

#[test]
fn default_policy_is_within_3x_of_the_best_step_everywhere() {
    assert_eq!(Delta::<f64>::default(), Delta::Extrapolated);
    let t = table();
    assert_eq!(t.len(), 2 * (12 + 20) * fd_cases::DIRECTIONS);
    for c in t {
        assert!(c.default <= 3.0, "default policy {:.2}× the best: {c:?}", c.default);
        assert!(
            c.default_calls >= 4 && c.default_calls <= Delta::<f64>::Extrapolated.oracle_calls(),
            "{c:?}"
        );
    }
    // Its cost on this table (4 calls when the relative step is good, up to 12).
    let mean = t.iter().map(|c| c.default_calls as f64).sum::<f64>() / t.len() as f64;
    assert!(mean <= 7.0, "mean oracle calls per HVP {mean}");
}

#[test]
fn relative_is_right_for_the_quartic_and_too_large_for_logistic() {
    // On the quartic the best step scales like (1 + ‖y‖)/‖v‖, Relative's rule.
    for c in table().iter().filter(|c| c.problem == "quartic") {
        assert!(c.relative <= 3.0, "Relative {:.2}× on the quartic: {c:?}", c.relative);
    }
    // On logistic regression the Hessian varies on a length scale that does
    // not grow with ‖y‖: at ‖y‖ = 1000 Relative is far from the best step in
    // both types (what makes this table able to fail a policy).
    for dtype in ["f32", "f64"] {
        let worst = table()
            .iter()
            .filter(|c| c.problem == "logistic" && c.dtype == dtype && c.ny == 1000.0)
            .fold(0.0f64, |w, c| w.max(c.relative));
        assert!(worst > 10.0, "{dtype}: Relative's worst ratio at ‖y‖ = 1000 is only {worst}");
        let best_offsets =
            table().iter().filter(|c| c.problem == "logistic" && c.dtype == dtype && c.ny == 1000.0);
        assert!(best_offsets.clone().all(|c| c.best_offset < 0), "best step above the relative one");
    }
}

#[test]
fn adaptive_is_within_3x_on_the_quartic() {
    for c in table().iter().filter(|c| c.problem == "quartic") {
        assert!(c.adaptive <= 3.0, "Adaptive {:.2}× on the quartic: {c:?}", c.adaptive);
    }
}

/// Where the relative step is far from optimal (a length scale 1/ω much
/// shorter than ‖y‖: `∇g = sin(ω y)/ω`, Hessian `cos(ω y)`), the adaptive
/// policy moves away from it and is clearly more accurate.
#[test]
fn adaptive_corrects_a_badly_scaled_relative_step() {
    const OMEGA: f64 = 1e4;
    let grad = |y: &[f64], g: &mut [f64]| {
        for (gk, &yk) in g.iter_mut().zip(y) {
            *gk = libm::sin(OMEGA * yk) / OMEGA;
        }
    };
    let y = [10.0, -7.0, 3.0];
    let v = [1.0, 0.5, -0.25];
    let exact: Vec<f64> = y.iter().zip(&v).map(|(&a, &b)| libm::cos(OMEGA * a) * b).collect();
    let err = |delta: Delta<f64>| {
        let mut out = [0.0; 3];
        let mut s = vec![0.0; delta.scratch_len(3, 3)];
        hvp_central(grad, &y, &v, delta, &mut s, &mut out).unwrap();
        out.iter().zip(&exact).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
    };
    let (rel, ada, ext) = (err(Delta::Relative), err(Delta::Adaptive), err(Delta::Extrapolated));
    println!("short length scale: Relative {rel:.2e}, Adaptive {ada:.2e}, Extrapolated {ext:.2e}");
    assert!(ada * 4.0 < rel, "adaptive {ada:e} should beat relative {rel:e} clearly");
    assert!(ext * 4.0 < rel, "extrapolated {ext:e} should beat relative {rel:e} clearly");
}

/// A gradient whose rounding level is high (a large constant `C`) and whose
/// curvature varies slowly (length scale `L ≫ 1 + ‖y‖`): the best step is
/// far above the relative one, and `Adaptive` must pick a larger step than
/// `Relative` and be more accurate (its search must compare candidates: a
/// search that never replaces its first candidate fails here). Its largest
/// selectable step is `4·d_0`, so in this rounding-dominated regime it gains
/// at most about 4×; 2× is asserted. (Its error estimates are rounding
/// noise here, so it does not move up for every `C` and `L`: with `C = 1e4`,
/// `L = 1e4` it stays at `d_0`.)
#[test]
fn adaptive_chooses_a_step_larger_than_the_relative_one() {
    let (c, l) = (1e5, 10.0);
    for y0 in [0.5f64, -1.0, 2.0, 0.1, 3.0] {
        let grad = |y: &[f64], g: &mut [f64]| {
            for (gk, &yk) in g.iter_mut().zip(y) {
                *gk = c + l * libm::sin(yk / l);
            }
        };
        let y = [y0, 0.3 * y0];
        let v = [1.0, -0.5];
        let exact: Vec<f64> = y.iter().zip(&v).map(|(&a, &b)| libm::cos(a / l) * b).collect();
        let run = |delta: Delta<f64>| {
            let mut out = [0.0; 2];
            let mut s = vec![0.0; delta.scratch_len(2, 2)];
            let r = hvp_central(grad, &y, &v, delta, &mut s, &mut out).unwrap();
            let e = out.iter().zip(&exact).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            (r.delta, e)
        };
        let ((d_rel, e_rel), (d_ada, e_ada)) = (run(Delta::Relative), run(Delta::Adaptive));
        assert!(d_ada > d_rel, "C={c} L={l} y={y0}: adaptive step {d_ada:e} ≤ relative {d_rel:e}");
        assert!(e_ada * 2.0 < e_rel, "C={c} L={l} y={y0}: adaptive {e_ada:e} vs relative {e_rel:e}");
    }
}
