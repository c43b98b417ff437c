//! Dot product and sum of squares: reductions with several accumulators.
//!
//! Accumulation order (both backends): element `i` goes to accumulator
//! `i mod LANES` (the tail of a length that is not a multiple of [`LANES`]
//! included), each accumulator sums its ≤ `k = ⌈n / LANES⌉` terms in order, and
//! the `LANES` accumulators are combined pairwise (log2(LANES) = 4 levels).
//!
//! Error bound (both backends, proved by the standard recursive-summation
//! argument): every product passes through at most `m = ⌈n / LANES⌉ + 4`
//! roundings, so
//! `|computed − exact| ≤ γ(m) · Σ|a_i b_i|`, with `γ(m) = m·u / (1 − m·u)` and
//! `u = eps / 2` (eps = machine epsilon of `T`); `γ(m) ≈ (⌈n/16⌉ + 4) · eps / 2`
//! (which also gives the looser `(n/16 + 6) · eps · Σ|a_i b_i|`). Barring
//! overflow; a product that underflows adds at most half the smallest subnormal.
//! The AVX2+FMA backend fuses each multiply-add (one rounding fewer per term),
//! so its result can differ from the scalar backend's in the last bits, within
//! that bound.
//!
//! The pairwise combination runs in a separate, not-inlined function: inlined,
//! it steers LLVM's SLP vectorizer to 128-bit vectors for the whole loop;
//! separate, the AVX2 loop uses 256-bit `vfmadd231p{s,d}` on `ymm` registers.

use crate::Float;
use crate::backend::{Backend, Kernel, MulAdd};
use crate::error::{Error, check_len};

/// Number of independent accumulators in the reductions (a multiple of every
/// SIMD width used: 16 f32 = 2 AVX2 registers, 16 f64 = 4).
pub const LANES: usize = 16;

/// Sums the lanes pairwise (log2(LANES) levels), then adds `tail`.
///
/// Not inlined on purpose (see the module docs): called once per reduction.
#[inline(never)]
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

/// `max(big, |x|)` as one compare-and-select (`vmaxp{s,d}`); a NaN `x` is
/// skipped, which is harmless because it also makes the sum of squares NaN.
#[inline(always)]
pub(crate) fn max_abs<T: Float>(big: T, x: T) -> T {
    let a = x.abs();
    if a > big { a } else { big }
}

struct Dot<'a, T> {
    a: &'a [T],
    b: &'a [T],
}

impl<T: Float> Kernel for Dot<'_, T> {
    type Output = T;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        dot_in::<M, T>(self.a, self.b)
    }
}

/// The body of [`dot`] for use inside a user's own [`Kernel`]: `Σ a_i b_i`
/// over the common length, with the same lanes, order and error bound (see
/// the module docs of `kernels::dot`), compiled for whatever backend runs the caller.
///
/// ```
/// use bilevel::backend::{Backend, Kernel, MulAdd};
/// use bilevel::kernels::dot_in;
/// // aᵀb and aᵀc in one kernel call.
/// struct TwoDots<'a>(&'a [f64], &'a [f64], &'a [f64]);
/// impl Kernel for TwoDots<'_> {
///     type Output = (f64, f64);
///     #[inline(always)]
///     fn run<M: MulAdd>(self) -> (f64, f64) {
///         (dot_in::<M, f64>(self.0, self.1), dot_in::<M, f64>(self.0, self.2))
///     }
/// }
/// let r = Backend::detect().run(TwoDots(&[1.0, 2.0], &[3.0, 4.0], &[1.0, 1.0]))?;
/// assert_eq!(r, (11.0, 3.0));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[inline(always)]
pub fn dot_in<M: MulAdd, T: Float>(a: &[T], b: &[T]) -> T {
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    let mut acc = [T::ZERO; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for j in 0..LANES {
            acc[j] = M::mul_add(x[j], y[j], acc[j]);
        }
    }
    // The tail continues the lanes it falls on (keeps the bound).
    for ((acc, &x), &y) in acc.iter_mut().zip(ra).zip(rb) {
        *acc = M::mul_add(x, y, *acc);
    }
    fold_lanes(acc, T::ZERO)
}

/// Two dot products sharing one operand, `(Σ a_i x_i, Σ a_i y_i)`, in one
/// pass over `a`: for a user's [`Kernel`] that needs `aᵀx` and `aᵀy` of the
/// same rows (a matrix row against two vectors, a GLM row against `y` and
/// `v`). Each result has exactly the lanes, order and bits of
/// [`dot_in`] on that pair (over the common length of the three slices).
///
/// ```
/// use bilevel::backend::{Backend, Kernel, MulAdd};
/// use bilevel::kernels::{dot2_in, dot_in};
/// struct Both<'a>(&'a [f64], &'a [f64], &'a [f64]);
/// impl Kernel for Both<'_> {
///     type Output = [f64; 4];
///     #[inline(always)]
///     fn run<M: MulAdd>(self) -> [f64; 4] {
///         let (ax, ay) = dot2_in::<M, f64>(self.0, self.1, self.2);
///         [ax, ay, dot_in::<M, f64>(self.0, self.1), dot_in::<M, f64>(self.0, self.2)]
///     }
/// }
/// let a: Vec<f64> = (0..37).map(|i| i as f64 * 0.1).collect();
/// let x: Vec<f64> = (0..37).map(|i| 1.0 / (1.0 + i as f64)).collect();
/// let r = Backend::detect().run(Both(&a, &x, &a))?;
/// assert_eq!((r[0].to_bits(), r[1].to_bits()), (r[2].to_bits(), r[3].to_bits()));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[inline(always)]
pub fn dot2_in<M: MulAdd, T: Float>(a: &[T], x: &[T], y: &[T]) -> (T, T) {
    let len = a.len().min(x.len()).min(y.len());
    let (a, x, y) = (&a[..len], &x[..len], &y[..len]);
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cx, rx) = x.as_chunks::<LANES>();
    let (cy, ry) = y.as_chunks::<LANES>();
    let mut acc_x = [T::ZERO; LANES];
    let mut acc_y = [T::ZERO; LANES];
    for ((ac, xc), yc) in ca.iter().zip(cx).zip(cy) {
        for j in 0..LANES {
            acc_x[j] = M::mul_add(ac[j], xc[j], acc_x[j]);
            acc_y[j] = M::mul_add(ac[j], yc[j], acc_y[j]);
        }
    }
    for (j, &aj) in ra.iter().enumerate() {
        acc_x[j] = M::mul_add(aj, rx[j], acc_x[j]);
        acc_y[j] = M::mul_add(aj, ry[j], acc_y[j]);
    }
    (fold_lanes(acc_x, T::ZERO), fold_lanes(acc_y, T::ZERO))
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
                big[j] = max_abs(big[j], x[j]);
            }
        }
        for ((acc, big), &x) in acc.iter_mut().zip(big.iter_mut()).zip(ra) {
            *acc = M::mul_add(x, x, *acc);
            *big = max_abs(*big, x);
        }
        let mut m = T::ZERO;
        for b in big {
            m = max_abs(m, b);
        }
        (fold_lanes(acc, T::ZERO), m)
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
