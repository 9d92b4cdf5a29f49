//! Latency recording in an HDR histogram: percentiles, merging across
//! threads, and coordinated-omission correction for open-loop load.
//!
//! Values are recorded in nanoseconds with 3 significant digits (an error of
//! at most 0.1 %) and summarized in microseconds.
//!
//! **Coordinated omission.** A load generator that waits for a slow reply
//! before sending the next request stops sending just when the system is
//! slow, so the slow period is under-sampled. Two remedies:
//!
//! * open-loop load: send on a fixed schedule and record each latency
//!   against the *intended* send time ([`LatencyRecorder::record_since_intended`];
//!   `caxton_workloads::open_loop::RateProfile` gives the intended times);
//! * when only a closed-loop measurement exists, record with
//!   [`LatencyRecorder::record_corrected`], which adds the samples a
//!   constant-rate sender would have seen (hdrhistogram's `record_correct`).
//!
//! Each thread owns a recorder; merge them at the end with
//! [`LatencyRecorder::merge`].

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::ProfilingError;

/// Default highest trackable latency: one minute.
pub const DEFAULT_MAX: Duration = Duration::from_secs(60);

/// An HDR histogram of latencies, in nanoseconds.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
    saturated: u64,
}

impl LatencyRecorder {
    /// A recorder for latencies from 1 ns to [`DEFAULT_MAX`].
    pub fn new() -> Self {
        Self::with_max(DEFAULT_MAX).expect("the default bounds are valid")
    }

    /// A recorder for latencies from 1 ns to `max` (larger values are
    /// recorded as `max` and counted in [`saturated`](Self::saturated)).
    pub fn with_max(max: Duration) -> Result<Self, ProfilingError> {
        let high = (max.as_nanos() as u64).max(2);
        Ok(Self {
            hist: Histogram::new_with_bounds(1, high, 3)?,
            saturated: 0,
        })
    }

    fn clamp(&mut self, ns: u64) -> u64 {
        let high = self.hist.high();
        if ns > high {
            self.saturated += 1;
            high
        } else {
            ns.max(1)
        }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_ns(latency.as_nanos() as u64);
    }

    /// Records one latency given in nanoseconds.
    pub fn record_ns(&mut self, ns: u64) {
        let v = self.clamp(ns);
        self.hist.saturating_record(v);
    }

    /// Records the time from when a request *should* have been sent (its
    /// slot in an open-loop schedule) to `done`: the coordinated-omission
    /// free latency of open-loop load.
    pub fn record_since_intended(&mut self, intended_send: Instant, done: Instant) {
        self.record(done.saturating_duration_since(intended_send));
    }

    /// Records a latency measured by a closed-loop sender that meant to send
    /// every `expected_interval`, adding the samples it missed while waiting
    /// (`latency - interval`, `latency - 2 * interval`, ... down to
    /// `interval`): hdrhistogram's `record_correct`.
    pub fn record_corrected(&mut self, latency: Duration, expected_interval: Duration) {
        let v = self.clamp(latency.as_nanos() as u64);
        let interval = expected_interval.as_nanos() as u64;
        // Values are clamped into range, so recording cannot fail.
        let _ = self.hist.record_correct(v, interval);
    }

    /// Adds every sample of `other` (e.g. another thread's recorder).
    pub fn merge(&mut self, other: &LatencyRecorder) -> Result<(), ProfilingError> {
        self.hist.add(&other.hist)?;
        self.saturated += other.saturated;
        Ok(())
    }

    /// Samples recorded (corrections included).
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Samples above the highest trackable value (recorded as that value).
    pub fn saturated(&self) -> u64 {
        self.saturated
    }

    /// The latency at `quantile` (0.0 to 1.0), in nanoseconds.
    pub fn quantile_ns(&self, quantile: f64) -> u64 {
        self.hist.value_at_quantile(quantile)
    }

    /// The underlying histogram, for anything the summary leaves out.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Forgets every sample.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.saturated = 0;
    }

    /// The percentiles and extremes, in microseconds.
    pub fn summary(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1000.0;
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.hist.len(),
            min_us: us(self.hist.min()),
            mean_us: self.hist.mean() / 1000.0,
            stdev_us: self.hist.stdev() / 1000.0,
            p50_us: us(self.hist.value_at_quantile(0.50)),
            p90_us: us(self.hist.value_at_quantile(0.90)),
            p95_us: us(self.hist.value_at_quantile(0.95)),
            p99_us: us(self.hist.value_at_quantile(0.99)),
            p999_us: us(self.hist.value_at_quantile(0.999)),
            max_us: us(self.hist.max()),
            saturated: self.saturated,
        }
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency percentiles of one run, in microseconds. All zero when nothing
/// was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Smallest latency.
    pub min_us: f64,
    /// Mean latency.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
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
    /// Largest latency (up to the recorder's highest trackable value).
    pub max_us: f64,
    /// Samples above the highest trackable value.
    pub saturated: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(actual: f64, expected: f64) -> bool {
        // 3 significant digits: within 0.1 %.
        (actual - expected).abs() <= expected * 0.001 + 0.001
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut r = LatencyRecorder::new();
        // 1 us, 2 us, ..., 10000 us: each once.
        for i in 1..=10_000u64 {
            r.record(Duration::from_micros(i));
        }
        let s = r.summary();
        assert_eq!(s.count, 10_000);
        assert!(within(s.min_us, 1.0), "{s:?}");
        assert!(within(s.p50_us, 5000.0), "{s:?}");
        assert!(within(s.p90_us, 9000.0), "{s:?}");
        assert!(within(s.p95_us, 9500.0), "{s:?}");
        assert!(within(s.p99_us, 9900.0), "{s:?}");
        assert!(within(s.p999_us, 9990.0), "{s:?}");
        assert!(within(s.max_us, 10_000.0), "{s:?}");
        assert!(within(s.mean_us, 5000.5), "{s:?}");
    }

    #[test]
    fn merging_adds_the_samples_of_each_thread() {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut r = LatencyRecorder::new();
                    for i in 0..250u64 {
                        r.record(Duration::from_micros(t * 250 + i + 1));
                    }
                    r
                })
            })
            .collect();
        let mut all = LatencyRecorder::new();
        for h in handles {
            all.merge(&h.join().unwrap()).unwrap();
        }
        let s = all.summary();
        assert_eq!(s.count, 1000);
        assert!(within(s.p50_us, 500.0), "{s:?}");
        assert!(within(s.max_us, 1000.0), "{s:?}");
    }

    #[test]
    fn coordinated_omission_correction_fills_in_missed_samples() {
        let mut r = LatencyRecorder::new();
        // A sender meaning to send every 1 ms sees one 10 ms stall: the
        // correction adds the 9, 8, ..., 1 ms samples it would have seen.
        r.record_corrected(Duration::from_millis(10), Duration::from_millis(1));
        assert_eq!(r.count(), 10);
        for ms in 1..=10u64 {
            let ns = ms * 1_000_000;
            assert_eq!(r.histogram().count_at(ns), 1, "{ms} ms");
        }
        // A latency within the interval adds nothing.
        r.record_corrected(Duration::from_micros(500), Duration::from_millis(1));
        assert_eq!(r.count(), 11);
    }

    #[test]
    fn open_loop_latency_counts_from_the_intended_send_time() {
        let start = Instant::now();
        let mut r = LatencyRecorder::new();
        // Request 2 was due at 2 ms, actually sent late, answered at 7 ms.
        r.record_since_intended(start + Duration::from_millis(2), start + Duration::from_millis(7));
        assert!(within(r.summary().max_us, 5000.0));
    }

    #[test]
    fn values_over_the_max_saturate() {
        let mut r = LatencyRecorder::with_max(Duration::from_millis(1)).unwrap();
        r.record(Duration::from_secs(5));
        assert_eq!(r.saturated(), 1);
        assert!(r.summary().max_us <= 1001.0);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(LatencyRecorder::new().summary(), LatencySummary::default());
    }
}
