//! STORM recursive momentum and the exponential moving average
//! (ALGORITHMS.md §9.1).
//!
//! Form A `h ← η g + (1−η)(h + g − g_prev)` and form B
//! `h ← g + (1−η)(h − g_prev)` are algebraically equal; the kernels use form B,
//! one subtraction, one multiplication and one addition per element.

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, MulAdd};
use crate::error::{Error, check_len};

/// Checks that a momentum weight lies in `[0, 1]` (NaN fails).
#[inline]
pub(crate) fn check_unit(name: &'static str, w: impl Float) -> Result<(), Error> {
    if w >= Float::ZERO && w <= Float::ONE {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name, requirement: "in [0, 1]" })
    }
}

struct Storm<'a, T> {
    h: &'a mut [T],
    g: &'a [T],
    g_prev: &'a [T],
    c: T,
}

impl<T: Float> Kernel for Storm<'_, T> {
    type Output = ();
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.h.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let c = self.c;
        for ((h, &g), &gp) in self.h.iter_mut().zip(self.g).zip(self.g_prev) {
            *h = g + c * (*h - gp);
        }
    }
}

struct StormStep<'a, T> {
    h: &'a mut [T],
    x: &'a mut [T],
    g: &'a [T],
    g_prev: &'a [T],
    c: T,
    alpha: T,
}

impl<T: Float> Kernel for StormStep<'_, T> {
    type Output = ();
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.h.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (c, alpha) = (self.c, self.alpha);
        let hx = self.h.iter_mut().zip(self.x.iter_mut());
        for ((h, x), (&g, &gp)) in hx.zip(self.g.iter().zip(self.g_prev)) {
            let hn = g + c * (*h - gp);
            *h = hn;
            *x -= alpha * hn;
        }
    }
}

struct Ema<'a, T> {
    h: &'a mut [T],
    g: &'a [T],
    rho: T,
    one_minus_rho: T,
}

impl<T: Float> Kernel for Ema<'_, T> {
    type Output = ();
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.h.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (r, s) = (self.rho, self.one_minus_rho);
        for (h, &g) in self.h.iter_mut().zip(self.g) {
            *h = r * *h + s * g;
        }
    }
}

impl Backend {
    /// STORM update `h ← g + (1 − η)(h − g_prev)` on this backend.
    ///
    /// `g` and `g_prev` must be the same sample's estimate at the current and
    /// the previous point (ALGORITHMS.md §9.1). `η = 1` gives `h = g` (plain
    /// SGD, used for the first step); `η = 0` the pure recursive estimator.
    ///
    /// Errors: [`Error::LengthMismatch`] (`g`, `g_prev` against `h`);
    /// [`Error::InvalidParameter`] if `eta` is outside `[0, 1]` or NaN.
    ///
    /// ```
    /// let mut h = [1.0f64, 1.0];
    /// bilevel::Backend::Scalar.storm_update(&mut h, &[2.0, 2.0], &[0.0, 1.0], 0.5).unwrap();
    /// assert_eq!(h, [2.5, 2.0]);
    /// ```
    #[inline]
    pub fn storm_update<T: Float>(self, h: &mut [T], g: &[T], g_prev: &[T], eta: T) -> Result<(), Error> {
        storm_update_on(self, h, g, g_prev, eta)
    }

    /// Fused STORM update and step: `h ← g + (1 − η)(h − g_prev)`, then
    /// `x ← x − α h`, in one pass (FdeHBO eqs 6, 7, 10 without projection).
    ///
    /// Errors: as [`Backend::storm_update`], plus `x` length and
    /// [`Error::NonFinite`] for `alpha` (a negative `alpha` is allowed: it is
    /// an ascent step).
    ///
    /// ```
    /// let (mut h, mut x) = ([0.0f32; 2], [1.0f32; 2]);
    /// bilevel::Backend::Scalar.storm_step(&mut h, &mut x, &[1.0, 2.0], &[0.0; 2], 1.0, 0.5).unwrap();
    /// assert_eq!((h, x), ([1.0, 2.0], [0.5, 0.0]));
    /// ```
    #[inline]
    pub fn storm_step<T: Float>(
        self,
        h: &mut [T],
        x: &mut [T],
        g: &[T],
        g_prev: &[T],
        eta: T,
        alpha: T,
    ) -> Result<(), Error> {
        storm_step_on(self, h, x, g, g_prev, eta, alpha)
    }

    /// Exponential moving average (heavy-ball momentum)
    /// `h ← ρ h + (1 − ρ) g`.
    ///
    /// Errors: [`Error::LengthMismatch`]; [`Error::InvalidParameter`] if `rho`
    /// is outside `[0, 1]` or NaN.
    ///
    /// ```
    /// let mut h = [4.0f64];
    /// bilevel::Backend::Scalar.ema_update(&mut h, &[0.0], 0.75).unwrap();
    /// assert_eq!(h, [3.0]);
    /// ```
    #[inline]
    pub fn ema_update<T: Float>(self, h: &mut [T], g: &[T], rho: T) -> Result<(), Error> {
        ema_update_on(self, h, g, rho)
    }
}

/// The checked STORM update on any backend or token.
#[inline(always)]
pub(crate) fn storm_update_on<E: Exec, T: Float>(
    e: E,
    h: &mut [T],
    g: &[T],
    g_prev: &[T],
    eta: T,
) -> Result<(), Error> {
    check_len("g", h.len(), g.len())?;
    check_len("g_prev", h.len(), g_prev.len())?;
    check_unit("eta", eta)?;
    e.exec(Storm { h, g, g_prev, c: T::ONE - eta })
}

/// The checked fused STORM step on any backend or token.
#[inline(always)]
pub(crate) fn storm_step_on<E: Exec, T: Float>(
    e: E,
    h: &mut [T],
    x: &mut [T],
    g: &[T],
    g_prev: &[T],
    eta: T,
    alpha: T,
) -> Result<(), Error> {
    check_len("x", h.len(), x.len())?;
    check_len("g", h.len(), g.len())?;
    check_len("g_prev", h.len(), g_prev.len())?;
    check_unit("eta", eta)?;
    if !alpha.is_finite() {
        return Err(Error::NonFinite { what: "alpha" });
    }
    e.exec(StormStep { h, x, g, g_prev, c: T::ONE - eta, alpha })
}

/// The checked moving average on any backend or token.
#[inline(always)]
pub(crate) fn ema_update_on<E: Exec, T: Float>(e: E, h: &mut [T], g: &[T], rho: T) -> Result<(), Error> {
    check_len("g", h.len(), g.len())?;
    check_unit("rho", rho)?;
    e.exec(Ema { h, g, rho, one_minus_rho: T::ONE - rho })
}

/// STORM update on the detected backend. See [`Backend::storm_update`].
///
/// ```
/// let mut h = [0.0f64; 3];
/// bilevel::kernels::storm_update(&mut h, &[1.0; 3], &[0.0; 3], 1.0).unwrap();
/// assert_eq!(h, [1.0; 3]);
/// assert!(bilevel::kernels::storm_update(&mut h, &[1.0; 3], &[0.0; 3], 1.5).is_err());
/// ```
#[inline]
pub fn storm_update<T: Float>(h: &mut [T], g: &[T], g_prev: &[T], eta: T) -> Result<(), Error> {
    Backend::detect().storm_update(h, g, g_prev, eta)
}

/// Fused STORM update and step on the detected backend. See
/// [`Backend::storm_step`].
///
/// ```
/// let (mut h, mut x) = ([0.0f64; 2], [0.0f64; 2]);
/// bilevel::kernels::storm_step(&mut h, &mut x, &[1.0, -1.0], &[0.0; 2], 1.0, 0.1).unwrap();
/// assert_eq!(x, [-0.1, 0.1]);
/// ```
#[inline]
pub fn storm_step<T: Float>(
    h: &mut [T],
    x: &mut [T],
    g: &[T],
    g_prev: &[T],
    eta: T,
    alpha: T,
) -> Result<(), Error> {
    Backend::detect().storm_step(h, x, g, g_prev, eta, alpha)
}

/// Exponential moving average on the detected backend. See
/// [`Backend::ema_update`].
///
/// ```
/// let mut h = [1.0f32, 1.0];
/// bilevel::kernels::ema_update(&mut h, &[3.0, 5.0], 0.5).unwrap();
/// assert_eq!(h, [2.0, 3.0]);
/// ```
#[inline]
pub fn ema_update<T: Float>(h: &mut [T], g: &[T], rho: T) -> Result<(), Error> {
    Backend::detect().ema_update(h, g, rho)
}
