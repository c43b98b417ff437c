//! Your own loop on the crate's backends: a user oracle (the logistic-loss
//! gradient over a minibatch, `Σ_i ℓ'(b_i a_iᵀx) b_i a_i / |B|`) written once
//! as a [`Kernel`] and run compiled for every backend this CPU has, through
//! the tokens (monomorphized, no detection per call) and through `Arch`
//! (detected once, one `match` per call).
//!
//! Run: `cargo run --release --example user_kernel`. `cargo test --example
//! user_kernel` runs its tests (every backend agrees with the scalar one).

use std::time::Instant;

use bilevel::backend::{Arch, Avx2Fma, Avx512, Kernel, MulAdd, Neon, Scalar, Simd};
use bilevel::kernels::body;

/// The logistic gradient over the rows `batch` of `features` (`dim` columns)
/// with labels `±1`, written into `grad`.
struct LogisticGrad<'a> {
    features: &'a [f64],
    labels: &'a [f64],
    batch: &'a [usize],
    x: &'a [f64],
    grad: &'a mut [f64],
}

impl Kernel for LogisticGrad<'_> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let d = self.x.len();
        self.grad.fill(0.0);
        let w = 1.0 / self.batch.len() as f64;
        for &i in self.batch {
            let a = &self.features[i * d..(i + 1) * d];
            let b = self.labels[i];
            // ℓ(z) = ln(1 + e^-z), ℓ'(z) = −1/(1 + e^z); the score is a
            // reduction (the backend's multiply-add and accumulators), the
            // update elementwise (bit-identical on every backend).
            let z = b * body::dot::<M, f64>(a, self.x);
            body::axpy(-w * b / (1.0 + z.exp()), a, self.grad);
        }
    }
}

/// Synthetic data: `n` rows of `d` features, labels from a planted model.
fn data(n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let features: Vec<f64> = (0..n * d).map(|_| next()).collect();
    let labels = features.chunks(d).map(|a| if a.iter().sum::<f64>() >= 0.0 { 1.0 } else { -1.0 }).collect();
    (features, labels)
}

/// The gradient on token `s`.
fn gradient<S: Simd>(s: S, features: &[f64], labels: &[f64], batch: &[usize], x: &[f64]) -> Vec<f64> {
    let mut grad = vec![0.0; x.len()];
    s.run(LogisticGrad { features, labels, batch, x, grad: &mut grad });
    grad
}

/// Runs the gradient on `s` and prints the time per call.
fn time<S: Simd>(s: S, features: &[f64], labels: &[f64], batch: &[usize], x: &[f64]) {
    let mut grad = vec![0.0; x.len()];
    let reps = 2000;
    let t = Instant::now();
    for _ in 0..reps {
        s.run(LogisticGrad { features, labels, batch, x, grad: &mut grad });
    }
    let ns = t.elapsed().as_nanos() as f64 / reps as f64;
    let g = gradient(s, features, labels, batch, x);
    assert_eq!(g, grad);
    println!("backend={} ns_per_gradient={ns:.0} grad[0]={:.6e}", S::BACKEND.name(), g[0]);
}

fn main() {
    let (n, d) = (10_000, 64);
    let (features, labels) = data(n, d);
    let batch: Vec<usize> = (0..256).map(|k| (k * 7919) % n).collect();
    let x = vec![0.01; d];
    time(Scalar, &features, &labels, &batch, &x);
    match Avx2Fma::try_new() {
        Ok(t) => time(t, &features, &labels, &batch, &x),
        Err(e) => println!("{e}"),
    }
    match Avx512::try_new() {
        Ok(t) => time(t, &features, &labels, &batch, &x),
        Err(e) => println!("{e}"),
    }
    match Neon::try_new() {
        Ok(t) => time(t, &features, &labels, &batch, &x),
        Err(e) => println!("{e}"),
    }
    // Dynamic choice: detect once, dispatch once per call.
    let arch = Arch::detect();
    let mut grad = vec![0.0; d];
    arch.run(LogisticGrad { features: &features, labels: &labels, batch: &batch, x: &x, grad: &mut grad });
    println!("detected {:?}: grad[0]={:.6e}", arch.backend(), grad[0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every available backend gives the scalar gradient to within the
    /// reductions' bound (the scores may differ in the last bits: FMA and
    /// accumulators differ; everything else is elementwise).
    #[test]
    fn every_backend_agrees_with_scalar() {
        let (n, d) = (500, 37);
        let (features, labels) = data(n, d);
        let batch: Vec<usize> = (0..100).map(|k| (k * 13) % n).collect();
        let x: Vec<f64> = (0..d).map(|k| 0.1 * (k as f64).sin()).collect();
        let want = gradient(Scalar, &features, &labels, &batch, &x);
        let mut tested = 1;
        let mut check = |got: Vec<f64>| {
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-14 * (1.0 + w.abs()), "{g} vs {w}");
            }
            tested += 1;
        };
        if let Ok(t) = Avx2Fma::try_new() {
            check(gradient(t, &features, &labels, &batch, &x));
        }
        if let Ok(t) = Avx512::try_new() {
            check(gradient(t, &features, &labels, &batch, &x));
        }
        if let Ok(t) = Neon::try_new() {
            check(gradient(t, &features, &labels, &batch, &x));
        }
        let available = bilevel::Backend::ALL.iter().filter(|b| b.is_available()).count();
        assert_eq!(tested, available, "every available backend was run");
    }

    /// The gradient is the finite difference of the mean loss (the kernel
    /// computes what it claims).
    #[test]
    fn gradient_matches_finite_differences() {
        let (n, d) = (200, 5);
        let (features, labels) = data(n, d);
        let batch: Vec<usize> = (0..n).collect();
        let x = vec![0.3, -0.2, 0.1, 0.0, 0.5];
        let loss = |x: &[f64]| {
            batch
                .iter()
                .map(|&i| {
                    let z = labels[i]
                        * features[i * d..(i + 1) * d].iter().zip(x).map(|(a, x)| a * x).sum::<f64>();
                    (-z).exp().ln_1p()
                })
                .sum::<f64>()
                / n as f64
        };
        let g = gradient(Scalar, &features, &labels, &batch, &x);
        for k in 0..d {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[k] += 1e-6;
            xm[k] -= 1e-6;
            let fd = (loss(&xp) - loss(&xm)) / 2e-6;
            assert!((g[k] - fd).abs() < 1e-8, "{k}: {} vs {fd}", g[k]);
        }
    }
}
