//! Helpers shared by the problems: the lane-parallel dot product of the batch
//! loops, batch ranges and the batch-size check.

use core::ops::Range;

use bilevel::Error;

// Shared helpers for the problems module (also used by `hyperclean`).

/// Rows `b·size .. min((b+1)·size, n)` of batch `b`, or `None` when `b` is
/// out of range.
#[inline]
pub(crate) fn batch_range(n: usize, size: usize, b: usize) -> Option<Range<usize>> {
    let start = b.checked_mul(size)?;
    if start >= n {
        return None;
    }
    Some(start..start.saturating_add(size).min(n))
}

/// Checks that a batch size is at least 1.
#[inline]
pub(crate) fn check_batch(name: &'static str, b: usize) -> Result<(), Error> {
    if b == 0 { Err(Error::InvalidParameter { name, requirement: "at least 1" }) } else { Ok(()) }
}
