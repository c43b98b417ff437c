//! `y ← y + a·x`, the step every solver takes (`x ← x − γ·d` is `axpy(−γ, d, x)`).

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, MulAdd};
use crate::error::{Error, check_len};

struct Axpy<'a, T> {
    a: T,
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: Float> Kernel for Axpy<'_, T> {
    type Output = ();
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.y.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let a = self.a;
        for (y, &x) in self.y.iter_mut().zip(self.x) {
            // Elementwise: multiply then add (never fused) on every backend.
            *y += a * x;
        }
    }
}

impl Backend {
    /// `y ← y + a·x` on this backend (bit-identical on every backend).
    ///
    /// Errors: [`Error::LengthMismatch`] if `x.len() != y.len()`;
    /// [`Error::NonFinite`] if `a` is NaN or infinite.
    ///
    /// ```
    /// let mut y = [1.0f64, 1.0];
    /// bilevel::Backend::Scalar.axpy(-0.5, &[2.0, 4.0], &mut y).unwrap();
    /// assert_eq!(y, [0.0, -1.0]);
    /// ```
    #[inline]
    pub fn axpy<T: Float>(self, a: T, x: &[T], y: &mut [T]) -> Result<(), Error> {
        axpy_on(self, a, x, y)
    }
}

/// The checked `axpy` on any backend or token.
#[inline(always)]
pub(crate) fn axpy_on<E: Exec, T: Float>(e: E, a: T, x: &[T], y: &mut [T]) -> Result<(), Error> {
    check_len("x", y.len(), x.len())?;
    if !a.is_finite() {
        return Err(Error::NonFinite { what: "a" });
    }
    e.exec(Axpy { a, x, y })
}

/// `y ← y + a·x` on the detected backend. See [`Backend::axpy`].
///
/// ```
/// let mut y = [0.0f32; 3];
/// bilevel::kernels::axpy(2.0, &[1.0, 2.0, 3.0], &mut y).unwrap();
/// assert_eq!(y, [2.0, 4.0, 6.0]);
/// ```
#[inline]
pub fn axpy<T: Float>(a: T, x: &[T], y: &mut [T]) -> Result<(), Error> {
    Backend::detect().axpy(a, x, y)
}
