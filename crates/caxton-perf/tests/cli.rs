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
