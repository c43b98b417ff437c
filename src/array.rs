//! Kernels on fixed-size arrays `[T; N]`: the same operations as
//! [`crate::kernels`], for stack-allocated state in `no_std` code and short
//! vectors where a call's fixed cost matters.
//!
//! No run-time dispatch and no detection: each function is compiled into the
//! caller with the build's own target features (`-C target-cpu=...`), and for
//! small `N` the body, the pairwise fold included, becomes straight-line
//! code. Lengths are checked by the type system; scalar parameters (weights,
//! radius, steps) are still checked at run time. Results are bit-identical to
//! the slice kernels on [`BACKEND`] (the scalar backend on a default x86_64
//! build; AVX2+FMA when the build enables both; NEON on aarch64). To run an
//! array kernel on a backend chosen at run time, call the token's method
//! ([`Simd`](crate::backend::Simd)): `&[T; N]` coerces to `&[T]`, and the
//! length checks fold away.
//!
//! ```
//! use bilevel::backend::{Avx512, Simd};
//! let (a, b) = ([1.0f32; 16], [2.0f32; 16]);
//! if let Ok(t) = Avx512::try_new() {
//!     assert_eq!(t.dot(&a, &b), Ok(32.0));
//! }
//! ```
//!
//! Return convention (the same in [`crate::kernels`], `array` and `na`):
//! every kernel returns `Result<_, Error>`, so code moves between the three
//! APIs unchanged. Fixed-size reductions can only return `Ok` (the `Err` arm
//! compiles away).
//!
//! ```
//! use bilevel::array;
//! let mut h = [0.0f32; 3];
//! array::storm_update(&mut h, &[1.0, 2.0, 3.0], &[0.0; 3], 1.0)?;
//! assert_eq!(array::dot(&h, &h)?, 14.0);
//! # Ok::<(), bilevel::Error>(())
//! ```

use crate::Float;
use crate::backend::{Backend, StaticExec};
use crate::error::Error;
use crate::kernels::{axpy as ax, dense as dn, dot as dt, norm as nm, project as pj, storm as st};

/// The backend whose slice kernels give the same bits as this module's.
///
/// ```
/// let (a, b) = ([0.1f64; 20], [0.3f64; 20]);
/// assert_eq!(bilevel::array::dot(&a, &b), bilevel::array::BACKEND.dot(&a, &b));
/// ```
pub const BACKEND: Backend = crate::backend::STATIC_BACKEND;

/// `y ← y + a·x`. See [`crate::kernels::axpy`].
///
/// ```
/// let mut y = [1.0f64; 2];
/// bilevel::array::axpy(2.0, &[1.0, -1.0], &mut y).unwrap();
/// assert_eq!(y, [3.0, -1.0]);
/// ```
#[inline(always)]
pub fn axpy<T: Float, const N: usize>(a: T, x: &[T; N], y: &mut [T; N]) -> Result<(), Error> {
    ax::axpy_on(StaticExec, a, x, y)
}

/// Dot product (always `Ok`). See [`crate::kernels::dot`] (error bound there).
///
/// ```
/// assert_eq!(bilevel::array::dot(&[1.0f64, 2.0], &[3.0, 4.0]), Ok(11.0));
/// ```
#[inline(always)]
pub fn dot<T: Float, const N: usize>(a: &[T; N], b: &[T; N]) -> Result<T, Error> {
    dt::dot_on(StaticExec, a, b)
}

/// Sum of squares (always `Ok`). See [`crate::kernels::sum_sq`].
///
/// ```
/// assert_eq!(bilevel::array::sum_sq(&[3.0f32, 4.0]), Ok(25.0));
/// ```
#[inline(always)]
pub fn sum_sq<T: Float, const N: usize>(a: &[T; N]) -> Result<T, Error> {
    dt::sum_sq_on(StaticExec, a)
}

/// Overflow-safe Euclidean norm (always `Ok`). See [`crate::kernels::norm`].
///
/// ```
/// assert_eq!(bilevel::array::norm(&[3.0f32, 4.0]), Ok(5.0));
/// ```
#[inline(always)]
pub fn norm<T: Float, const N: usize>(a: &[T; N]) -> Result<T, Error> {
    nm::norm_on(StaticExec, a)
}

/// STORM update `h ← g + (1 − η)(h − g_prev)`. See [`crate::kernels::storm_update`].
///
/// ```
/// let mut h = [1.0f64, 1.0];
/// bilevel::array::storm_update(&mut h, &[2.0, 2.0], &[0.0, 1.0], 0.5).unwrap();
/// assert_eq!(h, [2.5, 2.0]);
/// ```
#[inline(always)]
pub fn storm_update<T: Float, const N: usize>(
    h: &mut [T; N],
    g: &[T; N],
    g_prev: &[T; N],
    eta: T,
) -> Result<(), Error> {
    st::storm_update_on(StaticExec, h, g, g_prev, eta)
}

/// Fused STORM update and step. See [`crate::kernels::storm_step`].
///
/// ```
/// let (mut h, mut x) = ([0.0f64; 2], [1.0f64; 2]);
/// bilevel::array::storm_step(&mut h, &mut x, &[1.0, 2.0], &[0.0; 2], 1.0, 0.5).unwrap();
/// assert_eq!(x, [0.5, 0.0]);
/// ```
#[inline(always)]
pub fn storm_step<T: Float, const N: usize>(
    h: &mut [T; N],
    x: &mut [T; N],
    g: &[T; N],
    g_prev: &[T; N],
    eta: T,
    alpha: T,
) -> Result<(), Error> {
    st::storm_step_on(StaticExec, h, x, g, g_prev, eta, alpha)
}

/// Exponential moving average `h ← ρ h + (1 − ρ) g`. See [`crate::kernels::ema_update`].
///
/// ```
/// let mut h = [4.0f32];
/// bilevel::array::ema_update(&mut h, &[0.0], 0.75).unwrap();
/// assert_eq!(h, [3.0]);
/// ```
#[inline(always)]
pub fn ema_update<T: Float, const N: usize>(h: &mut [T; N], g: &[T; N], rho: T) -> Result<(), Error> {
    st::ema_update_on(StaticExec, h, g, rho)
}

/// Ball projection, returning the factor applied. See [`crate::kernels::project_ball`].
///
/// ```
/// let mut v = [3.0f64, 4.0];
/// assert_eq!(bilevel::array::project_ball(&mut v, 10.0), Ok(1.0));
/// ```
#[inline(always)]
pub fn project_ball<T: Float, const N: usize>(v: &mut [T; N], r: T) -> Result<T, Error> {
    pj::project_ball_on(StaticExec, v, r)
}

/// Centred ball projection. See [`crate::kernels::project_ball_centered`].
///
/// ```
/// let mut v = [1.0f64, 3.0];
/// bilevel::array::project_ball_centered(&mut v, &[1.0, 1.0], 1.0).unwrap();
/// assert_eq!(v, [1.0, 2.0]);
/// ```
#[inline(always)]
pub fn project_ball_centered<T: Float, const N: usize>(
    v: &mut [T; N],
    center: &[T; N],
    r: T,
) -> Result<T, Error> {
    pj::project_ball_centered_on(StaticExec, v, center, r)
}

/// Fused `v ← Π_r(v − λ h)`. See [`crate::kernels::step_project`].
///
/// ```
/// let mut v = [0.0f64, 0.0];
/// bilevel::array::step_project(&mut v, &[-3.0, -4.0], 1.0, 2.5).unwrap();
/// assert_eq!(v, [1.5, 2.0]);
/// ```
#[inline(always)]
pub fn step_project<T: Float, const N: usize>(
    v: &mut [T; N],
    h: &[T; N],
    lambda: T,
    r: T,
) -> Result<T, Error> {
    pj::step_project_on(StaticExec, v, h, lambda, r)
}

/// `y ← αAx + βy` for a row-major `R × C` matrix held as `[[T; C]; R]`. See
/// [`crate::kernels::gemv`].
///
/// ```
/// let a = [[1.0f64, 2.0], [3.0, 4.0]];
/// let mut y = [0.0; 2];
/// bilevel::array::gemv(1.0, &a, &[1.0, 1.0], 0.0, &mut y).unwrap();
/// assert_eq!(y, [3.0, 7.0]);
/// ```
#[inline(always)]
pub fn gemv<T: Float, const R: usize, const C: usize>(
    alpha: T,
    a: &[[T; C]; R],
    x: &[T; C],
    beta: T,
    y: &mut [T; R],
) -> Result<(), Error> {
    dn::gemv_on(StaticExec, alpha, a.as_flattened(), x, beta, y)
}

/// `y ← αAᵀx + βy` for a row-major `R × C` matrix held as `[[T; C]; R]`. See
/// [`crate::kernels::gemv_t`].
///
/// ```
/// let a = [[1.0f64, 2.0], [3.0, 4.0]];
/// let mut y = [0.0; 2];
/// bilevel::array::gemv_t(1.0, &a, &[1.0, 1.0], 0.0, &mut y).unwrap();
/// assert_eq!(y, [4.0, 6.0]);
/// ```
#[inline(always)]
pub fn gemv_t<T: Float, const R: usize, const C: usize>(
    alpha: T,
    a: &[[T; C]; R],
    x: &[T; R],
    beta: T,
    y: &mut [T; C],
) -> Result<(), Error> {
    dn::gemv_t_on(StaticExec, alpha, a.as_flattened(), x, beta, y)
}
