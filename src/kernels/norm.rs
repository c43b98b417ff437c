//! Overflow- and underflow-safe Euclidean norm (ALGORITHMS.md §9.2).
//!
//! One pass computes the sum of squares and the largest magnitude `m`
//! together. If the sum is finite and `m` is large enough that no square that
//! matters can underflow, the result is `sqrt(sum)`. Otherwise a second pass
//! sums the squares of the entries scaled by a power of two close to `1/m`
//! (exact: scaling by 2^k adds no rounding), so the norm of any vector whose
//! true norm is representable is computed without overflow or underflow.
//!
//! Error bound: both passes accumulate exactly like [`crate::kernels::sum_sq`]
//! (relative error `δ ≤ γ(m)`, `m = ⌈n/16⌉ + 4`, see [`crate::kernels::dot`];
//! the power-of-two scaling is exact), and `|√(1+δ) − 1| ≤ γ/(2 − γ)`; with the
//! rounding of the square root the norm's relative error is at most
//! `β(n) = (1 + u)·γ(m)/(2 − γ(m)) + u` (`u = eps/2`), about
//! `(⌈n/16⌉ + 6) · eps / 4`. Two underflow caveats: a subnormal result carries
//! an extra absolute error of up to half the smallest subnormal, and squares
//! that underflow (the one-pass path is taken only when the largest magnitude
//! is at least 2^-38 for f32, 2^-457 for f64) add at most `n · 2^-74` (f32) or
//! `n · 2^-161` (f64) relative error.

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, MulAdd};
use crate::error::Error;
use crate::kernels::dot::{SumSqMax, with_lanes};

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
    fn run<M: MulAdd>(self) -> T {
        with_lanes!(M, self.a.len(), scaled_sum_sq::<M, T>(self.a, self.c, self.s1, self.s2))
    }
}

/// The body of [`ScaledSumSq`] on `L` lanes: the same lane layout as
/// `SumSqMax`, so both paths share one error bound.
#[inline(always)]
fn scaled_sum_sq<M: MulAdd, T: Float, const L: usize>(a: &[T], c: Option<&[T]>, s1: T, s2: T) -> T {
    let (ca, ra) = a.as_chunks::<L>();
    let mut acc = [T::ZERO; L];
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
    M::fold(acc)
}

/// Smallest max-magnitude for which the unscaled sum of squares is accurate:
/// below it, squares of entries within a factor 2^-mantissa of the maximum
/// could underflow.
#[inline(always)]
fn small_threshold<T: Float>() -> T {
    // sqrt(MIN_POSITIVE) * 2^MANTISSA_DIGITS, as a power of two.
    let min_exp = T::MIN_POSITIVE_T.exponent();
    T::exp2i(min_exp / 2 + T::MANTISSA_DIGITS_T as i32 + 1)
}

/// Finishes the norm of `a − c` (`c` = 0 when `None`) from one pass's
/// `(sum_sq, max_abs)`, running the scaled second pass only when needed (a
/// rare path: extreme magnitudes only).
#[inline]
pub(crate) fn finish_norm<E: Exec, T: Float>(
    backend: E,
    a: &[T],
    c: Option<&[T]>,
    sum: T,
    m: T,
) -> Result<T, Error> {
    let (mant, e) = norm_parts(backend, a, c, sum, m)?;
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
    m: T,
) -> Result<(T, i32), Error> {
    if sum.is_nan() {
        return Ok((T::NAN_T, 0));
    }
    if !m.is_finite() {
        return Ok((T::INFINITY_T, 0));
    }
    if m == T::ZERO {
        return Ok((T::ZERO, 0));
    }
    if sum.is_finite() && m >= small_threshold::<T>() {
        return Ok((sum.sqrt(), 0));
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
    let (sum, m) = e.exec(SumSqMax { a })?;
    finish_norm(e, a, None, sum, m)
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
