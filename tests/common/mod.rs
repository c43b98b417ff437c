//! Shared helpers for the kernel property tests: backends, value strategies
//! per element type, independent references (compensated dot and norm in
//! double-double), and the error bounds stated in src/kernels/*.rs.
#![allow(dead_code)]

use bilevel::{Backend, Float};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// Every backend this CPU and build can run (`Scalar` always).
/// Prints once per test binary which backends are skipped (not available on
/// this CPU or build), so a run without AVX-512 says so.
pub fn backends() -> impl Iterator<Item = Backend> {
    static SKIPPED: std::sync::Once = std::sync::Once::new();
    SKIPPED.call_once(|| {
        for b in Backend::ALL.into_iter().filter(|b| !b.is_available()) {
            eprintln!("backend {} not available here: its tests are skipped", b.name());
        }
    });
    Backend::ALL.into_iter().filter(|b| b.is_available())
}

/// Element types under test, with their value strategies.
pub trait TestFloat: Float {
    /// Bit pattern, widened (for exact comparisons).
    fn bits(self) -> u64;
    /// Any value: normal, subnormal, zero, ±∞, NaN.
    fn any_value() -> BoxedStrategy<Self>;
    /// An upper bound on half the smallest positive subnormal (the absolute
    /// rounding error of a result in the subnormal range).
    const ETA: f64;
}

impl TestFloat for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn any_value() -> BoxedStrategy<f32> {
        proptest::num::f32::ANY.boxed()
    }
    const ETA: f64 = f32::MIN_POSITIVE as f64 * f32::EPSILON as f64 / 2.0; // 2^-150
}

impl TestFloat for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn any_value() -> BoxedStrategy<f64> {
        proptest::num::f64::ANY.boxed()
    }
    const ETA: f64 = f64::MIN_POSITIVE * f64::EPSILON; // 2^-1074 (2^-1075 is not representable)
}

/// Bit-identical, except that any NaN equals any NaN (payloads are not
/// specified by the kernels).
pub fn same<T: TestFloat>(a: T, b: T) -> bool {
    (a.is_nan() && b.is_nan()) || a.bits() == b.bits()
}

/// Index of the first element where `a` and `b` are not [`same`].
pub fn first_diff<T: TestFloat>(a: &[T], b: &[T]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(&x, &y)| !same(x, y))
}

/// Values for elementwise tests: mostly moderate, sometimes anything
/// (including ±0, subnormals, ±∞, NaN).
pub fn elem<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![
        6 => (-1e3f64..1e3).prop_map(T::from_f64),
        2 => (-20i32..20, -1.0f64..1.0).prop_map(|(e, m)| T::from_f64(m * 2f64.powi(e))),
        1 => T::any_value(),
        1 => prop::sample::select(vec![0.0, -0.0, 1.0, -1.0]).prop_map(T::from_f64),
    ]
    .boxed()
}

/// Finite values of magnitude in about [1e-8, 1e8] (and zeros): products
/// and sums of up to ~10^5 of them stay far from overflow and underflow in
/// both f32 and f64.
pub fn moderate<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![
        8 => (-8.0f64..8.0, -1.0f64..1.0).prop_map(|(e, m)| T::from_f64(m * 10f64.powf(e))),
        1 => (-1.0f64..1.0).prop_map(T::from_f64),
        1 => Just(T::ZERO),
    ]
    .boxed()
}

/// Lengths: every length 0..=67 (all tail sizes, 0 to 4 full chunks) most of
/// the time, and longer vectors up to 5000.
pub fn len() -> BoxedStrategy<usize> {
    prop_oneof![4 => 0usize..=67, 1 => 68usize..=5000].boxed()
}

/// `n` vectors (one strategy each) sharing one random length.
pub fn vecs<T: TestFloat>(k: usize, el: fn() -> BoxedStrategy<T>) -> BoxedStrategy<Vec<Vec<T>>> {
    len().prop_flat_map(move |n| proptest::collection::vec(proptest::collection::vec(el(), n), k)).boxed()
}

/// Momentum weights: exactly 0 and 1 often, otherwise uniform in [0, 1].
pub fn unit<T: TestFloat>() -> BoxedStrategy<T> {
    prop_oneof![1 => Just(T::ZERO), 1 => Just(T::ONE), 4 => (0.0f64..=1.0).prop_map(T::from_f64)].boxed()
}

// ----------------------------------------------------------------------------
// Error-free transformations (f64) and compensated references.

/// `a + b = s + e` exactly (Knuth's TwoSum).
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `a · b = p + e` exactly (barring underflow), with a fused multiply-add.
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// Compensated dot product ("Dot2", Ogita–Rump–Oishi) of the values widened
/// to f64, returned unrounded as `hi + lo`, with `Σ|a_i b_i|`.
///
/// `|hi + lo − exact| ≤ γ_n(2^-53)² · Σ|a_i b_i|` plus `n · 2^-1074` for
/// underflowed error terms.
pub fn dot2<T: Float>(a: &[T], b: &[T]) -> (f64, f64, f64) {
    let (mut p, mut s, mut abs) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (h, r) = two_prod(x.to_f64(), y.to_f64());
        let (q, e) = two_sum(p, h);
        p = q;
        s += e + r;
        abs += h.abs();
    }
    (p, s, abs)
}

/// `γ(m) = m·u/(1 − m·u)`, the classic bound for `m` roundings.
pub fn gamma(m: f64, u: f64) -> f64 {
    m * u / (1.0 - m * u)
}

/// Unit roundoff of `T` (`eps / 2`).
pub fn unit_roundoff<T: Float>() -> f64 {
    T::EPSILON_T.to_f64() / 2.0
}

/// The number of roundings a product passes through in `dot`/`sum_sq` on a
/// backend with `L` accumulators: `⌈n / L⌉ + log2 L` (src/kernels/dot.rs);
/// the largest over the backends under test.
pub fn dot_depth(n: usize) -> f64 {
    backends()
        .map(|b| (n.div_ceil(b.lanes(n)) + b.lanes(n).trailing_zeros() as usize) as f64)
        .fold(0.0, f64::max)
}

/// The stated `dot`/`sum_sq` bound relative to `Σ|a_i b_i|`: `γ(⌈n/L⌉ + log2 L)`.
pub fn dot_bound<T: Float>(n: usize) -> f64 {
    gamma(dot_depth(n), unit_roundoff::<T>())
}

/// Allowed `|computed − exact|` for `dot`: the stated bound, plus the
/// reference's own error and the test's rounding (both ≪ eps·Σ|ab| in f64),
/// plus the underflow allowance.
pub fn dot_tolerance<T: TestFloat>(n: usize, abs_sum: f64, c: f64, hi: f64, lo: f64) -> f64 {
    let u64_ = 2f64.powi(-53);
    let nf = n as f64;
    // Σ|fl(a·b)| computed in f64 underestimates Σ|a b| by at most γ_{n+1}.
    let abs_up = abs_sum / (1.0 - gamma(nf + 1.0, u64_));
    let reference = gamma(nf, u64_).powi(2) * abs_up + nf * 5e-324;
    let evaluation = 4.0 * u64_ * ((c - hi).abs() + lo.abs());
    dot_bound::<T>(n) * abs_up + reference + evaluation + nf * T::ETA
}

/// The norm's stated relative bound `β(n) = (1 + u)·γ/(2 − γ) + u`
/// (src/kernels/norm.rs).
pub fn norm_bound<T: Float>(n: usize) -> f64 {
    let u = unit_roundoff::<T>();
    let g = gamma(dot_depth(n), u);
    (1.0 + u) * g / (2.0 - g) + u
}

/// Relative allowance for squares that underflow (src/kernels/norm.rs).
pub fn norm_underflow<T: Float>(n: usize) -> f64 {
    let k = if T::MANTISSA_DIGITS_T == 24 { -74 } else { -161 };
    n as f64 * 2f64.powi(k)
}

/// The projection's per-entry relative bound `ρ = (1 + u)²/(1 − β) − 1`
/// (src/kernels/project.rs).
pub fn proj_bound<T: Float>(n: usize) -> f64 {
    let u = unit_roundoff::<T>();
    (1.0 + u).powi(2) / (1.0 - norm_bound::<T>(n)) - 1.0
}

/// Reference Euclidean norm, as `(scaled_hi, scaled_lo, e)` with the norm
/// equal to `(scaled_hi + scaled_lo) · 2^e` to about 2^-100 relative: the
/// values are widened to f64, scaled exactly by a power of two so the largest
/// is in [0.5, 1), squared and summed in double-double, and square-rooted
/// with one Newton correction. `None` for empty or all-zero input.
pub fn ref_norm<T: Float>(a: &[T]) -> Option<(f64, f64, i32)> {
    let m = a.iter().fold(0.0f64, |m, x| m.max(x.to_f64().abs()));
    if m == 0.0 {
        return None;
    }
    let (_, e) = libm::frexp(m);
    let (mut p, mut s) = (0.0f64, 0.0f64);
    for &x in a {
        let y = libm::ldexp(x.to_f64(), -e);
        let (h, r) = two_prod(y, y);
        let (q, err) = two_sum(p, h);
        p = q;
        s += err + r;
    }
    let (hi, lo) = two_sum(p, s);
    let r = hi.sqrt();
    let (sq, sq_err) = two_prod(r, r);
    let r_lo = ((hi - sq) - sq_err + lo) / (2.0 * r);
    Some((r, r_lo, e))
}

/// Relative error of `computed` against [`ref_norm`] (0 when both are 0).
pub fn norm_rel_err<T: Float>(a: &[T], computed: T) -> f64 {
    match ref_norm(a) {
        None => {
            if computed == T::ZERO {
                0.0
            } else {
                f64::INFINITY
            }
        }
        Some((r, r_lo, e)) => {
            let c = libm::ldexp(computed.to_f64(), -e);
            ((c - r) - r_lo).abs() / r
        }
    }
}

/// Absolute-error allowance of a result near the subnormal range, relative
/// to the reference norm `(r, e)`.
pub fn subnormal_allowance<T: TestFloat>(a: &[T]) -> f64 {
    match ref_norm(a) {
        None => 0.0,
        Some((r, _, e)) => T::ETA / libm::ldexp(r, e),
    }
}

/// Accurate `‖a − b‖` of two equal-length vectors (for the geometric tests):
/// the differences are formed in f64 (exact for f32 input; one rounding each
/// for f64 input), so the result is within about `2^-53` relative.
pub fn dist<T: Float>(a: &[T], b: &[T]) -> f64 {
    let d: Vec<f64> = a.iter().zip(b).map(|(&x, &y)| x.to_f64() - y.to_f64()).collect();
    match ref_norm(&d) {
        None => 0.0,
        Some((r, r_lo, e)) => libm::ldexp(r + r_lo, e),
    }
}

/// The exact projection `r·w/‖w‖` in f64, also when `‖w‖` overflows f64
/// (the norm is kept as `mant · 2^e`). Each entry is within 3·2^-53 relative.
pub fn closed_form<T: Float>(w: &[T], r: f64) -> Vec<f64> {
    match ref_norm(w) {
        None => vec![0.0; w.len()],
        Some((m, m_lo, e)) => w.iter().map(|&x| r * (libm::ldexp(x.to_f64(), -e) / (m + m_lo))).collect(),
    }
}

/// Accurate `‖a‖` as an f64.
pub fn norm_f64<T: Float>(a: &[T]) -> f64 {
    match ref_norm(a) {
        None => 0.0,
        Some((r, r_lo, e)) => libm::ldexp(r + r_lo, e),
    }
}

/// A small deterministic generator (SplitMix64) for the measurement tests.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * 2f64.powi(-53)
    }
    /// Uniform in [-1, 1).
    pub fn signed(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }
}

/// Standard proptest configuration for these tests.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}
