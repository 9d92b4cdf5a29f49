//! A background sampler of this process's RSS and CPU %, kept as a time
//! series.
//!
//! One thread wakes once per interval, refreshes only this process through
//! sysinfo (memory and CPU, nothing else) and appends a sample: at 1 s that
//! is one small `/proc` read per second, far below anything a workload
//! notices. CPU % is sysinfo's: the share of one core used since the
//! previous sample, so it can exceed 100 on several cores; it needs two
//! refreshes at least [`MIN_INTERVAL`] apart, hence the minimum interval.
//!
//! ```no_run
//! use std::time::Duration;
//! use caxton_profiling::sampler::ProcessSampler;
//!
//! let sampler = ProcessSampler::start(Duration::from_secs(1)).unwrap();
//! // ... run the workload ...
//! let series = sampler.stop();
//! println!("peak RSS {} bytes", series.peak_rss_bytes());
//! ```

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::ProfilingError;
use crate::leak::{LeakCheck, LeakReport};

/// Shortest interval the sampler accepts (sysinfo's CPU % needs this much
/// time between two refreshes).
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// One reading of the process.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// Milliseconds since the sampler started.
    pub elapsed_ms: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: u64,
    /// CPU used since the previous sample, in percent of one core (up to
    /// 100 x cores).
    pub cpu_percent: f64,
}

/// The samples of one run, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSeries {
    /// The interval asked for, in milliseconds.
    pub interval_ms: u64,
    /// Logical CPUs available to the process (the ceiling of `cpu_percent`
    /// is 100 times this).
    pub cpus: usize,
    /// The samples.
    pub samples: Vec<ProcessSample>,
}

impl ProcessSeries {
    /// Highest RSS seen, in bytes (0 with no samples).
    pub fn peak_rss_bytes(&self) -> u64 {
        self.samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0)
    }

    /// Mean CPU % over the samples (0 with no samples).
    pub fn mean_cpu_percent(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        self.samples.iter().map(|s| s.cpu_percent).sum::<f64>() / self.samples.len() as f64
    }

    /// Highest CPU % seen.
    pub fn peak_cpu_percent(&self) -> f64 {
        self.samples.iter().map(|s| s.cpu_percent).fold(0.0, f64::max)
    }

    /// Fits RSS over time and says whether it grows faster than allowed.
    pub fn leak_check(&self, check: &LeakCheck) -> LeakReport {
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|s| (s.elapsed_ms as f64 / 1000.0, s.rss_bytes as f64))
            .collect();
        check.evaluate(&points)
    }
}

/// A running sampler; [`stop`](Self::stop) it to get the series.
pub struct ProcessSampler {
    stop_tx: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    series: Arc<Mutex<ProcessSeries>>,
}

impl ProcessSampler {
    /// Starts sampling every `interval` (at least [`MIN_INTERVAL`]) on a
    /// background thread. The first sample comes one interval after start.
    pub fn start(interval: Duration) -> Result<Self, ProfilingError> {
        if interval < MIN_INTERVAL {
            return Err(ProfilingError::IntervalTooShort {
                got: interval,
                min: MIN_INTERVAL,
            });
        }
        let pid = sysinfo::get_current_pid().map_err(|e| ProfilingError::Sysinfo(e.to_string()))?;
        let mut sys = System::new().map_err(|e| ProfilingError::Sysinfo(e.to_string()))?;
        let kind = ProcessRefreshKind::nothing().with_memory().with_cpu();
        // The first refresh gives CPU % its starting point.
        refresh(&mut sys, pid, kind)?;
        let series = Arc::new(Mutex::new(ProcessSeries {
            interval_ms: interval.as_millis() as u64,
            cpus: crate::process::available_cpus(),
            samples: Vec::new(),
        }));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let out = series.clone();
        let start = Instant::now();
        let thread = std::thread::Builder::new()
            .name("caxton-sampler".into())
            .spawn(move || {
                let mut next = start + interval;
                loop {
                    let wait = next.saturating_duration_since(Instant::now());
                    match stop_rx.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    if refresh(&mut sys, pid, kind).is_ok()
                        && let Some(p) = sys.process(pid)
                    {
                        let sample = ProcessSample {
                            elapsed_ms: start.elapsed().as_millis() as u64,
                            rss_bytes: p.memory(),
                            virtual_bytes: p.virtual_memory(),
                            cpu_percent: f64::from(p.cpu_usage()),
                        };
                        out.lock().unwrap_or_else(|e| e.into_inner()).samples.push(sample);
                    }
                    next += interval;
                    // After a long stall, skip missed ticks rather than burst.
                    let now = Instant::now();
                    while next <= now {
                        next += interval;
                    }
                }
            })
            .map_err(|e| ProfilingError::io("caxton-sampler thread", e))?;
        Ok(Self {
            stop_tx: Some(stop_tx),
            thread: Some(thread),
            series,
        })
    }

    /// A copy of the samples taken so far.
    pub fn snapshot(&self) -> ProcessSeries {
        self.series.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The most recent sample, if any.
    pub fn latest(&self) -> Option<ProcessSample> {
        self.series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .samples
            .last()
            .copied()
    }

    /// Stops the thread (at once, not at the next tick) and returns the series.
    pub fn stop(mut self) -> ProcessSeries {
        self.shut_down();
        self.snapshot()
    }

    fn shut_down(&mut self) {
        drop(self.stop_tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ProcessSampler {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn refresh(sys: &mut System, pid: Pid, kind: ProcessRefreshKind) -> Result<(), ProfilingError> {
    let updated = sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, kind);
    if updated == 0 {
        return Err(ProfilingError::Sysinfo("this process could not be refreshed".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_too_short_interval() {
        let err = ProcessSampler::start(Duration::from_millis(10)).err().unwrap();
        assert!(matches!(err, ProfilingError::IntervalTooShort { .. }));
    }

    #[test]
    fn collects_samples_and_stops() {
        let sampler = ProcessSampler::start(MIN_INTERVAL).unwrap();
        // Wait for two samples without asserting how long that takes.
        while sampler.snapshot().samples.len() < 2 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let series = sampler.stop();
        assert!(series.samples.len() >= 2);
        assert!(series.peak_rss_bytes() > 0);
        assert!(series.samples.windows(2).all(|w| w[0].elapsed_ms < w[1].elapsed_ms));
    }
}
