//! Report writers: Markdown, CSV, JSON and a self-contained HTML page.
//!
//! The Markdown and HTML reports follow the seed's format: the date
//! (ISO 8601), the commit and the environment first; then a summary (all
//! targets met or which are not; how many regressions and improvements
//! against the baseline or the history, with the largest changes); then one
//! table per category (metric) with the baseline, the current value and the
//! change. What the run itself cannot know (commit, environment, the
//! baseline from history, whether history was recorded) comes in a
//! [`Context`]; [`Context::default`] gives a report of the run alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compare::Verdict;
use crate::grade::{Graded, Tier};
use crate::html::esc;
use crate::results::ResultSet;
use crate::trend::{Trends, sparkline, verdict_cell};

pub use crate::fmt::{fmt_value, iso8601};

fn tier_cell(g: &Graded) -> &'static str {
    if g.tier.is_some() && !g.measurement.value.is_finite() {
        return "🔴 not measured";
    }
    match g.tier {
        Some(Tier::Target) => "🟢 target",
        Some(Tier::Acceptable) => "🟡 acceptable",
        Some(Tier::Critical) => "🟠 critical",
        Some(Tier::Failing) => "🔴 failing",
        None => "—",
    }
}

fn reference_cell(g: &Graded) -> String {
    g.measurement.reference.as_ref().map_or(String::new(), |r| {
        let ratio = g.measurement.value / r.value;
        if ratio.is_finite() {
            format!("{} {} ({ratio:.2}x)", r.name, fmt_value(r.value))
        } else {
            format!("{} {}", r.name, fmt_value(r.value))
        }
    })
}

/// The warning a partial result set's reports open with.
pub fn partial_banner(results: &ResultSet) -> Option<String> {
    results.partial.then(|| {
        "PARTIAL RESULTS: the run was interrupted before it finished. Only the \
         measurements below were taken; every metric it did not reach is listed as \
         `not measured` and graded failing, so this run is not a pass."
            .to_owned()
    })
}

/// What a report says beyond the run itself.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The commit measured (as `git rev-parse HEAD` prints it).
    pub commit: Option<String>,
    /// Its branch.
    pub branch: Option<String>,
    /// The work tree had uncommitted changes.
    pub dirty: bool,
    /// Environment facts (e.g. `("cpu", "...")`, `("toolchain", "rustc 1.95.0")`),
    /// shown in this order after the run's cores and OS.
    pub environment: Vec<(String, String)>,
    /// What the current values are compared with.
    pub baseline: Option<Baseline>,
    /// Lines for the summary (e.g. where the run was recorded, or that the
    /// history was not recorded and why).
    pub notes: Vec<String>,
    /// Each figure across earlier runs, drawn in the HTML page.
    pub trends: Option<Trends>,
}

/// The values a run is compared with.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// What the baseline is, e.g. "the median of the last 10 runs on this
    /// machine (history)".
    pub description: String,
    /// By `(metric, variant)`.
    pub rows: BTreeMap<(String, String), BaselineRow>,
}

/// One figure's baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineRow {
    /// The baseline value (same unit as the measurement).
    pub value: Option<f64>,
    /// The change the verdict was made on, in percent.
    pub change_pct: Option<f64>,
    /// Judged by the ratio to the same-run reference rather than the value.
    pub by_ratio: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// Earlier values, oldest first, for the trend column.
    pub history: Vec<f64>,
}

/// The metrics (categories) in order of first appearance.
fn categories(graded: &[Graded]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for g in graded {
        if !out.contains(&g.measurement.metric.as_str()) {
            out.push(&g.measurement.metric);
        }
    }
    out
}

/// The header facts: date, commit, source; environment.
fn header(results: &ResultSet, ctx: &Context) -> (String, String) {
    let commit = match &ctx.commit {
        Some(c) => format!(
            "{}{}{}",
            c.chars().take(12).collect::<String>(),
            ctx.branch.as_ref().map_or(String::new(), |b| format!(" on {b}")),
            if ctx.dirty { " (uncommitted changes)" } else { "" }
        ),
        None => "unknown (not a git checkout)".to_owned(),
    };
    let first = format!(
        "Date: {} · Commit: {commit} · Source: {}",
        iso8601(results.finished_at_unix),
        results.source
    );
    let mut env = vec![format!("{} cores", results.machine.cores), results.machine.os.clone()];
    env.extend(ctx.environment.iter().map(|(k, v)| format!("{k}: {v}")));
    (first, format!("Environment: {}", env.join(" · ")))
}

/// The summary lines: targets met or not, regressions and improvements,
/// the largest changes, then the context's notes.
fn summary(graded: &[Graded], ctx: &Context) -> Vec<String> {
    let mut lines = Vec::new();
    let graded_rows: Vec<&Graded> = graded.iter().filter(|g| g.tier.is_some()).collect();
    let missed: Vec<String> = graded_rows
        .iter()
        .filter(|g| g.tier != Some(Tier::Target) || !g.measurement.value.is_finite())
        .map(|g| format!("{} [{}] {}", g.measurement.metric, g.measurement.variant, tier_cell(g)))
        .collect();
    if graded_rows.is_empty() {
        lines.push("No measurement is graded by the targets table.".to_owned());
    } else if missed.is_empty() {
        lines.push(format!(
            "🟢 All targets met ({} graded measurement(s)).",
            graded_rows.len()
        ));
    } else {
        let shown = missed.iter().take(8).cloned().collect::<Vec<_>>().join("; ");
        let more = missed.len().saturating_sub(8);
        lines.push(format!(
            "Targets not met by {} of {} graded measurement(s): {shown}{}.",
            missed.len(),
            graded_rows.len(),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if let Some(b) = &ctx.baseline {
        let count = |v: Verdict| b.rows.values().filter(|r| r.verdict == v).count();
        let mut changes: Vec<(&(String, String), &BaselineRow)> = b
            .rows
            .iter()
            .filter(|(_, r)| matches!(r.verdict, Verdict::Regression | Verdict::Improvement))
            .collect();
        changes.sort_by(|a, b| {
            let key = |r: &BaselineRow| r.change_pct.map_or(0.0, f64::abs);
            key(b.1).total_cmp(&key(a.1))
        });
        let largest = changes
            .iter()
            .take(3)
            .map(|((m, v), r)| {
                format!(
                    "{m} [{v}] {}{} ({})",
                    r.change_pct.map_or("?".to_owned(), |c| format!("{c:+.1} %")),
                    if r.by_ratio {
                        " of its ratio to the same-run reference"
                    } else {
                        ""
                    },
                    verdict_cell(r.verdict)
                )
            })
            .collect::<Vec<_>>();
        let unjudged = count(Verdict::Missing);
        lines.push(format!(
            "{} regression(s), {} improvement(s) against {}{}{}",
            count(Verdict::Regression),
            count(Verdict::Improvement),
            b.description,
            if unjudged > 0 {
                format!(" ({unjudged} figure(s) not judged: too few earlier runs or not measured)")
            } else {
                String::new()
            },
            if largest.is_empty() {
                ".".to_owned()
            } else {
                format!("; largest: {}.", largest.join("; "))
            }
        ));
    } else {
        lines.push("No baseline: this run was not compared with earlier runs (none recorded for this machine, or history off).".to_owned());
    }
    lines.extend(ctx.notes.iter().cloned());
    lines
}

/// The baseline cells of a row: baseline, change, trend.
fn baseline_cells(g: &Graded, ctx: &Context) -> (String, String, String, Option<Verdict>) {
    let Some(row) = ctx.baseline.as_ref().and_then(|b| b.rows.get(&g.measurement.key())) else {
        return ("—".to_owned(), "—".to_owned(), String::new(), None);
    };
    let mark = match row.verdict {
        Verdict::Regression => " ❌",
        Verdict::Improvement => " ✅",
        _ => "",
    };
    let current = g.measurement.value;
    // The value's own change, from the baseline value.
    let value_change = row
        .value
        .filter(|b| *b != 0.0 && b.is_finite() && current.is_finite())
        .map(|b| (current - b) / b.abs() * 100.0);
    let change = match (row.change_pct, row.by_ratio, value_change) {
        // Judged by the ratio to the same-run reference: both changes,
        // the verdict's mark on the ratio's.
        (Some(c), true, Some(vc)) => format!("{vc:+.1} % (ratio to reference {c:+.1} %{mark})"),
        (Some(c), true, None) => format!("ratio to reference {c:+.1} %{mark}"),
        (Some(c), false, _) => format!("{c:+.1} %{mark}"),
        (None, _, Some(vc)) => format!("{vc:+.1} %"),
        (None, _, None) => "—".to_owned(),
    };
    let mut spark = row.history.clone();
    spark.push(g.measurement.value);
    (
        row.value.map_or("—".to_owned(), fmt_value),
        change,
        if row.history.is_empty() {
            String::new()
        } else {
            sparkline(&spark)
        },
        Some(row.verdict),
    )
}

/// The report as Markdown (fits a PR comment), for the run alone.
pub fn markdown(results: &ResultSet, graded: &[Graded]) -> String {
    markdown_with(results, graded, &Context::default())
}

/// The report as Markdown in the seed's format (see the module docs).
pub fn markdown_with(results: &ResultSet, graded: &[Graded], ctx: &Context) -> String {
    let mut s = String::new();
    if let Some(banner) = partial_banner(results) {
        let _ = writeln!(s, "> **⚠️ {banner}**\n");
    }
    let (first, env) = header(results, ctx);
    let _ = writeln!(s, "### Caxton results\n\n{first}  \n{env}\n");
    s.push_str("**Summary**\n\n");
    for line in summary(graded, ctx) {
        let _ = writeln!(s, "- {line}");
    }
    for metric in categories(graded) {
        let _ = writeln!(
            s,
            "\n#### {metric}\n\n| variant | baseline | current | change | unit | tier | same-run reference | trend |\n| --- | ---: | ---: | ---: | --- | --- | --- | --- |"
        );
        for g in graded.iter().filter(|g| g.measurement.metric == metric) {
            let m = &g.measurement;
            let (base, change, trend, _) = baseline_cells(g, ctx);
            let _ = writeln!(
                s,
                "| {} | {base} | {} | {change} | {} | {} | {} | {trend} |",
                m.variant,
                fmt_value(m.value),
                m.unit,
                tier_cell(g),
                reference_cell(g)
            );
        }
    }
    s
}

/// The columns of [`csv`].
const CSV_HEADER: [&str; 9] = [
    "metric",
    "variant",
    "value",
    "unit",
    "tier",
    "interval_low",
    "interval_high",
    "reference",
    "reference_value",
];

/// All measurements as CSV (RFC 4180, quoted where a field needs it), one
/// row per measurement.
pub fn csv(graded: &[Graded]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![CSV_HEADER.map(str::to_owned)];
    for g in graded {
        let m = &g.measurement;
        let (lo, hi) = m
            .interval
            .map_or((String::new(), String::new()), |(l, h)| (l.to_string(), h.to_string()));
        let (rn, rv) = m.reference.as_ref().map_or((String::new(), String::new()), |r| {
            (r.name.clone(), r.value.to_string())
        });
        rows.push([
            m.metric.clone(),
            m.variant.clone(),
            m.value.to_string(),
            m.unit.clone(),
            g.tier.map_or("", Tier::name).to_owned(),
            lo,
            hi,
            rn,
            rv,
        ]);
    }
    for row in rows {
        // Writing to memory cannot fail.
        let _ = w.write_record(&row);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// One row of a results chart (see `assets/charts.js`).
#[derive(Serialize)]
struct ChartRow<'a> {
    n: usize,
    variant: &'a str,
    #[serde(with = "crate::figure::one")]
    value: f64,
    #[serde(with = "crate::figure::maybe")]
    lo: Option<f64>,
    #[serde(with = "crate::figure::maybe")]
    hi: Option<f64>,
    #[serde(with = "crate::figure::maybe")]
    reference: Option<f64>,
    reference_name: Option<&'a str>,
}

/// One results chart: a metric's variants in one unit.
#[derive(Serialize)]
struct Chart<'a> {
    metric: &'a str,
    unit: &'a str,
    rows: Vec<ChartRow<'a>>,
}

/// The HTML page for the run alone.
pub fn html(results: &ResultSet, graded: &[Graded]) -> String {
    html_with(results, graded, &Context::default())
}

/// One self-contained HTML page in the seed's format: header, summary, then
/// per category its table and a uPlot chart (each variant with its noise
/// band as an error bar and its same-run reference in grey), then the
/// history of each figure when the context has it. The graded
/// measurements are embedded as JSON (`#caxton-data`).
pub fn html_with(results: &ResultSet, graded: &[Graded], ctx: &Context) -> String {
    let mut body = String::new();
    if let Some(b) = partial_banner(results) {
        let _ = writeln!(
            body,
            "<p class=\"partial\"><strong>⚠️ {}</strong></p>",
            esc(&b).replace('`', "")
        );
    }
    let (first, env) = header(results, ctx);
    let _ = writeln!(
        body,
        "<h1>Caxton results</h1>\n<p class=\"meta\">{}<br>{}</p>\n<h2>Summary</h2>\n<ul class=\"summary\">",
        esc(&first),
        esc(&env)
    );
    for line in summary(graded, ctx) {
        let _ = writeln!(body, "<li>{}</li>", esc(&line));
    }
    body.push_str("</ul>\n");
    let mut charts = Vec::new();
    for (ci, metric) in categories(graded).into_iter().enumerate() {
        let rows: Vec<&Graded> = graded.iter().filter(|g| g.measurement.metric == metric).collect();
        let _ = writeln!(
            body,
            "<h3>{}</h3>\n<table><thead><tr><th>#</th><th>variant</th><th>baseline</th><th>current</th><th>change</th><th>unit</th><th>tier</th><th>same-run reference</th><th>trend</th></tr></thead><tbody>",
            esc(metric)
        );
        let unit = rows[0].measurement.unit.as_str();
        let mut chart = Chart {
            metric,
            unit,
            rows: Vec::new(),
        };
        for (i, g) in rows.iter().enumerate() {
            let m = &g.measurement;
            let (base, change, trend, verdict) = baseline_cells(g, ctx);
            let class = g.tier.map_or("none", Tier::name);
            let change_class = match verdict {
                Some(Verdict::Regression) => " regression",
                Some(Verdict::Improvement) => " improvement",
                _ => "",
            };
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{change_class}\">{}</td><td>{}</td><td class=\"tier {class}\">{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                esc(&m.variant),
                esc(&base),
                fmt_value(m.value),
                esc(&change),
                esc(&m.unit),
                g.tier.map_or("—", Tier::name),
                esc(&reference_cell(g)),
                esc(&trend)
            );
            if m.unit == unit {
                let band = caxton_stats::noise_band(&m.samples).ok().or(m.interval);
                chart.rows.push(ChartRow {
                    n: i + 1,
                    variant: &m.variant,
                    value: m.value,
                    lo: band.map(|b| b.0),
                    hi: band.map(|b| b.1),
                    reference: m.reference.as_ref().map(|r| r.value),
                    reference_name: m.reference.as_ref().map(|r| r.name.as_str()),
                });
            }
        }
        let _ = writeln!(
            body,
            "</tbody></table>\n<div class=\"cx-charts\" id=\"chart-{ci}\"></div>"
        );
        charts.push(chart);
    }
    if ctx.trends.as_ref().is_some_and(|t| !t.series.is_empty()) {
        body.push_str("<h2>History</h2>\n<p>Each figure across the earlier runs of this machine, oldest commit first: whiskers show each run's noise band, the dashed line the rolling median the regression rule compares with.</p>\n<div id=\"history\"></div>\n");
    }
    let mut script = format!(
        "<script type=\"application/json\" id=\"caxton-data\">{}</script>\n<script type=\"application/json\" id=\"caxton-charts\">{}</script>\n<script>(function(){{var c=JSON.parse(document.getElementById('caxton-charts').textContent);c.forEach(function(m,i){{CaxtonCharts.results([m],document.getElementById('chart-'+i));}});",
        crate::html::json_for_script(graded),
        crate::html::json_for_script(&charts)
    );
    if let Some(t) = ctx.trends.as_ref().filter(|t| !t.series.is_empty()) {
        let _ = write!(
            script,
            "CaxtonCharts.trends({}, document.getElementById('history'));",
            crate::trend::page_data(t)
        );
    }
    script.push_str("})();</script>");
    crate::html::page("Caxton results", &body, &script)
}

/// Writes `report.md`, `report.csv`, `report.json` (graded) and
/// `report.html` into `dir` for the run alone; returns their paths.
pub fn write_all(dir: &Path, results: &ResultSet, graded: &[Graded]) -> std::io::Result<Vec<PathBuf>> {
    write_all_with(dir, results, graded, &Context::default())
}

/// Writes the four reports with a [`Context`]; returns their paths.
pub fn write_all_with(
    dir: &Path,
    results: &ResultSet,
    graded: &[Graded],
    ctx: &Context,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        ("report.md", markdown_with(results, graded, ctx)),
        ("report.csv", csv(graded)),
        (
            "report.json",
            serde_json::to_string_pretty(graded).map_err(std::io::Error::other)?,
        ),
        ("report.html", html_with(results, graded, ctx)),
    ];
    let mut out = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text)?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Measurement;

    #[test]
    fn csv_fields_with_commas_quotes_and_newlines_read_back() {
        let variant = "native, \"quoted\"\nsecond line";
        let graded = vec![Graded {
            measurement: Measurement::exact("memory_per_agent", variant, "B", 1308.0).with_reference("raw, tokio", 2.5),
            value_in_target_unit: None,
            target_unit: None,
            tier: Some(Tier::Target),
        }];
        let text = csv(&graded);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), CSV_HEADER);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].iter().collect::<Vec<_>>(),
            [
                "memory_per_agent",
                variant,
                "1308",
                "B",
                Tier::Target.name(),
                "1308",
                "1308",
                "raw, tokio",
                "2.5"
            ]
        );
    }
}
