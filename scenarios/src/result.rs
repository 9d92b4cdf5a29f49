//! The final result of a run: a JSON file in the shape the report tool
//! reads, and a short human summary.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::assess::Assertion;

/// One measured number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name; names shared with `targets.toml` (`latency_p50`,
    /// `latency_p99`, `recovery_time`, `cpu_per_agent`, `memory_per_agent`)
    /// are in that table's units.
    pub name: String,
    /// The value measured in this run.
    pub value: f64,
    /// Its unit (`msg/s`, `ms`, `s`, `%`, `bytes`, `MB`, `count`, ...).
    pub unit: String,
}

/// The result file of one scenario run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// `peak`, `sustained`, `burst` or `faults`.
    pub scenario: String,
    /// The configuration the run used (after `--quick` and flags).
    pub config: serde_json::Value,
    /// Every number measured.
    pub metrics: Vec<Metric>,
    /// Every claim checked.
    pub assertions: Vec<Assertion>,
    /// The per-second intervals (JSON lines), relative to this file's folder.
    pub intervals_file: String,
    /// Whether the run was stopped early (Ctrl-C): the numbers cover only
    /// the part that ran.
    pub partial: bool,
    /// Whether every assertion passed.
    pub passed: bool,
    /// Start of the run, seconds since the Unix epoch.
    pub started_at_unix_s: u64,
    /// Length of the load phase, seconds.
    pub elapsed_s: f64,
}

impl ScenarioResult {
    /// The value of metric `name`, if measured.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }

    /// Writes the result as pretty JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    /// A short human summary.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let verdict = match (self.partial, self.passed) {
            (true, _) => "PARTIAL (interrupted)",
            (false, true) => "PASS",
            (false, false) => "FAIL",
        };
        let _ = writeln!(s, "== {} scenario: {verdict} ({:.1} s)", self.scenario, self.elapsed_s);
        for m in &self.metrics {
            let value = if m.value.fract() == 0.0 && m.value.abs() < 1e15 {
                format!("{}", m.value as i64)
            } else if m.value.abs() >= 100.0 {
                format!("{:.1}", m.value)
            } else {
                format!("{:.3}", m.value)
            };
            let _ = writeln!(s, "  {:<28} {value:>14} {}", m.name, m.unit);
        }
        for a in &self.assertions {
            let mark = if a.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(s, "  [{mark}] {}: {}", a.name, a.detail);
        }
        s
    }
}
