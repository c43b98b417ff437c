//! `sum_sq` through the free function (which must run the detected
//! backend) against a value known exactly; tests/reductions.rs covers the
//! accuracy bound on every backend.

use bilevel::{Backend, kernels};

#[test]
fn free_sum_sq_is_the_detected_backends_and_exact_on_integers() {
    // Small integers: every square and partial sum is exact in both types.
    let a: Vec<f64> = (1..=37).map(|i| (i % 7) as f64 - 3.0).collect();
    let want: f64 = a.iter().map(|x| x * x).sum();
    assert_eq!(kernels::sum_sq(&a), Ok(want));
    assert_eq!(kernels::sum_sq(&a), Backend::detect().sum_sq(&a));
    let b: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    assert_eq!(kernels::sum_sq(&b), Ok(want as f32));
    assert_eq!(kernels::sum_sq::<f64>(&[]), Ok(0.0));
}
