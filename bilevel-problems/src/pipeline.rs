//! The data pipeline of the hyper-cleaning experiment (feature `alloc`):
//! CSV parsing, the bundled UCI digits, seeded splits, standardization,
//! label corruption, and [`CleaningData::prepare`], which chains them.

use alloc::vec::Vec;

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use bilevel::Float;
use bilevel::error::{Error, check_len};
use bilevel::oracles::uniform_index;

use crate::DataError;
use crate::data::check_features;
use crate::hyperclean::{ClassData, HyperClean};

/// Rows of the bundled digits file (`data/digits.csv.gz`).
///
/// ```
/// assert_eq!(bilevel_problems::pipeline::DIGITS_ROWS, 1797);
/// ```
pub const DIGITS_ROWS: usize = 1797;
/// Features (8×8 pixels, each `0..=16`) of the digits data.
///
/// ```
/// assert_eq!(bilevel_problems::pipeline::DIGITS_FEATURES, 64);
/// ```
pub const DIGITS_FEATURES: usize = 64;
/// Classes (digits `0..=9`) of the digits data.
///
/// ```
/// assert_eq!(bilevel_problems::pipeline::DIGITS_CLASSES, 10);
/// ```
pub const DIGITS_CLASSES: usize = 10;

/// Owned multiclass data: row-major features and class labels. May be
/// empty (for example the test part of a split that uses every row).
///
/// ```
/// use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
    /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0, 0], 1)?.len(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when there are no rows.
    ///
    /// ```
    /// # use bilevel_problems::pipeline::Dataset;
    /// assert!(!Dataset::new(vec![1.0f64], vec![0], 1)?.is_empty());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of features.
    ///
    /// ```
    /// # use bilevel_problems::pipeline::Dataset;
    /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0], 2)?.dim(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Features, row-major.
    ///
    /// ```
    /// # use bilevel_problems::pipeline::Dataset;
    /// assert_eq!(Dataset::new(vec![1.0f64, 2.0], vec![0], 2)?.features(), &[1.0, 2.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn features(&self) -> &[T] {
        &self.features
    }

    /// Labels.
    ///
    /// ```
    /// # use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
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
    /// # use bilevel_problems::pipeline::Dataset;
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
/// # use bilevel_problems::pipeline::Dataset;
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
/// use bilevel_problems::pipeline::{Dataset, Standardizer};
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
    /// # use bilevel_problems::pipeline::{Dataset, Standardizer};
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
    /// # use bilevel_problems::pipeline::{Dataset, Standardizer};
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
    /// # use bilevel_problems::pipeline::{Dataset, Standardizer};
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
    /// # use bilevel_problems::pipeline::{Dataset, Standardizer};
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
/// use bilevel_problems::pipeline::corrupt_labels;
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
/// Errors: [`DataError::Invalid`] with [`Error::Empty`] if there is no row,
/// `n_features == 0` or `n_classes == 0`. A malformed line is reported as
/// [`DataError::Parse`]
/// with its 1-based line number and the reason: wrong number of columns,
/// a feature that is not a finite number, or a label that is not an
/// integer in `0..n_classes`.
///
/// ```
/// use bilevel_problems::{DataError, pipeline::parse_csv};
/// let d = parse_csv::<f64>("1,2,0\n3,4,1\n", 2, 2)?;
/// assert_eq!((d.features(), d.labels()), (&[1.0, 2.0, 3.0, 4.0][..], &[0, 1][..]));
/// let err = parse_csv::<f64>("1,2,0\n3,x,1\n", 2, 2).unwrap_err();
/// assert!(matches!(err, DataError::Parse { line: 2, .. }));
/// # Ok::<(), DataError>(())
/// ```
pub fn parse_csv<T: Float>(text: &str, n_features: usize, n_classes: usize) -> Result<Dataset<T>, DataError> {
    if n_features == 0 {
        return Err(Error::Empty { what: "n_features" }.into());
    }
    if n_classes == 0 {
        return Err(Error::Empty { what: "n_classes" }.into());
    }
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |reason: &'static str| DataError::Parse { line: line_no + 1, reason };
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
        return Err(Error::Empty { what: "csv" }.into());
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
/// use bilevel_problems::pipeline::parse_digits;
/// let row = format!("{}9\n", "0,".repeat(64));
/// let d = parse_digits::<f32>(&row)?;
/// assert_eq!((d.len(), d.dim(), d.labels()[0]), (1, 64, 9));
/// # Ok::<(), bilevel_problems::DataError>(())
/// ```
pub fn parse_digits<T: Float>(text: &str) -> Result<Dataset<T>, DataError> {
    parse_csv(text, DIGITS_FEATURES, DIGITS_CLASSES)
}

/// Path of the UCI digits file shipped with this crate
/// (`data/digits.csv.gz`; licence and attribution in `data/README.md`).
///
/// ```
/// assert!(bilevel_problems::pipeline::DIGITS_PATH.ends_with("data/digits.csv.gz"));
/// ```
pub const DIGITS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");

/// Reads a gzip-compressed text file into a string (feature `std`).
///
/// Errors: [`DataError::Io`] if the file cannot be read, is not gzip, or is
/// not UTF-8.
///
/// ```
/// use bilevel_problems::{DataError, pipeline::read_gz_text};
/// assert!(matches!(read_gz_text("no/such/file.gz"), Err(DataError::Io(_))));
/// ```
#[cfg(feature = "std")]
pub fn read_gz_text(path: &str) -> Result<std::string::String, DataError> {
    use std::io::Read;
    let bytes = std::fs::read(path).map_err(|e| DataError::Io(e.kind()))?;
    let mut text = std::string::String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .map_err(|e| DataError::Io(e.kind()))?;
    Ok(text)
}

/// The UCI digits shipped with this crate, parsed (feature `std`):
/// [`DIGITS_ROWS`] rows of [`DIGITS_FEATURES`] pixels.
///
/// Errors: as [`read_gz_text`] and [`parse_digits`].
///
/// ```
/// let d = bilevel_problems::pipeline::load_digits::<f64>()?;
/// assert_eq!(d.len(), bilevel_problems::pipeline::DIGITS_ROWS);
/// # Ok::<(), bilevel_problems::DataError>(())
/// ```
#[cfg(feature = "std")]
pub fn load_digits<T: Float>() -> Result<Dataset<T>, DataError> {
    parse_digits(&read_gz_text(DIGITS_PATH)?)
}

/// The prepared hyper-cleaning experiment: a seeded split, features
/// standardized with the training set's statistics, and a seeded fraction
/// of the training labels corrupted (§10.3 "Data").
///
/// ```
/// use bilevel_problems::pipeline::{CleaningData, Dataset};
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
    /// # use bilevel_problems::pipeline::{CleaningData, Dataset};
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
    /// # use bilevel_problems::pipeline::{CleaningData, Dataset};
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
