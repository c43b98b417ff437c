//! The x86_64 entry points (AVX2+FMA, AVX-512), their register folds and
//! the prefetch hint: with `neon.rs`, the only modules with `unsafe` code.

use core::arch::x86_64::*;
use core::mem::size_of;

use super::{Avx2Fma, Avx512, Kernel, Lanes, MulAdd, fused, sealed};
use crate::Float;

/// The AVX2+FMA policy: fused multiply-add, 16 accumulators, fold in `ymm`.
struct Ymm;
impl sealed::Sealed for Ymm {}
impl MulAdd for Ymm {
    const LANES: usize = 16;
    #[inline(always)]
    fn mul_add<T: Float>(a: T, b: T, c: T) -> T {
        fused(a, b, c)
    }
    #[inline(always)]
    fn fold<T: Float, const L: usize>(acc: &mut Lanes<T, L>) -> T {
        fold_ymm(acc)
    }
}

/// The AVX-512 policy: fused multiply-add, 64 accumulators (4 zmm registers
/// of f32, 8 of f64: enough independent chains to cover the FMA latency at
/// 512 bits), fold in `zmm`.
struct Zmm;
impl sealed::Sealed for Zmm {}
impl MulAdd for Zmm {
    const LANES: usize = 64;
    #[inline(always)]
    fn mul_add<T: Float>(a: T, b: T, c: T) -> T {
        fused(a, b, c)
    }
    #[inline(always)]
    fn fold<T: Float, const L: usize>(acc: &mut Lanes<T, L>) -> T {
        fold_zmm(acc)
    }
}

/// `acc[j] += acc[j + w]` for `w = L/2, …` while `w ≥ width` (whole
/// registers of `width` elements added with `add`); leaves `w = width`.
#[inline(always)]
fn fold_registers<T, const L: usize>(acc: &mut Lanes<T, L>, width: usize, add: impl Fn(*mut T, *const T)) {
    let p = acc.0.as_mut_ptr();
    let mut w = L;
    while w > width {
        w /= 2;
        let mut j = 0;
        while j < w {
            // `j + w + width ≤ 2w ≤ L`: both registers lie inside `acc`.
            add(p.wrapping_add(j), p.wrapping_add(j + w));
            j += width;
        }
    }
}

/// The pairwise fold of `MulAdd::fold` in `ymm`/`xmm` registers (AVX).
/// Only called inside `run_avx2_fma`/`run_avx512`, where it is inlined.
#[inline(always)]
fn fold_ymm<T: Float, const L: usize>(acc: &mut Lanes<T, L>) -> T {
    if !(L >= 16 && L.is_power_of_two()) {
        // `MulAdd::fold` is callable from user kernels with any `L`; the
        // register code below needs whole registers at every level.
        return crate::kernels::dot::fold(acc.0, T::ZERO);
    }
    if size_of::<T>() == 8 {
        fold_registers(acc, 4, |a, b| {
            // SAFETY: `a` and `b` point to 4 f64 inside `acc` (see
            // `fold_registers`; `T` is f64, the only 8-byte `Float`); AVX is
            // enabled in the entry points this is inlined into.
            unsafe {
                _mm256_storeu_pd(
                    a.cast(),
                    _mm256_add_pd(_mm256_loadu_pd(a.cast()), _mm256_loadu_pd(b.cast())),
                )
            }
        });
        // SAFETY: `acc` holds at least 4 f64 (`L ≥ 16`, checked above); AVX as above.
        let r = unsafe { hsum_pd(_mm256_loadu_pd(acc.0.as_ptr().cast())) };
        T::from_f64(r)
    } else {
        fold_registers(acc, 8, |a, b| {
            // SAFETY: as above with 8 f32 (`T` is f32, the only 4-byte `Float`).
            unsafe {
                _mm256_storeu_ps(
                    a.cast(),
                    _mm256_add_ps(_mm256_loadu_ps(a.cast()), _mm256_loadu_ps(b.cast())),
                )
            }
        });
        // SAFETY: `acc` holds at least 8 f32; AVX as above.
        let r = unsafe { hsum_ps(_mm256_loadu_ps(acc.0.as_ptr().cast())) };
        T::from_f64(f64::from(r))
    }
}

/// The pairwise fold in `zmm` registers, then `ymm` (AVX-512F/DQ).
#[inline(always)]
fn fold_zmm<T: Float, const L: usize>(acc: &mut Lanes<T, L>) -> T {
    if !(L >= 16 && L.is_power_of_two()) {
        // As in `fold_ymm`: only whole registers at every level.
        return crate::kernels::dot::fold(acc.0, T::ZERO);
    }
    if size_of::<T>() == 8 {
        fold_registers(acc, 8, |a, b| {
            // SAFETY: `a` and `b` point to 8 f64 inside `acc`; AVX-512F is
            // enabled in `run_avx512`, the only caller.
            unsafe {
                _mm512_storeu_pd(
                    a.cast(),
                    _mm512_add_pd(_mm512_loadu_pd(a.cast()), _mm512_loadu_pd(b.cast())),
                )
            }
        });
        // SAFETY: `acc` holds at least 8 f64; AVX-512F as above.
        let r = unsafe {
            let v = _mm512_loadu_pd(acc.0.as_ptr().cast());
            hsum_pd(_mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v)))
        };
        T::from_f64(r)
    } else {
        fold_registers(acc, 16, |a, b| {
            // SAFETY: as above with 16 f32.
            unsafe {
                _mm512_storeu_ps(
                    a.cast(),
                    _mm512_add_ps(_mm512_loadu_ps(a.cast()), _mm512_loadu_ps(b.cast())),
                )
            }
        });
        // SAFETY: `acc` holds at least 16 f32; AVX-512F/DQ as above.
        let r = unsafe {
            let v = _mm512_loadu_ps(acc.0.as_ptr().cast());
            hsum_ps(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps::<1>(v)))
        };
        T::from_f64(f64::from(r))
    }
}

/// `((v0 + v2) + (v1 + v3))`: the last two levels of the pairwise fold.
#[inline(always)]
unsafe fn hsum_pd(v: __m256d) -> f64 {
    // SAFETY: AVX is enabled where this is inlined (the caller's contract).
    unsafe {
        let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
        _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
    }
}

/// The last three levels of the pairwise fold on 8 f32.
#[inline(always)]
unsafe fn hsum_ps(v: __m256) -> f32 {
    // SAFETY: AVX is enabled where this is inlined (the caller's contract).
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }
}

#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<K: Kernel>(kernel: K) -> K::Output {
    kernel.run::<Ymm>()
}

#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
fn run_avx512<K: Kernel>(kernel: K) -> K::Output {
    kernel.run::<Zmm>()
}

/// Runs `kernel` compiled for AVX2+FMA; the token proves the CPU has both.
#[inline(always)]
pub(super) fn avx2_fma<K: Kernel>(_proof: Avx2Fma, kernel: K) -> K::Output {
    // SAFETY: `run_avx2_fma` requires only the `avx2` and `fma` target
    // features. An `Avx2Fma` token exists only if `Avx2Fma::try_new` found
    // both (cached CPUID with `std`, compile-time target features without
    // it) or the caller of `new_unchecked` guaranteed them.
    unsafe { run_avx2_fma(kernel) }
}

/// Runs `kernel` compiled for AVX-512 (for short kernels, the 256-bit code:
/// see [`Kernel::size_hint`]); the token proves the CPU has it.
#[inline(always)]
pub(super) fn avx512<K: Kernel>(_proof: Avx512, kernel: K) -> K::Output {
    if kernel.size_hint() < crate::kernels::dot::WIDE_MIN {
        // SAFETY: `run_avx2_fma` requires avx2 and fma, which an `Avx512`
        // token also proves (`try_new` checks them with AVX-512; the
        // `new_unchecked` contract includes them, see `Avx512`).
        return unsafe { run_avx2_fma(kernel) };
    }
    // SAFETY: `run_avx512` requires avx512f/vl/dq/bw, avx2 and fma. An
    // `Avx512` token exists only if `Avx512::try_new` found all of them or
    // the caller of `new_unchecked` guaranteed them.
    unsafe { run_avx512(kernel) }
}

/// Asks the CPU to bring every 64-byte line of `data` into L1 (a hint: no
/// fault, no visible effect on memory).
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T]) {
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
