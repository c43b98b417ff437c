//! Checkpoint and resume: a solver's whole state exported into caller
//! memory and restored into another solver of the same kind and shape, which
//! then continues bit for bit as the original would have.
//!
//! The state is the floats of [`Checkpoint::state_len`] (iterates, previous
//! points, momentum buffers, SAGA rows, averages and their compensation
//! terms) plus the [`Counters`] (iteration, which is also the schedules'
//! position, and the F2SA/F3SA penalty). A SAGA solver's row sampler keeps
//! its own state: save a [`Reshuffled`](super::sampling::Reshuffled) sampler
//! with its `state()` and rebuild it with `from_state`.
//!
//! ```
//! use bilevel::quadratic::Quadratic;
//! use bilevel::solvers::{Checkpoint, Iterates, Soba, SobaConfig};
//! use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
//!
//! let pb = Quadratic::new(&[2.0f64], &[1.0], &[1.0], 1, 0.1)?.with_noise(0.1, 0.1)?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
//! let mut a = Soba::new_owned(SobaConfig::default(), &[0.0], &[0.0])?;
//! for _ in 0..10 { a.step(&pb, &mut rng)?; }
//! let mut saved = vec![0.0; a.state_len()];
//! let counters = a.export(&mut saved)?;
//!
//! let mut b = Soba::new_owned(SobaConfig::default(), &[0.0], &[0.0])?;
//! b.restore(&saved, counters)?;
//! let mut rng_b = rng.clone();
//! for _ in 0..10 { a.step(&pb, &mut rng)?; b.step(&pb, &mut rng_b)?; }
//! assert_eq!((a.x(), a.iteration()), (b.x(), b.iteration()));
//! # Ok::<(), bilevel::Error>(())
//! ```

use crate::error::{Error, check_len};
use crate::{Float, solvers::Iterates};

/// The scalar part of a solver's state.
///
/// ```
/// let c = bilevel::solvers::Counters { iteration: 3, penalty: 0.0 };
/// assert_eq!(c.iteration, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counters {
    /// Completed iterations (the position of every schedule).
    pub iteration: u64,
    /// The penalty `λ` the next F2SA/F3SA iteration uses (0 for the other
    /// solvers).
    pub penalty: f64,
}

/// Export and restore of a solver's whole state (see the [module docs](self)).
/// Implemented by every solver of the crate; sealed.
pub trait Checkpoint<T: Float>: Iterates<T> + sealed::Parts<T> {
    /// Floats of the exported state.
    ///
    /// ```
    /// use bilevel::solvers::{Checkpoint, Soba, SobaConfig};
    /// let s = Soba::new_owned(SobaConfig::default(), &[0.0f64; 2], &[0.0; 3])?;
    /// assert_eq!(s.state_len(), 2 + 3 + 3); // x, y, v
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    fn state_len(&self) -> usize {
        let [a, b] = self.parts();
        a.len() + b.len()
    }

    /// Writes the state into `out` and returns the counters. Changes
    /// nothing in the solver.
    ///
    /// Errors: [`Error::LengthMismatch`] if `out.len() != state_len()`.
    ///
    /// ```
    /// use bilevel::solvers::{Checkpoint, Counters, Soba, SobaConfig};
    /// let s = Soba::new_owned(SobaConfig::default(), &[1.0f64], &[2.0])?;
    /// let mut out = [0.0; 3];
    /// assert_eq!(s.export(&mut out)?, Counters { iteration: 0, penalty: 0.0 });
    /// assert_eq!(out, [1.0, 2.0, 0.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    fn export(&self, out: &mut [T]) -> Result<Counters, Error> {
        check_len("out", self.state_len(), out.len())?;
        let [a, b] = self.parts();
        let (oa, ob) = out.split_at_mut(a.len());
        oa.copy_from_slice(a);
        ob.copy_from_slice(b);
        Ok(self.counters())
    }

    /// Replaces the state by an exported one (from a solver of the same kind,
    /// configuration and dimensions).
    ///
    /// Errors, with nothing changed: [`Error::LengthMismatch`] if
    /// `state.len() != state_len()`; [`Error::NonFinite`] for a non-finite
    /// value; [`Error::InvalidParameter`] for a penalty the schedule cannot
    /// hold.
    ///
    /// ```
    /// use bilevel::solvers::{LinearSystem, Checkpoint, Counters, Iterates, Soba, SobaConfig};
    /// let mut s = Soba::new_owned(SobaConfig::default(), &[1.0f64], &[2.0])?;
    /// s.restore(&[5.0, 6.0, 7.0], Counters { iteration: 4, penalty: 0.0 })?;
    /// assert_eq!((s.x(), s.y(), s.v(), s.iteration()), (&[5.0][..], &[6.0][..], &[7.0][..], 4));
    /// assert!(s.restore(&[f64::NAN, 0.0, 0.0], Counters { iteration: 0, penalty: 0.0 }).is_err());
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    fn restore(&mut self, state: &[T], counters: Counters) -> Result<(), Error> {
        check_len("state", self.state_len(), state.len())?;
        if state.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "state" });
        }
        self.check_counters(counters)?;
        let [a, b] = self.parts_mut();
        let (sa, sb) = state.split_at(a.len());
        a.copy_from_slice(sa);
        b.copy_from_slice(sb);
        self.set_counters(counters);
        Ok(())
    }

    /// The state in an owned value (feature `alloc`), for example to
    /// serialize it with the `serde` feature.
    ///
    /// ```
    /// use bilevel::solvers::{Checkpoint, Soba, SobaConfig};
    /// let s = Soba::new_owned(SobaConfig::default(), &[1.0f32], &[2.0])?;
    /// let snap = s.snapshot();
    /// assert_eq!((snap.floats.as_slice(), snap.counters.iteration), (&[1.0, 2.0, 0.0][..], 0));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[cfg(feature = "alloc")]
    fn snapshot(&self) -> Snapshot<T> {
        let [a, b] = self.parts();
        let mut floats = alloc::vec::Vec::with_capacity(a.len() + b.len());
        floats.extend_from_slice(a);
        floats.extend_from_slice(b);
        Snapshot { floats, counters: self.counters() }
    }
}

/// An owned exported state (feature `alloc`; serializable with `serde`).
///
/// ```
/// use bilevel::solvers::{Checkpoint, Counters, Snapshot, Soba, SobaConfig};
/// let mut s = Soba::new_owned(SobaConfig::default(), &[1.0f64], &[2.0])?;
/// let snap = Snapshot { floats: vec![3.0, 4.0, 0.0], counters: Counters { iteration: 9, penalty: 0.0 } };
/// s.restore(&snap.floats, snap.counters)?;
/// # Ok::<(), bilevel::Error>(())
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot<T> {
    /// The floats of [`Checkpoint::export`].
    pub floats: alloc::vec::Vec<T>,
    /// The counters.
    pub counters: Counters,
}

pub(crate) mod sealed {
    use super::Counters;
    use crate::error::Error;

    /// How a solver exposes its state to [`Checkpoint`](super::Checkpoint).
    pub trait Parts<T> {
        /// The persistent workspace and the extra storage (SAGA tables).
        fn parts(&self) -> [&[T]; 2];
        /// The same, writable.
        fn parts_mut(&mut self) -> [&mut [T]; 2];
        /// The counters.
        fn counters(&self) -> Counters;
        /// Whether `counters` can be restored.
        fn check_counters(&self, counters: Counters) -> Result<(), Error>;
        /// Sets the counters (checked).
        fn set_counters(&mut self, counters: Counters);
    }
}

/// Implements the state access of a solver from its `core`, its SAGA table
/// storage (`tables: |s| len`, the field `tables`; or `tables: none`) and its
/// penalty (`penalty: lambda`, the field `lambda`; or `penalty: none`).
macro_rules! impl_checkpoint {
    ($name:ident<T, S $(, $extra:ident)*> where [$($wc:tt)*], tables: none, penalty: $penalty:tt) => {
        impl_checkpoint!(@impl $name<T, S $(, $extra)*> where [$($wc)*], $penalty,
            |s: &Self| [s.core.state(), &[]],
            |s: &mut Self| [s.core.state_mut(), &mut []]);
    };
    ($name:ident<T, S $(, $extra:ident)*> where [$($wc:tt)*], tables: $len:expr, penalty: $penalty:tt) => {
        impl_checkpoint!(@impl $name<T, S $(, $extra)*> where [$($wc)*], $penalty,
            |s: &Self| {
                let n = ($len)(s);
                [s.core.state(), &s.tables.as_ref()[..n]]
            },
            |s: &mut Self| {
                let n = ($len)(&*s);
                let Self { core, tables, .. } = s;
                [core.state_mut(), &mut tables.as_mut()[..n]]
            });
    };
    (@impl $name:ident<T, S $(, $extra:ident)*> where [$($wc:tt)*], $penalty:tt, $parts:expr, $parts_mut:expr) => {
        impl<T: Float, S: AsRef<[T]> + AsMut<[T]> $(, $extra)*> $crate::solvers::checkpoint::sealed::Parts<T>
            for $name<T, S $(, $extra)*>
        where
            $($wc)*
        {
            fn parts(&self) -> [&[T]; 2] {
                let f: fn(&Self) -> [&[T]; 2] = $parts;
                f(self)
            }
            fn parts_mut(&mut self) -> [&mut [T]; 2] {
                let f: fn(&mut Self) -> [&mut [T]; 2] = $parts_mut;
                f(self)
            }
            fn counters(&self) -> $crate::solvers::Counters {
                $crate::solvers::Counters { iteration: self.core.t, penalty: impl_checkpoint!(@get self $penalty) }
            }
            fn check_counters(&self, c: $crate::solvers::Counters) -> Result<(), $crate::Error> {
                impl_checkpoint!(@check c $penalty)
            }
            fn set_counters(&mut self, c: $crate::solvers::Counters) {
                self.core.t = c.iteration;
                impl_checkpoint!(@set self c $penalty);
            }
        }

        impl<T: Float, S: AsRef<[T]> + AsMut<[T]> $(, $extra)*> $crate::solvers::Checkpoint<T> for $name<T, S $(, $extra)*>
        where
            $($wc)*
        {
        }
    };
    (@get $s:ident none) => { 0.0 };
    (@get $s:ident lambda) => { $s.lambda };
    (@check $c:ident none) => {{
        let _ = $c;
        Ok(())
    }};
    (@check $c:ident lambda) => {
        if $c.penalty > 0.0 && $crate::solvers::shared::to_t::<T>("penalty", $c.penalty).is_ok() {
            Ok(())
        } else {
            Err($crate::Error::InvalidParameter { name: "penalty", requirement: "finite in T and > 0" })
        }
    };
    (@set $s:ident $c:ident none) => {};
    (@set $s:ident $c:ident lambda) => {
        $s.lambda = $c.penalty;
    };
}
pub(crate) use impl_checkpoint;
