//! The fused inner oracle (`SecondOrder::inner_eval`) writes exactly what the
//! split calls write, on every problem that overrides it, for every subset of
//! outputs; and the per-sample quadratic's oracles match a naive reference.

use bilevel::oracles::{FirstOrder, InnerEval, SecondOrder, split_inner_eval};
use bilevel::quadratic::Quadratic;
use bilevel_problems::hyperclean::{ClassData, HyperClean};
use bilevel_problems::per_sample::PerSampleQuadratic;
use bilevel_problems::synthetic::LogisticDataset;
use proptest::prelude::*;

/// Calls `eval` for every subset of the four outputs and returns them.
fn outputs(p: usize, q: usize, mask: u8, eval: impl Fn(InnerEval<'_, f64>)) -> [Vec<f64>; 4] {
    let mut o = [vec![0.0; q], vec![0.0; p], vec![0.0; q], vec![0.0; p]];
    let [gy, gx, hv, jv] = &mut o;
    fn pick(mask: u8, bit: u8, v: &mut [f64]) -> Option<&mut [f64]> {
        (mask & bit != 0).then_some(v)
    }
    eval(InnerEval {
        grad_y: pick(mask, 1, gy),
        grad_x: pick(mask, 2, gx),
        hvp: pick(mask, 4, hv),
        jvp: pick(mask, 8, jv),
    });
    o
}

fn bits(v: &[Vec<f64>; 4]) -> Vec<u64> {
    v.iter().flatten().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn per_sample_fused_equals_split(seed in 0u64..1000, mask in 0u8..16, batch in 0usize..3, xs in prop::collection::vec(-2.0f64..2.0, 3 + 2 * 6)) {
        let pb = PerSampleQuadratic::<f64>::generate(seed, (7, 4), (6, 3), 0.1, 0.1, (3, 2)).unwrap();
        let (x, rest) = xs.split_at(3);
        let (y, v) = rest.split_at(6);
        let fused = outputs(3, 6, mask, |o| pb.inner_eval(x, y, v, &batch, o));
        let split = outputs(3, 6, mask, |o| split_inner_eval(&pb, x, y, v, &batch, o));
        prop_assert_eq!(bits(&fused), bits(&split));
    }

    #[test]
    fn quadratic_fused_equals_split(seed in 0u64..1000, mask in 0u8..16, xs in prop::collection::vec(-2.0f64..2.0, 2 + 2 * 3)) {
        let a = [2.0, 0.3, 0.1, 0.3, 1.5, 0.2, 0.1, 0.2, 1.0];
        let bm = [1.0, 0.5, -0.5, 0.2, 0.3, 0.3];
        let pb = Quadratic::new(&a, &bm, &[1.0, 0.0, -1.0], 2, 0.1).unwrap().with_noise(0.1, 0.2).unwrap();
        let (x, rest) = xs.split_at(2);
        let (y, v) = rest.split_at(3);
        let fused = outputs(2, 3, mask, |o| pb.inner_eval(x, y, v, &seed, o));
        let split = outputs(2, 3, mask, |o| split_inner_eval(&pb, x, y, v, &seed, o));
        prop_assert_eq!(bits(&fused), bits(&split));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn logistic_fused_equals_split(seed in 0u64..1000, mask in 0u8..16, batch in 0usize..5, xs in prop::collection::vec(-2.0f64..2.0, 15)) {
        let data = LogisticDataset::<f64>::synthetic(seed, 40, 20, 5, 0.3).unwrap();
        let pb = data.problem(9, 4).unwrap();
        let (x, rest) = xs.split_at(5);
        let (y, v) = rest.split_at(5);
        let fused = outputs(5, 5, mask, |o| pb.inner_eval(x, y, v, &batch, o));
        let split = outputs(5, 5, mask, |o| split_inner_eval(&pb, x, y, v, &batch, o));
        prop_assert_eq!(bits(&fused), bits(&split));
    }

    #[test]
    fn hyperclean_fused_equals_split(mask in 0u8..16, batch in 0usize..3, xs in prop::collection::vec(-2.0f64..2.0, 5 + 2 * 6)) {
        let feats = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.5, 0.3, -0.2];
        let train = ClassData::new(&feats, &[0, 1, 2, 1, 0], 2).unwrap();
        let val = ClassData::new(&feats[..6], &[0, 1, 2], 2).unwrap();
        let pb = HyperClean::<f64, 3>::new(train, val, 2, 2).unwrap();
        let (x, rest) = xs.split_at(5);
        let (w, v) = rest.split_at(6);
        let fused = outputs(5, 6, mask, |o| pb.inner_eval(x, w, v, &batch, o));
        let split = outputs(5, 6, mask, |o| split_inner_eval(&pb, x, w, v, &batch, o));
        prop_assert_eq!(bits(&fused), bits(&split));
    }
}

#[test]
fn per_sample_oracles_match_a_naive_reference() {
    let (q, p) = (5, 2);
    let pb = PerSampleQuadratic::<f64>::generate(3, (5, 3), (q, p), 0.1, 0.3, (2, 2)).unwrap();
    let (x, y, v) = ([0.5, -1.0], [1.0, 0.0, -0.5, 2.0, 0.25], [0.3, -0.2, 0.1, 0.0, 1.0]);
    // Batch 2 of the inner samples holds sample 4 alone; batch 0 holds 0 and 1.
    for (batch, samples) in [(0usize, vec![0usize, 1]), (2, vec![4])] {
        let (mut gy, mut gx, mut hv, mut jv) = (vec![0.0; q], vec![0.0; p], vec![0.0; q], vec![0.0; p]);
        for &i in &samples {
            let (a, b) = pb.inner_matrices(i).unwrap();
            for r in 0..q {
                let ay: f64 = (0..q).map(|c| a[r * q + c] * y[c]).sum();
                let av: f64 = (0..q).map(|c| a[r * q + c] * v[c]).sum();
                let bx: f64 = (0..p).map(|c| b[r * p + c] * x[c]).sum();
                gy[r] += (ay - bx) / samples.len() as f64;
                hv[r] += av / samples.len() as f64;
                for c in 0..p {
                    gx[c] -= b[r * p + c] * y[r] / samples.len() as f64;
                    jv[c] -= b[r * p + c] * v[r] / samples.len() as f64;
                }
            }
        }
        let o = outputs(p, q, 15, |o| pb.inner_eval(&x, &y, &v, &batch, o));
        for (got, want) in o.iter().zip([&gy, &gx, &hv, &jv]) {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want.iter()) {
                assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "{g} vs {w}");
            }
        }
    }
    // The outer gradient: mean D_j (y − c_j) over batch 1 (sample 2 alone).
    let mut fy = [0.0; 5];
    pb.grad_f(&x, &y, &1, None, Some(&mut fy));
    let (d, c) = pb.outer_terms(2).unwrap();
    for k in 0..q {
        assert!((fy[k] - d[k] * (y[k] - c[k])).abs() < 1e-15);
    }
}

#[test]
fn bad_batches_and_lengths_poison_every_output() {
    let pb = PerSampleQuadratic::<f64>::generate(3, (4, 2), (3, 2), 0.1, 0.1, (2, 1)).unwrap();
    let o = outputs(2, 3, 15, |o| pb.inner_eval(&[0.0; 2], &[0.0; 3], &[0.0; 3], &9, o));
    assert!(o.iter().flatten().all(|v| v.is_nan()));
    let o = outputs(2, 3, 15, |o| pb.inner_eval(&[0.0; 2], &[0.0; 4], &[0.0; 3], &0, o));
    assert!(o.iter().flatten().all(|v| v.is_nan()));
}
