//! Which rows of a finite sum the SAGA solvers ([`Saba`](super::Saba),
//! [`SabaGlm`](super::SabaGlm)) visit: one small trait, [`RowSampler`], and
//! three policies. The sampler is part of the solver (it keeps its own state,
//! so problems stay `&self`); swap it with `with_sampler`.
//!
//! | policy | order | RNG draws |
//! |---|---|---|
//! | [`WithReplacement`] (default) | i.i.d. uniform rows | one [`uniform_index`] over `n` per row (one `next_u64`, more only on Lemire's rare rejection) |
//! | [`Reshuffled`] | every row once per epoch, a fresh uniform permutation each epoch (benchopt) | one [`uniform_index`] over the `n − k` rows left at position `k` of the epoch (Fisher–Yates, drawn as the epoch goes; none for the last row) |
//! | [`Cyclic`] | `0, 1, …, n−1, 0, …` | none |
//!
//! A step asks for its inner row first, then its outer row. A step that fails
//! calls [`RowSampler::undo`], so the solver's sampler is back where it was
//! (steps are all-or-nothing).
//!
//! ```
//! use bilevel::solvers::sampling::{Cyclic, RowSampler};
//! use bilevel::random::SplitMix64;
//! let (mut s, mut rng) = (Cyclic::default(), SplitMix64::new(0));
//! let rows: Vec<usize> = (0..4).map(|_| s.next_inner(&mut rng, 3)).collect();
//! assert_eq!(rows, [0, 1, 2, 0]);
//! ```

use rand_core::Rng;

use crate::error::Error;
use crate::oracles::uniform_index;

/// How a SAGA solver picks the inner row `i < n` and the outer row `j < m`
/// of each step. Implement it for a user-defined order; the solver calls it
/// once per step for each side, inner first.
///
/// ```
/// use bilevel::solvers::sampling::RowSampler;
/// // Always the last row (a deliberately bad order, for a test).
/// struct Last;
/// impl RowSampler for Last {
///     fn next_inner<R: rand_core::Rng + ?Sized>(&mut self, _: &mut R, n: usize) -> usize { n - 1 }
///     fn next_outer<R: rand_core::Rng + ?Sized>(&mut self, _: &mut R, m: usize) -> usize { m - 1 }
/// }
/// assert_eq!(Last.next_inner(&mut bilevel::random::SplitMix64::new(0), 5), 4);
/// ```
pub trait RowSampler {
    /// The inner row of the next step, `< n` (`n ≥ 1`).
    fn next_inner<R: Rng + ?Sized>(&mut self, rng: &mut R, n: usize) -> usize;
    /// The outer row of the next step, `< m` (`m ≥ 1`).
    fn next_outer<R: Rng + ?Sized>(&mut self, rng: &mut R, m: usize) -> usize;
    /// Takes back the last `next_inner` and the last `next_outer` (a step
    /// failed after drawing them). Stateless samplers keep the default,
    /// which does nothing.
    fn undo(&mut self) {}
}

/// Uniform rows drawn independently (with replacement): SABA's analysis and
/// the crate's default.
///
/// ```
/// use bilevel::solvers::sampling::{RowSampler, WithReplacement};
/// let r = WithReplacement.next_outer(&mut bilevel::random::SplitMix64::new(3), 10);
/// assert!(r < 10);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WithReplacement;

impl RowSampler for WithReplacement {
    #[inline]
    fn next_inner<R: Rng + ?Sized>(&mut self, rng: &mut R, n: usize) -> usize {
        uniform_index(rng, n)
    }
    #[inline]
    fn next_outer<R: Rng + ?Sized>(&mut self, rng: &mut R, m: usize) -> usize {
        uniform_index(rng, m)
    }
}

/// Rows in order, `0, 1, …, n − 1`, then again; no randomness.
///
/// ```
/// use bilevel::solvers::sampling::{Cyclic, RowSampler};
/// let mut c = Cyclic::default();
/// let mut rng = bilevel::random::SplitMix64::new(0);
/// assert_eq!([c.next_outer(&mut rng, 2), c.next_outer(&mut rng, 2), c.next_outer(&mut rng, 2)], [0, 1, 0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cyclic {
    inner: usize,
    outer: usize,
}

impl RowSampler for Cyclic {
    #[inline]
    fn next_inner<R: Rng + ?Sized>(&mut self, _: &mut R, n: usize) -> usize {
        next_cyclic(&mut self.inner, n)
    }
    #[inline]
    fn next_outer<R: Rng + ?Sized>(&mut self, _: &mut R, m: usize) -> usize {
        next_cyclic(&mut self.outer, m)
    }
    fn undo(&mut self) {
        self.inner = self.inner.saturating_sub(1);
        self.outer = self.outer.saturating_sub(1);
    }
}

fn next_cyclic(pos: &mut usize, n: usize) -> usize {
    let r = *pos % n.max(1);
    *pos = r + 1;
    r
}

/// Every row once per epoch, in a fresh random order each epoch (sampling
/// without replacement, benchopt's order): a Fisher–Yates shuffle of the
/// `n` inner (`m` outer) row indices, drawn one position at a time as the
/// epoch goes, on caller-provided index storage of `n + m` entries.
///
/// ```
/// use bilevel::solvers::sampling::{Reshuffled, RowSampler};
/// let mut s = Reshuffled::new([0usize; 5], 3, 2)?;
/// let mut rng = bilevel::random::SplitMix64::new(1);
/// let mut epoch: Vec<usize> = (0..3).map(|_| s.next_inner(&mut rng, 3)).collect();
/// epoch.sort();
/// assert_eq!(epoch, [0, 1, 2]);
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Reshuffled<S> {
    order: S,
    n: usize,
    m: usize,
    /// Position in the current inner / outer epoch (`n`, `m`: start a new one).
    pos: (usize, usize),
    /// The swap partner of the last draw on each side, for `undo`.
    last: (usize, usize),
}

impl<S: AsRef<[usize]> + AsMut<[usize]>> Reshuffled<S> {
    /// A sampler for `n` inner and `m` outer rows, on `order` of length
    /// `n + m` (overwritten).
    ///
    /// Errors: [`Error::Empty`] if `n` or `m` is 0; [`Error::LengthMismatch`]
    /// if `order.len() != n + m`.
    ///
    /// ```
    /// use bilevel::solvers::sampling::Reshuffled;
    /// assert!(Reshuffled::new([0usize; 4], 3, 2).is_err());
    /// ```
    pub fn new(mut order: S, n: usize, m: usize) -> Result<Self, Error> {
        if n == 0 || m == 0 {
            return Err(Error::Empty { what: "rows" });
        }
        let len = n
            .checked_add(m)
            .ok_or(Error::InvalidParameter { name: "n", requirement: "n + m fits in usize" })?;
        crate::error::check_len("order", len, order.as_ref().len())?;
        let buf = order.as_mut();
        for (k, o) in buf[..n].iter_mut().enumerate() {
            *o = k;
        }
        for (k, o) in buf[n..].iter_mut().enumerate() {
            *o = k;
        }
        Ok(Reshuffled { order, n, m, pos: (n, m), last: (0, 0) })
    }

    /// The current inner and outer orders and the positions in them (what a
    /// checkpoint saves to resume the same sequence).
    ///
    /// ```
    /// use bilevel::solvers::sampling::Reshuffled;
    /// let s = Reshuffled::new([0usize; 3], 2, 1)?;
    /// assert_eq!(s.state(), (&[0, 1][..], &[0][..], (2, 1)));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn state(&self) -> (&[usize], &[usize], (usize, usize)) {
        let (inner, outer) = self.order.as_ref().split_at(self.n);
        (inner, outer, self.pos)
    }

    /// Sets the positions in the current epochs (with [`Reshuffled::state`],
    /// restores a saved sampler; `order` is restored by building the sampler
    /// on the saved storage with [`Reshuffled::from_state`]).
    ///
    /// Errors: [`Error::IndexOutOfRange`] for a position beyond its epoch.
    ///
    /// ```
    /// use bilevel::solvers::sampling::Reshuffled;
    /// let mut s = Reshuffled::new([0usize; 3], 2, 1)?;
    /// assert!(s.set_position((3, 0)).is_err());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn set_position(&mut self, pos: (usize, usize)) -> Result<(), Error> {
        if pos.0 > self.n {
            return Err(Error::IndexOutOfRange { what: "inner position", index: pos.0, len: self.n + 1 });
        }
        if pos.1 > self.m {
            return Err(Error::IndexOutOfRange { what: "outer position", index: pos.1, len: self.m + 1 });
        }
        self.pos = pos;
        Ok(())
    }

    /// A sampler resuming from saved orders (`order`: the inner order then
    /// the outer order, as [`Reshuffled::state`] gives them) and positions.
    ///
    /// Errors: as [`Reshuffled::new`] and [`Reshuffled::set_position`];
    /// [`Error::InvalidParameter`] if an order is not a permutation.
    ///
    /// ```
    /// use bilevel::solvers::sampling::{Reshuffled, RowSampler};
    /// let mut s = Reshuffled::from_state([1usize, 0, 0], 2, 1, (1, 1))?;
    /// let mut rng = bilevel::random::SplitMix64::new(0);
    /// assert_eq!(s.next_inner(&mut rng, 2), 0); // the rest of the saved epoch
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn from_state(order: S, n: usize, m: usize, pos: (usize, usize)) -> Result<Self, Error> {
        if n == 0 || m == 0 {
            return Err(Error::Empty { what: "rows" });
        }
        crate::error::check_len("order", n.saturating_add(m), order.as_ref().len())?;
        let (inner, outer) = order.as_ref().split_at(n);
        if !is_permutation(inner) || !is_permutation(outer) {
            return Err(Error::InvalidParameter { name: "order", requirement: "a permutation of the rows" });
        }
        let mut s = Reshuffled { order, n, m, pos: (n, m), last: (0, 0) };
        s.set_position(pos)?;
        Ok(s)
    }
}

#[cfg(feature = "alloc")]
impl Reshuffled<alloc::vec::Vec<usize>> {
    /// [`Reshuffled::new`] on owned storage.
    ///
    /// ```
    /// let s = bilevel::solvers::sampling::Reshuffled::new_owned(4, 2)?;
    /// assert_eq!(s.state().0.len(), 4);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn new_owned(n: usize, m: usize) -> Result<Self, Error> {
        Reshuffled::new(alloc::vec![0; n.saturating_add(m)], n, m)
    }
}

/// Whether `order` holds each of `0..order.len()` once (O(len²) without
/// allocation; only used when restoring).
fn is_permutation(order: &[usize]) -> bool {
    order.iter().enumerate().all(|(k, &r)| r < order.len() && !order[..k].contains(&r))
}

/// The next row of one side, one Fisher–Yates position at a time: position
/// `k` swaps in a uniform pick among the rows `k..n` not yet visited this
/// epoch. Returns the row and the swap partner (for `undo`).
fn next_shuffled<R: Rng + ?Sized>(rng: &mut R, order: &mut [usize], pos: &mut usize) -> (usize, usize) {
    let n = order.len();
    if *pos >= n {
        *pos = 0;
    }
    let k = *pos;
    let j = k + uniform_index(rng, n - k);
    order.swap(k, j);
    *pos = k + 1;
    (order[k], j)
}

/// Takes back the last `next_shuffled` on one side (position 0 is written
/// as `n`, "epoch used up", its equivalent before any draw).
fn undo_shuffled(order: &mut [usize], pos: &mut usize, partner: usize) {
    if *pos > 0 {
        *pos -= 1;
        order.swap(*pos, partner);
        if *pos == 0 {
            *pos = order.len();
        }
    }
}

/// Equal orders and positions (the swap partner kept for `undo` is scratch).
impl<S: AsRef<[usize]>> PartialEq for Reshuffled<S> {
    fn eq(&self, other: &Self) -> bool {
        (self.n, self.m, self.pos) == (other.n, other.m, other.pos)
            && self.order.as_ref() == other.order.as_ref()
    }
}

impl<S: AsRef<[usize]>> Eq for Reshuffled<S> {}

impl<S: AsRef<[usize]> + AsMut<[usize]>> RowSampler for Reshuffled<S> {
    /// The next inner row; `n` must be the `n` of construction (a different
    /// count falls back to a uniform draw, so a misuse cannot index out of
    /// range).
    fn next_inner<R: Rng + ?Sized>(&mut self, rng: &mut R, n: usize) -> usize {
        if n != self.n {
            return uniform_index(rng, n);
        }
        let (inner, _) = self.order.as_mut().split_at_mut(self.n);
        let (row, partner) = next_shuffled(rng, inner, &mut self.pos.0);
        self.last.0 = partner;
        row
    }

    /// The next outer row (as [`Reshuffled::next_inner`]).
    fn next_outer<R: Rng + ?Sized>(&mut self, rng: &mut R, m: usize) -> usize {
        if m != self.m {
            return uniform_index(rng, m);
        }
        let (_, outer) = self.order.as_mut().split_at_mut(self.n);
        let (row, partner) = next_shuffled(rng, outer, &mut self.pos.1);
        self.last.1 = partner;
        row
    }

    fn undo(&mut self) {
        let (inner, outer) = self.order.as_mut().split_at_mut(self.n);
        undo_shuffled(inner, &mut self.pos.0, self.last.0);
        undo_shuffled(outer, &mut self.pos.1, self.last.1);
    }
}
