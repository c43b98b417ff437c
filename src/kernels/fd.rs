//! Central finite-difference Hessian- and Jacobian-vector products
//! (ALGORITHMS.md §9.3; FdeHBO eqs 9 and 11).
//!
//! For a gradient map `y ↦ G(y)` (the user's `∇_y g(x, ·)` or `∇_x g(x, ·)`
//! with `x` and the sample fixed):
//! ```text
//! D(d) = [G(y + d v) − G(y − d v)] / (2d)  ≈  ∇G(y) · v
//! ```
//! which is `∇²_yy g · v` (HVP) for `G = ∇_y g` and `∇²_xy g · v` (JVP) for
//! `G = ∇_x g`. The truncation error is `O(d² ‖v‖³)` and the rounding error
//! `O(eps · |G| / d)` (§9.3 "Error"); for a quadratic `g` the difference is
//! exact for every `d` up to rounding.
//!
//! Implementation rules:
//! - `y ± d v` is built in a scratch buffer; `y` is never modified and
//!   restored (that loses bits).
//! - Every `d` is rounded to a power of two, so `d v` and the division by `2d`
//!   add no rounding of their own.
//! - `v = 0` returns exact zeros without calling the oracle.
//! - The closure must evaluate the SAME sample at both points (common random
//!   numbers, §6): with different samples the noise is divided by `d`.
//! - The elementwise parts are kernel bodies, so results are bit-identical
//!   on every backend (given a deterministic oracle).

use crate::Float;
use crate::backend::{Backend, Kernel, MulAdd};
use crate::error::{Error, check_len};

/// How the finite-difference step `d` is chosen.
///
/// | policy | oracle calls | use it when |
/// |---|---|---|
/// | `Fixed(d)` | 2 | you know the scale of the problem, or need the step of FdeHBO's theory (§6: `δ ≤ min(c_η)/(8 L r_v² (w+T−1)^(2/3))`) |
/// | `Relative` | 2 | two calls must do: `d = cbrt(eps)·(1 + ‖y‖)/‖v‖`, a displacement `d‖v‖` relative to the size of `y` (§9.3 rule 2) |
/// | `Extrapolated` | 4 to 12 | the default: estimates the best step from the calls it makes, then cancels the `d²` error term (Richardson); within 3× of the best power-of-two step on logistic regression and a quartic loss, f32 and f64 (tests/fd_accuracy.rs) |
/// | `Adaptive` | 14 | tries 7 steps `d_0·2^k`, `k = −3..=3`, around the relative one and keeps the one whose estimate agrees best with both neighbours' (the Richardson-style comparison of `d` with `d/2` and `2d` estimates its error) |
///
/// Every step is rounded to the nearest power of two and clamped to
/// `[MIN_POSITIVE, 2^e_max]` (the largest finite power of two, 2^127 or
/// 2^1023); [`FdReport::delta`] is always the step used.
///
/// ```
/// use bilevel::kernels::Delta;
/// let d: Delta<f64> = Delta::default();
/// assert_eq!(d, Delta::Extrapolated);
/// assert_eq!((d.oracle_calls(), Delta::<f64>::Relative.oracle_calls()), (12, 2));
/// assert_eq!(Delta::<f32>::Adaptive.oracle_calls(), 14);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Delta<T> {
    /// A fixed step `d > 0` (rounded to a power of two).
    Fixed(T),
    /// `d = cbrt(eps)·(1 + ‖y‖)/‖v‖` (§9.3 rule 2).
    Relative,
    /// Estimated step, then Richardson extrapolation (§9.3 "Error"): from
    /// `D(d)` and `D(2d)`, starting at the relative step `d_0`,
    /// - the truncation coefficient `A ≈ ‖D(2d) − D(d)‖/(3d²)` and the
    ///   rounding level `B ≈ 2·eps·|G|` (`|G|` the largest gradient norm seen
    ///   at `y ± d_0 v`) give the best step `d* = (B/2A)^(1/3)`;
    /// - if `d*` is at least 4× smaller than `d`, the pair is evaluated again
    ///   at `d*` (at most twice, never below `d_0/2^12`);
    /// - the result is `(4·D(d) − D(2d))/3`, whose `d²` error terms cancel.
    ///
    /// 4 oracle calls when the relative step is not too large, 8 or 12
    /// otherwise ([`FdReport::oracle_calls`] says which).
    #[default]
    Extrapolated,
    /// The best of seven steps around `Relative`, judged by agreement of
    /// neighbouring estimates.
    Adaptive,
}

/// Number of candidate steps of [`Delta::Adaptive`].
const ADAPTIVE_STEPS: i32 = 7;
/// Ratio between neighbouring candidate steps of [`Delta::Adaptive`].
const ADAPTIVE_RATIO: f64 = 2.0;
/// [`Delta::Adaptive`] leaves the relative step only for a candidate whose
/// error estimate is this many times smaller (4 never let it move up: in the
/// rounding regime the estimate at `4·d_0` is only about 4× smaller).
const ADAPTIVE_MARGIN: f64 = 2.0;
/// Re-evaluations [`Delta::Extrapolated`] may make at an estimated step.
const EXTRAPOLATED_MOVES: u32 = 2;
/// The rounding level of one gradient, in units of `eps·|G|` (measured:
/// 0.14 to 5.3, median 1 to 2.4, on tests/fd_accuracy.rs's problems).
const ROUNDING_LEVEL: f64 = 2.0;
/// [`Delta::Extrapolated`] never goes below `d_0 / 2^MAX_DESCENT`.
const MAX_DESCENT: i32 = 12;

impl<T: Float> Delta<T> {
    /// Oracle calls one product costs with this policy (0 when `v = 0`); for
    /// `Extrapolated` the most it can cost.
    ///
    /// ```
    /// assert_eq!(bilevel::kernels::Delta::Fixed(1e-3f64).oracle_calls(), 2);
    /// ```
    pub fn oracle_calls(&self) -> u32 {
        match self {
            Delta::Fixed(_) | Delta::Relative => 2,
            Delta::Adaptive => 2 * ADAPTIVE_STEPS as u32,
            Delta::Extrapolated => 4 * (1 + EXTRAPOLATED_MOVES),
        }
    }

    /// Scratch length needed for a product with `y` of length `q` and
    /// outputs of total length `m` (`m = q` for an HVP, `p` for a JVP,
    /// `p + q` for both): `q + m`, `q + 2m` for `Extrapolated`, or `q + 4m`
    /// for `Adaptive` (saturating; `const`, so it can size arrays).
    ///
    /// ```
    /// use bilevel::kernels::Delta;
    /// assert_eq!(Delta::<f64>::Relative.scratch_len(5, 5), 10);
    /// assert_eq!(Delta::<f64>::Extrapolated.scratch_len(5, 3), 11);
    /// assert_eq!(Delta::<f64>::Adaptive.scratch_len(5, 3), 17);
    /// const N: usize = Delta::<f32>::Extrapolated.scratch_len(2, 2);
    /// let _scratch = [0.0f32; N];
    /// ```
    pub const fn scratch_len(&self, q: usize, m: usize) -> usize {
        let buffers = match self {
            Delta::Adaptive => 4,
            Delta::Extrapolated => 2,
            Delta::Fixed(_) | Delta::Relative => 1,
        };
        q.saturating_add(m.saturating_mul(buffers))
    }
}

/// What a finite-difference product did.
///
/// ```
/// use bilevel::kernels::{Delta, hvp_central};
/// let mut out = [0.0f64; 1];
/// let mut scratch = [0.0f64; 2];
/// let r = hvp_central(|y: &[f64], g: &mut [f64]| g[0] = 3.0 * y[0], &[1.0], &[1.0], Delta::Fixed(0.5), &mut scratch, &mut out).unwrap();
/// assert_eq!((out[0], r.delta, r.oracle_calls), (3.0, 0.5, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct FdReport<T> {
    /// The step `d` used (a power of two; 0 when `v = 0`). For
    /// `Extrapolated`, the finer of the two steps `d` and `2d` combined.
    pub delta: T,
    /// Oracle calls made.
    pub oracle_calls: u32,
    /// For `Adaptive`: `max(‖D(d) − D(d/2)‖, ‖D(d) − D(2d)‖)` of the chosen
    /// step, an estimate of its error. For `Extrapolated`: `‖D(2d) − D(d)‖/3`,
    /// the estimated truncation error of `D(d)` before extrapolation (the
    /// extrapolated product is usually far more accurate).
    pub error_estimate: Option<T>,
}

/// `point ← y + s·v`.
struct Shift<'a, T> {
    point: &'a mut [T],
    y: &'a [T],
    v: &'a [T],
    s: T,
}

impl<T: Float> Kernel for Shift<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let s = self.s;
        for ((p, &y), &v) in self.point.iter_mut().zip(self.y).zip(self.v) {
            *p = y + s * v;
        }
    }
}

/// `plus ← (plus − minus)·scale`.
struct Quotient<'a, T> {
    plus: &'a mut [T],
    minus: &'a [T],
    scale: T,
}

impl<T: Float> Kernel for Quotient<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let s = self.scale;
        for (p, &m) in self.plus.iter_mut().zip(self.minus) {
            *p = (*p - m) * s;
        }
    }
}

/// `fine ← (4·fine − coarse)/3`: Richardson's combination of `D(d)` and
/// `D(2d)`, which cancels their `d²` error terms.
struct Extrapolate<'a, T> {
    fine: &'a mut [T],
    coarse: &'a [T],
}

impl<T: Float> Kernel for Extrapolate<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (four, three) = (T::from_f64(4.0), T::from_f64(3.0));
        for (f, &c) in self.fine.iter_mut().zip(self.coarse) {
            *f = (four * *f - c) / three;
        }
    }
}

/// Euclidean distance of two estimates (cold path: a few per product).
fn dist<T: Float>(a: &[T], b: &[T]) -> T {
    let mut e = T::ZERO;
    for (&x, &y) in a.iter().zip(b) {
        let t = x - y;
        e += t * t;
    }
    e.sqrt()
}

/// Nearest power of two (in ratio) to a positive `d`, clamped to the normal
/// range `[MIN_POSITIVE, 2^e_max]` (`e_max` = 127 or 1023): a step whose
/// rounding overflows (`Fixed(MAX)`, or `Relative` with a subnormal `‖v‖`)
/// becomes the largest finite power of two, never 1 (`exponent(∞)` is 0).
#[inline]
fn round_pow2<T: Float>(d: T) -> T {
    let lifted = d * T::from_f64(core::f64::consts::SQRT_2);
    let k = if lifted >= T::MAX_T || lifted.is_nan() {
        T::MAX_T.exponent()
    } else if lifted >= T::MIN_POSITIVE_T {
        lifted.exponent()
    } else {
        T::MIN_POSITIVE_T.exponent()
    };
    T::exp2i(k)
}

/// One central difference at step `d` (a power of two):
/// `(out_a, out_b) ← D(d)`, using `minus` (length `|out_a| + |out_b|`).
#[allow(clippy::too_many_arguments)]
fn difference<T: Float, G: FnMut(&[T], &mut [T], &mut [T])>(
    backend: Backend,
    grad: &mut G,
    y: &[T],
    v: &[T],
    d: T,
    point: &mut [T],
    minus: &mut [T],
    out_a: &mut [T],
    out_b: &mut [T],
    grad_norm: Option<&mut T>,
) -> Result<(), Error> {
    let (ma, mb) = minus.split_at_mut(out_a.len());
    backend.run(Shift { point, y, v, s: d })?;
    grad(point, out_a, out_b);
    backend.run(Shift { point, y, v, s: -d })?;
    grad(point, ma, mb);
    if let Some(g) = grad_norm {
        // Largest gradient norm at y ± d v (cold: one product in several).
        let norm = |a: &[T], b: &[T]| a.iter().chain(b).fold(T::ZERO, |s, &x| s + x * x).sqrt();
        *g = norm(out_a, out_b).max(norm(ma, mb));
    }
    // 1/(2d) is a power of two, and for every d in round_pow2's range it is
    // representable (2^-e_max/2 is subnormal but exact; 2d itself may overflow).
    let scale = T::HALF / d;
    backend.run(Quotient { plus: out_a, minus: ma, scale })?;
    backend.run(Quotient { plus: out_b, minus: mb, scale })
}

impl Backend {
    /// Central-difference product of a gradient map with two outputs, e.g.
    /// `(∇_x g, ∇_y g)` from one oracle call: `out_a ← [A(y+dv) − A(y−dv)]/(2d)`,
    /// `out_b` likewise. One call pair gives the JVP (`out_a`, from `∇_x g`)
    /// and the HVP (`out_b`, from `∇_y g`). `grad(point, a, b)` writes both
    /// gradients at `point`; either output may be empty.
    ///
    /// `scratch` must hold [`Delta::scratch_len`]`(y.len(), out_a.len() + out_b.len())`
    /// elements (extra length is ignored).
    ///
    /// Errors (before any oracle call or write): [`Error::LengthMismatch`]
    /// (`v` against `y`, `scratch` too short); [`Error::InvalidParameter`]
    /// for a fixed `d` that is not finite and positive; [`Error::NonFinite`]
    /// if `y` or `v` has a NaN or infinite entry.
    ///
    /// ```
    /// use bilevel::{Backend, kernels::Delta};
    /// // g(x, y) = x·y² / 2: ∇_x g = y²/2, ∇_y g = x·y.
    /// let x = 3.0f64;
    /// let grad = |y: &[f64], gx: &mut [f64], gy: &mut [f64]| {
    ///     gx[0] = 0.5 * y[0] * y[0];
    ///     gy[0] = x * y[0];
    /// };
    /// let (mut jv, mut hv) = ([0.0], [0.0]);
    /// let mut scratch = [0.0; 3];
    /// Backend::Scalar.central_pair(grad, &[2.0], &[1.0], Delta::Relative, &mut scratch, &mut jv, &mut hv).unwrap();
    /// assert!((hv[0] - 3.0).abs() < 1e-12 && (jv[0] - 2.0).abs() < 1e-9);
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn central_pair<T: Float, G: FnMut(&[T], &mut [T], &mut [T])>(
        self,
        mut grad: G,
        y: &[T],
        v: &[T],
        delta: Delta<T>,
        scratch: &mut [T],
        out_a: &mut [T],
        out_b: &mut [T],
    ) -> Result<FdReport<T>, Error> {
        let (q, na, nb) = (y.len(), out_a.len(), out_b.len());
        let m = na.saturating_add(nb);
        check_len("v", q, v.len())?;
        let need = delta.scratch_len(q, m);
        if scratch.len() < need {
            return Err(Error::LengthMismatch { what: "scratch", expected: need, found: scratch.len() });
        }
        if let Delta::Fixed(d) = delta
            && !(d.is_finite() && d > T::ZERO)
        {
            return Err(Error::InvalidParameter { name: "delta", requirement: "finite and > 0" });
        }
        let ny = self.norm(y)?;
        let nv = self.norm(v)?;
        if !ny.is_finite() {
            return Err(Error::NonFinite { what: "y" });
        }
        if !nv.is_finite() {
            return Err(Error::NonFinite { what: "v" });
        }
        if nv == T::ZERO {
            out_a.fill(T::ZERO);
            out_b.fill(T::ZERO);
            return Ok(FdReport { delta: T::ZERO, oracle_calls: 0, error_estimate: None });
        }
        self.check_available()?;
        let relative = || T::EPSILON_T.cbrt() * (T::ONE + ny) / nv;
        let (point, rest) = scratch.split_at_mut(q);
        match delta {
            Delta::Fixed(_) | Delta::Relative => {
                let d = match delta {
                    Delta::Fixed(d) => round_pow2(d),
                    _ => round_pow2(relative()),
                };
                let (minus, _) = rest.split_at_mut(m);
                difference(self, &mut grad, y, v, d, point, minus, out_a, out_b, None)?;
                Ok(FdReport { delta: d, oracle_calls: 2, error_estimate: None })
            }
            Delta::Extrapolated => {
                let (minus, rest) = rest.split_at_mut(m);
                let (coarse, _) = rest.split_at_mut(m);
                let (ca, cb) = coarse.split_at_mut(na);
                // d ≤ 2^(e_max − 1), so that 2d is a step in range too.
                let d0 = round_pow2(relative()).min(T::exp2i(T::MAX_T.exponent() - 1));
                let floor = round_pow2(d0 * T::exp2i(-MAX_DESCENT));
                let level = T::from_f64(1.5 * ROUNDING_LEVEL) * T::EPSILON_T;
                let (mut d, mut g, mut calls) = (d0, T::ZERO, 0);
                loop {
                    let first = calls == 0;
                    difference(
                        self,
                        &mut grad,
                        y,
                        v,
                        d,
                        point,
                        minus,
                        out_a,
                        out_b,
                        first.then_some(&mut g),
                    )?;
                    difference(self, &mut grad, y, v, d + d, point, minus, ca, cb, None)?;
                    calls += 4;
                    // ‖D(2d) − D(d)‖ ≈ 3·A·d² (truncation A·d²), rounding ≈ B/d
                    // with B = level·|G|/1.5: the best step d* = (B/2A)^(1/3)
                    // is d·cbrt(level·|G| / (spread·d)).
                    let (sa, sb) = (dist(out_a, ca), dist(out_b, cb));
                    let spread = (sa * sa + sb * sb).sqrt();
                    let best = round_pow2(d * (level * g / (spread * d)).cbrt()).max(floor);
                    // (`best` is never NaN: round_pow2 maps NaN to the largest step.)
                    let last = calls == 4 * (1 + EXTRAPOLATED_MOVES) || !spread.is_finite();
                    if last || best * T::from_f64(4.0) > d {
                        self.run(Extrapolate { fine: out_a, coarse: ca })?;
                        self.run(Extrapolate { fine: out_b, coarse: cb })?;
                        let three = T::from_f64(3.0);
                        return Ok(FdReport {
                            delta: d,
                            oracle_calls: calls,
                            error_estimate: Some(spread / three),
                        });
                    }
                    d = best;
                }
            }
            Delta::Adaptive => {
                let d0 = round_pow2(relative());
                let (minus, rest) = rest.split_at_mut(m);
                let (at_d0, rest) = rest.split_at_mut(m);
                let (prev, rest) = rest.split_at_mut(m);
                let (cur, _) = rest.split_at_mut(m);
                // Candidates d_k = d0·2^k, k = −3..=3, from small to large.
                // Candidate k is judged by its worse disagreement with its two
                // neighbours, an estimate of its error (a lucky agreement with
                // one neighbour is not enough). The relative step d0 is kept
                // unless another candidate's estimate is clearly (2×) smaller:
                // near the optimum the estimates are rounding noise.
                let ratio = T::from_f64(ADAPTIVE_RATIO);
                let centre = ADAPTIVE_STEPS / 2;
                // Candidates are clamped like every step (round_pow2 keeps a
                // power of two in range unchanged).
                let mut d = round_pow2(d0 / T::exp2i(centre));
                let mut best: Option<(T, T)> = None; // (error estimate, step)
                let mut e_d0 = T::NAN_T;
                let mut e_left = T::ZERO; // ‖D_{k−2} − D_{k−1}‖
                for k in 0..ADAPTIVE_STEPS {
                    {
                        let (ca, cb) = cur.split_at_mut(na);
                        difference(self, &mut grad, y, v, d, point, minus, ca, cb, None)?;
                    }
                    if k == centre {
                        at_d0.copy_from_slice(cur);
                    }
                    if k > 0 {
                        let e_right = dist(prev, cur);
                        if k > 1 {
                            // Estimate for candidate k − 1 (in `prev`).
                            let e = e_left.max(e_right);
                            if k - 1 == centre {
                                e_d0 = e;
                            }
                            if best.is_none_or(|(be, _)| e < be) {
                                best = Some((e, d / ratio));
                                let (a, b) = prev.split_at(na);
                                out_a.copy_from_slice(a);
                                out_b.copy_from_slice(b);
                            }
                        }
                        e_left = e_right;
                    }
                    prev.copy_from_slice(cur);
                    d = round_pow2(d * ratio);
                }
                let calls = 2 * ADAPTIVE_STEPS as u32;
                match best {
                    None => Err(Error::NonFinite { what: "finite-difference estimate" }),
                    Some((e, dk)) if e.is_finite() && e * T::from_f64(ADAPTIVE_MARGIN) < e_d0 => {
                        Ok(FdReport { delta: dk, oracle_calls: calls, error_estimate: Some(e) })
                    }
                    Some(_) => {
                        // Not clearly better than d0: return D(d0).
                        let (a, b) = at_d0.split_at(na);
                        out_a.copy_from_slice(a);
                        out_b.copy_from_slice(b);
                        Ok(FdReport { delta: d0, oracle_calls: calls, error_estimate: Some(e_d0) })
                    }
                }
            }
        }
    }

    /// Central-difference product with one gradient map: the Hessian-vector
    /// product `∇²_yy g · v ≈ [∇_y g(y+dv) − ∇_y g(y−dv)]/(2d)` when `grad`
    /// is `∇_y g(x, ·)` (FdeHBO eq 9), or the Jacobian-vector product
    /// `∇²_xy g · v` when `grad` is `∇_x g(x, ·)` (eq 11; then `out` has
    /// length `p`). `scratch`: [`Delta::scratch_len`]`(y.len(), out.len())`.
    ///
    /// Errors: as [`Backend::central_pair`].
    ///
    /// ```
    /// use bilevel::{Backend, kernels::Delta};
    /// // ∇_y g = A y with A = [[2, 1], [1, 3]]: the difference is exact.
    /// let grad = |y: &[f64], g: &mut [f64]| {
    ///     g[0] = 2.0 * y[0] + y[1];
    ///     g[1] = y[0] + 3.0 * y[1];
    /// };
    /// let mut out = [0.0; 2];
    /// let mut scratch = [0.0; 4];
    /// Backend::Scalar.hvp_central(grad, &[1.0, -1.0], &[1.0, 2.0], Delta::Relative, &mut scratch, &mut out).unwrap();
    /// assert_eq!(out, [4.0, 7.0]);
    /// ```
    pub fn hvp_central<T: Float, G: FnMut(&[T], &mut [T])>(
        self,
        mut grad: G,
        y: &[T],
        v: &[T],
        delta: Delta<T>,
        scratch: &mut [T],
        out: &mut [T],
    ) -> Result<FdReport<T>, Error> {
        self.central_pair(
            |pt: &[T], a: &mut [T], _: &mut [T]| grad(pt, a),
            y,
            v,
            delta,
            scratch,
            out,
            &mut [],
        )
    }

    /// The Jacobian-vector product `∇²_xy g · v` by central differences of
    /// `∇_x g(x, ·)` (FdeHBO eq 11); the same computation as
    /// [`Backend::hvp_central`] with an output of length `p`.
    ///
    /// ```
    /// use bilevel::{Backend, kernels::Delta};
    /// // g = x·y²/2: ∇_x g = y²/2, so ∇²_xy g · v = y·v.
    /// let mut out = [0.0f64];
    /// let mut scratch = [0.0; 2];
    /// Backend::Scalar.jvp_central(|y: &[f64], gx: &mut [f64]| gx[0] = 0.5 * y[0] * y[0], &[2.0], &[0.5], Delta::Fixed(0.25), &mut scratch, &mut out).unwrap();
    /// assert_eq!(out, [1.0]);
    /// ```
    pub fn jvp_central<T: Float, G: FnMut(&[T], &mut [T])>(
        self,
        grad_x: G,
        y: &[T],
        v: &[T],
        delta: Delta<T>,
        scratch: &mut [T],
        out: &mut [T],
    ) -> Result<FdReport<T>, Error> {
        self.hvp_central(grad_x, y, v, delta, scratch, out)
    }

    /// `Ok` if this backend can run here.
    fn check_available(self) -> Result<(), Error> {
        if self.is_available() { Ok(()) } else { Err(Error::BackendUnavailable(self)) }
    }
}

/// [`Backend::central_pair`] on the detected backend.
///
/// ```
/// use bilevel::kernels::{Delta, central_pair};
/// let (mut a, mut b) = ([0.0f64], [0.0f64]);
/// let mut s = [0.0; 3];
/// central_pair(|y: &[f64], ga: &mut [f64], gb: &mut [f64]| { ga[0] = y[0]; gb[0] = 2.0 * y[0]; },
///              &[1.0], &[1.0], Delta::Relative, &mut s, &mut a, &mut b).unwrap();
/// assert_eq!((a, b), ([1.0], [2.0]));
/// ```
pub fn central_pair<T: Float, G: FnMut(&[T], &mut [T], &mut [T])>(
    grad: G,
    y: &[T],
    v: &[T],
    delta: Delta<T>,
    scratch: &mut [T],
    out_a: &mut [T],
    out_b: &mut [T],
) -> Result<FdReport<T>, Error> {
    Backend::detect().central_pair(grad, y, v, delta, scratch, out_a, out_b)
}

/// [`Backend::hvp_central`] on the detected backend.
///
/// ```
/// use bilevel::kernels::{Delta, hvp_central};
/// let mut out = [0.0f32];
/// let mut s = [0.0f32; 2];
/// // v = 0: zeros, and the oracle is not called.
/// hvp_central(|_: &[f32], _: &mut [f32]| panic!("not called"), &[1.0], &[0.0], Delta::Relative, &mut s, &mut out).unwrap();
/// assert_eq!(out, [0.0]);
/// ```
pub fn hvp_central<T: Float, G: FnMut(&[T], &mut [T])>(
    grad: G,
    y: &[T],
    v: &[T],
    delta: Delta<T>,
    scratch: &mut [T],
    out: &mut [T],
) -> Result<FdReport<T>, Error> {
    Backend::detect().hvp_central(grad, y, v, delta, scratch, out)
}

/// [`Backend::jvp_central`] on the detected backend.
///
/// ```
/// use bilevel::kernels::{Delta, jvp_central};
/// let mut out = [0.0f64; 2];
/// let mut s = [0.0f64; 3];
/// // ∇_x g = (y, 2y): J·v = (v, 2v).
/// jvp_central(|y: &[f64], gx: &mut [f64]| { gx[0] = y[0]; gx[1] = 2.0 * y[0]; }, &[5.0], &[3.0], Delta::Relative, &mut s, &mut out).unwrap();
/// assert_eq!(out, [3.0, 6.0]);
/// ```
pub fn jvp_central<T: Float, G: FnMut(&[T], &mut [T])>(
    grad_x: G,
    y: &[T],
    v: &[T],
    delta: Delta<T>,
    scratch: &mut [T],
    out: &mut [T],
) -> Result<FdReport<T>, Error> {
    Backend::detect().jvp_central(grad_x, y, v, delta, scratch, out)
}
