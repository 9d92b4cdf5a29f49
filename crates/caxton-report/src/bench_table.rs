//! `docs/benchmarks.md`: criterion's latest results ([`load_latest`]) as
//! one Markdown table per group, with the ratios to the same run's floor
//! (raw tokio) and native twin, and the WASM memory-limit probes the
//! `wasm_limits` bench saves beside criterion's output.
//!
//! `caxton-perf bench-table` prints it; `benches/run-suite.sh` runs the
//! suite, times it and calls that.
//!
//! [`load_latest`]: crate::criterion::load_latest

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::criterion::{BaselineError, Latest};

/// What the page says about the run besides its results.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The day of the run (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// Logical CPUs of the machine.
    pub cores: usize,
    /// Wall time of the whole suite, in seconds, when it was timed.
    pub wall_time_s: Option<String>,
    /// The command that regenerates the page.
    pub command: String,
}

/// The whole page: a header on the run, how to read the tables, one table
/// per group, and the limit probes when the bench saved them.
pub fn document(info: &RunInfo, rows: &[Latest], probes: Option<&[LimitProbe]>) -> String {
    let mut s = String::from("# Benchmarks\n\n");
    s.push_str("Generated from a real run of the criterion suite (`benches/`) on this project's machine.\n\n");
    let _ = writeln!(s, "* date (UTC): {}", info.date);
    let _ = writeln!(s, "* cores (`nproc`): {}", info.cores);
    if let Some(w) = &info.wall_time_s {
        let _ = writeln!(
            s,
            "* whole suite wall time, default settings: {w} s (measuring only; the build is not counted)"
        );
    }
    let _ = writeln!(s, "* regenerate: `{}`\n", info.command);
    s.push_str(HOW_TO_READ.trim());
    s.push_str("\n\n");
    s.push_str(&render(rows));
    if let Some(probes) = probes {
        s.push_str(&render_limit_probes(probes));
    }
    s
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
    "peers_spawn",
    "peers_broadcast",
    "peers_request_under_load",
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
fn reference(members: &[&Latest], function: &str, row: &Latest) -> Option<f64> {
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
pub fn render(rows: &[Latest]) -> String {
    let mut groups: BTreeMap<String, Vec<&Latest>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.group.clone()).or_default().push(row);
    }
    let mut names: Vec<String> = groups.keys().cloned().collect();
    names.sort_by_key(|g| (ORDER.iter().position(|o| o == g).unwrap_or(ORDER.len()), g.to_string()));
    let mut out = String::new();
    for name in names {
        let mut members = groups.remove(&name).unwrap_or_default();
        // The floor first, then Caxton native, then the rest; by parameter.
        let rank = |r: &Latest| match r.function.as_deref() {
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
                format_time(r.median_interval_ns.0),
                format_time(r.median_interval_ns.1)
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

/// Saves the limit probes as JSON under `dir`.
pub fn write_limit_probes(dir: &Path, probes: &[LimitProbe]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(probes).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(LIMIT_PROBES_FILE), json)
}

/// Reads saved limit probes from `dir`, if the bench has run.
pub fn read_limit_probes(dir: &Path) -> Result<Option<Vec<LimitProbe>>, BaselineError> {
    let path = dir.join(LIMIT_PROBES_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let corrupt = |message: String| BaselineError::Corrupt {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| corrupt(e.to_string()))
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

const HOW_TO_READ: &str = r#"
## How to read these tables

* Each row is criterion's **median** time per iteration and the 95 % confidence interval of that median,
  from the run named above. A rate is elements per iteration ÷ median time.
* Every workload is defined once in `crates/caxton-workloads` and driven from the thread that calls
  `Runtime::block_on` (an external client); agents, actors and consumer tasks run on tokio's
  multi-threaded runtime with one worker per core. See `benches/src/lib.rs`.
* **Peers** (`peers_*`, docs/peers.md): the same workload on raw tokio (the floor), Caxton, ractor,
  kameo and actix (its own System and one Arbiter per core); `caxton` is Caxton's default
  configuration (handler time on `CpuClock::Sampled`), `caxton_wall_clock` times handlers on the
  wall clock, the closer match to peers that keep no per-actor time.
  "time ÷ raw tokio" is a row's median time divided by the `raw_tokio` row's (same parameter) in the
  same run: 1.00 is as fast as bare channels, 2.00 takes twice as long (half the throughput).
  "time ÷ native" likewise divides by the native Caxton row with the same parameter. Members are
  measured one after the other, and this machine's cross-core speed drifts by up to 2x from minute to
  minute, so read ratios as approximate; the interleaved rounds runner (`--bench peers_rounds`)
  measures them round-robin in one process.
* Fan-out: one producer, 20 000 envelopes of 64 B per iteration, round-robin to 1000 receivers.
  Ping-pong: one request in flight, 64 B. Spawn: 10 000 actors, each until it handled one message.
  Broadcast: one message to each of 1000 actors. Request under load: the ping-pong round trip while
  1000 other actors take a fan-out stream.
* `throughput_routing`: 20 000 messages per iteration routed by agent id to N sink agents: `native`
  does nothing, `wasm` is the `counter` guest (pooling allocator, default limits: epoch CPU limit,
  16 MiB memory).
  `throughput_pool`: 1000 tasks to a 10-agent capability pool (16 FNV-1a rounds over 64 B each).
* `latency_handler`: the pool's per-task work called directly, through one agent's mailbox
  (pipelined, per message), and as a request/reply to one agent.
* `spawn` and `scalability_spawn`: spawn call to every agent ready to receive (`native/N` is a batch
  of N); agents are stopped between iterations outside the timed region. `raw_tokio/1000`: 1000 tasks
  each owning a channel receiver. `scalability_throughput`: 20 000 messages per
  iteration spread over N live agents. `scalability_spawn/native/1` times one lone spawn into an idle
  runtime (it includes waking a worker thread), whereas `spawn/native/1` is the per-spawn time of
  back-to-back spawns.
* `wasm_overhead_compute`: the same kernels (`caxton_kernels::Kernel::ALL`: collatz, sort, crc32,
  parse; the parameter names the kernel, at the rounds of `caxton_workloads::wasm::overhead::rounds`, same
  seed) called natively and in the `compute` guest under each CPU-limit mechanism (epoch, fuel,
  none); `wasm_overhead_routed`: the collatz kernel as a request to a native vs a WASM compute
  agent.
* `wasm_limits_*`: the `misbehave` guest (on-demand allocator, no CPU limit) allocating 1 MiB chunks
  until its memory limit refuses a growth (`grow_until_refused/L`, L in MiB), and a trivial call on a
  fresh instance vs one held at its limit. The largest-memory table below comes from the same bench;
  since the probe allocates whole 1 MiB chunks, under a 1 MiB limit no chunk fits and the guest keeps
  only its initial memory.
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criterion::load_latest;

    fn write_bench(root: &Path, dir: &str, group: &str, function: &str, median: f64, elements: Option<u64>) {
        let new = root.join(dir).join("new");
        std::fs::create_dir_all(&new).unwrap();
        let throughput = match elements {
            Some(e) => serde_json::json!({ "Elements": e }),
            None => serde_json::Value::Null,
        };
        let bench = serde_json::json!({
            "group_id": group, "function_id": function, "value_str": null, "throughput": throughput,
        });
        std::fs::write(new.join("benchmark.json"), bench.to_string()).unwrap();
        let stat = serde_json::json!({ "point_estimate": median,
            "confidence_interval": { "lower_bound": median * 0.9, "upper_bound": median * 1.1 } });
        let est = serde_json::json!({ "mean": stat, "median": stat });
        std::fs::write(new.join("estimates.json"), est.to_string()).unwrap();
    }

    #[test]
    fn renders_groups_with_rates_and_floor_ratios() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_bench(
            root,
            "peers_fanout/raw_tokio",
            "peers_fanout",
            "raw_tokio",
            1e6,
            Some(1000),
        );
        write_bench(root, "peers_fanout/caxton", "peers_fanout", "caxton", 2e6, Some(1000));
        // A saved baseline must be ignored.
        let base = root.join("peers_fanout/caxton/main");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("benchmark.json"), "{}").unwrap();
        std::fs::write(base.join("estimates.json"), "{}").unwrap();

        let rows = load_latest(root, None).unwrap();
        assert!(matches!(
            load_latest(
                root,
                Some(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            ),
            Err(BaselineError::NoResults(_))
        ));
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
    }

    #[test]
    fn native_ratio_matches_parameters() {
        let row = |function: &str, value: &str, median_ns: f64| Latest {
            group: "throughput_routing".into(),
            function: Some(function.into()),
            value: Some(value.into()),
            median_ns,
            median_interval_ns: (median_ns, median_ns),
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("criterion");
        assert_eq!(read_limit_probes(&dir).unwrap(), None);
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
    }

    #[test]
    fn empty_dir_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = load_latest(tmp.path(), None).unwrap_err();
        assert!(err.to_string().contains("no criterion results"), "{err}");
        let err = load_latest(&tmp.path().join("absent"), None).unwrap_err();
        assert!(err.to_string().contains("no criterion results"), "{err}");
    }

    #[test]
    fn the_document_has_its_header_tables_and_probes() {
        let info = RunInfo {
            date: "2026-12-01".into(),
            cores: 2,
            wall_time_s: Some("700".into()),
            command: "bash benches/run-suite.sh".into(),
        };
        let rows = vec![Latest {
            group: "spawn".into(),
            function: Some("native".into()),
            value: Some("1".into()),
            elements: None,
            median_ns: 500.0,
            median_interval_ns: (400.0, 600.0),
        }];
        let probes = [LimitProbe {
            limit_mib: 1,
            largest_bytes: None,
            grow_ms: None,
            outcome: "x".into(),
        }];
        let doc = document(&info, &rows, Some(&probes));
        assert!(doc.starts_with("# Benchmarks\n\nGenerated from a real run"), "{doc}");
        assert!(
            doc.contains(
                "* date (UTC): 2026-12-01\n* cores (`nproc`): 2\n* whole suite wall time, default settings: 700 s"
            ),
            "{doc}"
        );
        assert!(
            doc.contains("* regenerate: `bash benches/run-suite.sh`\n\n## How to read these tables"),
            "{doc}"
        );
        assert!(
            doc.contains("### `spawn`") && doc.contains("### WASM memory limits"),
            "{doc}"
        );
        let plain = document(
            &RunInfo {
                wall_time_s: None,
                ..info
            },
            &rows,
            None,
        );
        assert!(
            !plain.contains("wall time") && !plain.contains("WASM memory limits"),
            "{plain}"
        );
    }

    #[test]
    fn units_scale() {
        assert_eq!(format_time(12.0), "12.0 ns");
        assert_eq!(format_time(1_500.0), "1.50 µs");
        assert_eq!(format_rate(2_500_000.0), "2.50 M/s");
    }
}
