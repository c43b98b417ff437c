//! Hyperparameter selection for logistic regression with one regularization
//! strength per feature: the IJCNN1 experiment of SOBA/SABA (ALGORITHMS.md §10.2).
//!
//! With training data `(a_i, c_i)`, `i < n`, validation data `(b_j, c'_j)`,
//! `j < m`, labels in `{−1, +1}` and `ℓ(s) = log(1 + e^{−s})`:
//!
//! ```text
//! g(x, y) = (1/n) Σ_i ℓ(c_i a_iᵀy) + ½ Σ_k e^{x_k} y_k²      (inner, y = weights)
//! f(x, y) = (1/m) Σ_j ℓ(c'_j b_jᵀy)                          (outer, x = log-regularization)
//! ```
//!
//! `p = q = d`. The data is borrowed ([`BinaryData`]: row-major features and
//! ±1 labels), so the problem works without `alloc`. A minibatch
//! ([`Problem::Sample`]) is a batch index into contiguous batches of a fixed
//! size `B`: batch `b` holds rows `b·B .. min((b+1)·B, N)`, so only the last
//! batch may be smaller. Shuffle the data once beforehand if its order is not
//! random. Like benchopt, every batch loss of `g` contains the whole
//! regularizer; [`FiniteSum`] weights batches by `|batch| / N`, so the weighted
//! mean of the batch losses (and gradients) is exactly `g` (and `∇g`).
//!
//! For SABA's scalar SAGA memory (§9.4 "Scalar memory") the per-sample
//! coefficients and the deterministic terms are exposed separately:
//! [`LogisticHyper::inner_grad_coef`], [`LogisticHyper::inner_hvp_coef`],
//! [`LogisticHyper::outer_grad_coef`], [`LogisticHyper::reg_grad_y`],
//! [`LogisticHyper::reg_hvp`], [`LogisticHyper::reg_grad_x`],
//! [`LogisticHyper::reg_jvp`].
//!
//! Oracles called with a wrong buffer length or a batch index out of range
//! cannot return an error (the trait methods return nothing); they fill every
//! requested output with NaN instead, which solvers report as divergence.
//!
//! ```
//! use bilevel::oracles::{FirstOrder, FiniteSum, Problem};
//! use bilevel_problems::logistic::{BinaryData, LogisticHyper};
//!
//! // Four training and two validation samples with two features.
//! let train = BinaryData::new(&[1.0f64, 0.0, 0.0, 1.0, -1.0, 0.5, 0.5, -1.0], &[1.0, 1.0, -1.0, -1.0], 2)?;
//! let val = BinaryData::new(&[1.0, 1.0, -1.0, -1.0], &[1.0, -1.0], 2)?;
//! let pb = LogisticHyper::new(train, val, 3, 2)?;
//! assert_eq!((pb.dim_x(), pb.dim_y(), pb.n_inner(), pb.n_outer()), (2, 2, 2, 1));
//! assert_eq!(pb.inner_weight(1), 0.25); // the last batch holds one of four samples
//!
//! let (x, y) = ([0.0, 0.0], [0.0, 0.0]);
//! let mut gy = [0.0; 2];
//! pb.grad_g(&x, &y, &0, None, Some(&mut gy));
//! // At y = 0 every ℓ'(0) = −½: gy = −½ · mean of c_i a_i over rows 0..3.
//! assert!((gy[0] - (-0.5 * (1.0 + 0.0 + 1.0) / 3.0)).abs() < 1e-15);
//! # Ok::<(), bilevel::Error>(())
//! ```

use core::ops::Range;

use bilevel::Float;
use bilevel::backend::{Backend, Kernel, MulAdd};
use bilevel::error::{Error, check_len};
use bilevel::kernels::{dot_in, dot2_in};
use bilevel::oracles::{
    FiniteSum, FirstOrder, InnerEval, Problem, SecondOrder, fits, poison, split_inner_eval, uniform_index,
};
use rand_core::Rng;

pub use crate::data::Labeled;
use crate::util::{batch_range, check_batch};

// ---------------------------------------------------------------------------
// Scalar functions (§10.2 "Numerics")

/// The logistic sigmoid `σ(s) = 1 / (1 + e^{−s})`, evaluated without overflow:
/// `1/(1+e^{−s})` for `s ≥ 0` and `e^{s}/(1+e^{s})` for `s < 0` (§10.2).
///
/// ```
/// use bilevel_problems::logistic::sigmoid;
/// assert_eq!(sigmoid(0.0f64), 0.5);
/// assert_eq!(sigmoid(-800.0f64), 0.0); // no overflow, no NaN
/// assert!((sigmoid(2.0f64) + sigmoid(-2.0) - 1.0).abs() <= f64::EPSILON);
/// ```
#[inline]
pub fn sigmoid<T: Float>(s: T) -> T {
    if s >= T::ZERO {
        T::ONE / (T::ONE + (-s).exp())
    } else {
        let e = s.exp();
        e / (T::ONE + e)
    }
}

/// The logistic loss `ℓ(s) = log(1 + e^{−s})`: `log1p(e^{−s})` for `s ≥ 0`
/// and `−s + log1p(e^{s})` for `s < 0` (§10.2 "Numerics").
///
/// ```
/// use bilevel_problems::logistic::logistic_loss;
/// assert!((logistic_loss(0.0f64) - core::f64::consts::LN_2).abs() < 1e-16);
/// assert_eq!(logistic_loss(-1000.0f64), 1000.0); // no overflow
/// ```
#[inline]
pub fn logistic_loss<T: Float>(s: T) -> T {
    if s >= T::ZERO { (-s).exp().ln_1p() } else { -s + s.exp().ln_1p() }
}

/// First derivative `ℓ'(s) = σ(s) − 1 = −σ(−s)` of [`logistic_loss`].
///
/// ```
/// use bilevel_problems::logistic::logistic_loss_d1;
/// assert_eq!(logistic_loss_d1(0.0f64), -0.5);
/// ```
#[inline]
pub fn logistic_loss_d1<T: Float>(s: T) -> T {
    -sigmoid(-s)
}

/// Second derivative `ℓ''(s) = σ(s)(1 − σ(s))` of [`logistic_loss`] (an even
/// function), as `e/(1+e)²` with `e = e^{−|s|}` (no cancellation), capped at
/// its maximum `¼` (rounding could exceed it by one ulp near `s = 0`).
///
/// ```
/// use bilevel_problems::logistic::logistic_loss_d2;
/// assert_eq!(logistic_loss_d2(0.0f64), 0.25);
/// assert_eq!(logistic_loss_d2(3.0f64), logistic_loss_d2(-3.0));
/// assert!(logistic_loss_d2(1e-9f64) <= 0.25);
/// ```
#[inline]
pub fn logistic_loss_d2<T: Float>(s: T) -> T {
    let e = (-s.abs()).exp();
    let d = T::ONE + e;
    let quarter = T::HALF * T::HALF;
    let v = e / (d * d);
    if v > quarter { quarter } else { v }
}

// ---------------------------------------------------------------------------
// The GLM batch body

/// The generic batch body of every GLM oracle (§9.4 "Scalar memory"): for
/// each row `a` (with its label), two coefficients
/// `[k₀, k₁] = coef(label, aᵀy, aᵀv)`, and `outs[i] ← Σ k_i · a` for each
/// output given. Two outputs let the fused oracle read every row once for
/// the gradient and the Hessian-vector product.
struct GlmAccumulate<'a, T, F> {
    rows: &'a [T],
    labels: &'a [T],
    dim: usize,
    y: &'a [T],
    v: Option<&'a [T]>,
    outs: [Option<&'a mut [T]>; 2],
    coef: F,
}

impl<T: Float, F: FnMut(T, T, T) -> [T; 2]> Kernel for GlmAccumulate<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let GlmAccumulate { rows, labels, dim, y, v, mut outs, mut coef } = self;
        for o in outs.iter_mut().flatten() {
            o.fill(T::ZERO);
        }
        for (a, &c) in rows.chunks_exact(dim).zip(labels) {
            let (ay, av) = match v {
                Some(v) => dot2_in::<M, T>(a, y, v),
                None => (dot_in::<M, T>(a, y), T::ZERO),
            };
            let ks = coef(c, ay, av);
            for (o, k) in outs.iter_mut().zip(ks) {
                if let Some(o) = o.as_deref_mut() {
                    for (o, &ai) in o.iter_mut().zip(a) {
                        *o += k * ai;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Data

/// Borrowed binary classification data: `len()` rows of `dim()` features
/// stored row-major, and labels in `{−1, +1}` (as `T`).
///
/// ```
/// use bilevel_problems::logistic::BinaryData;
/// let d = BinaryData::new(&[1.0f64, 2.0, 3.0, 4.0], &[1.0, -1.0], 2)?;
/// assert_eq!((d.len(), d.dim()), (2, 2));
/// assert_eq!(d.row(1), Some(&[3.0, 4.0][..]));
/// assert_eq!(d.label(1), Some(-1.0));
/// assert!(BinaryData::new(&[1.0f64, 2.0], &[0.0], 2).is_err()); // label not ±1
/// # Ok::<(), bilevel::Error>(())
/// ```
pub type BinaryData<'a, T> = Labeled<'a, T, T>;

/// [`BinaryData::new`] for any float type `T` (for generic code).
///
/// ```
/// fn wrap<'a, T: bilevel::Float>(f: &'a [T], l: &'a [T]) -> Result<bilevel_problems::logistic::BinaryData<'a, T>, bilevel::Error> {
///     bilevel_problems::logistic::binary_data(f, l, 1)
/// }
/// assert_eq!(wrap(&[1.0f32, 2.0], &[1.0, -1.0])?.len(), 2);
/// # Ok::<(), bilevel::Error>(())
/// ```
pub fn binary_data<'a, T: Float>(
    features: &'a [T],
    labels: &'a [T],
    dim: usize,
) -> Result<BinaryData<'a, T>, Error> {
    if labels.iter().any(|&c| c != T::ONE && c != -T::ONE) {
        return Err(Error::InvalidParameter { name: "labels", requirement: "each -1 or +1" });
    }
    Labeled::checked(features, labels, dim)
}

impl<'a, T: Float> Labeled<'a, T, T> {
    /// Sum over rows of `ℓ(c_i a_iᵀy)` on `backend`.
    fn loss_sum(rows: &[T], labels: &[T], dim: usize, y: &[T], backend: Backend) -> T {
        let mut sum = T::ZERO;
        let k = GlmAccumulate {
            rows,
            labels,
            dim,
            y,
            v: None,
            outs: [None, None],
            coef: |c: T, ay: T, _| {
                sum += logistic_loss(c * ay);
                [T::ZERO; 2]
            },
        };
        match backend.run(k) {
            Ok(()) => sum,
            Err(_) => T::NAN_T,
        }
    }

    /// Mean logistic loss `(1/N) Σ_i ℓ(c_i a_iᵀy)` over all samples.
    ///
    /// Errors: [`Error::LengthMismatch`] if `y.len() != dim()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::BinaryData;
    /// let d = BinaryData::new(&[1.0f64, 2.0], &[1.0], 2)?;
    /// assert!((d.mean_loss(&[0.0, 0.0])? - core::f64::consts::LN_2).abs() < 1e-16);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn mean_loss(&self, y: &[T]) -> Result<T, Error> {
        check_len("y", self.dim, y.len())?;
        let s = Self::loss_sum(self.features, self.labels, self.dim, y, Backend::detect());
        Ok(s / T::from_usize(self.len()))
    }

    /// Fraction of samples classified correctly by `sign(a_iᵀy)` (a score of
    /// exactly 0 predicts +1).
    ///
    /// Errors: [`Error::LengthMismatch`] if `y.len() != dim()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::BinaryData;
    /// let d = BinaryData::new(&[1.0f64, -1.0, 1.0], &[1.0, -1.0, -1.0], 1)?;
    /// assert_eq!(d.accuracy(&[2.0])?, 2.0 / 3.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn accuracy(&self, y: &[T]) -> Result<f64, Error> {
        check_len("y", self.dim, y.len())?;
        let mut correct = 0usize;
        let k = GlmAccumulate {
            rows: self.features,
            labels: self.labels,
            dim: self.dim,
            y,
            v: None,
            outs: [None, None],
            coef: |c: T, ay: T, _| {
                let pred = if ay >= T::ZERO { T::ONE } else { -T::ONE };
                correct += usize::from(pred == c);
                [T::ZERO; 2]
            },
        };
        Backend::detect().run(k)?;
        Ok(correct as f64 / self.len() as f64)
    }
}

// ---------------------------------------------------------------------------
// The problem

/// The bilevel problem of §10.2 on borrowed data, with minibatches of fixed
/// sizes (see the [module docs](self)).
///
/// ```
/// use bilevel::oracles::{FirstOrder, SecondOrder};
/// use bilevel_problems::logistic::{BinaryData, LogisticHyper};
/// let train = BinaryData::new(&[1.0f64, 0.0, 0.0, 1.0], &[1.0, -1.0], 2)?;
/// let pb = LogisticHyper::new(train, train, 2, 2)?;
/// let (x, y, v) = ([0.0, 1.0], [1.0, 2.0], [1.0, 0.0]);
/// let mut jv = [0.0; 2];
/// pb.hvp_jvp_g(&x, &y, &v, &0, None, Some(&mut jv));
/// assert_eq!(jv, [1.0, 0.0]); // e^x ⊙ y ⊙ v
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LogisticHyper<'a, T> {
    train: BinaryData<'a, T>,
    val: BinaryData<'a, T>,
    batch_inner: usize,
    batch_outer: usize,
    backend: Backend,
}

impl<'a, T: Float> LogisticHyper<'a, T> {
    /// The problem with training set `train` (inner loss), validation set
    /// `val` (outer loss) and batch sizes `batch_inner`, `batch_outer` (a
    /// batch size larger than the set gives one batch). Runs its batch loops on
    /// [`Backend::detect()`].
    ///
    /// Errors: [`Error::LengthMismatch`] if the two sets have different
    /// feature counts; [`Error::InvalidParameter`] for a zero batch size.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, 0.0], &[1.0], 2)?;
    /// assert!(LogisticHyper::new(d, d, 0, 1).is_err());
    /// assert!(LogisticHyper::new(d, d, 1, 1).is_ok());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new(
        train: BinaryData<'a, T>,
        val: BinaryData<'a, T>,
        batch_inner: usize,
        batch_outer: usize,
    ) -> Result<Self, Error> {
        check_len("val dim", train.dim, val.dim)?;
        check_batch("batch_inner", batch_inner)?;
        check_batch("batch_outer", batch_outer)?;
        Ok(LogisticHyper { train, val, batch_inner, batch_outer, backend: Backend::detect() })
    }

    /// The same problem running its batch loops on `backend`.
    ///
    /// Errors: [`Error::BackendUnavailable`] if this CPU or build lacks it.
    ///
    /// ```
    /// # use bilevel::Backend;
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, 0.0], &[1.0], 2)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?.with_backend(Backend::Scalar)?;
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
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, 0.0], &[1.0], 2)?;
    /// assert_eq!(LogisticHyper::new(d, d, 1, 1)?.backend(), Backend::detect());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The training set (inner loss).
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, 0.0], &[1.0], 2)?;
    /// assert_eq!(LogisticHyper::new(d, d, 1, 1)?.train().len(), 1);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn train(&self) -> BinaryData<'a, T> {
        self.train
    }

    /// The validation set (outer loss).
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, 0.0], &[1.0], 2)?;
    /// assert_eq!(LogisticHyper::new(d, d, 1, 1)?.val().dim(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn val(&self) -> BinaryData<'a, T> {
        self.val
    }

    /// Inner and outer batch sizes `(B_inner, B_outer)`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, 0.0], &[1.0], 2)?;
    /// assert_eq!(LogisticHyper::new(d, d, 4, 8)?.batch_sizes(), (4, 8));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn batch_sizes(&self) -> (usize, usize) {
        (self.batch_inner, self.batch_outer)
    }

    /// Training rows of inner batch `b` (`None` if `b >= n_inner()`).
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[0.0f64; 5], &[1.0; 5], 1)?;
    /// let pb = LogisticHyper::new(d, d, 2, 2)?;
    /// assert_eq!(pb.inner_rows(2), Some(4..5));
    /// assert_eq!(pb.inner_rows(3), None);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn inner_rows(&self, b: usize) -> Option<Range<usize>> {
        batch_range(self.train.len(), self.batch_inner, b)
    }

    /// Validation rows of outer batch `b` (`None` if `b >= n_outer()`).
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[0.0f64; 5], &[1.0; 5], 1)?;
    /// assert_eq!(LogisticHyper::new(d, d, 2, 3)?.outer_rows(1), Some(3..5));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn outer_rows(&self, b: usize) -> Option<Range<usize>> {
        batch_range(self.val.len(), self.batch_outer, b)
    }

    fn d(&self) -> usize {
        self.train.dim
    }

    /// `Σ_k ½ e^{x_k} y_k²`.
    fn reg_value(x: &[T], y: &[T]) -> T {
        x.iter().zip(y).fold(T::ZERO, |acc, (&xk, &yk)| acc + T::HALF * xk.exp() * yk * yk)
    }

    /// Inner loss on batch `b`:
    /// `(1/|b|) Σ_{i∈b} ℓ(c_i a_iᵀy) + ½ Σ_k e^{x_k} y_k²`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `x` or `y`;
    /// [`Error::IndexOutOfRange`] if `b >= n_inner()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// let g = pb.loss_g_batch(&[0.0], &[2.0], 0)?;
    /// assert!((g - ((-2.0f64).exp().ln_1p() + 2.0)).abs() < 1e-15);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_g_batch(&self, x: &[T], y: &[T], b: usize) -> Result<T, Error> {
        check_len("x", self.d(), x.len())?;
        check_len("y", self.d(), y.len())?;
        let r = self.inner_rows(b).ok_or(Error::IndexOutOfRange {
            what: "inner batch",
            index: b,
            len: self.n_inner_batches(),
        })?;
        let n = T::from_usize(r.len());
        let (rows, labels) = self.train.slice(r).ok_or(Error::Empty { what: "inner batch" })?;
        let s = BinaryData::loss_sum(rows, labels, self.d(), y, self.backend);
        Ok(s / n + Self::reg_value(x, y))
    }

    /// Outer loss on batch `b`: `(1/|b|) Σ_{j∈b} ℓ(c'_j b_jᵀy)`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `y`; [`Error::IndexOutOfRange`]
    /// if `b >= n_outer()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// assert!((pb.loss_f_batch(&[0.0], 0)? - core::f64::consts::LN_2).abs() < 1e-16);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_f_batch(&self, y: &[T], b: usize) -> Result<T, Error> {
        check_len("y", self.d(), y.len())?;
        let r = self.outer_rows(b).ok_or(Error::IndexOutOfRange {
            what: "outer batch",
            index: b,
            len: self.n_outer_batches(),
        })?;
        let n = T::from_usize(r.len());
        let (rows, labels) = self.val.slice(r).ok_or(Error::Empty { what: "outer batch" })?;
        Ok(BinaryData::loss_sum(rows, labels, self.d(), y, self.backend) / n)
    }

    /// Full inner loss `g(x, y)` (all training samples).
    ///
    /// Errors: [`Error::LengthMismatch`] for `x` or `y`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64, -1.0], &[1.0, 1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// let g = pb.loss_g(&[0.0], &[0.0])?;
    /// assert!((g - core::f64::consts::LN_2).abs() < 1e-16);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_g(&self, x: &[T], y: &[T]) -> Result<T, Error> {
        check_len("x", self.d(), x.len())?;
        Ok(self.train.mean_loss(y)? + Self::reg_value(x, y))
    }

    /// Full outer loss `f(y)` (all validation samples).
    ///
    /// Errors: [`Error::LengthMismatch`] for `y`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// assert!((pb.loss_f(&[0.0])? - core::f64::consts::LN_2).abs() < 1e-16);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn loss_f(&self, y: &[T]) -> Result<T, Error> {
        self.val.mean_loss(y)
    }

    fn n_inner_batches(&self) -> usize {
        self.train.len().div_ceil(self.batch_inner)
    }

    fn n_outer_batches(&self) -> usize {
        self.val.len().div_ceil(self.batch_outer)
    }

    // --- GLM structure (§9.4 "Scalar memory", §10.2 "Scalar SAGA memory")

    /// Gradient coefficient of training sample `i`:
    /// `s_i = c_i ℓ'(c_i a_iᵀy)`, so that
    /// `∇_y g(x, y; b) = (1/|b|) Σ_{i∈b} s_i a_i + e^x ⊙ y` (the last term is
    /// [`reg_grad_y`](Self::reg_grad_y)).
    ///
    /// Errors: [`Error::LengthMismatch`] for `y`; [`Error::IndexOutOfRange`]
    /// if `i >= train().len()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64], &[-1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// assert_eq!(pb.inner_grad_coef(&[0.0], 0)?, 0.5); // −1 · ℓ'(0)
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn inner_grad_coef(&self, y: &[T], i: usize) -> Result<T, Error> {
        check_len("y", self.d(), y.len())?;
        let (a, c) = sample(&self.train, i, "training sample")?;
        Ok(c * logistic_loss_d1(c * dot_in::<bilevel::backend::Plain, T>(a, y)))
    }

    /// HVP coefficient of training sample `i`: `u_i = ℓ''(a_iᵀy)(a_iᵀv)`, so
    /// that `∇²_yy g(x, y; b) v = (1/|b|) Σ_{i∈b} u_i a_i + e^x ⊙ v` (the last
    /// term is [`reg_hvp`](Self::reg_hvp)).
    ///
    /// Errors: [`Error::LengthMismatch`] for `y` or `v`;
    /// [`Error::IndexOutOfRange`] if `i >= train().len()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[2.0f64], &[1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// assert_eq!(pb.inner_hvp_coef(&[0.0], &[3.0], 0)?, 0.25 * 6.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn inner_hvp_coef(&self, y: &[T], v: &[T], i: usize) -> Result<T, Error> {
        check_len("y", self.d(), y.len())?;
        check_len("v", self.d(), v.len())?;
        let (a, _) = sample(&self.train, i, "training sample")?;
        let ay = dot_in::<bilevel::backend::Plain, T>(a, y);
        Ok(logistic_loss_d2(ay) * dot_in::<bilevel::backend::Plain, T>(a, v))
    }

    /// Outer gradient coefficient of validation sample `j`:
    /// `t_j = c'_j ℓ'(c'_j b_jᵀy)`, so that
    /// `∇_y f(x, y; b) = (1/|b|) Σ_{j∈b} t_j b_j` (and `∇_x f = 0`).
    ///
    /// Errors: [`Error::LengthMismatch`] for `y`; [`Error::IndexOutOfRange`]
    /// if `j >= val().len()`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// assert_eq!(pb.outer_grad_coef(&[0.0], 0)?, -0.5);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn outer_grad_coef(&self, y: &[T], j: usize) -> Result<T, Error> {
        check_len("y", self.d(), y.len())?;
        let (b, c) = sample(&self.val, j, "validation sample")?;
        Ok(c * logistic_loss_d1(c * dot_in::<bilevel::backend::Plain, T>(b, y)))
    }

    /// The deterministic part of `∇_y g`: `out ← e^x ⊙ y` (exact, no table).
    ///
    /// Errors: [`Error::LengthMismatch`] for `x`, `y` or `out`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// # let d = BinaryData::new(&[1.0f64, 1.0], &[1.0], 2)?;
    /// # let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// let mut out = [0.0; 2];
    /// pb.reg_grad_y(&[0.0, 0.0], &[2.0, 3.0], &mut out)?;
    /// assert_eq!(out, [2.0, 3.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn reg_grad_y(&self, x: &[T], y: &[T], out: &mut [T]) -> Result<(), Error> {
        self.check3(x, y, out.len())?;
        write_reg_y(x, y, out);
        Ok(())
    }

    /// The deterministic part of `∇²_yy g · v`: `out ← e^x ⊙ v`.
    ///
    /// Errors: [`Error::LengthMismatch`] for `x`, `v` or `out`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// # let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// # let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// let mut out = [0.0];
    /// pb.reg_hvp(&[0.0], &[5.0], &mut out)?;
    /// assert_eq!(out, [5.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn reg_hvp(&self, x: &[T], v: &[T], out: &mut [T]) -> Result<(), Error> {
        self.check3(x, v, out.len())?;
        write_reg_y(x, v, out);
        Ok(())
    }

    /// `∇_x g = ½ e^x ⊙ y ⊙ y` (deterministic: the same on every batch).
    ///
    /// Errors: [`Error::LengthMismatch`] for `x`, `y` or `out`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// # let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// # let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// let mut out = [0.0];
    /// pb.reg_grad_x(&[0.0], &[4.0], &mut out)?;
    /// assert_eq!(out, [8.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn reg_grad_x(&self, x: &[T], y: &[T], out: &mut [T]) -> Result<(), Error> {
        self.check3(x, y, out.len())?;
        write_grad_x(x, y, out);
        Ok(())
    }

    /// `∇²_xy g · v = e^x ⊙ y ⊙ v` (deterministic: the whole cross term).
    ///
    /// Errors: [`Error::LengthMismatch`] for `x`, `y`, `v` or `out`.
    ///
    /// ```
    /// # use bilevel_problems::logistic::{BinaryData, LogisticHyper};
    /// # let d = BinaryData::new(&[1.0f64], &[1.0], 1)?;
    /// # let pb = LogisticHyper::new(d, d, 1, 1)?;
    /// let mut out = [0.0];
    /// pb.reg_jvp(&[0.0], &[4.0], &[0.5], &mut out)?;
    /// assert_eq!(out, [2.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn reg_jvp(&self, x: &[T], y: &[T], v: &[T], out: &mut [T]) -> Result<(), Error> {
        self.check3(x, y, out.len())?;
        check_len("v", self.d(), v.len())?;
        write_jvp(x, y, v, out);
        Ok(())
    }

    fn check3(&self, x: &[T], y: &[T], out: usize) -> Result<(), Error> {
        check_len("x", self.d(), x.len())?;
        check_len("y", self.d(), y.len())?;
        check_len("out", self.d(), out)
    }

    /// Runs the GLM batch body on inner or outer batch rows.
    fn accumulate<F: FnMut(T, T, T) -> [T; 2]>(
        &self,
        data: &BinaryData<'a, T>,
        range: Range<usize>,
        (y, v): (&[T], Option<&[T]>),
        outs: [Option<&mut [T]>; 2],
        coef: F,
    ) -> bool {
        let Some((rows, labels)) = data.slice(range) else { return false };
        let k = GlmAccumulate { rows, labels, dim: data.dim, y, v, outs, coef };
        self.backend.run(k).is_ok()
    }
}

/// Row and label of sample `i`, or `IndexOutOfRange`.
fn sample<'a, T: Float>(
    data: &BinaryData<'a, T>,
    i: usize,
    what: &'static str,
) -> Result<(&'a [T], T), Error> {
    match (data.row(i), data.label(i)) {
        (Some(a), Some(c)) => Ok((a, c)),
        _ => Err(Error::IndexOutOfRange { what, index: i, len: data.len() }),
    }
}

/// `out ← e^x ⊙ y`.
#[inline]
fn write_reg_y<T: Float>(x: &[T], y: &[T], out: &mut [T]) {
    for ((o, &xk), &yk) in out.iter_mut().zip(x).zip(y) {
        *o = xk.exp() * yk;
    }
}

/// `out += e^x ⊙ y`.
#[inline]
fn add_reg_y<T: Float>(x: &[T], y: &[T], out: &mut [T]) {
    for ((o, &xk), &yk) in out.iter_mut().zip(x).zip(y) {
        *o += xk.exp() * yk;
    }
}

#[inline]
fn write_grad_x<T: Float>(x: &[T], y: &[T], out: &mut [T]) {
    for ((o, &xk), &yk) in out.iter_mut().zip(x).zip(y) {
        *o = T::HALF * xk.exp() * yk * yk;
    }
}

#[inline]
fn write_jvp<T: Float>(x: &[T], y: &[T], v: &[T], out: &mut [T]) {
    for (((o, &xk), &yk), &vk) in out.iter_mut().zip(x).zip(y).zip(v) {
        *o = xk.exp() * yk * vk;
    }
}

impl<T: Float> Problem<T> for LogisticHyper<'_, T> {
    /// Batch index: inner batch `b` is training rows
    /// [`inner_rows(b)`](LogisticHyper::inner_rows), outer batch `b` is
    /// validation rows [`outer_rows(b)`](LogisticHyper::outer_rows).
    type Sample = usize;

    fn dim_x(&self) -> usize {
        self.d()
    }

    fn dim_y(&self) -> usize {
        self.d()
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

impl<T: Float> FirstOrder<T> for LogisticHyper<'_, T> {
    /// `gx ← ½ e^x ⊙ y ⊙ y`,
    /// `gy ← (1/|b|) Σ_{i∈b} c_i ℓ'(c_i a_iᵀy) a_i + e^x ⊙ y` (§10.2).
    fn grad_g(&self, x: &[T], y: &[T], s: &usize, gx: Option<&mut [T]>, gy: Option<&mut [T]>) {
        let d = self.d();
        let range = self.inner_rows(*s);
        let ok = x.len() == d && y.len() == d && fits(&gx, d) && fits(&gy, d);
        let Some(range) = range.filter(|_| ok) else { return poison([gx, gy]) };
        if let Some(gy) = gy {
            let inv = T::ONE / T::from_usize(range.len());
            let coef = |c: T, ay: T, _| [c * logistic_loss_d1(c * ay) * inv, T::ZERO];
            if !self.accumulate(&self.train, range, (y, None), [Some(&mut *gy), None], coef) {
                return poison([gx, Some(gy)]);
            }
            add_reg_y(x, y, gy);
        }
        if let Some(gx) = gx {
            write_grad_x(x, y, gx);
        }
    }

    /// `fx ← 0`, `fy ← (1/|b|) Σ_{j∈b} c'_j ℓ'(c'_j b_jᵀy) b_j` (§10.2).
    fn grad_f(&self, x: &[T], y: &[T], s: &usize, fx: Option<&mut [T]>, fy: Option<&mut [T]>) {
        let d = self.d();
        let range = self.outer_rows(*s);
        let ok = x.len() == d && y.len() == d && fits(&fx, d) && fits(&fy, d);
        let Some(range) = range.filter(|_| ok) else { return poison([fx, fy]) };
        if let Some(fy) = fy {
            let inv = T::ONE / T::from_usize(range.len());
            let coef = |c: T, ay: T, _| [c * logistic_loss_d1(c * ay) * inv, T::ZERO];
            if !self.accumulate(&self.val, range, (y, None), [Some(&mut *fy), None], coef) {
                return poison([fx, Some(fy)]);
            }
        }
        if let Some(fx) = fx {
            fx.fill(T::ZERO);
        }
    }
}

impl<T: Float> SecondOrder<T> for LogisticHyper<'_, T> {
    /// `hv ← (1/|b|) Σ_{i∈b} ℓ''(a_iᵀy)(a_iᵀv) a_i + e^x ⊙ v`,
    /// `jv ← e^x ⊙ y ⊙ v` (§10.2).
    fn hvp_jvp_g(&self, x: &[T], y: &[T], v: &[T], s: &usize, hv: Option<&mut [T]>, jv: Option<&mut [T]>) {
        let d = self.d();
        let range = self.inner_rows(*s);
        let ok = x.len() == d && y.len() == d && v.len() == d && fits(&hv, d) && fits(&jv, d);
        let Some(range) = range.filter(|_| ok) else { return poison([hv, jv]) };
        if let Some(hv) = hv {
            let inv = T::ONE / T::from_usize(range.len());
            let coef = |_, ay: T, av: T| [logistic_loss_d2(ay) * av * inv, T::ZERO];
            if !self.accumulate(&self.train, range, (y, Some(v)), [Some(&mut *hv), None], coef) {
                return poison([Some(hv), jv]);
            }
            add_reg_y(x, v, hv);
        }
        if let Some(jv) = jv {
            write_jvp(x, y, v, jv);
        }
    }

    /// `∇_y g` and `H v` in one pass over the batch rows (each row's `aᵀy`
    /// serves both), the same values as the split calls bit for bit; `∇_x g`
    /// and `J v` are deterministic and cost no pass.
    fn inner_eval(&self, x: &[T], y: &[T], v: &[T], s: &usize, out: InnerEval<'_, T>) {
        let InnerEval { grad_y: Some(gy), hvp: Some(hv), grad_x, jvp } = out else {
            return split_inner_eval(self, x, y, v, s, out);
        };
        let d = self.d();
        let rest = InnerEval { grad_y: None, grad_x, hvp: None, jvp };
        let ok = x.len() == d && y.len() == d && v.len() == d && gy.len() == d && hv.len() == d;
        let Some(range) = self.inner_rows(*s).filter(|_| ok) else {
            poison([Some(gy), Some(hv)]);
            return split_inner_eval(self, x, y, v, s, rest);
        };
        let inv = T::ONE / T::from_usize(range.len());
        let coef = |c: T, ay: T, av: T| [c * logistic_loss_d1(c * ay) * inv, logistic_loss_d2(ay) * av * inv];
        if !self.accumulate(&self.train, range, (y, Some(v)), [Some(&mut *gy), Some(&mut *hv)], coef) {
            poison([Some(gy), Some(hv)]);
            return split_inner_eval(self, x, y, v, s, rest);
        }
        add_reg_y(x, y, gy);
        add_reg_y(x, v, hv);
        split_inner_eval(self, x, y, v, s, rest);
    }
}

impl<T: Float> FiniteSum<T> for LogisticHyper<'_, T> {
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
        self.inner_rows(i).map_or(T::ZERO, |r| T::from_usize(r.len()) / T::from_usize(self.train.len()))
    }

    /// `|batch_j| / m` (0 when `j` is out of range).
    fn outer_weight(&self, j: usize) -> T {
        self.outer_rows(j).map_or(T::ZERO, |r| T::from_usize(r.len()) / T::from_usize(self.val.len()))
    }
}

/// Scalar-memory structure for [`SabaGlm`](bilevel::solvers::SabaGlm): `s_i`,
/// `u_i`, `t_j` are [`inner_grad_coef`](LogisticHyper::inner_grad_coef),
/// [`inner_hvp_coef`](LogisticHyper::inner_hvp_coef),
/// [`outer_grad_coef`](LogisticHyper::outer_grad_coef); the regularizer and
/// the whole cross term are exact (§10.2 "Scalar SAGA memory").
impl<T: Float> bilevel::oracles::Glm<T> for LogisticHyper<'_, T> {
    fn glm_n_inner(&self) -> usize {
        self.train.len()
    }
    fn glm_n_outer(&self) -> usize {
        self.val.len()
    }
    fn glm_inner_row(&self, i: usize) -> &[T] {
        self.train.row(i).unwrap_or(&[])
    }
    fn glm_outer_row(&self, j: usize) -> &[T] {
        self.val.row(j).unwrap_or(&[])
    }
    fn glm_inner_coefs(&self, y: &[T], v: &[T], i: usize) -> (T, T) {
        let s = self.inner_grad_coef(y, i).unwrap_or(T::NAN_T);
        let u = self.inner_hvp_coef(y, v, i).unwrap_or(T::NAN_T);
        (s, u)
    }
    fn glm_outer_coef(&self, y: &[T], j: usize) -> T {
        self.outer_grad_coef(y, j).unwrap_or(T::NAN_T)
    }
    fn glm_exact(&self, x: &[T], y: &[T], v: &[T], ry: &mut [T], rv: &mut [T], rx: &mut [T]) {
        let ok = self.reg_grad_y(x, y, ry).is_ok()
            && self.reg_hvp(x, v, rv).is_ok()
            && self.reg_jvp(x, y, v, rx).is_ok();
        if !ok {
            for o in [ry, rv, rx] {
                o.fill(T::NAN_T);
            }
        }
    }
}
