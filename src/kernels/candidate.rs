//! `out ← y + a·x` with the finiteness check in the same pass: how a solver
//! forms a candidate iterate (`x − γ d` is `axpy_into(−γ, d, x, out)`)
//! before committing it, in one pass instead of copy, axpy and check.

use crate::Float;
use crate::backend::{Backend, Kernel, MulAdd};
use crate::error::{Error, check_len};

struct AxpyInto<'a, T> {
    a: T,
    x: &'a [T],
    /// A second direction added to `x` first (`out ← y + a·(x + x2)`).
    x2: Option<&'a [T]>,
    y: &'a [T],
    out: &'a mut [T],
    /// Every `|out_i|` must be `≤ limit` (`MAX`: finite).
    limit: T,
}

impl<T: Float> Kernel for AxpyInto<'_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> bool {
        let (a, limit) = (self.a, self.limit);
        let mut bounded = true;
        match self.x2 {
            None => {
                for ((o, &x), &y) in self.out.iter_mut().zip(self.x).zip(self.y) {
                    // Elementwise: the same expression as `axpy` (never fused).
                    let v = y + a * x;
                    *o = v;
                    // False for NaN as well.
                    bounded &= v.abs() <= limit;
                }
            }
            Some(x2) => {
                for (((o, &x), &x2), &y) in self.out.iter_mut().zip(self.x).zip(x2).zip(self.y) {
                    // The bits of `axpy(1, x2, x)` followed by `axpy(a, x, y)`.
                    let v = y + a * (x + x2);
                    *o = v;
                    bounded &= v.abs() <= limit;
                }
            }
        }
        bounded
    }
}

impl Backend {
    /// `out ← y + a·x` on this backend, bit-identical to copying `y` into
    /// `out` and calling [`Backend::axpy`], and checking the result in the
    /// same pass.
    ///
    /// Errors: [`Error::LengthMismatch`] if `x` or `out` differ in length
    /// from `y`; [`Error::NonFinite`] (`"a"`) if `a` is NaN or infinite;
    /// [`Error::NonFinite`] (`"out"`) if an entry of the result is not
    /// finite (`out` is written in that case).
    ///
    /// ```
    /// let mut out = [0.0f64; 2];
    /// bilevel::Backend::Scalar.axpy_into(-0.5, &[2.0, 4.0], &[1.0, 1.0], &mut out)?;
    /// assert_eq!(out, [0.0, -1.0]);
    /// let e = bilevel::Backend::Scalar.axpy_into(1.0, &[f64::MAX, 0.0], &[f64::MAX, 0.0], &mut out);
    /// assert_eq!(e, Err(bilevel::Error::NonFinite { what: "out" }));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn axpy_into<T: Float>(self, a: T, x: &[T], y: &[T], out: &mut [T]) -> Result<(), Error> {
        self.axpy_into_bounded(a, (x, None), y, out, T::MAX_T)
    }

    /// [`Backend::axpy_into`] with `x + x2` as the direction when `x2` is
    /// given, and every entry of the result checked against `limit` instead of
    /// against `MAX`: a solver's candidate step and growth guard in one pass.
    pub(crate) fn axpy_into_bounded<T: Float>(
        self,
        a: T,
        (x, x2): (&[T], Option<&[T]>),
        y: &[T],
        out: &mut [T],
        limit: T,
    ) -> Result<(), Error> {
        check_len("x", y.len(), x.len())?;
        check_len("out", y.len(), out.len())?;
        if let Some(x2) = x2 {
            check_len("x2", y.len(), x2.len())?;
        }
        if !a.is_finite() {
            return Err(Error::NonFinite { what: "a" });
        }
        if self.run(AxpyInto { a, x, x2, y, out, limit })? {
            Ok(())
        } else {
            Err(Error::NonFinite { what: "out" })
        }
    }
}

/// `out ← y + a·x` with a finiteness check, on the detected backend. See
/// [`Backend::axpy_into`].
///
/// ```
/// let mut out = [0.0f32; 2];
/// bilevel::kernels::axpy_into(2.0, &[1.0, 2.0], &[1.0, 1.0], &mut out)?;
/// assert_eq!(out, [3.0, 5.0]);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[inline]
pub fn axpy_into<T: Float>(a: T, x: &[T], y: &[T], out: &mut [T]) -> Result<(), Error> {
    Backend::detect().axpy_into(a, x, y, out)
}
