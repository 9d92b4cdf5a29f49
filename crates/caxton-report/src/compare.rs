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
    /// Head / base of each interleaved round (base and head measured back
    /// to back); empty for a comparison of two single runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratios: Vec<f64>,
    /// Why the row is shown but not judged (its figure depends on code
    /// layout, or the run marked it informational); `None` when judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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
                ratios: Vec::new(),
                note: None,
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
                ratios: Vec::new(),
                note: None,
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
    let paired = rows.iter().any(|r| !r.ratios.is_empty());
    let mut s = if paired {
        format!("### {title}\n\nThreshold {threshold_pct} %. ")
    } else {
        format!(
            "### {title}\n\nThreshold {threshold_pct} %; a change counts only when the two runs' noise bands (5th..95th percentile of their samples) do not overlap.\n\n"
        )
    };
    if paired {
        s.push_str(PAIRED_RULE);
        s.push_str("| benchmark | unit | base | head | change | head / base per round | verdict |\n| --- | --- | ---: | ---: | ---: | --- | --- |\n");
    } else {
        s.push_str("| benchmark | unit | base | head | change | verdict |\n| --- | --- | ---: | ---: | ---: | --- |\n");
    }
    let fmt = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.4}"));
    for r in rows {
        let verdict = match (&r.note, r.verdict) {
            (Some(note), _) => format!("ℹ️ not judged: {note}"),
            (None, Verdict::Regression) => "❌ regression".to_owned(),
            (None, Verdict::Improvement) => "✅ improvement".to_owned(),
            (None, Verdict::WithinNoise) => "〰️ within noise".to_owned(),
            (None, Verdict::Unchanged) => "unchanged".to_owned(),
            (None, Verdict::Missing) => "missing or not measured in one run".to_owned(),
        };
        let rounds = if paired {
            let list: Vec<String> = r.ratios.iter().map(|x| format!("{x:.3}")).collect();
            format!(" {} |", list.join(", "))
        } else {
            String::new()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |{rounds} {} |\n",
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

/// How the interleaved comparison judges, as the Markdown report states it.
const PAIRED_RULE: &str = "Interleaved: base and head measured in alternating rounds on the same machine (base, head, then head, base, ...); each round's head / base is a paired ratio, so the machine's drift between minutes cancels. Base and head are paired step by step (suite) or benchmark by benchmark (criterion), seconds apart. The change is the median ratio; a row is flagged only when the median ratio is past the threshold *and* the rounds lean that way beyond chance: an exact one-sided sign test with p <= 0.05 (5 of 5 rounds, 6 of 6, 7 of 7, 7 of 8, 8 of 9, ...), *and* the change stands out of the spread of the ratios themselves (|ln median ratio| above the robust standard deviation of the ratios' logs), *and* it survives Holm's correction over every row judged here (the one-sided paired t-test of the ratios' logs, with a 5 % chance of even one false alarm in the whole comparison). Base and head are the medians of their rounds; a criterion round's figure is its fastest sample's time per iteration.\n\n";

/// Fewest interleaved rounds a comparison takes: with fewer, no row could
/// pass the sign test ([`SIGN_TEST_ALPHA`]) and nothing could be flagged.
pub const MIN_ROUNDS: usize = 5;

/// The sign test's level: a row is flagged only when the chance of so many
/// rounds leaning its way with no change is at most this (one-sided).
pub const SIGN_TEST_ALPHA: f64 = 0.05;

/// How far past the spread of its paired ratios ([`ratio_spread`]) a row's
/// change must be to be flagged: `|ln(median ratio)| > NOISE_K * spread`.
pub const NOISE_K: f64 = 1.0;

/// Whether a change to `median_ratio` stands out of the spread of the
/// paired `ratios` it is the median of (see [`NOISE_K`]).
pub fn stands_out(median_ratio: f64, ratios: &[f64]) -> bool {
    median_ratio.ln().abs() > NOISE_K * ratio_spread(ratios)
}

/// The spread of paired ratios: the robust standard deviation (1.4826 x
/// the median absolute deviation) of their logs. Pairs that agree (1.18,
/// 1.25, 1.20, 1.15, 1.30) give a narrow spread, so their change stands
/// out; a row whose pairs swing (1.31, 1.16, 1.08, 1.87, 7.77: a fan-out on
/// a machine whose cross-core speed flips within a pair) a wide one, so a
/// median pulled past the threshold by the swing is not a change. Drift
/// between rounds does not widen it: each ratio is taken within a pair.
pub fn ratio_spread(ratios: &[f64]) -> f64 {
    let logs: Vec<f64> = ratios
        .iter()
        .filter(|r| r.is_finite() && **r > 0.0)
        .map(|r| r.ln())
        .collect();
    let Ok(mid) = caxton_stats::median(&logs) else {
        return 0.0;
    };
    let deviations: Vec<f64> = logs.iter().map(|l| (l - mid).abs()).collect();
    caxton_stats::median(&deviations).map_or(0.0, |mad| 1.4826 * mad)
}

/// Why a row's figure cannot be judged between two builds: it depends on
/// code layout (where the linker put a tight loop), which moves from build
/// to build with unrelated changes, so interleaving the runs does not
/// cancel it. `None` for rows the gate judges.
pub fn layout_note(name: &str) -> Option<&'static str> {
    if name.starts_with("wasm_overhead") {
        Some(
            "WASM time / native time: the native kernel's speed moves with code layout from build to \
             build (+46 % on an unrelated change), which interleaving cannot cancel",
        )
    } else if name.starts_with("latency_handler/direct") {
        Some("a bare function call: its speed moves with code layout from build to build")
    } else {
        None
    }
}

/// One row's value in one run, as the interleaved comparison reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct RowValue {
    /// The figure (a time, a rate, or a ratio to a same-run reference).
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
    /// Why the row is shown but not judged, if it is not.
    pub note: Option<String>,
}

/// Every row of one run, by name.
pub type Run = std::collections::BTreeMap<String, RowValue>;

/// Judges one row from its paired ratios (head / base of each round): the
/// change is the median ratio; flagged only past `threshold_pct` when the
/// rounds lean the median's way beyond chance (exact sign test at
/// [`SIGN_TEST_ALPHA`], so at least [`MIN_ROUNDS`] rounds), every round has
/// a usable ratio, and the change stands out of the spread of the ratios
/// themselves ([`ratio_spread`]) by [`NOISE_K`].
/// Returns the change in percent (NaN with no usable ratio).
pub fn judge_paired(ratios: &[f64], higher_better: bool, threshold_pct: f64) -> (f64, Verdict) {
    let usable: Vec<f64> = ratios.iter().copied().filter(|r| r.is_finite() && *r > 0.0).collect();
    let Ok(median) = caxton_stats::median(&usable) else {
        return (f64::NAN, Verdict::Missing);
    };
    let change = (median - 1.0) * 100.0;
    if change.abs() < threshold_pct {
        return (change, Verdict::Unchanged);
    }
    let slower = |r: f64| if higher_better { r < 1.0 } else { r > 1.0 };
    let worse = slower(median);
    let leaning = usable.iter().filter(|r| slower(**r) == worse && **r != 1.0).count();
    let consistent =
        usable.len() == ratios.len() && caxton_stats::sign_test_p(leaning, usable.len()) <= SIGN_TEST_ALPHA;
    let above_noise = stands_out(median, &usable);
    if usable.len() < MIN_ROUNDS || !consistent || !above_noise {
        return (change, Verdict::WithinNoise);
    }
    (
        change,
        if worse {
            Verdict::Regression
        } else {
            Verdict::Improvement
        },
    )
}

/// Compares interleaved rounds: `base[i]` and `head[i]` were measured back
/// to back, in alternation. Each row is judged on its paired ratios
/// ([`judge_paired`]), and a flagged row must also survive the correction
/// for judging many rows at once (`hold_family_wise`); rows with a note are
/// shown, not judged.
pub fn compare_rounds(base: &[Run], head: &[Run], threshold_pct: f64) -> Vec<Comparison> {
    let names: std::collections::BTreeSet<&String> = base.iter().chain(head).flat_map(|r| r.keys()).collect();
    let rounds = base.len().min(head.len());
    let mut rows: Vec<Comparison> = names
        .into_iter()
        .map(|name| {
            let pairs: Vec<(&RowValue, &RowValue)> = (0..rounds)
                .filter_map(|i| Some((base[i].get(name)?, head[i].get(name)?)))
                .collect();
            let first = pairs
                .first()
                .map(|p| p.0)
                .or_else(|| base.iter().chain(head).find_map(|r| r.get(name)));
            let unit = first.map(|v| v.unit.clone()).unwrap_or_default();
            let higher = first.is_some_and(|v| v.higher_is_better);
            let note = pairs
                .iter()
                .find_map(|(b, h)| b.note.clone().or_else(|| h.note.clone()))
                .or_else(|| layout_note(name).map(str::to_owned));
            let med = |vals: Vec<f64>| caxton_stats::median(&vals).ok();
            let base_v = med(pairs.iter().map(|p| p.0.value).collect());
            let head_v = med(pairs.iter().map(|p| p.1.value).collect());
            let ratios: Vec<f64> = pairs.iter().map(|(b, h)| h.value / b.value).collect();
            let (change, verdict) = if pairs.len() < rounds || pairs.is_empty() {
                (f64::NAN, Verdict::Missing)
            } else {
                judge_paired(&ratios, higher, threshold_pct)
            };
            let verdict = match (&note, verdict) {
                (Some(_), Verdict::Regression | Verdict::Improvement) => Verdict::WithinNoise,
                (_, v) => v,
            };
            Comparison {
                name: name.clone(),
                unit,
                base: base_v,
                head: head_v,
                change_pct: change.is_finite().then_some(change),
                higher_is_better: higher,
                verdict,
                ratios,
                note,
            }
        })
        .collect();
    hold_family_wise(&mut rows);
    rows
}

/// The chance of even one false alarm among all the rows of a comparison
/// (see [`family_wise`]).
pub const FAMILY_ALPHA: f64 = 0.05;

/// The one-sided paired t-test p of each judged row in the direction of
/// its own median change (`None` for a row not judged); see
/// [`hold_family_wise`].
pub fn family_wise(rows: &[Comparison]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| {
            if r.note.is_some() || r.verdict == Verdict::Missing || r.ratios.len() < 2 {
                return None;
            }
            let logs: Vec<f64> = r.ratios.iter().map(|x| x.ln()).collect();
            let median = caxton_stats::median(&r.ratios).ok()?;
            Some(caxton_stats::paired_t_p(&logs, median > 1.0))
        })
        .collect()
}

/// A comparison judges dozens of rows at once, so a per-row test at 5 %
/// raises a false alarm in most comparisons of an unchanged build (seen
/// here: 3 in 10 A/A comparisons). A flagged row therefore also has to
/// survive Holm's correction over every judged row of the comparison: the
/// paired t-test of its log ratios, at [`FAMILY_ALPHA`] for the whole
/// comparison. Rows that fail it read "within noise".
fn hold_family_wise(rows: &mut [Comparison]) {
    let (judged, judged_ps): (Vec<usize>, Vec<f64>) = family_wise(rows)
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p?)))
        .unzip();
    let kept = caxton_stats::holm(&judged_ps, FAMILY_ALPHA);
    for (&i, keep) in judged.iter().zip(kept) {
        if !keep && matches!(rows[i].verdict, Verdict::Regression | Verdict::Improvement) {
            rows[i].verdict = Verdict::WithinNoise;
        }
    }
}

/// A result set as one run of the interleaved comparison: a metric with
/// same-run reference ratios is read as the median ratio (so the machine's
/// speed cancels within the run as well), any other as its value. The
/// direction comes from the targets table, else from the unit.
pub fn results_run(set: &ResultSet, targets: Option<&Targets>) -> Run {
    set.measurements
        .iter()
        .map(|m| {
            let higher = targets
                .and_then(|t| t.metrics.get(&m.metric))
                .map_or_else(|| higher_is_better(&m.unit), |t| t.better == Better::Higher);
            let note = m
                .informational
                .then(|| "informational in the results (e.g. a third busy thread on two cores)".to_owned());
            let by_ratio = match (&m.reference, caxton_stats::median(&m.reference_ratios)) {
                (Some(r), Ok(ratio)) => Some((r.name.clone(), ratio)),
                _ => None,
            };
            match by_ratio {
                Some((reference, ratio)) => (
                    format!("{} [{}] ÷ {reference}", m.metric, m.variant),
                    RowValue {
                        value: ratio,
                        unit: "ratio".to_owned(),
                        higher_is_better: higher,
                        note,
                    },
                ),
                None => (
                    format!("{} [{}]", m.metric, m.variant),
                    RowValue {
                        value: m.value,
                        unit: m.unit.clone(),
                        higher_is_better: higher,
                        note,
                    },
                ),
            }
        })
        .collect()
}

/// The member of a criterion group that is its raw-tokio reference.
pub const RAW_REFERENCE: &str = "raw_tokio";

/// A criterion baseline as one run of the interleaved comparison: the time
/// per iteration of its fastest sample (lower is better; the median when
/// the samples are not on disk). On a shared machine the noise a sample
/// picks up (preemption, another process's cache traffic, a migration) only
/// ever adds time, so the fastest sample is the one least disturbed and the
/// steadiest estimate of the code's own time (Chen & Revels, "Robust
/// benchmarking in noisy environments", 2016): on this 2-core VM under
/// compile load, request/reply's paired ratios read 0.99-1.05 on it against
/// 0.21-1.28 on the median. In a group that has a
/// [`RAW_REFERENCE`] member, every other member is read as its time ÷ the
/// reference's time in the same run, as the suite judges its figures; there
/// only Caxton's own members (named `caxton...`) are judged: the reference
/// and the other frameworks run no Caxton code, so their swings are the
/// machine's and are shown, not judged.
pub fn criterion_run(estimates: &std::collections::BTreeMap<String, Estimate>) -> Run {
    let time = |e: &Estimate| {
        let fastest = e
            .per_iteration_ns
            .iter()
            .copied()
            .filter(|t| *t > 0.0)
            .fold(f64::INFINITY, f64::min);
        if fastest.is_finite() {
            fastest
        } else {
            e.median_ns.map_or(e.mean_ns, |m| m.0)
        }
    };
    estimates
        .iter()
        .map(|(id, e)| {
            let mut parts = id.split('/');
            let group = parts.next().unwrap_or(id);
            let function = parts.next().unwrap_or_default();
            let reference = format!("{group}/{RAW_REFERENCE}");
            let referenced = estimates.get(&reference).filter(|r| time(r) > 0.0);
            let note = match (referenced, function) {
                (None, _) => None,
                (Some(_), RAW_REFERENCE) => Some(
                    "the same-run reference (raw tokio): no Caxton code runs in it, so its swings are the machine's"
                        .to_owned(),
                ),
                (Some(_), f) if !f.starts_with("caxton") => {
                    Some("another framework, shown for comparison: no Caxton code runs in it".to_owned())
                }
                (Some(_), _) => None,
            };
            match referenced {
                Some(r) if *id != reference => (
                    format!("{id} ÷ {reference}"),
                    RowValue {
                        value: time(e) / time(r),
                        unit: "ratio".to_owned(),
                        higher_is_better: false,
                        note,
                    },
                ),
                _ => (
                    id.clone(),
                    RowValue {
                        value: time(e),
                        unit: "ns/iter".to_owned(),
                        higher_is_better: false,
                        note,
                    },
                ),
            }
        })
        .collect()
}

/// What a gate self-check expects of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A/A: the same code on both sides; every flag is a false alarm.
    Same,
    /// The head carries a planted slowdown; a row slowed past the
    /// threshold (its median paired ratio) should be flagged.
    Slower,
}

/// The self-check's tally of one comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfCheck {
    /// Rows judged (no note, measured on both sides).
    pub judged: usize,
    /// Rows flagged (regressions and improvements).
    pub flagged: usize,
    /// Of those, the regressions (what fails the gate).
    pub regressions: usize,
    /// Rows whose median paired change was past the threshold in the
    /// slower direction.
    pub slowed_past_threshold: usize,
    /// Of those, the rows whose change also stands out of the spread of
    /// their paired ratios ([`ratio_spread`]): slowdowns the rounds resolve.
    pub resolved: usize,
    /// Of the slowed rows, those flagged as regressions.
    pub caught: usize,
    /// Names of the slowed rows the gate did not flag.
    pub missed: Vec<String>,
}

impl SelfCheck {
    /// Tallies `rows` for `threshold_pct`.
    pub fn tally(rows: &[Comparison], threshold_pct: f64) -> Self {
        let judged: Vec<&Comparison> = rows
            .iter()
            .filter(|r| r.note.is_none() && r.verdict != Verdict::Missing)
            .collect();
        let slowed: Vec<&&Comparison> = judged
            .iter()
            .filter(|r| {
                r.change_pct.is_some_and(|c| {
                    let slower = if r.higher_is_better { -c } else { c };
                    slower >= threshold_pct
                })
            })
            .collect();
        Self {
            judged: judged.len(),
            flagged: judged
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Regression | Verdict::Improvement))
                .count(),
            regressions: judged.iter().filter(|r| r.verdict == Verdict::Regression).count(),
            slowed_past_threshold: slowed.len(),
            resolved: slowed
                .iter()
                .filter(|r| r.change_pct.is_some_and(|c| stands_out(1.0 + c / 100.0, &r.ratios)))
                .count(),
            caught: slowed.iter().filter(|r| r.verdict == Verdict::Regression).count(),
            missed: slowed
                .iter()
                .filter(|r| r.verdict != Verdict::Regression)
                .map(|r| r.name.clone())
                .collect(),
        }
    }

    /// One line for the self-check's output.
    pub fn line(&self, expect: Expect) -> String {
        match expect {
            Expect::Same => format!(
                "A/A: {} row(s) judged, {} flagged (false alarms: {}, of which regressions: {})",
                self.judged, self.flagged, self.flagged, self.regressions
            ),
            Expect::Slower => {
                let mut s = format!(
                    "planted slowdown: {} row(s) judged; {} slowed past the threshold ({} of them beyond the spread of their paired ratios), {} of them flagged (sensitivity {})",
                    self.judged,
                    self.slowed_past_threshold,
                    self.resolved,
                    self.caught,
                    if self.slowed_past_threshold == 0 {
                        "n/a".to_owned()
                    } else {
                        format!(
                            "{:.0} %",
                            self.caught as f64 / self.slowed_past_threshold as f64 * 100.0
                        )
                    }
                );
                if !self.missed.is_empty() {
                    s.push_str(&format!("; missed: {}", self.missed.join(", ")));
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rows: &[(&str, f64)]) -> Run {
        rows.iter()
            .map(|(n, v)| {
                (
                    (*n).to_owned(),
                    RowValue {
                        value: *v,
                        unit: "ns/iter".to_owned(),
                        higher_is_better: false,
                        note: None,
                    },
                )
            })
            .collect()
    }

    /// Rounds of one row: the machine's speed per round, and head's factor
    /// over base in each round.
    fn rounds(speed: &[f64], factor: &[f64]) -> (Vec<Run>, Vec<Run>) {
        let base = speed.iter().map(|s| run(&[("route", 100.0 * s)])).collect();
        let head = speed
            .iter()
            .zip(factor)
            .map(|(s, f)| run(&[("route", 100.0 * s * f)]))
            .collect();
        (base, head)
    }

    #[test]
    fn drift_between_rounds_cancels_in_the_paired_ratios() {
        // A/A on a machine whose speed flips 2x between rounds: the medians
        // of base and head differ little, and every pair is close to 1.
        let (base, head) = rounds(&[1.0, 2.0, 1.5, 0.6, 1.1], &[1.02, 0.97, 1.01, 1.04, 0.99]);
        let rows = compare_rounds(&base, &head, 10.0);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].verdict, Verdict::Unchanged, "{rows:?}");
        assert_eq!(rows[0].ratios.len(), 5);
        assert!(!has_regression(&rows));
        assert_eq!(SelfCheck::tally(&rows, 10.0).flagged, 0);
    }

    #[test]
    fn a_planted_slowdown_is_flagged_whatever_the_drift() {
        let (base, head) = rounds(&[1.0, 2.0, 0.7, 1.3, 0.9], &[1.18, 1.25, 1.2, 1.15, 1.3]);
        let rows = compare_rounds(&base, &head, 10.0);
        assert_eq!(rows[0].verdict, Verdict::Regression, "{rows:?}");
        assert!(has_regression(&rows));
        let tally = SelfCheck::tally(&rows, 10.0);
        assert_eq!((tally.slowed_past_threshold, tally.caught), (1, 1));
        assert!(tally.line(Expect::Slower).contains("sensitivity 100 %"));
    }

    #[test]
    fn a_round_pointing_the_other_way_is_noise_not_a_regression() {
        // 4 of 5 rounds slower: p = 6/32 > 0.05.
        let (base, head) = rounds(&[1.0; 5], &[1.3, 0.95, 1.4, 1.2, 1.5]);
        let rows = compare_rounds(&base, &head, 10.0);
        assert_eq!(rows[0].verdict, Verdict::WithinNoise, "{rows:?}");
        // The self-check counts it as a slowed row the gate missed.
        let tally = SelfCheck::tally(&rows, 10.0);
        assert_eq!((tally.slowed_past_threshold, tally.caught), (1, 0));
        assert_eq!(tally.missed, vec!["route".to_owned()]);
    }

    #[test]
    fn pairs_that_swing_more_than_they_lean_are_noise() {
        // Every round slower, median +31 %, but the pairs themselves swing
        // from 1.08 to 7.8 (seen in an A/A comparison here): not a change.
        let (base, head) = rounds(&[1.0; 5], &[1.31, 1.16, 1.08, 1.87, 7.77]);
        assert_eq!(compare_rounds(&base, &head, 10.0)[0].verdict, Verdict::WithinNoise);
        assert!(ratio_spread(&[1.31, 1.16, 1.08, 1.87, 7.77]) > 1.31f64.ln());
        assert!(ratio_spread(&[1.18, 1.25, 1.2, 1.15, 1.3]) < 1.18f64.ln());
    }

    /// Rounds of 30 rows: `odd` (its head factors) beside 29 rows that
    /// wobble a few per cent either way.
    fn many_rows(odd: &[f64]) -> (Vec<Run>, Vec<Run>) {
        let wobble = [1.02, 0.97, 1.01, 0.99, 1.03];
        let rows = |r: usize, head: bool| {
            let mut rows: Vec<(String, f64)> = (0..29)
                .map(|i| {
                    (
                        format!("row{i:02}"),
                        if head { 100.0 * wobble[(r + i) % 5] } else { 100.0 },
                    )
                })
                .collect();
            rows.push(("odd".to_owned(), if head { 100.0 * odd[r] } else { 100.0 }));
            rows
        };
        let mk = |v: Vec<(String, f64)>| run(&v.iter().map(|(n, x)| (n.as_str(), *x)).collect::<Vec<_>>());
        let base = (0..odd.len()).map(|r| mk(rows(r, false))).collect();
        let head = (0..odd.len()).map(|r| mk(rows(r, true))).collect();
        (base, head)
    }

    #[test]
    fn among_many_rows_a_row_that_only_leans_by_chance_is_not_flagged() {
        // An A/A row seen here: every round slower, median +31 %, and the
        // ratios spread less than that, so alone it is flagged.
        let aa = [1.33, 1.43, 1.31, 1.06, 1.04];
        let (base, head) = rounds(&[1.0; 5], &aa);
        assert_eq!(compare_rounds(&base, &head, 10.0)[0].verdict, Verdict::Regression);
        // Judged with 29 other rows, the correction for judging 30 at once
        // holds it: its paired t p (about 0.02) is far above 0.05 / 30.
        let (base, head) = many_rows(&aa);
        let rows = compare_rounds(&base, &head, 10.0);
        let odd = rows.iter().find(|r| r.name == "odd").unwrap();
        assert_eq!(odd.verdict, Verdict::WithinNoise, "{odd:?}");
        assert!(!has_regression(&rows));
        // A consistent slowdown (the planted allocation's row) still is.
        let (base, head) = many_rows(&[1.22, 1.18, 1.2, 1.3, 1.2]);
        let rows = compare_rounds(&base, &head, 10.0);
        let odd = rows.iter().find(|r| r.name == "odd").unwrap();
        assert_eq!(odd.verdict, Verdict::Regression, "{odd:?}");
        assert_eq!(rows.iter().filter(|r| r.verdict == Verdict::Regression).count(), 1);
    }

    #[test]
    fn fewer_than_five_rounds_are_never_flagged() {
        let (base, head) = rounds(&[1.0; 4], &[1.5; 4]);
        assert_eq!(compare_rounds(&base, &head, 10.0)[0].verdict, Verdict::WithinNoise);
    }

    #[test]
    fn with_more_rounds_one_contrary_round_is_allowed() {
        // 7 of 8 rounds slower: p = 9/256 <= 0.05.
        let (base, head) = rounds(&[1.0; 8], &[1.3, 0.95, 1.4, 1.2, 1.5, 1.25, 1.3, 1.2]);
        assert_eq!(compare_rounds(&base, &head, 10.0)[0].verdict, Verdict::Regression);
    }

    #[test]
    fn layout_dependent_rows_are_shown_with_their_reason_not_judged() {
        let mk = |v: f64| run(&[("wasm_overhead [compute kernel parse]", v)]);
        let base = vec![mk(1.0); 5];
        let head = vec![mk(1.5); 5];
        let rows = compare_rounds(&base, &head, 10.0);
        assert_eq!(rows[0].verdict, Verdict::WithinNoise);
        assert!(rows[0].note.as_deref().is_some_and(|n| n.contains("code layout")));
        assert!(!has_regression(&rows));
        let md = markdown("t", &rows, 10.0);
        assert!(md.contains("not judged") && md.contains("code layout"), "{md}");
        assert_eq!(SelfCheck::tally(&rows, 10.0).judged, 0);
    }

    #[test]
    fn a_criterion_round_is_read_at_its_fastest_sample() {
        let est = |samples: Vec<f64>| Estimate {
            mean_ns: 500.0,
            interval_ns: (400.0, 600.0),
            median_ns: Some((450.0, (400.0, 500.0))),
            per_iteration_ns: samples,
        };
        let baseline: std::collections::BTreeMap<String, Estimate> = [
            ("g/disturbed".to_owned(), est(vec![900.0, 310.0, 300.0, 2000.0])),
            ("g/no_samples".to_owned(), est(Vec::new())),
        ]
        .into_iter()
        .collect();
        let r = criterion_run(&baseline);
        assert_eq!(r["g/disturbed"].value, 300.0);
        assert_eq!(r["g/no_samples"].value, 450.0);
    }

    #[test]
    fn criterion_groups_with_raw_tokio_are_read_as_ratios_to_it() {
        let est = |ns: f64| Estimate {
            mean_ns: ns,
            interval_ns: (ns, ns),
            median_ns: Some((ns, (ns, ns))),
            per_iteration_ns: Vec::new(),
        };
        let baseline: std::collections::BTreeMap<String, Estimate> = [
            ("peers_fanout/raw_tokio".to_owned(), est(100.0)),
            ("peers_fanout/caxton".to_owned(), est(150.0)),
            ("peers_fanout/kameo".to_owned(), est(180.0)),
            ("throughput_pool/native_10_workers/1000".to_owned(), est(7.0)),
        ]
        .into_iter()
        .collect();
        let r = criterion_run(&baseline);
        let ratio = &r["peers_fanout/caxton ÷ peers_fanout/raw_tokio"];
        assert_eq!((ratio.value, ratio.unit.as_str()), (1.5, "ratio"));
        assert_eq!(ratio.note, None);
        // The reference and the other frameworks are shown, not judged.
        assert_eq!(r["peers_fanout/raw_tokio"].value, 100.0);
        assert!(r["peers_fanout/raw_tokio"].note.is_some());
        assert!(r["peers_fanout/kameo ÷ peers_fanout/raw_tokio"].note.is_some());
        assert_eq!(r["throughput_pool/native_10_workers/1000"].unit, "ns/iter");
        assert_eq!(r["throughput_pool/native_10_workers/1000"].note, None);
    }
}
