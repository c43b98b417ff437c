//! GLM accumulation `out ← Aᵀ(c ⊙ Ax)` with the coefficient of each row
//! computed from its own score: `out = Σ_i c_i(a_iᵀx) · a_i` (ALGORITHMS.md
//! §9.4 "Scalar memory"). One pass over the rows: the gradient of any GLM
//! loss (`c_i = ℓ'(a_iᵀx)`, logistic, Poisson, …), a Gauss–Newton product
//! (`c_i = ℓ''(a_iᵀy)·(a_iᵀv)` needs a second score: run it on `[y; v]`
//! rows of your own), or per-sample SAGA coefficients read off in `coef`.
//!
//! Accuracy: each score `a_iᵀx` is accumulated exactly as
//! [`crate::kernels::dot`] (its bound, on the backend that runs it); the
//! outer sum is elementwise, `out ← out + c_i a_i` row after row with plain
//! operations (error at most `γ(rows + 1) · Σ_i |c_i a_ij|` per entry,
//! barring errors in `c_i` itself).

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, MulAdd};
use crate::error::{Error, check_len};
use crate::kernels::dot::{dot_lanes, with_lanes};

struct GlmAccumulate<'a, T, F> {
    a: &'a [T],
    x: &'a [T],
    coef: F,
    out: &'a mut [T],
}

impl<T: Float, F: FnMut(usize, T) -> T> Kernel for GlmAccumulate<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let GlmAccumulate { a, x, mut coef, out } = self;
        out.fill(T::ZERO);
        for (i, row) in a.chunks_exact(x.len()).enumerate() {
            let s = with_lanes!(M, x.len(), dot_lanes::<M, T>(row, x));
            let c = coef(i, s);
            for (o, &v) in out.iter_mut().zip(row) {
                *o += c * v;
            }
        }
    }
}

/// The checked GLM accumulation on any backend or token.
#[inline(always)]
pub(crate) fn glm_accumulate_on<E: Exec, T: Float, F: FnMut(usize, T) -> T>(
    e: E,
    a: &[T],
    x: &[T],
    coef: F,
    out: &mut [T],
) -> Result<(), Error> {
    if x.is_empty() {
        return Err(Error::Empty { what: "x" });
    }
    check_len("out", x.len(), out.len())?;
    if !a.len().is_multiple_of(x.len()) {
        return Err(Error::LengthMismatch {
            what: "a",
            expected: a.len() / x.len() * x.len(),
            found: a.len(),
        });
    }
    e.exec(GlmAccumulate { a, x, coef, out })
}

impl Backend {
    /// `out ← Σ_i c_i · a_i` with `c_i = coef(i, a_iᵀx)`, over the rows
    /// `a_i` of the row-major `a` (`a.len() / x.len()` rows of `x.len()`):
    /// `Aᵀ(c ⊙ Ax)` in one pass. `coef` runs inside the backend's loop (it is
    /// compiled for the backend too).
    ///
    /// Errors: [`Error::Empty`] if `x` is empty; [`Error::LengthMismatch`] if
    /// `out.len() != x.len()` or `a.len()` is not a multiple of `x.len()`.
    ///
    /// ```
    /// // Logistic-loss gradient Σ_i ℓ'(b_i a_iᵀx) b_i a_i with labels b = (1, −1).
    /// let (a, b) = ([1.0f64, 2.0, 3.0, 4.0], [1.0, -1.0]);
    /// let mut g = [0.0; 2];
    /// bilevel::Backend::Scalar
    ///     .glm_accumulate(&a, &[0.0, 0.0], |i, s| -b[i] / (1.0 + (b[i] * s).exp()), &mut g)
    ///     .unwrap();
    /// assert_eq!(g, [1.0, 1.0]); // −½·(1, 2) + ½·(3, 4)
    /// ```
    #[inline]
    pub fn glm_accumulate<T: Float, F: FnMut(usize, T) -> T>(
        self,
        a: &[T],
        x: &[T],
        coef: F,
        out: &mut [T],
    ) -> Result<(), Error> {
        glm_accumulate_on(self, a, x, coef, out)
    }
}

/// GLM accumulation `Aᵀ(c ⊙ Ax)` on the detected backend. See
/// [`Backend::glm_accumulate`].
///
/// ```
/// // Least squares: c_i = a_iᵀx − t_i gives Aᵀ(Ax − t).
/// let (a, t) = ([1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0]);
/// let mut g = [0.0; 2];
/// bilevel::kernels::glm_accumulate(&a, &[1.0, 1.0], |i, s| s - t[i], &mut g).unwrap();
/// assert_eq!(g, [-1.0, -2.0]);
/// ```
#[inline]
pub fn glm_accumulate<T: Float, F: FnMut(usize, T) -> T>(
    a: &[T],
    x: &[T],
    coef: F,
    out: &mut [T],
) -> Result<(), Error> {
    Backend::detect().glm_accumulate(a, x, coef, out)
}
