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
//! The data pipeline of the experiment (CSV parsing, the UCI digits shipped
//! in `data/digits.csv.gz`, splits, standardization, label corruption and
//! `CleaningData::prepare`, which chains them) is in `crate::pipeline`
//! (feature `alloc`).
//!
//! ```
//! use bilevel::oracles::{FirstOrder, Problem};
//! use bilevel_problems::hyperclean::{ClassData, HyperClean};
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

use bilevel::Float;
use bilevel::backend::Backend;
use bilevel::error::{Error, check_len};
use bilevel::oracles::{FiniteSum, FirstOrder, InnerEval, Problem, SecondOrder, fits, poison, uniform_index};
use rand_core::Rng;

pub use crate::data::Labeled;
use crate::logistic::{logistic_loss_d2, sigmoid};
use crate::softmax::{SoftmaxAccumulate, log_sum_exp, mat_t_vec, softmax_k};
use crate::util::{batch_range, check_batch};

/// The default regularization `C = 0.2` of the inner loss (benchopt's value,
/// §10.3; FdeHBO's was not found). Strong convexity `μ_g = 2C`.
///
/// ```
/// assert_eq!(bilevel_problems::hyperclean::DEFAULT_REG, 0.2);
/// ```
pub const DEFAULT_REG: f64 = 0.2;

// ---------------------------------------------------------------------------
// Data

/// Borrowed multiclass data: `len()` rows of `dim()` features stored
/// row-major, and class labels (checked against `K` by [`HyperClean::new`]).
///
/// ```
/// use bilevel_problems::hyperclean::ClassData;
/// let d = ClassData::new(&[1.0f64, 2.0, 3.0, 4.0], &[0, 2], 2)?;
/// assert_eq!((d.len(), d.dim()), (2, 2));
/// assert_eq!(d.row(1), Some(&[3.0, 4.0][..]));
/// assert_eq!(d.label(1), Some(2));
/// # Ok::<(), bilevel::Error>(())
/// ```
pub type ClassData<'a, T> = Labeled<'a, T, usize>;

impl<T: Float> Labeled<'_, T, usize> {
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
/// use bilevel_problems::hyperclean::{ClassData, HyperClean};
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

// ---------------------------------------------------------------------------
// The problem

/// The data hyper-cleaning problem of §10.3 on borrowed data, `K` classes,
/// regularization `C` (default [`DEFAULT_REG`]), fixed batch sizes (see the
/// [module docs](self)).
///
/// ```
/// use bilevel::oracles::SecondOrder;
/// use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel::Backend;
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel::Backend;
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
        outs: [Option<&mut [T]>; 2],
        coef: F,
    ) -> bool
    where
        F: FnMut(usize, usize, &[T; K], &[T; K]) -> [[T; K]; 2],
    {
        let Some((rows, labels)) = data.slice(range) else { return false };
        let k = SoftmaxAccumulate { rows, labels, dim: data.dim, w, v, outs, coef };
        self.backend.run(k).is_ok()
    }

    /// `Σ_{i∈range} weight_i · CE(Wᵀa_i, c_i)`, with `weight_i = σ(x_i)` when
    /// `x` (the slice for `range`) is given, else 1.
    fn weighted_ce_sum(&self, data: &ClassData<'a, T>, range: Range<usize>, w: &[T], x: Option<&[T]>) -> T {
        let mut sum = T::ZERO;
        let ok = self.accumulate(data, range, w, None, [None, None], |r, c, z, _| {
            let lse = log_sum_exp(z);
            let loss = lse - z.get(c).copied().unwrap_or(T::NAN_T);
            let wt = match x {
                Some(x) => sigmoid(x.get(r).copied().unwrap_or(T::NAN_T)),
                None => T::ONE,
            };
            sum += wt * loss;
            [[T::ZERO; K]; 2]
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
            outs: [None, None],
            coef: |_, c: usize, z: &[T; K], _: &[T; K]| {
                sum += log_sum_exp(z) - z.get(c).copied().unwrap_or(T::NAN_T);
                [[T::ZERO; K]; 2]
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
            outs: [None, None],
            coef: |_, c: usize, z: &[T; K], _: &[T; K]| {
                correct += usize::from(argmax(z) == c);
                [[T::ZERO; K]; 2]
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
        let z = mat_t_vec::<bilevel::backend::Plain, T, K>(w.as_chunks::<K>().0, a);
        let u = match v {
            Some(v) => mat_t_vec::<bilevel::backend::Plain, T, K>(v.as_chunks::<K>().0, a),
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
        let z = mat_t_vec::<bilevel::backend::Plain, T, K>(w.as_chunks::<K>().0, b);
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
    /// # use bilevel_problems::hyperclean::{ClassData, HyperClean};
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
            [t.grad_w.map(|v| v * inv), [T::ZERO; K]]
        };
        if !self.accumulate(&self.train, range, w, None, [gw.as_deref_mut(), None], coef) {
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
                [r.map(|v| v * inv), [T::ZERO; K]]
            };
            if !self.accumulate(&self.val, range, w, None, [Some(&mut *fw), None], coef) {
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
            [t.hvp_w.map(|v| v * inv), [T::ZERO; K]]
        };
        if !self.accumulate(&self.train, range, w, Some(v), [hv.as_deref_mut(), None], coef) {
            return poison([hv, jv]);
        }
        if let Some(hv) = hv {
            self.add_reg(v, hv);
        }
    }

    /// Every requested inner quantity in one pass over the batch rows: each
    /// row's `Wᵀa`, `Vᵀa` and per-sample terms serve the `W`-gradient, the
    /// HVP, and the batch coordinates of the `x`-gradient and the cross
    /// product, with the same values as the split calls bit for bit.
    fn inner_eval(&self, x: &[T], w: &[T], v: &[T], s: &usize, out: InnerEval<'_, T>) {
        let InnerEval { grad_y: mut gw, grad_x: mut gx, hvp: mut hv, jvp: mut jv } = out;
        let (n, q) = (self.n(), self.q());
        let ok = x.len() == n && w.len() == q && v.len() == q;
        let ok = ok && fits(&gw, q) && fits(&hv, q) && fits(&gx, n) && fits(&jv, n);
        let Some(range) = self.inner_rows(*s).filter(|_| ok) else {
            poison([gw, hv]);
            return poison([gx, jv]);
        };
        let inv = T::ONE / T::from_usize(range.len());
        let xb = x.get(range.clone()).unwrap_or(&[]);
        for o in [gx.as_deref_mut(), jv.as_deref_mut()].into_iter().flatten() {
            o.fill(T::ZERO);
        }
        let mut gxb = gx.as_deref_mut().and_then(|g| g.get_mut(range.clone()));
        let mut jvb = jv.as_deref_mut().and_then(|j| j.get_mut(range.clone()));
        let coef = |r: usize, c: usize, z: &[T; K], u: &[T; K]| {
            let xi = xb.get(r).copied().unwrap_or(T::NAN_T);
            let t = sample_terms(z, u, c, xi);
            if let Some(slot) = gxb.as_deref_mut().and_then(|g| g.get_mut(r)) {
                *slot = t.grad_x * inv;
            }
            if let Some(slot) = jvb.as_deref_mut().and_then(|j| j.get_mut(r)) {
                *slot = t.cross * inv;
            }
            [t.grad_w.map(|v| v * inv), t.hvp_w.map(|v| v * inv)]
        };
        if !self.accumulate(&self.train, range, w, Some(v), [gw.as_deref_mut(), hv.as_deref_mut()], coef) {
            poison([gw, hv]);
            return poison([gx, jv]);
        }
        if let Some(gw) = gw {
            self.add_reg(w, gw);
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
