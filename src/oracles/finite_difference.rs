//! Second-order products from first-order oracles by central finite
//! differences (ALGORITHMS.md §9.3; FdeHBO eqs 9 and 11).

use core::cell::RefCell;

use rand_core::Rng;

use super::{FiniteSum, FirstOrder, Problem, SecondOrder};
use crate::Float;
use crate::backend::Backend;
use crate::kernels::Delta;

/// Wraps a [`FirstOrder`] problem and provides [`SecondOrder`] products by
/// central differences of its gradients, on the SAME minibatch at `y ± d v`
/// (common random numbers, §6):
/// `∇²_yy g · v ≈ [∇_y g(y+dv) − ∇_y g(y−dv)]/(2d)`,
/// `∇²_xy g · v ≈ [∇_x g(y+dv) − ∇_x g(y−dv)]/(2d)`.
///
/// This is how SOBA and FMBO run on problems without second-order oracles,
/// and what [`FdeHbo`](crate::solvers::FdeHbo) is made of. Each product costs
/// [`Delta::oracle_calls`] gradient calls.
///
/// The scratch buffer (length [`FiniteDifference::scratch_len`]) is borrowed
/// for the adapter's lifetime; the trait methods take `&self`, so it sits in a
/// `RefCell`. The products never allocate. If a product cannot be formed (a
/// non-finite `y` or `v`, a nested call), its outputs are filled with NaN, so
/// a solver reports [`Error::Diverged`](crate::Error::Diverged) instead of
/// using garbage.
///
/// ```
/// use bilevel::kernels::Delta;
/// use bilevel::oracles::{FiniteDifference, FirstOrder, Problem, SecondOrder};
/// # struct Quad;
/// # impl Problem<f64> for Quad {
/// #     type Sample = ();
/// #     fn dim_x(&self) -> usize { 1 }
/// #     fn dim_y(&self) -> usize { 1 }
/// #     fn sample_inner<R: rand_core::Rng + ?Sized>(&self, _: &mut R) {}
/// #     fn sample_outer<R: rand_core::Rng + ?Sized>(&self, _: &mut R) {}
/// # }
/// # impl FirstOrder<f64> for Quad {
/// #     fn grad_g(&self, x: &[f64], y: &[f64], _: &(), gx: Option<&mut [f64]>, gy: Option<&mut [f64]>) {
/// #         if let Some(gx) = gx { gx[0] = -y[0]; }
/// #         if let Some(gy) = gy { gy[0] = 2.0 * y[0] - x[0]; }
/// #     }
/// #     fn grad_f(&self, x: &[f64], y: &[f64], _: &(), fx: Option<&mut [f64]>, fy: Option<&mut [f64]>) {
/// #         if let Some(fx) = fx { fx[0] = 0.1 * x[0]; }
/// #         if let Some(fy) = fy { fy[0] = y[0] - 1.0; }
/// #     }
/// # }
/// // `Quad` is the 1-d quadratic of the `oracles` module docs (g = y² − x y),
/// // with first-order oracles only.
/// let mut scratch = [0.0; FiniteDifference::<Quad, f64>::scratch_len(1, 1, Delta::Relative)];
/// let fd = FiniteDifference::new(&Quad, Delta::Relative, &mut scratch);
/// let (mut hv, mut jv) = ([0.0], [0.0]);
/// fd.hvp_jvp_g(&[1.0], &[0.5], &[0.25], &(), Some(&mut hv), Some(&mut jv));
/// assert_eq!((hv, jv), ([0.5], [-0.25])); // A v = 2v, −Bᵀv = −v: exact for a quadratic
/// ```
pub struct FiniteDifference<'a, P, T> {
    problem: &'a P,
    delta: Delta<T>,
    backend: Backend,
    scratch: RefCell<&'a mut [T]>,
}

impl<'a, P, T: Float> FiniteDifference<'a, P, T> {
    /// Scratch length for a problem with dimensions `(p, q)`:
    /// [`Delta::scratch_len`]`(q, p + q)`.
    ///
    /// ```
    /// use bilevel::{kernels::Delta, oracles::FiniteDifference};
    /// assert_eq!(FiniteDifference::<(), f64>::scratch_len(2, 3, Delta::Relative), 8);
    /// ```
    pub const fn scratch_len(p: usize, q: usize, delta: Delta<T>) -> usize {
        delta.scratch_len(q, p.saturating_add(q))
    }

    /// Wraps `problem`, using `scratch` for the perturbed points and the
    /// gradients at them (at least [`Self::scratch_len`] long; a shorter
    /// buffer makes every product NaN).
    pub fn new(problem: &'a P, delta: Delta<T>, scratch: &'a mut [T]) -> Self {
        FiniteDifference { problem, delta, backend: Backend::detect(), scratch: RefCell::new(scratch) }
    }

    /// The same adapter on an explicit backend (for bit-exact reproducibility).
    ///
    /// Errors: [`Error::BackendUnavailable`](crate::Error::BackendUnavailable).
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, crate::Error> {
        if !backend.is_available() {
            return Err(crate::Error::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(self)
    }

    /// The wrapped problem.
    pub fn problem(&self) -> &'a P {
        self.problem
    }
}

impl<P: Problem<T>, T: Float> Problem<T> for FiniteDifference<'_, P, T> {
    type Sample = P::Sample;
    fn dim_x(&self) -> usize {
        self.problem.dim_x()
    }
    fn dim_y(&self) -> usize {
        self.problem.dim_y()
    }
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Sample {
        self.problem.sample_inner(rng)
    }
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Sample {
        self.problem.sample_outer(rng)
    }
}

impl<P: FirstOrder<T>, T: Float> FirstOrder<T> for FiniteDifference<'_, P, T> {
    fn grad_g(&self, x: &[T], y: &[T], s: &Self::Sample, gx: Option<&mut [T]>, gy: Option<&mut [T]>) {
        self.problem.grad_g(x, y, s, gx, gy)
    }
    fn grad_f(&self, x: &[T], y: &[T], s: &Self::Sample, fx: Option<&mut [T]>, fy: Option<&mut [T]>) {
        self.problem.grad_f(x, y, s, fx, fy)
    }
}

impl<P: FirstOrder<T>, T: Float> SecondOrder<T> for FiniteDifference<'_, P, T> {
    fn hvp_jvp_g(
        &self,
        x: &[T],
        y: &[T],
        v: &[T],
        s: &Self::Sample,
        hv: Option<&mut [T]>,
        jv: Option<&mut [T]>,
    ) {
        let mut empty_a: [T; 0] = [];
        let mut empty_b: [T; 0] = [];
        let jv = jv.unwrap_or(&mut empty_a);
        let hv = hv.unwrap_or(&mut empty_b);
        let ok = match self.scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let grad = |pt: &[T], gx: &mut [T], gy: &mut [T]| {
                    let gx = if gx.is_empty() { None } else { Some(gx) };
                    let gy = if gy.is_empty() { None } else { Some(gy) };
                    self.problem.grad_g(x, pt, s, gx, gy);
                };
                self.backend.central_pair(grad, y, v, self.delta, &mut scratch, jv, hv).is_ok()
            }
            Err(_) => false,
        };
        if !ok {
            jv.fill(T::NAN_T);
            hv.fill(T::NAN_T);
        }
    }
}

impl<P: FiniteSum<T>, T: Float> FiniteSum<T> for FiniteDifference<'_, P, T> {
    fn n_inner(&self) -> usize {
        self.problem.n_inner()
    }
    fn n_outer(&self) -> usize {
        self.problem.n_outer()
    }
    fn inner_batch(&self, i: usize) -> Self::Sample {
        self.problem.inner_batch(i)
    }
    fn outer_batch(&self, j: usize) -> Self::Sample {
        self.problem.outer_batch(j)
    }
    fn inner_weight(&self, i: usize) -> T {
        self.problem.inner_weight(i)
    }
    fn outer_weight(&self, j: usize) -> T {
        self.problem.outer_weight(j)
    }
}
