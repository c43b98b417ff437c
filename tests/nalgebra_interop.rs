//! The nalgebra wrappers (`bilevel::na`) agree bit for bit with the slice
//! kernels (the detected backend for dynamic dimensions, `array::BACKEND` for
//! static ones) on `SVector`, `DVector`, stride-1 views and matrix columns, for
//! f32 and f64, and return the same errors. The results are also compared
//! with nalgebra's own `dot`/`norm`/`axpy` (independent formulas) within the
//! stated bounds.
#![cfg(feature = "nalgebra")]

mod common;

use bilevel::{Error, kernels, na};
use common::*;
use nalgebra::{DMatrix, DVector, SVector};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// nalgebra's own dot product and axpy, for the independent comparison
/// (implemented per type: `RealField` would clash with `bilevel::Float`).
trait NaOwn: TestFloat + nalgebra::Scalar {
    fn na_dot(a: &DVector<Self>, b: &DVector<Self>) -> Self;
    /// `y ← a·x + 1·y` by nalgebra.
    fn na_axpy(y: &mut DVector<Self>, a: Self, x: &DVector<Self>);
}

macro_rules! na_own {
    ($($t:ty),*) => {$(
        impl NaOwn for $t {
            fn na_dot(a: &DVector<$t>, b: &DVector<$t>) -> $t {
                a.dot(b)
            }
            fn na_axpy(y: &mut DVector<$t>, a: $t, x: &DVector<$t>) {
                y.axpy(a, x, 1.0);
            }
        }
    )*};
}
na_own!(f32, f64);

fn check_dynamic<T: NaOwn>(v: Vec<Vec<T>>, eta: T, r: f64) -> Result<(), TestCaseError> {
    let n = v[0].len();
    let (a, b, c, d) = (&v[0], &v[1], &v[2], &v[3]);
    let (va, vb, vc, vd) = (
        DVector::from_column_slice(a),
        DVector::from_column_slice(b),
        DVector::from_column_slice(c),
        DVector::from_column_slice(d),
    );
    let alpha = T::from_f64(0.25);
    let r = T::from_f64(r);

    // Reductions.
    let dot = na::dot(&va, &vb).unwrap();
    prop_assert!(same(dot, kernels::dot(a, b).unwrap()));
    prop_assert!(same(na::sum_sq(&va).unwrap(), kernels::sum_sq(a).unwrap()));
    prop_assert!(same(na::norm(&va).unwrap(), kernels::norm(a).unwrap()));
    // Against nalgebra's own dot product: ours is within the stated bound of
    // the exact value, theirs within the generic γ(n)·Σ|ab| of any order.
    let (hi, lo, abs) = dot2(a, b);
    let theirs = T::na_dot(&va, &vb).to_f64();
    let tol = dot_tolerance::<T>(n, abs, dot.to_f64(), hi, lo);
    prop_assert!(((dot.to_f64() - hi) - lo).abs() <= tol);
    let abs_up = abs / (1.0 - gamma(n as f64 + 1.0, 2f64.powi(-53)));
    prop_assert!((theirs - dot.to_f64()).abs() <= tol + gamma(n as f64, unit_roundoff::<T>()) * abs_up);

    // Elementwise kernels: DVector vs slices.
    let (mut h1, mut h2) = (va.clone(), a.clone());
    na::storm_update(&mut h1, &vb, &vc, eta).unwrap();
    kernels::storm_update(&mut h2, b, c, eta).unwrap();
    prop_assert_eq!(first_diff(h1.as_slice(), &h2), None);

    let (mut h1, mut x1, mut h2, mut x2) = (va.clone(), vd.clone(), a.clone(), d.clone());
    na::storm_step(&mut h1, &mut x1, &vb, &vc, eta, alpha).unwrap();
    kernels::storm_step(&mut h2, &mut x2, b, c, eta, alpha).unwrap();
    prop_assert_eq!(first_diff(h1.as_slice(), &h2), None);
    prop_assert_eq!(first_diff(x1.as_slice(), &x2), None);

    let (mut h1, mut h2) = (va.clone(), a.clone());
    na::ema_update(&mut h1, &vb, eta).unwrap();
    kernels::ema_update(&mut h2, b, eta).unwrap();
    prop_assert_eq!(first_diff(h1.as_slice(), &h2), None);

    let (mut y1, mut y2) = (vb.clone(), b.clone());
    na::axpy(alpha, &va, &mut y1).unwrap();
    kernels::axpy(alpha, a, &mut y2).unwrap();
    prop_assert_eq!(first_diff(y1.as_slice(), &y2), None);
    // nalgebra's axpy computes the same expression y + a·x elementwise.
    let mut y3 = vb.clone();
    T::na_axpy(&mut y3, alpha, &va);
    prop_assert!(y3.iter().zip(&y2).all(|(&p, &q)| (p - q).abs() <= T::EPSILON_T * (p.abs() + q.abs())));

    // Projections.
    let (mut p1, mut p2) = (va.clone(), a.clone());
    let s1 = na::project_ball(&mut p1, r).unwrap();
    let s2 = kernels::project_ball(&mut p2, r).unwrap();
    prop_assert!(same(s1, s2));
    prop_assert_eq!(first_diff(p1.as_slice(), &p2), None);

    let (mut p1, mut p2) = (va.clone(), a.clone());
    let s1 = na::project_ball_centered(&mut p1, &vb, r).unwrap();
    let s2 = kernels::project_ball_centered(&mut p2, b, r).unwrap();
    prop_assert!(same(s1, s2));
    prop_assert_eq!(first_diff(p1.as_slice(), &p2), None);

    let (mut p1, mut p2) = (va.clone(), a.clone());
    let s1 = na::step_project(&mut p1, &vb, alpha, r).unwrap();
    let s2 = kernels::step_project(&mut p2, b, alpha, r).unwrap();
    prop_assert!(same(s1, s2));
    prop_assert_eq!(first_diff(p1.as_slice(), &p2), None);

    // Stride-1 views: the middle third through `rows`/`rows_mut`, and a
    // column of a matrix whose columns are a, b, c, d.
    let (lo_i, len) = (n / 3, n - n / 3 - n / 3);
    let mut m = va.clone();
    na::storm_update(&mut m.rows_mut(lo_i, len), &vb.rows(lo_i, len), &vc.rows(lo_i, len), eta).unwrap();
    let mut want = a.clone();
    kernels::storm_update(&mut want[lo_i..lo_i + len], &b[lo_i..lo_i + len], &c[lo_i..lo_i + len], eta)
        .unwrap();
    prop_assert_eq!(first_diff(m.as_slice(), &want), None);
    let mat = DMatrix::from_columns(&[va.clone(), vb.clone(), vc.clone(), vd.clone()]);
    prop_assert!(same(na::dot(&mat.column(0), &mat.column(1)).unwrap(), dot));
    prop_assert!(same(na::norm(&mat.column(3)).unwrap(), kernels::norm(d).unwrap()));
    let mut mat2 = mat.clone();
    let s1 = na::project_ball(&mut mat2.column_mut(2), r).unwrap();
    let mut p2 = c.clone();
    let s2 = kernels::project_ball(&mut p2, r).unwrap();
    prop_assert!(same(s1, s2));
    prop_assert_eq!(first_diff(mat2.column(2).as_slice(), &p2), None);
    Ok(())
}

/// Fixed-size vectors (and mixing them with dynamic ones).
fn check_static<T: NaOwn, const N: usize>(seed: u64) -> Result<(), TestCaseError> {
    let mut rng = SplitMix(seed);
    let mut draw = || SVector::<T, N>::from_fn(|_, _| T::from_f64(rng.signed() * 3.0));
    let (a, b, c) = (draw(), draw(), draw());
    let sa: Vec<T> = a.as_slice().to_vec();
    let (sb, sc) = (b.as_slice().to_vec(), c.as_slice().to_vec());
    // Static dimensions run the fixed-size path: the bits of `array::BACKEND`.
    let fixed = bilevel::array::BACKEND;
    prop_assert!(same(na::dot(&a, &b).unwrap(), fixed.dot(&sa, &sb).unwrap()));
    prop_assert!(same(na::norm(&a).unwrap(), fixed.norm(&sa).unwrap()));
    // A dynamic argument sends the call to the detected backend.
    prop_assert!(same(
        na::dot(&a, &DVector::from_column_slice(&sb)).unwrap(),
        kernels::dot(&sa, &sb).unwrap()
    ));
    // Static h, dynamic g and g_prev.
    let mut h = a;
    na::storm_update(&mut h, &DVector::from_column_slice(&sb), &c, T::HALF).unwrap();
    let mut want = sa.clone();
    kernels::storm_update(&mut want, &sb, &sc, T::HALF).unwrap();
    prop_assert_eq!(first_diff(h.as_slice(), &want), None);
    // Fixed-size views.
    if N >= 2 {
        let mut p = a;
        let s1 = na::project_ball(&mut p.fixed_rows_mut::<2>(0), T::HALF).unwrap();
        let mut q = sa.clone();
        let s2 = fixed.project_ball(&mut q[..2], T::HALF).unwrap();
        prop_assert!(same(s1, s2));
        prop_assert_eq!(first_diff(p.as_slice(), &q), None);
    }
    Ok(())
}

macro_rules! both {
    ($($name:ident: $strat:expr => |$v:pat_param| $body:expr;)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(config(96))]
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
    dynamic_vectors_and_views: (vecs(4, moderate::<T>), unit::<T>(), prop_oneof![Just(1e-3), Just(1.0), Just(1e6)]) =>
        |(v, eta, r)| check_dynamic::<T>(v, eta, r);
    static_vectors: any::<u64>() => |seed| {
        check_static::<T, 1>(seed)?;
        check_static::<T, 5>(seed)?;
        check_static::<T, 16>(seed)?;
        check_static::<T, 17>(seed)?;
        check_static::<T, 67>(seed)
    };
}

/// Errors come through unchanged, and nothing is written on error.
#[test]
fn errors_are_the_slice_kernels_errors() {
    let mut h = DVector::from_element(3, 1.0f64);
    let g = DVector::from_element(2, 1.0f64);
    assert_eq!(
        na::storm_update(&mut h, &g, &SVector::<f64, 3>::zeros(), 0.5),
        Err(Error::LengthMismatch { what: "g", expected: 3, found: 2 })
    );
    assert_eq!(
        na::ema_update(&mut h, &DVector::zeros(3), f64::NAN),
        Err(Error::InvalidParameter { name: "rho", requirement: "in [0, 1]" })
    );
    assert_eq!(
        na::project_ball(&mut h, -1.0),
        Err(Error::InvalidParameter { name: "radius", requirement: "> 0 and not NaN" })
    );
    let mut x = SVector::<f64, 3>::zeros();
    assert_eq!(
        na::storm_step(&mut h, &mut x, &DVector::zeros(3), &DVector::zeros(3), 0.5, f64::INFINITY),
        Err(Error::NonFinite { what: "alpha" })
    );
    assert_eq!(
        na::step_project(&mut h, &g, 1.0, 1.0),
        Err(Error::LengthMismatch { what: "h", expected: 3, found: 2 })
    );
    assert_eq!(na::dot(&h, &g), Err(Error::LengthMismatch { what: "b", expected: 3, found: 2 }));
    assert_eq!(na::axpy(f64::NAN, &h.clone(), &mut h), Err(Error::NonFinite { what: "a" }));
    assert_eq!(h, DVector::from_element(3, 1.0));
    assert_eq!(x, SVector::<f64, 3>::zeros());
}
