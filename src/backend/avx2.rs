//! The AVX2+FMA entry point. This is the only module with `unsafe` code.

use super::{Kernel, MulAdd};

/// `a * b + c` with one rounding. Inside [`run_avx2_fma`] the `mul_add`
/// lowers to `vfmadd` and vectorizes with the surrounding loop.
pub(crate) struct Fused;
impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T {
        // With `std`, `mul_add` is the LLVM fma intrinsic (one instruction
        // here). Without `std` it would be a software routine, so keep two
        // roundings there; both stay within the reductions' stated bound.
        if cfg!(feature = "std") { a.mul_add(b, c) } else { a * b + c }
    }
}

#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<K: Kernel>(kernel: K) -> K::Output {
    kernel.run::<Fused>()
}

/// Runs `kernel` compiled for AVX2+FMA. The caller has checked that the CPU
/// supports both features.
#[inline(always)]
pub(super) fn run<K: Kernel>(kernel: K) -> K::Output {
    debug_assert!(super::avx2_fma_available());
    // SAFETY: `run_avx2_fma` only requires the `avx2` and `fma` target
    // features; `Backend::run` calls this function only after
    // `avx2_fma_available()` returned true (runtime detection with `std`,
    // compile-time target features without it).
    unsafe { run_avx2_fma(kernel) }
}

/// Asks the CPU to bring every 64-byte line of `data` into L1 (a hint: no
/// fault, no visible effect on memory).
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T]) {
    use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    let bytes = core::mem::size_of_val(data);
    let base = data.as_ptr().cast::<i8>();
    let mut off = 0;
    while off < bytes {
        // SAFETY: `_mm_prefetch` needs only SSE, part of the x86_64 baseline
        // that every x86_64 target enables; a prefetch never faults and has
        // no architectural effect. `base + off` stays inside `data`
        // (`off < size_of_val(data)`), so `wrapping_add` does not wrap.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(off)) };
        off += 64;
    }
}
