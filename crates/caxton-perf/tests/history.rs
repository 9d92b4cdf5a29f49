//! The results history from the command line, as its users call it:
//! recording (`report --record`, the same code `run` records with),
//! `history list | show | import | prune | check`, `trend`, and the bad
//! inputs: an unreachable PostgreSQL, a malformed import, a foreign store.
//! The HTML pages are opened in headless Chromium where it is installed.

use std::path::Path;
use std::process::{Command, Output};

use caxton_history::testing::require_postgres;
use caxton_report::results::{Measurement, ResultSet};

fn perf(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caxton-perf"))
        .args(args)
        .current_dir(dir)
        .env_remove("CAXTON_HISTORY_URL")
        .env("CAXTON_MACHINE", "test-machine")
        .output()
        .expect("run caxton-perf")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn targets(dir: &Path) {
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets.toml"),
        dir.join("targets.toml"),
    )
    .unwrap();
}

/// A result set: latency `latency_us` (graded), a throughput with a
/// same-run reference.
fn write_set(path: &Path, latency_us: f64, finished: u64) {
    let mut set = ResultSet::new("test run");
    set.finished_at_unix = finished;
    let l = latency_us;
    set.measurements.push(Measurement::from_samples(
        "latency_p50",
        "native",
        "us",
        vec![l * 0.99, l, l * 1.01, l * 1.02, l * 0.98],
    ));
    set.measurements.push(
        Measurement::from_samples("message_throughput", "native", "msg/s", vec![1e6, 1.01e6, 0.99e6])
            .with_reference("raw tokio", 1.2e6),
    );
    set.save(path).unwrap();
}

#[test]
fn recording_builds_a_history_that_reports_and_checks_use() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    // No results/ directory yet: the default store creates it.
    for (i, l) in [2.0, 2.04, 1.97, 2.01, 1.99, 2.02].into_iter().enumerate() {
        write_set(&d.join(format!("r{i}.json")), l, 1_800_000_000 + i as u64);
        let o = perf(
            &["report", "--results", &format!("r{i}.json"), "--record", "--out", "rep"],
            d,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains("history: recorded run"), "{}", text(&o));
    }
    assert!(d.join("results/history.sqlite").is_file());
    let check = perf(&["history", "check"], d);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    // 50 % slower: the report says so against the history, the check fails.
    write_set(&d.join("slow.json"), 3.0, 1_800_000_100);
    let o = perf(&["report", "--results", "slow.json", "--record", "--out", "rep"], d);
    // Still within its target: the report's exit code is the grades'.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(d.join("rep/report.md")).unwrap();
    assert!(
        md.contains("1 regression(s), 0 improvement(s) against the history of this machine"),
        "{md}"
    );
    assert!(md.contains("| native | 2.005 | 3.000 | +49.6 % ❌ | us |"), "{md}");
    let html = std::fs::read_to_string(d.join("rep/report.html")).unwrap();
    assert!(html.contains("<h2>History</h2>"));
    let check = perf(&["history", "check", "--markdown", "check.md"], d);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        std::fs::read_to_string(d.join("check.md"))
            .unwrap()
            .contains("❌ regression")
    );

    let list = perf(&["history", "list"], d);
    assert!(
        text(&list).contains("7 run(s) in sqlite results/history.sqlite"),
        "{}",
        text(&list)
    );
    let show = perf(&["history", "show", "7", "--json"], d);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["results"]["measurements"][0]["value"], 3.0);
    assert_eq!(v["info"]["machine"]["fingerprint"], "test-machine");

    let trend = perf(
        &[
            "trend",
            "--metric",
            "latency_p50",
            "--html",
            "t.html",
            "--markdown",
            "-",
            "--check",
        ],
        d,
    );
    assert_eq!(trend.status.code(), Some(1), "{}", text(&trend));
    assert!(
        text(&trend).contains("| latency_p50 | native | us | 7 |"),
        "{}",
        text(&trend)
    );
    let page = std::fs::read_to_string(d.join("t.html")).unwrap();
    assert!(page.contains("CaxtonCharts.trends(") && !page.contains("src=\"http"));

    let prune = perf(&["history", "prune", "--keep", "2"], d);
    assert!(text(&prune).contains("deleted 5 run(s)"), "{}", text(&prune));
    let missing = perf(&["history", "show", "1"], d);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("no run 1"), "{}", text(&missing));
}

#[test]
fn an_unreachable_postgres_still_writes_the_reports_and_the_grades_decide() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    let nothing = "postgres://caxton@127.0.0.1:1/history";
    write_set(&d.join("good.json"), 2.0, 1_800_000_000);
    let o = perf(
        &[
            "report",
            "--results",
            "good.json",
            "--record",
            "--history",
            nothing,
            "--out",
            "rep",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "the grades pass: {}", text(&o));
    assert!(text(&o).contains("history not recorded"), "{}", text(&o));
    for f in ["report.md", "report.csv", "report.json", "report.html"] {
        assert!(d.join("rep").join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(d.join("rep/report.md")).unwrap();
    assert!(md.contains("- History not recorded: history store postgres"), "{md}");
    // A latency past its critical threshold: exit 1, from the grades.
    write_set(&d.join("bad.json"), 50_000.0, 1_800_000_000);
    // (The store named by the environment this time.)
    let o2 = Command::new(env!("CARGO_BIN_EXE_caxton-perf"))
        .args(["report", "--results", "bad.json", "--record", "--out", "rep2"])
        .current_dir(d)
        .env("CAXTON_HISTORY_URL", nothing)
        .output()
        .unwrap();
    assert_eq!(o2.status.code(), Some(1), "{}", text(&o2));
    assert!(text(&o2).contains("history not recorded"), "{}", text(&o2));
    assert!(d.join("rep2/report.html").is_file());
}

#[test]
fn a_malformed_import_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_set(&d.join("good.json"), 2.0, 1_800_000_000);
    std::fs::write(
        d.join("bad.json"),
        r#"{"schema": 1, "source": "x", "measurements": [{"metric": 3}]}"#,
    )
    .unwrap();
    let o = perf(&["history", "import", "good.json", "bad.json"], d);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("import refused, nothing recorded") && text(&o).contains("bad.json"),
        "{}",
        text(&o)
    );
    // The store was never even created.
    assert!(!d.join("results/history.sqlite").exists());
    // With a store in place: still nothing half-written.
    assert_eq!(perf(&["history", "import", "good.json"], d).status.code(), Some(0));
    let o = perf(&["history", "import", "good.json", "good.json", "bad.json"], d);
    assert_eq!(o.status.code(), Some(2));
    let list = perf(&["history", "list", "--json"], d);
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{}", text(&list));
}

#[test]
fn scenario_results_and_criterion_baselines_import() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("burst.json"),
        r#"{"scenario":"burst","config":{},"metrics":[{"name":"recovery_time","value":1.5,"unit":"s"}],"assertions":[],"intervals_file":"","partial":false,"passed":true,"started_at_unix_s":1800000000,"elapsed_s":5.0}"#,
    )
    .unwrap();
    let bench = d.join("target/criterion/spawn/native/main");
    std::fs::create_dir_all(&bench).unwrap();
    std::fs::write(
        bench.join("estimates.json"),
        r#"{"mean":{"point_estimate":2000.0,"confidence_interval":{"lower_bound":1900.0,"upper_bound":2100.0}},"median":{"point_estimate":1950.0,"confidence_interval":{"lower_bound":1900.0,"upper_bound":2000.0}}}"#,
    )
    .unwrap();
    let o = perf(&["history", "import", "burst.json", "--criterion", "main"], d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let list = perf(&["history", "list", "--json"], d);
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let kinds: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["criterion", "scenario"]);
    let show = perf(&["history", "show", "2", "--json"], d);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["results"]["measurements"][0]["value"], 1950.0, "{}", text(&show));
}

#[test]
fn a_store_that_is_not_a_history_is_refused_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    std::fs::create_dir_all(d.join("results")).unwrap();
    let junk = b"not a database at all".repeat(100);
    std::fs::write(d.join("results/history.sqlite"), &junk).unwrap();
    write_set(&d.join("r.json"), 2.0, 1_800_000_000);
    let o = perf(&["report", "--results", "r.json", "--record", "--out", "rep"], d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("is not an SQLite database"), "{}", text(&o));
    assert_eq!(std::fs::read(d.join("results/history.sqlite")).unwrap(), junk);
    let list = perf(&["history", "list"], d);
    assert_eq!(list.status.code(), Some(2));
}

#[test]
fn postgres_history_from_the_command_line() {
    let Some(pg) = require_postgres("postgres_history_from_the_command_line") else {
        return;
    };
    let url = pg.database("cli").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    for i in 0..3 {
        write_set(&d.join(format!("r{i}.json")), 2.0 + i as f64 * 0.01, 1_800_000_000 + i);
        let o = Command::new(env!("CARGO_BIN_EXE_caxton-perf"))
            .args(["report", "--results", &format!("r{i}.json"), "--record", "--out", "rep"])
            .current_dir(d)
            .env("CAXTON_HISTORY_URL", &url)
            .env("CAXTON_MACHINE", "test-machine")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            text(&o).contains("recorded run") && text(&o).contains("in postgres"),
            "{}",
            text(&o)
        );
    }
    let list = perf(&["history", "list", "--json", "--history", &url], d);
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 3, "{}", text(&list));
    assert!(!d.join("results/history.sqlite").exists(), "nothing went to SQLite");
}

/// Headless Chromium, when installed (Debian's `chromium`).
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The page's DOM after its scripts ran; opened with `#selftest`, the
/// page hovers over each chart and keeps what each tooltip said.
fn dump_dom(browser: &str, page: &Path) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            &format!("file://{}#selftest", page.display()),
        ])
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_html_pages_draw_their_charts_in_headless_chromium() {
    let Some(browser) = chromium() else {
        // CI installs it (.ci/run): there a missing browser is a failure.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no chromium on PATH (.ci/run installs it: apt-get install -y chromium)"
        );
        eprintln!(
            "SKIPPED the_html_pages_draw_their_charts_in_headless_chromium: no chromium (apt-get install -y chromium)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    for (i, l) in [2.0, 2.1, 1.9, 2.05, 1.95, 2.0, 3.0].into_iter().enumerate() {
        write_set(&d.join(format!("r{i}.json")), l, 1_800_000_000 + i as u64);
        let o = perf(
            &["report", "--results", &format!("r{i}.json"), "--record", "--out", "rep"],
            d,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = perf(&["trend", "--html", "trend.html"], d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The trend page: one uPlot chart (with its canvas) per figure.
    let dom = dump_dom(browser, &d.join("trend.html"));
    assert_eq!(dom.matches("class=\"uplot").count(), 2, "{dom}");
    assert!(dom.matches("<canvas").count() >= 2);
    assert!(dom.contains("2 chart(s) drawn in"), "{dom}");
    // Hovering shows a tooltip with the run's figures.
    let tips = tooltips(&dom);
    assert_eq!(tips.len(), 2, "{dom}");
    assert!(
        tips.iter().all(|t| t.contains("value") && t.contains("band")),
        "{tips:?}"
    );
    // The report page: a chart per category, and the history charts.
    let dom = dump_dom(browser, &d.join("rep/report.html"));
    assert_eq!(dom.matches("class=\"uplot").count(), 4, "{dom}");
    assert!(dom.contains("latency_p50 [native]"));
    let tips = tooltips(&dom);
    assert_eq!(tips.len(), 4, "{dom}");
    assert!(tips.iter().all(|t| t.contains("value")), "{tips:?}");
}

/// What the page's self-test recorded from each chart's tooltip.
fn tooltips(dom: &str) -> Vec<String> {
    let attr = dom
        .split("data-tooltips=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no tooltip self-test in {dom}"));
    serde_json::from_str(&attr.replace("&quot;", "\"").replace("&amp;", "&")).unwrap()
}

#[test]
fn a_run_with_an_unreachable_postgres_still_reports_and_says_so() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    // The real `run`, stopped by Ctrl-C after its first step (as in
    // tests/cli.rs): its exit code is the signal's, never the history's.
    let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-perf"))
        .args([
            "run",
            "--no-progress",
            "--out",
            "out",
            "--history",
            "postgres://caxton@127.0.0.1:1/history",
        ])
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut stderr = String::new();
    let mut sent = false;
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if !sent && line.starts_with("[1/") {
            sent = true;
            assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    assert_eq!(child.wait().unwrap().code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("history not recorded: history store postgres"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(d.join("out/report.md")).unwrap();
    assert!(md.contains("- History not recorded:"), "{md}");
    for f in ["results.json", "report.csv", "report.json", "report.html"] {
        assert!(d.join("out").join(f).is_file(), "{f}");
    }
    assert!(!d.join("results/history.sqlite").exists());
}

#[test]
fn imports_name_their_commit_and_any_commit_text_is_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_set(&d.join("r.json"), 2.0, 1_800_000_000);
    let o = perf(
        &[
            "history",
            "import",
            "r.json",
            "--commit",
            "ünïcödé-tag-1",
            "--branch",
            "rélease",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let list = perf(&["history", "list"], d);
    assert!(
        text(&list).contains("ünïcödé-t") && text(&list).contains("rélease"),
        "{}",
        text(&list)
    );
    let t = perf(&["trend", "--markdown", "-"], d);
    assert_eq!(t.status.code(), Some(0), "{}", text(&t));
}

#[test]
fn two_processes_recording_at_once_both_land() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_owned();
    write_set(&d.join("r.json"), 2.0, 1_800_000_000);
    // Two writers, each a stream of separate processes, on one store.
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let d = d.clone();
            std::thread::spawn(move || {
                for _ in 0..8 {
                    let o = perf(&["history", "import", "r.json"], &d);
                    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let list = perf(&["history", "list", "--json"], &d);
    let runs: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 16, "{}", text(&list));
}
