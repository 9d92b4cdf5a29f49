//! Grading at each tier boundary, and targets.toml parsing errors.

use caxton_report::grade::{NOT_MEASURED, Tier, grade, grade_all, tier_of, worst};
use caxton_report::results::{Measurement, ResultSet};
use caxton_report::targets::{Targets, TargetsError};

const TABLE: &str = r#"
[metrics.message_throughput]
description = "routed messages per second"
unit = "msg/s"
better = "higher"
target = 100_000
acceptable = 50_000
critical = 10_000

[metrics.latency_p99]
description = "p99"
unit = "ms"
better = "lower"
target = 10
acceptable = 50
critical = 100
"#;

fn table() -> Targets {
    Targets::parse(TABLE, "test.toml").unwrap()
}

#[test]
fn higher_is_better_boundaries() {
    let t = &table().metrics["message_throughput"];
    assert_eq!(tier_of(100_000.0, t), Tier::Target);
    assert_eq!(tier_of(99_999.0, t), Tier::Acceptable);
    assert_eq!(tier_of(50_000.0, t), Tier::Acceptable);
    assert_eq!(tier_of(49_999.9, t), Tier::Critical);
    assert_eq!(tier_of(10_000.0, t), Tier::Critical);
    assert_eq!(tier_of(9_999.0, t), Tier::Failing);
    assert_eq!(tier_of(f64::NAN, t), Tier::Failing);
}

#[test]
fn lower_is_better_boundaries_and_unit_conversion() {
    let targets = table();
    let t = &targets.metrics["latency_p99"];
    assert_eq!(tier_of(10.0, t), Tier::Target);
    assert_eq!(tier_of(10.01, t), Tier::Acceptable);
    assert_eq!(tier_of(50.0, t), Tier::Acceptable);
    assert_eq!(tier_of(100.0, t), Tier::Critical);
    assert_eq!(tier_of(100.5, t), Tier::Failing);
    // 9 999 us is 9.999 ms: target; 10 001 us is not.
    let g = grade(&Measurement::single("latency_p99", "native", "us", 9_999.0), &targets).unwrap();
    assert_eq!(g.tier, Some(Tier::Target));
    let g = grade(&Measurement::single("latency_p99", "native", "us", 10_001.0), &targets).unwrap();
    assert_eq!(g.tier, Some(Tier::Acceptable));
    assert!(grade(&Measurement::single("latency_p99", "native", "MB", 1.0), &targets).is_err());
    let ungraded = grade(&Measurement::single("something_else", "x", "ms", 1.0), &targets).unwrap();
    assert_eq!(ungraded.tier, None);
}

#[test]
fn the_shipped_targets_file_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets.toml");
    let t = Targets::load(&path).unwrap();
    for m in [
        "message_throughput",
        "latency_p50",
        "latency_p99",
        "agent_spawn_time",
        "memory_per_agent",
        "cpu_per_agent",
        "recovery_time",
    ] {
        assert!(t.metrics.contains_key(m), "{m}");
    }
}

#[test]
fn parse_errors_name_the_line_and_field() {
    let bad_type = TABLE.replace("target = 10\n", "target = \"ten\"\n");
    match Targets::parse(&bad_type, "t.toml") {
        Err(TargetsError::Parse { line, message, .. }) => {
            assert_eq!(line, 14, "{message}");
            assert!(message.contains("invalid type"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let unknown = TABLE.replace("critical = 100\n", "critical = 100\ncritcal = 5\n");
    match Targets::parse(&unknown, "t.toml") {
        Err(TargetsError::Parse { line, message, .. }) => {
            assert_eq!(line, 17, "{message}");
            assert!(message.contains("critcal"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let missing = TABLE.replace("acceptable = 50\n", "");
    match Targets::parse(&missing, "t.toml") {
        Err(TargetsError::Parse { message, .. }) => assert!(message.contains("acceptable"), "{message}"),
        other => panic!("{other:?}"),
    }
    let disordered = TABLE.replace("acceptable = 50_000", "acceptable = 500_000");
    match Targets::parse(&disordered, "t.toml") {
        Err(TargetsError::Invalid { metric, .. }) => assert_eq!(metric, "message_throughput"),
        other => panic!("{other:?}"),
    }
    let bad_unit = TABLE.replace("unit = \"ms\"", "unit = \"fortnights\"");
    assert!(matches!(
        Targets::parse(&bad_unit, "t.toml"),
        Err(TargetsError::Invalid { .. })
    ));
    let e = Targets::load(std::path::Path::new("/nonexistent/targets.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/targets.toml"));
}

#[test]
fn non_finite_values_never_pass_either_way() {
    let t = table();
    for name in ["message_throughput", "latency_p99"] {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(tier_of(v, &t.metrics[name]), Tier::Failing, "{name} {v}");
        }
    }
    let g = grade(
        &Measurement::single("latency_p99", "native", "us", f64::NEG_INFINITY),
        &t,
    )
    .unwrap();
    assert_eq!(g.tier, Some(Tier::Failing));
}

#[test]
fn a_partial_run_fails_the_metrics_it_did_not_measure() {
    let t = table();
    let mut set = ResultSet::new("interrupted");
    set.measurements
        .push(Measurement::single("message_throughput", "native", "msg/s", 200_000.0));
    // Complete: only what was measured is graded, and it passes.
    let graded = grade_all(&set, &t).unwrap();
    assert_eq!(graded.len(), 1);
    assert_eq!(worst(&graded), Some(Tier::Target));
    // Partial: the metric it never reached is a failing "not measured" row.
    set.partial = true;
    let graded = grade_all(&set, &t).unwrap();
    assert_eq!(graded.len(), 2);
    let missing = &graded[1];
    assert_eq!(missing.measurement.metric, "latency_p99");
    assert_eq!(missing.measurement.variant, NOT_MEASURED);
    assert!(missing.measurement.value.is_nan());
    assert_eq!(missing.tier, Some(Tier::Failing));
    assert_eq!(worst(&graded), Some(Tier::Failing));
}
