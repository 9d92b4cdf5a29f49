//! The frame of Caxton's HTML pages: one self-contained file that opens
//! offline, with uPlot 1.6.32 (MIT, `assets/uplot/`) and Caxton's chart
//! glue (`assets/charts.js`) inlined, and the data embedded as JSON.

use serde::Serialize;

/// uPlot's minified script (version 1.6.32, from the npm registry).
pub const UPLOT_JS: &str = include_str!("../assets/uplot/uPlot.iife.min.js");
/// uPlot's stylesheet.
pub const UPLOT_CSS: &str = include_str!("../assets/uplot/uPlot.min.css");
/// uPlot's license, inlined in every page as a comment.
pub const UPLOT_LICENSE: &str = include_str!("../assets/uplot/LICENSE");
/// Caxton's chart glue (`CaxtonCharts.results`, `CaxtonCharts.trends`).
pub const CHARTS_JS: &str = include_str!("../assets/charts.js");

/// Escapes text for HTML.
pub fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JSON safe inside a `<script>` element (no `</` can close it early).
pub fn json_for_script<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".to_owned())
        .replace("</", "<\\/")
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px;color:#202124}
table{border-collapse:collapse;margin:0.5rem 0 1rem}td,th{border:1px solid #ddd;padding:4px 8px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.tier.target{background:#d7f5dd}.tier.acceptable{background:#fff6c7}.tier.critical{background:#ffe0b8}.tier.failing{background:#ffd0d0}
.regression{background:#ffd0d0}.improvement{background:#d7f5dd}
.partial{background:#ffd0d0;border:2px solid #c00;padding:8px}
.meta{color:#444}.summary li{margin:2px 0}
figure.cx-chart{margin:1rem 0;position:relative}figcaption{font-weight:600;margin-bottom:4px}
.cx-note{font-weight:400;color:#666;font-size:90%}
.cx-regression figcaption{color:#c5221f}
.cx-tip{position:absolute;z-index:10;pointer-events:none;background:#fff;border:1px solid #999;padding:4px 6px;font-size:12px;max-width:260px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
#cx-timing{color:#888;font-size:80%}
";

/// A whole page: `body` (HTML), then the vendored scripts, then `script`
/// (the page's data and the call that draws its charts).
pub fn page(title: &str, body: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n\
         <style>{UPLOT_CSS}</style>\n<style>{STYLE}</style></head><body>\n{body}\n\
         <p id=\"cx-timing\"></p>\n\
         <!-- uPlot 1.6.32, https://github.com/leeoniya/uPlot\n{license}-->\n\
         <script>{UPLOT_JS}</script>\n<script>{CHARTS_JS}</script>\n{script}\n</body></html>\n",
        title = esc(title),
        license = UPLOT_LICENSE.replace("--", "- -"),
    )
}
