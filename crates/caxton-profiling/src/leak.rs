//! Leak detection for long runs: the least-squares slope of RSS over time,
//! compared with a threshold, in bytes per minute.
//!
//! A warm-up period is left out (caches, pools and allocator arenas grow at
//! start), and a slope only counts as a leak when it is above the threshold
//! with at least a minimum number of samples.
//!
//! ```
//! use caxton_profiling::leak::{LeakCheck, LeakVerdict};
//!
//! // 1 MiB per minute for ten minutes, sampled every 10 s.
//! let points: Vec<(f64, f64)> = (0..60).map(|i| (i as f64 * 10.0, 1e8 + i as f64 * 1048576.0 / 6.0)).collect();
//! let report = LeakCheck::default().evaluate(&points);
//! assert_eq!(report.verdict, LeakVerdict::Leak);
//! assert!((report.slope_bytes_per_minute - 1048576.0).abs() < 1.0);
//! ```

use serde::{Deserialize, Serialize};

/// The settings of a leak check.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeakCheck {
    /// Growth above this many bytes per minute counts as a leak.
    pub threshold_bytes_per_minute: f64,
    /// Samples taken before this many seconds are left out.
    pub warmup_s: f64,
    /// Fewer samples than this (after warm-up) give no verdict.
    pub min_samples: usize,
}

impl Default for LeakCheck {
    /// 512 KiB per minute (about 720 MiB a day), no warm-up, 10 samples.
    fn default() -> Self {
        Self {
            threshold_bytes_per_minute: 512.0 * 1024.0,
            warmup_s: 0.0,
            min_samples: 10,
        }
    }
}

/// What a leak check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakVerdict {
    /// The slope is at or below the threshold.
    NoLeak,
    /// The slope is above the threshold.
    Leak,
    /// Too few samples (or no spread in time) to fit a line.
    InsufficientData,
}

/// The fitted line and the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeakReport {
    /// Samples used in the fit (after warm-up).
    pub samples: usize,
    /// Fitted growth, in bytes per minute (0 when no fit).
    pub slope_bytes_per_minute: f64,
    /// Fitted value at time zero, in bytes.
    pub intercept_bytes: f64,
    /// Coefficient of determination of the fit (1 = a perfect line).
    pub r_squared: f64,
    /// The threshold used, in bytes per minute.
    pub threshold_bytes_per_minute: f64,
    /// The verdict.
    pub verdict: LeakVerdict,
}

/// A least-squares line `y = intercept + slope * x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFit {
    /// Change of y per unit of x.
    pub slope: f64,
    /// y at x = 0.
    pub intercept: f64,
    /// Coefficient of determination (1 when y is constant and fitted exactly).
    pub r_squared: f64,
}

/// Fits a least-squares line through `(x, y)` points; `None` with fewer
/// than two points or when all x are equal.
pub fn least_squares(points: &[(f64, f64)]) -> Option<LineFit> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in points {
        let dx = x - mean_x;
        let dy = y - mean_y;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let r_squared = if syy == 0.0 { 1.0 } else { (sxy * sxy) / (sxx * syy) };
    Some(LineFit {
        slope,
        intercept,
        r_squared,
    })
}

impl LeakCheck {
    /// Checks `(seconds, bytes)` points, e.g. RSS samples of a run.
    pub fn evaluate(&self, points: &[(f64, f64)]) -> LeakReport {
        let used: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 >= self.warmup_s).collect();
        let fit = if used.len() >= self.min_samples.max(2) {
            least_squares(&used)
        } else {
            None
        };
        match fit {
            None => LeakReport {
                samples: used.len(),
                slope_bytes_per_minute: 0.0,
                intercept_bytes: 0.0,
                r_squared: 0.0,
                threshold_bytes_per_minute: self.threshold_bytes_per_minute,
                verdict: LeakVerdict::InsufficientData,
            },
            Some(f) => {
                let per_minute = f.slope * 60.0;
                LeakReport {
                    samples: used.len(),
                    slope_bytes_per_minute: per_minute,
                    intercept_bytes: f.intercept,
                    r_squared: f.r_squared,
                    threshold_bytes_per_minute: self.threshold_bytes_per_minute,
                    verdict: if per_minute > self.threshold_bytes_per_minute {
                        LeakVerdict::Leak
                    } else {
                        LeakVerdict::NoLeak
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_recovered() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 + 2.0 * i as f64)).collect();
        let f = least_squares(&pts).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-12);
        assert!((f.intercept - 3.0).abs() < 1e-12);
        assert!((f.r_squared - 1.0).abs() < 1e-12);
    }

    #[test]
    fn synthetic_leak_slope_in_bytes_per_minute() {
        // 100 MB base, +2048 bytes per second = 122880 bytes/minute, with a
        // sawtooth of +-4096 bytes that averages out.
        let pts: Vec<(f64, f64)> = (0..120)
            .map(|i| {
                let t = i as f64;
                let noise = if i % 2 == 0 { 4096.0 } else { -4096.0 };
                (t, 100e6 + 2048.0 * t + noise)
            })
            .collect();
        let check = LeakCheck {
            threshold_bytes_per_minute: 100_000.0,
            warmup_s: 0.0,
            min_samples: 10,
        };
        let r = check.evaluate(&pts);
        assert_eq!(r.verdict, LeakVerdict::Leak);
        assert!((r.slope_bytes_per_minute - 122_880.0).abs() < 200.0, "{r:?}");

        let lenient = LeakCheck {
            threshold_bytes_per_minute: 200_000.0,
            ..check
        };
        assert_eq!(lenient.evaluate(&pts).verdict, LeakVerdict::NoLeak);
    }

    #[test]
    fn flat_series_after_warmup_is_no_leak() {
        // Grows during a 30 s warm-up, then stays flat.
        let pts: Vec<(f64, f64)> = (0..100)
            .map(|i| {
                let t = i as f64;
                (t, if t < 30.0 { 1e6 + t * 1e5 } else { 4e6 })
            })
            .collect();
        let r = LeakCheck {
            warmup_s: 30.0,
            ..LeakCheck::default()
        }
        .evaluate(&pts);
        assert_eq!(r.verdict, LeakVerdict::NoLeak);
        assert_eq!(r.samples, 70);
        assert_eq!(r.slope_bytes_per_minute, 0.0);
    }

    #[test]
    fn too_few_samples_give_no_verdict() {
        let r = LeakCheck::default().evaluate(&[(0.0, 1.0), (1.0, 2.0)]);
        assert_eq!(r.verdict, LeakVerdict::InsufficientData);
        assert_eq!(
            LeakCheck::default().evaluate(&[]).verdict,
            LeakVerdict::InsufficientData
        );
    }
}
