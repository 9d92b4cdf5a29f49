//! Regression detection between a base and a head run.
//!
//! A change is a regression only when it is worse than the threshold *and*
//! the two runs' noise bands do not overlap: on a noisy machine a large
//! change inside the noise is reported, not flagged.
//!
//! The noise band of a value is the 5th..95th percentile of its repeated
//! samples (criterion's per-sample times, or a result's `samples`):
//! [`caxton_stats::noise_band`], percentiles interpolated; unknown
//! (never flagged) below two samples or when one is not finite. That is
//! wider than a confidence interval of the median on purpose: this machine's
//! speed shifts between runs, which no within-run interval captures, and an
//! A/A comparison (a commit against itself) must flag nothing.

use serde::{Deserialize, Serialize};

use crate::criterion::Estimate;
use crate::results::ResultSet;
use crate::targets::{Better, Targets};
use crate::units::higher_is_better;

/// The verdict on one benchmark or metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse than the threshold, beyond the noise.
    Regression,
    /// Better than the threshold, beyond the noise.
    Improvement,
    /// Past the threshold but the intervals overlap.
    WithinNoise,
    /// Within the threshold.
    Unchanged,
    /// Present in only one run, or not measured (non-finite) in one.
    Missing,
}

/// One compared value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Benchmark id or `metric [variant]`.
    pub name: String,
    /// Unit of base/head.
    pub unit: String,
    /// Base value.
    #[serde(default, with = "crate::figure::maybe")]
    pub base: Option<f64>,
    /// Head value.
    #[serde(default, with = "crate::figure::maybe")]
    pub head: Option<f64>,
    /// (head - base) / base, in percent.
    #[serde(default, with = "crate::figure::maybe")]
    pub change_pct: Option<f64>,
    /// Whether larger is better for this value.
    pub higher_is_better: bool,
    /// The verdict.
    pub verdict: Verdict,
}

/// One side of a comparison: a value and its noise band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// The value.
    pub value: f64,
    /// Where repeated measurements of it fell (see the module docs); a
    /// zero-width band for exact values; `None` when the noise is unknown.
    pub interval: Option<(f64, f64)>,
}

/// Judges base -> head. `threshold_pct` is the smallest change that counts.
/// A change past the threshold is a regression (or improvement) only when
/// both sides carry an interval and the intervals do not overlap; without
/// an interval the noise is unknown, so the change is reported as within
/// noise, never flagged. Exact (deterministic) values carry a zero-width
/// interval and are judged on the threshold alone.
pub fn judge(base: Point, head: Point, higher_better: bool, threshold_pct: f64) -> (f64, Verdict) {
    let change = if base.value == head.value {
        0.0
    } else {
        (head.value - base.value) / base.value.abs() * 100.0
    };
    if change.abs() < threshold_pct || change.is_nan() {
        return (change, Verdict::Unchanged);
    }
    let overlap = match (base.interval, head.interval) {
        (Some((bl, bh)), Some((hl, hh))) => bl <= hh && hl <= bh,
        _ => true,
    };
    if overlap {
        return (change, Verdict::WithinNoise);
    }
    let worse = if higher_better { change < 0.0 } else { change > 0.0 };
    (
        change,
        if worse {
            Verdict::Regression
        } else {
            Verdict::Improvement
        },
    )
}

/// Compares two criterion baselines (time per iteration: lower is better).
pub fn compare_criterion(
    base: &std::collections::BTreeMap<String, Estimate>,
    head: &std::collections::BTreeMap<String, Estimate>,
    threshold_pct: f64,
) -> Vec<Comparison> {
    let names: std::collections::BTreeSet<&String> = base.keys().chain(head.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let b = base.get(name);
            let h = head.get(name);
            let (change_pct, verdict) = match (b, h) {
                (Some(b), Some(h)) => {
                    let (c, v) = judge(
                        Point {
                            value: b.mean_ns,
                            interval: caxton_stats::noise_band(&b.per_iteration_ns)
                                .ok()
                                .or(Some(b.interval_ns)),
                        },
                        Point {
                            value: h.mean_ns,
                            interval: caxton_stats::noise_band(&h.per_iteration_ns)
                                .ok()
                                .or(Some(h.interval_ns)),
                        },
                        false,
                        threshold_pct,
                    );
                    (Some(c), v)
                }
                _ => (None, Verdict::Missing),
            };
            Comparison {
                name: name.clone(),
                unit: "ns/iter".to_owned(),
                base: b.map(|e| e.mean_ns),
                head: h.map(|e| e.mean_ns),
                change_pct,
                higher_is_better: false,
                verdict,
            }
        })
        .collect()
}

/// Compares two result sets metric by metric. The direction comes from the
/// targets table when it lists the metric, else from the unit.
pub fn compare_results(
    base: &ResultSet,
    head: &ResultSet,
    targets: Option<&Targets>,
    threshold_pct: f64,
) -> Vec<Comparison> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for m in base.measurements.iter().chain(&head.measurements) {
        if !keys.contains(&m.key()) {
            keys.push(m.key());
        }
    }
    keys.into_iter()
        .map(|key| {
            let b = base.measurements.iter().find(|m| m.key() == key);
            let h = head.measurements.iter().find(|m| m.key() == key);
            let unit = b.or(h).map(|m| m.unit.clone()).unwrap_or_default();
            let higher = targets
                .and_then(|t| t.metrics.get(&key.0))
                .map_or_else(|| higher_is_better(&unit), |t| t.better == Better::Higher);
            // Judge same-run ratios to a reference when both runs have them.
            let by_ratio = matches!((b, h), (Some(b), Some(h))
                if !b.reference_ratios.is_empty() && !h.reference_ratios.is_empty());
            let point = |m: &crate::results::Measurement| {
                if by_ratio {
                    Point {
                        // NaN (not judged) when a ratio is not finite.
                        value: caxton_stats::median(&m.reference_ratios).unwrap_or(f64::NAN),
                        interval: caxton_stats::noise_band(&m.reference_ratios).ok(),
                    }
                } else {
                    Point {
                        value: m.value,
                        interval: caxton_stats::noise_band(&m.samples).ok().or(m.interval),
                    }
                }
            };
            let (change_pct, verdict) = match (b, h) {
                // A non-finite value was not measured: nothing to judge.
                (Some(b), Some(h)) if b.unit == h.unit && point(b).value.is_finite() && point(h).value.is_finite() => {
                    let (c, v) = judge(point(b), point(h), higher, threshold_pct);
                    let flagged = matches!(v, Verdict::Regression | Verdict::Improvement);
                    if flagged && (b.informational || h.informational) {
                        (Some(c), Verdict::WithinNoise)
                    } else {
                        (Some(c), v)
                    }
                }
                _ => (None, Verdict::Missing),
            };
            let reference = b.and_then(|m| m.reference.as_ref()).map(|r| r.name.clone());
            let (name, unit, base_v, head_v) = match (by_ratio, reference) {
                (true, Some(r)) => (
                    format!("{} [{}] ÷ {r}", key.0, key.1),
                    "ratio".to_owned(),
                    b.map(|m| point(m).value),
                    h.map(|m| point(m).value),
                ),
                _ => (
                    format!("{} [{}]", key.0, key.1),
                    unit,
                    b.map(|m| m.value),
                    h.map(|m| m.value),
                ),
            };
            Comparison {
                name,
                unit,
                base: base_v,
                head: head_v,
                change_pct,
                higher_is_better: higher,
                verdict,
            }
        })
        .collect()
}

/// Whether any comparison is a regression.
pub fn has_regression(rows: &[Comparison]) -> bool {
    rows.iter().any(|r| r.verdict == Verdict::Regression)
}

/// A Markdown table of comparisons, for a PR comment.
pub fn markdown(title: &str, rows: &[Comparison], threshold_pct: f64) -> String {
    let mut s = format!(
        "### {title}\n\nThreshold {threshold_pct} %; a change counts only when the two runs' noise bands (5th..95th percentile of their samples) do not overlap.\n\n"
    );
    s.push_str("| benchmark | unit | base | head | change | verdict |\n| --- | --- | ---: | ---: | ---: | --- |\n");
    let fmt = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.4}"));
    for r in rows {
        let verdict = match r.verdict {
            Verdict::Regression => "❌ regression",
            Verdict::Improvement => "✅ improvement",
            Verdict::WithinNoise => "〰️ within noise",
            Verdict::Unchanged => "unchanged",
            Verdict::Missing => "missing or not measured in one run",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.unit,
            fmt(r.base),
            fmt(r.head),
            r.change_pct.map_or("—".to_owned(), |c| format!("{c:+.1} %")),
            verdict
        ));
    }
    let n = rows.iter().filter(|r| r.verdict == Verdict::Regression).count();
    s.push_str(&format!("\n{n} regression(s).\n"));
    s
}
