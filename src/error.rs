//! The crate's single error type.
//!
//! Every checked entry point (kernels, tables, solvers, problems) returns
//! `Result<_, Error>`. Errors are detected before any output is written, so a
//! failed call leaves its buffers unchanged unless the item's docs say
//! otherwise.

use core::fmt;

use crate::backend::Backend;

/// Everything that can go wrong through the checked API.
///
/// ```
/// use bilevel::{Error, kernels::storm_update};
/// let mut h = [0.0f64; 3];
/// let err = storm_update(&mut h, &[1.0; 3], &[1.0; 2], 0.5).unwrap_err();
/// assert_eq!(err, Error::LengthMismatch { what: "g_prev", expected: 3, found: 2 });
/// assert!(err.to_string().contains("g_prev"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A buffer's length does not match the length the operation needs.
    LengthMismatch {
        /// Name of the offending argument.
        what: &'static str,
        /// Length required.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// A scalar parameter is outside its valid range (for example a momentum
    /// weight outside `[0, 1]`, a radius `<= 0`, a step `< 0`).
    InvalidParameter {
        /// Name of the parameter.
        name: &'static str,
        /// What is required of it.
        requirement: &'static str,
    },
    /// A sample or row index is out of range.
    IndexOutOfRange {
        /// Name of the index.
        what: &'static str,
        /// The index given.
        index: usize,
        /// The number of valid indices.
        len: usize,
    },
    /// A value that must be finite is NaN or infinite.
    NonFinite {
        /// Name of the offending input or quantity.
        what: &'static str,
    },
    /// The requested SIMD backend is not supported by this CPU or build.
    BackendUnavailable(Backend),
    /// A solver iterate became non-finite; the solver kept its previous state.
    Diverged {
        /// Which variable (`"x"`, `"y"`, `"v"`, `"z"`, ...).
        variable: &'static str,
        /// The iteration counter at which it happened.
        iteration: u64,
    },
    /// A finite-sum problem or table with zero samples, rows or columns where
    /// at least one is needed.
    Empty {
        /// What is empty.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LengthMismatch { what, expected, found } => {
                write!(f, "length mismatch for `{what}`: expected {expected}, found {found}")
            }
            Error::InvalidParameter { name, requirement } => {
                write!(f, "invalid parameter `{name}`: must be {requirement}")
            }
            Error::IndexOutOfRange { what, index, len } => {
                write!(f, "index `{what}` = {index} out of range (len {len})")
            }
            Error::NonFinite { what } => write!(f, "`{what}` is not finite"),
            Error::BackendUnavailable(b) => {
                write!(f, "backend {b:?} is not available on this CPU or build")
            }
            Error::Diverged { variable, iteration } => {
                write!(f, "iterate `{variable}` became non-finite at iteration {iteration}")
            }
            Error::Empty { what } => write!(f, "`{what}` is empty"),
        }
    }
}

impl core::error::Error for Error {}

/// Returns `Err(LengthMismatch)` unless `found == expected`: the one length
/// check of the crate, public so that problems and user kernels report
/// lengths the same way.
///
/// ```
/// use bilevel::{Error, error::check_len};
/// assert_eq!(check_len("y", 3, 3), Ok(()));
/// assert_eq!(check_len("y", 3, 2), Err(Error::LengthMismatch { what: "y", expected: 3, found: 2 }));
/// ```
#[inline]
pub fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    if expected == found { Ok(()) } else { Err(Error::LengthMismatch { what, expected, found }) }
}
