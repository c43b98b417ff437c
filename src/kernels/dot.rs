//! Dot product and sum of squares: reductions with several accumulators.
//!
//! Accumulation order (every backend): with `L` accumulators, element `i`
//! goes to accumulator `i mod L` (the tail of a length that is not a multiple
//! of `L` included), each accumulator sums its ≤ `⌈n / L⌉` terms in order,
//! and the `L` accumulators are combined pairwise (`acc[j] += acc[j + w]`,
//! `w = L/2, …, 1`: log2(L) levels). `L` = [`LANES`] = 16 on the scalar, AVX2
//! and NEON backends, and on AVX-512 below 256 elements; AVX-512 uses 64 from
//! 256 elements ([`Backend::lanes`]).
//!
//! Error bound (proved by the standard recursive-summation argument): every
//! product passes through at most `m = ⌈n / L⌉ + log2 L` roundings, so
//! `|computed − exact| ≤ γ(m) · Σ|a_i b_i|`, with `γ(m) = m·u / (1 − m·u)` and
//! `u = eps / 2` (eps = machine epsilon of `T`). For `L = 16`,
//! `m = ⌈n/16⌉ + 4`; for `L = 64`, `m = ⌈n/64⌉ + 6`, which is smaller from
//! `n = 256` on. Every backend is within the looser `(n/16 + 6) · eps ·
//! Σ|a_i b_i|`. Barring overflow; a product that underflows adds at most half
//! the smallest subnormal. The SIMD backends fuse each multiply-add (one
//! rounding fewer per term), so their results can differ from the scalar
//! backend's in the last bits, within the bound.
//!
//! Codegen: the scalar backend combines the lanes in a separate, not-inlined
//! function (inlined, it steers LLVM's SLP vectorizer to 128-bit vectors for
//! the whole loop); the SIMD backends combine them in registers with the
//! same pairwise order (`backend/x86.rs`), so the loop keeps full-width
//! `vfmadd231p{s,d}` and a short call pays no function call for the fold.

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, Lanes, MulAdd};
use crate::error::{Error, check_len};

/// Number of independent accumulators in the reductions on the scalar, AVX2
/// and NEON backends (16 f32 = 2 AVX2 registers, 16 f64 = 4). AVX-512 uses 64
/// (4 zmm registers of f32, 8 of f64); [`Backend::lanes`] gives each
/// backend's count.
pub const LANES: usize = 16;

/// Reductions shorter than this use 16 accumulators on every backend; the
/// 64 of AVX-512 pay off only on longer vectors (their fold and tail cost
/// more than they save below).
pub(crate) const WIDE_MIN: usize = 256;

/// Runs `$f::<.., L>(..)` with `L` the accumulator count of the policy `$m`
/// for a reduction of length `$n` (16, or 64 on AVX-512 from [`WIDE_MIN`]
/// elements).
macro_rules! with_lanes {
    ($m:ty, $n:expr, $f:ident::<$($g:ty),*>($($a:expr),*)) => {
        if <$m as $crate::backend::MulAdd>::LANES == 64 && $n >= $crate::kernels::dot::WIDE_MIN {
            $f::<$($g,)* 64>($($a),*)
        } else {
            $f::<$($g,)* 16>($($a),*)
        }
    };
}
pub(crate) use with_lanes;

/// Sums the `L` lanes pairwise (log2(L) levels), then adds `tail`.
///
///
/// Not inlined on purpose (see the module docs); the SIMD backends replace
/// it with the same pairwise order in registers ([`MulAdd::fold`]).
#[inline(never)]
pub(crate) fn fold<T: Float, const L: usize>(mut acc: [T; L], tail: T) -> T {
    fold_in_place(&mut acc);
    acc[0] + tail
}

/// The pairwise levels: `acc[j] += acc[j + w − h]` for `j < h = ⌊w/2⌋`, then
/// `w ← w − h` (for a power of two, `acc[j] += acc[j + w/2]`; an odd count
/// keeps its middle lane for the next level).
#[inline(always)]
fn fold_in_place<T: Float, const L: usize>(acc: &mut [T; L]) {
    let mut w = L;
    while w > 1 {
        let h = w / 2;
        for j in 0..h {
            acc[j] += acc[j + w - h];
        }
        w -= h;
    }
}

/// [`fold`], inlined (the fixed-size kernels: straight-line code).
#[inline(always)]
pub(crate) fn fold_inline<T: Float, const L: usize>(mut acc: [T; L]) -> T {
    fold_in_place(&mut acc);
    acc[0]
}

/// `max(big, |x|)` as one compare-and-select; a NaN `x` is skipped, which is
/// harmless because it also makes the sum of squares NaN.
#[inline(always)]
pub(crate) fn max_abs<T: Float>(big: T, x: T) -> T {
    let a = x.abs();
    if a > big { a } else { big }
}

/// The dot body on `L` lanes: element `i` to lane `i mod L`, then [`fold`].
#[inline(always)]
pub(crate) fn dot_lanes<M: MulAdd, T: Float, const L: usize>(a: &[T], b: &[T]) -> T {
    let (ca, ra) = a.as_chunks::<L>();
    let (cb, rb) = b.as_chunks::<L>();
    let mut acc = Lanes([T::ZERO; L]);
    for (x, y) in ca.iter().zip(cb) {
        for j in 0..L {
            acc[j] = M::mul_add(x[j], y[j], acc[j]);
        }
    }
    // The tail continues the lanes it falls on (keeps the bound).
    for ((acc, &x), &y) in acc.iter_mut().zip(ra).zip(rb) {
        *acc = M::mul_add(x, y, *acc);
    }
    M::fold(&mut acc)
}

struct Dot<'a, T> {
    a: &'a [T],
    b: &'a [T],
}

impl<T: Float> Kernel for Dot<'_, T> {
    type Output = T;
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.a.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        with_lanes!(M, self.a.len(), dot_lanes::<M, T>(self.a, self.b))
    }
}

/// Sum of squares: the dot body on `(a, a)`, hence the same bits as
/// `dot(a, a)`.
pub(crate) struct SumSq<'a, T> {
    pub(crate) a: &'a [T],
}

impl<T: Float> Kernel for SumSq<'_, T> {
    type Output = T;
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.a.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        with_lanes!(M, self.a.len(), dot_lanes::<M, T>(self.a, self.a))
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
        dot_on(self, a, b)
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
        sum_sq_on(self, a)
    }
}

/// The checked dot product on any backend or token.
#[inline(always)]
pub(crate) fn dot_on<E: Exec, T: Float>(e: E, a: &[T], b: &[T]) -> Result<T, Error> {
    check_len("b", a.len(), b.len())?;
    e.exec(Dot { a, b })
}

/// The sum of squares on any backend or token.
#[inline(always)]
pub(crate) fn sum_sq_on<E: Exec, T: Float>(e: E, a: &[T]) -> Result<T, Error> {
    e.exec(SumSq { a })
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

/// The 16-lane body of [`dot`] for use inside a user's own [`Kernel`]:
/// `Σ a_i b_i` over the common length, with [`dot`]'s lanes, order, fold and
/// error bound on 16 lanes (its bits below 256 elements on every backend),
/// compiled for whatever backend runs the caller.
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
    let len = a.len().min(b.len());
    dot_lanes::<M, T, LANES>(&a[..len], &b[..len])
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
    let mut acc_x = crate::backend::Lanes([T::ZERO; LANES]);
    let mut acc_y = crate::backend::Lanes([T::ZERO; LANES]);
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
    (M::fold(&mut acc_x), M::fold(&mut acc_y))
}
