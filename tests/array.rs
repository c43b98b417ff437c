//! The fixed-size kernels (`bilevel::array`) give the same bits as the slice
//! kernels on `array::BACKEND`, for every kernel, f32 and f64, lengths 1 to
//! 64 and beyond a chunk, and the same errors.

mod common;

use bilevel::{Error, array};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn check<T: TestFloat, const N: usize>(v: &[Vec<T>], w: T, r: T) -> Result<(), TestCaseError> {
    let be = array::BACKEND;
    let arr = |i: usize| -> [T; N] { core::array::from_fn(|k| v[i][k]) };
    let (a, b, c) = (arr(0), arr(1), arr(2));
    // Reductions.
    prop_assert!(same(array::dot(&a, &b).unwrap(), be.dot(&a, &b).unwrap()));
    prop_assert!(same(array::sum_sq(&a).unwrap(), be.sum_sq(&a).unwrap()));
    prop_assert!(same(array::norm(&a).unwrap(), be.norm(&a).unwrap()));
    // Elementwise and projections: every output element and the return value.
    macro_rules! agree {
        ($arr:expr, $slice:expr, $($out:ident),+) => {{
            $(let mut $out = (a, a.to_vec());)+
            let (r1, r2) = ($arr, $slice);
            prop_assert_eq!(r1.map(|x| x.bits()), r2.map(|x| x.bits()));
            $(prop_assert_eq!(first_diff(&$out.0, &$out.1), None);)+
        }};
    }
    let mut h = (a, a.to_vec());
    array::storm_update(&mut h.0, &b, &c, w).unwrap();
    be.storm_update(&mut h.1, &b, &c, w).unwrap();
    prop_assert_eq!(first_diff(&h.0, &h.1), None);
    let (mut h, mut x) = ((a, a.to_vec()), (b, b.to_vec()));
    array::storm_step(&mut h.0, &mut x.0, &b, &c, w, r).unwrap();
    be.storm_step(&mut h.1, &mut x.1, &b, &c, w, r).unwrap();
    prop_assert_eq!(first_diff(&h.0, &h.1), None);
    prop_assert_eq!(first_diff(&x.0, &x.1), None);
    let mut h = (a, a.to_vec());
    array::ema_update(&mut h.0, &b, w).unwrap();
    be.ema_update(&mut h.1, &b, w).unwrap();
    prop_assert_eq!(first_diff(&h.0, &h.1), None);
    let mut y = (a, a.to_vec());
    array::axpy(r, &b, &mut y.0).unwrap();
    be.axpy(r, &b, &mut y.1).unwrap();
    prop_assert_eq!(first_diff(&y.0, &y.1), None);
    agree!(array::project_ball(&mut p.0, r), be.project_ball(&mut p.1, r), p);
    agree!(array::project_ball_centered(&mut p.0, &b, r), be.project_ball_centered(&mut p.1, &b, r), p);
    agree!(array::step_project(&mut p.0, &b, w, r), be.step_project(&mut p.1, &b, w, r), p);
    Ok(())
}

fn all_sizes<T: TestFloat>(v: Vec<Vec<T>>, w: T, r: f64) -> Result<(), TestCaseError> {
    let r = T::from_f64(r);
    check::<T, 1>(&v, w, r)?;
    check::<T, 3>(&v, w, r)?;
    check::<T, 8>(&v, w, r)?;
    check::<T, 16>(&v, w, r)?;
    check::<T, 17>(&v, w, r)?;
    check::<T, 64>(&v, w, r)?;
    check::<T, 100>(&v, w, r)
}

fn inputs<T: TestFloat>() -> BoxedStrategy<(Vec<Vec<T>>, T, f64)> {
    (proptest::collection::vec(proptest::collection::vec(elem::<T>(), 100), 3), unit::<T>(), 0.01f64..100.0)
        .boxed()
}

proptest! {
    #![proptest_config(config(128))]
    #[test]
    fn same_bits_as_slice_kernels_f32((v, w, r) in inputs::<f32>()) {
        all_sizes(v, w, r)?;
    }
    #[test]
    fn same_bits_as_slice_kernels_f64((v, w, r) in inputs::<f64>()) {
        all_sizes(v, w, r)?;
    }
}

#[test]
fn errors_are_the_slice_kernels_errors() {
    let mut h = [0.0f64; 4];
    assert_eq!(
        array::storm_update(&mut h, &[1.0; 4], &[0.0; 4], 2.0),
        Err(Error::InvalidParameter { name: "eta", requirement: "in [0, 1]" })
    );
    assert_eq!(array::axpy(f64::NAN, &[1.0; 4], &mut h), Err(Error::NonFinite { what: "a" }));
    assert!(array::project_ball(&mut h, 0.0).is_err());
    assert_eq!(h, [0.0; 4]);
    assert_eq!(array::dot(&[1.0f32; 0], &[]), Ok(0.0));
}
