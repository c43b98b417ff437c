//! Kernels on fixed-size arrays `[T; N]`: the same operations as
//! [`crate::kernels`], for stack-allocated state in `no_std` code. Lengths are
//! checked by the type system; scalar parameters are still checked at run time.
//!
//! ```
//! use bilevel::array;
//! let mut h = [0.0f32; 3];
//! array::storm_update(&mut h, &[1.0, 2.0, 3.0], &[0.0; 3], 1.0).unwrap();
//! assert_eq!(array::dot(&h, &h), 14.0);
//! ```

use crate::error::Error;
use crate::{Float, kernels};

/// `y ← y + a·x`. See [`kernels::axpy`].
///
/// ```
/// let mut y = [1.0f64; 2];
/// bilevel::array::axpy(2.0, &[1.0, -1.0], &mut y).unwrap();
/// assert_eq!(y, [3.0, -1.0]);
/// ```
#[inline]
pub fn axpy<T: Float, const N: usize>(a: T, x: &[T; N], y: &mut [T; N]) -> Result<(), Error> {
    kernels::axpy(a, x, y)
}

/// Dot product. See [`kernels::dot`].
///
/// ```
/// assert_eq!(bilevel::array::dot(&[1.0f64, 2.0], &[3.0, 4.0]), 11.0);
/// ```
#[inline]
pub fn dot<T: Float, const N: usize>(a: &[T; N], b: &[T; N]) -> T {
    // Lengths are equal by type, so the slice kernel cannot fail.
    kernels::dot(a, b).unwrap_or(T::NAN_T)
}

/// Overflow-safe Euclidean norm. See [`kernels::norm`].
///
/// ```
/// assert_eq!(bilevel::array::norm(&[3.0f32, 4.0]), 5.0);
/// ```
#[inline]
pub fn norm<T: Float, const N: usize>(a: &[T; N]) -> T {
    kernels::norm(a).unwrap_or(T::NAN_T)
}

/// STORM update `h ← g + (1 − η)(h − g_prev)`. See [`kernels::storm_update`].
///
/// ```
/// let mut h = [1.0f64, 1.0];
/// bilevel::array::storm_update(&mut h, &[2.0, 2.0], &[0.0, 1.0], 0.5).unwrap();
/// assert_eq!(h, [2.5, 2.0]);
/// ```
#[inline]
pub fn storm_update<T: Float, const N: usize>(
    h: &mut [T; N],
    g: &[T; N],
    g_prev: &[T; N],
    eta: T,
) -> Result<(), Error> {
    kernels::storm_update(h, g, g_prev, eta)
}

/// Fused STORM update and step. See [`kernels::storm_step`].
///
/// ```
/// let (mut h, mut x) = ([0.0f64; 2], [1.0f64; 2]);
/// bilevel::array::storm_step(&mut h, &mut x, &[1.0, 2.0], &[0.0; 2], 1.0, 0.5).unwrap();
/// assert_eq!(x, [0.5, 0.0]);
/// ```
#[inline]
pub fn storm_step<T: Float, const N: usize>(
    h: &mut [T; N],
    x: &mut [T; N],
    g: &[T; N],
    g_prev: &[T; N],
    eta: T,
    alpha: T,
) -> Result<(), Error> {
    kernels::storm_step(h, x, g, g_prev, eta, alpha)
}

/// Exponential moving average `h ← ρ h + (1 − ρ) g`. See [`kernels::ema_update`].
///
/// ```
/// let mut h = [4.0f32];
/// bilevel::array::ema_update(&mut h, &[0.0], 0.75).unwrap();
/// assert_eq!(h, [3.0]);
/// ```
#[inline]
pub fn ema_update<T: Float, const N: usize>(h: &mut [T; N], g: &[T; N], rho: T) -> Result<(), Error> {
    kernels::ema_update(h, g, rho)
}

/// Ball projection, returning the factor applied. See [`kernels::project_ball`].
///
/// ```
/// let mut v = [3.0f64, 4.0];
/// assert_eq!(bilevel::array::project_ball(&mut v, 10.0), Ok(1.0));
/// ```
#[inline]
pub fn project_ball<T: Float, const N: usize>(v: &mut [T; N], r: T) -> Result<T, Error> {
    kernels::project_ball(v, r)
}

/// Centred ball projection. See [`kernels::project_ball_centered`].
///
/// ```
/// let mut v = [1.0f64, 3.0];
/// bilevel::array::project_ball_centered(&mut v, &[1.0, 1.0], 1.0).unwrap();
/// assert_eq!(v, [1.0, 2.0]);
/// ```
#[inline]
pub fn project_ball_centered<T: Float, const N: usize>(
    v: &mut [T; N],
    center: &[T; N],
    r: T,
) -> Result<T, Error> {
    kernels::project_ball_centered(v, center, r)
}

/// Fused `v ← Π_r(v − λ h)`. See [`kernels::step_project`].
///
/// ```
/// let mut v = [0.0f64, 0.0];
/// bilevel::array::step_project(&mut v, &[-3.0, -4.0], 1.0, 2.5).unwrap();
/// assert_eq!(v, [1.5, 2.0]);
/// ```
#[inline]
pub fn step_project<T: Float, const N: usize>(
    v: &mut [T; N],
    h: &[T; N],
    lambda: T,
    r: T,
) -> Result<T, Error> {
    kernels::step_project(v, h, lambda, r)
}
