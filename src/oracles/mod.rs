//! The user-facing problem interface: small traits for the oracles of the
//! inner loss `g(x, y)` and the outer loss `f(x, y)` (ALGORITHMS.md §0, §8).
//!
//! - [`Problem`]: dimensions, and how to draw a replayable minibatch.
//! - [`FirstOrder`]: `∇_x g`, `∇_y g`, `∇_x f`, `∇_y f` on a given minibatch.
//! - [`SecondOrder`]: `∇²_yy g · v` and `∇²_xy g · v` on a given minibatch
//!   (SOBA, SABA, FMBO), and [`SecondOrder::inner_eval`], which gives any
//!   subset of the inner quantities in one pass over the minibatch
//!   ([`InnerEval`]). A problem with first-order oracles only gets them by
//!   central finite differences through [`FiniteDifference`].
//! - [`FiniteSum`]: the number of inner and outer minibatches and how to name
//!   one, for SABA's memory tables and epoch sampling.
//!
//! Every oracle writes into caller-provided buffers and must not allocate.
//! The minibatch is an explicit, `Copy` argument because STORM-style methods
//! evaluate the same sample at two points. Randomness comes from
//! [`rand_core::Rng`] (the 0.10 name of `RngCore`).
//!
//! A one-dimensional quadratic problem (ALGORITHMS.md §10.1 with
//! `A = 2, B = 1, b = 1, ρ = 0.1`), noise-free:
//!
//! ```
//! use bilevel::oracles::{FirstOrder, Problem, SecondOrder};
//!
//! struct Quad;
//! impl Problem<f64> for Quad {
//!     type Sample = ();
//!     fn dim_x(&self) -> usize { 1 }
//!     fn dim_y(&self) -> usize { 1 }
//!     fn sample_inner<R: rand_core::Rng + ?Sized>(&self, _: &mut R) {}
//!     fn sample_outer<R: rand_core::Rng + ?Sized>(&self, _: &mut R) {}
//! }
//! impl FirstOrder<f64> for Quad {
//!     // g = y² − x y
//!     fn grad_g(&self, x: &[f64], y: &[f64], _: &(), gx: Option<&mut [f64]>, gy: Option<&mut [f64]>) {
//!         if let Some(gx) = gx { gx[0] = -y[0]; }
//!         if let Some(gy) = gy { gy[0] = 2.0 * y[0] - x[0]; }
//!     }
//!     // f = ½(y − 1)² + 0.05 x²
//!     fn grad_f(&self, x: &[f64], y: &[f64], _: &(), fx: Option<&mut [f64]>, fy: Option<&mut [f64]>) {
//!         if let Some(fx) = fx { fx[0] = 0.1 * x[0]; }
//!         if let Some(fy) = fy { fy[0] = y[0] - 1.0; }
//!     }
//! }
//! impl SecondOrder<f64> for Quad {
//!     fn hvp_jvp_g(&self, _: &[f64], _: &[f64], v: &[f64], _: &(),
//!                  hv: Option<&mut [f64]>, jv: Option<&mut [f64]>) {
//!         if let Some(hv) = hv { hv[0] = 2.0 * v[0]; }
//!         if let Some(jv) = jv { jv[0] = -v[0]; }
//!     }
//! }
//!
//! // SOBA's hypergradient estimate ∇_x f + J v at x = 1, y* = 1/2, v*_S = 1/4.
//! let (x, y, v) = ([1.0], [0.5], [0.25]);
//! let (mut fx, mut jv) = ([0.0], [0.0]);
//! Quad.grad_f(&x, &y, &(), Some(&mut fx), None);
//! Quad.hvp_jvp_g(&x, &y, &v, &(), None, Some(&mut jv));
//! assert!((fx[0] + jv[0] - (-0.15)).abs() < 1e-15);
//! ```

use crate::Float;
use rand_core::Rng;

mod finite_difference;
mod glm;
pub use finite_difference::FiniteDifference;
pub use glm::Glm;

/// Dimensions of a bilevel problem and how to draw its minibatches.
///
/// See the [module docs](self) for a complete example.
pub trait Problem<T: Float> {
    /// A replayable description of one minibatch: an index, a range, a seed.
    /// Evaluating an oracle twice on the same value must use the same data.
    type Sample: Copy;

    /// Dimension `p` of the outer variable `x`.
    fn dim_x(&self) -> usize;
    /// Dimension `q` of the inner variable `y`.
    fn dim_y(&self) -> usize;
    /// Draws a fresh minibatch `ζ` of the inner loss `g`.
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Sample;
    /// Draws a fresh minibatch `ξ` of the outer loss `f`.
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Sample;
}

/// First-order stochastic oracles of `g` and `f`.
///
/// Each method writes the requested gradients (the `Some` outputs, of length
/// `dim_x()` for `x`-gradients and `dim_y()` for `y`-gradients) evaluated on
/// minibatch `s`. Solvers always pass buffers of the right length.
pub trait FirstOrder<T: Float>: Problem<T> {
    /// `gx ← ∇_x g(x, y; s)`, `gy ← ∇_y g(x, y; s)`.
    fn grad_g(&self, x: &[T], y: &[T], s: &Self::Sample, gx: Option<&mut [T]>, gy: Option<&mut [T]>);
    /// `fx ← ∇_x f(x, y; s)`, `fy ← ∇_y f(x, y; s)`.
    fn grad_f(&self, x: &[T], y: &[T], s: &Self::Sample, fx: Option<&mut [T]>, fy: Option<&mut [T]>);
}

/// The inner quantities one [`SecondOrder::inner_eval`] call writes: any
/// subset of `∇_y g`, `∇_x g`, `∇²_yy g · v` and `∇²_xy g · v` at one point
/// on one minibatch. A `None` field is not computed.
///
/// ```
/// let mut gy = [0.0f64; 2];
/// let out = bilevel::oracles::InnerEval { grad_y: Some(&mut gy[..]), ..Default::default() };
/// assert!(out.grad_x.is_none() && out.hvp.is_none() && out.jvp.is_none());
/// ```
#[derive(Debug, Default)]
pub struct InnerEval<'a, T> {
    /// `∇_y g(x, y; s)`, length `q`.
    pub grad_y: Option<&'a mut [T]>,
    /// `∇_x g(x, y; s)`, length `p`.
    pub grad_x: Option<&'a mut [T]>,
    /// `∇²_yy g(x, y; s) · v`, length `q`.
    pub hvp: Option<&'a mut [T]>,
    /// `∇²_xy g(x, y; s) · v`, length `p`.
    pub jvp: Option<&'a mut [T]>,
}

/// Second-order products of the inner loss on a minibatch.
pub trait SecondOrder<T: Float>: FirstOrder<T> {
    /// `hv ← ∇²_yy g(x, y; s) · v` (length `q`) and
    /// `jv ← ∇²_xy g(x, y; s) · v` (length `p`).
    fn hvp_jvp_g(
        &self,
        x: &[T],
        y: &[T],
        v: &[T],
        s: &Self::Sample,
        hv: Option<&mut [T]>,
        jv: Option<&mut [T]>,
    );

    /// Every requested inner quantity at `(x, y, v)` on minibatch `s`, in one
    /// call: SOBA and SABA ask for `∇_y g`, `H v` and `J v` here, so a problem
    /// whose data dominates the cost (per-sample matrices, GLM rows in DRAM)
    /// reads each sample once instead of twice.
    ///
    /// The default makes the split calls ([`FirstOrder::grad_g`], then
    /// [`SecondOrder::hvp_jvp_g`]); override it with a one-pass version. It
    /// must write exactly what the split calls would (the crate's problems
    /// match them bit for bit).
    ///
    /// ```
    /// use bilevel::oracles::{InnerEval, SecondOrder};
    /// use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut gy, mut hv, mut jv) = ([0.0], [0.0], [0.0]);
    /// let out = InnerEval { grad_y: Some(&mut gy[..]), grad_x: None, hvp: Some(&mut hv[..]), jvp: Some(&mut jv[..]) };
    /// pb.inner_eval(&[1.0], &[0.5], &[0.25], &0, out);
    /// assert_eq!((gy, hv, jv), ([0.0], [0.5], [-0.25])); // A y − B x, A v, −Bᵀ v
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    fn inner_eval(&self, x: &[T], y: &[T], v: &[T], s: &Self::Sample, out: InnerEval<'_, T>) {
        split_inner_eval(self, x, y, v, s, out);
    }
}

/// [`SecondOrder::inner_eval`] by the split calls: [`FirstOrder::grad_g`]
/// for the gradients, then [`SecondOrder::hvp_jvp_g`] for the products (each
/// only if one of its outputs is requested). The default of `inner_eval`, and
/// what a one-pass override calls for the outputs it does not fuse.
///
/// ```
/// use bilevel::oracles::{InnerEval, split_inner_eval};
/// use bilevel::quadratic::Quadratic;
/// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
/// let mut jv = [0.0];
/// split_inner_eval(&pb, &[1.0], &[0.5], &[0.25], &0, InnerEval { jvp: Some(&mut jv[..]), ..Default::default() });
/// assert_eq!(jv, [-0.25]);
/// # Ok::<(), bilevel::Error>(())
/// ```
pub fn split_inner_eval<T: Float, P: SecondOrder<T> + ?Sized>(
    problem: &P,
    x: &[T],
    y: &[T],
    v: &[T],
    s: &P::Sample,
    out: InnerEval<'_, T>,
) {
    let InnerEval { grad_y, grad_x, hvp, jvp } = out;
    if grad_y.is_some() || grad_x.is_some() {
        problem.grad_g(x, y, s, grad_x, grad_y);
    }
    if hvp.is_some() || jvp.is_some() {
        problem.hvp_jvp_g(x, y, v, s, hvp, jvp);
    }
}

/// A finite-sum problem `g = (1/n) Σ_i g_i`, `f = (1/m) Σ_j f_j`, where each
/// term is one minibatch (SABA's table rows; ALGORITHMS.md §3, §9.4).
pub trait FiniteSum<T: Float>: Problem<T> {
    /// Number `n` of inner minibatches (rows of the inner tables).
    fn n_inner(&self) -> usize;
    /// Number `m` of outer minibatches.
    fn n_outer(&self) -> usize;
    /// The minibatch of inner row `i < n_inner()`.
    fn inner_batch(&self, i: usize) -> Self::Sample;
    /// The minibatch of outer row `j < n_outer()`.
    fn outer_batch(&self, j: usize) -> Self::Sample;
    /// Weight of inner row `i` in the full mean (`1/n` for equal batches;
    /// `|batch_i| / N` when the last batch is smaller).
    fn inner_weight(&self, i: usize) -> T {
        let _ = i;
        T::ONE / T::from_usize(self.n_inner())
    }
    /// Weight of outer row `j` in the full mean.
    fn outer_weight(&self, j: usize) -> T {
        let _ = j;
        T::ONE / T::from_usize(self.n_outer())
    }
}

/// Fills every requested output with NaN: how an oracle, which cannot
/// return an error, reports bad arguments (a wrong buffer length, an index
/// out of range). Solvers then report [`Error::Diverged`](crate::Error::Diverged).
///
/// ```
/// let mut g = [0.0f64; 2];
/// bilevel::oracles::poison([Some(&mut g[..]), None]);
/// assert!(g.iter().all(|v| v.is_nan()));
/// ```
#[inline]
pub fn poison<T: Float>(outs: [Option<&mut [T]>; 2]) {
    for o in outs.into_iter().flatten() {
        o.fill(T::NAN_T);
    }
}

/// `true` when the optional output buffer is absent or has length `n`: the
/// check an oracle makes before writing.
///
/// ```
/// use bilevel::oracles::fits;
/// let mut g = [0.0f64; 2];
/// assert!(fits(&Some(&mut g[..]), 2) && fits::<f64>(&None, 5) && !fits(&Some(&mut g[..]), 3));
/// ```
#[inline]
pub fn fits<T>(o: &Option<&mut [T]>, n: usize) -> bool {
    o.as_ref().is_none_or(|o| o.len() == n)
}

/// Draws a uniform index in `0..n` by Lemire's multiply-shift rejection
/// method, without bias. Returns 0 when `n <= 1` (solvers reject empty
/// problems at construction).
///
/// ```
/// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
/// for _ in 0..100 {
///     assert!(bilevel::oracles::uniform_index(&mut rng, 10) < 10);
/// }
/// ```
#[inline]
pub fn uniform_index<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let n64 = n as u64;
    let threshold = n64.wrapping_neg() % n64;
    loop {
        let m = (rng.next_u64() as u128) * (n64 as u128);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}
