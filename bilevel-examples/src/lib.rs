//! Helpers shared by the examples of `bilevel`: command-line flags, tables,
//! CSV traces and SVG plots. The solver loops themselves are in each example.
//! Everything here needs the `std` feature (default); without it the library
//! is empty.
#![cfg_attr(not(feature = "std"), no_std)]
#![allow(missing_docs)]

#[cfg(feature = "std")]
pub mod driver;
#[cfg(feature = "std")]
pub mod report;
#[cfg(feature = "std")]
pub mod solvers;
