//! The solvers' configurations: step, momentum and penalty schedules and
//! projection radii, all in `f64` (converted to the float type of the run at
//! each step). Each solver file holds its update rule; this file holds what a
//! user sets.

use crate::error::Error;
use crate::schedule::{Momentum, Penalty, Schedule, Step};

use super::shared::check_radius;

/// SOBA's parameters (§2). Defaults: benchopt's `ρ_t = γ_t = 0.1/√(t+1)`
/// ("Decisions": decreasing `c/√(t+1)` steps), no projection.
///
/// ```
/// use bilevel::schedule::{Schedule, Step};
/// let c = bilevel::solvers::SobaConfig::default();
/// assert_eq!(c.step_y.at(3), 0.05);
/// assert_eq!(c.v_radius, f64::INFINITY);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SobaConfig {
    /// `ρ_t`, the step of `y` and `v`.
    pub step_y: Step,
    /// `γ_t`, the step of `x`.
    pub step_x: Step,
    /// Radius `r_v > 0` of the optional ball projection of `v` (`+∞`: none).
    pub v_radius: f64,
}

impl Default for SobaConfig {
    fn default() -> Self {
        SobaConfig { step_y: Step::poly(0.1, 0.5), step_x: Step::poly(0.1, 0.5), v_radius: f64::INFINITY }
    }
}

impl SobaConfig {
    /// Checks every parameter.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative or non-finite step,
    /// or `v_radius ≤ 0` / NaN.
    ///
    /// ```
    /// use bilevel::schedule::Step;
    /// let c = bilevel::solvers::SobaConfig { step_x: Step::Constant(-1.0), ..Default::default() };
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_y.validate("step_y")?;
        self.step_x.validate("step_x")?;
        check_radius("v_radius", self.v_radius)
    }
}

/// How SABA's tables start (§3 "Table initialisation").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SabaInit {
    /// Zero memory (benchopt HEAD): biased until every row is visited.
    Zero,
    /// A full pass at the start point, made by the constructor (classical
    /// SAGA, the paper's choice): `n` inner and `m` outer evaluations. With `v_0 = 0`
    /// the HVP and JVP tables stay zero.
    FullPass,
}

/// SABA's parameters (§3). Defaults: benchopt's constant `ρ = γ = 0.1`
/// ("Decisions": constant steps), no projection, zero initialization.
///
/// ```
/// use bilevel::schedule::Schedule;
/// let c = bilevel::solvers::SabaConfig::default();
/// assert_eq!((c.step_y.at(100), c.step_x.at(0)), (0.1, 0.1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SabaConfig {
    /// `ρ`, the step of `y` and `v`.
    pub step_y: Step,
    /// `γ`, the step of `x`.
    pub step_x: Step,
    /// Radius of the optional ball projection of `v` (`+∞`: none).
    pub v_radius: f64,
    /// Table initialization.
    pub init: SabaInit,
}

impl Default for SabaConfig {
    fn default() -> Self {
        SabaConfig {
            step_y: Step::Constant(0.1),
            step_x: Step::Constant(0.1),
            v_radius: f64::INFINITY,
            init: SabaInit::Zero,
        }
    }
}

impl SabaConfig {
    /// Checks the schedules and the radius.
    ///
    /// ```
    /// let c = bilevel::solvers::SabaConfig { v_radius: -1.0, ..Default::default() };
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_y.validate("step_y")?;
        self.step_x.validate("step_x")?;
        check_radius("v_radius", self.v_radius)
    }
}

/// F2SA's parameters (§4). Defaults (theory shape of the noisy regime,
/// `(a, c) = (5/7, 4/7)`, constants not verified): `step_y = 0.1/(1+k)^(4/7)`
/// divided by `λ_k`, `step_z = 0.1/(1+k)^(4/7)`, `step_x = 0.05/(1+k)^(5/7)`,
/// `λ_k = 10 (k+1)^(1/7)`, `T = 10` inner steps.
///
/// ```
/// use bilevel::schedule::Schedule;
/// let c = bilevel::solvers::F2saConfig::default();
/// assert_eq!((c.inner_steps, c.penalty.at(0), c.scale_y_by_penalty), (10, 10.0, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct F2saConfig {
    /// `s_k`, the step of `x` (the theory's `ν α_k`).
    pub step_x: Step,
    /// `α_k` (or `α_k λ_k` when `scale_y_by_penalty`), the step of `y`.
    pub step_y: Step,
    /// `γ_k`, the step of `z`.
    pub step_z: Step,
    /// The penalty multiplier `λ_k`.
    pub penalty: Penalty,
    /// Divide the `y`-step by `λ_k` ("Decisions").
    pub scale_y_by_penalty: bool,
    /// Evaluate the two `∇_x g` terms of the `x`-direction (at `y` and at `z`)
    /// on the SAME inner sample (default `true`). ALGORITHMS.md §4 leaves
    /// this open (benchopt draws two samples). Both choices are unbiased; the
    /// shared sample makes the difference `∇_x g(y) − ∇_x g(z)` a
    /// common-random-numbers estimate, whose variance vanishes as `y → z`.
    /// It matters most when `x` enters per sample (data hyper-cleaning,
    /// §10.3): with two samples each coordinate sees a loss value rather than
    /// a loss difference.
    pub shared_cross_sample: bool,
    /// Number `T ≥ 1` of inner steps per outer iteration.
    pub inner_steps: u32,
}

impl Default for F2saConfig {
    fn default() -> Self {
        F2saConfig {
            step_x: Step::poly(0.05, 5.0 / 7.0),
            step_y: Step::poly(0.1, 4.0 / 7.0),
            step_z: Step::poly(0.1, 4.0 / 7.0),
            penalty: Penalty::Poly { c: 10.0, k0: 1.0, e: 1.0 / 7.0 },
            scale_y_by_penalty: true,
            shared_cross_sample: true,
            inner_steps: 10,
        }
    }
}

impl F2saConfig {
    /// benchopt's `f2sa.py` (§4 "Practice"): `α = poly(s, 5/7)`,
    /// `γ = poly(s, 4/7)`, `x`-step `poly(s/r, 4/7)`, `λ_0 = 1`,
    /// `λ_{t+1} = λ_t + poly(δ, 1/7)(t)`, `T = 10`, `y`-step not divided by
    /// `λ` (diverges once `α_t λ_t` is too large).
    ///
    /// ```
    /// let c = bilevel::solvers::F2saConfig::benchopt(0.1, 1.0, 0.01);
    /// assert!(!c.scale_y_by_penalty);
    /// ```
    pub fn benchopt(s: f64, r: f64, delta: f64) -> Self {
        F2saConfig {
            step_x: Step::poly(s / r, 4.0 / 7.0),
            step_y: Step::poly(s, 5.0 / 7.0),
            step_z: Step::poly(s, 4.0 / 7.0),
            penalty: Penalty::benchopt(delta),
            scale_y_by_penalty: false,
            shared_cross_sample: false,
            inner_steps: 10,
        }
    }

    /// Checks every parameter.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative step, an invalid
    /// penalty, or `inner_steps == 0`.
    ///
    /// ```
    /// let c = bilevel::solvers::F2saConfig { inner_steps: 0, ..Default::default() };
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_x.validate("step_x")?;
        self.step_y.validate("step_y")?;
        self.step_z.validate("step_z")?;
        self.penalty.validate("penalty")?;
        if self.inner_steps == 0 {
            return Err(Error::InvalidParameter { name: "inner_steps", requirement: "at least 1" });
        }
        Ok(())
    }
}

/// F3SA's parameters (§5; schedules not verified). Defaults (the noisy
/// regime's `a = 3/5`): `step_y = 0.1/(1+k)^(2/5)` divided by `λ_k`,
/// `step_z = 0.1/(1+k)^(2/5)`, `step_x = 0.05/(1+k)^(3/5)`,
/// `λ_k = 10 (k+1)^(1/5)`, `η_k = min(1, 10 γ_k²)`.
///
/// ```
/// use bilevel::schedule::Schedule;
/// let c = bilevel::solvers::F3saConfig::default();
/// assert!((c.eta.at(0) - 0.1).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct F3saConfig {
    /// `s_k`, the step of `x` (the theory's `ν α_k`).
    pub step_x: Step,
    /// `α_k` (or `α_k λ_k` when `scale_y_by_penalty`), the step of `y`.
    pub step_y: Step,
    /// `γ_k`, the step of `z`.
    pub step_z: Step,
    /// The penalty multiplier `λ_k`.
    pub penalty: Penalty,
    /// The common STORM weight `η_k` (`k ≥ 1`; `η_0 = 1`).
    pub eta: Momentum,
    /// Divide the `y`-step by `λ_k` ("Decisions").
    pub scale_y_by_penalty: bool,
    /// Evaluate the two `∇_x g` terms of the `x`-direction (at `y` and at `z`)
    /// on the SAME inner sample (default `true`). ALGORITHMS.md §4 leaves
    /// this open (benchopt draws two samples). Both choices are unbiased; the
    /// shared sample makes the difference `∇_x g(y) − ∇_x g(z)` a
    /// common-random-numbers estimate, whose variance vanishes as `y → z`.
    /// It matters most when `x` enters per sample (data hyper-cleaning,
    /// §10.3): with two samples each coordinate sees a loss value rather than
    /// a loss difference.
    pub shared_cross_sample: bool,
}

impl Default for F3saConfig {
    fn default() -> Self {
        let gamma = Step::poly(0.1, 0.4);
        F3saConfig {
            step_x: Step::poly(0.05, 0.6),
            step_y: gamma,
            step_z: gamma,
            penalty: Penalty::Poly { c: 10.0, k0: 1.0, e: 0.2 },
            eta: Momentum::Storm { c: 10.0, step: gamma },
            scale_y_by_penalty: true,
            shared_cross_sample: true,
        }
    }
}

impl F3saConfig {
    /// Checks every parameter.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative step, an invalid
    /// penalty, or a momentum weight outside `[0, 1]`.
    ///
    /// ```
    /// use bilevel::schedule::Momentum;
    /// let c = bilevel::solvers::F3saConfig { eta: Momentum::Constant(-0.1), ..Default::default() };
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_x.validate("step_x")?;
        self.step_y.validate("step_y")?;
        self.step_z.validate("step_z")?;
        self.penalty.validate("penalty")?;
        self.eta.validate("eta")
    }
}

/// FMBO's parameters (§6 Theorem 1 shape, §7). The radius `r_v` has no
/// default: choose `r_v ≥ sup‖∇_y f‖ / μ_g` with a margin (§6 "Why the
/// projection matters"; "Decisions": the crate never guesses it).
///
/// Defaults ([`FmboConfig::new`], constants not verified, §12.6):
/// `α_t = 0.05/(1+t)^(1/3)` (x), `β_t = λ_t = 0.1/(1+t)^(1/3)` (y, v),
/// `η_t = min(1, 10 β_t²)` for all three recursions (`η ∝ α²`).
///
/// ```
/// use bilevel::schedule::Schedule;
/// let c = bilevel::solvers::FmboConfig::new(5.0);
/// assert!((c.eta_y.at(0) - 0.1).abs() < 1e-15);
/// assert!(bilevel::solvers::FmboConfig::new(0.0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FmboConfig {
    /// `α_t`, the step of `x`.
    pub step_x: Step,
    /// `β_t`, the step of `y`.
    pub step_y: Step,
    /// `λ_t`, the step of `v` (FdeHBO's notation; not a penalty).
    pub step_v: Step,
    /// `η^f_t`, STORM weight of the hypergradient estimate.
    pub eta_x: Momentum,
    /// `η^g_t`, STORM weight of `Gy`.
    pub eta_y: Momentum,
    /// `η^R_t`, STORM weight of the linear-system gradient.
    pub eta_v: Momentum,
    /// Projection radius `r_v > 0` of `v` (`+∞` disables it).
    pub v_radius: f64,
}

impl FmboConfig {
    /// The default schedules with radius `v_radius`.
    ///
    /// ```
    /// assert_eq!(bilevel::solvers::FmboConfig::new(2.0).v_radius, 2.0);
    /// ```
    pub fn new(v_radius: f64) -> Self {
        let third = 1.0 / 3.0;
        let beta = Step::Poly { c: 0.1, w: 1.0, p: third };
        let eta = Momentum::Storm { c: 10.0, step: beta };
        FmboConfig {
            step_x: Step::Poly { c: 0.05, w: 1.0, p: third },
            step_y: beta,
            step_v: beta,
            eta_x: eta,
            eta_y: eta,
            eta_v: eta,
            v_radius,
        }
    }

    /// Checks every parameter.
    ///
    /// Errors: [`Error::InvalidParameter`] for a negative step, a momentum
    /// weight outside `[0, 1]`, or `v_radius ≤ 0` / NaN.
    ///
    /// ```
    /// use bilevel::schedule::Momentum;
    /// let mut c = bilevel::solvers::FmboConfig::new(1.0);
    /// c.eta_v = Momentum::Constant(1.5);
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.step_x.validate("step_x")?;
        self.step_y.validate("step_y")?;
        self.step_v.validate("step_v")?;
        self.eta_x.validate("eta_x")?;
        self.eta_y.validate("eta_y")?;
        self.eta_v.validate("eta_v")?;
        check_radius("v_radius", self.v_radius)
    }
}
