//! Caxton's summary statistics, defined once for the suite, the reports,
//! the comparison, the scenarios and the examples. Student's t comes
//! from `statrs`.
//!
//! | idea | function | definition |
//! | --- | --- | --- |
//! | median | [`median`] | the middle value; for an even count the **mean of the two middle values** |
//! | percentile | [`percentile`] | **linear interpolation between closest ranks** (Hyndman & Fan type 7, "R-7": R's and Excel's default, numpy's `linear`) |
//! | noise band | [`noise_band`] | the [`NOISE_BAND`] (5th..95th) percentiles of at least two samples |
//! | geometric mean | [`geomean`] | `exp(mean(ln x))` of positive values |
//! | sign test | [`sign_test_p`] | exact one-sided binomial tail of `k` of `n` pairs leaning one way |
//! | paired t-test | [`paired_t_p`] | one-sided Student's t of the mean of paired differences, `n - 1` degrees of freedom |
//! | many rows at once | [`holm`] | Holm's step-down correction, family-wise error held to `alpha` |
//!
//! The median is the 50th [`percentile`] under this definition, so the two
//! always agree.
//!
//! Every function takes its values unsorted and in any order, and answers
//! a typed [`StatsError`] (never a panic, never a silent NaN) for empty
//! input, too few values, non-finite values (NaN or ±∞: they have no
//! place in an order or a mean), a percentile outside 0..=100, and, for the
//! geometric mean, a value that is not positive.

use std::fmt;

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Why a statistic could not be computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatsError {
    /// No values.
    Empty,
    /// Fewer values than the statistic needs.
    TooFew {
        /// The fewest values the statistic accepts.
        needed: usize,
        /// How many were given.
        got: usize,
    },
    /// The value at `index` is NaN or infinite.
    NonFinite {
        /// Position in the input.
        index: usize,
    },
    /// The value at `index` is zero or negative (geometric mean only).
    NotPositive {
        /// Position in the input.
        index: usize,
    },
    /// The percentile asked for is not within 0..=100 (or is NaN).
    PercentileOutOfRange(f64),
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no values"),
            Self::TooFew { needed, got } => write!(f, "{got} value(s), at least {needed} needed"),
            Self::NonFinite { index } => write!(f, "value {index} is not finite"),
            Self::NotPositive { index } => write!(f, "value {index} is not positive"),
            Self::PercentileOutOfRange(p) => write!(f, "percentile {p} is not within 0..=100"),
        }
    }
}

impl std::error::Error for StatsError {}

/// The percentiles that bound the noise band: the 5th and the 95th.
pub const NOISE_BAND: (f64, f64) = (5.0, 95.0);

/// The values sorted ascending, after checking that there are some and
/// that all are finite.
fn sorted(values: &[f64]) -> Result<Vec<f64>, StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty);
    }
    if let Some(index) = values.iter().position(|x| !x.is_finite()) {
        return Err(StatsError::NonFinite { index });
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Ok(v)
}

/// R-7 on sorted, finite, non-empty values; `p` within 0..=100.
fn percentile_of_sorted(v: &[f64], p: f64) -> f64 {
    let h = (v.len() - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    match v.get(lo + 1) {
        Some(&next) => v[lo] + (h - lo as f64) * (next - v[lo]),
        None => v[lo],
    }
}

/// The median: the middle value, or for an even count the mean of the two
/// middle values (the 50th [`percentile`]).
pub fn median(values: &[f64]) -> Result<f64, StatsError> {
    percentile(values, 50.0)
}

/// The `p`th percentile (`p` within 0..=100) by linear interpolation
/// between closest ranks (Hyndman & Fan type 7, "R-7", numpy's default):
/// with the values sorted as `x[0..n]` and `h = (n - 1) * p / 100`, it is
/// `x[⌊h⌋] + (h - ⌊h⌋) * (x[⌊h⌋ + 1] - x[⌊h⌋])`. The 0th is the minimum,
/// the 100th the maximum, and one value is every percentile of itself.
pub fn percentile(values: &[f64], p: f64) -> Result<f64, StatsError> {
    if !(0.0..=100.0).contains(&p) {
        return Err(StatsError::PercentileOutOfRange(p));
    }
    Ok(percentile_of_sorted(&sorted(values)?, p))
}

/// The noise band of repeated samples: their [`NOISE_BAND`] (5th..95th)
/// [`percentile`]s, `(low, high)`. It needs at least two samples: one
/// value says nothing about its noise ([`StatsError::TooFew`]).
pub fn noise_band(samples: &[f64]) -> Result<(f64, f64), StatsError> {
    if samples.len() < 2 {
        return Err(if samples.is_empty() {
            StatsError::Empty
        } else {
            StatsError::TooFew {
                needed: 2,
                got: samples.len(),
            }
        });
    }
    let v = sorted(samples)?;
    Ok((
        percentile_of_sorted(&v, NOISE_BAND.0),
        percentile_of_sorted(&v, NOISE_BAND.1),
    ))
}

/// The one-sided exact sign test: the probability that at least `k` of `n`
/// paired differences fall on one given side when each side is equally
/// likely (no change), `P(X >= k)` for `X ~ Binomial(n, 1/2)`. Small
/// values mean the pairs lean that way more than chance would make them.
pub fn sign_test_p(k: usize, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    // C(n, i) built up term by term in f64: exact for the n (rounds) used.
    let mut term = 1.0_f64; // C(n, 0)
    let mut tail = 0.0;
    for i in 0..=n {
        if i >= k {
            tail += term;
        }
        term = term * (n - i) as f64 / (i + 1) as f64;
    }
    tail / 2f64.powi(n as i32)
}

/// The one-sided paired t-test of `diffs` (e.g. the logs of paired
/// ratios): the probability, were their true mean zero, of a mean at
/// least this far above zero (`above`) or below it (Student's t with
/// `n - 1` degrees of freedom). 1 for fewer than two finite values;
/// identical values give 0 when they lie on the tested side, else 1.
pub fn paired_t_p(diffs: &[f64], above: bool) -> f64 {
    let n = diffs.len();
    if n < 2 || diffs.iter().any(|d| !d.is_finite()) {
        return 1.0;
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let toward = if above { mean } else { -mean };
    if var <= 0.0 {
        return if toward > 0.0 { 0.0 } else { 1.0 };
    }
    let t = toward / (var / n as f64).sqrt();
    match StudentsT::new(0.0, 1.0, (n - 1) as f64) {
        Ok(dist) => 1.0 - dist.cdf(t),
        Err(_) => 1.0,
    }
}

/// Holm's step-down correction for testing many rows at once: which of
/// `p_values` stay significant with the chance of even one false
/// discovery among them all held to `alpha` (each p compared with
/// `alpha / (m - rank)`, smallest first, stopping at the first that
/// fails). Non-finite p-values are never significant.
pub fn holm(p_values: &[f64], alpha: f64) -> Vec<bool> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).filter(|&i| p_values[i].is_finite()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut significant = vec![false; m];
    for (rank, &i) in order.iter().enumerate() {
        if p_values[i] > alpha / (m - rank) as f64 {
            break;
        }
        significant[i] = true;
    }
    significant
}

/// The geometric mean `exp(mean(ln x))` of positive, finite values: the
/// summary of ratios that weighs each equally, whatever its magnitude.
pub fn geomean(values: &[f64]) -> Result<f64, StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty);
    }
    let mut sum = 0.0;
    for (index, &x) in values.iter().enumerate() {
        if !x.is_finite() {
            return Err(StatsError::NonFinite { index });
        }
        if x <= 0.0 {
            return Err(StatsError::NotPositive { index });
        }
        sum += x.ln();
    }
    Ok((sum / values.len() as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Ok(2.0));
        // The mean of the two middle values, not the upper one.
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Ok(2.5));
        assert_eq!(median(&[7.0]), Ok(7.0));
        assert_eq!(median(&[-1.0, -3.0]), Ok(-2.0));
    }

    #[test]
    fn percentile_interpolates_between_closest_ranks() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), Ok(1.0));
        assert_eq!(percentile(&v, 100.0), Ok(4.0));
        assert_eq!(percentile(&v, 50.0), Ok(2.5));
        // h = 3 * 0.25 = 0.75 -> 1 + 0.75 * (2 - 1).
        assert_eq!(percentile(&v, 25.0), Ok(1.75));
        // numpy.percentile([15, 20, 35, 40, 50], 40) == 29.0
        assert_eq!(percentile(&[50.0, 15.0, 40.0, 20.0, 35.0], 40.0), Ok(29.0));
        // numpy.percentile(range(1, 11), 90) == 9.1
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!(close(percentile(&ten, 90.0).unwrap(), 9.1));
        assert_eq!(percentile(&[5.0], 37.0), Ok(5.0));
    }

    #[test]
    fn median_is_the_50th_percentile() {
        for n in 1..12 {
            let v: Vec<f64> = (0..n).map(|i| f64::from(i * i)).collect();
            assert_eq!(median(&v), percentile(&v, 50.0));
        }
    }

    #[test]
    fn noise_band_is_the_5th_to_95th_percentile() {
        let v: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        assert_eq!(noise_band(&v), Ok((5.0, 95.0)));
        // Two samples: h = 0.05 and 0.95 -> 1 + 0.05 * 2, 1 + 0.95 * 2.
        let (lo, hi) = noise_band(&[3.0, 1.0]).unwrap();
        assert!(close(lo, 1.1) && close(hi, 2.9));
        assert_eq!(noise_band(&[2.0, 2.0, 2.0]), Ok((2.0, 2.0)));
    }

    #[test]
    fn geomean_of_known_values() {
        assert!(close(geomean(&[2.0, 8.0]).unwrap(), 4.0));
        assert!(close(geomean(&[1.5]).unwrap(), 1.5));
        assert!(close(geomean(&[1.0, 3.0, 9.0]).unwrap(), 3.0));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert_eq!(median(&[]), Err(StatsError::Empty));
        assert_eq!(percentile(&[], 50.0), Err(StatsError::Empty));
        assert_eq!(geomean(&[]), Err(StatsError::Empty));
        assert_eq!(noise_band(&[]), Err(StatsError::Empty));
        assert_eq!(noise_band(&[1.0]), Err(StatsError::TooFew { needed: 2, got: 1 }));
        assert_eq!(median(&[1.0, f64::NAN]), Err(StatsError::NonFinite { index: 1 }));
        assert_eq!(
            percentile(&[f64::INFINITY], 50.0),
            Err(StatsError::NonFinite { index: 0 })
        );
        assert_eq!(
            noise_band(&[1.0, f64::NEG_INFINITY]),
            Err(StatsError::NonFinite { index: 1 })
        );
        assert_eq!(geomean(&[1.0, f64::NAN]), Err(StatsError::NonFinite { index: 1 }));
        assert_eq!(geomean(&[1.0, 0.0]), Err(StatsError::NotPositive { index: 1 }));
        assert_eq!(geomean(&[-2.0]), Err(StatsError::NotPositive { index: 0 }));
        assert_eq!(percentile(&[1.0], 101.0), Err(StatsError::PercentileOutOfRange(101.0)));
        assert!(matches!(
            percentile(&[1.0], f64::NAN),
            Err(StatsError::PercentileOutOfRange(_))
        ));
        assert_eq!(
            StatsError::TooFew { needed: 2, got: 1 }.to_string(),
            "1 value(s), at least 2 needed"
        );
    }

    #[test]
    fn paired_t_matches_known_values() {
        // t = 2.0 / (1.5811 / sqrt 5) = 2.8284 with 4 df: one-sided p 0.0237.
        let d = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert!(
            (paired_t_p(&d, true) - 0.02371).abs() < 1e-4,
            "{}",
            paired_t_p(&d, true)
        );
        assert!((paired_t_p(&d, false) - 0.97629).abs() < 1e-4);
        assert_eq!(paired_t_p(&[1.0], true), 1.0);
        assert_eq!(paired_t_p(&[0.2, 0.2, 0.2], true), 0.0);
        assert_eq!(paired_t_p(&[0.2, 0.2, 0.2], false), 1.0);
        assert_eq!(paired_t_p(&[0.0, 0.0], true), 1.0);
        assert_eq!(paired_t_p(&[1.0, f64::NAN], true), 1.0);
    }

    #[test]
    fn holm_steps_down_and_stops_at_the_first_failure() {
        // m = 4: 0.01 <= 0.0125, 0.015 <= 0.0167, 0.03 > 0.025 stops.
        assert_eq!(holm(&[0.03, 0.01, 0.015, 0.04], 0.05), vec![false, true, true, false]);
        assert_eq!(holm(&[0.5, f64::NAN], 0.05), vec![false, false]);
        assert_eq!(holm(&[], 0.05), Vec::<bool>::new());
        assert_eq!(holm(&[0.05], 0.05), vec![true]);
    }

    #[test]
    fn sign_test_is_the_binomial_tail() {
        assert_eq!(sign_test_p(0, 5), 1.0);
        assert_eq!(sign_test_p(5, 5), 1.0 / 32.0);
        assert_eq!(sign_test_p(4, 5), 6.0 / 32.0);
        assert_eq!(sign_test_p(7, 8), 9.0 / 256.0);
        assert_eq!(sign_test_p(3, 3), 0.125);
        assert_eq!(sign_test_p(6, 5), 0.0);
    }
}
