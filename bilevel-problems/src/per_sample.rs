//! The quadratic bilevel problem with one dense matrix per sample, benchopt's
//! shape (ALGORITHMS.md §10.1 "Finite sum", "Numerical sizes"; feature
//! `alloc`):
//!
//! ```text
//! g_i(x, y) = ½ yᵀA_i y − yᵀB_i x                 i < n   (A_i q×q SPD, B_i q×p)
//! f_j(x, y) = ½ (y − c_j)ᵀ D_j (y − c_j) + (ρ/2)‖x‖²   j < m   (D_j diagonal > 0)
//! g = (1/n) Σ g_i,  f = (1/m) Σ f_j
//! ```
//!
//! A minibatch is a batch index into contiguous batches of a fixed size (the
//! last may be smaller). The data is generated from a seed
//! ([`PerSampleQuadratic::generate`]): `A_i = μ I + G_i G_iᵀ / q` with `G_i`
//! a `q × k` standard normal matrix (`k = 10`), `B_i` with entries
//! `scale · N(0, 1) / √p`, `D_j` uniform in `[½, 1]`, `c_j` standard normal.
//!
//! The per-sample matrices dominate the cost of an oracle, so
//! [`SecondOrder::inner_eval`] reads each `A_i` and `B_i` once for
//! `∇_y g`, `H v` and `J v` together, where the split calls read them twice.
//!
//! ```
//! use bilevel::oracles::{FiniteSum, Problem};
//! use bilevel_problems::per_sample::PerSampleQuadratic;
//! let pb = PerSampleQuadratic::<f64>::generate(7, (8, 4), (5, 2), 0.1, 0.1, (4, 2))?;
//! assert_eq!((pb.dim_y(), pb.dim_x(), pb.n_inner(), pb.n_outer()), (5, 2, 2, 2));
//! # Ok::<(), bilevel::Error>(())
//! ```

use alloc::vec::Vec;

use bilevel::Float;
use bilevel::backend::{Backend, Kernel, MulAdd};
use bilevel::error::Error;
use bilevel::kernels::{dot_in, dot2_in};
use bilevel::oracles::{FiniteSum, FirstOrder, InnerEval, Problem, SecondOrder, fits, poison, uniform_index};
use bilevel::random::standard_normal;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::util::{batch_range, check_batch};

/// Rank of the random part of each `A_i`.
const RANK: usize = 10;

/// The per-sample quadratic problem (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct PerSampleQuadratic<T> {
    p: usize,
    q: usize,
    n: usize,
    m: usize,
    batch_inner: usize,
    batch_outer: usize,
    rho: T,
    /// `n` matrices `A_i`, `q × q` row-major each.
    a: Vec<T>,
    /// `n` matrices `B_i`, `q × p` row-major each.
    bm: Vec<T>,
    /// `m` diagonals `D_j`, `q` each.
    d: Vec<T>,
    /// `m` centres `c_j`, `q` each.
    c: Vec<T>,
    backend: Backend,
}

impl<T: Float> PerSampleQuadratic<T> {
    /// Generates `(n, m)` inner and outer samples of dimensions `(q, p)`
    /// from `seed`, with `μ = mu` (also the outer regularization `ρ`),
    /// cross-term scale `scale`, and batches of `(batch_inner, batch_outer)`
    /// samples.
    ///
    /// Errors: [`Error::Empty`] for a zero count or dimension;
    /// [`Error::InvalidParameter`] for `mu ≤ 0`, a negative or non-finite
    /// `scale`, or a zero batch size.
    ///
    /// ```
    /// use bilevel_problems::per_sample::PerSampleQuadratic;
    /// assert!(PerSampleQuadratic::<f32>::generate(0, (0, 4), (5, 2), 0.1, 0.1, (1, 1)).is_err());
    /// ```
    pub fn generate(
        seed: u64,
        (n, m): (usize, usize),
        (q, p): (usize, usize),
        mu: f64,
        scale: f64,
        (batch_inner, batch_outer): (usize, usize),
    ) -> Result<Self, Error> {
        for (what, k) in [("n", n), ("m", m), ("q", q), ("p", p)] {
            if k == 0 {
                return Err(Error::Empty { what });
            }
        }
        if !(mu > 0.0 && mu.is_finite()) {
            return Err(Error::InvalidParameter { name: "mu", requirement: "finite and > 0" });
        }
        if !(scale >= 0.0 && scale.is_finite()) {
            return Err(Error::InvalidParameter { name: "scale", requirement: "finite and >= 0" });
        }
        check_batch("batch_inner", batch_inner)?;
        check_batch("batch_outer", batch_outer)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut a = Vec::with_capacity(n * q * q);
        let mut g = alloc::vec![0.0f64; q * RANK];
        for _ in 0..n {
            g.iter_mut().for_each(|v| *v = standard_normal(&mut rng));
            for r in 0..q {
                for c in 0..q {
                    let gg: f64 = (0..RANK).map(|k| g[r * RANK + k] * g[c * RANK + k]).sum();
                    a.push(T::from_f64(gg / q as f64 + if r == c { mu } else { 0.0 }));
                }
            }
        }
        let bscale = scale / (p as f64).sqrt();
        let bm = (0..n * q * p).map(|_| T::from_f64(bscale * standard_normal(&mut rng))).collect();
        let d = (0..m * q).map(|_| T::from_f64(0.5 + 0.5 * unit(&mut rng))).collect();
        let c = (0..m * q).map(|_| T::from_f64(standard_normal(&mut rng))).collect();
        let rho = T::from_f64(mu);
        let backend = Backend::detect();
        Ok(PerSampleQuadratic { p, q, n, m, batch_inner, batch_outer, rho, a, bm, d, c, backend })
    }

    /// Runs the oracles on `backend`.
    ///
    /// Errors: [`Error::BackendUnavailable`].
    ///
    /// ```
    /// use bilevel::Backend;
    /// use bilevel_problems::per_sample::PerSampleQuadratic;
    /// let pb = PerSampleQuadratic::<f64>::generate(1, (2, 2), (3, 1), 0.1, 0.1, (1, 1))?.with_backend(Backend::Scalar)?;
    /// assert_eq!(pb.backend(), Backend::Scalar);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(self)
    }

    /// The backend of the oracles.
    ///
    /// ```
    /// use bilevel_problems::per_sample::PerSampleQuadratic;
    /// let pb = PerSampleQuadratic::<f64>::generate(1, (2, 2), (3, 1), 0.1, 0.1, (1, 1))?;
    /// assert_eq!(pb.backend(), bilevel::Backend::detect());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `A_i` (row-major `q × q`) and `B_i` (row-major `q × p`) of inner sample `i`.
    ///
    /// ```
    /// use bilevel_problems::per_sample::PerSampleQuadratic;
    /// let pb = PerSampleQuadratic::<f64>::generate(1, (2, 2), (3, 1), 0.1, 0.1, (1, 1))?;
    /// let (a, b) = pb.inner_matrices(1).unwrap();
    /// assert_eq!((a.len(), b.len()), (9, 3));
    /// assert_eq!(a[1], a[3]); // symmetric
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn inner_matrices(&self, i: usize) -> Option<(&[T], &[T])> {
        let (q, p) = (self.q, self.p);
        Some((self.a.get(i * q * q..(i + 1) * q * q)?, self.bm.get(i * q * p..(i + 1) * q * p)?))
    }

    /// `D_j` (diagonal) and `c_j` of outer sample `j`.
    ///
    /// ```
    /// use bilevel_problems::per_sample::PerSampleQuadratic;
    /// let pb = PerSampleQuadratic::<f64>::generate(1, (2, 2), (3, 1), 0.1, 0.1, (1, 1))?;
    /// let (d, _) = pb.outer_terms(0).unwrap();
    /// assert!(d.iter().all(|&v| (0.5..=1.0).contains(&v)));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn outer_terms(&self, j: usize) -> Option<(&[T], &[T])> {
        let q = self.q;
        Some((self.d.get(j * q..(j + 1) * q)?, self.c.get(j * q..(j + 1) * q)?))
    }

    /// `ρ` of the outer regularizer (equal to `μ`).
    ///
    /// ```
    /// use bilevel_problems::per_sample::PerSampleQuadratic;
    /// let pb = PerSampleQuadratic::<f64>::generate(1, (2, 2), (3, 1), 0.25, 0.1, (1, 1))?;
    /// assert_eq!(pb.rho(), 0.25);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn rho(&self) -> T {
        self.rho
    }

    fn inner_rows(&self, b: usize) -> Option<core::ops::Range<usize>> {
        batch_range(self.n, self.batch_inner, b)
    }

    fn outer_rows(&self, b: usize) -> Option<core::ops::Range<usize>> {
        batch_range(self.m, self.batch_outer, b)
    }
}

/// A uniform draw in `[0, 1)`.
fn unit<R: Rng>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The batch body of the inner oracles: for every sample of the batch and
/// every row `r` of `A_i`, `B_i`, the requested terms, each matrix row read
/// once for all of them. Outputs are zeroed first and scaled by `1/|batch|`
/// at the end by the caller.
struct InnerBatch<'a, T> {
    a: &'a [T],
    bm: &'a [T],
    q: usize,
    p: usize,
    x: &'a [T],
    y: &'a [T],
    v: &'a [T],
    gy: Option<&'a mut [T]>,
    gx: Option<&'a mut [T]>,
    hv: Option<&'a mut [T]>,
    jv: Option<&'a mut [T]>,
}

impl<T: Float> Kernel for InnerBatch<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let InnerBatch { a, bm, q, p, x, y, v, mut gy, mut gx, mut hv, mut jv } = self;
        for (ai, bi) in a.chunks_exact(q * q).zip(bm.chunks_exact(q * p)) {
            for (r, (arow, brow)) in ai.chunks_exact(q).zip(bi.chunks_exact(p)).enumerate() {
                // One pass over the row for both products when both are wanted.
                let (ay, av) = match (gy.is_some(), hv.is_some()) {
                    (true, true) => dot2_in::<M, T>(arow, y, v),
                    (true, false) => (dot_in::<M, T>(arow, y), T::ZERO),
                    (false, true) => (T::ZERO, dot_in::<M, T>(arow, v)),
                    (false, false) => (T::ZERO, T::ZERO),
                };
                if let Some(gy) = gy.as_deref_mut() {
                    gy[r] += ay - dot_in::<M, T>(brow, x);
                }
                if let Some(hv) = hv.as_deref_mut() {
                    hv[r] += av;
                }
                if let Some(gx) = gx.as_deref_mut() {
                    let yr = y[r];
                    gx.iter_mut().zip(brow).for_each(|(o, &b)| *o -= yr * b);
                }
                if let Some(jv) = jv.as_deref_mut() {
                    let vr = v[r];
                    jv.iter_mut().zip(brow).for_each(|(o, &b)| *o -= vr * b);
                }
            }
        }
    }
}

impl<T: Float> PerSampleQuadratic<T> {
    /// The inner terms of batch `b` requested in `out` (zero-filled, summed,
    /// divided by the batch size); NaN on bad lengths or batch index.
    fn inner_batch(&self, (x, y, v): (&[T], &[T], &[T]), b: usize, out: InnerEval<'_, T>) {
        let InnerEval { mut grad_y, mut grad_x, mut hvp, mut jvp } = out;
        let (p, q) = (self.p, self.q);
        let ok_in = x.len() == p && y.len() == q && v.len() == q;
        let ok_out = fits(&grad_y, q) && fits(&hvp, q) && fits(&grad_x, p) && fits(&jvp, p);
        let rows = match self.inner_rows(b) {
            Some(rows) if ok_in && ok_out => rows,
            _ => {
                poison([grad_y, hvp]);
                return poison([grad_x, jvp]);
            }
        };
        for o in [grad_y.as_deref_mut(), grad_x.as_deref_mut(), hvp.as_deref_mut(), jvp.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            o.fill(T::ZERO);
        }
        let body = InnerBatch {
            a: &self.a[rows.start * q * q..rows.end * q * q],
            bm: &self.bm[rows.start * q * p..rows.end * q * p],
            q,
            p,
            x,
            y,
            v,
            gy: grad_y.as_deref_mut(),
            gx: grad_x.as_deref_mut(),
            hv: hvp.as_deref_mut(),
            jv: jvp.as_deref_mut(),
        };
        let scale = match self.backend.run(body) {
            Ok(()) => T::ONE / T::from_usize(rows.len()),
            Err(_) => T::NAN_T,
        };
        for o in [grad_y, grad_x, hvp, jvp].into_iter().flatten() {
            o.iter_mut().for_each(|e| *e *= scale);
        }
    }
}

impl<T: Float> Problem<T> for PerSampleQuadratic<T> {
    /// A batch index.
    type Sample = usize;

    fn dim_x(&self) -> usize {
        self.p
    }

    fn dim_y(&self) -> usize {
        self.q
    }

    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        uniform_index(rng, self.n_inner())
    }

    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        uniform_index(rng, self.n_outer())
    }
}

impl<T: Float> FirstOrder<T> for PerSampleQuadratic<T> {
    /// `gx ← −mean B_iᵀ y`, `gy ← mean (A_i y − B_i x)` over batch `s`.
    fn grad_g(&self, x: &[T], y: &[T], s: &usize, gx: Option<&mut [T]>, gy: Option<&mut [T]>) {
        let out = InnerEval { grad_y: gy, grad_x: gx, hvp: None, jvp: None };
        self.inner_batch((x, y, y), *s, out);
    }

    /// `fx ← ρ x`, `fy ← mean D_j (y − c_j)` over batch `s`.
    fn grad_f(&self, x: &[T], y: &[T], s: &usize, fx: Option<&mut [T]>, fy: Option<&mut [T]>) {
        let (p, q) = (self.p, self.q);
        let rows = match self.outer_rows(*s) {
            Some(r) if x.len() == p && y.len() == q && fits(&fx, p) && fits(&fy, q) => r,
            _ => return poison([fx, fy]),
        };
        if let Some(fx) = fx {
            fx.iter_mut().zip(x).for_each(|(o, &xi)| *o = self.rho * xi);
        }
        if let Some(fy) = fy {
            fy.fill(T::ZERO);
            for j in rows.clone() {
                let (d, c) = (&self.d[j * q..(j + 1) * q], &self.c[j * q..(j + 1) * q]);
                for (((o, &dj), &cj), &yj) in fy.iter_mut().zip(d).zip(c).zip(y) {
                    *o += dj * (yj - cj);
                }
            }
            let scale = T::ONE / T::from_usize(rows.len());
            fy.iter_mut().for_each(|o| *o *= scale);
        }
    }
}

impl<T: Float> SecondOrder<T> for PerSampleQuadratic<T> {
    /// `hv ← mean A_i v`, `jv ← −mean B_iᵀ v` over batch `s`.
    fn hvp_jvp_g(&self, x: &[T], y: &[T], v: &[T], s: &usize, hv: Option<&mut [T]>, jv: Option<&mut [T]>) {
        self.inner_batch((x, y, v), *s, InnerEval { grad_y: None, grad_x: None, hvp: hv, jvp: jv });
    }

    /// Every requested term in one pass over the batch's matrices.
    fn inner_eval(&self, x: &[T], y: &[T], v: &[T], s: &usize, out: InnerEval<'_, T>) {
        self.inner_batch((x, y, v), *s, out);
    }
}

impl<T: Float> FiniteSum<T> for PerSampleQuadratic<T> {
    fn n_inner(&self) -> usize {
        self.n.div_ceil(self.batch_inner)
    }

    fn n_outer(&self) -> usize {
        self.m.div_ceil(self.batch_outer)
    }

    fn inner_batch(&self, i: usize) -> usize {
        i
    }

    fn outer_batch(&self, j: usize) -> usize {
        j
    }

    fn inner_weight(&self, i: usize) -> T {
        self.inner_rows(i).map_or(T::ZERO, |r| T::from_usize(r.len()) / T::from_usize(self.n))
    }

    fn outer_weight(&self, j: usize) -> T {
        self.outer_rows(j).map_or(T::ZERO, |r| T::from_usize(r.len()) / T::from_usize(self.m))
    }
}
