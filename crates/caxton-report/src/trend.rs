//! Trends across runs, and the regression rule against history.
//!
//! A [`Series`] is one figure (`metric [variant]`) across runs in commit
//! order, each point with its noise band and, where the run measured one,
//! its same-run reference and ratio. The store that keeps the runs lives in
//! `caxton-history`; this module only judges and draws.
//!
//! # The rule
//!
//! The newest run is judged against the last [`Rule::window`] runs before
//! it on the same machine fingerprint, with the *modified z-score* of
//! Iglewicz and Hoaglin (1993): with `m` the median of those runs and
//! `MAD` their median absolute deviation, the newest value `x` is outside
//! the band when `|x - m| > k * 1.4826 * MAD` (`1.4826 * MAD` estimates the
//! standard deviation of normal data; `k` = [`Rule::k`], 3.5 by default,
//! the cut-off Iglewicz and Hoaglin recommend). It counts as a regression
//! only when it is outside that band, on the worse side, *and* at least
//! [`Rule::min_change_pct`] away from `m`. Figures measured with a same-run
//! reference are judged by their ratio to it when the window and the newest
//! run all have one, as `compare` does.
//!
//! Why not bencher's t-test or IQR thresholds: a t-test assumes normal
//! per-run figures, and one slow run on a shared two-core machine drags
//! both the mean and the standard deviation; the median and MAD ignore up
//! to half the window being outliers. The IQR rule is as robust but needs a
//! longer window to estimate its quartiles; MAD works from five runs.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::compare::Verdict;

/// The regression rule's parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// How many earlier runs (same machine) the band is computed from.
    pub window: usize,
    /// Fewer earlier runs than this: not judged.
    pub min_runs: usize,
    /// Band half-width in robust standard deviations (1.4826 * MAD).
    pub k: f64,
    /// Smallest change from the window's median (percent) that can count.
    pub min_change_pct: f64,
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            window: 10,
            min_runs: 5,
            k: 3.5,
            min_change_pct: 5.0,
        }
    }
}

impl Rule {
    /// One line describing the rule, for reports.
    pub fn describe(&self) -> String {
        format!(
            "median ± {} × 1.4826 × MAD of the last {} runs on this machine (at least {}), and a change of at least {} %",
            self.k, self.window, self.min_runs, self.min_change_pct
        )
    }
}

/// Median and median absolute deviation of the finite values; `None`
/// when there are none.
pub fn median_mad(values: &[f64]) -> Option<(f64, f64)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let m = caxton_stats::median(&finite).ok()?;
    let dev: Vec<f64> = finite.iter().map(|v| (v - m).abs()).collect();
    Some((m, caxton_stats::median(&dev).ok()?))
}

/// How the newest value compares with its history.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// Median of the window.
    #[serde(with = "crate::figure::one")]
    pub median: f64,
    /// The band (median ± k × 1.4826 × MAD).
    #[serde(with = "crate::figure::range")]
    pub band: Option<(f64, f64)>,
    /// Earlier runs the band was computed from.
    pub runs: usize,
    /// (newest - median) / median, in percent.
    #[serde(with = "crate::figure::maybe")]
    pub change_pct: Option<f64>,
    /// Judged by the ratio to the same-run reference (then `median` and
    /// `change_pct` are the ratio's), not the value.
    #[serde(default)]
    pub by_ratio: bool,
    /// The verdict: [`Verdict::Missing`] when the history is too short or
    /// the newest value was not measured; [`Verdict::WithinNoise`] inside
    /// the band (or flagged but informational).
    pub verdict: Verdict,
}

/// Judges `newest` against `history` (earlier runs, oldest first; only the
/// last `rule.window` finite values count).
pub fn judge(history: &[f64], newest: f64, higher_better: bool, informational: bool, rule: &Rule) -> Judgement {
    let finite: Vec<f64> = history.iter().copied().filter(|v| v.is_finite()).collect();
    let window = &finite[finite.len().saturating_sub(rule.window)..];
    let Some((median, mad)) = median_mad(window) else {
        return Judgement {
            median: f64::NAN,
            band: None,
            by_ratio: false,
            runs: 0,
            change_pct: None,
            verdict: Verdict::Missing,
        };
    };
    let half = rule.k * 1.4826 * mad;
    let band = Some((median - half, median + half));
    let change_pct = if median == newest {
        Some(0.0)
    } else if median != 0.0 && newest.is_finite() {
        Some((newest - median) / median.abs() * 100.0)
    } else {
        None
    };
    let verdict = if window.len() < rule.min_runs.max(1) || !newest.is_finite() {
        Verdict::Missing
    } else if change_pct.is_some_and(|c| c.abs() < rule.min_change_pct) {
        Verdict::Unchanged
    } else if (newest - median).abs() <= half || informational {
        // Inside the band; or outside it but informational (reported,
        // never flagged).
        Verdict::WithinNoise
    } else if (newest < median) == higher_better {
        Verdict::Regression
    } else {
        Verdict::Improvement
    };
    Judgement {
        median,
        band,
        by_ratio: false,
        runs: window.len(),
        change_pct,
        verdict,
    }
}

/// One run's figure in a trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The run's id in the store.
    pub run: i64,
    /// Short commit hash ("" when unknown), with `+` when the tree was dirty.
    pub commit: String,
    /// When the run started (ISO 8601, UTC).
    pub date: String,
    /// The figure.
    #[serde(with = "crate::figure::one")]
    pub value: f64,
    /// Its noise band (5th..95th percentile of the run's samples, else the
    /// run's interval), when known.
    #[serde(default, with = "crate::figure::range")]
    pub band: Option<(f64, f64)>,
    /// The same-run reference's value, when measured.
    #[serde(default, with = "crate::figure::maybe")]
    pub reference: Option<f64>,
    /// value / reference (median of the per-repetition ratios when the
    /// run kept them), when measured.
    #[serde(default, with = "crate::figure::maybe")]
    pub ratio: Option<f64>,
}

/// One figure across runs, in commit order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Metric name.
    pub metric: String,
    /// Variant.
    pub variant: String,
    /// Unit of `value`, `band` and `reference`.
    pub unit: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
    /// Reported, never flagged (see `Measurement::informational`).
    pub informational: bool,
    /// Name of the same-run reference, when there is one.
    pub reference_name: Option<String>,
    /// The runs, oldest commit first.
    pub points: Vec<Point>,
    /// The newest point judged against the ones before it.
    pub judgement: Option<Judgement>,
}

impl Series {
    /// `metric [variant]`.
    pub fn name(&self) -> String {
        format!("{} [{}]", self.metric, self.variant)
    }

    /// Judges the newest point against the earlier ones with `rule`: by the
    /// ratio to the same-run reference when every point of the window and
    /// the newest one have one, else by the value.
    pub fn judge(&mut self, rule: &Rule) {
        let Some((newest, earlier)) = self.points.split_last() else {
            self.judgement = None;
            return;
        };
        let window = &earlier[earlier.len().saturating_sub(rule.window)..];
        let by_ratio = newest.ratio.is_some() && !window.is_empty() && window.iter().all(|p| p.ratio.is_some());
        let pick = |p: &Point| if by_ratio { p.ratio.unwrap_or(f64::NAN) } else { p.value };
        let history: Vec<f64> = window.iter().map(pick).collect();
        self.judgement = Some(Judgement {
            by_ratio,
            ..judge(&history, pick(newest), self.higher_is_better, self.informational, rule)
        });
    }
}

/// Trends of many figures, as drawn by [`html`] and [`markdown`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trends {
    /// Page title.
    pub title: String,
    /// Which machine and store the runs came from, for readers.
    pub description: String,
    /// The rule the judgements used.
    pub rule: Rule,
    /// The figures.
    pub series: Vec<Series>,
}

impl Trends {
    /// The series whose newest run is a regression.
    pub fn regressions(&self) -> impl Iterator<Item = &Series> {
        self.series
            .iter()
            .filter(|s| s.judgement.is_some_and(|j| j.verdict == Verdict::Regression))
    }
}

/// A sparkline of the finite values (`▁` to `█`, `·` for a value not
/// measured); empty when there are none.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return String::new();
    }
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                '·'
            } else if hi == lo {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// A verdict for a reader.
pub fn verdict_cell(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "❌ regression",
        Verdict::Improvement => "✅ improvement",
        Verdict::WithinNoise => "〰️ within noise",
        Verdict::Unchanged => "unchanged",
        Verdict::Missing => "too few runs",
    }
}

/// The trends as Markdown: one row per figure, with its sparkline, newest
/// value, the window's median and the verdict.
pub fn markdown(trends: &Trends) -> String {
    let mut s = format!(
        "### {}\n\n{}\n\nRule: {}.\n\n",
        trends.title,
        trends.description,
        trends.rule.describe()
    );
    s.push_str("| metric | variant | unit | runs | trend | newest | median of window | change | verdict |\n| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |\n");
    for series in &trends.series {
        let values: Vec<f64> = series.points.iter().map(|p| p.value).collect();
        let newest = series.points.last().map_or(f64::NAN, |p| p.value);
        let j = series.judgement;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            series.metric,
            series.variant,
            series.unit,
            series.points.len(),
            sparkline(&values),
            crate::fmt::fmt_value(newest),
            j.map_or("—".to_owned(), |j| crate::fmt::fmt_value(j.median)),
            j.and_then(|j| j.change_pct)
                .map_or("—".to_owned(), |c| format!("{c:+.1} %")),
            j.map_or("—", |j| verdict_cell(j.verdict)),
        );
    }
    let n = trends.regressions().count();
    let _ = writeln!(s, "\n{n} regression(s) against history.");
    s
}

/// A figure for a chart: finite values rounded to 6 significant digits
/// (finer than any axis or tooltip shows; the page stays small at 1 000
/// runs x 50 figures), `null` when absent, the figure tokens when not
/// finite.
#[derive(Clone, Copy)]
struct Drawn(Option<f64>);

impl Serialize for Drawn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_none(),
            Some(v) if !v.is_finite() || v == 0.0 => crate::figure::Figure(v).serialize(s),
            // Through decimal text: the nearest double to the rounded
            // decimal prints back as that decimal.
            Some(v) => s.serialize_f64(format!("{v:.5e}").parse().unwrap_or(v)),
        }
    }
}

/// One series as the page reads it: columns, runs by index.
#[derive(Serialize)]
struct PageSeries<'a> {
    metric: &'a str,
    variant: &'a str,
    unit: &'a str,
    reference_name: Option<&'a str>,
    judgement: Option<Judgement>,
    /// Index into the page's `runs`, per point.
    x: Vec<usize>,
    v: Vec<Drawn>,
    lo: Vec<Drawn>,
    hi: Vec<Drawn>,
    r: Vec<Drawn>,
    q: Vec<Drawn>,
}

/// The trends as the chart glue reads them (`CaxtonCharts.trends`):
/// each run once (`[id, commit, date]`), each series as columns.
#[derive(Serialize)]
struct PageData<'a> {
    rule: &'a Rule,
    runs: Vec<(i64, &'a str, &'a str)>,
    series: Vec<PageSeries<'a>>,
}

/// The compact JSON the trend charts are drawn from, safe inside a
/// `<script>` element.
pub fn page_data(trends: &Trends) -> String {
    let mut runs: Vec<(i64, &str, &str)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let series = trends
        .series
        .iter()
        .map(|s| {
            let x = s
                .points
                .iter()
                .map(|p| {
                    *index.entry(p.run).or_insert_with(|| {
                        runs.push((p.run, p.commit.as_str(), p.date.as_str()));
                        runs.len() - 1
                    })
                })
                .collect();
            let col = |f: &dyn Fn(&Point) -> Option<f64>| s.points.iter().map(|p| Drawn(f(p))).collect();
            PageSeries {
                metric: &s.metric,
                variant: &s.variant,
                unit: &s.unit,
                reference_name: s.reference_name.as_deref(),
                judgement: s.judgement,
                x,
                v: col(&|p| Some(p.value)),
                lo: col(&|p| p.band.map(|b| b.0)),
                hi: col(&|p| p.band.map(|b| b.1)),
                r: col(&|p| p.reference),
                q: col(&|p| p.ratio),
            }
        })
        .collect();
    crate::html::json_for_script(&PageData {
        rule: &trends.rule,
        runs,
        series,
    })
}

/// One self-contained HTML page: a uPlot chart per figure (value with its
/// noise band as error bars, the rolling median of the rule's window as the
/// trend line, the same-run reference and ratio beside it), the data
/// embedded as JSON, uPlot vendored into the page.
pub fn html(trends: &Trends) -> String {
    let data = page_data(trends);
    let mut body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p>Rule: {}. Points: each run's figure, its whiskers the run's noise band; dashed: the rolling median of the window; grey: the same-run reference; orange (right axis): value / reference.</p>\n",
        crate::html::esc(&trends.title),
        crate::html::esc(&trends.description),
        crate::html::esc(&trends.rule.describe())
    );
    let n = trends.regressions().count();
    let _ = writeln!(
        body,
        "<p class=\"summary\">{} figure(s), {n} regression(s) against history.</p>",
        trends.series.len()
    );
    body.push_str("<div id=\"charts\"></div>\n");
    crate::html::page(
        &trends.title,
        &body,
        &format!(
            "<script type=\"application/json\" id=\"caxton-trends\">{data}</script>\n<script>CaxtonCharts.trends(JSON.parse(document.getElementById('caxton-trends').textContent), document.getElementById('charts'));</script>"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_flags_only_outside_the_band_on_the_worse_side() {
        let rule = Rule::default();
        let history = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 98.0, 102.0];
        // Lower is better (latency): 130 is worse, outside the band.
        let j = judge(&history, 130.0, false, false, &rule);
        assert_eq!(j.verdict, Verdict::Regression, "{j:?}");
        assert_eq!(judge(&history, 70.0, false, false, &rule).verdict, Verdict::Improvement);
        // Higher is better (throughput): the same drop is a regression.
        assert_eq!(judge(&history, 70.0, true, false, &rule).verdict, Verdict::Regression);
        // Small changes never count.
        assert_eq!(judge(&history, 103.0, false, false, &rule).verdict, Verdict::Unchanged);
        // Informational figures are reported, never flagged.
        assert_eq!(judge(&history, 130.0, false, true, &rule).verdict, Verdict::WithinNoise);
        // A noisy history widens the band.
        let noisy = [100.0, 60.0, 140.0, 80.0, 120.0, 100.0];
        assert_eq!(judge(&noisy, 130.0, false, false, &rule).verdict, Verdict::WithinNoise);
        // Too short a history, or a value not measured: not judged.
        assert_eq!(
            judge(&history[..4], 130.0, false, false, &rule).verdict,
            Verdict::Missing
        );
        assert_eq!(judge(&history, f64::NAN, false, false, &rule).verdict, Verdict::Missing);
    }

    #[test]
    fn one_outlier_in_the_window_does_not_move_the_band() {
        let rule = Rule::default();
        let history = [100.0, 101.0, 99.0, 100.5, 5000.0, 100.0, 99.5];
        let j = judge(&history, 130.0, false, false, &rule);
        assert_eq!(j.verdict, Verdict::Regression, "{j:?}");
        assert!((j.median - 100.0).abs() < 1.0);
    }

    #[test]
    fn only_the_last_window_counts() {
        let rule = Rule {
            window: 5,
            ..Rule::default()
        };
        // Old runs were slow; the last five are fast and steady.
        let history = [200.0, 210.0, 190.0, 100.0, 101.0, 99.0, 100.0, 100.5];
        let j = judge(&history, 130.0, false, false, &rule);
        assert_eq!(j.runs, 5);
        assert_eq!(j.verdict, Verdict::Regression);
    }

    #[test]
    fn page_data_is_columns_with_each_run_once() {
        let point = |run, value| Point {
            run,
            commit: format!("c{run}"),
            date: "2026-01-01T00:00:00Z".to_owned(),
            value,
            band: Some((value * 0.9, value * 1.1)),
            reference: None,
            ratio: None,
        };
        let series = |metric: &str| Series {
            metric: metric.to_owned(),
            variant: "native".to_owned(),
            unit: "us".to_owned(),
            higher_is_better: false,
            informational: false,
            reference_name: None,
            points: vec![point(1, 1.234_567_89), point(2, f64::NAN)],
            judgement: None,
        };
        let t = Trends {
            title: "t".to_owned(),
            description: "d".to_owned(),
            rule: Rule::default(),
            series: vec![series("a"), series("b")],
        };
        let v: serde_json::Value = serde_json::from_str(&page_data(&t)).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 2);
        assert_eq!(v["series"][1]["x"], serde_json::json!([0, 1]));
        assert_eq!(v["series"][0]["v"], serde_json::json!([1.23457, "NaN"]));
        assert_eq!(v["series"][0]["r"], serde_json::json!([null, null]));
    }

    #[test]
    fn sparkline_spans_lowest_to_highest() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0]), "▁▅█");
        assert_eq!(sparkline(&[5.0, f64::NAN, 5.0]), "▄·▄");
        assert_eq!(sparkline(&[]), "");
    }
}
