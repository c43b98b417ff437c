//! Backends: which instruction set a kernel body is compiled for.
//!
//! Every kernel is written once, as an `#[inline(always)]` generic body (an
//! implementation of [`Kernel`]). A backend is a thin entry point that runs
//! that body: the [`Scalar`] token calls it as is (portable Rust; the compiler
//! may still use the baseline SIMD of the target), the [`Avx2Fma`],
//! [`Avx512`] and [`Neon`] tokens call it from a `#[target_feature]` function
//! so that the same body is compiled for 256-bit, 512-bit or 128-bit vectors.
//!
//! Two ways to name a backend:
//! - **Tokens** (zero-sized types implementing [`Simd`]): `Avx512::try_new()`
//!   checks the CPU once and returns a token; every call through it
//!   ([`Simd::run`], or a kernel method such as [`Simd::dot`]) is
//!   monomorphized for that instruction set with no detection at call time.
//!   `unsafe new_unchecked()` is for builds whose target is known.
//! - **[`Backend`]**, the dynamic choice: a `#[non_exhaustive]` enum,
//!   [`Backend::detect()`] picks the best available one (the CPU is queried
//!   once per process and cached). Its kernel methods check availability with
//!   one cached load and dispatch once per call, never per element.
//!   [`Arch`] is the same choice holding the token itself, the proof of
//!   availability, for code that dispatches user kernels.
//!
//! Elementwise kernels evaluate the same expression per element on every
//! backend (no fused multiply-add is introduced), so their results are
//! bit-identical. Reductions may use FMA and a different number of
//! accumulators ([`Simd::LANES`]: 16, or 64 on AVX-512); they agree with a
//! compensated reference within the bound stated on each reduction.
//!
//! ```
//! use bilevel::Backend;
//! use bilevel::backend::{Avx512, Scalar, Simd};
//! let auto = Backend::detect();
//! assert!(auto.is_available());
//! let mut h = [1.0f64, 2.0];
//! Scalar.storm_update(&mut h, &[0.5, 0.5], &[0.0, 0.0], 1.0).unwrap();
//! assert_eq!(h, [0.5, 0.5]);
//! if let Ok(t) = Avx512::try_new() {
//!     assert_eq!(t.dot(&[1.0f32, 2.0], &[3.0, 4.0]), Ok(11.0));
//! }
//! ```

#[cfg(target_arch = "aarch64")]
mod neon;
mod tokens;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use tokens::{Avx2Fma, Avx512, Neon, Scalar, Simd};

use crate::error::Error;

/// An instruction-set backend for the kernels, chosen at run time.
///
/// Kernels are inherent methods of `Backend` (for example
/// [`Backend::storm_update`]); the free functions in [`crate::kernels`] call
/// them on [`Backend::detect()`]. A variant names a backend; whether it runs
/// here is checked (one cached load) on every call, and a missing one gives
/// [`Error::BackendUnavailable`].
///
/// ```
/// use bilevel::{Backend, Error};
/// let r = Backend::Neon.dot(&[1.0f64], &[1.0]);
/// if cfg!(target_arch = "aarch64") { assert_eq!(r, Ok(1.0)) } else { assert_eq!(r, Err(Error::BackendUnavailable(Backend::Neon))) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Portable Rust, available everywhere.
    Scalar,
    /// x86_64 with AVX2 and FMA (the same kernel bodies compiled for 256-bit
    /// vectors; reductions fuse each multiply-add, `vfmadd` on `ymm`, with
    /// `std`; without `std` they round twice).
    Avx2Fma,
    /// x86_64 with AVX-512 (F, VL, DQ, BW) plus AVX2 and FMA: 512-bit vectors,
    /// 64 reduction accumulators from 256 elements; shorter kernels (by
    /// [`Kernel::size_hint`]) run the 256-bit code, with the same results.
    Avx512,
    /// aarch64 with NEON (Advanced SIMD): 128-bit vectors, fused
    /// multiply-add in reductions.
    Neon,
}

impl Backend {
    /// All backends, in order of preference on their architecture (best last
    /// for x86_64).
    pub const ALL: [Backend; 4] = [Backend::Scalar, Backend::Neon, Backend::Avx2Fma, Backend::Avx512];

    /// The best backend for this CPU: AVX-512, else AVX2+FMA, else NEON, else
    /// scalar.
    ///
    /// With the `std` feature the CPU is asked once per process and the answer
    /// is cached (one relaxed atomic load per call afterwards); without it, it
    /// uses the features the crate was compiled for (`-C target-feature=...`
    /// or `-C target-cpu=native`).
    ///
    /// ```
    /// let b = bilevel::Backend::detect();
    /// assert!(b.is_available());
    /// ```
    #[inline]
    pub fn detect() -> Backend {
        let f = features();
        if f & AVX512 != 0 {
            Backend::Avx512
        } else if f & AVX2 != 0 {
            Backend::Avx2Fma
        } else if f & NEON != 0 {
            Backend::Neon
        } else {
            Backend::Scalar
        }
    }

    /// Whether this backend can run on this CPU in this build.
    ///
    /// ```
    /// assert!(bilevel::Backend::Scalar.is_available());
    /// ```
    #[inline]
    pub fn is_available(self) -> bool {
        let f = features();
        match self {
            Backend::Scalar => true,
            Backend::Avx2Fma => f & AVX2 != 0,
            Backend::Avx512 => f & AVX512 != 0,
            Backend::Neon => f & NEON != 0,
        }
    }

    /// A short lowercase name (`"scalar"`, `"avx2"`, `"avx512"`, `"neon"`),
    /// for reports.
    ///
    /// ```
    /// assert_eq!(bilevel::Backend::Avx512.name(), "avx512");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2Fma => "avx2",
            Backend::Avx512 => "avx512",
            Backend::Neon => "neon",
        }
    }

    /// Number of accumulators this backend's reductions use on `n` elements:
    /// 16, or 64 on AVX-512 from 256 elements. The reductions' error bounds
    /// depend on it (`m = ⌈n/L⌉ + log2 L`, see [`crate::kernels::dot`]).
    ///
    /// ```
    /// use bilevel::Backend;
    /// assert_eq!(Backend::Scalar.lanes(1000), bilevel::kernels::LANES);
    /// assert_eq!((Backend::Avx512.lanes(100), Backend::Avx512.lanes(1000)), (16, 64));
    /// ```
    pub fn lanes(self, n: usize) -> usize {
        let wide = match self {
            Backend::Scalar => Scalar::LANES,
            Backend::Avx2Fma => Avx2Fma::LANES,
            Backend::Avx512 => Avx512::LANES,
            Backend::Neon => Neon::LANES,
        };
        if n >= crate::kernels::dot::WIDE_MIN { wide } else { crate::kernels::LANES }
    }

    /// The token of this backend, if it is available: the proof the checked
    /// kernels need, as an [`Arch`].
    ///
    /// Errors: [`Error::BackendUnavailable`].
    ///
    /// ```
    /// use bilevel::Backend;
    /// assert_eq!(Backend::Scalar.arch().unwrap().backend(), Backend::Scalar);
    /// ```
    #[inline(always)]
    pub fn arch(self) -> Result<Arch, Error> {
        Ok(match self {
            Backend::Scalar => Arch::Scalar(Scalar),
            Backend::Avx2Fma => Arch::Avx2Fma(Avx2Fma::try_new()?),
            Backend::Avx512 => Arch::Avx512(Avx512::try_new()?),
            Backend::Neon => Arch::Neon(Neon::try_new()?),
        })
    }

    /// Runs `kernel` (a user kernel, see [`Kernel`]) on this backend, or
    /// reports that the backend is missing. The choice is made once, before
    /// the body runs.
    ///
    /// ```
    /// use bilevel::backend::{Kernel, MulAdd};
    /// struct Sum<'a>(&'a [f64]);
    /// impl Kernel for Sum<'_> {
    ///     type Output = f64;
    ///     fn run<M: MulAdd>(self) -> f64 { self.0.iter().sum() }
    /// }
    /// assert_eq!(bilevel::Backend::detect().run(Sum(&[1.0, 2.0])), Ok(3.0));
    /// ```
    #[inline(always)]
    pub fn run<K: Kernel>(self, kernel: K) -> Result<K::Output, Error> {
        Ok(self.arch()?.run(kernel))
    }
}

/// A backend together with the proof that it runs here (its token): the
/// dispatching counterpart of the [`Simd`] tokens. `#[non_exhaustive]`.
///
/// ```
/// use bilevel::backend::{Arch, Kernel, MulAdd};
/// struct Norm1<'a>(&'a [f32]);
/// impl Kernel for Norm1<'_> {
///     type Output = f32;
///     fn run<M: MulAdd>(self) -> f32 { self.0.iter().map(|x| x.abs()).sum() }
/// }
/// let arch = Arch::detect(); // detected once, then reused
/// assert_eq!(arch.run(Norm1(&[1.0, -2.0])), 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// The portable backend.
    Scalar(Scalar),
    /// AVX2 and FMA.
    Avx2Fma(Avx2Fma),
    /// AVX-512.
    Avx512(Avx512),
    /// NEON.
    Neon(Neon),
}

impl Arch {
    /// The best available backend ([`Backend::detect`]) with its token.
    ///
    /// ```
    /// assert_eq!(bilevel::backend::Arch::detect().backend(), bilevel::Backend::detect());
    /// ```
    #[inline]
    pub fn detect() -> Arch {
        // `detect` names only available backends, so the fallback is never taken.
        Backend::detect().arch().unwrap_or(Arch::Scalar(Scalar))
    }

    /// Which backend this is.
    ///
    /// ```
    /// use bilevel::backend::{Arch, Scalar};
    /// assert_eq!(Arch::Scalar(Scalar).backend(), bilevel::Backend::Scalar);
    /// ```
    #[inline]
    pub fn backend(self) -> Backend {
        match self {
            Arch::Scalar(_) => Backend::Scalar,
            Arch::Avx2Fma(_) => Backend::Avx2Fma,
            Arch::Avx512(_) => Backend::Avx512,
            Arch::Neon(_) => Backend::Neon,
        }
    }

    /// Runs `kernel` on this backend: one `match`, then the body compiled
    /// for the instruction set.
    ///
    /// ```
    /// use bilevel::backend::{Arch, Kernel, MulAdd};
    /// struct Two;
    /// impl Kernel for Two { type Output = u8; fn run<M: MulAdd>(self) -> u8 { 2 } }
    /// assert_eq!(Arch::detect().run(Two), 2);
    /// ```
    #[inline(always)]
    pub fn run<K: Kernel>(self, kernel: K) -> K::Output {
        match self {
            Arch::Scalar(t) => t.run(kernel),
            Arch::Avx2Fma(t) => t.run(kernel),
            Arch::Avx512(t) => t.run(kernel),
            Arch::Neon(t) => t.run(kernel),
        }
    }
}

/// Runs kernels: implemented by [`Backend`] (checks availability, may fail)
/// and by every token (infallible). Multi-pass kernels are written once
/// against it.
pub(crate) trait Exec: Copy {
    /// Runs `kernel`, or reports a missing backend.
    fn exec<K: Kernel>(self, kernel: K) -> Result<K::Output, Error>;
}

impl<S: Simd> Exec for S {
    #[inline(always)]
    fn exec<K: Kernel>(self, kernel: K) -> Result<K::Output, Error> {
        Ok(self.run(kernel))
    }
}

impl Exec for Backend {
    #[inline(always)]
    fn exec<K: Kernel>(self, kernel: K) -> Result<K::Output, Error> {
        self.run(kernel)
    }
}

// ---------------------------------------------------------------------------
// CPU features, queried once.

const AVX2: u8 = 1 << 1;
const AVX512: u8 = 1 << 2;
const NEON: u8 = 1 << 3;

/// Bit set of available backends (`AVX2`, `AVX512`, `NEON`).
#[inline(always)]
fn features() -> u8 {
    #[cfg(feature = "std")]
    {
        use core::sync::atomic::Ordering::Relaxed;
        // Bit 0 marks the cache as filled.
        let f = FEATURES.load(Relaxed);
        if f & 1 != 0 { f } else { detect_features() }
    }
    #[cfg(not(feature = "std"))]
    {
        compiled_features()
    }
}

#[cfg(feature = "std")]
static FEATURES: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Asks the CPU (first call only) and fills the cache.
#[cfg(feature = "std")]
#[cold]
#[inline(never)]
fn detect_features() -> u8 {
    #[allow(unused_mut)]
    let mut f = 1u8;
    #[cfg(target_arch = "x86_64")]
    {
        use std::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            f |= AVX2;
            if has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx512bw") {
                f |= AVX512;
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            f |= NEON;
        }
    }
    FEATURES.store(f, core::sync::atomic::Ordering::Relaxed);
    f
}

/// The features this build was compiled for (no run-time query without `std`).
#[cfg(not(feature = "std"))]
#[inline(always)]
const fn compiled_features() -> u8 {
    let mut f = 1u8;
    if cfg!(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")) {
        f |= AVX2;
        if cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512vl",
            target_feature = "avx512dq",
            target_feature = "avx512bw"
        )) {
            f |= AVX512;
        }
    }
    if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
        f |= NEON;
    }
    f
}

// ---------------------------------------------------------------------------
// Kernels and the multiply-add policy.

mod sealed {
    pub trait Sealed {}
}

/// How a kernel body forms `a * b + c` in reductions, and how many
/// accumulators reductions use: chosen by the backend, sealed (users receive
/// it as the type parameter of [`Kernel::run`] and call [`MulAdd::mul_add`]).
/// Elementwise kernels never call `mul_add`, which is what keeps them
/// bit-identical across backends.
///
/// ```
/// use bilevel::backend::{Kernel, MulAdd, Scalar, Simd};
/// struct Fma(f64, f64, f64);
/// impl Kernel for Fma {
///     type Output = f64;
///     fn run<M: MulAdd>(self) -> f64 { M::mul_add(self.0, self.1, self.2) }
/// }
/// assert_eq!(Scalar.run(Fma(2.0, 3.0, 1.0)), 7.0);
/// ```
pub trait MulAdd: sealed::Sealed {
    /// Number of independent accumulators in reductions (16 or 64).
    const LANES: usize;
    /// `a * b + c`: rounded twice on the scalar backend, once (fused) on the
    /// SIMD backends with `std`.
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T;
    /// Sums `L` accumulators pairwise (`acc[j] += acc[j + w]` for
    /// `w = L/2, L/4, …, 1`). The SIMD backends do it in registers, in the
    /// same order, so the result does not depend on the backend's fold.
    #[doc(hidden)]
    #[inline(always)]
    fn fold<T: crate::Float, const L: usize>(acc: &mut Lanes<T, L>) -> T {
        crate::kernels::dot::fold(acc.0, T::ZERO)
    }
}

/// The accumulators of a reduction, on a 64-byte boundary: whole-register
/// stores and loads of them never straddle a cache line, so a fold that
/// reloads what the loop stored gets it forwarded (a `zmm` store split
/// across lines stalls the load that reads it back, by a cost that depended
/// on the caller's stack alignment).
#[doc(hidden)]
#[repr(C, align(64))]
pub struct Lanes<T, const L: usize>(pub [T; L]);

impl<T, const L: usize> core::ops::Deref for Lanes<T, L> {
    type Target = [T; L];
    #[inline(always)]
    fn deref(&self) -> &[T; L] {
        &self.0
    }
}

impl<T, const L: usize> core::ops::DerefMut for Lanes<T, L> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T; L] {
        &mut self.0
    }
}

/// `a * b + c` with two roundings, 16 accumulators (the scalar backend's
/// policy): for calling kernel bodies such as
/// [`dot_in`](crate::kernels::dot_in) outside any backend.
///
/// ```
/// use bilevel::backend::{MulAdd, Plain};
/// assert_eq!(Plain::mul_add(2.0f64, 3.0, 1.0), 7.0);
/// assert_eq!(bilevel::kernels::dot_in::<Plain, f64>(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
/// ```
pub struct Plain;
impl sealed::Sealed for Plain {}
impl MulAdd for Plain {
    const LANES: usize = 16;
    #[inline(always)]
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T {
        a * b + c
    }
}

/// `a * b + c` with one rounding, with `std` (inside a `#[target_feature]`
/// entry point the `mul_add` lowers to one fused instruction that vectorizes
/// with the surrounding loop). Without `std` it would be a software routine,
/// so keep two roundings there; both stay within the reductions' stated
/// bound.
#[inline(always)]
pub(crate) fn fused<T: crate::Float>(a: T, b: T, c: T) -> T {
    if cfg!(feature = "std") { a.mul_add(b, c) } else { a * b + c }
}

/// Whether this build's baseline has a fused multiply-add instruction (then
/// the fixed-size kernels fuse, like the backend named by [`STATIC_BACKEND`]).
const STATIC_FMA: bool = cfg!(any(
    all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"),
    all(target_arch = "aarch64", target_feature = "neon")
));

/// The backend whose results the fixed-size kernels reproduce bit for bit:
/// the one this build's baseline target features amount to.
pub(crate) const STATIC_BACKEND: Backend = if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
    Backend::Neon
} else if cfg!(all(target_arch = "x86_64", target_feature = "avx2", target_feature = "fma")) {
    Backend::Avx2Fma
} else {
    Backend::Scalar
};

/// The policy of the fixed-size kernels ([`crate::array`], static nalgebra
/// vectors): compiled into the caller with the build's own target features,
/// 16 accumulators, fold inlined (straight-line code for small `N`); the
/// same multiply-add and order as [`STATIC_BACKEND`], hence the same bits.
pub(crate) struct Static;
impl sealed::Sealed for Static {}
impl MulAdd for Static {
    const LANES: usize = 16;
    #[inline(always)]
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T {
        if STATIC_FMA { fused(a, b, c) } else { a * b + c }
    }
    #[inline(always)]
    fn fold<T: crate::Float, const L: usize>(acc: &mut Lanes<T, L>) -> T {
        crate::kernels::dot::fold_inline(acc.0)
    }
}

/// Runs kernels with [`Static`], inline: no dispatch, no detection.
#[derive(Clone, Copy)]
pub(crate) struct StaticExec;
impl Exec for StaticExec {
    #[inline(always)]
    fn exec<K: Kernel>(self, kernel: K) -> Result<K::Output, Error> {
        Ok(kernel.run::<Static>())
    }
}

/// One operation with its arguments: the single generic body, run by a
/// backend. Implement it to run your own loops on the crate's backends
/// ([`Simd::run`], [`Backend::run`], [`Arch::run`]): the body is compiled
/// once per instruction set. Mark `run` `#[inline(always)]` so each entry
/// point compiles its own copy, write elementwise code with plain `*` and
/// `+`, and reductions with [`MulAdd::mul_add`] and several accumulators (or
/// the bodies in [`crate::kernels::body`]).
///
/// A user's oracle loop (the logistic gradient `Σ_i ℓ'(c_i a_iᵀy) c_i a_i`),
/// compiled for AVX2 and for AVX-512 when the CPU has them:
///
/// ```
/// use bilevel::backend::{Avx2Fma, Avx512, Kernel, MulAdd, Scalar, Simd};
/// use bilevel::kernels::body;
///
/// struct LogisticGrad<'a> { rows: &'a [f64], labels: &'a [f64], y: &'a [f64], out: &'a mut [f64] }
///
/// impl Kernel for LogisticGrad<'_> {
///     type Output = ();
///     #[inline(always)]
///     fn run<M: MulAdd>(self) {
///         self.out.fill(0.0);
///         for (a, &c) in self.rows.chunks_exact(self.y.len()).zip(self.labels) {
///             let z = c * body::dot::<M, f64>(a, self.y);
///             let k = -c / (1.0 + z.exp()); // c · ℓ'(z), ℓ(z) = ln(1 + e^-z)
///             body::axpy(k, a, self.out);
///         }
///     }
/// }
///
/// let (rows, labels, y) = ([1.0, 2.0, -1.0, 0.5], [1.0, -1.0], [0.1, -0.2]);
/// let mut g = [0.0; 2];
/// Scalar.run(LogisticGrad { rows: &rows, labels: &labels, y: &y, out: &mut g });
/// if let Ok(t) = Avx2Fma::try_new() {
///     let mut g2 = [0.0; 2];
///     t.run(LogisticGrad { rows: &rows, labels: &labels, y: &y, out: &mut g2 });
///     assert!((g2[0] - g[0]).abs() < 1e-15 && (g2[1] - g[1]).abs() < 1e-15);
/// }
/// if let Ok(t) = Avx512::try_new() {
///     let mut g3 = [0.0; 2];
///     t.run(LogisticGrad { rows: &rows, labels: &labels, y: &y, out: &mut g3 });
///     assert!((g3[0] - g[0]).abs() < 1e-15 && (g3[1] - g[1]).abs() < 1e-15);
/// }
/// ```
pub trait Kernel {
    /// What the kernel returns.
    type Output;
    /// Executes the body; `M` picks how reductions multiply-add.
    fn run<M: MulAdd>(self) -> Self::Output;
    /// How many elements the body's loops run over (default: many). The
    /// AVX-512 backend runs kernels shorter than 256 elements with its
    /// 256-bit code (the same results: the same fused multiply-add, 16
    /// accumulators and fold order), where 512-bit loops unrolled for long
    /// vectors would spend a short call in their scalar remainder.
    ///
    /// ```
    /// use bilevel::backend::{Kernel, MulAdd};
    /// struct Scale<'a>(&'a mut [f64]);
    /// impl Kernel for Scale<'_> {
    ///     type Output = ();
    ///     fn run<M: MulAdd>(self) { self.0.iter_mut().for_each(|x| *x *= 2.0) }
    ///     fn size_hint(&self) -> usize { self.0.len() }
    /// }
    /// let mut v = [1.0; 3];
    /// assert_eq!(Scale(&mut v).size_hint(), 3);
    /// ```
    #[inline(always)]
    fn size_hint(&self) -> usize {
        usize::MAX
    }
}

/// Hints the CPU to load `data` into its nearest cache ahead of use: for
/// loops that visit rows in random order (a SAGA epoch over shuffled samples),
/// prefetching the row a few iterations ahead hides the memory latency. A
/// no-op on targets without a prefetch instruction; never changes results.
///
/// ```
/// let rows = vec![1.0f64; 22 * 100];
/// bilevel::backend::prefetch(&rows[22 * 57..22 * 58]); // row 57 will be read soon
/// ```
#[inline(always)]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch(data);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
