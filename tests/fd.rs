//! Central finite differences (ALGORITHMS.md §9.3) against dense references:
#![allow(clippy::needless_range_loop)] // dense reference loops index matrices by (i, j)
//! random quadratics (exact up to rounding) and L2-regularized logistic
//! regression (within the truncation-plus-rounding bound).

use bilevel::kernels::Delta;
use bilevel::{Backend, Error, Float};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;

fn backends() -> impl Iterator<Item = Backend> {
    Backend::ALL.into_iter().filter(|b| b.is_available())
}

/// Deterministic values in [-1, 1) from a seed (no RNG crate needed here).
fn values(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            2.0 * ((s >> 11) as f64 / (1u64 << 53) as f64) - 1.0
        })
        .collect()
}

struct Quadratic {
    q: usize,
    p: usize,
    a: DMatrix<f64>,
    b: DMatrix<f64>,
    x: DVector<f64>,
}

impl Quadratic {
    /// Random SPD `A = MᵀM/q + I/2`, random `B` (q×p), random `x`.
    fn new(q: usize, p: usize, seed: u64) -> Self {
        let m = DMatrix::from_vec(q, q, values(seed, q * q));
        let a = m.transpose() * &m / (q.max(1) as f64) + DMatrix::identity(q, q) * 0.5;
        let b = DMatrix::from_vec(q, p, values(seed + 1, q * p));
        let x = DVector::from_vec(values(seed + 2, p));
        Quadratic { q, p, a, b, x }
    }
    /// `∇_x g = −Bᵀy` and `∇_y g = A y − B x` in `T`, with rows summed in `T`.
    fn grad<T: Float>(&self, y: &[T], gx: &mut [T], gy: &mut [T]) {
        for (i, gi) in gy.iter_mut().enumerate() {
            let mut s = T::ZERO;
            for j in 0..self.q {
                s += T::from_f64(self.a[(i, j)]) * y[j];
            }
            for j in 0..self.p {
                s -= T::from_f64(self.b[(i, j)]) * T::from_f64(self.x[j]);
            }
            *gi = s;
        }
        for (k, gk) in gx.iter_mut().enumerate() {
            let mut s = T::ZERO;
            for j in 0..self.q {
                s -= T::from_f64(self.b[(j, k)]) * y[j];
            }
            *gk = s;
        }
    }
}

/// Rounding bound for one output of a central difference of a map that is
/// linear in `y`: each gradient entry is a sum of `n` products (relative
/// error `γ_n` of the sum of magnitudes `mag`), each point coordinate carries
/// one rounding of `|y| + d|v|`; dividing by `2d` is exact. So
/// `|err| ≤ 2·(γ_{n+1}·mag) / (2d) + eps·|exact|`, with `mag` evaluated at the
/// larger of the two points.
fn linear_bound(eps: f64, n: usize, mag: f64, d: f64, exact: f64) -> f64 {
    let g = (n as f64 + 2.0) * eps / (1.0 - (n as f64 + 2.0) * eps);
    g * mag / d + 2.0 * eps * exact.abs()
}

fn check_quadratic<T: Float>(q: usize, p: usize, seed: u64, delta: Delta<T>) -> Result<(), TestCaseError> {
    let pb = Quadratic::new(q, p, seed);
    let y: Vec<T> = values(seed + 3, q).into_iter().map(T::from_f64).collect();
    let v: Vec<T> = values(seed + 4, q).into_iter().map(T::from_f64).collect();
    let eps = T::EPSILON_T.to_f64();
    let yd = DVector::from_iterator(q, y.iter().map(|t| t.to_f64()));
    let vd = DVector::from_iterator(q, v.iter().map(|t| t.to_f64()));
    let hv_exact = &pb.a * &vd;
    let jv_exact = -(pb.b.transpose() * &vd);
    let mut reference: Option<(Vec<T>, Vec<T>)> = None;
    for backend in backends() {
        let (mut jv, mut hv) = (vec![T::ZERO; p], vec![T::ZERO; q]);
        let mut scratch = vec![T::ZERO; delta.scratch_len(q, p + q)];
        let r = backend
            .central_pair(
                |pt: &[T], gx: &mut [T], gy: &mut [T]| pb.grad(pt, gx, gy),
                &y,
                &v,
                delta,
                &mut scratch,
                &mut jv,
                &mut hv,
            )
            .unwrap();
        if vd.norm() == 0.0 {
            prop_assert_eq!(r.oracle_calls, 0);
            prop_assert!(hv.iter().chain(&jv).all(|&t| t == T::ZERO));
            continue;
        }
        let d = r.delta.to_f64();
        prop_assert!(
            d > 0.0 && d == 2f64.powi(libm::floor(libm::log2(d)) as i32),
            "delta {d} not a power of two"
        );
        for i in 0..q {
            let mag: f64 = (0..q).map(|j| pb.a[(i, j)].abs() * (yd[j].abs() + d * vd[j].abs())).sum::<f64>()
                + (0..p).map(|j| (pb.b[(i, j)] * pb.x[j]).abs()).sum::<f64>();
            let tol = linear_bound(eps, q + p, mag, d, hv_exact[i]);
            let err = (hv[i].to_f64() - hv_exact[i]).abs();
            prop_assert!(err <= tol, "HVP[{i}] err {err:e} > {tol:e} (q={q}, d={d:e}, {backend:?})");
        }
        for k in 0..p {
            let mag: f64 = (0..q).map(|j| pb.b[(j, k)].abs() * (yd[j].abs() + d * vd[j].abs())).sum();
            let tol = linear_bound(eps, q, mag, d, jv_exact[k]);
            let err = (jv[k].to_f64() - jv_exact[k]).abs();
            prop_assert!(err <= tol, "JVP[{k}] err {err:e} > {tol:e} ({backend:?})");
        }
        // Bit-identical across backends (the oracle is deterministic).
        match &reference {
            None => reference = Some((hv.clone(), jv.clone())),
            Some((h0, j0)) => {
                prop_assert!(h0.iter().zip(&hv).all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits()));
                prop_assert!(j0.iter().zip(&jv).all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits()));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn quadratic_products_are_exact_up_to_rounding(q in 0usize..=67, p in 1usize..=9, seed in any::<u64>(), policy in 0u8..3) {
        let d64 = match policy { 0 => Delta::Relative, 1 => Delta::Adaptive, _ => Delta::Fixed(0.3) };
        check_quadratic::<f64>(q, p, seed, d64)?;
        let d32 = match policy { 0 => Delta::Relative, 1 => Delta::Adaptive, _ => Delta::Fixed(0.3f32) };
        check_quadratic::<f32>(q, p, seed, d32)?;
    }

    #[test]
    fn quadratic_products_large(q in 100usize..300, seed in any::<u64>()) {
        check_quadratic::<f64>(q, 3, seed, Delta::Relative)?;
    }
}

/// `g(y) = (1/n) Σ log(1 + exp(−c_i a_iᵀy)) + (μ/2)‖y‖²`.
struct Logistic {
    n: usize,
    d: usize,
    a: Vec<f64>,
    c: Vec<f64>,
    mu: f64,
}

fn sigmoid(s: f64) -> f64 {
    if s >= 0.0 { 1.0 / (1.0 + (-s).exp()) } else { s.exp() / (1.0 + s.exp()) }
}

impl Logistic {
    fn new(n: usize, d: usize, seed: u64) -> Self {
        let a = values(seed, n * d);
        let c = values(seed + 1, n).into_iter().map(|t| if t >= 0.0 { 1.0 } else { -1.0 }).collect();
        Logistic { n, d, a, c, mu: 0.1 }
    }
    fn row(&self, i: usize) -> &[f64] {
        &self.a[i * self.d..(i + 1) * self.d]
    }
    fn grad<T: Float>(&self, y: &[T], g: &mut [T]) {
        for (k, gk) in g.iter_mut().enumerate() {
            *gk = T::from_f64(self.mu) * y[k];
        }
        let inv_n = T::ONE / T::from_usize(self.n);
        for i in 0..self.n {
            let mut s = T::ZERO;
            for (k, &aik) in self.row(i).iter().enumerate() {
                s += T::from_f64(aik) * y[k];
            }
            let m = T::from_f64(self.c[i]) * s;
            // ℓ'(m) = −σ(−m), times c_i.
            let coef = -T::from_f64(sigmoid(-m.to_f64())) * T::from_f64(self.c[i]) * inv_n;
            for (k, &aik) in self.row(i).iter().enumerate() {
                g[k] += coef * T::from_f64(aik);
            }
        }
    }
    fn hessian(&self, y: &[f64]) -> DMatrix<f64> {
        let mut h = DMatrix::identity(self.d, self.d) * self.mu;
        for i in 0..self.n {
            let a = DVector::from_row_slice(self.row(i));
            let s = sigmoid(a.dot(&DVector::from_row_slice(y)));
            h += &a * a.transpose() * (s * (1.0 - s) / self.n as f64);
        }
        h
    }
    /// §9.3: truncation ≤ (d²/6)·sup‖φ'''‖ with φ'''(σ) = (1/n) Σ ℓ''''·(aᵀv)³ a
    /// and |ℓ''''| ≤ 1/8.
    fn truncation_bound(&self, v: &[f64], d: f64) -> f64 {
        let mut s = 0.0;
        for i in 0..self.n {
            let a = self.row(i);
            let av: f64 = a.iter().zip(v).map(|(x, y)| x * y).sum();
            let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            s += av.abs().powi(3) * na;
        }
        d * d / 6.0 * 0.125 * s / self.n as f64
    }
    /// Rounding: each gradient entry sums `n` terms of size ≤ `|a_ik|/n` plus
    /// `μ|y|`; `σ` itself is accurate to a few eps (computed in f64, rounded
    /// to `T`). Bound the absolute error of the norm of a gradient by
    /// `γ_{n+d+8} · mag` and divide the difference of two by `2d`.
    fn rounding_bound(&self, eps: f64, y: &[f64], v: &[f64], d: f64) -> f64 {
        let mut mag2 = 0.0;
        for k in 0..self.d {
            let mut m = self.mu * (y[k].abs() + d * v[k].abs());
            for i in 0..self.n {
                m += self.row(i)[k].abs() / self.n as f64;
            }
            mag2 += m * m;
        }
        let g = (self.n + self.d + 8) as f64 * eps;
        // Two gradients, each with error ≤ g·mag (plus the point's rounding,
        // which moves a gradient by at most L·eps·|point| ≤ mag·eps).
        2.0 * (g + eps) * mag2.sqrt() / (2.0 * d)
    }
}

fn check_logistic<T: Float>(n: usize, d: usize, seed: u64, delta: Delta<T>) -> Result<(), TestCaseError> {
    let pb = Logistic::new(n, d, seed);
    let y: Vec<T> = values(seed + 5, d).into_iter().map(T::from_f64).collect();
    let v: Vec<T> = values(seed + 6, d).into_iter().map(T::from_f64).collect();
    let yf: Vec<f64> = y.iter().map(|t| t.to_f64()).collect();
    let vf: Vec<f64> = v.iter().map(|t| t.to_f64()).collect();
    let exact = pb.hessian(&yf) * DVector::from_column_slice(&vf);
    for backend in backends() {
        let mut out = vec![T::ZERO; d];
        let mut scratch = vec![T::ZERO; delta.scratch_len(d, d)];
        let r = backend
            .hvp_central(|pt: &[T], g: &mut [T]| pb.grad(pt, g), &y, &v, delta, &mut scratch, &mut out)
            .unwrap();
        let dd = r.delta.to_f64();
        let err = (DVector::from_iterator(d, out.iter().map(|t| t.to_f64())) - &exact).norm();
        let bound = pb.truncation_bound(&vf, dd) + pb.rounding_bound(T::EPSILON_T.to_f64(), &yf, &vf, dd);
        prop_assert!(
            err <= bound,
            "logistic HVP err {err:e} > bound {bound:e} (d={dd:e}, {} {backend:?})",
            T::NAME
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn logistic_hvp_within_truncation_plus_rounding(n in 1usize..40, d in 1usize..=67, seed in any::<u64>(), policy in 0u8..3) {
        let d64 = match policy { 0 => Delta::Relative, 1 => Delta::Adaptive, _ => Delta::Fixed(1e-3) };
        check_logistic::<f64>(n, d, seed, d64)?;
        let d32 = match policy { 0 => Delta::Relative, 1 => Delta::Adaptive, _ => Delta::Fixed(1e-2f32) };
        check_logistic::<f32>(n, d, seed, d32)?;
    }
}

#[test]
fn zero_direction_makes_no_oracle_call() {
    let mut calls = 0;
    let mut out = [1.0f64; 3];
    let mut scratch = [0.0; 15];
    for delta in [Delta::Relative, Delta::Adaptive, Delta::Fixed(0.1)] {
        let r = bilevel::kernels::hvp_central(
            |_: &[f64], _: &mut [f64]| calls += 1,
            &[1.0, 2.0, 3.0],
            &[0.0; 3],
            delta,
            &mut scratch,
            &mut out,
        )
        .unwrap();
        assert_eq!((r.oracle_calls, out), (0, [0.0; 3]));
    }
    assert_eq!(calls, 0);
}

#[test]
fn oracle_call_counts_match_the_policy() {
    for delta in [Delta::Relative, Delta::Adaptive, Delta::Fixed(0.1)] {
        let mut calls = 0u32;
        let mut out = [0.0f64; 2];
        let mut scratch = vec![0.0; delta.scratch_len(2, 2)];
        let r = bilevel::kernels::hvp_central(
            |y: &[f64], g: &mut [f64]| {
                calls += 1;
                g[0] = y[0] * y[0];
                g[1] = y[1];
            },
            &[1.0, 2.0],
            &[1.0, 1.0],
            delta,
            &mut scratch,
            &mut out,
        )
        .unwrap();
        assert_eq!((calls, r.oracle_calls), (delta.oracle_calls(), delta.oracle_calls()));
        assert!((out[0] - 2.0).abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-9, "{out:?}");
    }
}

#[test]
fn y_is_never_modified() {
    let y = [1.0f64, -2.0];
    let before = y;
    let mut out = [0.0; 2];
    let mut scratch = [0.0; 4];
    bilevel::kernels::hvp_central(
        |p: &[f64], g: &mut [f64]| g.copy_from_slice(p),
        &y,
        &[0.5, 0.5],
        Delta::Relative,
        &mut scratch,
        &mut out,
    )
    .unwrap();
    assert_eq!(y, before);
    assert_eq!(out, [0.5, 0.5]);
}

#[test]
fn bad_input_is_a_typed_error_before_any_call() {
    let mut calls = 0;
    let mut grad = |_: &[f64], _: &mut [f64]| calls += 1;
    let mut out = [7.0f64; 2];
    let mut scratch = [0.0; 4];
    let b = Backend::Scalar;
    assert_eq!(
        b.hvp_central(&mut grad, &[1.0, 2.0], &[1.0], Delta::Relative, &mut scratch, &mut out),
        Err(Error::LengthMismatch { what: "v", expected: 2, found: 1 })
    );
    assert!(matches!(
        b.hvp_central(&mut grad, &[1.0, 2.0], &[1.0, 1.0], Delta::Relative, &mut scratch[..3], &mut out),
        Err(Error::LengthMismatch { what: "scratch", expected: 4, found: 3 })
    ));
    for d in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            b.hvp_central(&mut grad, &[1.0, 2.0], &[1.0, 1.0], Delta::Fixed(d), &mut scratch, &mut out),
            Err(Error::InvalidParameter { name: "delta", .. })
        ));
    }
    assert_eq!(
        b.hvp_central(&mut grad, &[f64::NAN, 2.0], &[1.0, 1.0], Delta::Relative, &mut scratch, &mut out),
        Err(Error::NonFinite { what: "y" })
    );
    assert_eq!(
        b.hvp_central(&mut grad, &[1.0, 2.0], &[f64::INFINITY, 1.0], Delta::Relative, &mut scratch, &mut out),
        Err(Error::NonFinite { what: "v" })
    );
    assert_eq!(calls, 0);
    assert_eq!(out, [7.0; 2]);
}

/// Measured agreement, for the docs and the issue notes: the largest
/// relative error `‖D − Av‖/‖Av‖` over 300 random SPD quadratics (q ≤ 67)
/// with the `Relative` policy, in units of the float's epsilon. Asserted
/// against the a-priori rounding bound of `linear_bound` summed over rows
/// (the per-entry bound is checked in the property test above).
fn measured_relative_error<T: Float>() -> (f64, f64) {
    let (mut worst_hv, mut worst_jv) = (0.0f64, 0.0f64);
    for seed in 0..300u64 {
        let (q, p) = (1 + (seed as usize * 7) % 67, 1 + (seed as usize) % 9);
        let pb = Quadratic::new(q, p, seed * 11);
        let y: Vec<T> = values(seed + 3, q).into_iter().map(T::from_f64).collect();
        let v: Vec<T> = values(seed + 4, q).into_iter().map(T::from_f64).collect();
        let vd = DVector::from_iterator(q, v.iter().map(|t| t.to_f64()));
        let (mut jv, mut hv) = (vec![T::ZERO; p], vec![T::ZERO; q]);
        let mut scratch = vec![T::ZERO; Delta::<T>::Relative.scratch_len(q, p + q)];
        bilevel::kernels::central_pair(
            |pt: &[T], gx: &mut [T], gy: &mut [T]| pb.grad(pt, gx, gy),
            &y,
            &v,
            Delta::Relative,
            &mut scratch,
            &mut jv,
            &mut hv,
        )
        .unwrap();
        let rel = |got: &[T], want: DVector<f64>| {
            let diff: f64 =
                got.iter().zip(want.iter()).map(|(g, w)| (g.to_f64() - w).powi(2)).sum::<f64>().sqrt();
            diff / want.norm()
        };
        worst_hv = worst_hv.max(rel(&hv, &pb.a * &vd));
        worst_jv = worst_jv.max(rel(&jv, -(pb.b.transpose() * &vd)));
    }
    let eps = T::EPSILON_T.to_f64();
    (worst_hv / eps, worst_jv / eps)
}

#[test]
fn measured_agreement_with_dense_reference() {
    let (h64, j64) = measured_relative_error::<f64>();
    let (h32, j32) = measured_relative_error::<f32>();
    println!("FD vs dense, Relative policy, 300 random SPD quadratics (q ≤ 67), max ‖D − exact‖/‖exact‖:");
    println!(
        "  f64: HVP {:.3e} ({h64:.0} eps), JVP {:.3e} ({j64:.0} eps)",
        h64 * f64::EPSILON,
        j64 * f64::EPSILON
    );
    println!(
        "  f32: HVP {:.3e} ({h32:.0} eps), JVP {:.3e} ({j32:.0} eps)",
        h32 * f32::EPSILON as f64,
        j32 * f32::EPSILON as f64
    );
    // The relative step d ≈ cbrt(eps)(1+‖y‖)/‖v‖ amplifies rounding by about
    // 1/cbrt(eps)·(‖A‖(‖y‖+‖v‖)/‖Av‖); anything above eps^(2/3) means the
    // step policy or the kernel is wrong.
    assert!(h64 * f64::EPSILON < 100.0 * f64::EPSILON.powf(2.0 / 3.0), "{h64}");
    assert!(h32 * (f32::EPSILON as f64) < 100.0 * (f32::EPSILON as f64).powf(2.0 / 3.0), "{h32}");
}
