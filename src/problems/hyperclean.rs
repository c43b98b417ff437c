//! Data hyper-cleaning (ALGORITHMS.md §10.3, FdeHBO eq 14).
//!
//! A linear multinomial classifier `W ∈ R^{d×K}` (flattened row-major,
//! `W[k·K + c]`) is trained on `n` samples whose labels are partly corrupted;
//! each training sample `i` gets a weight `σ(x_i)`, and the weights are chosen
//! so that the classifier does well on a clean validation set:
//!
//! ```text
//! g(x, W) = (1/n) Σ_i σ(x_i) CE(Wᵀa_i, c_i) + C ‖W‖²_F      (inner)
//! f(x, W) = (1/m) Σ_j CE(Wᵀb_j, c'_j)                         (outer)
//! CE(z, c) = logsumexp(z) − z_c
//! ```
//!
//! `p = n`, `q = d·K`. The number of classes `K` is a const generic, so every
//! per-sample quantity lives on the stack and no oracle allocates. Data is
//! borrowed ([`ClassData`]). A minibatch is a batch index into contiguous
//! batches of a fixed size, exactly as in [`logistic`](super::logistic): the
//! last batch may be smaller, [`FiniteSum`] weights are `|batch| / N`, and every
//! batch loss of `g` contains the whole regularizer. The `x`-gradient and the
//! cross product of a batch are non-zero only on the batch's coordinates
//! (written as zeros elsewhere; cost `O(|batch|·d·K + n)`).
//!
//! For SABA's scalar memory (§9.4), [`HyperClean::inner_coefs`] gives the `K`
//! gradient scalars, the `K` HVP scalars and the cross scalar of one sample,
//! and [`HyperClean::outer_grad_coef`] the `K` outer scalars; the regularizer
//! terms ([`HyperClean::reg_grad_w`], [`HyperClean::reg_hvp`]) are exact.
//!
//! Oracles called with a wrong buffer length or a batch index out of range
//! fill every requested output with NaN (they cannot return an error).
//!
//! With the `alloc` feature the module also holds the data pipeline of the
//! experiment: [`parse_csv`] / [`parse_digits`] (the UCI handwritten digits
//! shipped in `data/digits.csv.gz`), [`Dataset::split`], [`Standardizer`],
//! [`corrupt_labels`] and [`CleaningData::prepare`], which chains them.
//!
//! ```
//! use bilevel::oracles::{FirstOrder, Problem};
//! use bilevel::problems::hyperclean::{ClassData, HyperClean};
//!
//! // Three training and two validation samples, two features, K = 2 classes.
//! let train = ClassData::new(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[0, 1, 1], 2)?;
//! let val = ClassData::new(&[1.0, 0.0, 0.0, 1.0], &[0, 1], 2)?;
//! let pb = HyperClean::<f64, 2>::new(train, val, 2, 2)?;
//! assert_eq!((pb.dim_x(), pb.dim_y()), (3, 4));
//!
//! let (x, w) = ([0.0; 3], [0.0; 4]);
//! let mut gx = [1.0; 3];
//! pb.grad_g(&x, &w, &1, Some(&mut gx), None);
//! // Batch 1 is sample 2 alone: σ'(0) · CE(0, ·) = ¼ ln 2; other entries are 0.
//! assert_eq!(gx[..2], [0.0, 0.0]);
//! assert!((gx[2] - 0.25 * core::f64::consts::LN_2).abs() < 1e-16);
//! # Ok::<(), bilevel::Error>(())
//! ```

use core::ops::Range;

pub use super::data::Labeled;
use super::logistic::{batch_range, check_batch, fits, logistic_loss_d2, poison, sigmoid};
use crate::Float;
use crate::backend::{Backend, Kernel, MulAdd};
use crate::error::{Error, check_len};
use crate::oracles::{FiniteSum, FirstOrder, Problem, SecondOrder, uniform_index};
use rand_core::Rng;

/// The default regularization `C = 0.2` of the inner loss (benchopt's value,
/// §10.3; FdeHBO's was not found). Strong convexity `μ_g = 2C`.
///
/// ```
/// assert_eq!(bilevel::problems::hyperclean::DEFAULT_REG, 0.2);
/// ```
pub const DEFAULT_REG: f64 = 0.2;

// ---------------------------------------------------------------------------
// Softmax (stable)

/// `log Σ_c e^{z_c}`, computed as `m + log Σ_c e^{z_c − m}` with `m = max z`
/// (no overflow). Returns `−∞` for an empty slice; NaN propagates.
///
/// ```
/// use bilevel::problems::hyperclean::log_sum_exp;
/// assert_eq!(log_sum_exp(&[1000.0f64, 1000.0]), 1000.0 + core::f64::consts::LN_2);
/// assert_eq!(log_sum_exp::<f32>(&[]), f32::NEG_INFINITY);
/// ```
pub fn log_sum_exp<T: Float>(z: &[T]) -> T {
    let m = z.iter().fold(-T::INFINITY_T, |a, &b| a.max(b));
    if !m.is_finite() {
        // Empty, all −∞, or a +∞ entry: the maximum is the answer.
        return if z.iter().any(|v| v.is_nan()) { T::NAN_T } else { m };
    }
    let s = z.iter().fold(T::ZERO, |acc, &v| acc + (v - m).exp());
    m + s.ln()
}

/// `out ← softmax(z)` (stable: shifted by `max z`); returns `log_sum_exp(z)`.
///
/// Errors: [`Error::LengthMismatch`] if `out.len() != z.len()`;
/// [`Error::Empty`] if `z` is empty.
///
/// ```
/// use bilevel::problems::hyperclean::softmax;
/// let mut p = [0.0f64; 3];
/// let lse = softmax(&[1000.0, 1000.0, -1000.0], &mut p)?;
/// assert_eq!(p, [0.5, 0.5, 0.0]);
/// assert_eq!(lse, 1000.0 + core::f64::consts::LN_2);
/// # Ok::<(), bilevel::Error>(())
/// ```
pub fn softmax<T: Float>(z: &[T], out: &mut [T]) -> Result<T, Error> {
    check_len("out", z.len(), out.len())?;
    if z.is_empty() {
        return Err(Error::Empty { what: "z" });
    }
    let m = z.iter().fold(-T::INFINITY_T, |a, &b| a.max(b));
    let mut s = T::ZERO;
    for (o, &v) in out.iter_mut().zip(z) {
        *o = (v - m).exp();
        s += *o;
    }
    let inv = T::ONE / s;
    for o in out.iter_mut() {
        *o *= inv;
    }
    Ok(m + s.ln())
}

/// Fixed-size softmax: `(π, logsumexp)`.
#[inline(always)]
fn softmax_k<T: Float, const K: usize>(z: &[T; K]) -> ([T; K], T) {
    let m = z.iter().fold(-T::INFINITY_T, |a, &b| a.max(b));
    let mut p = [T::ZERO; K];
    let mut s = T::ZERO;
    for (p, &v) in p.iter_mut().zip(z) {
        *p = (v - m).exp();
        s += *p;
    }
    let inv = T::ONE / s;
    for p in p.iter_mut() {
        *p *= inv;
    }
    (p, m + s.ln())
}

/// All per-sample quantities of §10.3 from `z = Wᵀa`, `u = Vᵀa`, the label
/// and the weight logit: `(loss, s r, s(π⊙u − π⟨π,u⟩), s' ℓ, s' uᵀr)`.
#[inline(always)]
fn sample_terms<T: Float, const K: usize>(z: &[T; K], u: &[T; K], c: usize, xi: T) -> InnerCoefs<T, K> {
    let (pi, lse) = softmax_k(z);
    let zc = z.get(c).copied().unwrap_or(T::NAN_T);
    let loss = lse - zc;
    let s = sigmoid(xi);
    let ds = logistic_loss_d2(xi); // σ(x)(1 − σ(x))
    let mut r = pi;
    if let Some(rc) = r.get_mut(c) {
        *rc -= T::ONE;
    }
    let pu = pi.iter().zip(u).fold(T::ZERO, |a, (&p, &u)| a + p * u);
    let ur = u.iter().zip(&r).fold(T::ZERO, |a, (&u, &r)| a + u * r);
    let mut grad_w = [T::ZERO; K];
    let mut hvp_w = [T::ZERO; K];
    for j in 0..K {
        grad_w[j] = s * r[j];
        hvp_w[j] = s * (pi[j] * u[j] - pi[j] * pu);
    }
    InnerCoefs { grad_w, hvp_w, grad_x: ds * loss, cross: ds * ur, loss }
}

/// `z ← Wᵀa` for row-major `W` (`d` rows of `K`).
#[inline(always)]
fn mat_t_vec<M: MulAdd, T: Float, const K: usize>(w: &[[T; K]], a: &[T]) -> [T; K] {
    let mut z = [T::ZERO; K];
    for (wr, &ak) in w.iter().zip(a) {
        for j in 0..K {
            z[j] = M::mul_add(ak, wr[j], z[j]);
        }
    }
    z
}

/// The generic batch body of the softmax oracles (§9.4: `K` scalars per
/// sample): for row `r` with label `c`, `coef(r, c, Wᵀa, Vᵀa)` and
/// `out ← Σ a ⊗ coef` when an output is given.
struct SoftmaxAccumulate<'a, T, F, const K: usize> {
    rows: &'a [T],
    labels: &'a [usize],
    dim: usize,
    w: &'a [T],
    v: Option<&'a [T]>,
    out: Option<&'a mut [T]>,
    coef: F,
}

impl<T: Float, F, const K: usize> Kernel for SoftmaxAccumulate<'_, T, F, K>
where
    F: FnMut(usize, usize, &[T; K], &[T; K]) -> [T; K],
{
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let SoftmaxAccumulate { rows, labels, dim, w, v, mut out, mut coef } = self;
        let (wr, _) = w.as_chunks::<K>();
        let vr = v.map(|v| v.as_chunks::<K>().0);
        if let Some(o) = out.as_deref_mut() {
            o.fill(T::ZERO);
        }
        for (r, (a, &c)) in rows.chunks_exact(dim).zip(labels).enumerate() {
            let z = mat_t_vec::<M, T, K>(wr, a);
            let u = match vr {
                Some(vr) => mat_t_vec::<M, T, K>(vr, a),
                None => [T::ZERO; K],
            };
            let k = coef(r, c, &z, &u);
            if let Some(o) = out.as_deref_mut() {
                let (or, _) = o.as_chunks_mut::<K>();
                for (or, &ak) in or.iter_mut().zip(a) {
                    for j in 0..K {
                        or[j] += ak * k[j];
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Data

/// Borrowed multiclass data: `len()` rows of `dim()` features stored
/// row-major, and class labels (checked against `K` by [`HyperClean::new`]).
///
/// ```
/// use bilevel::problems::hyperclean::ClassData;
/// let d = ClassData::new(&[1.0f64, 2.0, 3.0, 4.0], &[0, 2], 2)?;
/// assert_eq!((d.len(), d.dim()), (2, 2));
/// assert_eq!(d.row(1), Some(&[3.0, 4.0][..]));
/// assert_eq!(d.label(1), Some(2));
/// # Ok::<(), bilevel::Error>(())
/// ```
pub type ClassData<'a, T> = Labeled<'a, T, usize>;

impl<'a, T: Float> Labeled<'a, T, usize> {
    /// Wraps `features` (`labels.len() · dim` values, row-major) and `labels`.
    ///
    /// Errors: [`Error::Empty`] if `dim == 0` or there are no labels;
    /// [`Error::LengthMismatch`] if `features.len() != labels.len() · dim`;
    /// [`Error::NonFinite`] for a NaN or infinite feature.
    ///
    /// ```
    /// use bilevel::{Error, problems::hyperclean::ClassData};
    /// assert_eq!(ClassData::<f64>::new(&[], &[], 3).unwrap_err(), Error::Empty { what: "labels" });
    /// ```
    pub fn new(features: &'a [T], labels: &'a [usize], dim: usize) -> Result<Self, Error> {
        Labeled::checked(features, labels, dim)
    }

    /// `Err(IndexOutOfRange)` for the first label `>= k`.
    fn check_labels(&self, what: &'static str, k: usize) -> Result<(), Error> {
        match self.labels.iter().find(|&&c| c >= k) {
            Some(&c) => Err(Error::IndexOutOfRange { what, index: c, len: k }),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------
// Per-sample coefficients (SAGA scalar memory, §9.4)

/// The per-sample quantities of training sample `i` at `(x, W, V)` (§10.3
/// "Per-sample shorthands"), with `s = σ(x_i)`, `s' = s(1 − s)`,
/// `π = softmax(Wᵀa_i)`, `r = π − e_{c_i}`, `u = Vᵀa_i`:
///
/// - sample `i`'s `W`-gradient is `a_i ⊗ grad_w` (`grad_w = s r`);
/// - its Hessian-vector product is `a_i ⊗ hvp_w` (`hvp_w = s(π⊙u − π⟨π,u⟩)`);
/// - its `x`-gradient is `grad_x = s' ℓ` at coordinate `i` only;
/// - its cross product `∇²_xW g_i · V` is `cross = s' uᵀr` at coordinate `i` only.
///
/// A batch `b` oracle is `(1/|b|) Σ_{i∈b}` of these plus the regularizer.
///
/// ```
/// use bilevel::problems::hyperclean::{ClassData, HyperClean};
/// let d = ClassData::new(&[1.0f64], &[0], 1)?;
/// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
/// let c = pb.inner_coefs(&[0.0], &[0.0, 0.0], None, 0)?;
/// assert_eq!(c.grad_w, [-0.25, 0.25]); // σ(0) · (½ − 1, ½)
/// assert_eq!(c.loss, core::f64::consts::LN_2);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InnerCoefs<T, const K: usize> {
    /// `σ(x_i) r_i` (`K` gradient scalars).
    pub grad_w: [T; K],
    /// `σ(x_i)(π ⊙ u − π ⟨π, u⟩)` (`K` HVP scalars; zero without `V`).
    pub hvp_w: [T; K],
    /// `s'_i ℓ_i`: coordinate `i` of the `x`-gradient.
    pub grad_x: T,
    /// `s'_i u_iᵀ r_i`: coordinate `i` of the cross product (zero without `V`).
    pub cross: T,
    /// `ℓ_i = CE(Wᵀa_i, c_i)` (unweighted).
    pub loss: T,
}

// ---------------------------------------------------------------------------
// The problem

/// The data hyper-cleaning problem of §10.3 on borrowed data, `K` classes,
/// regularization `C` (default [`DEFAULT_REG`]), fixed batch sizes (see the
/// [module docs](self)).
///
/// ```
/// use bilevel::oracles::SecondOrder;
/// use bilevel::problems::hyperclean::{ClassData, HyperClean};
/// let d = ClassData::new(&[1.0f64, 0.0], &[1, 0], 1)?;
/// let pb = HyperClean::<f64, 2>::new(d, d, 2, 2)?.with_reg(0.5)?;
/// let (x, w, v) = ([0.0; 2], [0.0; 2], [1.0, 0.0]);
/// let mut hv = [0.0; 2];
/// pb.hvp_jvp_g(&x, &w, &v, &0, Some(&mut hv), None);
/// // (1/2) σ(0) a_0² (π⊙u − π⟨π,u⟩) + 2C v with π = (½, ½), u = (1, 0):
/// assert_eq!(hv, [0.5 * 0.5 * 0.25 + 1.0, -0.5 * 0.5 * 0.25]);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct HyperClean<'a, T, const K: usize> {
    train: ClassData<'a, T>,
    val: ClassData<'a, T>,
    reg: T,
    batch_inner: usize,
    batch_outer: usize,
    backend: Backend,
}

impl<'a, T: Float, const K: usize> HyperClean<'a, T, K> {
    /// The problem with (possibly corrupted) training set `train`, clean
    /// validation set `val`, batch sizes `batch_inner`, `batch_outer`, and
    /// `C = DEFAULT_REG`. Runs its batch loops on [`Backend::detect()`].
    ///
    /// Errors: [`Error::InvalidParameter`] if `K < 2`, a batch size is 0, or
    /// `d·K` overflows; [`Error::LengthMismatch`] if the sets have different
    /// feature counts; [`Error::IndexOutOfRange`] for a label `>= K`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[2], 1)?;
    /// assert!(HyperClean::<f64, 2>::new(d, d, 1, 1).is_err()); // label 2 with K = 2
    /// assert!(HyperClean::<f64, 3>::new(d, d, 1, 1).is_ok());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new(
        train: ClassData<'a, T>,
        val: ClassData<'a, T>,
        batch_inner: usize,
        batch_outer: usize,
    ) -> Result<Self, Error> {
        if K < 2 {
            return Err(Error::InvalidParameter { name: "K", requirement: "at least 2 classes" });
        }
        check_len("val dim", train.dim, val.dim)?;
        check_batch("batch_inner", batch_inner)?;
        check_batch("batch_outer", batch_outer)?;
        train
            .dim
            .checked_mul(K)
            .ok_or(Error::InvalidParameter { name: "K", requirement: "such that d · K fits in usize" })?;
        train.check_labels("train label", K)?;
        val.check_labels("val label", K)?;
        Ok(HyperClean {
            train,
            val,
            reg: T::from_f64(DEFAULT_REG),
            batch_inner,
            batch_outer,
            backend: Backend::detect(),
        })
    }

    /// The same problem with regularization `C` (the inner loss gets
    /// `C‖W‖²_F`, so `μ_g = 2C`).
    ///
    /// Errors: [`Error::InvalidParameter`] unless `C` is finite and `>= 0`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// assert_eq!(pb.reg(), 0.2);
    /// assert_eq!(pb.with_reg(1.5)?.reg(), 1.5);
    /// assert!(pb.with_reg(-1.0).is_err());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn with_reg(mut self, c: T) -> Result<Self, Error> {
        if !(c >= T::ZERO && c.is_finite()) {
            return Err(Error::InvalidParameter { name: "C", requirement: "finite and >= 0" });
        }
        self.reg = c;
        Ok(self)
    }

    /// The same problem running its batch loops on `backend`.
    ///
    /// Errors: [`Error::BackendUnavailable`] if this CPU or build lacks it.
    ///
    /// ```
    /// # use bilevel::{Backend, problems::hyperclean::{ClassData, HyperClean}};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?.with_backend(Backend::Scalar)?;
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

    /// The backend the batch loops run on.
    ///
    /// ```
    /// # use bilevel::{Backend, problems::hyperclean::{ClassData, HyperClean}};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// assert_eq!(HyperClean::<f64, 2>::new(d, d, 1, 1)?.backend(), Backend::detect());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The regularization `C`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f32], &[0], 1)?;
    /// assert_eq!(HyperClean::<f32, 2>::new(d, d, 1, 1)?.reg(), 0.2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn reg(&self) -> T {
        self.reg
    }

    /// The training set (inner loss).
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f32], &[0], 1)?;
    /// assert_eq!(HyperClean::<f32, 2>::new(d, d, 1, 1)?.train().len(), 1);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn train(&self) -> ClassData<'a, T> {
        self.train
    }

    /// The validation set (outer loss).
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f32], &[0], 1)?;
    /// assert_eq!(HyperClean::<f32, 2>::new(d, d, 1, 1)?.val().len(), 1);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn val(&self) -> ClassData<'a, T> {
        self.val
    }

    /// Inner and outer batch sizes.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f32], &[0], 1)?;
    /// assert_eq!(HyperClean::<f32, 2>::new(d, d, 3, 4)?.batch_sizes(), (3, 4));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn batch_sizes(&self) -> (usize, usize) {
        (self.batch_inner, self.batch_outer)
    }

    /// Training rows of inner batch `b` (`None` if out of range).
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f32; 5], &[0; 5], 1)?;
    /// let pb = HyperClean::<f32, 2>::new(d, d, 2, 2)?;
    /// assert_eq!(pb.inner_rows(2), Some(4..5));
    /// assert_eq!(pb.inner_rows(3), None);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn inner_rows(&self, b: usize) -> Option<Range<usize>> {
        batch_range(self.train.len(), self.batch_inner, b)
    }

    /// Validation rows of outer batch `b` (`None` if out of range).
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f32; 5], &[0; 5], 1)?;
    /// assert_eq!(HyperClean::<f32, 2>::new(d, d, 2, 3)?.outer_rows(1), Some(3..5));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn outer_rows(&self, b: usize) -> Option<Range<usize>> {
        batch_range(self.val.len(), self.batch_outer, b)
    }

    fn n(&self) -> usize {
        self.train.len()
    }

    fn q(&self) -> usize {
        self.train.dim * K
    }

    fn n_inner_batches(&self) -> usize {
        self.train.len().div_ceil(self.batch_inner)
    }

    fn n_outer_batches(&self) -> usize {
        self.val.len().div_ceil(self.batch_outer)
    }

    /// `C ‖W‖²_F`.
    fn reg_value(&self, w: &[T]) -> T {
        self.reg * w.iter().fold(T::ZERO, |a, &v| a + v * v)
    }

    /// Runs the softmax batch body on `range` of `data`; `false` if the
    /// backend failed.
    #[allow(clippy::too_many_arguments)]
    fn accumulate<F>(
        &self,
        data: &ClassData<'a, T>,
        range: Range<usize>,
        w: &[T],
        v: Option<&[T]>,
        out: Option<&mut [T]>,
        coef: F,
    ) -> bool
    where
        F: FnMut(usize, usize, &[T; K], &[T; K]) -> [T; K],
    {
        let Some((rows, labels)) = data.slice(range) else { return false };
        let k = SoftmaxAccumulate { rows, labels, dim: data.dim, w, v, out, coef };
        self.backend.run(k).is_ok()
    }

    /// `Σ_{i∈range} weight_i · CE(Wᵀa_i, c_i)`, with `weight_i = σ(x_i)` when
    /// `x` (the slice for `range`) is given, else 1.
    fn weighted_ce_sum(&self, data: &ClassData<'a, T>, range: Range<usize>, w: &[T], x: Option<&[T]>) -> T {
        let mut sum = T::ZERO;
        let ok = self.accumulate(data, range, w, None, None, |r, c, z, _| {
            let lse = log_sum_exp(z);
            let loss = lse - z.get(c).copied().unwrap_or(T::NAN_T);
            let wt = match x {
                Some(x) => sigmoid(x.get(r).copied().unwrap_or(T::NAN_T)),
                None => T::ONE,
            };
            sum += wt * loss;
            [T::ZERO; K]
        });
        if ok { sum } else { T::NAN_T }
    }

    /// Inner loss on batch `b`:
    /// `(1/|b|) Σ_{i∈b} σ(x_i) CE(Wᵀa_i, c_i) + C‖W‖²_F`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `x` (`n`) or `w` (`d·K`);
    /// [`Error::IndexOutOfRange`] if `b >= n_inner()`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// let g = pb.loss_g_batch(&[0.0], &[1.0, 0.0], 0)?;
    /// let ce = (1.0f64.exp() + 1.0).ln() - 1.0;
    /// assert!((g - (0.5 * ce + 0.2)).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_g_batch(&self, x: &[T], w: &[T], b: usize) -> Result<T, Error> {
        check_len("x", self.n(), x.len())?;
        check_len("w", self.q(), w.len())?;
        let r = self.inner_rows(b).ok_or(Error::IndexOutOfRange {
            what: "inner batch",
            index: b,
            len: self.n_inner_batches(),
        })?;
        let inv = T::ONE / T::from_usize(r.len());
        let xb = x.get(r.clone());
        Ok(self.weighted_ce_sum(&self.train, r, w, xb) * inv + self.reg_value(w))
    }

    /// Outer loss on batch `b`: `(1/|b|) Σ_{j∈b} CE(Wᵀb_j, c'_j)`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `w`; [`Error::IndexOutOfRange`]
    /// if `b >= n_outer()`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// assert_eq!(pb.loss_f_batch(&[0.0, 0.0], 0)?, core::f64::consts::LN_2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_f_batch(&self, w: &[T], b: usize) -> Result<T, Error> {
        check_len("w", self.q(), w.len())?;
        let r = self.outer_rows(b).ok_or(Error::IndexOutOfRange {
            what: "outer batch",
            index: b,
            len: self.n_outer_batches(),
        })?;
        let inv = T::ONE / T::from_usize(r.len());
        Ok(self.weighted_ce_sum(&self.val, r, w, None) * inv)
    }

    /// Full inner loss `g(x, W)`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `x` or `w`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64, 2.0], &[0, 1], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// let g = pb.loss_g(&[0.0, 0.0], &[0.0, 0.0])?;
    /// assert_eq!(g, 0.5 * core::f64::consts::LN_2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_g(&self, x: &[T], w: &[T]) -> Result<T, Error> {
        check_len("x", self.n(), x.len())?;
        check_len("w", self.q(), w.len())?;
        let inv = T::ONE / T::from_usize(self.n());
        Ok(self.weighted_ce_sum(&self.train, 0..self.n(), w, Some(x)) * inv + self.reg_value(w))
    }

    /// Full outer loss `f(W)`: the mean cross-entropy on the validation set.
    ///
    /// Errors: [`Error::LengthMismatch`] for `w`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// assert_eq!(pb.loss_f(&[0.0, 0.0])?, core::f64::consts::LN_2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_f(&self, w: &[T]) -> Result<T, Error> {
        self.mean_cross_entropy(w, self.val)
    }

    /// Mean cross-entropy of the classifier `W` on any labeled set with the
    /// problem's feature count (for example a test set).
    ///
    /// Errors: [`Error::LengthMismatch`] for `w` or the data's `dim`;
    /// [`Error::IndexOutOfRange`] for a label `>= K`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// let test = ClassData::new(&[1.0f64, 1.0], &[1, 1], 1)?;
    /// let ce = pb.mean_cross_entropy(&[1.0, 0.0], test)?;
    /// assert!((ce - ((1.0f64.exp() + 1.0).ln())).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn mean_cross_entropy(&self, w: &[T], data: ClassData<'_, T>) -> Result<T, Error> {
        check_len("w", self.q(), w.len())?;
        check_len("data dim", self.train.dim, data.dim)?;
        data.check_labels("label", K)?;
        let mut sum = T::ZERO;
        let k = SoftmaxAccumulate {
            rows: data.features,
            labels: data.labels,
            dim: data.dim,
            w,
            v: None,
            out: None,
            coef: |_, c: usize, z: &[T; K], _: &[T; K]| {
                sum += log_sum_exp(z) - z.get(c).copied().unwrap_or(T::NAN_T);
                [T::ZERO; K]
            },
        };
        self.backend.run(k)?;
        Ok(sum / T::from_usize(data.len()))
    }

    /// Fraction of samples of `data` whose label is the arg-max of `Wᵀa`
    /// (ties go to the smaller class).
    ///
    /// Errors: as [`mean_cross_entropy`](Self::mean_cross_entropy).
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64, -1.0, 2.0], &[0, 1, 1], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// // Scores (a, −a): class 0 for a > 0.
    /// assert_eq!(pb.accuracy(&[1.0, -1.0], d)?, 2.0 / 3.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn accuracy(&self, w: &[T], data: ClassData<'_, T>) -> Result<f64, Error> {
        check_len("w", self.q(), w.len())?;
        check_len("data dim", self.train.dim, data.dim)?;
        data.check_labels("label", K)?;
        let mut correct = 0usize;
        let k = SoftmaxAccumulate {
            rows: data.features,
            labels: data.labels,
            dim: data.dim,
            w,
            v: None,
            out: None,
            coef: |_, c: usize, z: &[T; K], _: &[T; K]| {
                correct += usize::from(argmax(z) == c);
                [T::ZERO; K]
            },
        };
        self.backend.run(k)?;
        Ok(correct as f64 / data.len() as f64)
    }

    /// The per-sample quantities of training sample `i` (see [`InnerCoefs`])
    /// at `(x, W)` and, if given, direction `V` (`d·K`, row-major).
    ///
    /// Errors: [`Error::LengthMismatch`] for `x`, `w` or `v`;
    /// [`Error::IndexOutOfRange`] if `i >= n`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[2.0f64], &[1], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// let c = pb.inner_coefs(&[0.0], &[0.0, 0.0], Some(&[1.0, 0.0]), 0)?;
    /// // u = (2, 0), r = (½, −½), s' = ¼: cross = ¼ · 1.
    /// assert_eq!(c.cross, 0.25);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn inner_coefs(
        &self,
        x: &[T],
        w: &[T],
        v: Option<&[T]>,
        i: usize,
    ) -> Result<InnerCoefs<T, K>, Error> {
        check_len("x", self.n(), x.len())?;
        check_len("w", self.q(), w.len())?;
        if let Some(v) = v {
            check_len("v", self.q(), v.len())?;
        }
        let (a, c, xi) = match (self.train.row(i), self.train.label(i), x.get(i)) {
            (Some(a), Some(c), Some(&xi)) => (a, c, xi),
            _ => return Err(Error::IndexOutOfRange { what: "training sample", index: i, len: self.n() }),
        };
        let z = mat_t_vec::<crate::backend::Plain, T, K>(w.as_chunks::<K>().0, a);
        let u = match v {
            Some(v) => mat_t_vec::<crate::backend::Plain, T, K>(v.as_chunks::<K>().0, a),
            None => [T::ZERO; K],
        };
        Ok(sample_terms(&z, &u, c, xi))
    }

    /// Outer coefficients of validation sample `j`: `π_j − e_{c'_j}`, so that
    /// `∇_W f(x, W; b) = (1/|b|) Σ_{j∈b} b_j ⊗ (π_j − e_{c'_j})`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `w`; [`Error::IndexOutOfRange`]
    /// if `j >= m`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// assert_eq!(pb.outer_grad_coef(&[0.0, 0.0], 0)?, [-0.5, 0.5]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn outer_grad_coef(&self, w: &[T], j: usize) -> Result<[T; K], Error> {
        check_len("w", self.q(), w.len())?;
        let (b, c) = match (self.val.row(j), self.val.label(j)) {
            (Some(b), Some(c)) => (b, c),
            _ => {
                return Err(Error::IndexOutOfRange {
                    what: "validation sample",
                    index: j,
                    len: self.val.len(),
                });
            }
        };
        let z = mat_t_vec::<crate::backend::Plain, T, K>(w.as_chunks::<K>().0, b);
        let (mut r, _) = softmax_k(&z);
        if let Some(rc) = r.get_mut(c) {
            *rc -= T::ONE;
        }
        Ok(r)
    }

    /// The deterministic part of `∇_W g`: `out ← 2C W`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `w` or `out`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// # let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// # let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// let mut out = [0.0; 2];
    /// pb.reg_grad_w(&[1.0, -2.0], &mut out)?;
    /// assert_eq!(out, [0.4, -0.8]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn reg_grad_w(&self, w: &[T], out: &mut [T]) -> Result<(), Error> {
        check_len("w", self.q(), w.len())?;
        check_len("out", self.q(), out.len())?;
        let c2 = self.reg + self.reg;
        for (o, &v) in out.iter_mut().zip(w) {
            *o = c2 * v;
        }
        Ok(())
    }

    /// The deterministic part of `∇²_WW g · V`: `out ← 2C V`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `v` or `out`.
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::{ClassData, HyperClean};
    /// # let d = ClassData::new(&[1.0f64], &[0], 1)?;
    /// # let pb = HyperClean::<f64, 2>::new(d, d, 1, 1)?;
    /// let mut out = [0.0; 2];
    /// pb.reg_hvp(&[1.0, 0.5], &mut out)?;
    /// assert_eq!(out, [0.4, 0.2]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn reg_hvp(&self, v: &[T], out: &mut [T]) -> Result<(), Error> {
        self.reg_grad_w(v, out)
    }

    /// `out += 2C w`.
    fn add_reg(&self, w: &[T], out: &mut [T]) {
        let c2 = self.reg + self.reg;
        for (o, &v) in out.iter_mut().zip(w) {
            *o += c2 * v;
        }
    }
}

/// Index of the largest entry (the first on ties; NaN entries never win).
#[inline]
fn argmax<T: Float>(z: &[T]) -> usize {
    let mut best = 0;
    let mut bv = -T::INFINITY_T;
    for (j, &v) in z.iter().enumerate() {
        if v > bv {
            best = j;
            bv = v;
        }
    }
    best
}

impl<T: Float, const K: usize> Problem<T> for HyperClean<'_, T, K> {
    /// Batch index (see [`HyperClean::inner_rows`], [`HyperClean::outer_rows`]).
    type Sample = usize;

    fn dim_x(&self) -> usize {
        self.n()
    }

    fn dim_y(&self) -> usize {
        self.q()
    }

    /// A uniform inner batch index.
    fn sample_inner<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        uniform_index(rng, self.n_inner_batches())
    }

    /// A uniform outer batch index.
    fn sample_outer<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        uniform_index(rng, self.n_outer_batches())
    }
}

impl<T: Float, const K: usize> FirstOrder<T> for HyperClean<'_, T, K> {
    /// `gx ← (1/|b|) s'_i ℓ_i` on the batch's coordinates, 0 elsewhere;
    /// `gW ← (1/|b|) Σ_{i∈b} σ(x_i) a_i r_iᵀ + 2C W` (§10.3).
    fn grad_g(&self, x: &[T], w: &[T], s: &usize, mut gx: Option<&mut [T]>, mut gw: Option<&mut [T]>) {
        let (n, q) = (self.n(), self.q());
        let ok = x.len() == n && w.len() == q && fits(&gx, n) && fits(&gw, q);
        let Some(range) = self.inner_rows(*s).filter(|_| ok) else { return poison([gx, gw]) };
        if gx.is_none() && gw.is_none() {
            return;
        }
        let inv = T::ONE / T::from_usize(range.len());
        let xb = x.get(range.clone()).unwrap_or(&[]);
        if let Some(g) = gx.as_deref_mut() {
            g.fill(T::ZERO);
        }
        let mut gxb = gx.as_deref_mut().and_then(|g| g.get_mut(range.clone()));
        let coef = |r: usize, c: usize, z: &[T; K], u: &[T; K]| {
            let xi = xb.get(r).copied().unwrap_or(T::NAN_T);
            let t = sample_terms(z, u, c, xi);
            if let Some(slot) = gxb.as_deref_mut().and_then(|g| g.get_mut(r)) {
                *slot = t.grad_x * inv;
            }
            t.grad_w.map(|v| v * inv)
        };
        if !self.accumulate(&self.train, range, w, None, gw.as_deref_mut(), coef) {
            return poison([gx, gw]);
        }
        if let Some(gw) = gw {
            self.add_reg(w, gw);
        }
    }

    /// `fx ← 0`, `fW ← (1/|b|) Σ_{j∈b} b_j (π_j − e_{c'_j})ᵀ` (§10.3).
    fn grad_f(&self, x: &[T], w: &[T], s: &usize, fx: Option<&mut [T]>, fw: Option<&mut [T]>) {
        let (n, q) = (self.n(), self.q());
        let ok = x.len() == n && w.len() == q && fits(&fx, n) && fits(&fw, q);
        let Some(range) = self.outer_rows(*s).filter(|_| ok) else { return poison([fx, fw]) };
        if let Some(fw) = fw {
            let inv = T::ONE / T::from_usize(range.len());
            let coef = |_, c: usize, z: &[T; K], _: &[T; K]| {
                let (mut r, _) = softmax_k(z);
                if let Some(rc) = r.get_mut(c) {
                    *rc -= T::ONE;
                }
                r.map(|v| v * inv)
            };
            if !self.accumulate(&self.val, range, w, None, Some(&mut *fw), coef) {
                return poison([fx, Some(fw)]);
            }
        }
        if let Some(fx) = fx {
            fx.fill(T::ZERO);
        }
    }
}

impl<T: Float, const K: usize> SecondOrder<T> for HyperClean<'_, T, K> {
    /// `hv ← (1/|b|) Σ_{i∈b} σ(x_i) a_i (π_i⊙u_i − π_i⟨π_i,u_i⟩)ᵀ + 2C V`,
    /// `jv ← (1/|b|) s'_i u_iᵀ r_i` on the batch's coordinates, 0 elsewhere
    /// (§10.3, `u_i = Vᵀa_i`).
    fn hvp_jvp_g(
        &self,
        x: &[T],
        w: &[T],
        v: &[T],
        s: &usize,
        mut hv: Option<&mut [T]>,
        mut jv: Option<&mut [T]>,
    ) {
        let (n, q) = (self.n(), self.q());
        let ok = x.len() == n && w.len() == q && v.len() == q && fits(&hv, q) && fits(&jv, n);
        let Some(range) = self.inner_rows(*s).filter(|_| ok) else { return poison([hv, jv]) };
        if hv.is_none() && jv.is_none() {
            return;
        }
        let inv = T::ONE / T::from_usize(range.len());
        let xb = x.get(range.clone()).unwrap_or(&[]);
        if let Some(j) = jv.as_deref_mut() {
            j.fill(T::ZERO);
        }
        let mut jvb = jv.as_deref_mut().and_then(|j| j.get_mut(range.clone()));
        let coef = |r: usize, c: usize, z: &[T; K], u: &[T; K]| {
            let xi = xb.get(r).copied().unwrap_or(T::NAN_T);
            let t = sample_terms(z, u, c, xi);
            if let Some(slot) = jvb.as_deref_mut().and_then(|j| j.get_mut(r)) {
                *slot = t.cross * inv;
            }
            t.hvp_w.map(|v| v * inv)
        };
        if !self.accumulate(&self.train, range, w, Some(v), hv.as_deref_mut(), coef) {
            return poison([hv, jv]);
        }
        if let Some(hv) = hv {
            self.add_reg(v, hv);
        }
    }
}

impl<T: Float, const K: usize> FiniteSum<T> for HyperClean<'_, T, K> {
    fn n_inner(&self) -> usize {
        self.n_inner_batches()
    }

    fn n_outer(&self) -> usize {
        self.n_outer_batches()
    }

    fn inner_batch(&self, i: usize) -> usize {
        i
    }

    fn outer_batch(&self, j: usize) -> usize {
        j
    }

    /// `|batch_i| / n` (0 when `i` is out of range).
    fn inner_weight(&self, i: usize) -> T {
        self.inner_rows(i).map_or(T::ZERO, |r| T::from_usize(r.len()) / T::from_usize(self.n()))
    }

    /// `|batch_j| / m` (0 when `j` is out of range).
    fn outer_weight(&self, j: usize) -> T {
        self.outer_rows(j).map_or(T::ZERO, |r| T::from_usize(r.len()) / T::from_usize(self.val.len()))
    }
}

// ---------------------------------------------------------------------------
// Detection of corrupted labels

/// Confusion counts of the rule "sample `i` is corrupted when `σ(x_i) < ½`"
/// against a true corruption mask (positive = corrupted).
///
/// ```
/// use bilevel::problems::hyperclean::detection_scores;
/// let s = detection_scores(&[-1.0f64, -1.0, 2.0, 3.0], &[true, false, true, false])?;
/// assert_eq!((s.true_positives, s.false_positives, s.false_negatives, s.true_negatives), (1, 1, 1, 1));
/// assert_eq!((s.precision(), s.recall()), (Some(0.5), Some(0.5)));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectionScores {
    /// Flagged and corrupted.
    pub true_positives: usize,
    /// Flagged but clean.
    pub false_positives: usize,
    /// Corrupted but not flagged.
    pub false_negatives: usize,
    /// Clean and not flagged.
    pub true_negatives: usize,
}

impl DetectionScores {
    /// `TP / (TP + FP)`, or `None` when nothing is flagged.
    ///
    /// ```
    /// use bilevel::problems::hyperclean::DetectionScores;
    /// let s = DetectionScores { true_positives: 3, false_positives: 1, ..Default::default() };
    /// assert_eq!(s.precision(), Some(0.75));
    /// assert_eq!(DetectionScores::default().precision(), None);
    /// ```
    pub fn precision(&self) -> Option<f64> {
        let flagged = self.true_positives + self.false_positives;
        (flagged > 0).then(|| self.true_positives as f64 / flagged as f64)
    }

    /// `TP / (TP + FN)`, or `None` when nothing is corrupted.
    ///
    /// ```
    /// use bilevel::problems::hyperclean::DetectionScores;
    /// let s = DetectionScores { true_positives: 1, false_negatives: 3, ..Default::default() };
    /// assert_eq!(s.recall(), Some(0.25));
    /// ```
    pub fn recall(&self) -> Option<f64> {
        let corrupted = self.true_positives + self.false_negatives;
        (corrupted > 0).then(|| self.true_positives as f64 / corrupted as f64)
    }
}

/// Scores the rule `σ(x_i) < ½` (sample flagged as corrupted) against the true
/// corruption mask `corrupted`.
///
/// Errors: [`Error::LengthMismatch`] if `corrupted.len() != x.len()`.
///
/// ```
/// use bilevel::problems::hyperclean::detection_scores;
/// let s = detection_scores(&[-5.0f32, 5.0], &[true, false])?;
/// assert_eq!((s.precision(), s.recall()), (Some(1.0), Some(1.0)));
/// # Ok::<(), bilevel::Error>(())
/// ```
pub fn detection_scores<T: Float>(x: &[T], corrupted: &[bool]) -> Result<DetectionScores, Error> {
    check_len("corrupted", x.len(), corrupted.len())?;
    let mut s = DetectionScores::default();
    for (&xi, &bad) in x.iter().zip(corrupted) {
        let flagged = sigmoid(xi) < T::HALF;
        match (flagged, bad) {
            (true, true) => s.true_positives += 1,
            (true, false) => s.false_positives += 1,
            (false, true) => s.false_negatives += 1,
            (false, false) => s.true_negatives += 1,
        }
    }
    Ok(s)
}

// ---------------------------------------------------------------------------
// Data pipeline (alloc)

#[cfg(feature = "alloc")]
pub use pipeline::{
    CleaningData, DIGITS_CLASSES, DIGITS_FEATURES, DIGITS_ROWS, Dataset, Split, Standardizer, corrupt_labels,
    parse_csv, parse_digits,
};

#[cfg(feature = "alloc")]
mod pipeline {
    use alloc::vec::Vec;

    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::{ClassData, HyperClean};
    use crate::error::{Error, check_len};
    use crate::oracles::uniform_index;
    use crate::{Float, problems::data::check_features};

    /// Rows of the bundled digits file (`data/digits.csv.gz`).
    ///
    /// ```
    /// assert_eq!(bilevel::problems::hyperclean::DIGITS_ROWS, 1797);
    /// ```
    pub const DIGITS_ROWS: usize = 1797;
    /// Features (8×8 pixels, each `0..=16`) of the digits data.
    ///
    /// ```
    /// assert_eq!(bilevel::problems::hyperclean::DIGITS_FEATURES, 64);
    /// ```
    pub const DIGITS_FEATURES: usize = 64;
    /// Classes (digits `0..=9`) of the digits data.
    ///
    /// ```
    /// assert_eq!(bilevel::problems::hyperclean::DIGITS_CLASSES, 10);
    /// ```
    pub const DIGITS_CLASSES: usize = 10;

    /// Owned multiclass data: row-major features and class labels. May be
    /// empty (for example the test part of a split that uses every row).
    ///
    /// ```
    /// use bilevel::problems::hyperclean::Dataset;
    /// let d = Dataset::new(vec![1.0f64, 2.0, 3.0, 4.0], vec![0, 1], 2)?;
    /// assert_eq!(d.view()?.row(1), Some(&[3.0, 4.0][..]));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[derive(Clone, Debug, PartialEq)]
    pub struct Dataset<T> {
        features: Vec<T>,
        labels: Vec<usize>,
        dim: usize,
    }

    impl<T: Float> Dataset<T> {
        /// Owned data from row-major `features` (`labels.len() · dim`) and
        /// `labels`.
        ///
        /// Errors: [`Error::Empty`] if `dim == 0`;
        /// [`Error::LengthMismatch`] / [`Error::NonFinite`] as
        /// [`ClassData::new`].
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert!(Dataset::new(vec![1.0f64], vec![0, 1], 1).is_err());
        /// assert!(Dataset::<f64>::new(vec![], vec![], 1)?.is_empty());
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn new(features: Vec<T>, labels: Vec<usize>, dim: usize) -> Result<Self, Error> {
            if !labels.is_empty() {
                check_features("labels", &features, labels.len(), dim)?;
            } else if dim == 0 {
                return Err(Error::Empty { what: "dim" });
            } else {
                check_len("features", 0, features.len())?;
            }
            Ok(Dataset { features, labels, dim })
        }

        /// Borrowed view for [`HyperClean`].
        ///
        /// Errors: [`Error::Empty`] if there are no rows.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert_eq!(Dataset::new(vec![1.0f64], vec![0], 1)?.view()?.len(), 1);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn view(&self) -> Result<ClassData<'_, T>, Error> {
            if self.labels.is_empty() {
                return Err(Error::Empty { what: "dataset" });
            }
            Ok(ClassData { features: &self.features, labels: &self.labels, dim: self.dim })
        }

        /// Number of rows.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0, 0], 1)?.len(), 2);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn len(&self) -> usize {
            self.labels.len()
        }

        /// `true` when there are no rows.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert!(!Dataset::new(vec![1.0f64], vec![0], 1)?.is_empty());
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn is_empty(&self) -> bool {
            self.labels.is_empty()
        }

        /// Number of features.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0], 2)?.dim(), 2);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn dim(&self) -> usize {
            self.dim
        }

        /// Features, row-major.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0], 2)?.features(), &[1.0, 2.0]);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn features(&self) -> &[T] {
            &self.features
        }

        /// Labels.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0, 7], 1)?.labels(), &[0, 7]);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn labels(&self) -> &[usize] {
            &self.labels
        }

        /// Mutable labels (for example to corrupt them with
        /// [`corrupt_labels`]).
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// let mut d = Dataset::new(vec![1.0f64], vec![0], 1)?;
        /// d.labels_mut()[0] = 3;
        /// assert_eq!(d.labels(), &[3]);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn labels_mut(&mut self) -> &mut [usize] {
            &mut self.labels
        }

        /// Splits into `(features, labels, dim)`.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// let (f, l, d) = Dataset::new(vec![1.0f64], vec![0], 1)?.into_parts();
        /// assert_eq!((f, l, d), (vec![1.0], vec![0], 1));
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn into_parts(self) -> (Vec<T>, Vec<usize>, usize) {
            (self.features, self.labels, self.dim)
        }

        /// The rows `indices`, in that order.
        ///
        /// Errors: [`Error::IndexOutOfRange`] for an index `>= len()`.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// let d = Dataset::new(vec![1.0f64, 2.0, 3.0], vec![0, 1, 2], 1)?;
        /// let s = d.subset(&[2, 0])?;
        /// assert_eq!((s.features(), s.labels()), (&[3.0, 1.0][..], &[2, 0][..]));
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn subset(&self, indices: &[usize]) -> Result<Self, Error> {
            if let Some(&i) = indices.iter().find(|&&i| i >= self.len()) {
                return Err(Error::IndexOutOfRange { what: "row", index: i, len: self.len() });
            }
            let mut features = Vec::with_capacity(indices.len() * self.dim);
            let mut labels = Vec::with_capacity(indices.len());
            for &i in indices {
                let start = i * self.dim;
                features.extend_from_slice(&self.features[start..start + self.dim]);
                labels.push(self.labels[i]);
            }
            Ok(Dataset { features, labels, dim: self.dim })
        }

        /// A seeded random split into `n_train` training rows, `n_val`
        /// validation rows and the rest as test rows (a uniform permutation by
        /// Fisher–Yates on `Xoshiro256PlusPlus::seed_from_u64(seed)`). The
        /// same seed gives the same split.
        ///
        /// Errors: [`Error::InvalidParameter`] if `n_train` or `n_val` is 0 or
        /// `n_train + n_val > len()`.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::Dataset;
        /// let d = Dataset::new((0..10).map(f64::from).collect(), vec![0; 10], 1)?;
        /// let s = d.split(6, 3, 42)?;
        /// assert_eq!((s.train.len(), s.val.len(), s.test.len()), (6, 3, 1));
        /// assert_eq!(s, d.split(6, 3, 42)?);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn split(&self, n_train: usize, n_val: usize, seed: u64) -> Result<Split<T>, Error> {
            let bad = Error::InvalidParameter {
                name: "n_train, n_val",
                requirement: "each at least 1, together at most the number of rows",
            };
            let used = n_train.checked_add(n_val).ok_or(bad)?;
            if n_train == 0 || n_val == 0 || used > self.len() {
                return Err(bad);
            }
            let mut perm: Vec<usize> = (0..self.len()).collect();
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            for i in (1..perm.len()).rev() {
                let j = uniform_index(&mut rng, i + 1);
                perm.swap(i, j);
            }
            Ok(Split {
                train: self.subset(&perm[..n_train])?,
                val: self.subset(&perm[n_train..used])?,
                test: self.subset(&perm[used..])?,
            })
        }
    }

    /// The three parts of [`Dataset::split`].
    ///
    /// ```
    /// # use bilevel::problems::hyperclean::Dataset;
    /// let d = Dataset::new(vec![0.0f64; 4], vec![0; 4], 1)?;
    /// let s = d.split(2, 2, 0)?;
    /// assert!(s.test.is_empty());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[derive(Clone, Debug, PartialEq)]
    pub struct Split<T> {
        /// Training rows.
        pub train: Dataset<T>,
        /// Validation rows.
        pub val: Dataset<T>,
        /// The remaining rows.
        pub test: Dataset<T>,
    }

    /// Per-feature standardization `a_k ← (a_k − mean_k) / sd_k`, fitted on
    /// one set (the training set) and applied to any set. Constant features
    /// (standard deviation at rounding level) are only centered.
    ///
    /// ```
    /// use bilevel::problems::hyperclean::{Dataset, Standardizer};
    /// let mut d = Dataset::new(vec![1.0f64, 5.0, 3.0, 5.0], vec![0, 1], 2)?;
    /// let s = Standardizer::fit(&d)?;
    /// s.apply(&mut d)?;
    /// assert_eq!(d.features(), &[-1.0, 0.0, 1.0, 0.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[derive(Clone, Debug, PartialEq)]
    pub struct Standardizer<T> {
        mean: Vec<T>,
        inv_sd: Vec<T>,
    }

    impl<T: Float> Standardizer<T> {
        /// Fits means and population standard deviations (computed in `f64`,
        /// two passes).
        ///
        /// Errors: [`Error::Empty`] if `data` has no rows.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::{Dataset, Standardizer};
        /// let d = Dataset::new(vec![1.0f64, 3.0], vec![0, 1], 1)?;
        /// let s = Standardizer::fit(&d)?;
        /// assert_eq!((s.mean(), s.inv_sd()), (&[2.0][..], &[1.0][..]));
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn fit(data: &Dataset<T>) -> Result<Self, Error> {
            let (n, d) = (data.len(), data.dim);
            if n == 0 {
                return Err(Error::Empty { what: "dataset" });
            }
            let mut mean = alloc::vec![0.0f64; d];
            let mut max_abs = alloc::vec![0.0f64; d];
            for row in data.features.chunks_exact(d) {
                for ((m, b), &v) in mean.iter_mut().zip(max_abs.iter_mut()).zip(row) {
                    let v = v.to_f64();
                    *m += v;
                    *b = b.max(v.abs());
                }
            }
            for m in mean.iter_mut() {
                *m /= n as f64;
            }
            let mut var = alloc::vec![0.0f64; d];
            for row in data.features.chunks_exact(d) {
                for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(row) {
                    let e = v.to_f64() - m;
                    *s += e * e;
                }
            }
            let inv_sd = var
                .iter()
                .zip(&max_abs)
                .map(|(&s, &b)| {
                    let sd = libm::sqrt(s / n as f64);
                    // Below rounding level the feature is constant: only center it.
                    if sd > 64.0 * f64::EPSILON * b { T::from_f64(1.0 / sd) } else { T::ONE }
                })
                .collect();
            Ok(Standardizer { mean: mean.into_iter().map(T::from_f64).collect(), inv_sd })
        }

        /// Standardizes every row of `data` in place.
        ///
        /// Errors: [`Error::LengthMismatch`] if `data.dim()` differs from the
        /// fitted one.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::{Dataset, Standardizer};
        /// let s = Standardizer::fit(&Dataset::new(vec![0.0f64, 2.0], vec![0, 1], 1)?)?;
        /// let mut test = Dataset::new(vec![3.0f64], vec![0], 1)?;
        /// s.apply(&mut test)?;
        /// assert_eq!(test.features(), &[2.0]);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn apply(&self, data: &mut Dataset<T>) -> Result<(), Error> {
            check_len("data dim", self.mean.len(), data.dim)?;
            for row in data.features.chunks_exact_mut(data.dim) {
                for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.inv_sd) {
                    *v = (*v - m) * s;
                }
            }
            Ok(())
        }

        /// Fitted means.
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::{Dataset, Standardizer};
        /// let s = Standardizer::fit(&Dataset::new(vec![4.0f32], vec![0], 1)?)?;
        /// assert_eq!(s.mean(), &[4.0]);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn mean(&self) -> &[T] {
            &self.mean
        }

        /// Fitted `1 / sd` (1 for constant features).
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::{Dataset, Standardizer};
        /// let s = Standardizer::fit(&Dataset::new(vec![4.0f32], vec![0], 1)?)?;
        /// assert_eq!(s.inv_sd(), &[1.0]);
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn inv_sd(&self) -> &[T] {
            &self.inv_sd
        }
    }

    /// Corrupts exactly `round(fraction · n)` labels, chosen uniformly without
    /// replacement, each replaced by a uniformly random *other* class in
    /// `0..n_classes` (seeded `Xoshiro256PlusPlus`). Returns the mask of
    /// corrupted samples. Validation happens before any label changes.
    ///
    /// Errors: [`Error::InvalidParameter`] if `fraction` is not in `[0, 1]`,
    /// or labels must change and `n_classes < 2`;
    /// [`Error::IndexOutOfRange`] for a label `>= n_classes`.
    ///
    /// ```
    /// use bilevel::problems::hyperclean::corrupt_labels;
    /// let mut labels = vec![0usize, 1, 2, 0, 1, 2, 0, 1, 2, 0];
    /// let clean = labels.clone();
    /// let mask = corrupt_labels(&mut labels, 3, 0.3, 9)?;
    /// assert_eq!(mask.iter().filter(|&&m| m).count(), 3);
    /// for i in 0..10 {
    ///     assert_eq!(mask[i], labels[i] != clean[i]);
    /// }
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn corrupt_labels(
        labels: &mut [usize],
        n_classes: usize,
        fraction: f64,
        seed: u64,
    ) -> Result<Vec<bool>, Error> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(Error::InvalidParameter { name: "fraction", requirement: "in [0, 1]" });
        }
        if let Some(&c) = labels.iter().find(|&&c| c >= n_classes) {
            return Err(Error::IndexOutOfRange { what: "label", index: c, len: n_classes });
        }
        let n = labels.len();
        let count = (libm::round(fraction * n as f64) as usize).min(n);
        if count > 0 && n_classes < 2 {
            return Err(Error::InvalidParameter {
                name: "n_classes",
                requirement: "at least 2 to corrupt labels",
            });
        }
        let mut mask = alloc::vec![false; n];
        let mut perm: Vec<usize> = (0..n).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for t in 0..count {
            let j = t + uniform_index(&mut rng, n - t);
            perm.swap(t, j);
            let i = perm[t];
            mask[i] = true;
            labels[i] = (labels[i] + 1 + uniform_index(&mut rng, n_classes - 1)) % n_classes;
        }
        Ok(mask)
    }

    /// Parses CSV text: one sample per line, `n_features` numeric feature
    /// columns then an integer class label `< n_classes`, comma-separated,
    /// no header. Blank lines are skipped; spaces around values are allowed.
    ///
    /// Errors: [`Error::Empty`] if there is no row, `n_features == 0` or
    /// `n_classes == 0`. A malformed line is reported as [`Error::Parse`]
    /// with its 1-based line number and the reason: wrong number of columns,
    /// a feature that is not a finite number, or a label that is not an
    /// integer in `0..n_classes`.
    ///
    /// ```
    /// use bilevel::{Error, problems::hyperclean::parse_csv};
    /// let d = parse_csv::<f64>("1,2,0\n3,4,1\n", 2, 2)?;
    /// assert_eq!((d.features(), d.labels()), (&[1.0, 2.0, 3.0, 4.0][..], &[0, 1][..]));
    /// let err = parse_csv::<f64>("1,2,0\n3,x,1\n", 2, 2).unwrap_err();
    /// assert!(matches!(err, Error::Parse { line: 2, .. }));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn parse_csv<T: Float>(text: &str, n_features: usize, n_classes: usize) -> Result<Dataset<T>, Error> {
        if n_features == 0 {
            return Err(Error::Empty { what: "n_features" });
        }
        if n_classes == 0 {
            return Err(Error::Empty { what: "n_classes" });
        }
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for (line_no, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: &'static str| Error::Parse { line: line_no + 1, reason };
            if line.split(',').count() != n_features + 1 {
                return Err(bad("csv line with the wrong number of columns"));
            }
            let mut fields = line.split(',');
            for field in fields.by_ref().take(n_features) {
                match field.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => features.push(T::from_f64(v)),
                    _ => return Err(bad("csv line with a feature that is not a finite number")),
                }
            }
            match fields.next().map(|f| f.trim().parse::<usize>()) {
                Some(Ok(c)) if c < n_classes => labels.push(c),
                _ => return Err(bad("csv line with a label that is not an integer in 0..n_classes")),
            }
        }
        if labels.is_empty() {
            return Err(Error::Empty { what: "csv" });
        }
        Ok(Dataset { features, labels, dim: n_features })
    }

    /// Parses the UCI optical digits CSV (64 pixel columns, label `0..=9`;
    /// the repository ships it gzipped as `data/digits.csv.gz`, see
    /// `data/README.md` for its licence and attribution).
    ///
    /// Errors: as [`parse_csv`].
    ///
    /// ```
    /// use bilevel::problems::hyperclean::parse_digits;
    /// let row = format!("{}9\n", "0,".repeat(64));
    /// let d = parse_digits::<f32>(&row)?;
    /// assert_eq!((d.len(), d.dim(), d.labels()[0]), (1, 64, 9));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn parse_digits<T: Float>(text: &str) -> Result<Dataset<T>, Error> {
        parse_csv(text, DIGITS_FEATURES, DIGITS_CLASSES)
    }

    /// The prepared hyper-cleaning experiment: a seeded split, features
    /// standardized with the training set's statistics, and a seeded fraction
    /// of the training labels corrupted (§10.3 "Data").
    ///
    /// ```
    /// use bilevel::problems::hyperclean::{CleaningData, Dataset};
    /// let data = Dataset::new((0..40).map(f64::from).collect(), (0..20).map(|i| i % 2).collect(), 2)?;
    /// let exp = CleaningData::prepare(&data, 2, 10, 6, 0.5, 3)?;
    /// assert_eq!(exp.corrupted.iter().filter(|&&c| c).count(), 5);
    /// let pb = exp.problem::<2>(5, 6)?;
    /// assert_eq!(bilevel::oracles::Problem::<f64>::dim_x(&pb), 10);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[derive(Clone, Debug, PartialEq)]
    pub struct CleaningData<T> {
        /// Training set with corrupted labels.
        pub train: Dataset<T>,
        /// Clean validation set.
        pub val: Dataset<T>,
        /// Clean test set (the remaining rows; may be empty).
        pub test: Dataset<T>,
        /// `corrupted[i]`: training label `i` was changed.
        pub corrupted: Vec<bool>,
        /// The training labels before corruption.
        pub clean_train_labels: Vec<usize>,
        /// The standardization fitted on the training set.
        pub standardizer: Standardizer<T>,
    }

    impl<T: Float> CleaningData<T> {
        /// Splits `data` (seed `seed`), standardizes all parts with the
        /// training statistics, and corrupts `round(fraction · n_train)`
        /// training labels among `n_classes` (seed `seed + 1`).
        ///
        /// Errors: as [`Dataset::split`] and [`corrupt_labels`].
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::{CleaningData, Dataset};
        /// let data = Dataset::new(vec![0.0f64; 8], vec![0, 1, 0, 1, 0, 1, 0, 1], 1)?;
        /// assert!(CleaningData::prepare(&data, 2, 4, 4, 1.5, 0).is_err());
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn prepare(
            data: &Dataset<T>,
            n_classes: usize,
            n_train: usize,
            n_val: usize,
            fraction: f64,
            seed: u64,
        ) -> Result<Self, Error> {
            let Split { mut train, mut val, mut test } = data.split(n_train, n_val, seed)?;
            let clean_train_labels = train.labels.clone();
            let corrupted = corrupt_labels(&mut train.labels, n_classes, fraction, seed.wrapping_add(1))?;
            let standardizer = Standardizer::fit(&train)?;
            standardizer.apply(&mut train)?;
            standardizer.apply(&mut val)?;
            standardizer.apply(&mut test)?;
            Ok(CleaningData { train, val, test, corrupted, clean_train_labels, standardizer })
        }

        /// The bilevel problem on the corrupted training set and the clean
        /// validation set (see [`HyperClean::new`]).
        ///
        /// ```
        /// # use bilevel::problems::hyperclean::{CleaningData, Dataset};
        /// let data = Dataset::new(vec![0.0f64, 1.0, 2.0, 3.0], vec![0, 1, 0, 1], 1)?;
        /// let exp = CleaningData::prepare(&data, 2, 2, 2, 0.0, 0)?;
        /// assert!(exp.problem::<2>(1, 1).is_ok());
        /// # Ok::<(), bilevel::Error>(())
        /// ```
        pub fn problem<const K: usize>(
            &self,
            batch_inner: usize,
            batch_outer: usize,
        ) -> Result<HyperClean<'_, T, K>, Error> {
            HyperClean::new(self.train.view()?, self.val.view()?, batch_inner, batch_outer)
        }
    }
}
