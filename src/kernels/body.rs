//! Kernel bodies to call inside your own [`Kernel`](crate::backend::Kernel):
//! the loops the crate's kernels are made of, `#[inline(always)]`, generic
//! over the multiply-add policy `M` the backend passes to
//! [`Kernel::run`](crate::backend::Kernel::run), so they compile for the
//! backend your kernel runs on. No checks: they use the common prefix of
//! their arguments.
//!
//! ```
//! use bilevel::backend::{Kernel, MulAdd, Scalar, Simd};
//! use bilevel::kernels::body;
//!
//! /// `out ← Σ_i (a_iᵀy) a_i` over the rows of `a`.
//! struct Gram<'a> { a: &'a [f32], y: &'a [f32], out: &'a mut [f32] }
//! impl Kernel for Gram<'_> {
//!     type Output = ();
//!     #[inline(always)]
//!     fn run<M: MulAdd>(self) {
//!         self.out.fill(0.0);
//!         for row in self.a.chunks_exact(self.y.len()) {
//!             body::axpy(body::dot::<M, f32>(row, self.y), row, self.out);
//!         }
//!     }
//! }
//! let mut out = [0.0f32; 2];
//! Scalar.run(Gram { a: &[1.0, 0.0, 1.0, 1.0], y: &[1.0, 2.0], out: &mut out });
//! assert_eq!(out, [4.0, 3.0]);
//! ```

use crate::Float;
use crate::backend::MulAdd;
use crate::kernels::dot::{dot_lanes, with_lanes};

/// `Σ a_i b_i` over the common prefix, with the accumulation order and error
/// bound of [`crate::kernels::dot`] on the backend that runs it.
///
/// ```
/// use bilevel::backend::{Kernel, MulAdd, Scalar, Simd};
/// struct D<'a>(&'a [f64], &'a [f64]);
/// impl Kernel for D<'_> {
///     type Output = f64;
///     fn run<M: MulAdd>(self) -> f64 { bilevel::kernels::body::dot::<M, f64>(self.0, self.1) }
/// }
/// assert_eq!(Scalar.run(D(&[1.0, 2.0], &[3.0, 4.0])), 11.0);
/// ```
#[inline(always)]
pub fn dot<M: MulAdd, T: Float>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    with_lanes!(M, n, dot_lanes::<M, T>(a, b))
}

/// `y ← y + a·x` over the common prefix (elementwise: bit-identical on every
/// backend).
///
/// ```
/// let mut y = [1.0f64, 1.0, 1.0];
/// bilevel::kernels::body::axpy(2.0, &[1.0, 2.0], &mut y);
/// assert_eq!(y, [3.0, 5.0, 1.0]);
/// ```
#[inline(always)]
pub fn axpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}
