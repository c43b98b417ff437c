//! The floating-point element type of every kernel and solver.
//!
//! [`Float`] is sealed: it is implemented for [`f32`] and [`f64`] only, so the
//! kernels can rely on IEEE-754 behaviour and on the SIMD backend having a
//! matching vector type. Downstream crates use it as a bound in their own
//! generic code:
//!
//! ```
//! use bilevel::Float;
//!
//! fn half_norm_sq<T: Float>(v: &[T]) -> T {
//!     let s = v.iter().fold(T::ZERO, |acc, &x| acc + x * x);
//!     T::HALF * s
//! }
//! assert_eq!(half_norm_sq(&[3.0f32, 4.0]), 12.5);
//! assert_eq!(half_norm_sq(&[3.0f64, 4.0]), 12.5);
//! ```
//!
//! With the `std` feature the math functions call the inherent methods of
//! `f32`/`f64` (the platform's math library, faster `exp`); without it they go
//! through `libm` (core has no `sqrt`, `exp`,
//! `cbrt`, `ln_1p` on stable).

use core::fmt::{Debug, Display, LowerExp};
use core::iter::Sum;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A real floating-point scalar: [`f32`] or [`f64`] (sealed).
///
/// Constants and math functions needed by the kernels and solvers. All math
/// functions follow IEEE-754 semantics for non-finite input (NaN propagates).
///
/// ```
/// use bilevel::Float;
/// assert_eq!(<f64 as Float>::from_f64(0.5).sqrt(), core::f64::consts::FRAC_1_SQRT_2);
/// assert_eq!(f32::EPSILON_T, f32::EPSILON);
/// ```
pub trait Float:
    sealed::Sealed
    + Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + LowerExp
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// 2.
    const TWO: Self;
    /// 0.5.
    const HALF: Self;
    /// Machine epsilon (the gap between 1 and the next representable value).
    const EPSILON_T: Self;
    /// Largest finite value.
    const MAX_T: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE_T: Self;
    /// Positive infinity.
    const INFINITY_T: Self;
    /// A quiet NaN.
    const NAN_T: Self;
    /// Number of mantissa bits including the implicit one (24 or 53).
    const MANTISSA_DIGITS_T: u32;
    /// Short name used in reports: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts a count, rounding to nearest.
    fn from_usize(n: usize) -> Self;

    /// Square root.
    fn sqrt(self) -> Self;
    /// Cube root.
    fn cbrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// e^self.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + self), accurate near 0.
    fn ln_1p(self) -> Self;
    /// self^e.
    fn powf(self, e: Self) -> Self;
    /// Fused multiply-add `self * a + b` with one rounding (software in
    /// `no_std` builds; not used by elementwise kernels).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `true` unless NaN or ±∞.
    fn is_finite(self) -> bool;
    /// `true` for NaN.
    fn is_nan(self) -> bool;
    /// Larger of two values; a NaN operand yields the other (IEEE `maxNum`).
    fn max(self, other: Self) -> Self;
    /// Smaller of two values; a NaN operand yields the other (IEEE `minNum`).
    fn min(self, other: Self) -> Self;
    /// 2^k exactly, for k in the normal exponent range (saturates to 0 / ∞ outside).
    fn exp2i(k: i32) -> Self;
    /// The unbiased binary exponent of a finite non-zero normal value
    /// (`floor(log2(|self|))`); 0 for zero, subnormals, and non-finite values.
    fn exponent(self) -> i32;
}

macro_rules! impl_float {
    ($t:ident, $bits:ty, $mant:expr, $bias:expr, $name:expr,
     sqrt = $sqrt:ident, cbrt = $cbrt:ident, exp = $exp:ident, ln = $ln:ident,
     ln_1p = $ln1p:ident, pow = $pow:ident, fma = $fma:ident) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const HALF: Self = 0.5;
            const EPSILON_T: Self = $t::EPSILON;
            const MAX_T: Self = $t::MAX;
            const MIN_POSITIVE_T: Self = $t::MIN_POSITIVE;
            const INFINITY_T: Self = $t::INFINITY;
            const NAN_T: Self = $t::NAN;
            const MANTISSA_DIGITS_T: u32 = $t::MANTISSA_DIGITS;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::sqrt(self)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$sqrt(self)
                }
            }
            #[inline]
            fn cbrt(self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::cbrt(self)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$cbrt(self)
                }
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn exp(self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::exp(self)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$exp(self)
                }
            }
            #[inline]
            fn ln(self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::ln(self)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$ln(self)
                }
            }
            #[inline]
            fn ln_1p(self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::ln_1p(self)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$ln1p(self)
                }
            }
            #[inline]
            fn powf(self, e: Self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::powf(self, e)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$pow(self, e)
                }
            }
            #[inline]
            fn mul_add(self, a: Self, b: Self) -> Self {
                #[cfg(feature = "std")]
                {
                    <$t>::mul_add(self, a, b)
                }
                #[cfg(not(feature = "std"))]
                {
                    libm::$fma(self, a, b)
                }
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline]
            fn exp2i(k: i32) -> Self {
                let max_exp = $bias as i32;
                let min_exp = 1 - max_exp;
                if k > max_exp {
                    <$t>::INFINITY
                } else if k < min_exp {
                    0.0
                } else {
                    <$t>::from_bits(((k + max_exp) as $bits) << ($mant - 1))
                }
            }
            #[inline]
            fn exponent(self) -> i32 {
                let bits = self.to_bits();
                let biased = ((bits >> ($mant - 1)) & (2 * $bias + 1)) as i32;
                if biased == 0 || biased == 2 * $bias + 1 { 0 } else { biased - $bias as i32 }
            }
        }
    };
}

impl_float!(
    f32,
    u32,
    24,
    127,
    "f32",
    sqrt = sqrtf,
    cbrt = cbrtf,
    exp = expf,
    ln = logf,
    ln_1p = log1pf,
    pow = powf,
    fma = fmaf
);
impl_float!(
    f64,
    u64,
    53,
    1023,
    "f64",
    sqrt = sqrt,
    cbrt = cbrt,
    exp = exp,
    ln = log,
    ln_1p = log1p,
    pow = pow,
    fma = fma
);

#[cfg(test)]
mod tests {
    use super::Float;

    #[test]
    fn exp2i_and_exponent_round_trip() {
        for k in [-1022, -100, -1, 0, 1, 7, 1023] {
            let p = <f64 as Float>::exp2i(k);
            assert_eq!(p, libm::exp2(k as f64));
            assert_eq!(p.exponent(), k);
        }
        for k in [-126, -3, 0, 5, 127] {
            let p = <f32 as Float>::exp2i(k);
            assert_eq!(p, libm::exp2f(k as f32));
            assert_eq!(p.exponent(), k);
        }
        assert_eq!(<f64 as Float>::exp2i(1024), f64::INFINITY);
        assert_eq!(<f64 as Float>::exp2i(-1023), 0.0);
        assert_eq!(3.0f64.exponent(), 1);
        assert_eq!(0.75f32.exponent(), -1);
        assert_eq!(0.0f64.exponent(), 0);
        assert_eq!(f64::NAN.exponent(), 0);
    }
}
