//! Dot product and sum of squares: reductions with several accumulators.
//!
//! Error bound (both backends): with `n` terms and [`LANES`] independent
//! accumulators combined pairwise,
//! `|computed − exact| ≤ (n / LANES + 6) · eps · Σ|a_i b_i|`
//! (eps = machine epsilon of `T`). The AVX2+FMA backend fuses
//! each multiply-add, so its result can differ from the scalar backend's in the
//! last bits, within that bound.

use crate::Float;
use crate::backend::{Backend, Kernel, MulAdd};
use crate::error::{Error, check_len};

/// Number of independent accumulators in the reductions (a multiple of every
/// SIMD width used: 16 f32 = 2 AVX2 registers, 16 f64 = 4).
pub const LANES: usize = 16;

/// Sums the lanes pairwise (log2(LANES) levels), then adds `tail`.
#[inline(always)]
pub(crate) fn fold_lanes<T: Float>(mut acc: [T; LANES], tail: T) -> T {
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            acc[j] += acc[j + w];
        }
    }
    acc[0] + tail
}

struct Dot<'a, T> {
    a: &'a [T],
    b: &'a [T],
}

impl<T: Float> Kernel for Dot<'_, T> {
    type Output = T;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        let (ca, ra) = self.a.as_chunks::<LANES>();
        let (cb, rb) = self.b.as_chunks::<LANES>();
        let mut acc = [T::ZERO; LANES];
        for (x, y) in ca.iter().zip(cb) {
            for j in 0..LANES {
                acc[j] = M::mul_add(x[j], y[j], acc[j]);
            }
        }
        let mut tail = T::ZERO;
        for (&x, &y) in ra.iter().zip(rb) {
            tail = M::mul_add(x, y, tail);
        }
        fold_lanes(acc, tail)
    }
}

/// Sum of squares and largest magnitude in one pass.
pub(crate) struct SumSqMax<'a, T> {
    pub(crate) a: &'a [T],
}

impl<T: Float> Kernel for SumSqMax<'_, T> {
    type Output = (T, T);
    #[inline(always)]
    fn run<M: MulAdd>(self) -> (T, T) {
        let (ca, ra) = self.a.as_chunks::<LANES>();
        let mut acc = [T::ZERO; LANES];
        let mut big = [T::ZERO; LANES];
        for x in ca {
            for j in 0..LANES {
                acc[j] = M::mul_add(x[j], x[j], acc[j]);
                big[j] = big[j].max(x[j].abs());
            }
        }
        let mut tail = T::ZERO;
        let mut m = T::ZERO;
        for &x in ra {
            tail = M::mul_add(x, x, tail);
            m = m.max(x.abs());
        }
        for b in big {
            m = m.max(b);
        }
        (fold_lanes(acc, tail), m)
    }
}

impl Backend {
    /// Dot product `Σ a_i b_i` on this backend.
    ///
    /// Errors: [`Error::LengthMismatch`] if `b.len() != a.len()`;
    /// [`Error::BackendUnavailable`].
    ///
    /// ```
    /// use bilevel::Backend;
    /// let d = Backend::Scalar.dot(&[1.0f64, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
    /// assert_eq!(d, 32.0);
    /// ```
    #[inline]
    pub fn dot<T: Float>(self, a: &[T], b: &[T]) -> Result<T, Error> {
        check_len("b", a.len(), b.len())?;
        self.run(Dot { a, b })
    }

    /// Sum of squares `Σ a_i²` on this backend (can overflow to ∞ for huge
    /// entries; use [`Backend::norm`] for a scaled, overflow-free norm).
    ///
    /// ```
    /// let s = bilevel::Backend::Scalar.sum_sq(&[3.0f32, 4.0]).unwrap();
    /// assert_eq!(s, 25.0);
    /// ```
    #[inline]
    pub fn sum_sq<T: Float>(self, a: &[T]) -> Result<T, Error> {
        self.run(SumSqMax { a }).map(|(s, _)| s)
    }
}

/// Dot product `Σ a_i b_i` on the detected backend. See [`Backend::dot`].
///
/// ```
/// assert_eq!(bilevel::kernels::dot(&[1.0f32, 2.0], &[3.0, 4.0]), Ok(11.0));
/// assert!(bilevel::kernels::dot(&[1.0f32, 2.0], &[3.0]).is_err());
/// ```
#[inline]
pub fn dot<T: Float>(a: &[T], b: &[T]) -> Result<T, Error> {
    Backend::detect().dot(a, b)
}

/// Sum of squares on the detected backend. See [`Backend::sum_sq`].
///
/// ```
/// assert_eq!(bilevel::kernels::sum_sq(&[1.0f64, 2.0, 2.0]), Ok(9.0));
/// ```
#[inline]
pub fn sum_sq<T: Float>(a: &[T]) -> Result<T, Error> {
    Backend::detect().sum_sq(a)
}
