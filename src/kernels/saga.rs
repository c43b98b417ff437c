//! SAGA memory tables (ALGORITHMS.md §9.4): a dense table of `n` rows of
//! length `d`, and a scalar table for generalized linear models.
//!
//! Both keep the weighted running average `avg = Σ_i w_i M[i]` of the stored
//! rows and update it incrementally, `avg += w_i (new − M[i])`. The increment
//! is added with Neumaier's compensated summation (a second vector `comp`
//! holds the rounding error of every addition), so the average does not drift
//! over millions of updates: the accumulated error stays at a few ulps of the
//! largest partial sum instead of growing with the number of updates.
//! [`SagaTable::resync`] recomputes the average from the rows.
//!
//! Storage is caller-provided (`S: AsRef<[T]> + AsMut<[T]>`: `&mut [T]`,
//! `[T; N]`, or `Vec<T>` with `alloc`), so the tables work in `no_std` and
//! allocate nothing.

use crate::Float;
use crate::backend::{Backend, Kernel, MulAdd};
use crate::error::{Error, check_len};

/// Weight of each row in the average.
///
/// ```
/// use bilevel::kernels::RowWeights;
/// assert_eq!(RowWeights::Uniform.weight::<f64>(2, 4), 0.25);
/// // 10 samples in batches of 4: rows of 4, 4 and 2 samples.
/// let w = RowWeights::Batches { batch: 4, total: 10 };
/// assert_eq!((w.weight::<f64>(0, 3), w.weight::<f64>(2, 3)), (0.4, 0.2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowWeights {
    /// Every row has weight `1/n` (one row per sample, or equal batches).
    Uniform,
    /// Row `j` is the mean over batch `j` of `batch` samples out of `total`
    /// (the last batch may be smaller): weight `|batch_j| / total` (§9.4).
    Batches {
        /// Samples per batch.
        batch: usize,
        /// Total number of samples.
        total: usize,
    },
}

impl RowWeights {
    /// Weight of row `i` of `n`.
    pub fn weight<T: Float>(&self, i: usize, n: usize) -> T {
        match *self {
            RowWeights::Uniform => T::ONE / T::from_usize(n),
            RowWeights::Batches { batch, total } => {
                let start = i.saturating_mul(batch);
                let size = total.saturating_sub(start).min(batch);
                T::from_usize(size) / T::from_usize(total)
            }
        }
    }

    /// Checks the weights against `n` rows.
    fn check(&self, n: usize) -> Result<(), Error> {
        if let RowWeights::Batches { batch, total } = *self {
            let rows = if batch == 0 { 0 } else { total.div_ceil(batch) };
            if batch == 0 || total == 0 || rows != n {
                return Err(Error::InvalidParameter {
                    name: "weights",
                    requirement: "batch > 0 and ceil(total / batch) == n",
                });
            }
        }
        Ok(())
    }
}

/// `avg += y` with compensation (`comp` collects the lost bits). The error
/// term is Knuth's branch-free TwoSum, which equals Neumaier's branchy
/// `(s − t) + y` / `(y − t) + s` exactly (both are the exact rounding error of
/// `s + y`), so the loop vectorizes.
#[inline(always)]
fn neumaier_add<T: Float>(avg: &mut T, comp: &mut T, y: T) {
    let s = *avg;
    let t = s + y;
    let yv = t - s;
    *comp += (s - (t - yv)) + (y - yv);
    *avg = t;
}

/// The fused dense update: `dir = new − row + (avg + comp)`,
/// `avg += w (new − row)` (compensated), `row = new`.
struct DenseUpdate<'a, T> {
    row: &'a mut [T],
    avg: &'a mut [T],
    comp: &'a mut [T],
    new: &'a [T],
    dir: &'a mut [T],
    w: T,
}

impl<T: Float> Kernel for DenseUpdate<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let w = self.w;
        let it = self.row.iter_mut().zip(self.avg.iter_mut()).zip(self.comp.iter_mut());
        for (((r, a), c), (&g, o)) in it.zip(self.new.iter().zip(self.dir.iter_mut())) {
            let diff = g - *r;
            *o = diff + (*a + *c);
            neumaier_add(a, c, w * diff);
            *r = g;
        }
    }
}

/// The read-only half of [`DenseUpdate`]: `dir = new − row + (avg + comp)`;
/// returns whether the direction is finite and the store's compensated
/// addition cannot overflow (every term below `MAX/4`).
struct DenseDirection<'a, T> {
    row: &'a [T],
    avg: &'a [T],
    comp: &'a [T],
    new: &'a [T],
    dir: &'a mut [T],
    w: T,
}

impl<T: Float> Kernel for DenseDirection<'_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> bool {
        let (w, quarter) = (self.w, T::MAX_T * T::HALF * T::HALF);
        let mut finite = true;
        let it = self.row.iter().zip(self.avg).zip(self.comp);
        for (((&r, &a), &c), (&g, o)) in it.zip(self.new.iter().zip(self.dir.iter_mut())) {
            let diff = g - r;
            *o = diff + (a + c);
            // Below MAX/4 in magnitude, every term of the store's compensated
            // addition stays finite (a cheaper test than running it).
            finite &= o.is_finite() & (a.abs() + c.abs() + (w * diff).abs() <= quarter);
        }
        finite
    }
}

/// The writing half of [`DenseUpdate`]: `avg += w (new − row)`
/// (compensated), `row = new`.
struct DenseStore<'a, T> {
    row: &'a mut [T],
    avg: &'a mut [T],
    comp: &'a mut [T],
    new: &'a [T],
    w: T,
}

impl<T: Float> Kernel for DenseStore<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let w = self.w;
        let it = self.row.iter_mut().zip(self.avg.iter_mut()).zip(self.comp.iter_mut());
        for (((r, a), c), &g) in it.zip(self.new) {
            neumaier_add(a, c, w * (g - *r));
            *r = g;
        }
    }
}

/// Splits table storage into `(rows, avg, comp)`.
fn split3<T>(buf: &mut [T], rows: usize, d: usize) -> (&mut [T], &mut [T], &mut [T]) {
    let (r, rest) = buf.split_at_mut(rows);
    let (a, rest) = rest.split_at_mut(d);
    (r, a, &mut rest[..d])
}

/// Recomputes `avg` (rounded sum in `avg`, remainder in `comp`) from `n`
/// rows of `width` values, row `i` weighted by `w(i)`; `value(i, k)` reads
/// entry `k` of row `i`.
fn resum<T: Float>(
    avg: &mut [T],
    comp: &mut [T],
    n: usize,
    w: impl Fn(usize) -> T,
    value: impl Fn(usize, usize) -> T,
) {
    for (k, (a, c)) in avg.iter_mut().zip(comp.iter_mut()).enumerate() {
        let (mut s, mut e) = (T::ZERO, T::ZERO);
        for i in 0..n {
            neumaier_add(&mut s, &mut e, w(i) * value(i, k));
        }
        // Store the compensated sum as a normalized pair.
        let hi = s + e;
        *c = e - (hi - s);
        *a = hi;
    }
}

/// A dense SAGA table: `n` rows of `d` values plus the running weighted
/// average, on caller storage of [`SagaTable::storage_len`]`(n, d)` elements.
///
/// ```
/// use bilevel::kernels::{RowWeights, SagaTable};
/// let mut t = SagaTable::<f64, _>::zeroed(vec![0.0; SagaTable::<f64, Vec<f64>>::storage_len(2, 3)], 2, 3, RowWeights::Uniform)?;
/// let mut dir = [0.0; 3];
/// t.update(0, &[2.0, 4.0, 6.0], &mut dir)?;
/// assert_eq!(dir, [2.0, 4.0, 6.0]); // new − M[0] + avg = g (zero memory)
/// let mut avg = [0.0; 3];
/// t.average(&mut avg)?;
/// assert_eq!(avg, [1.0, 2.0, 3.0]); // (g + 0) / 2
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SagaTable<T, S> {
    storage: S,
    n: usize,
    d: usize,
    weights: RowWeights,
    backend: Backend,
    _t: core::marker::PhantomData<T>,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> SagaTable<T, S> {
    /// Storage needed for `n` rows of length `d`: `n·d + 2d` (rows, average,
    /// compensation), saturating.
    pub const fn storage_len(n: usize, d: usize) -> usize {
        n.saturating_mul(d).saturating_add(d.saturating_mul(2))
    }

    /// A table with zero memory (benchopt's initialization, §3): every row
    /// and the average are set to 0. Biased until every row has been
    /// written once.
    ///
    /// Errors: [`Error::Empty`] if `n` or `d` is 0; [`Error::LengthMismatch`]
    /// if `storage` is shorter than [`Self::storage_len`];
    /// [`Error::InvalidParameter`] for inconsistent `weights`.
    pub fn zeroed(mut storage: S, n: usize, d: usize, weights: RowWeights) -> Result<Self, Error> {
        if n == 0 {
            return Err(Error::Empty { what: "n" });
        }
        if d == 0 {
            return Err(Error::Empty { what: "d" });
        }
        weights.check(n)?;
        let need = Self::storage_len(n, d);
        let have = storage.as_ref().len();
        if have < need {
            return Err(Error::LengthMismatch { what: "storage", expected: need, found: have });
        }
        storage.as_mut()[..need].fill(T::ZERO);
        Ok(SagaTable { storage, n, d, weights, backend: Backend::detect(), _t: core::marker::PhantomData })
    }

    /// A table initialized by a full pass (classical SAGA, §3): `fill(i, row)`
    /// writes row `i`, then the average is computed exactly.
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, SagaTable};
    /// let t = SagaTable::<f64, _>::init_with([0.0f64; 8], 2, 2, RowWeights::Uniform, |i, row| row.fill(i as f64))?;
    /// let mut avg = [0.0; 2];
    /// t.average(&mut avg)?;
    /// assert_eq!(avg, [0.5, 0.5]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn init_with(
        storage: S,
        n: usize,
        d: usize,
        weights: RowWeights,
        mut fill: impl FnMut(usize, &mut [T]),
    ) -> Result<Self, Error> {
        let mut t = Self::zeroed(storage, n, d, weights)?;
        for (i, row) in t.storage.as_mut()[..n * d].chunks_exact_mut(d).enumerate() {
            fill(i, row);
        }
        t.resync();
        Ok(t)
    }

    /// The same table on an explicit backend (for bit-exact reproducibility).
    ///
    /// Errors: [`Error::BackendUnavailable`].
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(self)
    }

    /// The SAGA step for row `i` with its fresh value `new` (§9.4):
    /// `dir ← new − M[i] + avg`, then `avg += w_i (new − M[i])` and
    /// `M[i] ← new`, in one pass. `dir` is an unbiased estimate of the full
    /// weighted mean at the current point.
    ///
    /// Errors (nothing is modified): [`Error::IndexOutOfRange`] if `i >= n`;
    /// [`Error::LengthMismatch`] if `new` or `dir` is not of length `d`.
    pub fn update(&mut self, i: usize, new: &[T], dir: &mut [T]) -> Result<(), Error> {
        let w = self.weights.weight::<T>(i, self.n);
        self.update_weighted(i, w, new, dir)
    }

    /// [`SagaTable::update`] with the weight of row `i` given by the caller
    /// (for example [`FiniteSum::inner_weight`](crate::oracles::FiniteSum::inner_weight)),
    /// overriding the table's [`RowWeights`]. The caller keeps the weights of
    /// each row the same across calls, so that they sum to 1.
    ///
    /// Errors: as [`SagaTable::update`], and [`Error::InvalidParameter`] for a
    /// weight that is not finite.
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, SagaTable};
    /// let mut t = SagaTable::zeroed([0.0f64; 4], 2, 1, RowWeights::Uniform)?;
    /// let mut dir = [0.0];
    /// t.update_weighted(0, 0.75, &[4.0], &mut dir)?;
    /// let mut avg = [0.0];
    /// t.average(&mut avg)?;
    /// assert_eq!(avg, [3.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn update_weighted(&mut self, i: usize, w: T, new: &[T], dir: &mut [T]) -> Result<(), Error> {
        let (n, d) = (self.n, self.d);
        if i >= n {
            return Err(Error::IndexOutOfRange { what: "row", index: i, len: n });
        }
        check_len("new", d, new.len())?;
        check_len("dir", d, dir.len())?;
        if !w.is_finite() {
            return Err(Error::InvalidParameter { name: "weight", requirement: "finite" });
        }
        let (rows, avg, comp) = split3(self.storage.as_mut(), n * d, d);
        let row = &mut rows[i * d..(i + 1) * d];
        self.backend.run(DenseUpdate { row, avg, comp, new, dir, w })
    }

    /// The direction half of [`SagaTable::update_weighted`], which changes
    /// nothing: `dir ← new − M[i] + avg`. Followed by
    /// [`SagaTable::store`]`(i, w, new)` it gives exactly the bits of
    /// `update_weighted(i, w, new, dir)`; in between, a caller can check the
    /// step it forms from `dir` and drop it without touching the table.
    ///
    /// Errors: [`Error::IndexOutOfRange`]; [`Error::LengthMismatch`] for
    /// `new` or `dir`; [`Error::InvalidParameter`] for a weight that is not
    /// finite; [`Error::NonFinite`] (`"table"`) if the direction, or the
    /// average that `store(i, w, new)` would leave, is not finite (`dir` is
    /// written; the table is never changed).
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, SagaTable};
    /// let mut t = SagaTable::zeroed([0.0f64; 4], 2, 1, RowWeights::Uniform)?;
    /// let mut dir = [0.0];
    /// t.direction(0, 0.5, &[4.0], &mut dir)?;
    /// assert_eq!((dir, t.row(0)), ([4.0], Some(&[0.0][..]))); // table untouched
    /// t.store(0, 0.5, &[4.0])?;
    /// assert_eq!(t.row(0), Some(&[4.0][..]));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn direction(&self, i: usize, w: T, new: &[T], dir: &mut [T]) -> Result<(), Error> {
        let (n, d) = (self.n, self.d);
        if i >= n {
            return Err(Error::IndexOutOfRange { what: "row", index: i, len: n });
        }
        check_len("new", d, new.len())?;
        check_len("dir", d, dir.len())?;
        if !w.is_finite() {
            return Err(Error::InvalidParameter { name: "weight", requirement: "finite" });
        }
        let s = self.storage.as_ref();
        let nd = n * d;
        let (row, avg, comp) = (&s[i * d..(i + 1) * d], &s[nd..nd + d], &s[nd + d..nd + 2 * d]);
        if self.backend.run(DenseDirection { row, avg, comp, new, dir, w })? {
            Ok(())
        } else {
            Err(Error::NonFinite { what: "table" })
        }
    }

    /// The writing half of [`SagaTable::update_weighted`]:
    /// `avg += w (new − M[i])`, `M[i] ← new`.
    ///
    /// Errors (nothing is modified): as [`SagaTable::direction`], and
    /// [`Error::InvalidParameter`] for a weight that is not finite.
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, SagaTable};
    /// let mut t = SagaTable::zeroed([0.0f64; 4], 2, 1, RowWeights::Uniform)?;
    /// t.store(1, 0.5, &[2.0])?;
    /// let mut avg = [0.0];
    /// t.average(&mut avg)?;
    /// assert_eq!(avg, [1.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn store(&mut self, i: usize, w: T, new: &[T]) -> Result<(), Error> {
        let (n, d) = (self.n, self.d);
        if i >= n {
            return Err(Error::IndexOutOfRange { what: "row", index: i, len: n });
        }
        check_len("new", d, new.len())?;
        if !w.is_finite() {
            return Err(Error::InvalidParameter { name: "weight", requirement: "finite" });
        }
        let (rows, avg, comp) = split3(self.storage.as_mut(), n * d, d);
        let row = &mut rows[i * d..(i + 1) * d];
        self.backend.run(DenseStore { row, avg, comp, new, w })
    }

    /// Re-attaches storage that already holds a table of this shape (no
    /// checks, no zeroing): for solvers that keep several tables in one
    /// buffer and rebuild the views each step. The caller guarantees
    /// `storage.len() >= storage_len(n, d)`.
    pub(crate) fn attach(storage: S, n: usize, d: usize, weights: RowWeights, backend: Backend) -> Self {
        SagaTable { storage, n, d, weights, backend, _t: core::marker::PhantomData }
    }

    /// Recomputes the average exactly (compensated sum over the rows),
    /// discarding any accumulated drift. O(n·d).
    pub fn resync(&mut self) {
        let (n, d, weights) = (self.n, self.d, self.weights);
        let (rows, avg, comp) = split3(self.storage.as_mut(), n * d, d);
        let rows: &[T] = rows;
        resum(avg, comp, n, |i| weights.weight::<T>(i, n), |i, k| rows[i * d + k]);
    }

    /// Writes the current average (`avg + comp`) into `out`.
    ///
    /// Errors: [`Error::LengthMismatch`] if `out.len() != d`.
    pub fn average(&self, out: &mut [T]) -> Result<(), Error> {
        check_len("out", self.d, out.len())?;
        let s = self.storage.as_ref();
        let nd = self.n * self.d;
        let (avg, comp) = (&s[nd..nd + self.d], &s[nd + self.d..nd + 2 * self.d]);
        for ((o, &a), &c) in out.iter_mut().zip(avg).zip(comp) {
            *o = a + c;
        }
        Ok(())
    }

    /// Row `i`, or `None` if `i >= n`.
    pub fn row(&self, i: usize) -> Option<&[T]> {
        if i >= self.n {
            return None;
        }
        self.storage.as_ref().get(i * self.d..(i + 1) * self.d)
    }

    /// Number of rows.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Row length.
    pub fn d(&self) -> usize {
        self.d
    }
}

/// The fused scalar update for one sample: for every feature `f` and
/// coefficient `c`, `diff = a_f (s_c − s_i,c)`, `dir = diff + avg`,
/// `avg += w diff` (compensated). Output layout `[f·k + c]` (§10.3).
struct ScalarUpdate<'a, T> {
    coef: &'a [T],
    new: &'a [T],
    feature: &'a [T],
    avg: &'a mut [T],
    comp: &'a mut [T],
    dir: &'a mut [T],
    w: T,
}

impl<T: Float> Kernel for ScalarUpdate<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let k = self.coef.len();
        let w = self.w;
        if k == 1 {
            // Binary GLMs: one coefficient, a straight loop over the feature row.
            let nc = self.new[0] - self.coef[0];
            let it = self.avg.iter_mut().zip(self.comp.iter_mut());
            for ((a, c), (o, &af)) in it.zip(self.dir.iter_mut().zip(self.feature)) {
                let diff = af * nc;
                *o = diff + (*a + *c);
                neumaier_add(a, c, w * diff);
            }
            return;
        }
        let blocks =
            self.avg.chunks_exact_mut(k).zip(self.comp.chunks_exact_mut(k)).zip(self.dir.chunks_exact_mut(k));
        for (((a, c), o), &af) in blocks.zip(self.feature) {
            for j in 0..k {
                let diff = af * (self.new[j] - self.coef[j]);
                o[j] = diff + (a[j] + c[j]);
                neumaier_add(&mut a[j], &mut c[j], w * diff);
            }
        }
    }
}

/// The fused GLM step for one sample (binary GLMs, `k = 1`): the score
/// `s = a·x`, the new coefficient `c = coef(s)`, then the update of
/// [`ScalarUpdate`] with it, in one pass of one dispatch. Returns `c`.
struct ScoredUpdate<'a, T, F> {
    feature: &'a [T],
    x: &'a [T],
    coef: F,
    old: T,
    avg: &'a mut [T],
    comp: &'a mut [T],
    dir: &'a mut [T],
    w: T,
}

impl<T: Float, F: FnOnce(T) -> T> Kernel for ScoredUpdate<'_, T, F> {
    type Output = T;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> T {
        let s = crate::kernels::body::dot::<M, T>(self.feature, self.x);
        let c = (self.coef)(s);
        let (nc, w) = (c - self.old, self.w);
        let it = self.avg.iter_mut().zip(self.comp.iter_mut());
        for ((a, cp), (o, &af)) in it.zip(self.dir.iter_mut().zip(self.feature)) {
            let diff = af * nc;
            *o = diff + (*a + *cp);
            neumaier_add(a, cp, w * diff);
        }
        c
    }
}

/// The read-only half of [`ScalarUpdate`]: `dir = a_f (s_c − s_i,c) + avg`;
/// returns whether the direction is finite and the store's compensated
/// addition cannot overflow (every term below `MAX/4`).
struct ScalarDirection<'a, T> {
    coef: &'a [T],
    new: &'a [T],
    feature: &'a [T],
    avg: &'a [T],
    comp: &'a [T],
    dir: &'a mut [T],
    w: T,
}

impl<T: Float> Kernel for ScalarDirection<'_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<M: MulAdd>(self) -> bool {
        let (k, w, quarter) = (self.coef.len(), self.w, T::MAX_T * T::HALF * T::HALF);
        let mut finite = true;
        let blocks =
            self.avg.chunks_exact(k).zip(self.comp.chunks_exact(k)).zip(self.dir.chunks_exact_mut(k));
        for (((a, c), o), &af) in blocks.zip(self.feature) {
            for j in 0..k {
                let diff = af * (self.new[j] - self.coef[j]);
                o[j] = diff + (a[j] + c[j]);
                finite &= o[j].is_finite() & (a[j].abs() + c[j].abs() + (w * diff).abs() <= quarter);
            }
        }
        finite
    }
}

/// The writing half of [`ScalarUpdate`]: `avg += w a_f (s_c − s_i,c)`.
struct ScalarStore<'a, T> {
    coef: &'a [T],
    new: &'a [T],
    feature: &'a [T],
    avg: &'a mut [T],
    comp: &'a mut [T],
    w: T,
}

impl<T: Float> Kernel for ScalarStore<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<M: MulAdd>(self) {
        let (k, w) = (self.coef.len(), self.w);
        let blocks = self.avg.chunks_exact_mut(k).zip(self.comp.chunks_exact_mut(k));
        for ((a, c), &af) in blocks.zip(self.feature) {
            for j in 0..k {
                neumaier_add(&mut a[j], &mut c[j], w * (af * (self.new[j] - self.coef[j])));
            }
        }
    }
}

/// Scalar SAGA memory for generalized linear models (§9.4 "Scalar memory"):
/// sample `i`'s quantity is `a_i ⊗ s_i` with a feature row `a_i ∈ R^d` the
/// caller already holds and `k` coefficients `s_i` (k = 1 for binary GLMs,
/// `K` for softmax). The table stores only the `n·k` coefficients plus the
/// dense `d·k` average: memory `O(n k + d k)` instead of `O(n d k)`.
///
/// The cross term of data hyper-cleaning (§10.3), where sample `i` touches
/// only coordinate `i` of `x`, needs no table: its "memory" is the vector
/// of the `n` last values itself, and its average is that vector divided
/// by `n`.
///
/// ```
/// use bilevel::kernels::{RowWeights, ScalarSagaTable};
/// let len = ScalarSagaTable::<f64, Vec<f64>>::storage_len(2, 3, 1);
/// let mut t = ScalarSagaTable::zeroed(vec![0.0; len], 2, 3, 1, RowWeights::Uniform)?;
/// let mut dir = [0.0; 3];
/// t.update(1, &[2.0], &[1.0, 0.0, -1.0], &mut dir)?; // quantity 2·a_1
/// assert_eq!(dir, [2.0, 0.0, -2.0]);
/// assert_eq!(t.coefficients(1), Some(&[2.0][..]));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ScalarSagaTable<T, S> {
    storage: S,
    n: usize,
    d: usize,
    k: usize,
    weights: RowWeights,
    backend: Backend,
    _t: core::marker::PhantomData<T>,
}

impl<T: Float, S: AsRef<[T]> + AsMut<[T]>> ScalarSagaTable<T, S> {
    /// Storage for `n` samples, `d` features, `k` coefficients per sample:
    /// `n·k + 2·d·k` (saturating).
    pub const fn storage_len(n: usize, d: usize, k: usize) -> usize {
        n.saturating_mul(k).saturating_add(d.saturating_mul(k).saturating_mul(2))
    }

    /// A table with zero memory. Errors as [`SagaTable::zeroed`] (`k = 0` is
    /// [`Error::Empty`]).
    pub fn zeroed(mut storage: S, n: usize, d: usize, k: usize, weights: RowWeights) -> Result<Self, Error> {
        for (what, v) in [("n", n), ("d", d), ("k", k)] {
            if v == 0 {
                return Err(Error::Empty { what });
            }
        }
        weights.check(n)?;
        let need = Self::storage_len(n, d, k);
        let have = storage.as_ref().len();
        if have < need {
            return Err(Error::LengthMismatch { what: "storage", expected: need, found: have });
        }
        storage.as_mut()[..need].fill(T::ZERO);
        Ok(ScalarSagaTable {
            storage,
            n,
            d,
            k,
            weights,
            backend: Backend::detect(),
            _t: core::marker::PhantomData,
        })
    }

    /// The same table on an explicit backend. Errors: [`Error::BackendUnavailable`].
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(self)
    }

    /// A view of a table already laid out in `storage` (no checks, no
    /// zeroing), as [`SagaTable`]'s. The caller guarantees
    /// `storage.len() >= storage_len(n, d, k)` and `n, d, k > 0`.
    pub(crate) fn attach(
        storage: S,
        n: usize,
        d: usize,
        k: usize,
        weights: RowWeights,
        backend: Backend,
    ) -> Self {
        ScalarSagaTable { storage, n, d, k, weights, backend, _t: core::marker::PhantomData }
    }

    /// The SAGA step for sample `i` with fresh coefficients `new` (length
    /// `k`) and its feature row `feature` (length `d`):
    /// `dir ← feature ⊗ (new − s_i) + avg` (length `d·k`, index `f·k + c`),
    /// `avg += w_i feature ⊗ (new − s_i)`, `s_i ← new`.
    ///
    /// Errors (nothing is modified): [`Error::IndexOutOfRange`];
    /// [`Error::LengthMismatch`] for `new`, `feature`, `dir`.
    pub fn update(&mut self, i: usize, new: &[T], feature: &[T], dir: &mut [T]) -> Result<(), Error> {
        let (n, d, k) = (self.n, self.d, self.k);
        if i >= n {
            return Err(Error::IndexOutOfRange { what: "sample", index: i, len: n });
        }
        check_len("new", k, new.len())?;
        check_len("feature", d, feature.len())?;
        check_len("dir", d * k, dir.len())?;
        let w = self.weights.weight::<T>(i, n);
        let (coefs, avg, comp) = split3(self.storage.as_mut(), n * k, d * k);
        let coef = &mut coefs[i * k..(i + 1) * k];
        self.backend.run(ScalarUpdate { coef: &*coef, new, feature, avg, comp, dir, w })?;
        coef.copy_from_slice(new);
        Ok(())
    }

    /// The SAGA step of a binary GLM (`k = 1`) with the score computed
    /// inside: `s = feature·x` (accumulated as [`crate::kernels::dot`]),
    /// `c = coef(s)` (for example `ℓ'(s)`), then exactly
    /// [`ScalarSagaTable::update`]`(i, &[c], feature, dir)`; one pass over the
    /// row, one dispatch. Returns `c`.
    ///
    /// Errors (nothing is modified): as [`ScalarSagaTable::update`], plus
    /// [`Error::LengthMismatch`] for `x` (length `d`) and
    /// [`Error::InvalidParameter`] if the table has `k ≠ 1`.
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, ScalarSagaTable};
    /// let mut t = ScalarSagaTable::zeroed([0.0f64; 6], 2, 2, 1, RowWeights::Uniform)?;
    /// let mut dir = [0.0; 2];
    /// let c = t.update_scored(1, &[1.0, 2.0], &[3.0, 0.5], |s| 0.5 * s, &mut dir)?;
    /// assert_eq!((c, dir), (2.0, [2.0, 4.0])); // s = 4, c = 2, dir = 2·a
    /// assert_eq!(t.coefficients(1), Some(&[2.0][..]));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn update_scored(
        &mut self,
        i: usize,
        feature: &[T],
        x: &[T],
        coef: impl FnOnce(T) -> T,
        dir: &mut [T],
    ) -> Result<T, Error> {
        let (n, d, k) = (self.n, self.d, self.k);
        if k != 1 {
            return Err(Error::InvalidParameter { name: "k", requirement: "1 for update_scored" });
        }
        if i >= n {
            return Err(Error::IndexOutOfRange { what: "sample", index: i, len: n });
        }
        check_len("feature", d, feature.len())?;
        check_len("x", d, x.len())?;
        check_len("dir", d, dir.len())?;
        let w = self.weights.weight::<T>(i, n);
        let (coefs, avg, comp) = split3(self.storage.as_mut(), n, d);
        let old = coefs[i];
        let c = self.backend.run(ScoredUpdate { feature, x, coef, old, avg, comp, dir, w })?;
        coefs[i] = c;
        Ok(c)
    }

    /// Checks `(i, new, feature)` against the table's shape.
    fn check_sample(&self, i: usize, new: &[T], feature: &[T]) -> Result<(), Error> {
        if i >= self.n {
            return Err(Error::IndexOutOfRange { what: "sample", index: i, len: self.n });
        }
        check_len("new", self.k, new.len())?;
        check_len("feature", self.d, feature.len())
    }

    /// The direction half of [`ScalarSagaTable::update`], which changes
    /// nothing: `dir ← feature ⊗ (new − s_i) + avg`. Followed by
    /// [`ScalarSagaTable::store`] with the same arguments it gives exactly
    /// the bits of `update`.
    ///
    /// Errors: as [`ScalarSagaTable::update`]; [`Error::NonFinite`]
    /// (`"table"`) if the direction, or the average that `store` would leave,
    /// is not finite (the table is never changed).
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, ScalarSagaTable};
    /// let len = ScalarSagaTable::<f64, Vec<f64>>::storage_len(2, 2, 1);
    /// let mut t = ScalarSagaTable::zeroed(vec![0.0; len], 2, 2, 1, RowWeights::Uniform)?;
    /// let mut dir = [0.0; 2];
    /// t.direction(0, &[3.0], &[1.0, 2.0], &mut dir)?;
    /// assert_eq!((dir, t.coefficients(0)), ([3.0, 6.0], Some(&[0.0][..])));
    /// t.store(0, &[3.0], &[1.0, 2.0])?;
    /// assert_eq!(t.coefficients(0), Some(&[3.0][..]));
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn direction(&self, i: usize, new: &[T], feature: &[T], dir: &mut [T]) -> Result<(), Error> {
        self.check_sample(i, new, feature)?;
        let (n, d, k) = (self.n, self.d, self.k);
        check_len("dir", d * k, dir.len())?;
        let s = self.storage.as_ref();
        let nk = n * k;
        let (coef, avg, comp) = (&s[i * k..(i + 1) * k], &s[nk..nk + d * k], &s[nk + d * k..nk + 2 * d * k]);
        let w = self.weights.weight::<T>(i, n);
        if self.backend.run(ScalarDirection { coef, new, feature, avg, comp, dir, w })? {
            Ok(())
        } else {
            Err(Error::NonFinite { what: "table" })
        }
    }

    /// The writing half of [`ScalarSagaTable::update`]:
    /// `avg += w_i feature ⊗ (new − s_i)`, `s_i ← new`.
    ///
    /// Errors (nothing is modified): as [`ScalarSagaTable::update`].
    ///
    /// ```
    /// use bilevel::kernels::{RowWeights, ScalarSagaTable};
    /// let len = ScalarSagaTable::<f64, Vec<f64>>::storage_len(2, 1, 1);
    /// let mut t = ScalarSagaTable::zeroed(vec![0.0; len], 2, 1, 1, RowWeights::Uniform)?;
    /// t.store(1, &[4.0], &[1.0])?;
    /// let mut avg = [0.0];
    /// t.average(&mut avg)?;
    /// assert_eq!(avg, [2.0]);
    /// # Ok::<(), bilevel::Error>(())
    /// ```
    pub fn store(&mut self, i: usize, new: &[T], feature: &[T]) -> Result<(), Error> {
        self.check_sample(i, new, feature)?;
        let (n, d, k) = (self.n, self.d, self.k);
        let w = self.weights.weight::<T>(i, n);
        let (coefs, avg, comp) = split3(self.storage.as_mut(), n * k, d * k);
        let coef = &mut coefs[i * k..(i + 1) * k];
        self.backend.run(ScalarStore { coef: &*coef, new, feature, avg, comp, w })?;
        coef.copy_from_slice(new);
        Ok(())
    }

    /// Recomputes the average exactly from the coefficients and the feature
    /// rows (`features`: `n·d` values, row-major). O(n·d·k).
    ///
    /// Errors: [`Error::LengthMismatch`] if `features.len() != n·d`.
    pub fn resync(&mut self, features: &[T]) -> Result<(), Error> {
        let (n, d, k, weights) = (self.n, self.d, self.k, self.weights);
        check_len("features", n * d, features.len())?;
        let (coefs, avg, comp) = split3(self.storage.as_mut(), n * k, d * k);
        let coefs: &[T] = coefs;
        resum(
            avg,
            comp,
            n,
            |i| weights.weight::<T>(i, n),
            |i, fc| features[i * d + fc / k] * coefs[i * k + fc % k],
        );
        Ok(())
    }

    /// Writes the current average (length `d·k`) into `out`.
    ///
    /// Errors: [`Error::LengthMismatch`].
    pub fn average(&self, out: &mut [T]) -> Result<(), Error> {
        let dk = self.d * self.k;
        check_len("out", dk, out.len())?;
        let s = self.storage.as_ref();
        let nk = self.n * self.k;
        for ((o, &a), &c) in out.iter_mut().zip(&s[nk..nk + dk]).zip(&s[nk + dk..nk + 2 * dk]) {
            *o = a + c;
        }
        Ok(())
    }

    /// The stored coefficients of sample `i`, or `None` if `i >= n`.
    pub fn coefficients(&self, i: usize) -> Option<&[T]> {
        if i >= self.n {
            return None;
        }
        self.storage.as_ref().get(i * self.k..(i + 1) * self.k)
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.n
    }
}
