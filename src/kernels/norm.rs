//! Overflow- and underflow-safe Euclidean norm (ALGORITHMS.md §9.2).
//!
//! One pass computes the sum of squares (the same bits as
//! [`crate::kernels::sum_sq`]). If it is finite and at least 2^-76 (f32) or
//! 2^-914 (f64), so that no square that matters can underflow, the result is
//! `sqrt(sum)`: the common case costs one reduction and a square root.
//! Otherwise (overflow, or tiny entries) a pass finds the largest magnitude
//! `m` and another sums the squares of the entries scaled by a power of two
//! close to `1/m` (exact: scaling by 2^k adds no rounding), so the norm of any
//! vector whose true norm is representable is computed without overflow or
//! underflow.
//!
//! Error bound: both sums accumulate exactly like [`crate::kernels::sum_sq`]
//! (relative error `δ ≤ γ(m)`, `m = ⌈n/L⌉ + log2 L` with the backend's `L`
//! accumulators, see [`crate::kernels::dot`]; the power-of-two scaling is
//! exact), and `|√(1+δ) − 1| ≤ γ/(2 − γ)`; with the rounding of the square
//! root the norm's relative error is at most
//! `β(n) = (1 + u)·γ(m)/(2 − γ(m)) + u` (`u = eps/2`), about
//! `(⌈n/16⌉ + 6) · eps / 4` for `L = 16`. Two underflow caveats: a subnormal
//! result carries an extra absolute error of up to half the smallest
//! subnormal, and squares that underflow on the one-pass path (each off by at
//! most half the smallest subnormal, the sum at least 2^-76 or 2^-914) add at
//! most `n · 2^-74` (f32) or `n · 2^-161` (f64) relative error.

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, Lanes, MulAdd};
use crate::error::Error;
use crate::kernels::dot::{SumSq, max_abs, with_lanes};

/// Sum of squares of `(a_i − c_i) · s1 · s2` (`c` = 0 when absent; two exact
/// power-of-two factors, because one cannot span the whole exponent range).
struct ScaledSumSq<'a, T> {
    a: &'a [T],
    c: Option<&'a [T]>,
    s1: T,
    s2: T,
}

impl<T: Float> Kernel for ScaledSumSq<'_, T> {
    type Output = T;
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.a.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        with_lanes!(M, self.a.len(), scaled_sum_sq::<M, T>(self.a, self.c, self.s1, self.s2))
    }
}

/// The body of [`ScaledSumSq`] on `L` lanes: the same lane layout as
/// `SumSq`, so both paths share one error bound.
#[inline(always)]
fn scaled_sum_sq<M: MulAdd, T: Float, const L: usize>(a: &[T], c: Option<&[T]>, s1: T, s2: T) -> T {
    let (ca, ra) = a.as_chunks::<L>();
    let mut acc = Lanes([T::ZERO; L]);
    match c {
        None => {
            for x in ca {
                for j in 0..L {
                    let y = x[j] * s1 * s2;
                    acc[j] = M::mul_add(y, y, acc[j]);
                }
            }
            for (acc, &x) in acc.iter_mut().zip(ra) {
                let y = x * s1 * s2;
                *acc = M::mul_add(y, y, *acc);
            }
        }
        Some(c) => {
            let (cc, rc) = c.as_chunks::<L>();
            for (x, c) in ca.iter().zip(cc) {
                for j in 0..L {
                    let y = (x[j] - c[j]) * s1 * s2;
                    acc[j] = M::mul_add(y, y, acc[j]);
                }
            }
            for (acc, (&x, &c)) in acc.iter_mut().zip(ra.iter().zip(rc)) {
                let y = (x - c) * s1 * s2;
                *acc = M::mul_add(y, y, *acc);
            }
        }
    }
    M::fold(&mut acc)
}

/// Smallest sum of squares for which the unscaled sum is accurate:
/// `(sqrt(MIN_POSITIVE) · 2^MANTISSA_DIGITS)²` as a power of two (2^-76 for
/// f32, 2^-914 for f64). Each square that underflows is off by at most half
/// the smallest subnormal, so above it their total relative error is at most
/// `n · 2^-74` (f32) or `n · 2^-161` (f64).
#[inline(always)]
fn small_sum<T: Float>() -> T {
    let min_exp = T::MIN_POSITIVE_T.exponent();
    T::exp2i(2 * (min_exp / 2 + T::MANTISSA_DIGITS_T as i32 + 1))
}

/// Largest `|a_i − c_i|` (`c` = 0 when `None`); NaN entries are skipped.
/// Only for the rare scaled path, so a plain loop.
fn max_abs_diff<T: Float>(a: &[T], c: Option<&[T]>) -> T {
    match c {
        None => a.iter().fold(T::ZERO, |m, &x| max_abs(m, x)),
        Some(c) => a.iter().zip(c).fold(T::ZERO, |m, (&x, &y)| max_abs(m, x - y)),
    }
}

/// Finishes the norm of `a − c` (`c` = 0 when `None`) from one pass's sum of
/// squares, running the scaled second pass only when needed (a rare path:
/// extreme magnitudes only).
#[inline]
pub(crate) fn finish_norm<E: Exec, T: Float>(
    backend: E,
    a: &[T],
    c: Option<&[T]>,
    sum: T,
) -> Result<T, Error> {
    let (mant, e) = norm_parts(backend, a, c, sum)?;
    // norm = mant * 2^e in two exact steps (∞ if the norm is not representable).
    Ok(if e == 0 { mant } else { mant * T::exp2i(e - e / 2) * T::exp2i(e / 2) })
}

/// The norm of `a − c` as `(mant, e)` with `norm = mant · 2^e` (`e = 0` on the
/// one-pass path and for NaN, ∞, 0), so that callers can use a norm that
/// overflows (§9.2: projecting a vector of huge entries).
#[inline]
pub(crate) fn norm_parts<E: Exec, T: Float>(
    backend: E,
    a: &[T],
    c: Option<&[T]>,
    sum: T,
) -> Result<(T, i32), Error> {
    if sum.is_nan() {
        return Ok((T::NAN_T, 0));
    }
    if sum.is_finite() && sum >= small_sum::<T>() {
        return Ok((sum.sqrt(), 0));
    }
    // Overflow, or squares small enough to underflow: scale by the largest
    // magnitude (a third pass, only here).
    let m = max_abs_diff(a, c);
    if !m.is_finite() {
        return Ok((T::INFINITY_T, 0));
    }
    if m == T::ZERO {
        return Ok((T::ZERO, 0));
    }
    // Exponent of m, also for subnormal m (lift it into the normal range first).
    let lift = T::MANTISSA_DIGITS_T as i32 + 1;
    let e = if m >= T::MIN_POSITIVE_T { m.exponent() } else { (m * T::exp2i(lift)).exponent() - lift };
    // Scale by 2^-e in two exact steps so that every step stays representable.
    let half = -e / 2;
    let (s1, s2) = (T::exp2i(half), T::exp2i(-e - half));
    let scaled = backend.exec(ScaledSumSq { a, c, s1, s2 })?;
    Ok((scaled.sqrt(), e))
}

impl Backend {
    /// Euclidean norm `‖a‖₂`, without overflow or underflow for any vector
    /// whose true norm is representable. NaN if any entry is NaN; ∞ if an
    /// entry is infinite.
    ///
    /// ```
    /// use bilevel::Backend;
    /// let n = Backend::Scalar.norm(&[1e300f64, 1e300]).unwrap();
    /// assert!((n / 1.4142135623730951e300 - 1.0).abs() < 1e-15);
    /// assert_eq!(Backend::Scalar.norm(&[3.0f32, 4.0]).unwrap(), 5.0);
    /// ```
    #[inline]
    pub fn norm<T: Float>(self, a: &[T]) -> Result<T, Error> {
        norm_on(self, a)
    }
}

/// The norm on any backend or token.
#[inline(always)]
pub(crate) fn norm_on<E: Exec, T: Float>(e: E, a: &[T]) -> Result<T, Error> {
    let sum = e.exec(SumSq { a })?;
    finish_norm(e, a, None, sum)
}

/// Euclidean norm on the detected backend. See [`Backend::norm`].
///
/// ```
/// assert_eq!(bilevel::kernels::norm(&[3.0f64, 4.0]), Ok(5.0));
/// assert_eq!(bilevel::kernels::norm(&[1e-200f64, 0.0]), Ok(1e-200));
/// ```
#[inline]
pub fn norm<T: Float>(a: &[T]) -> Result<T, Error> {
    Backend::detect().norm(a)
}
