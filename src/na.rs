//! Kernels on nalgebra column vectors (feature `nalgebra`).
//!
//! Every function takes column vectors with contiguous storage, generic over
//! the dimension and the storage: [`SVector`](nalgebra::SVector),
//! `DVector` (nalgebra's `alloc` or `std` feature), and their stride-1 views (`rows`,
//! `fixed_rows`, `column`, and the `_mut` variants). Views with a run-time row
//! stride are rejected by the type system (`IsContiguous`).
//!
//! When every argument has a compile-time dimension (`SVector`, `fixed_rows`,
//! …) a function runs the fixed-size path of [`crate::array`]: compiled into
//! the caller, no dispatch, no detection, length checks folded away, results
//! bit-identical to [`array::BACKEND`](crate::array::BACKEND). Otherwise it
//! runs the slice kernel of the same name in [`crate::kernels`] on
//! [`Backend::detect()`](crate::Backend::detect), bit-identical to it, with
//! the same errors (lengths are checked at run time).
//!
//! Return convention: as everywhere in the crate, every kernel returns
//! `Result<_, Error>` (see [`crate::array`]).
//!
//! ```
//! use nalgebra::{DVector, SVector};
//! let mut h = SVector::<f64, 3>::zeros();
//! let g = DVector::from_vec(vec![1.0, 2.0, 2.0]);
//! bilevel::na::storm_update(&mut h, &g, &DVector::zeros(3), 1.0).unwrap();
//! assert_eq!(bilevel::na::norm(&h), Ok(3.0));
//! ```

use nalgebra::{Dim, IsContiguous, Matrix, RawStorage, RawStorageMut, Vector};

use crate::backend::StaticExec;
use crate::error::Error;
use crate::kernels::{axpy as ax, dense as dn, dot as dt, norm as nm, project as pj, storm as st};
use crate::{Backend, Float};

/// Runs `$module::$kernel_on` on the fixed-size path when every dimension in
/// `[$D, ..]` is known at compile time, else on the detected backend (the
/// test is a constant: one branch remains).
macro_rules! route {
    ([$($d:ty),*], $m:ident::$f:ident($($a:expr),*)) => {
        if true $(&& <$d as Dim>::try_to_usize().is_some())* {
            $m::$f(StaticExec, $($a),*)
        } else {
            $m::$f(Backend::detect(), $($a),*)
        }
    };
}

/// `y ← y + a·x`. See [`crate::kernels::axpy`].
///
/// ```
/// use nalgebra::Vector3;
/// let mut y = Vector3::new(1.0f64, 1.0, 1.0);
/// bilevel::na::axpy(2.0, &Vector3::new(1.0, 0.0, -1.0), &mut y).unwrap();
/// assert_eq!(y, Vector3::new(3.0, 1.0, -1.0));
/// ```
#[inline]
pub fn axpy<T, D1, S1, D2, S2>(a: T, x: &Vector<T, D1, S1>, y: &mut Vector<T, D2, S2>) -> Result<(), Error>
where
    T: Float,
    D1: Dim,
    D2: Dim,
    S1: RawStorage<T, D1> + IsContiguous,
    S2: RawStorageMut<T, D2> + IsContiguous,
{
    route!([D1, D2], ax::axpy_on(a, x.as_slice(), y.as_mut_slice()))
}

/// Dot product `Σ a_i b_i`. See [`crate::kernels::dot`] (error bound there).
///
/// ```
/// use nalgebra::{DVector, Vector2};
/// let a = DVector::from_vec(vec![1.0f32, 2.0]);
/// assert_eq!(bilevel::na::dot(&a, &Vector2::new(3.0, 4.0)), Ok(11.0));
/// assert!(bilevel::na::dot(&a, &DVector::zeros(3)).is_err());
/// ```
#[inline]
pub fn dot<T, D1, S1, D2, S2>(a: &Vector<T, D1, S1>, b: &Vector<T, D2, S2>) -> Result<T, Error>
where
    T: Float,
    D1: Dim,
    D2: Dim,
    S1: RawStorage<T, D1> + IsContiguous,
    S2: RawStorage<T, D2> + IsContiguous,
{
    route!([D1, D2], dt::dot_on(a.as_slice(), b.as_slice()))
}

/// Sum of squares `Σ a_i²`. See [`crate::kernels::sum_sq`].
///
/// ```
/// let a = nalgebra::Vector3::new(1.0f64, 2.0, 2.0);
/// assert_eq!(bilevel::na::sum_sq(&a), Ok(9.0));
/// ```
#[inline]
pub fn sum_sq<T, D, S>(a: &Vector<T, D, S>) -> Result<T, Error>
where
    T: Float,
    D: Dim,
    S: RawStorage<T, D> + IsContiguous,
{
    route!([D], dt::sum_sq_on(a.as_slice()))
}

/// Overflow- and underflow-safe Euclidean norm (§9.2). See [`crate::kernels::norm`].
///
/// ```
/// use nalgebra::DVector;
/// let a = DVector::from_vec(vec![3e300f64, 4e300, 0.0]);
/// // The first two entries, as a stride-1 view.
/// let n = bilevel::na::norm(&a.rows(0, 2)).unwrap();
/// assert!((n / 5e300 - 1.0).abs() < 1e-15);
/// ```
#[inline]
pub fn norm<T, D, S>(a: &Vector<T, D, S>) -> Result<T, Error>
where
    T: Float,
    D: Dim,
    S: RawStorage<T, D> + IsContiguous,
{
    route!([D], nm::norm_on(a.as_slice()))
}

/// STORM update `h ← g + (1 − η)(h − g_prev)` (§9.1). See
/// [`crate::kernels::storm_update`].
///
/// ```
/// use nalgebra::Vector2;
/// let mut h = Vector2::new(1.0f64, 1.0);
/// bilevel::na::storm_update(&mut h, &Vector2::new(2.0, 2.0), &Vector2::new(0.0, 1.0), 0.5).unwrap();
/// assert_eq!(h, Vector2::new(2.5, 2.0));
/// ```
#[inline]
pub fn storm_update<T, DH, SH, DG, SG, DP, SP>(
    h: &mut Vector<T, DH, SH>,
    g: &Vector<T, DG, SG>,
    g_prev: &Vector<T, DP, SP>,
    eta: T,
) -> Result<(), Error>
where
    T: Float,
    DH: Dim,
    DG: Dim,
    DP: Dim,
    SH: RawStorageMut<T, DH> + IsContiguous,
    SG: RawStorage<T, DG> + IsContiguous,
    SP: RawStorage<T, DP> + IsContiguous,
{
    route!([DH, DG, DP], st::storm_update_on(h.as_mut_slice(), g.as_slice(), g_prev.as_slice(), eta))
}

/// Fused STORM update and step: `h ← g + (1 − η)(h − g_prev)`, then
/// `x ← x − α h` (§9.1). See [`crate::kernels::storm_step`].
///
/// ```
/// use nalgebra::{DVector, Vector2};
/// let (mut h, mut x) = (Vector2::zeros(), DVector::from_element(2, 1.0f64));
/// bilevel::na::storm_step(&mut h, &mut x, &Vector2::new(1.0, 2.0), &Vector2::zeros(), 1.0, 0.5)
///     .unwrap();
/// assert_eq!(x.as_slice(), &[0.5, 0.0]);
/// ```
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn storm_step<T, DH, SH, DX, SX, DG, SG, DP, SP>(
    h: &mut Vector<T, DH, SH>,
    x: &mut Vector<T, DX, SX>,
    g: &Vector<T, DG, SG>,
    g_prev: &Vector<T, DP, SP>,
    eta: T,
    alpha: T,
) -> Result<(), Error>
where
    T: Float,
    DH: Dim,
    DX: Dim,
    DG: Dim,
    DP: Dim,
    SH: RawStorageMut<T, DH> + IsContiguous,
    SX: RawStorageMut<T, DX> + IsContiguous,
    SG: RawStorage<T, DG> + IsContiguous,
    SP: RawStorage<T, DP> + IsContiguous,
{
    route!(
        [DH, DX, DG, DP],
        st::storm_step_on(h.as_mut_slice(), x.as_mut_slice(), g.as_slice(), g_prev.as_slice(), eta, alpha)
    )
}

/// Exponential moving average `h ← ρ h + (1 − ρ) g`. See
/// [`crate::kernels::ema_update`].
///
/// ```
/// let mut h = nalgebra::Vector1::new(4.0f32);
/// bilevel::na::ema_update(&mut h, &nalgebra::Vector1::new(0.0), 0.75).unwrap();
/// assert_eq!(h[0], 3.0);
/// ```
#[inline]
pub fn ema_update<T, DH, SH, DG, SG>(
    h: &mut Vector<T, DH, SH>,
    g: &Vector<T, DG, SG>,
    rho: T,
) -> Result<(), Error>
where
    T: Float,
    DH: Dim,
    DG: Dim,
    SH: RawStorageMut<T, DH> + IsContiguous,
    SG: RawStorage<T, DG> + IsContiguous,
{
    route!([DH, DG], st::ema_update_on(h.as_mut_slice(), g.as_slice(), rho))
}

/// Projects `v` onto the ball `{‖v‖ ≤ r}` in place, returning the factor
/// applied (§9.2). See [`crate::kernels::project_ball`].
///
/// ```
/// use nalgebra::DVector;
/// let mut v = DVector::from_vec(vec![3.0f64, 4.0, 100.0]);
/// // Project only the first two entries, through a mutable view.
/// let s = bilevel::na::project_ball(&mut v.rows_mut(0, 2), 1.0).unwrap();
/// assert_eq!(s, 0.2);
/// assert_eq!(v[2], 100.0);
/// ```
#[inline]
pub fn project_ball<T, D, S>(v: &mut Vector<T, D, S>, r: T) -> Result<T, Error>
where
    T: Float,
    D: Dim,
    S: RawStorageMut<T, D> + IsContiguous,
{
    route!([D], pj::project_ball_on(v.as_mut_slice(), r))
}

/// Projects `v` onto the ball of radius `r` centred at `center` (§9.2). See
/// [`crate::kernels::project_ball_centered`].
///
/// ```
/// use nalgebra::Vector2;
/// let mut v = Vector2::new(1.0f64, 3.0);
/// bilevel::na::project_ball_centered(&mut v, &Vector2::new(1.0, 1.0), 1.0).unwrap();
/// assert_eq!(v, Vector2::new(1.0, 2.0));
/// ```
#[inline]
pub fn project_ball_centered<T, D, S, DC, SC>(
    v: &mut Vector<T, D, S>,
    center: &Vector<T, DC, SC>,
    r: T,
) -> Result<T, Error>
where
    T: Float,
    D: Dim,
    DC: Dim,
    S: RawStorageMut<T, D> + IsContiguous,
    SC: RawStorage<T, DC> + IsContiguous,
{
    route!([D, DC], pj::project_ball_centered_on(v.as_mut_slice(), center.as_slice(), r))
}

/// FdeHBO's fused step and projection `v ← Π_r(v − λ h)` (§9.2). See
/// [`crate::kernels::step_project`].
///
/// ```
/// use nalgebra::Vector2;
/// let mut v = Vector2::new(0.0f64, 0.0);
/// let s = bilevel::na::step_project(&mut v, &Vector2::new(-3.0, -4.0), 1.0, 2.5).unwrap();
/// assert_eq!((s, v), (0.5, Vector2::new(1.5, 2.0)));
/// ```
#[inline]
pub fn step_project<T, D, S, DH, SH>(
    v: &mut Vector<T, D, S>,
    h: &Vector<T, DH, SH>,
    lambda: T,
    r: T,
) -> Result<T, Error>
where
    T: Float,
    D: Dim,
    DH: Dim,
    S: RawStorageMut<T, D> + IsContiguous,
    SH: RawStorage<T, DH> + IsContiguous,
{
    route!([D, DH], pj::step_project_on(v.as_mut_slice(), h.as_slice(), lambda, r))
}

/// `y ← αAx + βy` for a nalgebra matrix with contiguous (column-major)
/// storage: [`crate::kernels::gemv_t`] on the storage, whose rows are `A`'s
/// columns. Bit-identical on every backend (elementwise accumulation).
///
/// Errors: [`Error::LengthMismatch`] if `x.len() != ncols` or
/// `y.len() != nrows`; [`Error::NonFinite`] for `alpha`, `beta`.
///
/// ```
/// use nalgebra::{Matrix2, Vector2};
/// let a = Matrix2::new(1.0f64, 2.0, 3.0, 4.0);
/// let mut y = Vector2::zeros();
/// bilevel::na::gemv(1.0, &a, &Vector2::new(1.0, 1.0), 0.0, &mut y).unwrap();
/// assert_eq!(y, Vector2::new(3.0, 7.0));
/// ```
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn gemv<T, R, C, SA, DX, SX, DY, SY>(
    alpha: T,
    a: &Matrix<T, R, C, SA>,
    x: &Vector<T, DX, SX>,
    beta: T,
    y: &mut Vector<T, DY, SY>,
) -> Result<(), Error>
where
    T: Float,
    R: Dim,
    C: Dim,
    DX: Dim,
    DY: Dim,
    SA: RawStorage<T, R, C> + IsContiguous,
    SX: RawStorage<T, DX> + IsContiguous,
    SY: RawStorageMut<T, DY> + IsContiguous,
{
    check_shape(a.nrows(), a.ncols(), y.len(), x.len())?;
    route!([R, C, DX, DY], dn::gemv_t_on(alpha, a.as_slice(), x.as_slice(), beta, y.as_mut_slice()))
}

/// `y ← αAᵀx + βy` for a nalgebra matrix with contiguous (column-major)
/// storage: [`crate::kernels::gemv`] on the storage (each entry a dot product
/// of a column of `A` with `x`).
///
/// Errors: [`Error::LengthMismatch`] if `x.len() != nrows` or
/// `y.len() != ncols`; [`Error::NonFinite`] for `alpha`, `beta`.
///
/// ```
/// use nalgebra::{Matrix2, Vector2};
/// let a = Matrix2::new(1.0f64, 2.0, 3.0, 4.0);
/// let mut y = Vector2::zeros();
/// bilevel::na::gemv_t(1.0, &a, &Vector2::new(1.0, 1.0), 0.0, &mut y).unwrap();
/// assert_eq!(y, Vector2::new(4.0, 6.0));
/// ```
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn gemv_t<T, R, C, SA, DX, SX, DY, SY>(
    alpha: T,
    a: &Matrix<T, R, C, SA>,
    x: &Vector<T, DX, SX>,
    beta: T,
    y: &mut Vector<T, DY, SY>,
) -> Result<(), Error>
where
    T: Float,
    R: Dim,
    C: Dim,
    DX: Dim,
    DY: Dim,
    SA: RawStorage<T, R, C> + IsContiguous,
    SX: RawStorage<T, DX> + IsContiguous,
    SY: RawStorageMut<T, DY> + IsContiguous,
{
    check_shape(a.nrows(), a.ncols(), x.len(), y.len())?;
    route!([R, C, DX, DY], dn::gemv_on(alpha, a.as_slice(), x.as_slice(), beta, y.as_mut_slice()))
}

/// Checks `rows == len_rows` (`y` for `gemv`) and `cols == len_cols`.
#[inline]
fn check_shape(rows: usize, cols: usize, len_rows: usize, len_cols: usize) -> Result<(), Error> {
    crate::error::check_len("rows", rows, len_rows)?;
    crate::error::check_len("cols", cols, len_cols)
}
