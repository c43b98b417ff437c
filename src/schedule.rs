//! Step-size, momentum and penalty schedules (ALGORITHMS.md §0 "Schedules",
//! "Decisions for this crate").
//!
//! Every schedule is a small `Copy` value evaluated in `f64` at the iteration
//! counter `t = 0, 1, 2, …` through the [`Schedule`] trait; solvers convert the
//! value to their element type once per iteration.
//!
//! - [`Step`]: `Constant(c)` or `Poly { c, w, p }` = `c / (w + t)^p`
//!   (benchopt's `poly(c, e)` is `w = 1`, [`Step::poly`]).
//! - [`Momentum`]: a STORM weight `η_t = min(1, c · α_t²)` (§6 Theorem 1) or a
//!   constant in `[0, 1]`.
//! - [`Penalty`]: F2SA/F3SA's growing multiplier `λ_t` (§4): the theory shape
//!   `c (t + k0)^e` or benchopt's increments `λ_{t+1} = λ_t + δ_t`.
//!
//! ```
//! use bilevel::schedule::{Momentum, Schedule, Step};
//! let alpha = Step::Poly { c: 0.5, w: 4.0, p: 1.0 / 3.0 };
//! assert!((alpha.at(4) - 0.25).abs() < 1e-15); // 0.5 / 8^(1/3)
//! let eta = Momentum::Storm { c: 8.0, step: alpha };
//! assert!((eta.at(4) - 0.5).abs() < 1e-15); // min(1, 8 · 0.25²)
//! assert!(Step::Constant(-1.0).validate("step").is_err());
//! ```

use crate::Float;
use crate::error::Error;

/// A schedule evaluated at the iteration counter `t` (starting at 0).
///
/// ```
/// use bilevel::schedule::{Schedule, Step};
/// fn total<S: Schedule>(s: &S, n: u64) -> f64 { (0..n).map(|t| s.at(t)).sum() }
/// assert_eq!(total(&Step::Constant(0.5), 4), 2.0);
/// ```
pub trait Schedule {
    /// The value at iteration `t`.
    fn at(&self, t: u64) -> f64;
    /// Checks the parameters; `name` is reported in the error.
    ///
    /// Errors: [`Error::InvalidParameter`].
    fn validate(&self, name: &'static str) -> Result<(), Error>;
}

#[inline]
fn powf(base: f64, e: f64) -> f64 {
    <f64 as Float>::powf(base, e)
}

#[inline]
fn invalid(name: &'static str, requirement: &'static str) -> Error {
    Error::InvalidParameter { name, requirement }
}

/// A step size: constant, or polynomially decreasing `c / (w + t)^p`.
///
/// ```
/// use bilevel::schedule::{Schedule, Step};
/// assert_eq!(Step::Constant(0.1).at(1000), 0.1);
/// let s = Step::poly(1.0, 0.5); // benchopt poly(1, ½) = 1/√(t+1)
/// assert_eq!(s.at(3), 0.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Step {
    /// `c` at every iteration.
    Constant(f64),
    /// `c / (w + t)^p`.
    Poly {
        /// Scale `c ≥ 0`.
        c: f64,
        /// Offset `w` (`> 0` when `p > 0`, so the first value is finite).
        w: f64,
        /// Exponent `p ≥ 0`.
        p: f64,
    },
}

impl Step {
    /// benchopt's `poly(c, e)(t) = c / (t + 1)^e` (§0 "Schedules").
    ///
    /// ```
    /// use bilevel::schedule::{Schedule, Step};
    /// assert_eq!(Step::poly(2.0, 1.0).at(1), 1.0);
    /// ```
    pub const fn poly(c: f64, e: f64) -> Step {
        Step::Poly { c, w: 1.0, p: e }
    }
}

impl Schedule for Step {
    #[inline]
    fn at(&self, t: u64) -> f64 {
        match *self {
            Step::Constant(c) => c,
            Step::Poly { c, w, p } => c / powf(w + t as f64, p),
        }
    }

    /// Errors: a negative or non-finite scale, a negative or non-finite
    /// exponent, or an offset `w < 1` with `p > 0` (with `w ≥ 1` every step
    /// is finite and at most `c`).
    ///
    /// ```
    /// use bilevel::{Error, schedule::{Schedule, Step}};
    /// assert_eq!(Step::Poly { c: 1.0, w: 0.0, p: 0.5 }.validate("alpha"),
    ///            Err(Error::InvalidParameter { name: "alpha", requirement: "w >= 1 when p > 0" }));
    /// ```
    fn validate(&self, name: &'static str) -> Result<(), Error> {
        match *self {
            Step::Constant(c) => {
                if !(c.is_finite() && c >= 0.0) {
                    return Err(invalid(name, "a finite step >= 0"));
                }
            }
            Step::Poly { c, w, p } => {
                if !(c.is_finite() && c >= 0.0) {
                    return Err(invalid(name, "a finite scale c >= 0"));
                }
                if !(p.is_finite() && p >= 0.0) {
                    return Err(invalid(name, "a finite exponent p >= 0"));
                }
                // w ≥ 1 keeps (w + t)^p ≥ 1, so every step is finite and at
                // most c (found by fuzzing: w = 1e-300, p = 3 gave an infinite step).
                if !w.is_finite() || (p > 0.0 && w < 1.0) || w < 0.0 {
                    return Err(invalid(name, "w >= 1 when p > 0"));
                }
            }
        }
        Ok(())
    }
}

/// A momentum weight `η_t ∈ [0, 1]` for STORM recursions (§9.1).
///
/// The first STORM step of every solver uses `η = 1` whatever the schedule
/// says ("Decisions"); the schedule applies from `t = 1` on.
///
/// ```
/// use bilevel::schedule::{Momentum, Schedule, Step};
/// let eta = Momentum::Storm { c: 10.0, step: Step::Constant(0.1) };
/// assert!((eta.at(7) - 0.1).abs() < 1e-15);
/// assert_eq!(Momentum::Storm { c: 1e6, step: Step::Constant(0.1) }.at(0), 1.0); // clipped
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Momentum {
    /// A constant weight in `[0, 1]`.
    Constant(f64),
    /// `min(1, c · step(t)²)` (FdeHBO Theorem 1 shape, §6).
    Storm {
        /// Scale `c ≥ 0`.
        c: f64,
        /// The step whose square sets the weight.
        step: Step,
    },
}

impl Schedule for Momentum {
    #[inline]
    fn at(&self, t: u64) -> f64 {
        match *self {
            Momentum::Constant(e) => e,
            Momentum::Storm { c, step } => {
                let a = step.at(t);
                let e = c * a * a;
                if e < 1.0 { e } else { 1.0 }
            }
        }
    }

    /// Errors: a constant outside `[0, 1]`, a negative or non-finite scale, an
    /// invalid step.
    ///
    /// ```
    /// use bilevel::schedule::{Momentum, Schedule};
    /// assert!(Momentum::Constant(1.5).validate("eta").is_err());
    /// assert!(Momentum::Constant(0.5).validate("eta").is_ok());
    /// ```
    fn validate(&self, name: &'static str) -> Result<(), Error> {
        match *self {
            Momentum::Constant(e) => {
                if !(0.0..=1.0).contains(&e) {
                    return Err(invalid(name, "in [0, 1]"));
                }
                Ok(())
            }
            Momentum::Storm { c, step } => {
                if !(c.is_finite() && c >= 0.0) {
                    return Err(invalid(name, "a finite scale c >= 0"));
                }
                step.validate(name)
            }
        }
    }
}

/// F2SA/F3SA's penalty multiplier `λ_t > 0` (§4 "Schedules").
///
/// ```
/// use bilevel::schedule::{Penalty, Schedule, Step};
/// let th = Penalty::Poly { c: 2.0, k0: 1.0, e: 1.0 / 7.0 }; // theory shape ∝ (t+k0)^(a−c)
/// assert_eq!(th.at(0), 2.0);
/// let bo = Penalty::benchopt(0.1); // λ_0 = 1, λ_{t+1} = λ_t + 0.1/(t+1)^(1/7)
/// assert!((bo.at(2) - (1.0 + 0.1 + 0.1 / 2f64.powf(1.0 / 7.0))).abs() < 1e-15);
/// assert_eq!(bo.next(bo.at(2), 2), bo.at(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Penalty {
    /// A fixed `λ > 0`.
    Constant(f64),
    /// `c · (t + k0)^e` (theory: `e = a − c` of the step exponents, §4).
    Poly {
        /// Scale `c > 0`.
        c: f64,
        /// Offset `k0 > 0`.
        k0: f64,
        /// Exponent (finite).
        e: f64,
    },
    /// `λ_0 = lambda0`, `λ_{t+1} = λ_t + delta(t)` (benchopt's F2SA rule).
    Increments {
        /// Initial value `λ_0 > 0`.
        lambda0: f64,
        /// The increment schedule `δ_t ≥ 0`.
        delta: Step,
    },
}

impl Penalty {
    /// benchopt's preset: `λ_0 = 1`, `λ_{t+1} = λ_t + poly(δ, 1/7)(t)` (§4
    /// "Practice"; grows like `t^(6/7)`).
    ///
    /// ```
    /// use bilevel::schedule::{Penalty, Schedule};
    /// assert_eq!(Penalty::benchopt(0.5).at(1), 1.5);
    /// ```
    pub const fn benchopt(delta: f64) -> Penalty {
        Penalty::Increments { lambda0: 1.0, delta: Step::poly(delta, 1.0 / 7.0) }
    }

    /// `λ_{t+1}` from `λ_t` in O(1) (what solvers use; [`Schedule::at`] on
    /// [`Penalty::Increments`] sums `t` increments).
    ///
    /// ```
    /// use bilevel::schedule::{Penalty, Schedule};
    /// let p = Penalty::Poly { c: 1.0, k0: 1.0, e: 1.0 };
    /// assert_eq!(p.next(p.at(4), 4), 6.0);
    /// ```
    #[inline]
    pub fn next(&self, current: f64, t: u64) -> f64 {
        match *self {
            Penalty::Constant(l) => l,
            Penalty::Poly { .. } => self.at(t + 1),
            Penalty::Increments { delta, .. } => current + delta.at(t),
        }
    }
}

impl Schedule for Penalty {
    #[inline]
    fn at(&self, t: u64) -> f64 {
        match *self {
            Penalty::Constant(l) => l,
            Penalty::Poly { c, k0, e } => c * powf(k0 + t as f64, e),
            Penalty::Increments { lambda0, delta } => (0..t).fold(lambda0, |l, s| l + delta.at(s)),
        }
    }

    /// Errors: a non-positive or non-finite `λ`, scale or offset; an invalid
    /// increment step.
    ///
    /// ```
    /// use bilevel::schedule::{Penalty, Schedule};
    /// assert!(Penalty::Constant(0.0).validate("lambda").is_err());
    /// ```
    fn validate(&self, name: &'static str) -> Result<(), Error> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        match *self {
            Penalty::Constant(l) if !pos(l) => Err(invalid(name, "a finite penalty > 0")),
            Penalty::Poly { c, k0, e } if !(pos(c) && pos(k0) && e.is_finite()) => {
                Err(invalid(name, "c > 0, k0 > 0 and a finite exponent"))
            }
            Penalty::Increments { lambda0, .. } if !pos(lambda0) => {
                Err(invalid(name, "lambda0 > 0 and finite"))
            }
            Penalty::Increments { delta, .. } => delta.validate(name),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poly_matches_formula_and_benchopt() {
        let s = Step::poly(0.1, 0.5);
        for t in 0..50u64 {
            assert!((s.at(t) - 0.1 / ((t + 1) as f64).sqrt()).abs() < 1e-16);
        }
        let s = Step::Poly { c: 3.0, w: 2.0, p: 2.0 };
        // powf is not guaranteed to be correctly rounded (Miri perturbs it): a few ulps.
        assert!((s.at(1) - 3.0 / 9.0).abs() <= 4.0 * f64::EPSILON / 3.0);
    }

    #[test]
    fn penalty_increments_match_running_sum() {
        let p = Penalty::benchopt(0.01);
        let mut l = p.at(0);
        for t in 0..200u64 {
            let n = p.next(l, t);
            assert!((n - p.at(t + 1)).abs() <= 1e-13 * n);
            l = n;
        }
    }

    #[test]
    fn validation_rejects_bad_values() {
        assert!(Step::Constant(f64::NAN).validate("s").is_err());
        assert!(Step::Poly { c: -1.0, w: 1.0, p: 1.0 }.validate("s").is_err());
        assert!(Step::Poly { c: 1.0, w: 1.0, p: -1.0 }.validate("s").is_err());
        assert!(Step::Poly { c: 1.0, w: 0.0, p: 0.0 }.validate("s").is_ok());
        assert!(Momentum::Storm { c: -1.0, step: Step::Constant(1.0) }.validate("e").is_err());
        assert!(Penalty::Poly { c: 1.0, k0: 0.0, e: 0.5 }.validate("l").is_err());
        assert!(Penalty::Increments { lambda0: 1.0, delta: Step::Constant(-1.0) }.validate("l").is_err());
    }
}
