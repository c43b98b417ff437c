//! Dense matrix-vector products for user oracles: `y ← αAx + βy`,
//! `y ← αAᵀx + βy` on a row-major matrix, and the per-sample batched product
//! `y ← α Σ_k A_{s_k} x + βy` of finite-sum quadratics (benchopt's quadratic
//! bilevel problem: a Hessian-vector product over a minibatch of per-sample
//! matrices).
//!
//! Shapes come from the vectors: `A` has `rows · cols` entries, row-major.
//! As in BLAS, `β = 0` sets `y` without reading it (a NaN in `y` does not
//! propagate).
//!
//! Accuracy: in [`gemv`] and [`batched_gemv`] each entry is `α · s + β y`
//! with `s` a row dot product accumulated exactly as [`crate::kernels::dot`]
//! (its bound per row, on the backend that runs it; [`batched_gemv`] then
//! sums the `k` row products in batch order, `k − 1` more roundings).
//! [`gemv_t`] is elementwise: `y ← βy`, then `y ← y + (α x_i) a_i` row after
//! row with plain operations, so it is bit-identical on every backend (error
//! at most `γ(rows + 2) · (|β y_j| + Σ_i |α x_i a_ij|)` per entry).

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, MulAdd};
use crate::error::{Error, check_len};
use crate::kernels::dot::{dot_lanes, with_lanes};

/// Checks `α`, `β` finite.
#[inline]
fn check_scalars<T: Float>(alpha: T, beta: T) -> Result<(), Error> {
    if !alpha.is_finite() {
        return Err(Error::NonFinite { what: "alpha" });
    }
    if !beta.is_finite() {
        return Err(Error::NonFinite { what: "beta" });
    }
    Ok(())
}

/// `y ← α s + β y` for one entry (`β = 0` does not read `y`).
#[inline(always)]
fn combine<T: Float>(alpha: T, s: T, beta: T, y: &mut T) {
    *y = if beta == T::ZERO { alpha * s } else { alpha * s + beta * *y };
}

struct Gemv<'a, T> {
    alpha: T,
    a: &'a [T],
    x: &'a [T],
    beta: T,
    y: &'a mut [T],
}

impl<T: Float> Kernel for Gemv<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (alpha, beta, x) = (self.alpha, self.beta, self.x);
        if x.is_empty() {
            for y in self.y.iter_mut() {
                combine(alpha, T::ZERO, beta, y);
            }
            return;
        }
        for (row, y) in self.a.chunks_exact(x.len()).zip(self.y.iter_mut()) {
            let s = with_lanes!(M, x.len(), dot_lanes::<M, T>(row, x));
            combine(alpha, s, beta, y);
        }
    }
}

struct GemvT<'a, T> {
    alpha: T,
    a: &'a [T],
    x: &'a [T],
    beta: T,
    y: &'a mut [T],
}

impl<T: Float> Kernel for GemvT<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (alpha, beta) = (self.alpha, self.beta);
        for y in self.y.iter_mut() {
            *y = if beta == T::ZERO { T::ZERO } else { beta * *y };
        }
        if self.y.is_empty() {
            return;
        }
        for (row, &xi) in self.a.chunks_exact(self.y.len()).zip(self.x) {
            let s = alpha * xi;
            for (y, &a) in self.y.iter_mut().zip(row) {
                // Elementwise: multiply then add (never fused).
                *y += s * a;
            }
        }
    }
}

struct BatchedGemv<'a, T> {
    alpha: T,
    mats: &'a [T],
    indices: &'a [usize],
    x: &'a [T],
    beta: T,
    y: &'a mut [T],
}

impl<T: Float> Kernel for BatchedGemv<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (alpha, beta, x) = (self.alpha, self.beta, self.x);
        let (rows, cols) = (self.y.len(), x.len());
        let size = rows * cols;
        for (r, y) in self.y.iter_mut().enumerate() {
            let mut s = T::ZERO;
            if cols > 0 {
                for &k in self.indices {
                    let row = &self.mats[k * size + r * cols..k * size + (r + 1) * cols];
                    s += with_lanes!(M, cols, dot_lanes::<M, T>(row, x));
                }
            }
            combine(alpha, s, beta, y);
        }
    }
}

/// The checked `gemv` on any backend or token.
#[inline(always)]
pub(crate) fn gemv_on<E: Exec, T: Float>(
    e: E,
    alpha: T,
    a: &[T],
    x: &[T],
    beta: T,
    y: &mut [T],
) -> Result<(), Error> {
    check_len("a", y.len().saturating_mul(x.len()), a.len())?;
    check_scalars(alpha, beta)?;
    e.exec(Gemv { alpha, a, x, beta, y })
}

/// The checked `gemv_t` on any backend or token.
#[inline(always)]
pub(crate) fn gemv_t_on<E: Exec, T: Float>(
    e: E,
    alpha: T,
    a: &[T],
    x: &[T],
    beta: T,
    y: &mut [T],
) -> Result<(), Error> {
    check_len("a", x.len().saturating_mul(y.len()), a.len())?;
    check_scalars(alpha, beta)?;
    e.exec(GemvT { alpha, a, x, beta, y })
}

/// The checked `batched_gemv` on any backend or token.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn batched_gemv_on<E: Exec, T: Float>(
    e: E,
    alpha: T,
    mats: &[T],
    indices: &[usize],
    x: &[T],
    beta: T,
    y: &mut [T],
) -> Result<(), Error> {
    let size = y.len().saturating_mul(x.len());
    let count = mats.len().checked_div(size).unwrap_or(0);
    if !mats.len().is_multiple_of(size) {
        return Err(Error::LengthMismatch { what: "mats", expected: count * size, found: mats.len() });
    }
    if let Some(&k) = indices.iter().find(|&&k| k >= count && size != 0) {
        return Err(Error::IndexOutOfRange { what: "indices", index: k, len: count });
    }
    check_scalars(alpha, beta)?;
    e.exec(BatchedGemv { alpha, mats, indices, x, beta, y })
}

impl Backend {
    /// `y ← αAx + βy` for row-major `A` of `y.len()` rows and `x.len()`
    /// columns (`β = 0`: `y` is not read).
    ///
    /// Errors: [`Error::LengthMismatch`] if `a.len() != y.len() · x.len()`;
    /// [`Error::NonFinite`] for `alpha`, `beta`.
    ///
    /// ```
    /// let a = [1.0f64, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
    /// let mut y = [1.0, 1.0];
    /// bilevel::Backend::Scalar.gemv(2.0, &a, &[1.0, 1.0], 1.0, &mut y).unwrap();
    /// assert_eq!(y, [7.0, 15.0]);
    /// ```
    #[inline]
    pub fn gemv<T: Float>(self, alpha: T, a: &[T], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> {
        gemv_on(self, alpha, a, x, beta, y)
    }

    /// `y ← αAᵀx + βy` for row-major `A` of `x.len()` rows and `y.len()`
    /// columns; bit-identical on every backend.
    ///
    /// Errors: as [`Backend::gemv`] (`a.len() != x.len() · y.len()`).
    ///
    /// ```
    /// let a = [1.0f64, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
    /// let mut y = [0.0, 0.0];
    /// bilevel::Backend::Scalar.gemv_t(1.0, &a, &[1.0, -1.0], 0.0, &mut y).unwrap();
    /// assert_eq!(y, [-2.0, -2.0]);
    /// ```
    #[inline]
    pub fn gemv_t<T: Float>(self, alpha: T, a: &[T], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> {
        gemv_t_on(self, alpha, a, x, beta, y)
    }

    /// Per-sample batched product `y ← α Σ_k A_{indices[k]} x + βy`: `mats`
    /// holds `n` row-major matrices of `y.len() × x.len()` one after the
    /// other (sample `s` at `mats[s·rows·cols..]`), `indices` the minibatch.
    /// A minibatch mean is `alpha = 1/|indices|`.
    ///
    /// Errors: [`Error::LengthMismatch`] if `mats.len()` is not a multiple of
    /// `y.len() · x.len()`; [`Error::IndexOutOfRange`] for an index `≥ n`;
    /// [`Error::NonFinite`] for `alpha`, `beta`.
    ///
    /// ```
    /// // Two 2×2 samples: I and 2I.
    /// let mats = [1.0f64, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0];
    /// let mut y = [0.0; 2];
    /// bilevel::Backend::Scalar.batched_gemv(0.5, &mats, &[0, 1], &[1.0, 2.0], 0.0, &mut y).unwrap();
    /// assert_eq!(y, [1.5, 3.0]); // mean of I x and 2I x
    /// ```
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn batched_gemv<T: Float>(
        self,
        alpha: T,
        mats: &[T],
        indices: &[usize],
        x: &[T],
        beta: T,
        y: &mut [T],
    ) -> Result<(), Error> {
        batched_gemv_on(self, alpha, mats, indices, x, beta, y)
    }
}

/// `y ← αAx + βy` on the detected backend. See [`Backend::gemv`].
///
/// ```
/// let mut y = [0.0f32; 2];
/// bilevel::kernels::gemv(1.0, &[1.0, 0.0, 0.0, 2.0], &[3.0, 4.0], 0.0, &mut y).unwrap();
/// assert_eq!(y, [3.0, 8.0]);
/// ```
#[inline]
pub fn gemv<T: Float>(alpha: T, a: &[T], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> {
    Backend::detect().gemv(alpha, a, x, beta, y)
}

/// `y ← αAᵀx + βy` on the detected backend. See [`Backend::gemv_t`].
///
/// ```
/// let mut y = [1.0f64; 3];
/// bilevel::kernels::gemv_t(1.0, &[1.0, 2.0, 3.0], &[2.0], 1.0, &mut y).unwrap();
/// assert_eq!(y, [3.0, 5.0, 7.0]);
/// ```
#[inline]
pub fn gemv_t<T: Float>(alpha: T, a: &[T], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> {
    Backend::detect().gemv_t(alpha, a, x, beta, y)
}

/// Per-sample batched matrix-vector product on the detected backend. See
/// [`Backend::batched_gemv`].
///
/// ```
/// let mats = [1.0f64, 2.0, 3.0, 4.0]; // one 1×2 sample per pair
/// let mut y = [0.0];
/// bilevel::kernels::batched_gemv(1.0, &mats, &[1, 1], &[1.0, 1.0], 0.0, &mut y).unwrap();
/// assert_eq!(y, [14.0]); // twice sample 1: 2 · (3 + 4)
/// ```
#[inline]
pub fn batched_gemv<T: Float>(
    alpha: T,
    mats: &[T],
    indices: &[usize],
    x: &[T],
    beta: T,
    y: &mut [T],
) -> Result<(), Error> {
    Backend::detect().batched_gemv(alpha, mats, indices, x, beta, y)
}
