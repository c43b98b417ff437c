//! Backend selection and tokens: `detect()` picks the best backend this CPU
//! has, tokens exist exactly for available backends, an unavailable backend
//! is a typed error, and every token runs the same kernels as its `Backend`.

mod common;

use bilevel::backend::{Arch, Avx2Fma, Avx512, Kernel, MulAdd, Neon, Scalar, Simd};
use bilevel::{Backend, Error};

/// What this CPU supports, asked independently of the crate.
fn cpu_has(b: Backend) -> bool {
    match b {
        Backend::Scalar => true,
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => {
            cpu_has(Backend::Avx2Fma)
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512bw")
        }
        #[cfg(target_arch = "aarch64")]
        Backend::Neon => std::arch::is_aarch64_feature_detected!("neon"),
        _ => false,
    }
}

#[test]
fn availability_matches_the_cpu() {
    for b in Backend::ALL {
        assert_eq!(b.is_available(), cpu_has(b), "{b:?}");
        if !b.is_available() {
            println!("backend {} not available on this CPU: its kernel tests are skipped", b.name());
        }
    }
}

#[test]
fn detect_picks_the_best_available_backend() {
    let best = [Backend::Avx512, Backend::Avx2Fma, Backend::Neon, Backend::Scalar]
        .into_iter()
        .find(|&b| cpu_has(b))
        .unwrap();
    assert_eq!(Backend::detect(), best);
    assert_eq!(Arch::detect().backend(), best);
    // Cached: the same answer every time.
    for _ in 0..1000 {
        assert_eq!(Backend::detect(), best);
    }
}

#[test]
fn unavailable_backend_is_a_typed_error() {
    // NEON is compiled out on x86_64, AVX2/AVX-512 on aarch64.
    let missing: Vec<Backend> = Backend::ALL.into_iter().filter(|b| !cpu_has(*b)).collect();
    #[cfg(target_arch = "x86_64")]
    assert!(missing.contains(&Backend::Neon));
    #[cfg(target_arch = "aarch64")]
    assert!(missing.contains(&Backend::Avx2Fma) && missing.contains(&Backend::Avx512));
    for b in missing {
        let want = Err(Error::BackendUnavailable(b));
        assert_eq!(b.dot(&[1.0f64], &[1.0]), want);
        let mut h = [0.0f32; 2];
        assert_eq!(b.storm_update(&mut h, &[1.0; 2], &[0.0; 2], 0.5), Err(Error::BackendUnavailable(b)));
        assert_eq!(h, [0.0; 2], "nothing written");
        assert_eq!(b.arch().map(|a| a.backend()), Err(Error::BackendUnavailable(b)));
    }
    assert_eq!(Neon::try_new().is_ok(), cpu_has(Backend::Neon));
    assert_eq!(Avx2Fma::try_new().is_ok(), cpu_has(Backend::Avx2Fma));
    assert_eq!(Avx512::try_new().is_ok(), cpu_has(Backend::Avx512));
}

/// A user kernel: `Σ a_i b_i` by hand with the policy's multiply-add.
struct MyDot<'a>(&'a [f64], &'a [f64]);
impl Kernel for MyDot<'_> {
    type Output = f64;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> f64 {
        self.0.iter().zip(self.1).fold(0.0, |s, (&a, &b)| M::mul_add(a, b, s))
    }
}

fn token_matches_backend<S: Simd>(s: S) {
    let b = S::BACKEND;
    assert_eq!(b.lanes(1 << 20), S::LANES);
    let x: Vec<f64> = (0..37).map(|i| (i as f64).sin()).collect();
    let y: Vec<f64> = (0..37).map(|i| (i as f64).cos()).collect();
    // Same bits through the token, the Backend and the Arch.
    assert_eq!(s.dot(&x, &y).unwrap().to_bits(), b.dot(&x, &y).unwrap().to_bits());
    assert_eq!(s.norm(&x).unwrap().to_bits(), b.norm(&x).unwrap().to_bits());
    let arch = b.arch().unwrap();
    assert_eq!(arch.run(MyDot(&x, &y)).to_bits(), s.run(MyDot(&x, &y)).to_bits());
    assert_eq!(b.run(MyDot(&x, &y)).unwrap().to_bits(), s.run(MyDot(&x, &y)).to_bits());
    // Checked like the Backend methods.
    assert_eq!(s.dot(&x, &y[1..]), Err(Error::LengthMismatch { what: "b", expected: 37, found: 36 }));
    let mut v = x.clone();
    assert!(s.project_ball(&mut v, -1.0).is_err());
    assert_eq!(v, x);
}

#[test]
fn tokens_run_the_same_kernels_as_backends() {
    token_matches_backend(Scalar);
    let mut ran = vec!["scalar"];
    if let Ok(t) = Avx2Fma::try_new() {
        token_matches_backend(t);
        ran.push("avx2");
    }
    if let Ok(t) = Avx512::try_new() {
        token_matches_backend(t);
        ran.push("avx512");
    }
    if let Ok(t) = Neon::try_new() {
        token_matches_backend(t);
        ran.push("neon");
    }
    println!("tokens tested: {ran:?}");
    assert_eq!(ran.len(), common::backends().count());
}

/// A user kernel can call the (hidden) fold with any number of lanes on any
/// backend: short or odd lane counts take the portable fold instead of
/// reading whole registers past the end.
#[test]
fn fold_with_any_lane_count_is_safe() {
    use bilevel::backend::Lanes;
    struct Fold;
    impl Kernel for Fold {
        type Output = (f64, f32, f64);
        fn run<M: MulAdd>(self) -> (f64, f32, f64) {
            (
                M::fold(&mut Lanes([1.0f64, 2.0])),
                M::fold(&mut Lanes([1.0f32; 3])),
                M::fold(&mut Lanes([0.5f64; 32])),
            )
        }
    }
    for b in common::backends() {
        assert_eq!(b.run(Fold).unwrap(), (3.0, 3.0, 16.0), "{b:?}");
    }
}

/// Below 256 elements the AVX-512 backend gives the AVX2 backend's bits
/// (same fused multiply-add, 16 accumulators, fold order); from 256 it uses
/// 64 accumulators (checked against the bound in tests/reductions.rs).
#[test]
fn avx512_short_reductions_match_avx2() {
    let (Ok(t5), Ok(t2)) = (Avx512::try_new(), Avx2Fma::try_new()) else {
        println!("AVX-512 or AVX2 not available: skipped");
        return;
    };
    for n in [1usize, 15, 16, 17, 100, 255] {
        let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.731).sin()).collect();
        let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.377).cos()).collect();
        assert_eq!(t5.dot(&a, &b).unwrap().to_bits(), t2.dot(&a, &b).unwrap().to_bits(), "n={n}");
        assert_eq!(t5.norm(&a).unwrap().to_bits(), t2.norm(&a).unwrap().to_bits(), "n={n}");
    }
}
