//! Stable softmax and the `K`-class batch accumulator of the multinomial
//! oracles (ALGORITHMS.md §10.3, §9.4: `K` scalars per sample).

use bilevel::Float;
use bilevel::backend::{Kernel, MulAdd};
use bilevel::error::{Error, check_len};

/// `log Σ_c e^{z_c}`, computed as `m + log Σ_c e^{z_c − m}` with `m = max z`
/// (no overflow). Returns `−∞` for an empty slice; NaN propagates.
///
/// ```
/// use bilevel_problems::softmax::log_sum_exp;
/// assert_eq!(log_sum_exp(&[1000.0f64, 1000.0]), 1000.0 + core::f64::consts::LN_2);
/// assert_eq!(log_sum_exp::<f32>(&[]), f32::NEG_INFINITY);
/// ```
pub fn log_sum_exp<T: Float>(z: &[T]) -> T {
    let m = z.iter().fold(-T::INFINITY_T, |a, &b| a.max(b));
    if !m.is_finite() {
        // Empty, all −∞, or a +∞ entry: the maximum is the answer.
        return if z.iter().any(|v| v.is_nan()) { T::NAN_T } else { m };
    }
    let s = z.iter().fold(T::ZERO, |acc, &v| acc + (v - m).exp());
    m + s.ln()
}

/// `out ← softmax(z)` (stable: shifted by `max z`); returns `log_sum_exp(z)`.
///
/// Errors: [`Error::LengthMismatch`] if `out.len() != z.len()`;
/// [`Error::Empty`] if `z` is empty.
///
/// ```
/// use bilevel_problems::softmax::softmax;
/// let mut p = [0.0f64; 3];
/// let lse = softmax(&[1000.0, 1000.0, -1000.0], &mut p)?;
/// assert_eq!(p, [0.5, 0.5, 0.0]);
/// assert_eq!(lse, 1000.0 + core::f64::consts::LN_2);
/// # Ok::<(), bilevel::Error>(())
/// ```
pub fn softmax<T: Float>(z: &[T], out: &mut [T]) -> Result<T, Error> {
    check_len("out", z.len(), out.len())?;
    if z.is_empty() {
        return Err(Error::Empty { what: "z" });
    }
    let m = z.iter().fold(-T::INFINITY_T, |a, &b| a.max(b));
    let mut s = T::ZERO;
    for (o, &v) in out.iter_mut().zip(z) {
        *o = (v - m).exp();
        s += *o;
    }
    let inv = T::ONE / s;
    for o in out.iter_mut() {
        *o *= inv;
    }
    Ok(m + s.ln())
}

/// Fixed-size softmax: `(π, logsumexp)`.
#[inline(always)]
pub(crate) fn softmax_k<T: Float, const K: usize>(z: &[T; K]) -> ([T; K], T) {
    let m = z.iter().fold(-T::INFINITY_T, |a, &b| a.max(b));
    let mut p = [T::ZERO; K];
    let mut s = T::ZERO;
    for (p, &v) in p.iter_mut().zip(z) {
        *p = (v - m).exp();
        s += *p;
    }
    let inv = T::ONE / s;
    for p in p.iter_mut() {
        *p *= inv;
    }
    (p, m + s.ln())
}

/// `z ← Wᵀa` for row-major `W` (`d` rows of `K`).
#[inline(always)]
pub(crate) fn mat_t_vec<M: MulAdd, T: Float, const K: usize>(w: &[[T; K]], a: &[T]) -> [T; K] {
    let mut z = [T::ZERO; K];
    for (wr, &ak) in w.iter().zip(a) {
        for j in 0..K {
            z[j] = M::mul_add(ak, wr[j], z[j]);
        }
    }
    z
}

/// The generic batch body of the softmax oracles (§9.4: `K` scalars per
/// sample): for row `r` with label `c`, two coefficient blocks
/// `[k₀, k₁] = coef(r, c, Wᵀa, Vᵀa)` and `outs[i] ← Σ a ⊗ k_i` for each output
/// given (two, so that the fused oracle reads each row once).
pub(crate) struct SoftmaxAccumulate<'a, T, F, const K: usize> {
    pub(crate) rows: &'a [T],
    pub(crate) labels: &'a [usize],
    pub(crate) dim: usize,
    pub(crate) w: &'a [T],
    pub(crate) v: Option<&'a [T]>,
    pub(crate) outs: [Option<&'a mut [T]>; 2],
    pub(crate) coef: F,
}

impl<T: Float, F, const K: usize> Kernel for SoftmaxAccumulate<'_, T, F, K>
where
    F: FnMut(usize, usize, &[T; K], &[T; K]) -> [[T; K]; 2],
{
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let SoftmaxAccumulate { rows, labels, dim, w, v, mut outs, mut coef } = self;
        let (wr, _) = w.as_chunks::<K>();
        let vr = v.map(|v| v.as_chunks::<K>().0);
        for o in outs.iter_mut().flatten() {
            o.fill(T::ZERO);
        }
        for (r, (a, &c)) in rows.chunks_exact(dim).zip(labels).enumerate() {
            let z = mat_t_vec::<M, T, K>(wr, a);
            let u = match vr {
                Some(vr) => mat_t_vec::<M, T, K>(vr, a),
                None => [T::ZERO; K],
            };
            let ks = coef(r, c, &z, &u);
            for (o, k) in outs.iter_mut().zip(ks) {
                if let Some(o) = o.as_deref_mut() {
                    let (or, _) = o.as_chunks_mut::<K>();
                    for (or, &ak) in or.iter_mut().zip(a) {
                        for j in 0..K {
                            or[j] += ak * k[j];
                        }
                    }
                }
            }
        }
    }
}
