//! The quadratic bilevel problem with closed forms (ALGORITHMS.md §10.1):
//!
//! ```text
//! g(x, y) = ½ yᵀA y − yᵀB x                 A ∈ R^{q×q} SPD, B ∈ R^{q×p}
//! f(x, y) = ½‖y − b‖² + (ρ/2)‖x‖²
//! ```
//!
//! Data is borrowed (`A` and `B` row-major), so the problem works without
//! `alloc`. Oracles are exact (`HVP = A v`, `JVP = −Bᵀ v`), optionally with
//! additive Gaussian noise `σ_g ζ` on every `g`-oracle output and `σ_f ξ` on
//! every `f`-oracle output (§10.1 "Stochastic versions"). A
//! [`Problem::Sample`] is a `u64` seed: the same seed gives the same noise, so
//! the STORM same-sample correction (§9.1) cancels it exactly. Each output
//! kind (`∇_x g`, `∇_y g`, `∇_x f`, `∇_y f`, HVP, JVP) draws from its own stream.
//!
//! Closed forms ([`Quadratic::y_star`], [`Quadratic::v_star_f`],
//! [`Quadratic::v_star_s`], [`Quadratic::hypergrad`], [`Quadratic::phi`],
//! [`Quadratic::x_star`], [`Quadratic::y_star_lambda`],
//! [`Quadratic::penalty_grad`]) use a small Cholesky factorisation on caller
//! scratch of length [`Quadratic::work_len`]; nothing allocates.
//!
//! Oracles called with a wrong buffer length fill every requested output with
//! NaN (they cannot return an error), which solvers report as divergence.
//!
//! The §10.1 scalar check (`A = 2, B = 1, b = 1, ρ = 0.1`):
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
//! let mut work = [0.0; 8];
//! let work = &mut work[..pb.work_len()];
//! let mut g = [0.0];
//! pb.hypergrad(&[1.0], &mut g, work)?;
//! assert!((g[0] + 0.15).abs() < 1e-15); // ∇Φ(1) = 0.35 − 0.5
//! pb.x_star(&mut g, work)?;
//! assert!((g[0] - 0.5 / 0.35).abs() < 1e-15);
//! # Ok::<(), bilevel::Error>(())
//! ```

use crate::error::{Error, check_len};
use crate::oracles::{
    FiniteSum, FirstOrder, InnerEval, Problem, SecondOrder, fits, poison, split_inner_eval, uniform_index,
};
use crate::random::{SplitMix64, standard_normal_pair};
use crate::{Backend, Float};
use rand_core::Rng;

// Noise stream tags, one per oracle output kind.
const TAG_GX: u64 = 1;
const TAG_GY: u64 = 2;
const TAG_FX: u64 = 3;
const TAG_FY: u64 = 4;
const TAG_HV: u64 = 5;
const TAG_JV: u64 = 6;

/// The §10.1 quadratic bilevel problem on borrowed data.
///
/// ```
/// use bilevel::oracles::{FirstOrder, Problem};
/// use bilevel::quadratic::Quadratic;
/// // q = 2, p = 1: A = diag(1, 2), B = [1; 0], b = (1, 1), ρ = 0.5.
/// let pb = Quadratic::new(&[1.0f64, 0.0, 0.0, 2.0], &[1.0, 0.0], &[1.0, 1.0], 1, 0.5)?;
/// assert_eq!((pb.dim_x(), pb.dim_y()), (1, 2));
/// let mut gy = [0.0; 2];
/// pb.grad_g(&[3.0], &[1.0, 1.0], &0, None, Some(&mut gy));
/// assert_eq!(gy, [1.0 - 3.0, 2.0]); // A y − B x
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Quadratic<'a, T> {
    a: &'a [T],
    bm: &'a [T],
    b: &'a [T],
    p: usize,
    q: usize,
    rho: T,
    sigma_g: T,
    sigma_f: T,
    /// `(n, m)` rows of the finite-sum version; `(0, 0)`: streaming.
    rows: (usize, usize),
    backend: Backend,
}

impl<'a, T: Float> Quadratic<'a, T> {
    /// The noise-free problem with `A` (`q×q`, row-major, symmetric),
    /// `B` (`q×p`, row-major), `b` (`q = b.len()`), outer dimension `p` and
    /// `ρ ≥ 0`.
    ///
    /// Errors: [`Error::Empty`] if `p` or `q` is 0; [`Error::LengthMismatch`]
    /// for `A` or `B`; [`Error::NonFinite`] for non-finite data;
    /// [`Error::InvalidParameter`] if `A` is not symmetric or has a diagonal
    /// entry `≤ 0`, or `ρ < 0`. Positive definiteness is checked by the closed
    /// forms (a failed Cholesky pivot).
    ///
    /// ```
    /// use bilevel::{Error, quadratic::Quadratic};
    /// let e = Quadratic::new(&[1.0f64, 2.0, 0.0, 1.0], &[1.0, 1.0], &[0.0, 0.0], 1, 0.1).unwrap_err();
    /// assert_eq!(e, Error::InvalidParameter { name: "A", requirement: "symmetric with a positive diagonal" });
    /// ```
    pub fn new(a: &'a [T], bm: &'a [T], b: &'a [T], p: usize, rho: T) -> Result<Self, Error> {
        let q = b.len();
        if q == 0 {
            return Err(Error::Empty { what: "b" });
        }
        if p == 0 {
            return Err(Error::Empty { what: "p" });
        }
        let qq = q
            .checked_mul(q)
            .ok_or(Error::InvalidParameter { name: "b", requirement: "q² fits in usize" })?;
        let qp = q
            .checked_mul(p)
            .ok_or(Error::InvalidParameter { name: "p", requirement: "q·p fits in usize" })?;
        check_len("A", qq, a.len())?;
        check_len("B", qp, bm.len())?;
        if a.iter().chain(bm).chain(b).any(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "data" });
        }
        for i in 0..q {
            for j in 0..i {
                if a[i * q + j] != a[j * q + i] {
                    return Err(Error::InvalidParameter {
                        name: "A",
                        requirement: "symmetric with a positive diagonal",
                    });
                }
            }
            if a[i * q + i] <= T::ZERO {
                return Err(Error::InvalidParameter {
                    name: "A",
                    requirement: "symmetric with a positive diagonal",
                });
            }
        }
        if !(rho.is_finite() && rho >= T::ZERO) {
            return Err(Error::InvalidParameter { name: "rho", requirement: "finite and >= 0" });
        }
        Ok(Quadratic {
            a,
            bm,
            b,
            p,
            q,
            rho,
            sigma_g: T::ZERO,
            sigma_f: T::ZERO,
            rows: (0, 0),
            backend: Backend::detect(),
        })
    }

    /// The same problem with additive noise of standard deviation `sigma_g`
    /// on every `g`-oracle output and `sigma_f` on every `f`-oracle output.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative or non-finite σ.
    ///
    /// ```
    /// use bilevel::oracles::FirstOrder;
    /// use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[1.0f64], &[1.0], &[0.0], 1, 0.0)?.with_noise(0.1, 0.0)?;
    /// let (mut g1, mut g2) = ([0.0], [0.0]);
    /// pb.grad_g(&[0.0], &[0.0], &7, None, Some(&mut g1));
    /// pb.grad_g(&[1.0], &[1.0], &7, None, Some(&mut g2));
    /// assert_eq!(g1[0], g2[0]); // same seed, same noise; A y − B x = 0 at both points
    /// assert!(g1[0] != 0.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn with_noise(self, sigma_g: T, sigma_f: T) -> Result<Self, Error> {
        for (name, s) in [("sigma_g", sigma_g), ("sigma_f", sigma_f)] {
            if !(s.is_finite() && s >= T::ZERO) {
                return Err(Error::InvalidParameter { name, requirement: "finite and >= 0" });
            }
        }
        Ok(Quadratic { sigma_g, sigma_f, ..self })
    }

    /// The finite-sum version (§10.1 "Stochastic versions", for SABA): `n`
    /// inner and `m` outer rows, each row's oracles the exact ones plus its
    /// own fixed noise, rows paired with opposite noise so the mean over the
    /// rows is exactly the noise-free problem. Sampling draws a uniform row.
    ///
    /// Errors: [`Error::InvalidParameter`] unless `n` and `m` are even and
    /// at least 2.
    ///
    /// ```
    /// use bilevel::oracles::{FiniteSum, FirstOrder};
    /// use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[1.0f64], &[1.0], &[0.0], 1, 0.0)?.with_noise(0.3, 0.0)?.with_finite_sum(4, 2)?;
    /// let mut mean = 0.0;
    /// for i in 0..pb.n_inner() {
    ///     let mut g = [0.0];
    ///     pb.grad_g(&[0.0], &[2.0], &pb.inner_batch(i), None, Some(&mut g));
    ///     mean += g[0] * pb.inner_weight(i);
    /// }
    /// assert!((mean - 2.0).abs() < 1e-15); // A y − B x, the noise cancels
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn with_finite_sum(self, n: usize, m: usize) -> Result<Self, Error> {
        for (name, r) in [("n", n), ("m", m)] {
            if r < 2 || r % 2 != 0 {
                return Err(Error::InvalidParameter { name, requirement: "even and >= 2" });
            }
        }
        Ok(Quadratic { rows: (n, m), ..self })
    }

    /// `ρ`.
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// assert_eq!(Quadratic::new(&[1.0f64], &[1.0], &[0.0], 1, 0.25)?.rho(), 0.25);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn rho(&self) -> T {
        self.rho
    }

    /// Length of the scratch buffer the closed forms need:
    /// `q² + q·p + p² + 2q`.
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[1.0f64, 0.0, 0.0, 1.0], &[1.0; 6], &[0.0; 2], 3, 0.1)?;
    /// assert_eq!(pb.work_len(), 4 + 6 + 9 + 4);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn work_len(&self) -> usize {
        self.q * self.q + self.q * self.p + self.p * self.p + 2 * self.q
    }

    // ---- small dense helpers (all through kernels) -------------------------

    /// `out ← B x` (`q`).
    fn b_x(&self, x: &[T], out: &mut [T]) {
        for (o, row) in out.iter_mut().zip(self.bm.chunks_exact(self.p)) {
            *o = self.backend.dot(row, x).unwrap_or(T::NAN_T);
        }
    }

    /// `out ← out + c Bᵀ v` (`p`).
    fn add_bt_v(&self, c: T, v: &[T], out: &mut [T]) {
        for (&vi, row) in v.iter().zip(self.bm.chunks_exact(self.p)) {
            if self.backend.axpy(c * vi, row, out).is_err() {
                out.fill(T::NAN_T);
            }
        }
    }

    /// `out ← A v` (`q`).
    fn a_v(&self, v: &[T], out: &mut [T]) {
        for (o, row) in out.iter_mut().zip(self.a.chunks_exact(self.q)) {
            *o = self.backend.dot(row, v).unwrap_or(T::NAN_T);
        }
    }

    fn check_work(&self, work: &[T]) -> Result<(), Error> {
        check_len("work", self.work_len(), work.len())
    }

    /// Factors `c A + d I` into `l` (lower Cholesky, row-major).
    fn factor(&self, c: T, d: T, l: &mut [T]) -> Result<(), Error> {
        for (i, (lr, ar)) in l.chunks_exact_mut(self.q).zip(self.a.chunks_exact(self.q)).enumerate() {
            for (j, (o, &a)) in lr.iter_mut().zip(ar).enumerate() {
                *o = c * a + if i == j { d } else { T::ZERO };
            }
        }
        cholesky(l, self.q)
    }

    /// Writes `y*(x) = A⁻¹ B x` into `out`, leaving the factor of `A` in
    /// `work[..q²]`.
    fn y_star_in(&self, x: &[T], out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        let (l, _) = work.split_at_mut(self.q * self.q);
        self.factor(T::ONE, T::ZERO, l)?;
        self.b_x(x, out);
        chol_solve(l, self.q, out);
        Ok(())
    }

    // ---- closed forms ------------------------------------------------------

    /// `out ← y*(x) = A⁻¹ B x`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `x`, `out`, `work`;
    /// [`Error::InvalidParameter`] if `A` is not positive definite.
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut y, mut w) = ([0.0], [0.0; 5]);
    /// pb.y_star(&[1.0], &mut y, &mut w)?;
    /// assert!((y[0] - 0.5).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn y_star(&self, x: &[T], out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        check_len("x", self.p, x.len())?;
        check_len("out", self.q, out.len())?;
        self.check_work(work)?;
        self.y_star_in(x, out, work)
    }

    /// `out ← v*_F = A⁻¹(y*(x) − b)` (FdeHBO/FMBO sign, §0).
    ///
    /// Errors: as [`Quadratic::y_star`].
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut v, mut w) = ([0.0], [0.0; 5]);
    /// pb.v_star_f(&[1.0], &mut v, &mut w)?;
    /// assert!((v[0] + 0.25).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn v_star_f(&self, x: &[T], out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        check_len("x", self.p, x.len())?;
        check_len("out", self.q, out.len())?;
        self.check_work(work)?;
        self.v_star_f_unchecked(x, out, work)
    }

    /// `out ← v*_S = −A⁻¹(y*(x) − b)` (SOBA/SABA sign, §0).
    ///
    /// Errors: as [`Quadratic::y_star`].
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut v, mut w) = ([0.0], [0.0; 5]);
    /// pb.v_star_s(&[1.0], &mut v, &mut w)?;
    /// assert!((v[0] - 0.25).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn v_star_s(&self, x: &[T], out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        self.v_star_f(x, out, work)?;
        out.iter_mut().for_each(|o| *o = -*o);
        Ok(())
    }

    /// `out ← ∇Φ(x) = ρ x + Bᵀ v*_F` (§10.1).
    ///
    /// Errors: as [`Quadratic::y_star`] (`out` has length `p`).
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut g, mut w) = ([0.0], [0.0; 5]);
    /// pb.hypergrad(&[2.0], &mut g, &mut w)?;
    /// assert!((g[0] - (0.35 * 2.0 - 0.5)).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn hypergrad(&self, x: &[T], out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        check_len("out", self.p, out.len())?;
        check_len("x", self.p, x.len())?;
        self.check_work(work)?;
        let n = self.q * self.q + self.q;
        let (w1, rest) = work.split_at_mut(n);
        let (v, _) = rest.split_at_mut(self.q);
        self.v_star_f_unchecked(x, v, w1)?;
        for (o, &xi) in out.iter_mut().zip(x) {
            *o = self.rho * xi;
        }
        self.add_bt_v(T::ONE, v, out);
        Ok(())
    }

    fn v_star_f_unchecked(&self, x: &[T], out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        let (l, rest) = work.split_at_mut(self.q * self.q);
        let (ys, _) = rest.split_at_mut(self.q);
        self.y_star_in(x, ys, l)?;
        self.backend.axpy(-T::ONE, self.b, ys)?;
        out.copy_from_slice(ys);
        chol_solve(l, self.q, out);
        Ok(())
    }

    /// `Φ(x) = ½‖y*(x) − b‖² + (ρ/2)‖x‖²`.
    ///
    /// Errors: as [`Quadratic::y_star`].
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let mut w = [0.0; 5];
    /// assert!((pb.phi(&[1.0], &mut w)? - (0.125 + 0.05)).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn phi(&self, x: &[T], work: &mut [T]) -> Result<T, Error> {
        check_len("x", self.p, x.len())?;
        self.check_work(work)?;
        let (l, rest) = work.split_at_mut(self.q * self.q);
        let (ys, _) = rest.split_at_mut(self.q);
        self.y_star_in(x, ys, l)?;
        self.backend.axpy(-T::ONE, self.b, ys)?;
        Ok(T::HALF * (self.backend.sum_sq(ys)? + self.rho * self.backend.sum_sq(x)?))
    }

    /// `out ← x* = (BᵀA⁻²B + ρI)⁻¹ BᵀA⁻¹ b`, the minimiser of `Φ`.
    ///
    /// Errors: [`Error::LengthMismatch`]; [`Error::InvalidParameter`] if `A`
    /// or `BᵀA⁻²B + ρI` is not positive definite (e.g. `ρ = 0` and `B` rank
    /// deficient).
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut x, mut w) = ([0.0], [0.0; 5]);
    /// pb.x_star(&mut x, &mut w)?;
    /// assert!((x[0] - 1.0 / 0.7).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn x_star(&self, out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        check_len("out", self.p, out.len())?;
        self.check_work(work)?;
        let (p, q) = (self.p, self.q);
        let (l, rest) = work.split_at_mut(q * q);
        let (c, rest) = rest.split_at_mut(q * p);
        let (m, _) = rest.split_at_mut(p * p);
        self.factor(T::ONE, T::ZERO, l)?;
        // Columns of C = A⁻¹B, stored contiguously (column j at c[j·q..]).
        for (j, col) in c.chunks_exact_mut(q).enumerate() {
            for (ci, row) in col.iter_mut().zip(self.bm.chunks_exact(p)) {
                *ci = row[j];
            }
            chol_solve(l, q, col);
        }
        // M = CᵀC + ρI, rhs = Cᵀ b.
        for i in 0..p {
            let ci = &c[i * q..(i + 1) * q];
            for j in 0..p {
                let d = self.backend.dot(ci, &c[j * q..(j + 1) * q])?;
                m[i * p + j] = d + if i == j { self.rho } else { T::ZERO };
            }
            out[i] = self.backend.dot(ci, self.b)?;
        }
        cholesky(m, p)?;
        chol_solve(m, p, out);
        Ok(())
    }

    /// F2SA's `out ← y*_λ(x) = (λA + I)⁻¹ (λ B x + b)` (§4, §10.1).
    ///
    /// Errors: as [`Quadratic::y_star`], plus [`Error::InvalidParameter`] for
    /// `λ ≤ 0` or non-finite.
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut y, mut w) = ([0.0], [0.0; 5]);
    /// pb.y_star_lambda(&[1.0], 10.0, &mut y, &mut w)?;
    /// assert!((y[0] - 11.0 / 21.0).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn y_star_lambda(&self, x: &[T], lambda: T, out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        check_len("x", self.p, x.len())?;
        check_len("out", self.q, out.len())?;
        self.check_work(work)?;
        check_lambda(lambda)?;
        let (l, _) = work.split_at_mut(self.q * self.q);
        self.factor(lambda, T::ONE, l)?;
        self.b_x(x, out);
        for (o, &bi) in out.iter_mut().zip(self.b) {
            *o = lambda * *o + bi;
        }
        chol_solve(l, self.q, out);
        Ok(())
    }

    /// F2SA's penalty gradient `out ← ∇L*_λ(x) = ρx + Bᵀ(A + I/λ)⁻¹(y*(x) − b)`
    /// (§10.1). Its distance to `∇Φ(x)` is at most
    /// `‖B‖ ‖y* − b‖ / (λ μ_g²)`.
    ///
    /// Errors: as [`Quadratic::y_star_lambda`].
    ///
    /// ```
    /// # use bilevel::quadratic::Quadratic;
    /// let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?;
    /// let (mut g, mut w) = ([0.0], [0.0; 5]);
    /// pb.penalty_grad(&[1.0], 10.0, &mut g, &mut w)?;
    /// assert!((g[0] - (0.1 - 0.5 / 2.1)).abs() < 1e-15); // −0.1380952…
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn penalty_grad(&self, x: &[T], lambda: T, out: &mut [T], work: &mut [T]) -> Result<(), Error> {
        check_len("x", self.p, x.len())?;
        check_len("out", self.p, out.len())?;
        self.check_work(work)?;
        check_lambda(lambda)?;
        let (l, rest) = work.split_at_mut(self.q * self.q);
        let (ys, _) = rest.split_at_mut(self.q);
        self.y_star_in(x, ys, l)?;
        self.backend.axpy(-T::ONE, self.b, ys)?;
        self.factor(T::ONE, T::ONE / lambda, l)?;
        chol_solve(l, self.q, ys);
        for (o, &xi) in out.iter_mut().zip(x) {
            *o = self.rho * xi;
        }
        self.add_bt_v(T::ONE, ys, out);
        Ok(())
    }

    /// Adds `sigma · N(0, I)` drawn from the stream `(seed, tag)`.
    fn noise(&self, out: &mut [T], sigma: T, seed: u64, tag: u64) {
        if sigma == T::ZERO {
            return;
        }
        // The top bit of the seed flips the sign (a finite sum's paired rows).
        let sigma = if seed >> 63 == 1 { -sigma } else { sigma };
        let seed = seed & !(1u64 << 63);
        let mut rng = SplitMix64::new(seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut spare: Option<f64> = None;
        for o in out.iter_mut() {
            let z = match spare.take() {
                Some(z) => z,
                None => {
                    let (z0, z1) = standard_normal_pair(&mut rng);
                    spare = Some(z1);
                    z0
                }
            };
            *o += sigma * T::from_f64(z);
        }
    }
}

fn check_lambda<T: Float>(lambda: T) -> Result<(), Error> {
    if lambda.is_finite() && lambda > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name: "lambda", requirement: "finite and > 0" })
    }
}

/// In-place lower Cholesky factor of the `n×n` row-major SPD matrix `m`
/// (the upper triangle is left as is and never read by [`chol_solve`]).
fn cholesky<T: Float>(m: &mut [T], n: usize) -> Result<(), Error> {
    for j in 0..n {
        let mut d = m[j * n + j];
        for k in 0..j {
            d -= m[j * n + k] * m[j * n + k];
        }
        if d.is_nan() || d <= T::ZERO || !d.is_finite() {
            return Err(Error::InvalidParameter {
                name: "matrix",
                requirement: "symmetric positive definite",
            });
        }
        let d = d.sqrt();
        m[j * n + j] = d;
        for i in j + 1..n {
            let mut s = m[i * n + j];
            for k in 0..j {
                s -= m[i * n + k] * m[j * n + k];
            }
            m[i * n + j] = s / d;
        }
    }
    Ok(())
}

/// Solves `L Lᵀ u = r` in place given the factor from [`cholesky`].
fn chol_solve<T: Float>(l: &[T], n: usize, r: &mut [T]) {
    for i in 0..n {
        let mut s = r[i];
        for k in 0..i {
            s -= l[i * n + k] * r[k];
        }
        r[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = r[i];
        for k in i + 1..n {
            s -= l[k * n + i] * r[k];
        }
        r[i] = s / l[i * n + i];
    }
}

impl<T: Float> Problem<T> for Quadratic<'_, T> {
    /// A noise seed.
    type Sample = u64;
    #[inline]
    fn dim_x(&self) -> usize {
        self.p
    }
    #[inline]
    fn dim_y(&self) -> usize {
        self.q
    }
    #[inline]
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match self.rows.0 {
            0 => rng.next_u64(),
            n => row_seed(uniform_index(rng, n), n, 0),
        }
    }
    #[inline]
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match self.rows.1 {
            0 => rng.next_u64(),
            m => row_seed(uniform_index(rng, m), m, 1),
        }
    }
}

/// Seed of row `r` of `n`: rows `r` and `r + n/2` share a noise stream with
/// opposite signs (top bit), so the mean over the rows is noise-free.
fn row_seed(r: usize, n: usize, side: u64) -> u64 {
    let half = n / 2;
    let pair = (r % half) as u64;
    let sign = if r >= half { 1u64 << 63 } else { 0 };
    (pair.wrapping_mul(0xD134_2543_DE82_EF95) ^ side.wrapping_mul(0x2545_F491_4F6C_DD1D)) & !(1u64 << 63)
        | sign
}

impl<T: Float> FiniteSum<T> for Quadratic<'_, T> {
    /// `n` of [`Quadratic::with_finite_sum`] (0 for the streaming problem).
    fn n_inner(&self) -> usize {
        self.rows.0
    }
    fn n_outer(&self) -> usize {
        self.rows.1
    }
    fn inner_batch(&self, i: usize) -> u64 {
        row_seed(i, self.rows.0.max(2), 0)
    }
    fn outer_batch(&self, j: usize) -> u64 {
        row_seed(j, self.rows.1.max(2), 1)
    }
}

impl<T: Float> FirstOrder<T> for Quadratic<'_, T> {
    /// `gx ← −Bᵀy + σ_g ζ`, `gy ← A y − B x + σ_g ζ'`.
    fn grad_g(&self, x: &[T], y: &[T], s: &u64, gx: Option<&mut [T]>, gy: Option<&mut [T]>) {
        if x.len() != self.p || y.len() != self.q || !fits(&gx, self.p) || !fits(&gy, self.q) {
            return poison([gx, gy]);
        }
        if let Some(gx) = gx {
            gx.fill(T::ZERO);
            self.add_bt_v(-T::ONE, y, gx);
            self.noise(gx, self.sigma_g, *s, TAG_GX);
        }
        if let Some(gy) = gy {
            self.a_v(y, gy);
            for (o, row) in gy.iter_mut().zip(self.bm.chunks_exact(self.p)) {
                *o -= self.backend.dot(row, x).unwrap_or(T::NAN_T);
            }
            self.noise(gy, self.sigma_g, *s, TAG_GY);
        }
    }

    /// `fx ← ρ x + σ_f ξ`, `fy ← y − b + σ_f ξ'`.
    fn grad_f(&self, x: &[T], y: &[T], s: &u64, fx: Option<&mut [T]>, fy: Option<&mut [T]>) {
        if x.len() != self.p || y.len() != self.q || !fits(&fx, self.p) || !fits(&fy, self.q) {
            return poison([fx, fy]);
        }
        if let Some(fx) = fx {
            for (o, &xi) in fx.iter_mut().zip(x) {
                *o = self.rho * xi;
            }
            self.noise(fx, self.sigma_f, *s, TAG_FX);
        }
        if let Some(fy) = fy {
            for ((o, &yi), &bi) in fy.iter_mut().zip(y).zip(self.b) {
                *o = yi - bi;
            }
            self.noise(fy, self.sigma_f, *s, TAG_FY);
        }
    }
}

impl<T: Float> SecondOrder<T> for Quadratic<'_, T> {
    /// One pass over the rows of `A` (and `B`) for `A y − B x` and `A v`
    /// together: the same values as the split calls, bit for bit.
    fn inner_eval(&self, x: &[T], y: &[T], v: &[T], s: &u64, out: InnerEval<'_, T>) {
        let InnerEval { grad_y: Some(gy), hvp: Some(hv), grad_x, jvp } = out else {
            return split_inner_eval(self, x, y, v, s, out);
        };
        let (p, q) = (self.p, self.q);
        let rest = InnerEval { grad_y: None, grad_x, hvp: None, jvp };
        if x.len() != p || y.len() != q || v.len() != q || gy.len() != q || hv.len() != q {
            poison([Some(gy), Some(hv)]);
            return split_inner_eval(self, x, y, v, s, rest);
        }
        let b = self.backend;
        for ((g, h), (arow, brow)) in
            gy.iter_mut().zip(hv.iter_mut()).zip(self.a.chunks_exact(q).zip(self.bm.chunks_exact(p)))
        {
            *g = b.dot(arow, y).unwrap_or(T::NAN_T);
            *g -= b.dot(brow, x).unwrap_or(T::NAN_T);
            *h = b.dot(arow, v).unwrap_or(T::NAN_T);
        }
        self.noise(gy, self.sigma_g, *s, TAG_GY);
        self.noise(hv, self.sigma_g, *s, TAG_HV);
        split_inner_eval(self, x, y, v, s, rest);
    }

    /// `hv ← A v + σ_g ζ`, `jv ← −Bᵀ v + σ_g ζ'`.
    fn hvp_jvp_g(&self, x: &[T], y: &[T], v: &[T], s: &u64, hv: Option<&mut [T]>, jv: Option<&mut [T]>) {
        if x.len() != self.p
            || y.len() != self.q
            || v.len() != self.q
            || !fits(&hv, self.q)
            || !fits(&jv, self.p)
        {
            return poison([hv, jv]);
        }
        if let Some(hv) = hv {
            self.a_v(v, hv);
            self.noise(hv, self.sigma_g, *s, TAG_HV);
        }
        if let Some(jv) = jv {
            jv.fill(T::ZERO);
            self.add_bt_v(-T::ONE, v, jv);
            self.noise(jv, self.sigma_g, *s, TAG_JV);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_check_values() {
        // §10.1: A = 2, B = 1, b = 1, ρ = 0.1.
        let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1).unwrap();
        let mut w = [0.0; 5];
        let mut o = [0.0];
        pb.y_star(&[1.0], &mut o, &mut w).unwrap();
        assert!((o[0] - 0.5).abs() < 1e-15);
        for x in [-1.0, 0.0, 1.0, 3.0] {
            pb.hypergrad(&[x], &mut o, &mut w).unwrap();
            assert!((o[0] - (0.35 * x - 0.5)).abs() < 1e-14);
        }
        pb.x_star(&mut o, &mut w).unwrap();
        assert!((o[0] - 1.428_571_428_571_428_5).abs() < 1e-14);
        pb.v_star_f(&[1.0], &mut o, &mut w).unwrap();
        assert!((o[0] + 0.25).abs() < 1e-15);
        pb.y_star_lambda(&[1.0], 10.0, &mut o, &mut w).unwrap();
        assert!((o[0] - 0.523_809_5).abs() < 1e-7);
        pb.penalty_grad(&[1.0], 10.0, &mut o, &mut w).unwrap();
        assert!((o[0] + 0.138_095_2).abs() < 1e-7);
        // Bias 0.0119 within the bound ‖B‖‖y*−b‖/(λ μ_g²) = 0.5/(10·4) = 0.0125.
        let bias = (o[0] - (-0.15f64)).abs();
        assert!((bias - 0.0119).abs() < 1e-4 && bias <= 0.0125);
        // SOBA's D_x = ρx + JVP(v_S) = −0.15.
        let mut jv = [0.0];
        pb.hvp_jvp_g(&[1.0], &[0.5], &[0.25], &0, None, Some(&mut jv));
        assert!((0.1 + jv[0] + 0.15).abs() < 1e-15);
    }

    #[test]
    fn not_positive_definite_is_reported() {
        // Symmetric, positive diagonal, eigenvalues 3 and −1.
        let pb = Quadratic::new(&[1.0f64, 2.0, 2.0, 1.0], &[1.0, 0.0], &[0.0, 0.0], 1, 0.1).unwrap();
        let mut w = [0.0; 4 + 2 + 1 + 4];
        let mut y = [0.0; 2];
        assert!(matches!(pb.y_star(&[1.0], &mut y, &mut w), Err(Error::InvalidParameter { .. })));
    }

    #[test]
    fn noise_has_unit_variance_per_stream() {
        let pb = Quadratic::new(&[1.0f64], &[0.0], &[0.0], 1, 0.0).unwrap().with_noise(1.0, 1.0).unwrap();
        let (mut s1, mut s2, mut cross) = (0.0, 0.0, 0.0);
        let n = 20000;
        for seed in 0..n {
            let (mut gx, mut gy) = ([0.0], [0.0]);
            pb.grad_g(&[0.0], &[0.0], &seed, Some(&mut gx), Some(&mut gy));
            s1 += gy[0];
            s2 += gy[0] * gy[0];
            cross += gx[0] * gy[0];
        }
        let n = n as f64;
        assert!((s1 / n).abs() < 0.03);
        assert!((s2 / n - 1.0).abs() < 0.05);
        assert!((cross / n).abs() < 0.03); // independent streams
    }
}
