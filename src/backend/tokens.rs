//! The backend tokens: zero-sized proofs that an instruction set is
//! available, and the [`Simd`] trait they implement.

use core::fmt::Debug;

use super::{Backend, Kernel, Plain, features, sealed};
use crate::error::Error;
use crate::kernels::{axpy, dense, dot, glm, norm, project, storm};
use crate::{Float, kernels};

/// Declares the provided kernel methods of [`Simd`]: each checks its
/// arguments and runs the kernel on the token through the generic checked
/// function of its kernel file (the one [`Backend`]'s method calls too).
macro_rules! kernel_methods {
    ($( #[doc = $doc:literal] $ex:literal fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $path:path; )*) => {
        $(
            #[doc = $doc]
            #[doc = ""]
            #[doc = "```"]
            #[doc = "use bilevel::backend::{Scalar, Simd};"]
            #[doc = $ex]
            #[doc = "```"]
            #[inline(always)]
            fn $name<T: Float>(self, $($arg: $ty),*) -> $ret {
                $path(self, $($arg),*)
            }
        )*
    };
}

/// A backend token: a zero-sized value whose existence proves that its
/// instruction set runs on this CPU. Kernels called through it are
/// monomorphized for that instruction set, with no detection at call time.
///
/// Implemented by [`Scalar`], [`Avx2Fma`], [`Avx512`] and [`Neon`]
/// (sealed). Get a token with [`Simd::try_new`] (checks the CPU; cached), or
/// `unsafe` [`Simd::new_unchecked`] when the target is known at build time.
/// Run the crate's kernels through the provided methods (the same checks and
/// results as the [`Backend`] methods of the same name), and your own loops
/// through [`Simd::run`] (see [`Kernel`]).
///
/// ```
/// use bilevel::backend::{Avx2Fma, Scalar, Simd};
///
/// fn momentum<S: Simd>(s: S, h: &mut [f32], g: &[f32], gp: &[f32]) {
///     s.storm_update(h, g, gp, 0.1).unwrap();
/// }
/// let (mut h1, mut h2) = ([1.0f32; 5], [1.0f32; 5]);
/// momentum(Scalar, &mut h1, &[2.0; 5], &[0.5; 5]);
/// if let Ok(t) = Avx2Fma::try_new() {
///     momentum(t, &mut h2, &[2.0; 5], &[0.5; 5]);
///     assert_eq!(h1, h2); // elementwise kernels are bit-identical
/// }
/// ```
pub trait Simd: Copy + Debug + Send + Sync + 'static + sealed::Sealed {
    /// The [`Backend`] this token stands for.
    const BACKEND: Backend;
    /// Number of accumulators the reductions use on this backend for long
    /// vectors (see [`Backend::lanes`]; the error bounds depend on it).
    const LANES: usize;

    /// The token, if this CPU and build support the instruction set (the
    /// CPU is asked once per process; later calls read the cached answer).
    ///
    /// Errors: [`Error::BackendUnavailable`].
    ///
    /// ```
    /// use bilevel::backend::{Avx2Fma, Simd};
    /// assert_eq!(Avx2Fma::try_new().is_ok(), bilevel::Backend::Avx2Fma.is_available());
    /// ```
    fn try_new() -> Result<Self, Error>;

    /// The token, without checking the CPU.
    ///
    /// # Safety
    /// The CPU running the program must support the instruction set (for
    /// example a `no_std` build for a target whose features are known).
    ///
    /// ```
    /// use bilevel::backend::{Scalar, Simd};
    /// // SAFETY: the scalar backend runs everywhere.
    /// let s = unsafe { Scalar::new_unchecked() };
    /// assert_eq!(s.dot(&[1.0f64], &[2.0]), Ok(2.0));
    /// ```
    unsafe fn new_unchecked() -> Self;

    /// Runs `kernel`'s body compiled for this instruction set (see
    /// [`Kernel`]).
    ///
    /// ```
    /// use bilevel::backend::{Kernel, MulAdd, Scalar, Simd};
    /// struct Scale<'a>(&'a mut [f32], f32);
    /// impl Kernel for Scale<'_> {
    ///     type Output = ();
    ///     fn run<M: MulAdd>(self) { self.0.iter_mut().for_each(|x| *x *= self.1) }
    /// }
    /// let mut v = [1.0f32, 2.0];
    /// Scalar.run(Scale(&mut v, 3.0));
    /// assert_eq!(v, [3.0, 6.0]);
    /// ```
    fn run<K: Kernel>(self, kernel: K) -> K::Output;

    kernel_methods! {
        /// `y ← y + a·x`. See [`Backend::axpy`].
        "let mut y = [1.0f64, 1.0];\nScalar.axpy(-0.5, &[2.0, 4.0], &mut y).unwrap();\nassert_eq!(y, [0.0, -1.0]);"
        fn axpy(a: T, x: &[T], y: &mut [T]) -> Result<(), Error> = axpy::axpy_on;
        /// Dot product. See [`Backend::dot`].
        "assert_eq!(Scalar.dot(&[1.0f32, 2.0], &[3.0, 4.0]), Ok(11.0));"
        fn dot(a: &[T], b: &[T]) -> Result<T, Error> = dot::dot_on;
        /// Sum of squares. See [`Backend::sum_sq`].
        "assert_eq!(Scalar.sum_sq(&[3.0f64, 4.0]), Ok(25.0));"
        fn sum_sq(a: &[T]) -> Result<T, Error> = dot::sum_sq_on;
        /// Overflow-safe Euclidean norm. See [`Backend::norm`].
        "assert_eq!(Scalar.norm(&[3e300f64, 4e300]), Ok(5e300));"
        fn norm(a: &[T]) -> Result<T, Error> = norm::norm_on;
        /// STORM update. See [`Backend::storm_update`].
        "let mut h = [1.0f64, 1.0];\nScalar.storm_update(&mut h, &[2.0, 2.0], &[0.0, 1.0], 0.5).unwrap();\nassert_eq!(h, [2.5, 2.0]);"
        fn storm_update(h: &mut [T], g: &[T], g_prev: &[T], eta: T) -> Result<(), Error> = storm::storm_update_on;
        /// Fused STORM update and step. See [`Backend::storm_step`].
        "let (mut h, mut x) = ([0.0f32; 2], [1.0f32; 2]);\nScalar.storm_step(&mut h, &mut x, &[1.0, 2.0], &[0.0; 2], 1.0, 0.5).unwrap();\nassert_eq!(x, [0.5, 0.0]);"
        fn storm_step(h: &mut [T], x: &mut [T], g: &[T], g_prev: &[T], eta: T, alpha: T) -> Result<(), Error> = storm::storm_step_on;
        /// Exponential moving average. See [`Backend::ema_update`].
        "let mut h = [4.0f64];\nScalar.ema_update(&mut h, &[0.0], 0.75).unwrap();\nassert_eq!(h, [3.0]);"
        fn ema_update(h: &mut [T], g: &[T], rho: T) -> Result<(), Error> = storm::ema_update_on;
        /// Ball projection. See [`Backend::project_ball`].
        "let mut v = [3.0f64, 4.0];\nassert_eq!(Scalar.project_ball(&mut v, 1.0), Ok(0.2));"
        fn project_ball(v: &mut [T], r: T) -> Result<T, Error> = project::project_ball_on;
        /// Centred ball projection. See [`Backend::project_ball_centered`].
        "let mut v = [1.0f64, 3.0];\nScalar.project_ball_centered(&mut v, &[1.0, 1.0], 1.0).unwrap();\nassert_eq!(v, [1.0, 2.0]);"
        fn project_ball_centered(v: &mut [T], center: &[T], r: T) -> Result<T, Error> = project::project_ball_centered_on;
        /// Fused `v ← Π_r(v − λ h)`. See [`Backend::step_project`].
        "let mut v = [0.0f64, 0.0];\nScalar.step_project(&mut v, &[-3.0, -4.0], 1.0, 2.5).unwrap();\nassert_eq!(v, [1.5, 2.0]);"
        fn step_project(v: &mut [T], h: &[T], lambda: T, r: T) -> Result<T, Error> = project::step_project_on;
        /// `y ← αAx + βy`. See [`Backend::gemv`].
        "let mut y = [0.0f64; 2];\nScalar.gemv(1.0, &[1.0, 2.0, 3.0, 4.0], &[1.0, 1.0], 0.0, &mut y).unwrap();\nassert_eq!(y, [3.0, 7.0]);"
        fn gemv(alpha: T, a: &[T], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> = dense::gemv_on;
        /// `y ← αAᵀx + βy`. See [`Backend::gemv_t`].
        "let mut y = [0.0f64; 2];\nScalar.gemv_t(1.0, &[1.0, 2.0, 3.0, 4.0], &[1.0, 1.0], 0.0, &mut y).unwrap();\nassert_eq!(y, [4.0, 6.0]);"
        fn gemv_t(alpha: T, a: &[T], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> = dense::gemv_t_on;
        /// Per-sample batched product `y ← α Σ_k A_{indices[k]} x + βy`. See [`Backend::batched_gemv`].
        "let mut y = [0.0f64];\nScalar.batched_gemv(1.0, &[1.0, 2.0], &[0, 1, 1], &[3.0], 0.0, &mut y).unwrap();\nassert_eq!(y, [15.0]);"
        fn batched_gemv(alpha: T, mats: &[T], indices: &[usize], x: &[T], beta: T, y: &mut [T]) -> Result<(), Error> = dense::batched_gemv_on;
    }

    /// GLM accumulation `Aᵀ(c ⊙ Ax)`. See [`Backend::glm_accumulate`].
    ///
    /// ```
    /// use bilevel::backend::{Scalar, Simd};
    /// let mut g = [0.0f64; 2];
    /// Scalar.glm_accumulate(&[1.0, 2.0, 3.0, 4.0], &[1.0, 0.0], |_, s| s, &mut g).unwrap();
    /// assert_eq!(g, [10.0, 14.0]); // 1·(1, 2) + 3·(3, 4)
    /// ```
    #[inline(always)]
    fn glm_accumulate<T: Float, F: FnMut(usize, T) -> T>(
        self,
        a: &[T],
        x: &[T],
        coef: F,
        out: &mut [T],
    ) -> Result<(), Error> {
        glm::glm_accumulate_on(self, a, x, coef, out)
    }
}

/// The portable backend (always available).
///
/// ```
/// use bilevel::backend::{Scalar, Simd};
/// assert_eq!(Scalar::try_new(), Ok(Scalar));
/// assert_eq!(Scalar.dot(&[2.0f64], &[3.0]), Ok(6.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scalar;

/// x86_64 AVX2 + FMA token.
///
/// ```
/// use bilevel::backend::{Avx2Fma, Simd};
/// assert_eq!(Avx2Fma::try_new().is_ok(), bilevel::Backend::Avx2Fma.is_available());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Avx2Fma {
    _proof: (),
}

/// x86_64 AVX-512 (F, VL, DQ, BW) token; also proves AVX2 and FMA (the
/// `new_unchecked` contract includes them): short kernels run the 256-bit
/// code ([`Kernel::size_hint`]).
///
/// ```
/// use bilevel::backend::{Avx512, Simd};
/// match Avx512::try_new() {
///     Ok(t) => assert_eq!(t.sum_sq(&[1.0f32; 100]), Ok(100.0)),
///     Err(e) => assert_eq!(e, bilevel::Error::BackendUnavailable(bilevel::Backend::Avx512)),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Avx512 {
    _proof: (),
}

/// aarch64 NEON token (never available on other architectures).
///
/// ```
/// use bilevel::backend::{Neon, Simd};
/// assert_eq!(Neon::try_new().is_ok(), cfg!(target_arch = "aarch64") && bilevel::Backend::Neon.is_available());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Neon {
    _proof: (),
}

impl sealed::Sealed for Scalar {}
impl sealed::Sealed for Avx2Fma {}
impl sealed::Sealed for Avx512 {}
impl sealed::Sealed for Neon {}

impl Simd for Scalar {
    const BACKEND: Backend = Backend::Scalar;
    const LANES: usize = kernels::LANES;
    #[inline(always)]
    fn try_new() -> Result<Self, Error> {
        Ok(Scalar)
    }
    #[inline(always)]
    unsafe fn new_unchecked() -> Self {
        Scalar
    }
    #[inline(always)]
    fn run<K: Kernel>(self, kernel: K) -> K::Output {
        kernel.run::<Plain>()
    }
}

/// The token methods shared by the three SIMD tokens; `$run` is the entry
/// point on the token's own architecture (the portable body elsewhere, where
/// no token can exist).
macro_rules! simd_token {
    ($tok:ident, $bit:ident, $lanes:expr, $arch:literal, $run:path) => {
        impl Simd for $tok {
            const BACKEND: Backend = Backend::$tok;
            const LANES: usize = $lanes;
            #[inline(always)]
            fn try_new() -> Result<Self, Error> {
                if features() & super::$bit != 0 {
                    Ok($tok { _proof: () })
                } else {
                    Err(Error::BackendUnavailable(Backend::$tok))
                }
            }
            #[inline(always)]
            unsafe fn new_unchecked() -> Self {
                $tok { _proof: () }
            }
            #[inline(always)]
            fn run<K: Kernel>(self, kernel: K) -> K::Output {
                #[cfg(target_arch = $arch)]
                {
                    $run(self, kernel)
                }
                #[cfg(not(target_arch = $arch))]
                {
                    kernel.run::<Plain>()
                }
            }
        }
    };
}

simd_token!(Avx2Fma, AVX2, 16, "x86_64", super::x86::avx2_fma);
simd_token!(Avx512, AVX512, 64, "x86_64", super::x86::avx512);
simd_token!(Neon, NEON, 16, "aarch64", super::neon::neon);
