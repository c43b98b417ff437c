//! The data pipeline's error: malformed text, or a value the problems reject.

use core::fmt;

/// What can go wrong while reading and preparing a data set.
///
/// ```
/// use bilevel_problems::DataError;
/// let e = DataError::Parse { line: 3, reason: "expected 65 fields" };
/// assert_eq!(e.to_string(), "parse error on line 3: expected 65 fields");
/// let e: DataError = bilevel::Error::Empty { what: "labels" }.into();
/// assert!(matches!(e, DataError::Invalid(_)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataError {
    /// Malformed text input (for example a CSV data file).
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Well-formed input that a problem or a preparation step rejects
    /// (empty data, a label out of range, a fraction outside `[0, 1]`, …).
    Invalid(bilevel::Error),
    /// A file could not be read or decompressed (feature `std`).
    #[cfg(feature = "std")]
    Io(std::io::ErrorKind),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DataError::Parse { line, reason } => write!(f, "parse error on line {line}: {reason}"),
            DataError::Invalid(e) => e.fmt(f),
            #[cfg(feature = "std")]
            DataError::Io(kind) => write!(f, "cannot read the data file: {kind}"),
        }
    }
}

impl core::error::Error for DataError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DataError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

impl From<bilevel::Error> for DataError {
    fn from(e: bilevel::Error) -> Self {
        DataError::Invalid(e)
    }
}
