//! The final result of a run: a JSON file in the shape the report tool
//! reads, and a short human summary.

use std::path::Path;

use caxton_report::results::Reference;
use serde::{Deserialize, Serialize};

use crate::assess::Assertion;

/// One measured number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name; names shared with `targets.toml` (`latency_p50`,
    /// `latency_p99`, `recovery_time`, `cpu_per_agent`, `memory_per_agent`)
    /// are in that table's units.
    pub name: String,
    /// The value measured in this run; non-finite when it could not be
    /// measured (e.g. a rate over a run interrupted at once), written as
    /// `"NaN"`, `"inf"` or `"-inf"` (see [`figure`]).
    #[serde(with = "figure")]
    pub value: f64,
    /// Its unit (`msg/s`, `ms`, `s`, `%`, `bytes`, `MB`, `count`, ...).
    pub unit: String,
    /// What exactly was measured, where the name alone does not say (the
    /// network scenarios measure one metric several ways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The same-run reference (e.g. the bare echo server), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// Shown in reports, not graded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub informational: bool,
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

/// Figures are written as `caxton-report` reads them: finite values as
/// JSON numbers, NaN and the infinities as strings (never `null`).
pub use caxton_report::figure::one as figure;

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
            let value = if !m.value.is_finite() {
                "n/a".to_owned()
            } else if m.value.fract() == 0.0 && m.value.abs() < 1e15 {
                format!("{}", m.value as i64)
            } else if m.value.abs() >= 100.0 {
                format!("{:.1}", m.value)
            } else if m.value.abs() >= 1.0 || m.value == 0.0 {
                format!("{:.3}", m.value)
            } else {
                // Four significant digits (latencies in ms of a few µs).
                let decimals = (3 - m.value.abs().log10().floor() as i64).clamp(3, 9) as usize;
                format!("{:.decimals$}", m.value)
            };
            let reference = match &m.reference {
                Some(r) if r.value != 0.0 && r.value.is_finite() && m.value.is_finite() => {
                    format!("  ({:.2}x {})", m.value / r.value, r.name)
                }
                _ => String::new(),
            };
            let _ = writeln!(s, "  {:<28} {value:>14} {}{reference}", m.name, m.unit);
        }
        for (share, which) in [
            ("generator_lateness_share_p50", "p50"),
            ("generator_lateness_share_p99", "p99"),
        ] {
            if let Some(v) = self.metric(share)
                && v > crate::run::LATENESS_WARN_SHARE * 100.0
            {
                let _ = writeln!(
                    s,
                    "  warning: the generator's own lateness is {v:.0} % of the {which} latency: that \
                     latency is partly the load generator's, not the runtime's"
                );
            }
        }
        for a in &self.assertions {
            let mark = if a.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(s, "  [{mark}] {}: {}", a.name, a.detail);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metrics_round_trip_through_the_result_file() {
        let dir = std::env::temp_dir().join(format!("caxton-scenario-result-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peak.json");
        let values = [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        let result = ScenarioResult {
            scenario: "peak".into(),
            config: serde_json::json!({}),
            metrics: values
                .iter()
                .enumerate()
                .map(|(i, v)| Metric {
                    name: format!("m{i}"),
                    value: *v,
                    unit: "ms".into(),
                    variant: None,
                    reference: None,
                    informational: false,
                })
                .collect(),
            assertions: Vec::new(),
            intervals_file: "peak.intervals.jsonl".into(),
            partial: true,
            passed: false,
            started_at_unix_s: 1,
            elapsed_s: 0.0,
        };
        result.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("null"), "{text}");
        let back: ScenarioResult = serde_json::from_str(&text).unwrap();
        for (v, m) in values.iter().zip(&back.metrics) {
            assert!(
                v.to_bits() == m.value.to_bits() || (v.is_nan() && m.value.is_nan()),
                "{v} -> {}",
                m.value
            );
        }
        assert!(result.summary().contains("n/a"));
        // Files written before this fix had `null` there.
        let old = text.replacen("\"NaN\"", "null", 1);
        let back: ScenarioResult = serde_json::from_str(&old).unwrap();
        assert!(back.metrics[1].value.is_nan());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
