//! A result set: what one run measured.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::figure;

/// Format version of result files.
pub const SCHEMA: u32 = 1;

/// The machine a result set was measured on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// Operating system and architecture.
    pub os: String,
}

impl Machine {
    /// This machine.
    pub fn current() -> Self {
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// A reference measured in the same run (e.g. raw tokio doing the same
/// work), so a reader can judge the value on a noisy machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// What the reference is.
    pub name: String,
    /// Its value, in the measurement's unit.
    #[serde(with = "figure::one")]
    pub value: f64,
}

/// One measured metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Metric name; graded when it matches a key of targets.toml.
    pub metric: String,
    /// Which flavour was measured (e.g. "native", "wasm", "1000 agents").
    pub variant: String,
    /// The headline value (median of `samples` when there are several);
    /// non-finite when it could not be measured (see [`crate::figure`]).
    #[serde(with = "figure::one")]
    pub value: f64,
    /// Unit of `value`, `samples` and `interval`.
    pub unit: String,
    /// Per-repetition values, for noise estimates.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "figure::many")]
    pub samples: Vec<f64>,
    /// 95 % confidence interval of `value`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "figure::range")]
    pub interval: Option<(f64, f64)>,
    /// The same work on a reference, measured in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// value / reference of each interleaved repetition pair. Comparisons
    /// judge these when both runs have them: the machine's speed shifts
    /// between runs cancel out of a ratio measured within one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "figure::many")]
    pub reference_ratios: Vec<f64>,
    /// Reported in comparisons but never flagged: set for figures whose
    /// run-to-run swings on a shared machine exceed what their samples show
    /// (e.g. a producer on a thread outside the runtime, which competes with
    /// the workers for two cores).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub informational: bool,
    /// Further named values, e.g. the other percentiles, in `unit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "figure::named")]
    pub details: Vec<(String, f64)>,
}

impl Measurement {
    /// A measurement from repeated samples: value = their median
    /// ([`caxton_stats::median`]; NaN, not measured, when there are none or
    /// one is not finite), interval = a 95 % confidence interval of the
    /// median (order statistics).
    pub fn from_samples(metric: &str, variant: &str, unit: &str, samples: Vec<f64>) -> Self {
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let value = caxton_stats::median(&samples).unwrap_or(f64::NAN);
        Self {
            metric: metric.to_owned(),
            variant: variant.to_owned(),
            value,
            unit: unit.to_owned(),
            interval: median_interval(&sorted),
            samples,
            reference: None,
            reference_ratios: Vec::new(),
            informational: false,
            details: Vec::new(),
        }
    }

    /// Marks the measurement informational (see the field).
    pub fn informational(mut self) -> Self {
        self.informational = true;
        self
    }

    /// A deterministic value (e.g. allocator-counted bytes): exact, so its
    /// interval has zero width and any change past a threshold counts.
    pub fn exact(metric: &str, variant: &str, unit: &str, value: f64) -> Self {
        Self {
            interval: Some((value, value)),
            ..Self::single(metric, variant, unit, value)
        }
    }

    /// A single noisy value: no interval, so comparisons report changes in
    /// it but never flag them.
    pub fn single(metric: &str, variant: &str, unit: &str, value: f64) -> Self {
        // The value as given, also when it is not finite (not measured).
        Self {
            value,
            ..Self::from_samples(metric, variant, unit, vec![value])
        }
    }

    /// Adds a reference.
    pub fn with_reference(mut self, name: &str, value: f64) -> Self {
        self.reference = Some(Reference {
            name: name.to_owned(),
            value,
        });
        self
    }

    /// Adds a reference and the per-repetition ratios value / reference.
    pub fn with_reference_pairs(mut self, name: &str, reference: f64, ratios: Vec<f64>) -> Self {
        self.reference_ratios = ratios;
        self.with_reference(name, reference)
    }

    /// Adds a reference measured in the same repetitions as this
    /// measurement's samples: its value is their median, and the ratios
    /// pair each sample with the reference sample of the same repetition.
    pub fn with_reference_samples(self, name: &str, reference: &[f64]) -> Self {
        let ratios = self.samples.iter().zip(reference).map(|(a, b)| a / b).collect();
        let value = caxton_stats::median(reference).unwrap_or(f64::NAN);
        self.with_reference_pairs(name, value, ratios)
    }

    /// Adds a named detail value.
    pub fn with_detail(mut self, name: &str, value: f64) -> Self {
        self.details.push((name.to_owned(), value));
        self
    }

    /// Key identifying the measurement across runs.
    pub fn key(&self) -> (String, String) {
        (self.metric.clone(), self.variant.clone())
    }
}

/// Distribution-free 95 % interval of the median from order statistics
/// (normal approximation of the binomial); `None` below 5 samples.
fn median_interval(sorted: &[f64]) -> Option<(f64, f64)> {
    let n = sorted.len();
    if n < 5 {
        return None;
    }
    let half = 1.96 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0 - half).floor().max(0.0)) as usize;
    let hi = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    Some((sorted[lo], sorted[hi]))
}

/// Everything one run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultSet {
    /// File format version.
    pub schema: u32,
    /// What produced it (e.g. "caxton-perf run --quick").
    pub source: String,
    /// Seconds since the Unix epoch when the run finished.
    pub finished_at_unix: u64,
    /// Where it ran.
    pub machine: Machine,
    /// The measurements.
    pub measurements: Vec<Measurement>,
    /// The run was interrupted (Ctrl-C): `measurements` holds what was
    /// measured before it stopped, and the metrics missing from it were not
    /// measured at all. Absent (false) in files of complete runs and in
    /// files written before the field existed.
    #[serde(default)]
    pub partial: bool,
}

/// Why a result file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Missing or unreadable.
    #[error("cannot read results {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a result set.
    #[error("{path} is not a Caxton result set: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// Written by an incompatible version.
    #[error("{path} has schema {found}, this tool reads schema {SCHEMA}")]
    Schema {
        /// The file.
        path: String,
        /// Its schema.
        found: u32,
    },
}

impl ResultSet {
    /// An empty result set for this machine, now.
    pub fn new(source: &str) -> Self {
        Self {
            schema: SCHEMA,
            source: source.to_owned(),
            finished_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: Machine::current(),
            measurements: Vec::new(),
            partial: false,
        }
    }

    /// Reads a result file: a result set written by `caxton-perf run`, or
    /// the result of a scenario binary (its metrics become measurements
    /// whose variant names the scenario).
    pub fn load(path: &Path) -> Result<Self, ResultsError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Io {
            path: name.clone(),
            source,
        })?;
        if let Ok(scenario) = serde_json::from_str::<ScenarioResult>(&text) {
            return Ok(scenario.into_result_set());
        }
        let set: ResultSet = serde_json::from_str(&text).map_err(|source| ResultsError::Parse {
            path: name.clone(),
            source,
        })?;
        if set.schema != SCHEMA {
            return Err(ResultsError::Schema {
                path: name,
                found: set.schema,
            });
        }
        Ok(set)
    }

    /// Writes the result set as pretty JSON.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self).map_err(std::io::Error::other)?)
    }
}

/// The result file a scenario binary writes (see docs/scenarios.md).
#[derive(Clone, Debug, Deserialize)]
struct ScenarioResult {
    scenario: String,
    metrics: Vec<ScenarioMetric>,
    #[serde(default)]
    partial: bool,
    #[serde(default)]
    started_at_unix_s: u64,
    #[serde(default)]
    elapsed_s: f64,
}

#[derive(Clone, Debug, Deserialize)]
struct ScenarioMetric {
    name: String,
    #[serde(with = "figure::one")]
    value: f64,
    unit: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    reference: Option<Reference>,
    #[serde(default)]
    informational: bool,
}

impl ScenarioResult {
    fn into_result_set(self) -> ResultSet {
        let variant = format!(
            "scenario {}{}",
            self.scenario,
            if self.partial { " (partial)" } else { "" }
        );
        ResultSet {
            schema: SCHEMA,
            source: format!("scenario {}", self.scenario),
            finished_at_unix: self.started_at_unix_s + self.elapsed_s as u64,
            machine: Machine::current(),
            measurements: self
                .metrics
                .into_iter()
                .map(|m| {
                    let variant = match &m.variant {
                        Some(v) => format!("{variant}: {v}"),
                        None => variant.clone(),
                    };
                    let mut out = Measurement::single(&m.name, &variant, &m.unit, m.value);
                    if let Some(r) = &m.reference {
                        out = out.with_reference(&r.name, r.value);
                    }
                    if m.informational {
                        out = out.informational();
                    }
                    out
                })
                .collect(),
            partial: self.partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_from_samples_pairs_each_repetition() {
        let m = Measurement::from_samples("m", "v", "us", vec![2.0, 4.0, 6.0])
            .with_reference_samples("r", &[1.0, 2.0, 4.0]);
        let r = m.reference.as_ref().expect("a reference");
        assert_eq!((r.name.as_str(), r.value), ("r", 2.0));
        assert_eq!(m.reference_ratios, vec![2.0, 2.0, 1.5]);
    }

    #[test]
    fn scenario_results_load_as_result_sets() {
        let dir = std::env::temp_dir().join(format!("caxton-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("burst.json");
        std::fs::write(
            &path,
            r#"{"scenario":"burst","config":{},"metrics":[{"name":"recovery_time","value":1.0,"unit":"s"},{"name":"burst_refused","value":0,"unit":"count"}],"assertions":[],"intervals_file":"burst.intervals.jsonl","partial":true,"passed":true,"started_at_unix_s":100,"elapsed_s":5.0}"#,
        )
        .unwrap();
        let set = ResultSet::load(&path).unwrap();
        assert_eq!(set.source, "scenario burst");
        assert_eq!(set.measurements.len(), 2);
        assert_eq!(set.measurements[0].metric, "recovery_time");
        assert_eq!(set.measurements[0].variant, "scenario burst (partial)");
        assert_eq!(set.measurements[0].unit, "s");
        // The network scenarios' metrics carry their variant and reference.
        std::fs::write(
            &path,
            r#"{"scenario":"http","config":{},"metrics":[{"name":"http_requests_per_s","value":10.0,"unit":"req/s","variant":"send","reference":{"name":"bare","value":20.0},"informational":true}],"assertions":[],"intervals_file":"","partial":false,"passed":true,"started_at_unix_s":100,"elapsed_s":5.0}"#,
        )
        .unwrap();
        let m = &ResultSet::load(&path).unwrap().measurements[0];
        assert_eq!(m.variant, "scenario http: send");
        assert_eq!(m.reference.as_ref().map(|r| r.value), Some(20.0));
        assert!(m.informational);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn same_all(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(*x, *y))
    }

    #[test]
    fn non_finite_figures_round_trip_through_save_and_load() {
        let tmp = tempfile::tempdir().unwrap();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut set = ResultSet::new("test");
            let m = Measurement::from_samples("latency_p99", "native", "us", vec![1.0, v, 2.0, 3.0, v])
                .with_reference_pairs("raw", v, vec![v, 1.0])
                .with_detail("p99", v);
            let m = Measurement {
                value: v,
                interval: Some((v, 1.0)),
                ..m
            };
            set.measurements.push(m.clone());
            set.measurements.push(Measurement::single("x", "empty", "us", 4.0));
            let path = tmp.path().join("results.json");
            set.save(&path).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains("null"), "{text}");
            let back = ResultSet::load(&path).unwrap_or_else(|e| panic!("{v}: {e}\n{text}"));
            let b = &back.measurements[0];
            assert!(same(b.value, v), "{v} read back as {}", b.value);
            assert!(same_all(&b.samples, &m.samples));
            let (lo, hi) = b.interval.unwrap();
            assert!(same(lo, v) && hi == 1.0);
            assert!(same(b.reference.as_ref().unwrap().value, v));
            assert!(same_all(&b.reference_ratios, &m.reference_ratios));
            assert!(same(b.details[0].1, v));
            assert_eq!(back.measurements[1], set.measurements[1]);
        }
    }

    #[test]
    fn files_with_null_figures_and_without_partial_still_load() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.json");
        // What the suite wrote before non-finite figures were spelled out.
        std::fs::write(
            &path,
            r#"{"schema":1,"source":"old","finished_at_unix":1,"machine":{"cores":2,"os":"linux"},
                "measurements":[{"metric":"m","variant":"v","value":null,"unit":"us","samples":[null,1.0]}]}"#,
        )
        .unwrap();
        let set = ResultSet::load(&path).unwrap();
        assert!(!set.partial);
        assert!(set.measurements[0].value.is_nan());
        assert_eq!(set.measurements[0].samples[1], 1.0);
    }

    #[test]
    fn the_partial_marker_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.json");
        let mut set = ResultSet::new("partial");
        set.partial = true;
        set.save(&path).unwrap();
        assert!(ResultSet::load(&path).unwrap().partial);
    }

    #[test]
    fn a_scenario_result_with_a_non_finite_metric_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("peak.json");
        std::fs::write(
            &path,
            r#"{"scenario":"peak","metrics":[{"name":"success_rate","value":"NaN","unit":"%"},{"name":"handled_rate","value":null,"unit":"msg/s"},{"name":"latency_p99","value":"inf","unit":"ms"}],"partial":true}"#,
        )
        .unwrap();
        let set = ResultSet::load(&path).unwrap();
        assert!(set.partial);
        assert!(set.measurements[0].value.is_nan() && set.measurements[1].value.is_nan());
        assert_eq!(set.measurements[2].value, f64::INFINITY);
    }

    #[test]
    fn median_and_interval_of_known_samples() {
        let m = Measurement::from_samples("x", "v", "ms", (1..=9).map(f64::from).collect());
        assert_eq!(m.value, 5.0);
        let (lo, hi) = m.interval.unwrap();
        assert!(lo < 5.0 && hi > 5.0 && lo >= 1.0 && hi <= 9.0);
        assert_eq!(Measurement::single("x", "v", "ms", 3.0).interval, None);
    }
}
