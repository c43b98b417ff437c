//! Ball projection (ALGORITHMS.md §9.2): geometric invariants (in the ball,
//! idempotent, non-expansive, interior points untouched), the closed form
//! `r·w/‖w‖`, the worked examples, overflow-free handling of huge entries,
//! and the centred and fused variants, on every backend for f32 and f64.
//! Tolerances are the bound stated in src/kernels/project.rs (`ρ`), plus the
//! test's own f64 evaluation error where noted.

mod common;

use bilevel::{Backend, kernels};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// `r = f · ‖w‖` (or `f` for w = 0), so that both inside and outside occur.
fn radius<T: TestFloat>(w: &[T], f: f64) -> T {
    let n = norm_f64(w);
    let r = T::from_f64(if n > 0.0 { n * f } else { f });
    if r > T::ZERO && r.is_finite() { r } else { T::ONE }
}

/// Radius factors: mostly around 1 (both sides), sometimes exactly 1.
fn factor() -> BoxedStrategy<f64> {
    prop_oneof![4 => (-2.0f64..2.0).prop_map(libm::exp2), 1 => Just(1.0), 1 => (-1e-6f64..1e-6).prop_map(|d| 1.0 + d)]
        .boxed()
}

fn check_projection<T: TestFloat>(v: Vec<Vec<T>>, f: f64) -> Result<(), TestCaseError> {
    let w = &v[0];
    let n = w.len();
    let r = radius(w, f);
    let rf = r.to_f64();
    let nw = norm_f64(w);
    let (beta, rho) = (norm_bound::<T>(n), proj_bound::<T>(n));
    let u = unit_roundoff::<T>();
    for be in backends() {
        let mut p = w.clone();
        let s = be.project_ball(&mut p, r).unwrap();
        if s == T::ONE {
            // Untouched bit for bit, and truly inside up to the norm's bound.
            prop_assert_eq!(first_diff(&p, w), None, "{:?}", be);
            prop_assert!(nw <= rf / (1.0 - beta), "{:?} ‖w‖={:e} r={:e}", be, nw, rf);
        } else {
            prop_assert!(s < T::ONE && s > T::ZERO);
            prop_assert!(nw >= rf / (1.0 + beta), "{:?} scaled an interior point", be);
            // Closed form r·w/‖w‖, entry by entry, within ρ (plus the f64
            // evaluation of the reference, ≤ 3 roundings of 2^-53).
            for (i, (&pi, &exact)) in p.iter().zip(&closed_form(w, rf)).enumerate() {
                let err = (pi.to_f64() - exact).abs();
                let tol = (rho + 4.0 * 2f64.powi(-53)) * exact.abs() + T::ETA;
                prop_assert!(err <= tol, "{:?} i={} got {:e} want {:e}", be, i, pi, exact);
            }
        }
        // Lands in the ball.
        let np = norm_f64(&p);
        prop_assert!(np <= rf * (1.0 + rho) + T::ETA, "{:?} ‖Π(w)‖={:e} r={:e}", be, np, rf);
        // Interior points (with margin for the norm's rounding) are untouched.
        if nw * (1.0 + beta) <= rf * (1.0 - u) {
            prop_assert!(s == T::ONE);
        }
        // Idempotent: untouched, or every entry within ι.
        let mut q = p.clone();
        let s2 = be.project_ball(&mut q, r).unwrap();
        if s2 == T::ONE {
            prop_assert_eq!(first_diff(&q, &p), None);
        } else {
            let iota = 1.0 - (1.0 - u).powi(2) / ((1.0 + rho) * (1.0 + beta));
            for (&qi, &pi) in q.iter().zip(&p) {
                let d = (qi.to_f64() - pi.to_f64()).abs();
                prop_assert!(d <= iota * pi.to_f64().abs() + T::ETA, "{:?} re-projection moved {:e}", be, d);
            }
        }
        // The free function runs the detected backend.
        let mut p2 = w.clone();
        prop_assert_eq!(kernels::project_ball(&mut p2, r).unwrap().to_f64(), {
            let mut p3 = w.clone();
            Backend::detect().project_ball(&mut p3, r).unwrap().to_f64()
        });
    }
    Ok(())
}

fn check_nonexpansive<T: TestFloat>(v: Vec<Vec<T>>, f: f64, mix: f64) -> Result<(), TestCaseError> {
    let a = &v[0];
    let n = a.len();
    // b = a + mix · (other − a): close to a or far from it.
    let b: Vec<T> = a.iter().zip(&v[1]).map(|(&x, &y)| x + T::from_f64(mix) * (y - x)).collect();
    let r = radius(a, f);
    let (beta, rho) = (norm_bound::<T>(n), proj_bound::<T>(n));
    // Each computed projection is within ρ' relative (entrywise) of the exact
    // one: ρ when it scaled, β/(1−β)² when it kept a point the exact
    // projection would have scaled (boundary case).
    let rho_p = rho.max(beta / (1.0 - beta).powi(2));
    for be in backends() {
        let (mut pa, mut pb) = (a.clone(), b.clone());
        be.project_ball(&mut pa, r).unwrap();
        be.project_ball(&mut pb, r).unwrap();
        let lhs = dist(&pa, &pb);
        let rhs = dist(a, &b);
        // ρ'(1+ρ') ≤ 2ρ' on each side; dist() rounds each difference once in
        // f64 (2^-53 relative on both distances).
        let tol = 2.0 * rho_p * (norm_f64(&pa) + norm_f64(&pb)) + 2f64.powi(-52) * (lhs + rhs) + 2.0 * T::ETA;
        prop_assert!(lhs <= rhs + tol, "{:?} ‖Πa−Πb‖={:e} > ‖a−b‖={:e} (+{:e})", be, lhs, rhs, tol);
    }
    Ok(())
}

/// Centred projection equals `c + Π(w − c)` bit for bit (same accumulation,
/// same factor, same rounding of `c + s·(w − c)`).
fn check_centered<T: TestFloat>(v: Vec<Vec<T>>, f: f64) -> Result<(), TestCaseError> {
    let (w, c) = (&v[0], &v[1]);
    let d: Vec<T> = w.iter().zip(c).map(|(&x, &y)| x - y).collect();
    let r = radius(&d, f);
    for be in backends() {
        let mut got = w.clone();
        let s = be.project_ball_centered(&mut got, c, r).unwrap();
        let mut pd = d.clone();
        let s_ref = be.project_ball(&mut pd, r).unwrap();
        prop_assert_eq!(s.to_f64().to_bits(), s_ref.to_f64().to_bits(), "{:?}", be);
        if s == T::ONE {
            prop_assert_eq!(first_diff(&got, w), None);
        } else {
            let want: Vec<T> = c.iter().zip(&pd).map(|(&c, &p)| c + p).collect();
            prop_assert_eq!(first_diff(&got, &want), None, "{:?}", be);
        }
    }
    // The free function runs the detected backend: same factor, same result.
    let (mut free, mut detected) = (w.clone(), w.clone());
    let s_free = kernels::project_ball_centered(&mut free, c, r).unwrap();
    let s_det = Backend::detect().project_ball_centered(&mut detected, c, r).unwrap();
    prop_assert_eq!(s_free.to_f64().to_bits(), s_det.to_f64().to_bits());
    prop_assert_eq!(first_diff(&free, &detected), None);
    Ok(())
}

/// `step_project` equals `axpy(−λ, h, v)` then `project_ball`, bit for bit.
fn check_step_project<T: TestFloat>(v: Vec<Vec<T>>, lambda: f64, f: f64) -> Result<(), TestCaseError> {
    let (w, h) = (&v[0], &v[1]);
    let lambda = T::from_f64(lambda);
    let mut stepped = w.clone();
    Backend::Scalar.axpy(-lambda, h, &mut stepped).unwrap();
    let r = radius(&stepped, f);
    for be in backends() {
        let mut want = w.clone();
        be.axpy(-lambda, h, &mut want).unwrap();
        let s_ref = be.project_ball(&mut want, r).unwrap();
        let mut got = w.clone();
        let s = be.step_project(&mut got, h, lambda, r).unwrap();
        prop_assert_eq!(s.to_f64().to_bits(), s_ref.to_f64().to_bits(), "{:?}", be);
        prop_assert_eq!(first_diff(&got, &want), None, "{:?}", be);
    }
    // The free function runs the detected backend: same factor, same result.
    let (mut free, mut detected) = (w.clone(), w.clone());
    let s_free = kernels::step_project(&mut free, h, lambda, r).unwrap();
    let s_det = Backend::detect().step_project(&mut detected, h, lambda, r).unwrap();
    prop_assert_eq!(s_free.to_f64().to_bits(), s_det.to_f64().to_bits());
    prop_assert_eq!(first_diff(&free, &detected), None);
    Ok(())
}

/// `r = +∞` is the identity (also for infinite entries).
fn check_infinite_radius<T: TestFloat>(v: Vec<Vec<T>>) -> Result<(), TestCaseError> {
    let w: Vec<T> = v[0].iter().map(|&x| if x.is_nan() { T::ONE } else { x }).collect();
    for be in backends() {
        let mut p = w.clone();
        prop_assert_eq!(be.project_ball(&mut p, T::INFINITY_T).unwrap().to_f64(), 1.0);
        prop_assert_eq!(first_diff(&p, &w), None);
        let mut p = w.clone();
        let c: Vec<T> = w.iter().map(|&x| if x.is_finite() { x } else { T::ZERO }).collect();
        prop_assert_eq!(be.project_ball_centered(&mut p, &c, T::INFINITY_T).unwrap().to_f64(), 1.0);
        prop_assert_eq!(first_diff(&p, &w), None);
        let mut p = w.clone();
        let zeros = vec![T::ZERO; w.len()];
        prop_assert_eq!(be.step_project(&mut p, &zeros, T::ONE, T::INFINITY_T).unwrap().to_f64(), 1.0);
        prop_assert_eq!(first_diff(&p, &w), None);
    }
    Ok(())
}

/// Huge entries (near MAX/2, norm far above MAX): no overflow, result in the
/// ball and equal to the closed form; likewise for subnormal entries.
fn check_extreme<T: TestFloat>(raw: Vec<(f64, bool)>, huge: bool, f: f64) -> Result<(), TestCaseError> {
    let n = raw.len();
    let top = T::MAX_T.to_f64() / 2.0;
    let sub = T::MIN_POSITIVE_T.to_f64() * T::EPSILON_T.to_f64();
    let w: Vec<T> = raw
        .iter()
        .map(|&(m, neg)| {
            let mag = if huge { top * m } else { sub * libm::floor(m * 4096.0).max(1.0) };
            T::from_f64(if neg { -mag } else { mag })
        })
        .collect();
    let nw = norm_f64(&w); // ∞ when ‖w‖ overflows f64
    // Radius ‖w‖·f for huge entries (clamped to [1, MAX/4]), 1 for tiny ones.
    let (m, _, e) = ref_norm(&w).unwrap();
    let rf = if huge { libm::ldexp(m * f, e).min(T::MAX_T.to_f64() / 4.0).max(1.0) } else { 1.0 };
    let r = T::from_f64(rf);
    let rho = proj_bound::<T>(n);
    for be in backends() {
        let mut p = w.clone();
        let s = be.project_ball(&mut p, r).unwrap();
        prop_assert!(p.iter().all(|x| x.is_finite()));
        if huge || nw > rf {
            prop_assert!(s < T::ONE, "{:?} s={:e}", be, s);
            for (&pi, &exact) in p.iter().zip(&closed_form(&w, rf)) {
                let tol = (rho + 4.0 * 2f64.powi(-53)) * exact.abs() + T::ETA;
                prop_assert!((pi.to_f64() - exact).abs() <= tol, "{:?} got {:e} want {:e}", be, pi, exact);
            }
        } else {
            // Subnormal entries and r = 1: inside, untouched.
            prop_assert_eq!(first_diff(&p, &w), None);
        }
        prop_assert!(norm_f64(&p) <= rf * (1.0 + rho) + T::ETA);
    }
    Ok(())
}

/// The centred projection's rescaling pass with huge or tiny entries and a
/// NON-zero centre `c = f_c·w` (|f_c| in [0.1, 0.45]), so that `w − c` and
/// `w + c` differ: the result is `c + r·(w − c)/‖w − c‖`, with `w − c`
/// rounded as the kernel rounds it, within ρ plus one rounding of the final
/// addition (src/kernels/project.rs).
fn check_centered_extreme<T: TestFloat>(
    raw: Vec<(f64, bool)>,
    huge: bool,
    f: f64,
    fc: f64,
) -> Result<(), TestCaseError> {
    let n = raw.len();
    let top = T::MAX_T.to_f64() / 2.0;
    let sub = T::MIN_POSITIVE_T.to_f64() * T::EPSILON_T.to_f64();
    let w: Vec<T> = raw
        .iter()
        .map(|&(m, neg)| {
            let mag = if huge { top * m } else { sub * libm::floor(m * 4096.0).max(1.0) * 64.0 };
            T::from_f64(if neg { -mag } else { mag })
        })
        .collect();
    let c: Vec<T> = w.iter().map(|&x| T::from_f64(x.to_f64() * fc)).collect();
    let d: Vec<T> = w.iter().zip(&c).map(|(&x, &y)| x - y).collect();
    let (m, _, e) = ref_norm(&d).unwrap();
    // Radius ‖w − c‖·f: below the norm, so the point is always scaled.
    let rf = if huge {
        libm::ldexp(m * f, e).min(T::MAX_T.to_f64() / 4.0).max(1.0)
    } else {
        libm::ldexp(m * f, e)
    };
    let r = T::from_f64(rf);
    if r <= T::ZERO {
        return Ok(());
    }
    let rf = r.to_f64();
    let rho = proj_bound::<T>(n);
    let u = unit_roundoff::<T>();
    for be in backends() {
        let mut got = w.clone();
        let s = be.project_ball_centered(&mut got, &c, r).unwrap();
        prop_assert!(s < T::ONE, "{:?} s={:e}", be, s);
        for (i, (&gi, &p)) in got.iter().zip(&closed_form(&d, rf)).enumerate() {
            let want = c[i].to_f64() + p;
            // In the subnormal range each of the up to four roundings of
            // `c + (w − c)·p1·p2·t` (the difference of subnormals is exact)
            // adds up to half a quantum (ETA) absolute.
            // Plus the f64 rounding of the reference's own addition `c + p`.
            let tol =
                (rho + 4.0 * 2f64.powi(-53)) * p.abs() + (u + 2f64.powi(-53)) * want.abs() + 4.0 * T::ETA;
            prop_assert!(
                (gi.to_f64() - want).abs() <= tol,
                "{:?} i={} got {:e} want {:e} p {:e} c {:e} tol {:e} r {:e} n {}",
                be,
                i,
                gi,
                want,
                p,
                c[i],
                tol,
                rf,
                n
            );
        }
    }
    Ok(())
}

macro_rules! both {
    ($($name:ident: $strat:expr => |$v:pat_param| $body:expr;)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(config(192))]
                    #[test]
                    fn f32($v in { #[allow(dead_code)] type T = f32; $strat }) {
                        type T = f32;
                        $body?;
                    }
                    #[test]
                    fn f64($v in { #[allow(dead_code)] type T = f64; $strat }) {
                        type T = f64;
                        $body?;
                    }
                }
            }
        )*
    };
}

both! {
    projection_invariants: (vecs(1, moderate::<T>), factor()) => |(v, f)| check_projection::<T>(v, f);
    non_expansive: (vecs(2, moderate::<T>), factor(), prop_oneof![Just(1.0), 0.0f64..1.0, 0.0f64..1e-6]) =>
        |(v, f, mix)| check_nonexpansive::<T>(v, f, mix);
    centered_is_shifted_projection: (vecs(2, moderate::<T>), factor()) => |(v, f)| check_centered::<T>(v, f);
    step_project_is_axpy_then_project: (vecs(2, moderate::<T>), -4.0f64..4.0, factor()) =>
        |(v, l, f)| check_step_project::<T>(v, l, f);
    infinite_radius_is_identity: vecs(1, elem::<T>) => |v| check_infinite_radius::<T>(v);
    extreme_magnitudes: (
        len().prop_flat_map(|n| proptest::collection::vec((0.5f64..1.0, any::<bool>()), n.max(1))),
        any::<bool>(),
        (-40.0f64..0.0).prop_map(libm::exp2),
    ) => |(raw, huge, f)| check_extreme::<T>(raw, huge, f);
    centered_extreme_magnitudes: (
        len().prop_flat_map(|n| proptest::collection::vec((0.5f64..1.0, any::<bool>()), n.max(1))),
        any::<bool>(),
        (-40.0f64..-1.0).prop_map(libm::exp2),
        prop_oneof![0.1f64..0.45, -0.45f64..-0.1],
    ) => |(raw, huge, f, fc)| check_centered_extreme::<T>(raw, huge, f, fc);
}

/// The worked examples of §9.2.
#[test]
fn worked_examples() {
    for be in backends() {
        // [3, 4], r = 1 → [0.6, 0.8].
        let mut v = [3.0f64, 4.0];
        assert_eq!(be.project_ball(&mut v, 1.0).unwrap(), 0.2);
        let rho = proj_bound::<f64>(2);
        assert!((v[0] - 0.6).abs() <= rho * 0.6 && (v[1] - 0.8).abs() <= rho * 0.8, "{v:?}");
        let mut v = [3.0f32, 4.0];
        be.project_ball(&mut v, 1.0).unwrap();
        let rho = proj_bound::<f32>(2) as f32;
        assert!((v[0] - 0.6).abs() <= rho * 0.6 && (v[1] - 0.8).abs() <= rho * 0.8, "{v:?}");
        // [1e300, 1e300], r = 1 → [1/√2, 1/√2] (the naive norm overflows).
        let mut v = [1e300f64, 1e300];
        be.project_ball(&mut v, 1.0).unwrap();
        for x in v {
            assert!((x - core::f64::consts::FRAC_1_SQRT_2).abs() <= proj_bound::<f64>(2) * x, "{x}");
        }
        let mut v = [1e38f32, 1e38];
        be.project_ball(&mut v, 1.0).unwrap();
        for x in v {
            assert!((x - core::f32::consts::FRAC_1_SQRT_2).abs() <= proj_bound::<f32>(2) as f32 * x, "{x}");
        }
        // Π(0) = 0, never dividing.
        let mut z = [0.0f64; 19];
        assert_eq!(be.project_ball(&mut z, 1e-300).unwrap(), 1.0);
        assert_eq!(z, [0.0; 19]);
        // All entries at MAX: the norm is far above MAX, the projection is not.
        for n in [1usize, 2, 7, 16, 33] {
            let mut v = vec![f64::MAX; n];
            be.project_ball(&mut v, 2.0).unwrap();
            let want = 2.0 / (n as f64).sqrt();
            assert!(v.iter().all(|&x| (x - want).abs() <= proj_bound::<f64>(n) * want), "{v:?}");
            let mut v = vec![-f32::MAX; n];
            be.project_ball_centered(&mut v, &vec![0.0; n], 2.0).unwrap();
            let want = -2.0 / (n as f32).sqrt();
            assert!(v.iter().all(|&x| (x - want).abs() <= proj_bound::<f32>(n) as f32 * -want), "{v:?}");
        }
    }
}

/// Found by `fuzz/projection`: a large vector projected onto a ball whose
/// radius is near the subnormal range. The factor r/‖v‖ underflowed to one
/// subnormal quantum and the "projection" came out 1.6 r long.
#[test]
fn tiny_radius_and_large_vector_land_in_the_ball() {
    for b in backends() {
        for (v0, r) in [
            (vec![6693585328523207.0f64], 2.1164276740097794e-308),
            (vec![3.0e300, -4.0e300], 1.0e-310),
            (vec![1.0e10, 1.0e10, 1.0e10], f64::MIN_POSITIVE),
        ] {
            let mut v = v0.clone();
            b.project_ball(&mut v, r).unwrap();
            // Entries are at most r, so they are subnormal: a few quanta of error.
            let quantum = 5e-324;
            let normr = (v.iter().map(|x| (x / r).powi(2)).sum::<f64>()).sqrt() * r;
            assert!(normr <= r + 4.0 * quantum * v.len() as f64, "{b:?}: {v:?} outside radius {r}");
            // The closed form r·v/‖v‖ with the norm scaled by its power of two
            // (no underflow, no overflow): entries of a few quanta up to r.
            let want = closed_form(&v0, r);
            assert!(want.iter().any(|w| w.abs() >= 0.5 * r), "reference underflowed: {want:?}");
            for (got, w) in v.iter().zip(&want) {
                assert!((got - w).abs() <= 4.0 * quantum + 1e-15 * w.abs(), "{b:?}: {got} vs {w}");
            }
        }
    }
}

/// A radius that is not `> 0` (zero, negative, NaN) is `InvalidParameter` on
/// all three projections, and `v` is left as it was.
#[test]
fn bad_radius_is_a_typed_error() {
    use bilevel::Error;
    let want = Err(Error::InvalidParameter { name: "radius", requirement: "> 0 and not NaN" });
    for be in backends() {
        for r in [0.0f64, -0.0, -1.0, f64::NAN, f64::NEG_INFINITY, -f64::MIN_POSITIVE] {
            let v0 = [3.0f64, -4.0, 0.5];
            let mut v = v0;
            assert_eq!(be.project_ball(&mut v, r), want, "{be:?} r = {r}");
            assert_eq!(be.project_ball_centered(&mut v, &[1.0; 3], r), want, "{be:?} r = {r}");
            assert_eq!(be.step_project(&mut v, &[1.0; 3], 0.5, r), want, "{be:?} r = {r}");
            assert_eq!(first_diff(&v, &v0), None, "{be:?} r = {r}: v changed");
        }
    }
}
