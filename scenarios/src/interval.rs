//! Per-second interval metrics and their JSON-lines log.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use caxton_profiling::LatencySummary;

/// What happened in one interval (one second, or less for the last one of
/// an interrupted run). Counts are of this interval only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// End of the interval, seconds since the start.
    pub t_s: f64,
    /// Length, seconds (1 except for a cut-short last interval).
    pub length_s: f64,
    /// Phase of the scenario (`steady`, or `baseline`/`burst`/`after`).
    pub phase: String,
    /// Messages the schedule had due in the interval.
    pub scheduled: u64,
    /// Messages the generator sent (accepted + refused).
    pub sent: u64,
    /// Messages refused at send with a counted error (full mailbox,
    /// stopped agent): shed load, never silent.
    pub refused: u64,
    /// Sends that found the mailbox full and waited for room (the
    /// backpressure policy; always 0 when shedding).
    #[serde(default)]
    pub waited: u64,
    /// The deepest mailbox at the end of the interval (messages accepted
    /// and not yet handled; in-process runs only, else 0).
    #[serde(default)]
    pub depth_max: u64,
    /// Messages handled successfully.
    pub handled: u64,
    /// Messages whose handling crashed the agent (dead letters).
    pub faults: u64,
    /// Send -> handled latency of the messages handled in the interval.
    pub latency: LatencySummary,
    /// Resident set size at the end of the interval, bytes.
    pub rss_bytes: u64,
    /// Process CPU over the interval, % of one core (up to 100 x cores).
    pub cpu_percent: f64,
}

impl Interval {
    /// Handled messages per second.
    pub fn handled_rate(&self) -> f64 {
        if self.length_s > 0.0 {
            self.handled as f64 / self.length_s
        } else {
            0.0
        }
    }

    /// Interval median latency, ms.
    pub fn p50_ms(&self) -> f64 {
        self.latency.p50_us / 1000.0
    }

    /// Interval p99 latency, ms.
    pub fn p99_ms(&self) -> f64 {
        self.latency.p99_us / 1000.0
    }
}

/// Writes intervals as JSON lines, flushing each so an interrupted run
/// leaves a readable file.
pub struct IntervalLog {
    out: BufWriter<File>,
}

impl IntervalLog {
    /// Creates (truncates) the log file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::new(File::create(path)?),
        })
    }

    /// Appends one interval.
    pub fn write(&mut self, interval: &Interval) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, interval)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
