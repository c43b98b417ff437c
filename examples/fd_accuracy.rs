//! The finite-difference accuracy table (issue 15 §5, ALGORITHMS.md §9.3):
//! each `Delta` policy's HVP error against the best power-of-two step, on
//! logistic regression (n = 2000, d = 22) and a quartic loss, f32 and f64.
//! The same cases are asserted by tests/fd_accuracy.rs.
//!
//! ```text
//! cargo run --release --example fd_accuracy
//! ```
//!
//! `fd_cases::report()` is the `fd_accuracy` section for `kernel_report`
//! (include the module with the same `#[path]` attribute).

#[path = "../tests/common/fd_cases.rs"]
mod fd_cases;

fn main() {
    fd_cases::report();
}
