//! Turns criterion's saved results (`target/criterion/**/new/benchmark.json`
//! and `estimates.json`) into the Markdown tables of `docs/benchmarks.md`.
//!
//! Used by the `bench-table` binary; see `benches/run-suite.sh`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One benchmark's result from its latest run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Criterion group, e.g. `peers_fanout`.
    pub group: String,
    /// Function within the group, e.g. `caxton`.
    pub function: Option<String>,
    /// Parameter, e.g. `1000`.
    pub value: Option<String>,
    /// Median time per iteration, nanoseconds.
    pub median_ns: f64,
    /// Lower and upper bound of the median's 95 % confidence interval, ns.
    pub median_ci_ns: (f64, f64),
    /// Elements per iteration when the bench declared `Throughput::Elements`.
    pub elements: Option<u64>,
}

impl Row {
    /// `function/value` (or whichever part exists).
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

/// Why results could not be read.
#[derive(Debug)]
pub enum TableError {
    /// A file or directory could not be read.
    Io(PathBuf, std::io::Error),
    /// A JSON file did not have the expected shape.
    Format(PathBuf, String),
    /// No `new/benchmark.json` was found under the directory.
    Empty(PathBuf),
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            Self::Format(p, e) => write!(f, "unexpected content in {}: {e}", p.display()),
            Self::Empty(p) => write!(
                f,
                "no criterion results under {} (run `cargo bench -p caxton-benches` first)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for TableError {}

fn read_json(path: &Path) -> Result<Value, TableError> {
    let text = std::fs::read_to_string(path).map_err(|e| TableError::Io(path.to_owned(), e))?;
    serde_json::from_str(&text).map_err(|e| TableError::Format(path.to_owned(), e.to_string()))
}

fn find_benchmark_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TableError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TableError::Io(dir.to_owned(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TableError::Io(dir.to_owned(), e))?;
        let path = entry.path();
        if path.is_dir() {
            // Only `new/` holds the latest run; skip saved baselines and reports.
            if path.file_name().is_some_and(|n| n == "new") {
                let file = path.join("benchmark.json");
                if file.is_file() {
                    out.push(file);
                }
            } else if path.file_name().is_some_and(|n| n != "report") {
                find_benchmark_files(&path, out)?;
            }
        }
    }
    Ok(())
}

/// Reads every benchmark's latest results under `criterion_dir`; with
/// `since`, only those written at or after it (so benchmarks that a run no
/// longer has, or did not run, are left out).
pub fn read_rows(criterion_dir: &Path, since: Option<std::time::SystemTime>) -> Result<Vec<Row>, TableError> {
    let mut files = Vec::new();
    find_benchmark_files(criterion_dir, &mut files)?;
    if let Some(since) = since {
        files.retain(|f| {
            std::fs::metadata(f.with_file_name("estimates.json"))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        });
    }
    if files.is_empty() {
        return Err(TableError::Empty(criterion_dir.to_owned()));
    }
    let mut rows = Vec::new();
    for file in files {
        let bench = read_json(&file)?;
        let est_path = file.with_file_name("estimates.json");
        let est = read_json(&est_path)?;
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let group = text(&bench, "group_id").ok_or_else(|| TableError::Format(file.clone(), "no group_id".into()))?;
        let median = est
            .get("median")
            .ok_or_else(|| TableError::Format(est_path.clone(), "no median".into()))?;
        let num = |v: Option<&Value>| v.and_then(Value::as_f64);
        let median_ns = num(median.get("point_estimate"))
            .ok_or_else(|| TableError::Format(est_path.clone(), "no median point estimate".into()))?;
        let ci = median.get("confidence_interval");
        let lower = num(ci.and_then(|c| c.get("lower_bound"))).unwrap_or(median_ns);
        let upper = num(ci.and_then(|c| c.get("upper_bound"))).unwrap_or(median_ns);
        let elements = bench
            .get("throughput")
            .and_then(|t| t.get("Elements"))
            .and_then(Value::as_u64);
        rows.push(Row {
            group,
            function: text(&bench, "function_id"),
            value: text(&bench, "value_str"),
            median_ns,
            median_ci_ns: (lower, upper),
            elements,
        });
    }
    Ok(rows)
}

/// A duration in ns, in the unit that reads best.
pub fn format_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A rate in elements per second, in the unit that reads best.
pub fn format_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} K/s", per_s / 1e3)
    } else {
        format!("{per_s:.1} /s")
    }
}

/// Groups in the order the doc lists them; unknown groups follow,
/// alphabetically.
const ORDER: &[&str] = &[
    "peers_fanout",
    "peers_pingpong",
    "throughput_routing",
    "throughput_pool",
    "latency_request_reply",
    "latency_handler",
    "spawn",
    "scalability_spawn",
    "scalability_throughput",
    "wasm_overhead_compute",
    "wasm_overhead_routed",
    "wasm_limits_grow",
    "wasm_limits_call",
];

/// Sort key for a parameter: numbers numerically, then text.
fn value_key(v: &Option<String>) -> (u64, String) {
    let s = v.clone().unwrap_or_default();
    (s.parse().unwrap_or(u64::MAX), s)
}

/// The median of `group`'s member `function` with the same parameter as `row`.
fn reference(members: &[&Row], function: &str, row: &Row) -> Option<f64> {
    members
        .iter()
        .find(|r| r.function.as_deref() == Some(function) && r.value == row.value)
        .map(|r| r.median_ns)
}

/// Renders one Markdown table per group.
///
/// Two ratio columns appear where they apply, each comparing rows with the
/// same parameter: "÷ raw tokio" in groups with a `raw_tokio` member (the
/// floor: 1.00 is as fast as raw channels, 2.00 takes twice as long), and
/// "÷ native" in groups with a `native` member and other members (WASM
/// variants: 1.00 is as fast as the native agent).
pub fn render(rows: &[Row]) -> String {
    let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.group.clone()).or_default().push(row);
    }
    let mut names: Vec<String> = groups.keys().cloned().collect();
    names.sort_by_key(|g| (ORDER.iter().position(|o| o == g).unwrap_or(ORDER.len()), g.to_string()));
    let mut out = String::new();
    for name in names {
        let mut members = groups.remove(&name).unwrap_or_default();
        // The floor first, then Caxton native, then the rest; by parameter.
        let rank = |r: &Row| match r.function.as_deref() {
            Some("raw_tokio") => 0,
            Some("caxton") | Some("native") => 1,
            _ => 2,
        };
        members.sort_by_key(|r| (rank(r), r.function.clone(), value_key(&r.value)));
        let has = |f: &str| members.iter().any(|r| r.function.as_deref() == Some(f));
        let raw_col = has("raw_tokio");
        let native_col = has("native")
            && members
                .iter()
                .any(|r| !matches!(r.function.as_deref(), Some("native") | Some("raw_tokio")));
        let rates = members.iter().any(|r| r.elements.is_some());
        let _ = writeln!(out, "### `{name}`\n");
        let mut header = String::from("| benchmark | median time / iter | 95 % CI of median |");
        let mut rule = String::from("| --- | ---: | ---: |");
        if rates {
            header.push_str(" elements / iter | rate |");
            rule.push_str(" ---: | ---: |");
        }
        if raw_col {
            header.push_str(" time ÷ raw tokio |");
            rule.push_str(" ---: |");
        }
        if native_col {
            header.push_str(" time ÷ native |");
            rule.push_str(" ---: |");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        for r in &members {
            let mut line = format!(
                "| {} | {} | {} – {} |",
                r.label(),
                format_time(r.median_ns),
                format_time(r.median_ci_ns.0),
                format_time(r.median_ci_ns.1)
            );
            if rates {
                match (r.elements, r.rate()) {
                    (Some(e), Some(rate)) => {
                        let _ = write!(line, " {e} | {} |", format_rate(rate));
                    }
                    _ => line.push_str(" – | – |"),
                }
            }
            for (show, function) in [(raw_col, "raw_tokio"), (native_col, "native")] {
                if show {
                    match reference(&members, function, r) {
                        Some(f) => {
                            let _ = write!(line, " {:.2} |", r.median_ns / f);
                        }
                        None => line.push_str(" – |"),
                    }
                }
            }
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    out
}

/// What the `wasm_limits` bench found for one memory limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitProbe {
    /// The memory limit, in MiB.
    pub limit_mib: usize,
    /// Linear memory when the limit refused a growth, in bytes (`None` when
    /// the guest could not be instantiated under the limit).
    pub largest_bytes: Option<u64>,
    /// Time of the call that allocated up to the limit, in ms.
    pub grow_ms: Option<f64>,
    /// How the run ended.
    pub outcome: String,
}

/// File name of the saved limit probes, in the criterion directory.
pub const LIMIT_PROBES_FILE: &str = "wasm_limits_largest.json";

/// Criterion's output directory as criterion picks it: `$CRITERION_HOME`,
/// else `$CARGO_TARGET_DIR/criterion`, else the workspace's
/// `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("criterion"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"),
    }
}

/// Saves the limit probes as JSON under `dir`.
pub fn write_limit_probes(dir: &Path, probes: &[LimitProbe]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(probes).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(LIMIT_PROBES_FILE), json)
}

/// Reads saved limit probes from `dir`, if the bench has run.
pub fn read_limit_probes(dir: &Path) -> Result<Option<Vec<LimitProbe>>, TableError> {
    let path = dir.join(LIMIT_PROBES_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| TableError::Io(path.clone(), e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TableError::Format(path, e.to_string()))
}

/// Renders the limit probes as a Markdown table.
pub fn render_limit_probes(probes: &[LimitProbe]) -> String {
    let mut out = String::from(
        "### WASM memory limits: largest memory reached\n\n\
         | limit | largest linear memory | % of limit | time to grow there | outcome |\n\
         | ---: | ---: | ---: | ---: | --- |\n",
    );
    for p in probes {
        let limit = (p.limit_mib as u64) << 20;
        let (largest, share) = match p.largest_bytes {
            Some(b) => (
                format!("{:.2} MiB", b as f64 / f64::from(1 << 20)),
                format!("{:.1} %", 100.0 * b as f64 / limit as f64),
            ),
            None => ("–".to_owned(), "–".to_owned()),
        };
        let grow = p.grow_ms.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.2} ms"));
        let _ = writeln!(
            out,
            "| {} MiB | {largest} | {share} | {grow} | {} |",
            p.limit_mib, p.outcome
        );
    }
    out.push('\n');
    out
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
pub fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_bench(root: &Path, dir: &str, group: &str, function: &str, median: f64, elements: Option<u64>) {
        let new = root.join(dir).join("new");
        std::fs::create_dir_all(&new).unwrap();
        let throughput = match elements {
            Some(e) => serde_json::json!({ "Elements": e }),
            None => Value::Null,
        };
        let bench = serde_json::json!({
            "group_id": group, "function_id": function, "value_str": null, "throughput": throughput,
        });
        std::fs::write(new.join("benchmark.json"), bench.to_string()).unwrap();
        let est = serde_json::json!({
            "median": { "point_estimate": median,
                        "confidence_interval": { "lower_bound": median * 0.9, "upper_bound": median * 1.1 } }
        });
        std::fs::write(new.join("estimates.json"), est.to_string()).unwrap();
    }

    #[test]
    fn renders_groups_with_rates_and_floor_ratios() {
        let root = std::env::temp_dir().join(format!("caxton-table-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        write_bench(
            &root,
            "peers_fanout/raw_tokio",
            "peers_fanout",
            "raw_tokio",
            1e6,
            Some(1000),
        );
        write_bench(&root, "peers_fanout/caxton", "peers_fanout", "caxton", 2e6, Some(1000));
        // A saved baseline must be ignored.
        let base = root.join("peers_fanout/caxton/main");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("benchmark.json"), "{}").unwrap();

        let rows = read_rows(&root, None).unwrap();
        assert_eq!(
            read_rows(
                &root,
                Some(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            )
            .map(|r| r.len())
            .unwrap_or(0),
            0
        );
        assert_eq!(rows.len(), 2);
        let md = render(&rows);
        assert!(md.contains("### `peers_fanout`"), "{md}");
        assert!(md.contains("| raw_tokio | 1.00 ms |"), "{md}");
        assert!(md.contains("1.00 M/s"), "{md}");
        assert!(
            md.contains("| caxton | 2.00 ms | 1.80 ms – 2.20 ms | 1000 | 500.0 K/s | 2.00 |"),
            "{md}"
        );
        let raw_at = md.find("| raw_tokio").unwrap();
        assert!(raw_at < md.find("| caxton").unwrap(), "floor is listed first");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn native_ratio_matches_parameters() {
        let row = |function: &str, value: &str, median_ns: f64| Row {
            group: "throughput_routing".into(),
            function: Some(function.into()),
            value: Some(value.into()),
            median_ns,
            median_ci_ns: (median_ns, median_ns),
            elements: None,
        };
        let rows = vec![
            row("wasm", "1000", 3e6),
            row("native", "1000", 1e6),
            row("native", "10", 1e6),
        ];
        let md = render(&rows);
        assert!(md.contains("time ÷ native"), "{md}");
        assert!(
            md.contains("| wasm/1000 | 3.00 ms | 3.00 ms – 3.00 ms | 3.00 |"),
            "{md}"
        );
        assert!(!md.contains("raw tokio"), "{md}");
    }

    #[test]
    fn limit_probes_round_trip() {
        let dir = std::env::temp_dir().join(format!("caxton-probes-test-{}", std::process::id()));
        let probes = vec![
            LimitProbe {
                limit_mib: 10,
                largest_bytes: Some(9 << 20),
                grow_ms: Some(1.5),
                outcome: "memory limit refused a growth".into(),
            },
            LimitProbe {
                limit_mib: 1,
                largest_bytes: None,
                grow_ms: None,
                outcome: "instantiation refused: too small".into(),
            },
        ];
        write_limit_probes(&dir, &probes).unwrap();
        let back = read_limit_probes(&dir).unwrap().unwrap();
        assert_eq!(back, probes);
        let md = render_limit_probes(&back);
        assert!(md.contains("| 10 MiB | 9.00 MiB | 90.0 % | 1.50 ms |"), "{md}");
        assert!(md.contains("| 1 MiB | – | – | – | instantiation refused"), "{md}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_dir_is_a_clear_error() {
        let root = std::env::temp_dir().join(format!("caxton-table-empty-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let err = read_rows(&root, None).unwrap_err();
        assert!(err.to_string().contains("no criterion results"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn units_scale() {
        assert_eq!(format_time(12.0), "12.0 ns");
        assert_eq!(format_time(1_500.0), "1.50 µs");
        assert_eq!(format_rate(2_500_000.0), "2.50 M/s");
    }
}
