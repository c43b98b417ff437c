//! Borrowed labelled data shared by the problems: `len()` rows of `dim()`
//! features stored row-major, one label per row.

use core::ops::Range;

use bilevel::Float;
use bilevel::error::{Error, check_len};

/// Checks that `features.len() == n·dim`, `dim ≥ 1`, `n ≥ 1`, all finite.
pub(crate) fn check_features<T: Float>(
    what: &'static str,
    features: &[T],
    n: usize,
    dim: usize,
) -> Result<(), Error> {
    if dim == 0 {
        return Err(Error::Empty { what: "dim" });
    }
    if n == 0 {
        return Err(Error::Empty { what });
    }
    let expected = n
        .checked_mul(dim)
        .ok_or(Error::InvalidParameter { name: "dim", requirement: "such that rows · dim fits in usize" })?;
    check_len("features", expected, features.len())?;
    if features.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "features" });
    }
    Ok(())
}

/// Borrowed labelled data: `len()` rows of `dim()` features stored
/// row-major and one label of type `L` per row. The problems use it as
/// [`BinaryData`](crate::logistic::BinaryData) (labels `±1` as `T`) and
/// [`ClassData`](crate::hyperclean::ClassData) (class indices).
///
/// ```
/// use bilevel_problems::hyperclean::ClassData;
/// let d = ClassData::new(&[1.0f64, 2.0, 3.0, 4.0], &[0, 2], 2)?;
/// assert_eq!((d.len(), d.dim(), d.label(1)), (2, 2, Some(2)));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Labeled<'a, T, L> {
    pub(crate) features: &'a [T],
    pub(crate) labels: &'a [L],
    pub(crate) dim: usize,
}

/// What a label can be: `±1` in the float type (binary data, checked to be
/// `±1`) or a class index `usize` (checked against the number of classes by
/// the problem). Sealed.
pub trait Label<T>: Copy + sealed::Sealed {
    /// Checks every label.
    ///
    /// Errors: [`Error::InvalidParameter`] for a binary label other than ±1.
    ///
    /// ```
    /// use bilevel_problems::data::Label;
    /// assert!(<f64 as Label<f64>>::check(&[1.0, -1.0]).is_ok());
    /// assert!(<f64 as Label<f64>>::check(&[0.5]).is_err());
    /// assert!(<usize as Label<f32>>::check(&[7]).is_ok());
    /// ```
    fn check(labels: &[Self]) -> Result<(), Error>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for usize {}
}

impl Label<f32> for f32 {
    fn check(labels: &[f32]) -> Result<(), Error> {
        check_signs(labels)
    }
}

impl Label<f64> for f64 {
    fn check(labels: &[f64]) -> Result<(), Error> {
        check_signs(labels)
    }
}

impl<T: Float> Label<T> for usize {
    fn check(_: &[usize]) -> Result<(), Error> {
        Ok(())
    }
}

/// Every label is `+1` or `−1`.
pub(crate) fn check_signs<T: Float>(labels: &[T]) -> Result<(), Error> {
    if labels.iter().any(|&c| c != T::ONE && c != -T::ONE) {
        return Err(Error::InvalidParameter { name: "labels", requirement: "each -1 or +1" });
    }
    Ok(())
}

impl<'a, T: Float, L: Label<T>> Labeled<'a, T, L> {
    /// Wraps `features` (`labels.len() · dim` values, row-major) and `labels`.
    ///
    /// Errors: [`Error::Empty`] if `dim == 0` or there are no labels;
    /// [`Error::LengthMismatch`] if `features.len() != labels.len() · dim`;
    /// [`Error::NonFinite`] for a NaN or infinite feature;
    /// [`Error::InvalidParameter`] for a binary label other than ±1.
    ///
    /// ```
    /// use bilevel::Error;
    /// use bilevel_problems::{hyperclean::ClassData, logistic::BinaryData};
    /// assert_eq!(ClassData::<f64>::new(&[], &[], 3).unwrap_err(), Error::Empty { what: "labels" });
    /// let err = BinaryData::new(&[1.0f32; 3], &[1.0, 1.0], 2).unwrap_err();
    /// assert_eq!(err, Error::LengthMismatch { what: "features", expected: 4, found: 3 });
    /// assert!(BinaryData::new(&[1.0f64, 2.0], &[0.0], 2).is_err()); // label not ±1
    /// ```
    pub fn new(features: &'a [T], labels: &'a [L], dim: usize) -> Result<Self, Error> {
        L::check(labels)?;
        Labeled::checked(features, labels, dim)
    }
}

impl<'a, T: Float, L: Copy> Labeled<'a, T, L> {
    /// Checks the shapes (`features.len() == labels.len() · dim`, both
    /// non-empty) and that every feature is finite.
    pub(crate) fn checked(features: &'a [T], labels: &'a [L], dim: usize) -> Result<Self, Error> {
        check_features("labels", features, labels.len(), dim)?;
        Ok(Labeled { features, labels, dim })
    }

    /// Number of samples.
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert_eq!(ClassData::new(&[0.0f32; 4], &[0, 1], 2)?.len(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always `false` (construction rejects empty data).
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert!(!ClassData::new(&[0.0f32; 2], &[0], 2)?.is_empty());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of features `d`.
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert_eq!(ClassData::new(&[0.0f32; 4], &[0, 1], 2)?.dim(), 2);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Feature row `i`, or `None` if `i >= len()`.
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert_eq!(ClassData::new(&[5.0f32, 6.0], &[0], 2)?.row(0), Some(&[5.0, 6.0][..]));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn row(&self, i: usize) -> Option<&'a [T]> {
        let start = i.checked_mul(self.dim)?;
        self.features.get(start..start.checked_add(self.dim)?)
    }

    /// Label `i`, or `None` if `i >= len()`.
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert_eq!(ClassData::new(&[5.0f32, 6.0], &[3], 2)?.label(0), Some(3));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn label(&self, i: usize) -> Option<L> {
        self.labels.get(i).copied()
    }

    /// All features, row-major.
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert_eq!(ClassData::new(&[5.0f32, 6.0], &[3], 2)?.features(), &[5.0, 6.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn features(&self) -> &'a [T] {
        self.features
    }

    /// All labels.
    ///
    /// ```
    /// # use bilevel_problems::hyperclean::ClassData;
    /// assert_eq!(ClassData::new(&[5.0f32, 6.0], &[3], 2)?.labels(), &[3]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline]
    pub fn labels(&self) -> &'a [L] {
        self.labels
    }

    /// Rows `range` and their labels (`None` if out of bounds).
    pub(crate) fn slice(&self, range: Range<usize>) -> Option<(&'a [T], &'a [L])> {
        let labels = self.labels.get(range.clone())?;
        let rows = self.features.get(range.start * self.dim..range.end * self.dim)?;
        Some((rows, labels))
    }
}
