//! What a network benchmark reports: figures (each with its same-run
//! reference where there is one) and the checks it made.

use serde::Serialize;

/// One measured number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// Metric name (`http_requests_per_s`, `http_latency_p99`, ...); names
    /// shared with `targets.toml` are graded there.
    pub name: String,
    /// What exactly was measured.
    pub variant: String,
    /// Its unit.
    pub unit: String,
    /// The value.
    pub value: f64,
    /// The same-run reference (the bare floor) and its value.
    pub reference: Option<(String, f64)>,
    /// Shown, not graded.
    pub informational: bool,
}

impl Figure {
    /// A graded figure.
    pub fn new(name: &str, variant: &str, unit: &str, value: f64) -> Self {
        Self {
            name: name.to_owned(),
            variant: variant.to_owned(),
            unit: unit.to_owned(),
            value,
            reference: None,
            informational: false,
        }
    }

    /// With the same-run reference.
    pub fn against(mut self, name: &str, value: f64) -> Self {
        self.reference = Some((name.to_owned(), value));
        self
    }

    /// Shown, not graded.
    pub fn informational(mut self) -> Self {
        self.informational = true;
        self
    }

    /// value / reference.
    pub fn ratio(&self) -> Option<f64> {
        self.reference.as_ref().map(|(_, r)| self.value / r)
    }
}

/// One claim a benchmark checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// What is claimed.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// The numbers behind it.
    pub detail: String,
}

impl Check {
    /// A check.
    pub fn new(name: &str, passed: bool, detail: String) -> Self {
        Self {
            name: name.to_owned(),
            passed,
            detail,
        }
    }
}

/// The outcome of one network scenario.
#[derive(Clone, Debug, Serialize)]
pub struct NetResult {
    /// `http`, `payload` or `websocket`.
    pub scenario: String,
    /// The settings it ran with.
    pub config: serde_json::Value,
    /// What it measured.
    pub figures: Vec<Figure>,
    /// What it checked.
    pub checks: Vec<Check>,
    /// Seconds it took.
    pub elapsed_s: f64,
}

impl NetResult {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}
