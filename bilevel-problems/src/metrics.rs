//! Scores of the detection of corrupted labels (ALGORITHMS.md §10.3).

use bilevel::Float;
use bilevel::error::{Error, check_len};

use crate::logistic::sigmoid;

/// Confusion counts of the rule "sample `i` is corrupted when `σ(x_i) < ½`"
/// against a true corruption mask (positive = corrupted).
///
/// ```
/// use bilevel_problems::metrics::detection_scores;
/// let s = detection_scores(&[-1.0f64, -1.0, 2.0, 3.0], &[true, false, true, false])?;
/// assert_eq!((s.true_positives, s.false_positives, s.false_negatives, s.true_negatives), (1, 1, 1, 1));
/// assert_eq!((s.precision(), s.recall()), (Some(0.5), Some(0.5)));
/// # Ok::<(), bilevel::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectionScores {
    /// Flagged and corrupted.
    pub true_positives: usize,
    /// Flagged but clean.
    pub false_positives: usize,
    /// Corrupted but not flagged.
    pub false_negatives: usize,
    /// Clean and not flagged.
    pub true_negatives: usize,
}

impl DetectionScores {
    /// `TP / (TP + FP)`, or `None` when nothing is flagged.
    ///
    /// ```
    /// use bilevel_problems::metrics::DetectionScores;
    /// let s = DetectionScores { true_positives: 3, false_positives: 1, ..Default::default() };
    /// assert_eq!(s.precision(), Some(0.75));
    /// assert_eq!(DetectionScores::default().precision(), None);
    /// ```
    pub fn precision(&self) -> Option<f64> {
        let flagged = self.true_positives + self.false_positives;
        (flagged > 0).then(|| self.true_positives as f64 / flagged as f64)
    }

    /// `TP / (TP + FN)`, or `None` when nothing is corrupted.
    ///
    /// ```
    /// use bilevel_problems::metrics::DetectionScores;
    /// let s = DetectionScores { true_positives: 1, false_negatives: 3, ..Default::default() };
    /// assert_eq!(s.recall(), Some(0.25));
    /// ```
    pub fn recall(&self) -> Option<f64> {
        let corrupted = self.true_positives + self.false_negatives;
        (corrupted > 0).then(|| self.true_positives as f64 / corrupted as f64)
    }
}

/// Scores the rule `σ(x_i) < ½` (sample flagged as corrupted) against the true
/// corruption mask `corrupted`.
///
/// Errors: [`Error::LengthMismatch`] if `corrupted.len() != x.len()`.
///
/// ```
/// use bilevel_problems::metrics::detection_scores;
/// let s = detection_scores(&[-5.0f32, 5.0], &[true, false])?;
/// assert_eq!((s.precision(), s.recall()), (Some(1.0), Some(1.0)));
/// # Ok::<(), bilevel::Error>(())
/// ```
pub fn detection_scores<T: Float>(x: &[T], corrupted: &[bool]) -> Result<DetectionScores, Error> {
    check_len("corrupted", x.len(), corrupted.len())?;
    let mut s = DetectionScores::default();
    for (&xi, &bad) in x.iter().zip(corrupted) {
        let flagged = sigmoid(xi) < T::HALF;
        match (flagged, bad) {
            (true, true) => s.true_positives += 1,
            (true, false) => s.false_positives += 1,
            (false, true) => s.false_negatives += 1,
            (false, false) => s.true_negatives += 1,
        }
    }
    Ok(s)
}
