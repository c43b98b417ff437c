//! The crate's one normal-variate generator and a small seeded stream.
//!
//! Test problems (the §10.1 quadratic's additive noise) and the synthetic
//! data generators of `bilevel-problems` draw their Gaussian variates here,
//! so every place that needs one uses the same transform.
//!
//! ```
//! use bilevel::random::{SplitMix64, standard_normal};
//! let mut rng = SplitMix64::new(42);
//! let z = standard_normal(&mut rng);
//! assert!(z.is_finite());
//! ```

use core::convert::Infallible;

use rand_core::{Rng, TryRng};

/// Two independent standard normal variates by the Box–Muller transform:
/// `u1 ∈ (0, 1]` and `u2 ∈ [0, 1)` from 53 random bits of one `next_u64`
/// each (in that order), then `r = √(−2 ln u1)`, `(r cos 2πu2, r sin 2πu2)`.
///
/// ```
/// use bilevel::random::{SplitMix64, standard_normal_pair};
/// let (a, b) = standard_normal_pair(&mut SplitMix64::new(1));
/// assert!(a.is_finite() && b.is_finite() && a != b);
/// ```
#[inline]
pub fn standard_normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let u1 = ((rng.next_u64() >> 11) + 1) as f64 * SCALE;
    let u2 = (rng.next_u64() >> 11) as f64 * SCALE;
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let theta = core::f64::consts::TAU * u2;
    (r * libm::cos(theta), r * libm::sin(theta))
}

/// One standard normal variate: the first of [`standard_normal_pair`] (two
/// `next_u64` draws).
///
/// ```
/// use bilevel::random::{SplitMix64, standard_normal, standard_normal_pair};
/// let z = standard_normal(&mut SplitMix64::new(9));
/// assert_eq!(z, standard_normal_pair(&mut SplitMix64::new(9)).0);
/// ```
#[inline]
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    standard_normal_pair(rng).0
}

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by the
/// golden-ratio increment and mixed by two multiply-xorshift rounds. Cheap to
/// seed (any `u64`, including 0), which suits streams re-created from a
/// sample's seed on every oracle call; not for cryptography.
///
/// ```
/// use bilevel::random::SplitMix64;
/// use rand_core::Rng;
/// let mut a = SplitMix64::new(5);
/// let mut b = SplitMix64::new(5);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert_ne!(a.next_u64(), SplitMix64::new(6).next_u64());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`.
    ///
    /// ```
    /// let _ = bilevel::random::SplitMix64::new(0);
    /// ```
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

impl TryRng for SplitMix64 {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    #[inline]
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}
