//! Helpers shared by the examples of `bilevel`: command-line flags, tables,
//! CSV traces and SVG plots. The solver loops themselves are in each example.
#![allow(missing_docs)]

pub mod driver;
pub mod report;
pub mod solvers;
