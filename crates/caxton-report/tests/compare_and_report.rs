//! Regression detection with its noise rule, criterion baselines, and the
//! report files.

use std::collections::BTreeMap;

use caxton_report::compare::{Point, Verdict, compare_criterion, compare_results, has_regression, judge, markdown};
use caxton_report::criterion::{BaselineError, Estimate, load_baseline};
use caxton_report::grade::grade_all;
use caxton_report::report::write_all;
use caxton_report::results::{Measurement, ResultSet};
use caxton_report::targets::Targets;

fn tight(v: f64) -> Point {
    Point {
        value: v,
        interval: Some((v * 0.99, v * 1.01)),
    }
}

#[test]
fn a_twenty_percent_slowdown_with_tight_intervals_is_a_regression() {
    let (change, verdict) = judge(tight(100.0), tight(120.0), false, 10.0);
    assert!((change - 20.0).abs() < 1e-9);
    assert_eq!(verdict, Verdict::Regression);
    // Same for a rate that drops 20 %.
    assert_eq!(judge(tight(100.0), tight(80.0), true, 10.0).1, Verdict::Regression);
    assert_eq!(judge(tight(100.0), tight(80.0), false, 10.0).1, Verdict::Improvement);
}

#[test]
fn a_twenty_percent_change_inside_overlapping_intervals_is_noise() {
    let wide_base = Point {
        value: 100.0,
        interval: Some((70.0, 130.0)),
    };
    let wide_head = Point {
        value: 120.0,
        interval: Some((90.0, 150.0)),
    };
    assert_eq!(judge(wide_base, wide_head, false, 10.0).1, Verdict::WithinNoise);
    assert_eq!(judge(tight(100.0), tight(105.0), false, 10.0).1, Verdict::Unchanged);
}

#[test]
fn an_a_a_comparison_reports_nothing() {
    let mut set = ResultSet::new("test");
    set.measurements.push(Measurement::from_samples(
        "message_throughput",
        "native",
        "msg/s",
        vec![9.0, 10.0, 11.0, 10.0, 10.5],
    ));
    let rows = compare_results(&set, &set, None, 10.0);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].verdict, Verdict::Unchanged);
    assert!(!has_regression(&rows));
}

#[test]
fn result_sets_use_the_targets_direction_and_the_noise_rule() {
    let mut base = ResultSet::new("base");
    let mut head = ResultSet::new("head");
    base.measurements
        .push(Measurement::exact("message_throughput", "native", "msg/s", 100.0));
    head.measurements
        .push(Measurement::exact("message_throughput", "native", "msg/s", 70.0));
    head.measurements
        .push(Measurement::single("latency_p50", "native", "ms", 1.0));
    base.measurements
        .push(Measurement::single("cpu_per_agent", "native", "%", 1.0));
    head.measurements
        .push(Measurement::single("cpu_per_agent", "native", "%", 2.0));
    base.measurements
        .push(Measurement::exact("memory_per_agent", "heap", "B", 1000.0));
    head.measurements
        .push(Measurement::exact("memory_per_agent", "heap", "B", 1200.0));
    // Samples that shift between runs but overlap: noise, not a regression.
    let a = vec![0.12, 0.2, 0.26, 0.3, 0.46, 1.15];
    let b = vec![0.41, 0.5, 0.72, 0.8, 0.97, 2.3];
    base.measurements
        .push(Measurement::from_samples("recovery_time", "native", "us", a));
    head.measurements
        .push(Measurement::from_samples("recovery_time", "native", "us", b));
    // Samples that do not overlap at all: a regression.
    let fast = vec![1.0, 1.1, 1.05, 0.95, 1.0];
    let slow = vec![2.0, 2.1, 2.05, 1.95, 2.0];
    base.measurements
        .push(Measurement::from_samples("agent_spawn_time", "native", "us", fast));
    head.measurements
        .push(Measurement::from_samples("agent_spawn_time", "native", "us", slow));
    let rows = compare_results(&base, &head, None, 10.0);
    let by: BTreeMap<_, _> = rows.iter().map(|r| (r.name.as_str(), r.verdict)).collect();
    assert_eq!(by["message_throughput [native]"], Verdict::Regression);
    assert_eq!(by["latency_p50 [native]"], Verdict::Missing);
    // A noisy single value is reported, never flagged; an exact count is.
    assert_eq!(by["cpu_per_agent [native]"], Verdict::WithinNoise);
    assert_eq!(by["memory_per_agent [heap]"], Verdict::Regression);
    assert_eq!(by["recovery_time [native]"], Verdict::WithinNoise);
    assert_eq!(by["agent_spawn_time [native]"], Verdict::Regression);
    assert!(has_regression(&rows));
    let md = markdown("results", &rows, 10.0);
    assert!(
        md.contains("regression") && md.contains("message_throughput [native]"),
        "{md}"
    );
}

fn write_estimate(dir: &std::path::Path, id: &str, baseline: &str, mean: f64, lo: f64, hi: f64) {
    let d = dir.join(id).join(baseline);
    std::fs::create_dir_all(&d).unwrap();
    let json = format!(
        r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{lo},"upper_bound":{hi}}},"point_estimate":{mean},"standard_error":1.0}},"median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{lo},"upper_bound":{hi}}},"point_estimate":{mean},"standard_error":1.0}}}}"#
    );
    std::fs::write(d.join("estimates.json"), json).unwrap();
}

#[test]
fn criterion_baselines_are_read_and_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_estimate(dir, "throughput/native/1000", "base", 100.0, 99.0, 101.0);
    write_estimate(dir, "throughput/native/1000", "head", 120.0, 119.0, 121.0);
    write_estimate(dir, "latency/request_reply", "base", 50.0, 40.0, 60.0);
    write_estimate(dir, "latency/request_reply", "head", 60.0, 45.0, 70.0);
    let base = load_baseline(dir, "base").unwrap();
    let head = load_baseline(dir, "head").unwrap();
    assert_eq!(base.len(), 2);
    assert_eq!(
        base["throughput/native/1000"],
        Estimate {
            mean_ns: 100.0,
            interval_ns: (99.0, 101.0),
            median_ns: Some((100.0, (99.0, 101.0))),
            per_iteration_ns: vec![],
        }
    );
    let rows = compare_criterion(&base, &head, 10.0);
    let by: BTreeMap<_, _> = rows.iter().map(|r| (r.name.as_str(), r.verdict)).collect();
    assert_eq!(by["throughput/native/1000"], Verdict::Regression);
    assert_eq!(by["latency/request_reply"], Verdict::WithinNoise);
    // With criterion's per-sample times, the band comes from them.
    let d = dir.join("throughput/native/1000/wide");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(
        dir.join("throughput/native/1000/head/estimates.json"),
        d.join("estimates.json"),
    )
    .unwrap();
    std::fs::write(
        d.join("sample.json"),
        r#"{"sampling_mode":"Linear","iters":[1,2,3,4],"times":[90,240,300,520]}"#,
    )
    .unwrap();
    let wide = load_baseline(dir, "wide").unwrap();
    assert_eq!(
        wide["throughput/native/1000"].per_iteration_ns,
        vec![90.0, 120.0, 100.0, 130.0]
    );
    let rows = compare_criterion(&base, &wide, 10.0);
    let by: BTreeMap<_, _> = rows.iter().map(|r| (r.name.as_str(), r.verdict)).collect();
    assert_eq!(by["latency/request_reply"], Verdict::Missing);
    assert_eq!(
        by["throughput/native/1000"],
        Verdict::WithinNoise,
        "its samples spread over 90..130 ns"
    );
    match load_baseline(dir, "nope") {
        Err(BaselineError::Missing { available, .. }) => assert_eq!(available, "base, head, wide"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        load_baseline(&dir.join("absent"), "base"),
        Err(BaselineError::NoCriterionDir(_))
    ));
}

#[test]
fn reports_are_written_with_chart_data() {
    let targets = Targets::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets.toml")).unwrap();
    let mut set = ResultSet::new("test run");
    set.measurements.push(
        Measurement::from_samples(
            "message_throughput",
            "native",
            "msg/s",
            vec![1e6, 1.1e6, 0.9e6, 1e6, 1.05e6],
        )
        .with_reference("raw tokio", 2e6),
    );
    set.measurements.push(
        Measurement::single("latency_p50", "native", "ms", 0.002)
            .with_detail("p90", 0.004)
            .with_detail("p99", 0.01),
    );
    let graded = grade_all(&set, &targets).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let files = write_all(tmp.path(), &set, &graded).unwrap();
    assert_eq!(files.len(), 4);
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    // Charts drawn by the vendored uPlot, no hand-written SVG, nothing
    // loaded from the network.
    assert!(html.contains("new uPlot(") && html.contains("(v1.6.32)"));
    assert!(!html.contains("<svg"), "no hand-written SVG charts");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    assert!(html.contains("id=\"caxton-data\""));
    assert!(html.contains("\"metric\":\"message_throughput\""));
    let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
    // The seed's format: per category, baseline, current and change.
    assert!(md.contains("#### message_throughput\n"), "{md}");
    assert!(
        md.contains("| native | — | 1000000 | — | msg/s | 🟢 target | raw tokio 2000000 (0.50x) |  |"),
        "{md}"
    );
    let csv = std::fs::read_to_string(tmp.path().join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
}

#[test]
fn same_run_ratios_cancel_machine_speed_shifts() {
    let run = |scale: f64, ratios: Vec<f64>| {
        let mut set = ResultSet::new("run");
        let samples = vec![4.0 * scale, 4.1 * scale, 3.9 * scale, 4.05 * scale, 3.95 * scale];
        set.measurements.push(
            Measurement::from_samples("message_throughput", "native", "msg/s", samples).with_reference_pairs(
                "raw tokio",
                5.0 * scale,
                ratios,
            ),
        );
        set
    };
    let steady = vec![0.8, 0.82, 0.79, 0.81, 0.8];
    // The whole machine got 3x slower between runs: the ratio did not move.
    let rows = compare_results(&run(1.0, steady.clone()), &run(1.0 / 3.0, steady.clone()), None, 10.0);
    assert_eq!(rows[0].verdict, Verdict::Unchanged, "{:?}", rows[0]);
    assert_eq!(rows[0].unit, "ratio");
    assert!(rows[0].name.ends_with("÷ raw tokio"), "{}", rows[0].name);
    // Same machine speed, but Caxton lost 30 % against its reference.
    let worse = vec![0.56, 0.57, 0.55, 0.56, 0.58];
    let rows = compare_results(&run(1.0, steady.clone()), &run(1.0, worse.clone()), None, 10.0);
    assert_eq!(rows[0].verdict, Verdict::Regression);
    // An informational measurement is reported, never flagged.
    let mut informational = run(1.0, worse);
    informational.measurements[0] = informational.measurements[0].clone().informational();
    let rows = compare_results(&run(1.0, steady), &informational, None, 10.0);
    assert_eq!(rows[0].verdict, Verdict::WithinNoise);
}

#[test]
fn partial_runs_and_unmeasured_values_say_so_in_the_reports() {
    let targets = Targets::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets.toml")).unwrap();
    let mut set = ResultSet::new("caxton-perf run (quick)");
    set.partial = true;
    set.measurements.push(Measurement::from_samples(
        "message_throughput",
        "native",
        "msg/s",
        vec![1e6, 1.1e6, 0.9e6],
    ));
    set.measurements
        .push(Measurement::single("latency_p50", "native", "us", f64::INFINITY).with_reference("raw", 1.0));
    let graded = grade_all(&set, &targets).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write_all(tmp.path(), &set, &graded).unwrap();
    let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
    assert!(
        md.starts_with("> **⚠️ PARTIAL RESULTS: the run was interrupted"),
        "{md}"
    );
    assert!(
        md.contains("#### latency_p50\n") && md.contains("| native | — | n/a | — | us | 🔴 not measured | raw 1.000 |"),
        "{md}"
    );
    assert!(
        md.contains("#### recovery_time\n") && md.contains("| not measured (run interrupted) | — | n/a |"),
        "{md}"
    );
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    let banner = html.find("PARTIAL RESULTS").expect("the HTML says it is partial");
    assert!(banner < html.find("<table").unwrap());
    // The graded JSON reads back, non-finite values included.
    let json: Vec<caxton_report::grade::Graded> =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json.len(), graded.len());
    assert_eq!(json[1].measurement.value, f64::INFINITY);

    // A complete run carries no banner.
    set.partial = false;
    let graded = grade_all(&set, &targets).unwrap();
    let md = caxton_report::report::markdown(&set, &graded);
    assert!(md.starts_with("### Caxton results"), "{md}");
}

#[test]
fn a_value_not_measured_in_one_run_is_never_judged() {
    let one = |v: f64| {
        let mut set = ResultSet::new("run");
        set.measurements.push(Measurement::from_samples(
            "latency_p50",
            "native",
            "us",
            vec![v, v, v, v, v],
        ));
        set
    };
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let rows = compare_results(&one(10.0), &one(v), None, 10.0);
        assert_eq!(rows[0].verdict, Verdict::Missing, "{v}");
        let rows = compare_results(&one(v), &one(10.0), None, 10.0);
        assert_eq!(rows[0].verdict, Verdict::Missing, "{v}");
    }
}
