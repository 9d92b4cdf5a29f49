//! Report writers: Markdown, CSV, JSON and a self-contained HTML page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::grade::{Graded, Tier};
use crate::results::ResultSet;

/// A value for a reader: `n/a` when not measured (non-finite).
fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_owned()
    } else if v == 0.0 {
        format!("{v}")
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    }
}

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

/// The graded table as Markdown (fits a PR comment).
pub fn markdown(results: &ResultSet, graded: &[Graded]) -> String {
    let mut s = String::new();
    if let Some(banner) = partial_banner(results) {
        let _ = writeln!(s, "> **⚠️ {banner}**\n");
    }
    let _ = writeln!(
        s,
        "### Caxton results\n\n{} on {} cores ({}), finished at unix time {}.\n",
        results.source, results.machine.cores, results.machine.os, results.finished_at_unix
    );
    s.push_str(
        "| metric | variant | value | unit | tier | same-run reference |\n| --- | --- | ---: | --- | --- | --- |\n",
    );
    for g in graded {
        let m = &g.measurement;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            m.metric,
            m.variant,
            fmt_value(m.value),
            m.unit,
            tier_cell(g),
            reference_cell(g)
        );
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

/// A horizontal bar chart as inline SVG; `bars` are (label, value,
/// is_reference). Each label sits above its bar, so long variant names fit.
/// Values spanning more than two decades are drawn on a log scale (and the
/// caption says so).
fn bar_chart(title: &str, unit: &str, bars: &[(String, f64, bool)]) -> String {
    // Not-measured (non-finite) values get no bar and leave the scale alone.
    let positive: Vec<f64> = bars.iter().map(|b| b.1).filter(|v| v.is_finite() && *v > 0.0).collect();
    let max = positive.iter().copied().fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let log = min.is_finite() && max / min > 100.0;
    // On a log scale the shortest bar keeps a tenth of the width.
    let lo = if log { (min / 10.0).log10() } else { 0.0 };
    let scale = |v: f64| -> f64 {
        if !v.is_finite() || v <= 0.0 {
            0.0
        } else if log {
            (v.log10() - lo) / (max.log10() - lo)
        } else {
            v / max
        }
    };
    let (row, bar_w) = (36, 560);
    let h = 10 + row * bars.len();
    let caption = if log {
        format!("{} (log scale)", esc(title))
    } else {
        esc(title)
    };
    let mut s = format!(
        "<figure><figcaption>{caption}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        bar_w + 160,
        esc(title)
    );
    for (i, (label, value, reference)) in bars.iter().enumerate() {
        let y = 4 + i * row;
        let w = (scale(*value) * bar_w as f64).max(1.0);
        let color = if *reference { "#9aa0a6" } else { "#3367d6" };
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"#333\">{}</text><rect x=\"0\" y=\"{}\" width=\"{w:.1}\" height=\"14\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{} {}</text>",
            y + 10,
            esc(label),
            y + 14,
            w + 4.0,
            y + 25,
            fmt_value(*value),
            esc(unit)
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained HTML page: the graded table and a bar chart per
/// metric (variants side by side, same-run references in grey, percentile
/// details where recorded). The data behind the charts is embedded as JSON.
pub fn html(results: &ResultSet, graded: &[Graded]) -> String {
    let mut body = String::new();
    body.push_str("<table><thead><tr><th>metric</th><th>variant</th><th>value</th><th>unit</th><th>tier</th><th>same-run reference</th></tr></thead><tbody>");
    for g in graded {
        let m = &g.measurement;
        let class = g.tier.map_or("none", Tier::name);
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"tier {class}\">{}</td><td>{}</td></tr>",
            esc(&m.metric),
            esc(&m.variant),
            fmt_value(m.value),
            esc(&m.unit),
            g.tier.map_or("—", Tier::name),
            esc(&reference_cell(g))
        );
    }
    body.push_str("</tbody></table>\n<h2>Charts</h2>\n");
    let mut metrics: Vec<&str> = Vec::new();
    for g in graded {
        if !metrics.contains(&g.measurement.metric.as_str()) {
            metrics.push(&g.measurement.metric);
        }
    }
    for metric in metrics {
        let rows: Vec<&Graded> = graded.iter().filter(|g| g.measurement.metric == metric).collect();
        let unit = &rows[0].measurement.unit;
        let mut bars = Vec::new();
        for g in &rows {
            let m = &g.measurement;
            if m.unit != *unit {
                continue;
            }
            bars.push((m.variant.clone(), m.value, false));
            if let Some(r) = &m.reference {
                bars.push((format!("{} ({})", r.name, m.variant), r.value, true));
            }
        }
        body.push_str(&bar_chart(metric, unit, &bars));
        for g in &rows {
            let m = &g.measurement;
            // Percentile details (same unit as the value) get a chart of
            // their own; other details stay in the JSON.
            if m.details.iter().any(|(n, _)| n == "p50") {
                let bars: Vec<_> = m.details.iter().map(|(n, v)| (n.clone(), *v, false)).collect();
                body.push_str(&bar_chart(
                    &format!("{metric} [{}] distribution", m.variant),
                    &m.unit,
                    &bars,
                ));
            }
        }
    }
    let data = serde_json::to_string(graded)
        .unwrap_or_else(|_| "[]".to_owned())
        .replace("</", "<\\/");
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Caxton results</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ddd;padding:4px 8px}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}}
.tier.target{{background:#d7f5dd}}.tier.acceptable{{background:#fff6c7}}.tier.critical{{background:#ffe0b8}}.tier.failing{{background:#ffd0d0}}
.partial{{background:#ffd0d0;border:2px solid #c00;padding:8px}}
figure{{margin:1rem 0}}figcaption{{font-weight:600;margin-bottom:4px}}
</style></head><body>
<h1>Caxton results</h1>
{}<p>{} on {} cores ({}), finished at unix time {}. Grey bars: a reference measured in the same run.</p>
{body}
<script type="application/json" id="caxton-data">{data}</script>
</body></html>
"#,
        partial_banner(results).map_or(String::new(), |b| format!(
            "<p class=\"partial\"><strong>⚠️ {}</strong></p>\n",
            esc(&b).replace('`', "")
        )),
        esc(&results.source),
        results.machine.cores,
        esc(&results.machine.os),
        results.finished_at_unix
    )
}

/// Writes `report.md`, `report.csv`, `report.json` (graded) and
/// `report.html` into `dir`; returns their paths.
pub fn write_all(dir: &Path, results: &ResultSet, graded: &[Graded]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        ("report.md", markdown(results, graded)),
        ("report.csv", csv(graded)),
        (
            "report.json",
            serde_json::to_string_pretty(graded).map_err(std::io::Error::other)?,
        ),
        ("report.html", html(results, graded)),
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
