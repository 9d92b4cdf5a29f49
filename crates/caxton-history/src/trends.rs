//! Figures across runs: the trend pages, the baseline a report compares
//! with, and the regression check (the rule is
//! [`caxton_report::trend`]'s).

use std::collections::BTreeMap;

use caxton_report::compare::Verdict;
use caxton_report::report::{Baseline, BaselineRow};
use caxton_report::results::ResultSet;
use caxton_report::targets::{Better, Targets};
use caxton_report::trend::{Point, Rule, Series, Trends, median_mad};
use caxton_report::units::higher_is_better;

use crate::error::HistoryError;
use crate::store::{FigureRow, Store};

/// Which figures a trend shows.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Only runs of this machine fingerprint (`None`: every machine).
    pub machine: Option<String>,
    /// Only this metric.
    pub metric: Option<String>,
    /// Only runs of this commit (a hash prefix) and later commits.
    pub since: Option<String>,
    /// The regression rule.
    pub rule: Rule,
}

/// Whether larger is better: the targets table's word, else the unit's.
pub fn higher_better(metric: &str, unit: &str, targets: Option<&Targets>) -> bool {
    targets
        .and_then(|t| t.metrics.get(metric))
        .map_or_else(|| higher_is_better(unit), |t| t.better == Better::Higher)
}

/// Groups rows (in commit order) into one series per `metric [variant]`,
/// in order of first appearance, each judged on its newest run.
fn series(rows: Vec<FigureRow>, targets: Option<&Targets>, rule: &Rule) -> Vec<Series> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by_key: BTreeMap<(String, String), Series> = BTreeMap::new();
    for r in rows {
        let key = (r.metric.clone(), r.variant.clone());
        let s = by_key.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Series {
                metric: r.metric.clone(),
                variant: r.variant.clone(),
                unit: r.unit.clone(),
                higher_is_better: higher_better(&r.metric, &r.unit, targets),
                informational: false,
                reference_name: None,
                points: Vec::new(),
                judgement: None,
            }
        });
        s.informational |= r.informational;
        if s.reference_name.is_none() {
            s.reference_name = r.reference_name.clone();
        }
        if r.unit != s.unit {
            continue;
        }
        let commit = r.commit.as_deref().map_or(String::new(), |c| {
            format!(
                "{}{}",
                c.chars().take(8).collect::<String>(),
                if r.dirty { "+" } else { "" }
            )
        });
        s.points.push(Point {
            run: r.run,
            commit,
            date: r.started_at.clone(),
            value: r.value.unwrap_or(f64::NAN),
            band: r.band,
            reference: r.reference_value,
            ratio: r.ratio,
        });
    }
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .map(|mut s| {
            judge_newest_run(&mut s, rule);
            s
        })
        .collect()
}

/// Judges the series' newest *run* (highest id) against the runs recorded
/// before it, whatever their commit order.
fn judge_newest_run(s: &mut Series, rule: &Rule) {
    let mut by_run = s.clone();
    by_run.points.sort_by_key(|p| p.run);
    by_run.judge(rule);
    s.judgement = by_run.judgement;
}

/// Resolves `since` (a commit hash prefix) to a commit time: from the
/// store, else from the git checkout.
fn since_time(store: &mut Store, since: &str) -> Result<String, HistoryError> {
    if let Some(t) = store.commit_time(since)? {
        return Ok(t);
    }
    let out = std::process::Command::new("git")
        .args(["show", "-s", "--format=%ct", since])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok());
    out.map(crate::provenance::iso8601).ok_or_else(|| {
        HistoryError::NotFound(format!(
            "--since {since}: no run of the history has that commit, and git does not know it"
        ))
    })
}

/// The trends the query asks for.
pub fn trends(store: &mut Store, q: &Query, targets: Option<&Targets>) -> Result<Trends, HistoryError> {
    let since = match &q.since {
        Some(c) => Some(since_time(store, c)?),
        None => None,
    };
    let rows = store.figures(q.machine.as_deref(), q.metric.as_deref(), since.as_deref())?;
    let runs = {
        let mut ids: Vec<i64> = rows.iter().map(|r| r.run).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let series = series(rows, targets, &q.rule);
    Ok(Trends {
        title: "Caxton trends".to_owned(),
        description: format!(
            "{} figure(s) over {runs} run(s) from {}{}{}, in commit order.",
            series.len(),
            store.location().describe(),
            q.machine
                .as_ref()
                .map_or(" (every machine)".to_owned(), |m| format!(", machine {m}")),
            q.since
                .as_ref()
                .map_or(String::new(), |c| format!(", since commit {c}")),
        ),
        rule: q.rule,
        series,
    })
}

/// The baseline for the report of run `run` (just recorded) on `machine`:
/// each of its figures against the earlier runs of that machine, and their
/// trends for the page.
pub fn baseline(
    store: &mut Store,
    machine: &str,
    run: i64,
    results: &ResultSet,
    rule: &Rule,
    targets: Option<&Targets>,
) -> Result<(Baseline, Trends), HistoryError> {
    let q = Query {
        machine: Some(machine.to_owned()),
        rule: *rule,
        ..Query::default()
    };
    let mut trends = trends(store, &q, targets)?;
    let keys: Vec<(String, String)> = results.measurements.iter().map(|m| m.key()).collect();
    trends
        .series
        .retain(|s| keys.contains(&(s.metric.clone(), s.variant.clone())) && s.points.len() > 1);
    let mut rows = BTreeMap::new();
    for s in &trends.series {
        let mut earlier: Vec<&Point> = s.points.iter().filter(|p| p.run < run).collect();
        if earlier.is_empty() || !s.points.iter().any(|p| p.run == run) {
            continue;
        }
        earlier.sort_by_key(|p| p.run);
        let window = &earlier[earlier.len().saturating_sub(rule.window)..];
        let values: Vec<f64> = window.iter().map(|p| p.value).collect();
        let j = s.judgement;
        rows.insert(
            (s.metric.clone(), s.variant.clone()),
            BaselineRow {
                value: median_mad(&values).map(|(m, _)| m),
                change_pct: j.and_then(|j| j.change_pct),
                by_ratio: j.is_some_and(|j| j.by_ratio),
                verdict: j.map_or(Verdict::Missing, |j| j.verdict),
                history: earlier.iter().rev().take(20).rev().map(|p| p.value).collect(),
            },
        );
    }
    let baseline = Baseline {
        description: format!(
            "the history of this machine ({}; rule: {})",
            store.location().describe(),
            rule.describe()
        ),
        rows,
    };
    Ok((baseline, trends))
}

/// The regression check: the newest run of `machine` against the runs
/// before it. Returns the run's id and every series it has a figure in,
/// judged; `None` when the machine has no run.
pub fn check(
    store: &mut Store,
    machine: &str,
    rule: &Rule,
    targets: Option<&Targets>,
) -> Result<Option<(i64, Trends)>, HistoryError> {
    let Some(newest) = store.list(Some(machine), 1)?.first().map(|r| r.id) else {
        return Ok(None);
    };
    let q = Query {
        machine: Some(machine.to_owned()),
        rule: *rule,
        ..Query::default()
    };
    let mut t = trends(store, &q, targets)?;
    t.series.retain(|s| s.points.iter().any(|p| p.run == newest));
    t.title = format!("Caxton history check: run {newest}");
    Ok(Some((newest, t)))
}

/// A sparkline of the last `last` runs of each figure (of `machine`, or
/// every machine), keyed by `(metric, variant)`: the trend column a PR
/// comment adds beside a base-vs-head table.
pub fn sparklines(
    store: &mut Store,
    machine: Option<&str>,
    last: usize,
) -> Result<BTreeMap<(String, String), String>, HistoryError> {
    let q = Query {
        machine: machine.map(str::to_owned),
        ..Query::default()
    };
    let t = trends(store, &q, None)?;
    Ok(t.series
        .into_iter()
        .map(|s| {
            let values: Vec<f64> = s.points.iter().rev().take(last).rev().map(|p| p.value).collect();
            ((s.metric, s.variant), caxton_report::trend::sparkline(&values))
        })
        .collect())
}
