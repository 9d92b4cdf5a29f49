//! The CLI as its users call it: exit codes and error messages of `compare`
//! and `report` (the measuring `run` is exercised by the README command).

use std::path::Path;
use std::process::{Command, Output};

use caxton_report::results::{Measurement, ResultSet};

fn perf(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caxton-perf"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run caxton-perf")
}

fn write_set(path: &Path, samples: Vec<f64>) {
    let mut set = ResultSet::new("test");
    set.measurements.push(Measurement::from_samples(
        "message_throughput",
        "native",
        "msg/s",
        samples,
    ));
    set.save(path).unwrap();
}

fn targets(dir: &Path) {
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets.toml"),
        dir.join("targets.toml"),
    )
    .unwrap();
}

#[test]
fn compare_exits_zero_on_a_a_and_one_on_a_regression() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    write_set(&d.join("a.json"), vec![100.0, 101.0, 99.0, 100.5, 99.5]);
    write_set(&d.join("slow.json"), vec![70.0, 71.0, 69.0, 70.5, 69.5]);
    let same = perf(&["compare", "a.json", "a.json"], d);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 regression(s)"));
    let worse = perf(&["compare", "a.json", "slow.json", "--markdown", "out.md"], d);
    assert_eq!(worse.status.code(), Some(1));
    let md = std::fs::read_to_string(d.join("out.md")).unwrap();
    assert!(md.contains("regression"), "{md}");
}

#[test]
fn missing_inputs_are_named_and_exit_two() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = perf(&["compare", "nope.json", "nope.json"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json"));
    std::fs::create_dir_all(d.join("target/criterion/g/b/main")).unwrap();
    std::fs::write(
        d.join("target/criterion/g/b/main/estimates.json"),
        r#"{"mean":{"confidence_interval":{"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5}}"#,
    )
    .unwrap();
    let out = perf(&["compare", "--criterion", "main", "pr"], d);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"pr\"") && err.contains("main"), "{err}");
}

#[test]
fn a_malformed_targets_file_is_refused_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_set(&d.join("r.json"), vec![1.0]);
    std::fs::write(
        d.join("targets.toml"),
        "[metrics.x]\nunit = \"ms\"\nbetter = \"sideways\"\n",
    )
    .unwrap();
    let out = perf(&["report", "--results", "r.json", "--out", "rep"], d);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("targets.toml:3"), "{err}");
}

#[test]
fn report_writes_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    write_set(&d.join("r.json"), vec![200_000.0, 210_000.0, 190_000.0]);
    let out = perf(&["report", "--results", "r.json", "--out", "rep"], d);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["report.md", "report.csv", "report.json", "report.html"] {
        assert!(d.join("rep").join(f).is_file(), "{f}");
    }
}

/// Starts `run` in `dir`, sends `signals` (via `kill`) once the suite has
/// announced step `at` on stderr, and waits for the process to end.
fn interrupted_run(dir: &Path, at: &str, signals: &[&str]) -> (Option<i32>, String) {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-perf"))
        .args(["run", "--no-progress", "--out", "out"])
        .current_dir(dir)
        .stdout(std::fs::File::create(dir.join("stdout.txt")).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start caxton-perf run");
    let pid = child.id().to_string();
    let mut stderr = String::new();
    let mut sent = false;
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        stderr.push_str(&line);
        stderr.push('\n');
        if !sent && line.starts_with(at) {
            sent = true;
            for (i, signal) in signals.iter().enumerate() {
                if i > 0 {
                    // Let the watcher take the first before the next.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
                let kill = Command::new("kill").args([*signal, pid.as_str()]).status().unwrap();
                assert!(kill.success());
            }
        }
    }
    assert!(sent, "the suite never announced {at:?}:\n{stderr}");
    (child.wait().unwrap().code(), stderr)
}

/// What an interrupted run must leave: a loadable, partial results file
/// and reports that say so at the top.
fn assert_partial_outputs(dir: &Path, stderr: &str) {
    let set = ResultSet::load(&dir.join("out/results.json")).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    assert!(set.partial, "{stderr}");
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.starts_with("> **⚠️ PARTIAL RESULTS"), "{md}");
    // Whatever was not reached is listed, failing, never a pass.
    assert!(md.contains("not measured (run interrupted)"), "{md}");
    for f in ["report.csv", "report.json", "report.html"] {
        assert!(dir.join("out").join(f).is_file(), "{f}");
    }
    assert!(stderr.contains("partial results"), "{stderr}");
    assert!(stderr.contains("out/results.json"), "{stderr}");
}

#[test]
fn ctrl_c_during_run_saves_what_was_measured_as_partial() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    // Interrupted during the first step: it finishes, then nothing else runs.
    let (code, stderr) = interrupted_run(d, "[1/13]", &["-INT"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert_partial_outputs(d, &stderr);
    let stdout = std::fs::read_to_string(d.join("stdout.txt")).unwrap();
    assert!(stdout.contains("results: out/results.json"), "{stdout}");
    // `report` on the partial file does not pass either.
    let out = perf(&["report", "--results", "out/results.json", "--out", "again"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pass"));
}

#[test]
fn a_second_signal_stops_at_once_and_still_saves() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    // SIGTERM asks, SIGINT insists: the step under way is abandoned, the
    // measurements of the finished steps are written, exit code SIGTERM's.
    let (code, stderr) = interrupted_run(d, "[2/13]", &["-TERM", "-INT"]);
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("stopping now"), "{stderr}");
    assert_partial_outputs(d, &stderr);
}

#[test]
fn bench_table_prints_the_page_and_exits_one_without_results() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = perf(&["bench-table", "--criterion-dir", "criterion"], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no criterion results under criterion"),
        "{out:?}"
    );
    let new = d.join("criterion/spawn/native/100/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(
        new.join("benchmark.json"),
        r#"{"group_id":"spawn","function_id":"native","value_str":"100","throughput":{"Elements":100}}"#,
    )
    .unwrap();
    let stat = r#"{"point_estimate":2000.0,"confidence_interval":{"lower_bound":1900.0,"upper_bound":2100.0}}"#;
    std::fs::write(
        new.join("estimates.json"),
        format!(r#"{{"mean":{stat},"median":{stat}}}"#),
    )
    .unwrap();
    let out = perf(
        &[
            "bench-table",
            "--criterion-dir",
            "criterion",
            "--wall-time-s",
            "42",
            "--since-unix",
            "0",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with("# Benchmarks\n"), "{page}");
    assert!(
        page.contains("* whole suite wall time, default settings: 42 s"),
        "{page}"
    );
    assert!(page.contains("* regenerate: `bash benches/run-suite.sh`"), "{page}");
    assert!(
        page.contains("| native/100 | 2.00 µs | 1.90 µs – 2.10 µs | 100 | 50.00 M/s |"),
        "{page}"
    );
    let bad = perf(&["bench-table", "--since-unix", "yesterday"], d);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn interleaved_rounds_are_judged_on_paired_ratios_and_self_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    targets(d);
    // The machine's speed moves 2x between rounds; head is base's twin (A/A)
    // or 30 % slower (planted) in every round.
    let speed = [1.0, 2.0, 1.4, 0.7, 1.2];
    let mut base = Vec::new();
    let mut same = Vec::new();
    let mut slow = Vec::new();
    for (i, s) in speed.iter().enumerate() {
        let at = |v: f64| vec![v * 0.99, v, v * 1.01];
        for (list, name, factor) in [(&mut base, "b", 1.0), (&mut same, "s", 1.01), (&mut slow, "p", 0.7)] {
            let file = format!("{name}{i}.json");
            write_set(&d.join(&file), at(100.0 * s * factor));
            list.push(file);
        }
    }
    // A round may also be a directory of `run --only` parts, merged: the
    // planted head's last round comes as one.
    let part = d.join("p-last/latency");
    std::fs::create_dir_all(&part).unwrap();
    std::fs::rename(d.join(slow.last().unwrap()), part.join("results.json")).unwrap();
    *slow.last_mut().unwrap() = "p-last".to_owned();
    let (base, same, slow) = (base.join(","), same.join(","), slow.join(","));
    let aa = perf(&["compare", &base, &same, "--expect", "same", "--json", "aa.json"], d);
    let text = String::from_utf8_lossy(&aa.stdout);
    assert_eq!(
        aa.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&aa.stderr)
    );
    assert!(text.contains("A/A: 1 row(s) judged, 0 flagged"), "{text}");
    let rows: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("aa.json")).unwrap()).unwrap();
    assert_eq!(rows[0]["ratios"].as_array().map(Vec::len), Some(5));
    let planted = perf(&["compare", &base, &slow, "--expect", "slower"], d);
    let text = String::from_utf8_lossy(&planted.stdout);
    assert_eq!(planted.status.code(), Some(0), "{text}");
    assert!(text.contains("sensitivity 100 %"), "{text}");
    // Without --expect a flagged regression exits 1, as a single pair does.
    assert_eq!(perf(&["compare", &base, &slow], d).status.code(), Some(1));
    // Too few rounds, or unpaired lists, are refused by name.
    let four = perf(
        &[
            "compare",
            "b0.json,b1.json,b2.json,b3.json",
            "p0.json,p1.json,p2.json,p3.json",
        ],
        d,
    );
    assert_eq!(four.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&four.stderr).contains("at least 5 rounds"));
    let odd = perf(&["compare", &base, "p0.json,p1.json"], d);
    assert!(String::from_utf8_lossy(&odd.stderr).contains("5 base run(s) but 2 head run(s)"));
    // A directory round without any part is refused by name.
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let empty = perf(
        &[
            "compare",
            &base,
            &format!("empty,{}", &slow[slow.find(',').unwrap() + 1..]),
        ],
        d,
    );
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no */results.json"));
}

#[test]
fn compare_criterion_records_the_head_baseline_in_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (name, ns) in [("main", 1.5), ("pr", 1.6)] {
        let dir = d.join(format!("target/criterion/g/b/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("estimates.json"),
            format!(
                r#"{{"mean":{{"confidence_interval":{{"lower_bound":{lo},"upper_bound":{hi}}},"point_estimate":{ns}}}}}"#,
                lo = ns - 0.1,
                hi = ns + 0.1
            ),
        )
        .unwrap();
    }
    let out = perf(&["compare", "--criterion", "main", "pr"], d);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("history: recorded criterion baseline pr"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = perf(&["history", "list"], d);
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("criterion"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    // --no-history records nothing more.
    let before = String::from_utf8_lossy(&perf(&["history", "list"], d).stdout)
        .lines()
        .count();
    perf(&["compare", "--criterion", "main", "pr", "--no-history"], d);
    let after = String::from_utf8_lossy(&perf(&["history", "list"], d).stdout)
        .lines()
        .count();
    assert_eq!(before, after);
}

#[test]
fn run_only_names_its_steps_and_refuses_an_unknown_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let list = perf(&["run", "--list-steps"], d);
    assert_eq!(list.status.code(), Some(0));
    let steps = String::from_utf8_lossy(&list.stdout);
    assert!(
        steps.lines().any(|l| l == "latency") && steps.lines().any(|l| l == "memory-wasm"),
        "{steps}"
    );
    let bad = perf(&["run", "--only", "latency,warp-speed", "--out", "o"], d);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown suite step `warp-speed`") && err.contains("throughput-by-count"),
        "{err}"
    );
    assert!(!d.join("o/results.json").exists());
}
