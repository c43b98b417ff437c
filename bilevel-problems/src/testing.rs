//! Problem wrappers for robustness tests and fuzzing: an oracle that
//! misbehaves once, at a chosen call, to check that solvers report it with a
//! typed error and change nothing.

use core::cell::Cell;

use bilevel::Float;
use bilevel::oracles::{FiniteSum, FirstOrder, Glm, Problem, SecondOrder};
use rand_core::Rng;

/// A problem whose oracle call number `at` (counting every oracle and GLM
/// coefficient call) returns `value` in every output.
pub struct Poisoned<'a, P, T> {
    inner: &'a P,
    calls: Cell<u64>,
    at: u64,
    value: T,
}

impl<'a, P, T: Float> Poisoned<'a, P, T> {
    /// `inner` with call number `at` (from 0) answering `value`.
    ///
    /// ```
    /// use bilevel::oracles::FirstOrder;
    /// use bilevel::quadratic::Quadratic;
    /// use bilevel_problems::testing::Poisoned;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let bad = Poisoned::new(&pb, 1, f64::NAN);
    /// let mut g = [0.0];
    /// bad.grad_g(&[1.0], &[1.0], &0, None, Some(&mut g));
    /// assert!(g[0].is_finite()); // call 0
    /// bad.grad_g(&[1.0], &[1.0], &0, None, Some(&mut g));
    /// assert!(g[0].is_nan()); // call 1
    /// assert_eq!(bad.calls(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new(inner: &'a P, at: u64, value: T) -> Self {
        Poisoned { inner, calls: Cell::new(0), at, value }
    }
    /// Oracle calls made so far.
    ///
    /// ```
    /// let pb = bilevel::quadratic::Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// assert_eq!(bilevel_problems::testing::Poisoned::new(&pb, 0, 0.0).calls(), 0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }

    fn hit(&self) -> bool {
        let c = self.calls.get();
        self.calls.set(c + 1);
        c == self.at
    }
    fn spoil(&self, outs: [Option<&mut [T]>; 2]) {
        if self.hit() {
            outs.into_iter().flatten().for_each(|o| o.fill(self.value));
        }
    }
}

impl<P: Problem<T>, T: Float> Problem<T> for Poisoned<'_, P, T> {
    type Sample = P::Sample;
    fn dim_x(&self) -> usize {
        self.inner.dim_x()
    }
    fn dim_y(&self) -> usize {
        self.inner.dim_y()
    }
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> P::Sample {
        self.inner.sample_inner(rng)
    }
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> P::Sample {
        self.inner.sample_outer(rng)
    }
}

impl<P: FirstOrder<T>, T: Float> FirstOrder<T> for Poisoned<'_, P, T> {
    fn grad_g(&self, x: &[T], y: &[T], s: &P::Sample, mut gx: Option<&mut [T]>, mut gy: Option<&mut [T]>) {
        self.inner.grad_g(x, y, s, gx.as_deref_mut(), gy.as_deref_mut());
        self.spoil([gx, gy]);
    }
    fn grad_f(&self, x: &[T], y: &[T], s: &P::Sample, mut fx: Option<&mut [T]>, mut fy: Option<&mut [T]>) {
        self.inner.grad_f(x, y, s, fx.as_deref_mut(), fy.as_deref_mut());
        self.spoil([fx, fy]);
    }
}

impl<P: SecondOrder<T>, T: Float> SecondOrder<T> for Poisoned<'_, P, T> {
    fn hvp_jvp_g(
        &self,
        x: &[T],
        y: &[T],
        v: &[T],
        s: &P::Sample,
        mut hv: Option<&mut [T]>,
        mut jv: Option<&mut [T]>,
    ) {
        self.inner.hvp_jvp_g(x, y, v, s, hv.as_deref_mut(), jv.as_deref_mut());
        self.spoil([hv, jv]);
    }
}

impl<P: FiniteSum<T>, T: Float> FiniteSum<T> for Poisoned<'_, P, T> {
    fn n_inner(&self) -> usize {
        self.inner.n_inner()
    }
    fn n_outer(&self) -> usize {
        self.inner.n_outer()
    }
    fn inner_batch(&self, i: usize) -> P::Sample {
        self.inner.inner_batch(i)
    }
    fn outer_batch(&self, j: usize) -> P::Sample {
        self.inner.outer_batch(j)
    }
    fn inner_weight(&self, i: usize) -> T {
        self.inner.inner_weight(i)
    }
    fn outer_weight(&self, j: usize) -> T {
        self.inner.outer_weight(j)
    }
}

impl<P: Glm<T>, T: Float> Glm<T> for Poisoned<'_, P, T> {
    fn glm_n_inner(&self) -> usize {
        self.inner.glm_n_inner()
    }
    fn glm_n_outer(&self) -> usize {
        self.inner.glm_n_outer()
    }
    fn glm_inner_row(&self, i: usize) -> &[T] {
        self.inner.glm_inner_row(i)
    }
    fn glm_outer_row(&self, j: usize) -> &[T] {
        self.inner.glm_outer_row(j)
    }
    fn glm_inner_coefs(&self, y: &[T], v: &[T], i: usize) -> (T, T) {
        let c = self.inner.glm_inner_coefs(y, v, i);
        if self.hit() { (self.value, c.1) } else { c }
    }
    fn glm_outer_coef(&self, y: &[T], j: usize) -> T {
        let c = self.inner.glm_outer_coef(y, j);
        if self.hit() { self.value } else { c }
    }
    fn glm_exact(&self, x: &[T], y: &[T], v: &[T], ry: &mut [T], rv: &mut [T], rx: &mut [T]) {
        self.inner.glm_exact(x, y, v, ry, rv, rx);
        self.spoil([Some(ry), Some(rx)]);
    }
}
