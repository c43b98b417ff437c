//! Ready-made bilevel problems implementing the [`oracles`](crate::oracles) traits (ALGORITHMS.md §10).
mod data;
pub mod hyperclean;
pub mod logistic;
pub mod quadratic;
