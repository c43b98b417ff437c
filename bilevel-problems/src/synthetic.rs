//! Seeded synthetic data with the IJCNN1 shape (ALGORITHMS.md §10.2;
//! feature `alloc`).

use alloc::vec::Vec;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use bilevel::random::standard_normal;
use bilevel::{Error, Float};

use crate::logistic::{BinaryData, LogisticHyper, binary_data};

/// Owned binary classification data for [`LogisticHyper`]: a training
/// and a validation set with the same features.
///
/// ```
/// use bilevel_problems::synthetic::LogisticDataset;
/// let data = LogisticDataset::<f64>::synthetic(7, 100, 50, 5, 0.1)?;
/// assert_eq!((data.train().len(), data.val().len(), data.dim()), (100, 50, 5));
/// let pb = data.problem(10, 50)?;
/// assert_eq!(bilevel::oracles::FiniteSum::<f64>::n_inner(&pb), 10);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticDataset<T> {
    dim: usize,
    train_features: Vec<T>,
    train_labels: Vec<T>,
    val_features: Vec<T>,
    val_labels: Vec<T>,
}

impl<T: Float> LogisticDataset<T> {
    /// Training samples of IJCNN1 (LIBSVM `ijcnn1`).
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// assert_eq!(LogisticDataset::<f64>::IJCNN1_TRAIN, 49_990);
    /// ```
    pub const IJCNN1_TRAIN: usize = 49_990;
    /// Validation samples of IJCNN1 (the LIBSVM test split, §10.2).
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// assert_eq!(LogisticDataset::<f64>::IJCNN1_VAL, 91_701);
    /// ```
    pub const IJCNN1_VAL: usize = 91_701;
    /// Features of IJCNN1.
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// assert_eq!(LogisticDataset::<f64>::IJCNN1_DIM, 22);
    /// ```
    pub const IJCNN1_DIM: usize = 22;

    /// Owned data from row-major features and ±1 labels (validated as
    /// in [`BinaryData::new`]).
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// let d = LogisticDataset::new(vec![1.0f64, 2.0], vec![1.0], vec![0.0, 1.0], vec![-1.0], 2)?;
    /// assert_eq!(d.val().row(0), Some(&[0.0, 1.0][..]));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new(
        train_features: Vec<T>,
        train_labels: Vec<T>,
        val_features: Vec<T>,
        val_labels: Vec<T>,
        dim: usize,
    ) -> Result<Self, Error> {
        binary_data(&train_features, &train_labels, dim)?;
        binary_data(&val_features, &val_labels, dim)?;
        Ok(LogisticDataset { dim, train_features, train_labels, val_features, val_labels })
    }

    /// Seeded synthetic data from a noisy linear model. Features are
    /// independent normals with per-feature scales `e^{U(−1,1)}`; the
    /// true weights are standard normal on the first `⌈d/2⌉` features and
    /// zero on the rest (so per-feature regularization matters); the label
    /// is `sign(m + noise·ε)` where `m = a·w*` is normalized to unit
    /// variance and `ε ~ N(0, 1)`. The same seed gives the same data.
    ///
    /// Errors: [`Error::Empty`] if a size is 0;
    /// [`Error::InvalidParameter`] if `noise` is negative or not finite,
    /// or the sizes overflow.
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// let a = LogisticDataset::<f32>::synthetic(1, 20, 10, 3, 0.5)?;
    /// assert_eq!(a, LogisticDataset::synthetic(1, 20, 10, 3, 0.5)?);
    /// assert_ne!(a, LogisticDataset::synthetic(2, 20, 10, 3, 0.5)?);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn synthetic(seed: u64, n_train: usize, n_val: usize, dim: usize, noise: f64) -> Result<Self, Error> {
        if dim == 0 {
            return Err(Error::Empty { what: "dim" });
        }
        if n_train == 0 {
            return Err(Error::Empty { what: "n_train" });
        }
        if n_val == 0 {
            return Err(Error::Empty { what: "n_val" });
        }
        if !(noise >= 0.0 && noise.is_finite()) {
            return Err(Error::InvalidParameter { name: "noise", requirement: "finite and >= 0" });
        }
        let too_big =
            Error::InvalidParameter { name: "n_train, n_val, dim", requirement: "sizes that fit in memory" };
        let nt = n_train.checked_mul(dim).ok_or(too_big)?;
        let nv = n_val.checked_mul(dim).ok_or(too_big)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut scale = Vec::with_capacity(dim);
        let mut w = Vec::with_capacity(dim);
        let informative = dim.div_ceil(2);
        let mut var = 0.0;
        for k in 0..dim {
            let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            let s = libm::exp(2.0 * u - 1.0);
            let wk = if k < informative { standard_normal(&mut rng) } else { 0.0 };
            var += s * s * wk * wk;
            scale.push(s);
            w.push(wk);
        }
        let norm = if var > 0.0 { 1.0 / libm::sqrt(var) } else { 0.0 };
        let mut draw = |n: usize, len: usize| {
            let mut feats = Vec::with_capacity(len);
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                let mut m = 0.0;
                for (&s, &wk) in scale.iter().zip(&w) {
                    let a = s * standard_normal(&mut rng);
                    m += a * wk;
                    feats.push(T::from_f64(a));
                }
                let score = m * norm + noise * standard_normal(&mut rng);
                labels.push(if score >= 0.0 { T::ONE } else { -T::ONE });
            }
            (feats, labels)
        };
        let (train_features, train_labels) = draw(n_train, nt);
        let (val_features, val_labels) = draw(n_val, nv);
        Ok(LogisticDataset { dim, train_features, train_labels, val_features, val_labels })
    }

    /// Synthetic data with the IJCNN1 shape: 49 990 training and 91 701
    /// validation samples, 22 features, label noise 0.3 (§10.2).
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// let d = LogisticDataset::<f32>::ijcnn1_like(0)?;
    /// assert_eq!((d.train().len(), d.val().len(), d.dim()), (49_990, 91_701, 22));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn ijcnn1_like(seed: u64) -> Result<Self, Error> {
        Self::synthetic(seed, Self::IJCNN1_TRAIN, Self::IJCNN1_VAL, Self::IJCNN1_DIM, 0.3)
    }

    /// Number of features.
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// assert_eq!(LogisticDataset::<f64>::synthetic(0, 4, 4, 3, 0.0)?.dim(), 3);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The training set, borrowed.
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// let d = LogisticDataset::<f64>::synthetic(0, 4, 2, 3, 0.0)?;
    /// assert_eq!(d.train().features().len(), 12);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn train(&self) -> BinaryData<'_, T> {
        BinaryData { features: &self.train_features, labels: &self.train_labels, dim: self.dim }
    }

    /// The validation set, borrowed.
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// let d = LogisticDataset::<f64>::synthetic(0, 4, 2, 3, 0.0)?;
    /// assert_eq!(d.val().labels().len(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn val(&self) -> BinaryData<'_, T> {
        BinaryData { features: &self.val_features, labels: &self.val_labels, dim: self.dim }
    }

    /// The bilevel problem on this data (see [`LogisticHyper::new`]).
    ///
    /// ```
    /// # use bilevel_problems::synthetic::LogisticDataset;
    /// let d = LogisticDataset::<f64>::synthetic(0, 4, 2, 3, 0.0)?;
    /// assert!(d.problem(2, 2).is_ok());
    /// assert!(d.problem(0, 2).is_err());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn problem(&self, batch_inner: usize, batch_outer: usize) -> Result<LogisticHyper<'_, T>, Error> {
        LogisticHyper::new(self.train(), self.val(), batch_inner, batch_outer)
    }
}
