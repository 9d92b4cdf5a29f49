//! Reading criterion's saved baselines (`target/criterion/**/<name>/estimates.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One benchmark's estimate in a saved baseline: time per iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Mean time per iteration, in ns.
    pub mean_ns: f64,
    /// 95 % confidence interval of the mean, in ns.
    pub interval_ns: (f64, f64),
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
    let mut out = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    walk(criterion_dir, criterion_dir, name, &mut out, &mut seen)?;
    if out.is_empty() {
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
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    name: &str,
    out: &mut BTreeMap<String, Estimate>,
    seen: &mut std::collections::BTreeSet<String>,
) -> Result<(), BaselineError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let estimates = path.join("estimates.json");
        if estimates.is_file() {
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
                out.insert(id, read_estimate(&estimates)?);
            }
        } else {
            walk(root, &path, name, out, seen)?;
        }
    }
    Ok(())
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
        per_iteration_ns,
    })
}
