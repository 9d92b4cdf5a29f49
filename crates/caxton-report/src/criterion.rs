//! The one reader of criterion's output: saved baselines
//! (`target/criterion/**/<name>/estimates.json`, for `compare --criterion`)
//! and the latest run of every benchmark (the baseline criterion names
//! `new`, with its `benchmark.json`, for `bench-table`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

/// The baseline criterion writes each run's results to.
pub const LATEST: &str = "new";

/// One benchmark's estimate in a saved baseline: time per iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Mean time per iteration, in ns.
    pub mean_ns: f64,
    /// 95 % confidence interval of the mean, in ns.
    pub interval_ns: (f64, f64),
    /// Median time per iteration and the 95 % confidence interval of the
    /// median, in ns; `None` when `estimates.json` has no median.
    pub median_ns: Option<(f64, (f64, f64))>,
    /// Time per iteration of each sample (from `sample.json`), in ns; empty
    /// when the file is absent.
    pub per_iteration_ns: Vec<f64>,
}

#[derive(Deserialize)]
struct Samples {
    iters: Vec<f64>,
    times: Vec<f64>,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Stat,
    median: Option<Stat>,
}

/// What criterion's `benchmark.json` says about a benchmark.
#[derive(Deserialize)]
struct BenchmarkFile {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<serde_json::Value>,
}

/// One benchmark's latest run (criterion's `new` baseline).
#[derive(Clone, Debug, PartialEq)]
pub struct Latest {
    /// Criterion group, e.g. `peers_fanout`.
    pub group: String,
    /// Function within the group, e.g. `caxton`.
    pub function: Option<String>,
    /// Parameter, e.g. `1000`.
    pub value: Option<String>,
    /// Elements per iteration when the bench declared `Throughput::Elements`.
    pub elements: Option<u64>,
    /// Median time per iteration, in ns.
    pub median_ns: f64,
    /// 95 % confidence interval of the median, in ns.
    pub median_interval_ns: (f64, f64),
}

impl Latest {
    /// `function/value` (or whichever part exists; the group when neither).
    pub fn label(&self) -> String {
        match (&self.function, &self.value) {
            (Some(f), Some(v)) => format!("{f}/{v}"),
            (Some(f), None) => f.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) => self.group.clone(),
        }
    }

    /// Elements per second at the median, if a throughput was declared.
    pub fn rate(&self) -> Option<f64> {
        self.elements.map(|e| e as f64 / (self.median_ns * 1e-9))
    }
}

#[derive(Deserialize)]
struct Stat {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// No criterion directory at all.
    #[error("no criterion results under {0} (run `cargo bench -- --save-baseline NAME` first)")]
    NoCriterionDir(PathBuf),
    /// The baseline name is not saved for any benchmark.
    #[error("baseline {name:?} not found under {dir} (saved baselines: {available})")]
    Missing {
        /// The baseline asked for.
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
        /// Baselines that do exist.
        available: String,
    },
    /// No benchmark's latest run (within the time asked for) was found.
    #[error("no criterion results under {0} (run `cargo bench -p caxton-benches` first)")]
    NoResults(PathBuf),
    /// A file exists but is not criterion's format.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Every benchmark's estimate in baseline `name`, keyed by benchmark id
/// (the path under the criterion dir, e.g. `throughput/native/1000`).
pub fn load_baseline(criterion_dir: &Path, name: &str) -> Result<BTreeMap<String, Estimate>, BaselineError> {
    if !criterion_dir.is_dir() {
        return Err(BaselineError::NoCriterionDir(criterion_dir.to_owned()));
    }
    let mut found = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    walk(criterion_dir, criterion_dir, name, &mut found, &mut seen);
    if found.is_empty() {
        seen.remove("report");
        return Err(BaselineError::Missing {
            name: name.to_owned(),
            dir: criterion_dir.to_owned(),
            available: if seen.is_empty() {
                "none".to_owned()
            } else {
                seen.into_iter().collect::<Vec<_>>().join(", ")
            },
        });
    }
    found
        .into_iter()
        .map(|(id, dir)| Ok((id, read_estimate(&dir.join("estimates.json"))?)))
        .collect()
}

/// Every benchmark's latest run under `criterion_dir`, by benchmark id;
/// with `since`, only those written at or after it (so benchmarks that a
/// run no longer has, or did not run, are left out).
pub fn load_latest(criterion_dir: &Path, since: Option<SystemTime>) -> Result<Vec<Latest>, BaselineError> {
    let mut found = BTreeMap::new();
    walk(
        criterion_dir,
        criterion_dir,
        LATEST,
        &mut found,
        &mut std::collections::BTreeSet::new(),
    );
    if let Some(since) = since {
        found.retain(|_, dir| {
            std::fs::metadata(dir.join("estimates.json"))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        });
    }
    if found.is_empty() {
        return Err(BaselineError::NoResults(criterion_dir.to_owned()));
    }
    let mut out = Vec::with_capacity(found.len());
    for dir in found.into_values() {
        let estimates = dir.join("estimates.json");
        let estimate = read_estimate(&estimates)?;
        let (median_ns, median_interval_ns) = estimate.median_ns.ok_or_else(|| BaselineError::Corrupt {
            path: estimates,
            message: "no median".to_owned(),
        })?;
        let path = dir.join("benchmark.json");
        let corrupt = |message: String| BaselineError::Corrupt {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| corrupt(e.to_string()))?;
        let b: BenchmarkFile = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        out.push(Latest {
            group: b.group_id,
            function: b.function_id,
            value: b.value_str,
            elements: b
                .throughput
                .as_ref()
                .and_then(|t| t.get("Elements"))
                .and_then(serde_json::Value::as_u64),
            median_ns,
            median_interval_ns,
        });
    }
    Ok(out)
}

/// Collects, by benchmark id, the directories of baseline `name` (those
/// holding an `estimates.json`) under `dir`, and every baseline name seen.
/// Unreadable directories are skipped.
fn walk(
    root: &Path,
    dir: &Path,
    name: &str,
    found: &mut BTreeMap<String, PathBuf>,
    seen: &mut std::collections::BTreeSet<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.join("estimates.json").is_file() {
            let base = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            seen.insert(base.clone());
            if base == name {
                let id = dir
                    .strip_prefix(root)
                    .unwrap_or(dir)
                    .to_string_lossy()
                    .replace('\\', "/");
                found.insert(id, path);
            }
        } else {
            walk(root, &path, name, found, seen);
        }
    }
}

fn read_estimate(path: &Path) -> Result<Estimate, BaselineError> {
    let corrupt = |message: String| BaselineError::Corrupt {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| corrupt(e.to_string()))?;
    let e: Estimates = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    let per_iteration_ns = match std::fs::read_to_string(path.with_file_name("sample.json")) {
        Ok(text) => {
            let s: Samples = serde_json::from_str(&text).map_err(|e| corrupt(format!("sample.json: {e}")))?;
            s.iters
                .iter()
                .zip(&s.times)
                .filter(|(i, _)| **i > 0.0)
                .map(|(i, t)| t / i)
                .collect()
        }
        Err(_) => Vec::new(),
    };
    Ok(Estimate {
        mean_ns: e.mean.point_estimate,
        interval_ns: (
            e.mean.confidence_interval.lower_bound,
            e.mean.confidence_interval.upper_bound,
        ),
        median_ns: e.median.map(|m| {
            (
                m.point_estimate,
                (m.confidence_interval.lower_bound, m.confidence_interval.upper_bound),
            )
        }),
        per_iteration_ns,
    })
}
