//! # bilevel-problems
//!
//! Ready-made bilevel problems for the [`bilevel`] solvers, and the data
//! pipelines of the examples. The kernel crate stays small and `no_std`;
//! everything that reads files, generates data sets or scores a model lives
//! here.
//!
//! | module | what | needs |
//! |---|---|---|
//! | [`logistic`] | per-feature regularized logistic regression (ALGORITHMS.md §10.2), its losses, and its GLM structure for `SabaGlm` | — |
//! | [`hyperclean`] | data hyper-cleaning with `K` classes (§10.3) | — |
//! | [`softmax`] | stable softmax and the `K`-class batch accumulator | — |
//! | [`data`] | [`Labeled`](data::Labeled), the borrowed row-major data the problems read | — |
//! | [`metrics`] | detection scores of corrupted labels | — |
//! | [`per_sample`] | the §10.1 quadratic with one dense matrix per sample (benchopt's shape), one-pass fused inner oracle | `alloc` |
//! | [`synthetic`] | seeded IJCNN1-shaped data ([`LogisticDataset`](synthetic::LogisticDataset)) | `alloc` |
//! | [`pipeline`] | CSV parsing, the UCI digits, splits, standardization, label corruption | `alloc` (gzip: `std`) |
//! | [`testing`] | [`Poisoned`](testing::Poisoned): a problem whose oracle call `k` returns a chosen value (NaN, ∞, MAX) | — |
//! | [`DataError`] | what reading a data file can do wrong | — |
//!
//! The problems borrow their data, so they work without `alloc`:
//!
//! ```
//! use bilevel::oracles::{FirstOrder, Problem};
//! use bilevel_problems::logistic::{BinaryData, LogisticHyper};
//! let d = BinaryData::new(&[1.0f64, 0.0, 0.0, 1.0], &[1.0, -1.0], 2)?;
//! let pb = LogisticHyper::new(d, d, 2, 2)?;
//! let mut gy = [0.0; 2];
//! pb.grad_g(&[0.0; 2], &[0.0; 2], &0, None, Some(&mut gy));
//! assert_eq!(gy, [-0.25, 0.25]); // ℓ'(0) = −½ times the mean of c_i a_i
//! # Ok::<(), bilevel::Error>(())
//! ```
#![no_std]
#![deny(unsafe_code, missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod data;
mod error;
pub mod hyperclean;
pub mod logistic;
pub mod metrics;
#[cfg(feature = "alloc")]
pub mod per_sample;
#[cfg(feature = "alloc")]
pub mod pipeline;
pub mod softmax;
#[cfg(feature = "alloc")]
pub mod synthetic;
pub mod testing;
mod util;

pub use error::DataError;
