//! The tiered targets table (`targets.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Which direction is good for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Larger values are better (throughput).
    Higher,
    /// Smaller values are better (latency, time, memory, CPU).
    Lower,
}

/// One metric's thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// What the metric is.
    pub description: String,
    /// Unit of the three thresholds.
    pub unit: String,
    /// Which direction is good.
    pub better: Better,
    /// Meeting this grades `target`.
    pub target: f64,
    /// Meeting this grades `acceptable`.
    pub acceptable: f64,
    /// Meeting this grades `critical`; missing it grades `failing`.
    pub critical: f64,
}

/// The whole table, by metric name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Metric name -> thresholds.
    pub metrics: BTreeMap<String, Target>,
}

/// Why a targets file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax or a field of the wrong type, unknown or missing.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Thresholds that contradict their direction.
    #[error("{path}: metric {metric:?}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The metric.
        metric: String,
        /// What is wrong.
        message: String,
    },
}

impl Targets {
    /// Reads and validates a targets file.
    pub fn load(path: &Path) -> Result<Self, TargetsError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates targets from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, TargetsError> {
        let targets: Targets = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            TargetsError::Parse {
                path: origin.to_owned(),
                line,
                message: e.message().to_owned(),
            }
        })?;
        for (name, t) in &targets.metrics {
            let invalid = |message: String| TargetsError::Invalid {
                path: origin.to_owned(),
                metric: name.clone(),
                message,
            };
            for (field, v) in [
                ("target", t.target),
                ("acceptable", t.acceptable),
                ("critical", t.critical),
            ] {
                if !v.is_finite() {
                    return Err(invalid(format!("{field} must be a finite number")));
                }
            }
            let ordered = match t.better {
                Better::Higher => t.target >= t.acceptable && t.acceptable >= t.critical,
                Better::Lower => t.target <= t.acceptable && t.acceptable <= t.critical,
            };
            if !ordered {
                return Err(invalid(format!(
                    "with better = {:?}, thresholds must run target {} acceptable {} critical (got {} / {} / {})",
                    t.better,
                    if t.better == Better::Higher { ">=" } else { "<=" },
                    if t.better == Better::Higher { ">=" } else { "<=" },
                    t.target,
                    t.acceptable,
                    t.critical
                )));
            }
            if !crate::units::is_known(&t.unit) {
                return Err(invalid(format!("unknown unit {:?}", t.unit)));
            }
        }
        Ok(targets)
    }
}
