//! Backends: which instruction set a kernel body is compiled for.
//!
//! Every kernel is written once, as an `#[inline(always)]` generic body (an
//! implementation of the [`Kernel`] trait). A backend is a thin entry point that runs that
//! body: [`Backend::Scalar`] calls it as is (portable Rust; the compiler may
//! still use the baseline SIMD of the target), [`Backend::Avx2Fma`] calls it
//! from a `#[target_feature(enable = "avx2,fma")]` function so that the same
//! body is compiled for 256-bit vectors. The choice is made once per call, never
//! per element.
//!
//! Elementwise kernels evaluate the same expression per element on every
//! backend (no fused multiply-add is introduced), so their results are
//! bit-identical. Reductions (`dot`, `norm`) may use FMA and a different
//! accumulation order on the SIMD backend; they agree with a compensated
//! reference within the bound stated on each reduction.
//!
//! ```
//! use bilevel::Backend;
//! let auto = Backend::detect();
//! assert!(auto.is_available());
//! assert!(Backend::Scalar.is_available());
//! let mut h = [1.0f64, 2.0];
//! Backend::Scalar.storm_update(&mut h, &[0.5, 0.5], &[0.0, 0.0], 1.0).unwrap();
//! assert_eq!(h, [0.5, 0.5]);
//! ```

#[cfg(target_arch = "x86_64")]
mod avx2;

use crate::error::Error;

/// An instruction-set backend for the kernels.
///
/// Kernels are inherent methods of `Backend` (for example
/// [`Backend::storm_update`]); the free functions in [`crate::kernels`] call
/// them on [`Backend::detect()`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable Rust, available everywhere.
    Scalar,
    /// x86_64 with AVX2 and FMA (the same kernel bodies compiled for 256-bit
    /// vectors; reductions fuse each multiply-add, `vfmadd` on `ymm`, with
    /// `std`; without `std` they round twice, see `backend/avx2.rs`).
    Avx2Fma,
}

impl Backend {
    /// All backends, in order of preference (best last).
    pub const ALL: [Backend; 2] = [Backend::Scalar, Backend::Avx2Fma];

    /// The best backend for this CPU.
    ///
    /// With the `std` feature this asks the CPU at run time (the answer is
    /// cached by the standard library); without it, it uses the features the
    /// crate was compiled for (`-C target-feature=+avx2,+fma` or
    /// `-C target-cpu=native`).
    ///
    /// ```
    /// let b = bilevel::Backend::detect();
    /// assert!(b.is_available());
    /// ```
    #[inline]
    pub fn detect() -> Backend {
        if Backend::Avx2Fma.is_available() { Backend::Avx2Fma } else { Backend::Scalar }
    }

    /// Whether this backend can run on this CPU in this build.
    ///
    /// ```
    /// assert!(bilevel::Backend::Scalar.is_available());
    /// ```
    #[inline]
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
            Backend::Avx2Fma => avx2_fma_available(),
        }
    }

    /// A short lowercase name (`"scalar"`, `"avx2"`), for reports.
    ///
    /// ```
    /// assert_eq!(bilevel::Backend::Scalar.name(), "scalar");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2Fma => "avx2",
        }
    }

    /// Runs `kernel` on this backend, or reports that the backend is missing:
    /// how a user's own loop (a [`Kernel`]) is compiled for the same
    /// instruction sets as the crate's kernels.
    ///
    /// ```
    /// use bilevel::backend::{Backend, Kernel, MulAdd};
    /// struct SumSq<'a>(&'a [f64]);
    /// impl Kernel for SumSq<'_> {
    ///     type Output = f64;
    ///     #[inline(always)]
    ///     fn run<M: MulAdd>(self) -> f64 {
    ///         self.0.iter().fold(0.0, |acc, &v| M::mul_add(v, v, acc))
    ///     }
    /// }
    /// assert_eq!(Backend::detect().run(SumSq(&[3.0, 4.0]))?, 25.0);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    #[inline(always)]
    pub fn run<K: Kernel>(self, kernel: K) -> Result<K::Output, Error> {
        match self {
            Backend::Scalar => Ok(kernel.run::<Plain>()),
            Backend::Avx2Fma => {
                #[cfg(target_arch = "x86_64")]
                {
                    if avx2_fma_available() {
                        return Ok(avx2::run(kernel));
                    }
                }
                Err(Error::BackendUnavailable(self))
            }
        }
    }
}

#[inline]
fn avx2_fma_available() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
    {
        cfg!(target_feature = "avx2") && cfg!(target_feature = "fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How a kernel body forms `a * b + c` in reductions: [`Plain`] rounds twice
/// (portable), `Fused` rounds once (the AVX2+FMA backend). Elementwise
/// kernels never call this, which is what keeps them bit-identical.
/// Sealed: the crate's backends are its only implementations.
pub trait MulAdd: sealed::Sealed {
    /// `a * b + c`.
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Plain {}
    #[cfg(target_arch = "x86_64")]
    impl Sealed for super::avx2::Fused {}
}

/// `a * b + c` with two roundings.
///
/// ```
/// use bilevel::backend::{MulAdd, Plain};
/// assert_eq!(Plain::mul_add(2.0f64, 3.0, 1.0), 7.0);
/// ```
pub struct Plain;
impl MulAdd for Plain {
    #[inline(always)]
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T {
        a * b + c
    }
}

/// One kernel invocation with its arguments: the single generic body of an
/// operation. Implementations mark `run` `#[inline(always)]` so each backend
/// entry point compiles its own copy. Users implement it for their own loops
/// and run them with [`Backend::run`].
pub trait Kernel {
    /// What the kernel returns.
    type Output;
    /// Executes the body; `M` picks how reductions multiply-add.
    fn run<M: MulAdd>(self) -> Self::Output;
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
    avx2::prefetch(data);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
