//! Euclidean-ball projection (ALGORITHMS.md §9.2) and FdeHBO's fused
//! step-and-project `v ← Π_r(v − λ h)`.
//!
//! `Π_r(w) = w` if `‖w‖ ≤ r`, else `(r/‖w‖) w`. The norm is the scaled,
//! overflow-free [`crate::kernels::norm`]. The scaling factor is applied only
//! when `‖w‖ > r`, so points inside the ball (and the zero vector) are returned
//! bit-for-bit unchanged.
//!
//! Error bound: with `β(n)` the norm's relative bound (see
//! [`crate::kernels::norm`]) and `u = eps/2`, each entry of the result is
//! within `ρ = (1 + u)² / (1 − β(n)) − 1 ≈ (⌈n/16⌉ + 10) · eps / 4` (relative)
//! of the exact projection, so `‖Π_r(w)‖ ≤ (1 + ρ) · r` (within the looser
//! `(n/16 + 11) · eps · r` stated before), and projecting the result again
//! changes each entry by at most `1 − (1 − u)² / ((1 + ρ)(1 + β))`, about `2ρ`,
//! relative (idempotence up to rounding). The centred variant obeys the same
//! bound for the rounded difference `w − c`, plus one rounding of the final
//! `c + s·(w − c)` per entry. Barring underflow (a radius near the subnormal
//! range).

use crate::Float;
use crate::backend::{Backend, Exec, Kernel, Lanes, MulAdd};
use crate::error::{Error, check_len};
use crate::kernels::dot::{SumSq, with_lanes};
use crate::kernels::norm::norm_parts;

/// Checks a projection radius: positive and not NaN (`+∞` is allowed and
/// means "no projection").
#[inline]
fn check_radius<T: Float>(r: T) -> Result<(), Error> {
    if r > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name: "radius", requirement: "> 0 and not NaN" })
    }
}

/// `w ← c + t·(w − c)` (`c` = 0 when `None`), where the difference is first
/// scaled exactly by the powers of two `p = (p1, p2)` when given: the
/// rescaling of a projection, with `p` used when the norm was only available
/// as `mant · 2^e` (§9.2, huge or tiny entries).
struct Rescale<'a, T> {
    w: &'a mut [T],
    c: Option<&'a [T]>,
    p: Option<(T, T)>,
    t: T,
}

impl<T: Float> Kernel for Rescale<'_, T> {
    type Output = ();
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.w.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let t = self.t;
        match (self.c, self.p) {
            (None, None) => {
                for w in self.w.iter_mut() {
                    *w *= t;
                }
            }
            (None, Some((p1, p2))) => {
                for w in self.w.iter_mut() {
                    *w = *w * p1 * p2 * t;
                }
            }
            (Some(c), None) => {
                for (w, &c) in self.w.iter_mut().zip(c) {
                    *w = c + t * (*w - c);
                }
            }
            (Some(c), Some((p1, p2))) => {
                for (w, &c) in self.w.iter_mut().zip(c) {
                    *w = c + (*w - c) * p1 * p2 * t;
                }
            }
        }
    }
}

/// `w ← w − λ h`, returning the sum of squares of the new `w`.
struct StepSumSq<'a, T> {
    w: &'a mut [T],
    h: &'a [T],
    lambda: T,
}

impl<T: Float> Kernel for StepSumSq<'_, T> {
    type Output = T;
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.w.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        with_lanes!(M, self.w.len(), step_sum_sq::<M, T>(self.w, self.h, self.lambda))
    }
}

/// The body of [`StepSumSq`] on `L` lanes.
#[inline(always)]
fn step_sum_sq<M: MulAdd, T: Float, const L: usize>(w: &mut [T], h: &[T], lambda: T) -> T {
    let (cw, rw) = w.as_chunks_mut::<L>();
    let (ch, rh) = h.as_chunks::<L>();
    let mut acc = Lanes([T::ZERO; L]);
    for (w, h) in cw.iter_mut().zip(ch) {
        // Load the chunk into a local array before stepping it: the
        // compiler cannot prove `w` and `h` disjoint here, and with all
        // loads ahead of the store the step vectorizes.
        let mut y = *w;
        for (y, &h) in y.iter_mut().zip(h) {
            *y -= lambda * h;
        }
        *w = y;
        for j in 0..L {
            acc[j] = M::mul_add(y[j], y[j], acc[j]);
        }
    }
    // The tail continues the lanes it falls on, exactly as `SumSq` does, so
    // the result equals `axpy` followed by `project_ball`.
    for (acc, (w, &h)) in acc.iter_mut().zip(rw.iter_mut().zip(rh)) {
        let y = *w - lambda * h;
        *w = y;
        *acc = M::mul_add(y, y, *acc);
    }
    M::fold(&mut acc)
}

/// Sum of squares of `w − c`, without writing it.
struct DiffSumSq<'a, T> {
    w: &'a [T],
    c: &'a [T],
}

impl<T: Float> Kernel for DiffSumSq<'_, T> {
    type Output = T;
    #[inline(always)]
    fn size_hint(&self) -> usize {
        self.w.len()
    }
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        with_lanes!(M, self.w.len(), diff_sum_sq::<M, T>(self.w, self.c))
    }
}

/// The body of [`DiffSumSq`] on `L` lanes: the lane layout of `SumSq` on
/// the difference `w − c`.
#[inline(always)]
fn diff_sum_sq<M: MulAdd, T: Float, const L: usize>(w: &[T], c: &[T]) -> T {
    let (cw, rw) = w.as_chunks::<L>();
    let (cc, rc) = c.as_chunks::<L>();
    let mut acc = Lanes([T::ZERO; L]);
    for (w, c) in cw.iter().zip(cc) {
        for j in 0..L {
            let y = w[j] - c[j];
            acc[j] = M::mul_add(y, y, acc[j]);
        }
    }
    for (acc, (&w, &c)) in acc.iter_mut().zip(rw.iter().zip(rc)) {
        let y = w - c;
        *acc = M::mul_add(y, y, *acc);
    }
    M::fold(&mut acc)
}

/// Given the norm as `(mant, e)` (`‖w‖ = mant · 2^e`, see `norm_parts`) and a
/// finite radius, decides the rescaling: `None` when `w` is inside (left
/// untouched), else the kernel's `(p, t)` and the factor `r/‖w‖` to report.
#[inline]
#[allow(clippy::type_complexity)]
fn rescale_for<T: Float>(mant: T, e: i32, r: T) -> Result<Option<(Option<(T, T)>, T, T)>, Error> {
    if !mant.is_finite() {
        // NaN, or an infinite entry (`norm_parts` keeps overflow in `e`).
        return Err(Error::NonFinite { what: "v" });
    }
    let (mut mant, mut e) = (mant, e);
    if e == 0 {
        if mant <= r {
            return Ok(None);
        }
        let s = r / mant;
        if s >= T::MIN_POSITIVE_T {
            return Ok(if s < T::ONE { Some((None, s, s)) } else { None });
        }
        // A subnormal factor has too few bits to scale large entries (found
        // by fuzzing: ‖w‖ = 6.7e15, r = 2.1e-308 gave a result 1.6 r long).
        // Normalize the entries by the norm's power of two first.
        let k = mant.exponent();
        (mant, e) = (mant * T::exp2i(-(k / 2)) * T::exp2i(-(k - k / 2)), k);
    }
    let (hi, lo) = (e - e / 2, e / 2);
    // The norm itself (∞ when it is not representable, which is > r).
    if mant * T::exp2i(hi) * T::exp2i(lo) <= r {
        return Ok(None);
    }
    // r/‖w‖ = (r/mant) · 2^-e: scale by 2^-e exactly, then round once.
    let t = r / mant;
    let p = (T::exp2i(-hi), T::exp2i(-lo));
    Ok(Some((Some(p), t, t * p.0 * p.1)))
}

impl Backend {
    /// Projects `v` onto the ball `{‖v‖₂ ≤ r}` in place and returns the factor
    /// applied (`1` if `v` was already inside, in which case `v` is untouched).
    ///
    /// `r = +∞` is the identity. Finite vectors whose norm overflows (entries
    /// near `MAX`) are still projected: the factor is applied as
    /// `(r / mant) · 2^-e` with the norm held as `mant · 2^e`; the returned
    /// factor is then rounded and can underflow to 0. Errors:
    /// [`Error::InvalidParameter`] if `r <= 0` or NaN; [`Error::NonFinite`] if
    /// `v` contains NaN, or ±∞ while `r` is finite (`v` is left unchanged in
    /// both cases).
    ///
    /// ```
    /// let mut v = [3.0f64, 4.0];
    /// let s = bilevel::Backend::Scalar.project_ball(&mut v, 1.0).unwrap();
    /// assert_eq!(s, 0.2);
    /// assert!((v[0] - 0.6).abs() < 1e-15 && (v[1] - 0.8).abs() < 1e-15);
    /// let mut big = [f64::MAX / 2.0; 8]; // ‖big‖ = √8 · MAX/2 overflows
    /// bilevel::Backend::Scalar.project_ball(&mut big, 1.0).unwrap();
    /// assert!((big[0] - 8f64.sqrt().recip()).abs() < 1e-15);
    /// ```
    #[inline]
    pub fn project_ball<T: Float>(self, v: &mut [T], r: T) -> Result<T, Error> {
        project_ball_on(self, v, r)
    }

    /// Projects `v` onto the ball of radius `r` centred at `center`:
    /// `v ← c + min(1, r/‖v − c‖)(v − c)`. Returns the factor applied.
    ///
    /// Errors: as [`Backend::project_ball`] (with `v − center` in place of
    /// `v`, so also [`Error::NonFinite`] when that difference overflows), plus
    /// [`Error::LengthMismatch`] for `center`. `v` is unchanged on error.
    ///
    /// ```
    /// let mut v = [4.0f32, 1.0];
    /// let s = bilevel::Backend::Scalar.project_ball_centered(&mut v, &[1.0, 1.0], 1.5).unwrap();
    /// assert_eq!((s, v), (0.5, [2.5, 1.0]));
    /// ```
    #[inline]
    pub fn project_ball_centered<T: Float>(self, v: &mut [T], center: &[T], r: T) -> Result<T, Error> {
        project_ball_centered_on(self, v, center, r)
    }

    /// FdeHBO's fused step and projection: `v ← Π_r(v − λ h)`, in one pass
    /// when no rescaling is needed and two otherwise. Returns the factor
    /// applied by the projection.
    ///
    /// Errors: [`Error::LengthMismatch`]; [`Error::InvalidParameter`] for the
    /// radius; [`Error::NonFinite`] for `lambda`, or when the stepped `v` is
    /// not finite (then `v` holds the unprojected step).
    ///
    /// ```
    /// let mut v = [0.0f64, 0.0];
    /// let s = bilevel::Backend::Scalar.step_project(&mut v, &[-3.0, -4.0], 1.0, 2.5).unwrap();
    /// assert_eq!(s, 0.5);
    /// assert_eq!(v, [1.5, 2.0]);
    /// ```
    #[inline]
    pub fn step_project<T: Float>(self, v: &mut [T], h: &[T], lambda: T, r: T) -> Result<T, Error> {
        step_project_on(self, v, h, lambda, r)
    }
}

/// The checked `project_ball` on any backend or token.
#[inline(always)]
pub(crate) fn project_ball_on<E: Exec, T: Float>(be: E, v: &mut [T], r: T) -> Result<T, Error> {
    check_radius(r)?;
    let sum = be.exec(SumSq { a: v })?;
    if r == T::INFINITY_T && !sum.is_nan() {
        return Ok(T::ONE);
    }
    let (mant, e) = norm_parts(be, v, None, sum)?;
    match rescale_for(mant, e, r)? {
        None => Ok(T::ONE),
        Some((p, t, s)) => be.exec(Rescale { w: v, c: None, p, t }).map(|()| s),
    }
}

/// The checked `project_ball_centered` on any backend or token.
#[inline(always)]
pub(crate) fn project_ball_centered_on<E: Exec, T: Float>(
    be: E,
    v: &mut [T],
    center: &[T],
    r: T,
) -> Result<T, Error> {
    check_len("center", v.len(), center.len())?;
    check_radius(r)?;
    let sum = be.exec(DiffSumSq { w: v, c: center })?;
    if r == T::INFINITY_T && !sum.is_nan() {
        return Ok(T::ONE);
    }
    let (mant, e) = norm_parts(be, v, Some(center), sum)?;
    match rescale_for(mant, e, r)? {
        None => Ok(T::ONE),
        Some((p, t, s)) => be.exec(Rescale { w: v, c: Some(center), p, t }).map(|()| s),
    }
}

/// The checked `step_project` on any backend or token.
#[inline(always)]
pub(crate) fn step_project_on<E: Exec, T: Float>(
    be: E,
    v: &mut [T],
    h: &[T],
    lambda: T,
    r: T,
) -> Result<T, Error> {
    check_len("h", v.len(), h.len())?;
    check_radius(r)?;
    if !lambda.is_finite() {
        return Err(Error::NonFinite { what: "lambda" });
    }
    let sum = be.exec(StepSumSq { w: v, h, lambda })?;
    if r == T::INFINITY_T && !sum.is_nan() {
        return Ok(T::ONE);
    }
    let (mant, e) = norm_parts(be, v, None, sum)?;
    match rescale_for(mant, e, r)? {
        None => Ok(T::ONE),
        Some((p, t, s)) => be.exec(Rescale { w: v, c: None, p, t }).map(|()| s),
    }
}

/// Ball projection on the detected backend. See [`Backend::project_ball`].
///
/// ```
/// let mut v = [0.5f64, 0.0];
/// assert_eq!(bilevel::kernels::project_ball(&mut v, 1.0), Ok(1.0));
/// assert_eq!(v, [0.5, 0.0]);
/// assert!(bilevel::kernels::project_ball(&mut v, 0.0).is_err());
/// ```
#[inline]
pub fn project_ball<T: Float>(v: &mut [T], r: T) -> Result<T, Error> {
    Backend::detect().project_ball(v, r)
}

/// Centred ball projection on the detected backend. See
/// [`Backend::project_ball_centered`].
///
/// ```
/// let mut v = [1.0f64, 3.0];
/// bilevel::kernels::project_ball_centered(&mut v, &[1.0, 1.0], 1.0).unwrap();
/// assert_eq!(v, [1.0, 2.0]);
/// ```
#[inline]
pub fn project_ball_centered<T: Float>(v: &mut [T], center: &[T], r: T) -> Result<T, Error> {
    Backend::detect().project_ball_centered(v, center, r)
}

/// Fused step and projection on the detected backend. See
/// [`Backend::step_project`].
///
/// ```
/// let mut v = [1.0f32];
/// bilevel::kernels::step_project(&mut v, &[1.0], 0.5, 10.0).unwrap();
/// assert_eq!(v, [0.5]);
/// ```
#[inline]
pub fn step_project<T: Float>(v: &mut [T], h: &[T], lambda: T, r: T) -> Result<T, Error> {
    Backend::detect().step_project(v, h, lambda, r)
}
