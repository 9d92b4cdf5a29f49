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

/// A burst config: `agents` agents each spinning `handler_us` per message,
/// `mailbox` slots each, a baseline of 50 msg/s and a 1 s burst at
/// `burst_rate` from second 2 of 4.
fn overload_cfg(agents: usize, handler_us: f64, mailbox: usize, burst_rate: f64) -> Config {
    let mut cfg = small(Scenario::Burst);
    cfg.load.duration_s = 4;
    cfg.load.rate = 50.0;
    cfg.load.agents = agents;
    cfg.load.handler_us = handler_us;
    cfg.load.mailbox_capacity = mailbox;
    if let caxton_scenarios::config::Plan::Burst { burst, checks } = &mut cfg.plan {
        burst.start_s = 2;
        burst.duration_s = 1;
        burst.rate = burst_rate;
        checks.require_overload = true;
    }
    cfg
}

fn assertion<'a>(r: &'a ScenarioResult, name: &str) -> &'a caxton_scenarios::assess::Assertion {
    r.assertions
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no assertion {name}: {:?}", r.assertions))
}

#[test]
fn a_burst_far_below_capacity_fails_as_did_not_reach_overload() {
    let out = out_dir("no-overload");
    // 10 idle agents with 1024 slots each never fill at 100 msg/s.
    let cfg = overload_cfg(10, 0.0, 1024, 100.0);
    let r = run_quietly(Scenario::Burst, &cfg, &out).result;
    let a = assertion(&r, "reached_overload");
    assert!(!a.passed, "{a:?}");
    assert!(a.detail.starts_with("did not reach overload"), "{}", a.detail);
    assert!(!r.passed);
    // Everything else is still accounted for.
    assert!(passed(&r, "sends_accounted") && passed(&r, "accepted_accounted"));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn shedding_refuses_what_a_slow_agent_cannot_take_and_loses_nothing() {
    let out = out_dir("overload-shed");
    // One agent spinning 2 ms a message handles at most 500 msg/s; the
    // burst offers 3000 in a second to a 16-slot mailbox.
    let cfg = overload_cfg(1, 2000.0, 16, 3000.0);
    let r = run_quietly(Scenario::Burst, &cfg, &out).result;
    assert!(passed(&r, "reached_overload"), "{:?}", r.assertions);
    assert!(r.metric("burst_refused").unwrap() > 0.0);
    assert_eq!(r.metric("burst_waited"), Some(0.0));
    assert_eq!(r.metric("mailboxes_at_bound"), Some(1.0));
    assert!(
        passed(&r, "sends_accounted") && passed(&r, "accepted_accounted"),
        "{:?}",
        r.assertions
    );
    assert!(r.metric("rss_limit").is_some());
    let log = std::fs::read_to_string(out.join(&r.intervals_file)).unwrap();
    let intervals: Vec<Interval> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        intervals.iter().map(|i| i.refused).sum::<u64>() as f64,
        r.metric("messages_refused").unwrap()
    );
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn backpressure_makes_the_sender_wait_and_refuses_nothing() {
    let out = out_dir("overload-backpressure");
    // One agent at 1 ms a message (at most 1000 msg/s), 1500 offered in a
    // second to an 8-slot mailbox: the sender waits instead.
    let mut cfg = overload_cfg(1, 1000.0, 8, 1500.0);
    cfg.load.policy = caxton_scenarios::config::MailboxPolicy::Backpressure;
    let r = run_quietly(Scenario::Burst, &cfg, &out).result;
    assert!(passed(&r, "reached_overload"), "{:?}", r.assertions);
    assert!(r.metric("waited_total").unwrap() > 0.0);
    assert_eq!(r.metric("messages_refused"), Some(0.0));
    assert!(
        passed(&r, "sends_accounted") && passed(&r, "accepted_accounted"),
        "{:?}",
        r.assertions
    );
    let log = std::fs::read_to_string(out.join(&r.intervals_file)).unwrap();
    let intervals: Vec<Interval> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        intervals.iter().map(|i| i.waited).sum::<u64>() as f64,
        r.metric("waited_total").unwrap()
    );
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn the_capacity_search_stops_at_a_slow_agents_limit() {
    use caxton_scenarios::capacity::{Objectives, SearchPlan, run_step, search};
    let out = out_dir("capacity");
    // One agent spinning 1 ms a message: it cannot handle 1000 msg/s or
    // more, so a step at 2000 msg/s (or above) handles under 99 %.
    let mut base = small(Scenario::Peak);
    base.load.agents = 1;
    base.load.handler_us = 1000.0;
    base.load.mailbox_capacity = 64;
    let plan = SearchPlan {
        start_rate: 250.0,
        growth: 4.0,
        refine: 1,
        max_rate: 1e6,
        min_rate: 10.0,
        step_s: 1,
        confirm: 0,
    };
    // Latency and lateness are left out: only what the agent handles counts.
    let objectives = Objectives {
        max_p99_ms: f64::MAX,
        max_lateness_p99_ms: f64::MAX,
        min_sent_pct: 0.0,
        ..Objectives::default()
    };
    let mut n = 0;
    let s = search(
        &plan,
        &objectives,
        |rate| {
            n += 1;
            run_step(&base, rate, plan.step_s, n, &out, None)
        },
        |_| {},
    )
    .unwrap();
    let broken = s.first_broken.expect("a broken step");
    assert!(broken <= 4000.0, "{s:?}");
    assert!(s.capacity.is_none_or(|c| c < 2000.0 && c < broken), "{s:?}");
    let step = s.steps.iter().find(|x| x.rate == broken).unwrap();
    assert!(step.broke.iter().any(|w| w.contains("handled")), "{:?}", step.broke);
    assert!(s.steps.iter().all(|x| x.accounted), "{s:?}");
    let _ = std::fs::remove_dir_all(out);
}
