//! Kernels for user oracles (`gemv`, `gemv_t`, `batched_gemv`,
//! `glm_accumulate`) on every backend, f32 and f64: bit-checked against the
//! same computation composed from `dot` and plain loops, bound-checked
//! against a compensated dense reference, and their errors.

mod common;

use bilevel::{Backend, Error, kernels};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// `(rows, cols, a (rows·cols), x (cols), y (rows), extra (rows·cols))`.
type Case<T> = (usize, usize, Vec<T>, Vec<T>, Vec<T>, Vec<T>);

fn case<T: TestFloat>() -> BoxedStrategy<Case<T>> {
    (0usize..9, 0usize..70)
        .prop_flat_map(|(r, c)| {
            let v = |n| proptest::collection::vec(moderate::<T>(), n);
            (Just(r), Just(c), v(r * c), v(c), v(r), v(r * c))
        })
        .boxed()
}

/// `α·s + β·y` as the kernels combine one entry.
fn combine<T: TestFloat>(alpha: T, s: T, beta: T, y: T) -> T {
    if beta == T::ZERO { alpha * s } else { alpha * s + beta * y }
}

fn check<T: TestFloat>((rows, cols, a, x, y0, m2): Case<T>) -> Result<(), TestCaseError> {
    let (alpha, beta) = (T::from_f64(0.75), T::from_f64(-1.5));
    for be in backends() {
        // gemv: row dots on the same backend, then the combination.
        let mut y = y0.clone();
        be.gemv(alpha, &a, &x, beta, &mut y).unwrap();
        for r in 0..rows {
            let row = &a[r * cols..(r + 1) * cols];
            let want = combine(alpha, be.dot(row, &x).unwrap(), beta, y0[r]);
            prop_assert!(same(y[r], want), "{:?} gemv row {}", be, r);
            // Against the exact value: the dot bound, plus the roundings of
            // α·s, β·y and their sum.
            let (hi, lo, abs) = dot2(row, &x);
            let exact = alpha.to_f64() * (hi + lo) + beta.to_f64() * y0[r].to_f64();
            let u = unit_roundoff::<T>();
            let scale = alpha.to_f64().abs() * abs + (beta.to_f64() * y0[r].to_f64()).abs();
            let tol =
                alpha.to_f64().abs() * dot_tolerance::<T>(cols, abs, hi, hi, lo) + 4.0 * u * scale + 1e-300;
            prop_assert!((y[r].to_f64() - exact).abs() <= tol, "{:?} gemv bound row {}", be, r);
        }
        // gemv_t: elementwise, the plain loop's bits on every backend.
        let mut yt = x.clone();
        be.gemv_t(alpha, &a, &y0, beta, &mut yt).unwrap();
        let mut want: Vec<T> = x.iter().map(|&v| beta * v).collect();
        for r in 0..rows {
            let s = alpha * y0[r];
            for c in 0..cols {
                want[c] += s * a[r * cols + c];
            }
        }
        prop_assert_eq!(first_diff(&yt, &want), None, "{:?} gemv_t", be);
        // batched_gemv over two samples (a, m2), batch [1, 0, 1].
        let mats: Vec<T> = a.iter().chain(&m2).copied().collect();
        let mut yb = y0.clone();
        be.batched_gemv(alpha, &mats, &[1, 0, 1], &x, beta, &mut yb).unwrap();
        for r in 0..rows {
            let row = |m: &[T]| be.dot(&m[r * cols..(r + 1) * cols], &x).unwrap();
            let s = if cols == 0 { T::ZERO } else { T::ZERO + row(&m2) + row(&a) + row(&m2) };
            prop_assert!(same(yb[r], combine(alpha, s, beta, y0[r])), "{:?} batched row {}", be, r);
        }
        // glm_accumulate with a nonlinear coefficient.
        if cols > 0 {
            let coef = |i: usize, s: T| T::from_f64((s.to_f64() * 0.1).tanh()) + T::from_usize(i);
            let mut out = vec![T::NAN_T; cols];
            be.glm_accumulate(&a, &x, coef, &mut out).unwrap();
            let mut want = vec![T::ZERO; cols];
            for r in 0..rows {
                let row = &a[r * cols..(r + 1) * cols];
                let c = coef(r, be.dot(row, &x).unwrap());
                for k in 0..cols {
                    want[k] += c * row[k];
                }
            }
            prop_assert_eq!(first_diff(&out, &want), None, "{:?} glm", be);
        }
    }
    // The free functions run the detected backend.
    let (mut y1, mut y2) = (y0.clone(), y0.clone());
    kernels::gemv(alpha, &a, &x, beta, &mut y1).unwrap();
    Backend::detect().gemv(alpha, &a, &x, beta, &mut y2).unwrap();
    prop_assert_eq!(first_diff(&y1, &y2), None);
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]
    #[test]
    fn oracle_kernels_f32(c in case::<f32>()) {
        check(c)?;
    }
    #[test]
    fn oracle_kernels_f64(c in case::<f64>()) {
        check(c)?;
    }
}

#[test]
fn beta_zero_does_not_read_y() {
    let mut y = [f64::NAN; 2];
    kernels::gemv(1.0, &[1.0, 2.0], &[1.0], 0.0, &mut y).unwrap();
    assert_eq!(y, [1.0, 2.0]);
    let mut y = [f64::NAN; 1];
    kernels::gemv_t(1.0, &[1.0, 2.0], &[1.0, 1.0], 0.0, &mut y).unwrap();
    assert_eq!(y, [3.0]);
}

#[test]
fn errors() {
    let mut y = [0.0f64; 2];
    let want = Err(Error::LengthMismatch { what: "a", expected: 6, found: 5 });
    assert_eq!(kernels::gemv(1.0, &[0.0; 5], &[0.0; 3], 0.0, &mut y), want);
    assert_eq!(
        kernels::gemv(f64::NAN, &[0.0; 6], &[0.0; 3], 0.0, &mut y),
        Err(Error::NonFinite { what: "alpha" })
    );
    assert_eq!(
        kernels::gemv_t(1.0, &[0.0; 6], &[0.0; 3], f64::INFINITY, &mut y),
        Err(Error::NonFinite { what: "beta" })
    );
    assert_eq!(kernels::gemv_t(1.0, &[0.0; 5], &[0.0; 3], 0.0, &mut y), want);
    let mats = [0.0f64; 12]; // two 2×3 samples
    assert_eq!(
        kernels::batched_gemv(1.0, &mats, &[0, 2], &[0.0; 3], 0.0, &mut y),
        Err(Error::IndexOutOfRange { what: "indices", index: 2, len: 2 })
    );
    assert_eq!(
        kernels::batched_gemv(1.0, &mats[..11], &[0], &[0.0; 3], 0.0, &mut y),
        Err(Error::LengthMismatch { what: "mats", expected: 6, found: 11 })
    );
    let mut out = [0.0f64; 3];
    assert_eq!(
        kernels::glm_accumulate(&[0.0; 5], &[0.0; 3], |_, s| s, &mut out).unwrap_err(),
        Error::LengthMismatch { what: "a", expected: 3, found: 5 }
    );
    assert_eq!(kernels::glm_accumulate(&[], &[], |_, s: f64| s, &mut []), Err(Error::Empty { what: "x" }));
    assert_eq!(y, [0.0; 2]);
}

/// `ScalarSagaTable::update_scored` is exactly `dot` then `update` (same
/// bits for the direction, the stored coefficient and the average), on every
/// backend.
#[test]
fn scored_saga_update_is_dot_then_update() {
    use bilevel::kernels::{RowWeights, ScalarSagaTable};
    let (n, d) = (7usize, 22usize);
    let feats: Vec<f64> = (0..n * d).map(|k| ((k * 37 % 101) as f64 - 50.0) / 17.0).collect();
    let x: Vec<f64> = (0..d).map(|k| (k as f64 * 0.3).sin()).collect();
    let coef = |s: f64| -1.0 / (1.0 + s.exp());
    for be in backends() {
        let len = ScalarSagaTable::<f64, Vec<f64>>::storage_len(n, d, 1);
        let mut t1 = ScalarSagaTable::zeroed(vec![0.0; len], n, d, 1, RowWeights::Uniform)
            .unwrap()
            .with_backend(be)
            .unwrap();
        let mut t2 = t1.clone();
        for &i in &[3usize, 0, 3, 6, 1] {
            let a = &feats[i * d..(i + 1) * d];
            let (mut d1, mut d2) = (vec![0.0; d], vec![0.0; d]);
            let c1 = t1.update_scored(i, a, &x, coef, &mut d1).unwrap();
            let c2 = coef(be.dot(a, &x).unwrap());
            t2.update(i, &[c2], a, &mut d2).unwrap();
            assert_eq!(c1.to_bits(), c2.to_bits(), "{be:?}");
            assert_eq!(first_diff(&d1, &d2), None, "{be:?}");
            assert_eq!(t1.coefficients(i), t2.coefficients(i));
        }
        let (mut a1, mut a2) = (vec![0.0; d], vec![0.0; d]);
        t1.average(&mut a1).unwrap();
        t2.average(&mut a2).unwrap();
        assert_eq!(first_diff(&a1, &a2), None);
    }
    let len = ScalarSagaTable::<f64, Vec<f64>>::storage_len(2, 2, 2);
    let mut t = ScalarSagaTable::zeroed(vec![0.0; len], 2, 2, 2, RowWeights::Uniform).unwrap();
    let err = t.update_scored(0, &[1.0, 1.0], &[1.0, 1.0], |s| s, &mut [0.0; 2]).unwrap_err();
    assert_eq!(err, Error::InvalidParameter { name: "k", requirement: "1 for update_scored" });
}

/// The fixed-size and nalgebra `gemv`/`gemv_t` are the slice kernels on the
/// same data (`array::BACKEND` for fixed sizes; nalgebra's column-major
/// storage is the row-major transpose).
#[test]
fn array_and_nalgebra_gemv_are_the_slice_kernels() {
    let a: [[f64; 5]; 3] =
        core::array::from_fn(|r| core::array::from_fn(|c| ((r * 5 + c) as f64 * 0.7).sin()));
    let (x5, x3) = ([0.3, -1.0, 2.0, 0.5, 1.5], [1.0, -0.25, 0.75]);
    let flat = a.as_flattened();
    let be = bilevel::array::BACKEND;
    let (mut y1, mut y2) = ([1.0f64; 3], vec![1.0f64; 3]);
    bilevel::array::gemv(0.5, &a, &x5, 2.0, &mut y1).unwrap();
    be.gemv(0.5, flat, &x5, 2.0, &mut y2).unwrap();
    assert_eq!(first_diff(&y1, &y2), None);
    let (mut z1, mut z2) = ([1.0f64; 5], vec![1.0f64; 5]);
    bilevel::array::gemv_t(0.5, &a, &x3, 2.0, &mut z1).unwrap();
    be.gemv_t(0.5, flat, &x3, 2.0, &mut z2).unwrap();
    assert_eq!(first_diff(&z1, &z2), None);
    #[cfg(feature = "nalgebra")]
    {
        use nalgebra::{DMatrix, DVector, SMatrix, SVector};
        // A (3×5) as nalgebra: its column-major storage is the 5×3 row-major Aᵀ.
        let m = SMatrix::<f64, 3, 5>::from_fn(|r, c| a[r][c]);
        let mut y = SVector::<f64, 3>::repeat(1.0);
        bilevel::na::gemv(0.5, &m, &SVector::from(x5), 2.0, &mut y).unwrap();
        let mut want = vec![1.0; 3];
        be.gemv_t(0.5, m.as_slice(), &x5, 2.0, &mut want).unwrap();
        assert_eq!(first_diff(y.as_slice(), &want), None);
        // gemv_t is elementwise: the same bits as the row-major product above.
        for (g, w) in y.iter().zip(&y2) {
            assert!((g - w).abs() < 1e-14);
        }
        let md = DMatrix::from_fn(3, 5, |r, c| a[r][c]);
        let mut z = DVector::from_element(5, 1.0);
        bilevel::na::gemv_t(0.5, &md, &DVector::from_column_slice(&x3), 2.0, &mut z).unwrap();
        let mut want = vec![1.0; 5];
        Backend::detect().gemv(0.5, md.as_slice(), &x3, 2.0, &mut want).unwrap();
        assert_eq!(first_diff(z.as_slice(), &want), None);
        let err = bilevel::na::gemv(1.0, &md, &DVector::zeros(4), 0.0, &mut DVector::zeros(3)).unwrap_err();
        assert_eq!(err, Error::LengthMismatch { what: "cols", expected: 5, found: 4 });
    }
}
