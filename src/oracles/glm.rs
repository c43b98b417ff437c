//! Generalized-linear structure of a finite sum (ALGORITHMS.md §9.4 "Scalar
//! memory", §10.2), for SABA with scalar SAGA tables
//! ([`SabaGlm`](crate::solvers::SabaGlm)).

use super::Problem;
use crate::Float;

/// A finite-sum problem whose per-sample stochastic parts are a feature row
/// times one scalar, and whose remaining parts are deterministic:
///
/// ```text
/// ∇_y g_i(x, y)       = s_i(y) a_i + R_y(x, y)
/// ∇²_yy g_i(x, y) v   = u_i(y, v) a_i + R_v(x, y, v)
/// ∇²_xy g(x, y) v     = R_x(x, y, v)              (no per-sample part)
/// ∇_y f_j(x, y)       = t_j(y) b_j ,   ∇_x f = F_x(x, y)
/// ```
///
/// with `g = (1/n) Σ_i g_i` and `f = (1/m) Σ_j f_j` over single samples.
/// Binary GLMs with a regularizer that depends on `x` (the per-feature
/// regularization problem of §10.2) have this form. A SAGA table then needs one
/// scalar per sample instead of a row of length `q`.
///
/// Methods take indices the caller has checked (`i < glm_n_inner()`,
/// `j < glm_n_outer()`) and buffers of the problem's dimensions; on anything
/// else they return NaN or fill the outputs with NaN.
///
/// ```
/// use bilevel::oracles::Glm;
/// use bilevel_problems::logistic::{BinaryData, LogisticHyper};
/// let d = BinaryData::new(&[1.0f64, 2.0, -1.0, 0.5], &[1.0, -1.0], 2)?;
/// let pb = LogisticHyper::new(d, d, 1, 1)?;
/// assert_eq!((pb.glm_n_inner(), pb.glm_n_outer()), (2, 2));
/// assert_eq!(pb.glm_inner_row(1), &[-1.0, 0.5]);
/// let (s, u) = pb.glm_inner_coefs(&[0.0, 0.0], &[0.0, 0.0], 0);
/// assert_eq!((s, u), (-0.5, 0.0)); // ℓ'(0) = −½; v = 0
/// # Ok::<(), bilevel::Error>(())
/// ```
pub trait Glm<T: Float>: Problem<T> {
    /// Number `n` of inner samples.
    fn glm_n_inner(&self) -> usize;
    /// Number `m` of outer samples.
    fn glm_n_outer(&self) -> usize;
    /// Feature row `a_i` (length `dim_y()`).
    fn glm_inner_row(&self, i: usize) -> &[T];
    /// Feature row `b_j` (length `dim_y()`).
    fn glm_outer_row(&self, j: usize) -> &[T];
    /// `(s_i(y), u_i(y, v))`.
    fn glm_inner_coefs(&self, y: &[T], v: &[T], i: usize) -> (T, T);
    /// `t_j(y)`.
    fn glm_outer_coef(&self, y: &[T], j: usize) -> T;
    /// The deterministic parts: `ry ← R_y(x, y)`, `rv ← R_v(x, y, v)`,
    /// `rx ← R_x(x, y, v) + F_x(x, y)` (the whole `x` direction).
    fn glm_exact(&self, x: &[T], y: &[T], v: &[T], ry: &mut [T], rv: &mut [T], rx: &mut [T]);
}
