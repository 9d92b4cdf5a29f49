//! Interim measurement: latency histograms, RSS and process CPU time.
//!
//! This module stands in for `caxton-profiling` until that crate lands; it
//! mirrors the names of its API (`LatencyRecorder`, `LatencySummary`,
//! `rss_bytes`, `process_cpu_time`, `LeakCheck`) so that switching over is
//! a change of `use` lines, after which this module is deleted.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency tracked; larger values are recorded as this.
const MAX_NS: u64 = 60_000_000_000;

/// An HDR histogram of latencies in nanoseconds (3 significant digits).
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder for 1 ns to 60 s.
    pub fn new() -> Self {
        Self {
            hist: Histogram::new_with_bounds(1, MAX_NS, 3).expect("static histogram bounds"),
        }
    }

    /// Records one latency in nanoseconds.
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Forgets every sample.
    pub fn reset(&mut self) {
        self.hist.reset();
    }

    /// The percentiles, in microseconds.
    pub fn summary(&self) -> LatencySummary {
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            count: self.hist.len(),
            p50_us: us(self.hist.value_at_quantile(0.50)),
            p90_us: us(self.hist.value_at_quantile(0.90)),
            p95_us: us(self.hist.value_at_quantile(0.95)),
            p99_us: us(self.hist.value_at_quantile(0.99)),
            p999_us: us(self.hist.value_at_quantile(0.999)),
            max_us: us(self.hist.max()),
        }
    }
}

/// Latency percentiles, microseconds; all zero when nothing was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
}

/// Resident set size of this process, bytes (`/proc/self/statm`; 0 where
/// unavailable).
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

/// CPU time used so far by all threads of this process (user + system).
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The settings of a leak check over `(seconds, bytes)` samples.
#[derive(Clone, Copy, Debug)]
pub struct LeakCheck {
    /// Growth above this many bytes per minute is a leak.
    pub threshold_bytes_per_minute: f64,
    /// Samples before this second are left out.
    pub warmup_s: f64,
    /// Fewer samples than this give no verdict.
    pub min_samples: usize,
}

/// What a leak check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeakVerdict {
    /// At or below the threshold.
    NoLeak,
    /// Above the threshold.
    Leak,
    /// Too few samples to fit a line.
    InsufficientData,
}

/// The fitted RSS line and the verdict.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct LeakReport {
    /// Samples used.
    pub samples: usize,
    /// Least-squares growth, bytes per minute.
    pub slope_bytes_per_minute: f64,
    /// The threshold used.
    pub threshold_bytes_per_minute: f64,
    /// The verdict.
    pub verdict: LeakVerdict,
}

impl LeakCheck {
    /// Fits a least-squares line through the samples after warm-up.
    pub fn evaluate(&self, points: &[(f64, f64)]) -> LeakReport {
        let used: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 >= self.warmup_s).collect();
        let n = used.len() as f64;
        let slope = (used.len() >= self.min_samples.max(2))
            .then(|| {
                let mx = used.iter().map(|p| p.0).sum::<f64>() / n;
                let my = used.iter().map(|p| p.1).sum::<f64>() / n;
                let sxx: f64 = used.iter().map(|p| (p.0 - mx).powi(2)).sum();
                let sxy: f64 = used.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
                (sxx > 0.0).then(|| sxy / sxx)
            })
            .flatten();
        let per_minute = slope.map(|s| s * 60.0);
        LeakReport {
            samples: used.len(),
            slope_bytes_per_minute: per_minute.unwrap_or(0.0),
            threshold_bytes_per_minute: self.threshold_bytes_per_minute,
            verdict: match per_minute {
                None => LeakVerdict::InsufficientData,
                Some(s) if s > self.threshold_bytes_per_minute => LeakVerdict::Leak,
                Some(_) => LeakVerdict::NoLeak,
            },
        }
    }
}
