//! The aarch64 NEON entry point: with `x86.rs`, the only module with
//! `unsafe` code.

use super::{Kernel, MulAdd, Neon, fused, sealed};

/// The NEON policy: fused multiply-add, 16 accumulators (4 q registers of
/// f32, 8 of f64), the portable pairwise fold (compiled for NEON here).
struct Q;
impl sealed::Sealed for Q {}
impl MulAdd for Q {
    const LANES: usize = 16;
    #[inline(always)]
    fn mul_add<T: crate::Float>(a: T, b: T, c: T) -> T {
        fused(a, b, c)
    }
}

#[target_feature(enable = "neon")]
fn run_neon<K: Kernel>(kernel: K) -> K::Output {
    kernel.run::<Q>()
}

/// Runs `kernel` compiled for NEON; the token proves the CPU has it.
#[inline(always)]
pub(super) fn neon<K: Kernel>(_proof: Neon, kernel: K) -> K::Output {
    // SAFETY: `run_neon` requires only the `neon` target feature. A `Neon`
    // token exists only if `Neon::try_new` found it (run-time detection with
    // `std`, compile-time target features without it) or the caller of
    // `new_unchecked` guaranteed it.
    unsafe { run_neon(kernel) }
}
