//! End-to-end runs of small scenarios: files written, results readable,
//! every message accounted for. Nothing here asserts speed.

use std::path::{Path, PathBuf};

use caxton_scenarios::Scenario;
use caxton_scenarios::config::{self, Config};
use caxton_scenarios::interval::Interval;
use caxton_scenarios::result::ScenarioResult;
use caxton_scenarios::run::{RunOptions, RunOutcome, run};

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caxton-scenarios-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn small(scenario: Scenario) -> Config {
    let (mut load, _, plan) = config::parse(scenario, scenario.default_toml(), "test").unwrap();
    load.duration_s = 2;
    load.rate = 2000.0;
    load.agents = 10;
    load.message_size = 64;
    Config {
        load,
        plan,
        quick: false,
        source: "test".into(),
    }
}

/// Validates `cfg` and runs it quietly, writing into `out`.
fn run_quietly(scenario: Scenario, cfg: &Config, out: &Path) -> RunOutcome {
    cfg.validate().unwrap();
    run(
        scenario,
        cfg,
        &RunOptions {
            out_dir: out.to_path_buf(),
            progress: false,
        },
    )
    .unwrap()
}

fn passed(result: &ScenarioResult, name: &str) -> bool {
    result
        .assertions
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no assertion {name}"))
        .passed
}

#[test]
fn a_fault_run_accounts_for_every_message_and_writes_its_files() {
    let out = out_dir("faults");
    let cfg = small(Scenario::Faults);
    let outcome = run_quietly(Scenario::Faults, &cfg, &out);
    let r = &outcome.result;
    assert!(!r.partial);
    assert!(passed(r, "sends_accounted"), "{:?}", r.assertions);
    assert!(passed(r, "accepted_accounted"), "{:?}", r.assertions);
    // 2000 msg/s with 10 crashes/s: a crash every 200th message.
    assert_eq!(r.metric("messages_sent"), Some(4000.0));
    assert_eq!(r.metric("faults_injected"), r.metric("faults_observed"));
    assert!(r.metric("faults_injected").unwrap() >= 19.0);
    assert!(r.metric("restarts").unwrap() >= 1.0);

    // The result file reads back, and names its interval log.
    let text = std::fs::read_to_string(&outcome.result_path).unwrap();
    let back: ScenarioResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back.scenario, "faults");
    let log = std::fs::read_to_string(out.join(&back.intervals_file)).unwrap();
    let intervals: Vec<Interval> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // How many one-second intervals a 2 s run logs depends on scheduling;
    // what they add up to does not.
    assert!(!intervals.is_empty());
    assert_eq!(intervals.iter().map(|i| i.sent).sum::<u64>(), 4000);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn a_burst_run_labels_its_phases() {
    let out = out_dir("burst");
    let mut cfg = small(Scenario::Burst);
    cfg.load.duration_s = 6;
    if let caxton_scenarios::config::Plan::Burst { burst, .. } = &mut cfg.plan {
        burst.start_s = 2;
        burst.duration_s = 1;
        burst.rate = 5000.0;
    }
    let outcome = run_quietly(Scenario::Burst, &cfg, &out);
    let r = &outcome.result;
    assert!(passed(r, "accepted_accounted"), "{:?}", r.assertions);
    // 5 s at 2000/s plus 1 s at 5000/s.
    assert_eq!(r.metric("messages_sent"), Some(15_000.0));
    let log = std::fs::read_to_string(out.join(&r.intervals_file)).unwrap();
    let mut phases: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<Interval>(l).unwrap().phase)
        .collect();
    // Interval boundaries follow the clock, so count phases in order rather
    // than seconds per phase.
    phases.dedup();
    assert_eq!(phases, ["baseline", "burst", "after"]);
    let _ = std::fs::remove_dir_all(out);
}
