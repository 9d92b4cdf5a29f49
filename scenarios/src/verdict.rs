//! What a run measured and whether it passed: the metrics of the result
//! file and the scenario's assertions, from the data a run collected.

use std::time::Duration;

use caxton_profiling::{LatencySummary, LeakCheck};
use caxton_runtime::{AgentFailure, AgentStats, DeadLetterCounts, DeadLetterKind};
use caxton_workloads::open_loop::{OpenLoopReport, RateProfile};

use crate::assess::{self, Accounting, Assertion};
use crate::config::{BurstChecks, BurstShape, Config, FaultChecks, PeakChecks, Plan, SustainedChecks};
use crate::interval::Interval;
use crate::result::Metric;

/// Everything a finished run hands to [`evaluate`].
pub struct RunData<'a> {
    /// The configuration run.
    pub cfg: &'a Config,
    /// The send-rate profile.
    pub profile: &'a RateProfile,
    /// The per-second intervals.
    pub intervals: &'a [Interval],
    /// Latency over the whole run (drain included).
    pub latency: LatencySummary,
    /// Where every message ended up.
    pub accounting: Accounting,
    /// The generator's own report.
    pub generator: OpenLoopReport,
    /// Start of the load to the generator's end.
    pub load_elapsed: Duration,
    /// RSS before spawning the agents, bytes.
    pub rss_before: u64,
    /// RSS after spawning them, bytes.
    pub rss_spawned: u64,
    /// Crash commands accepted into a mailbox (faults scenario).
    pub faults_injected: u64,
    /// Sends that waited for mailbox room (backpressure policy).
    pub waited: u64,
    /// Agent stats taken before shutdown.
    pub stats: &'a [AgentStats],
    /// Agents their supervisor gave up on.
    pub failures: &'a [AgentFailure],
    /// Dead-letter totals after shutdown.
    pub dead_letters: &'a DeadLetterCounts,
}

/// A named value in a unit.
pub fn metric(name: &str, value: f64, unit: &str) -> Metric {
    Metric {
        name: name.to_owned(),
        value,
        unit: unit.to_owned(),
        variant: None,
        reference: None,
        informational: false,
    }
}

/// Dead letters recorded with a reason of `kind`.
pub fn count(dl: &DeadLetterCounts, kind: DeadLetterKind) -> u64 {
    dl.get(kind)
}

/// Dead letters of messages that had been accepted into a mailbox (fault,
/// handler error, agent failed, undelivered).
pub fn dead_after_accept(dl: &DeadLetterCounts) -> u64 {
    dl.after_accept()
}

/// The run's metrics and assertions.
pub fn evaluate(d: &RunData<'_>) -> (Vec<Metric>, Vec<Assertion>) {
    let mut metrics = common_metrics(d);
    let mut assertions = assess::accounting(&d.accounting);
    match &d.cfg.plan {
        Plan::Peak { checks } => peak(d, checks, &mut assertions),
        Plan::Sustained { checks } => sustained(d, checks, &mut metrics, &mut assertions),
        Plan::Burst { burst, checks } => burst_checks(d, burst, checks, &mut metrics, &mut assertions),
        Plan::Faults { checks, .. } => fault_checks(d, checks, &mut metrics, &mut assertions),
    }
    (metrics, assertions)
}

fn common_metrics(d: &RunData<'_>) -> Vec<Metric> {
    let lat = &d.latency;
    let (cfg, accounting) = (d.cfg, &d.accounting);
    let secs = d.load_elapsed.as_secs_f64();
    let n_agents = cfg.load.agents as f64;
    let cpu_median = assess::median(d.intervals.iter().map(|i| i.cpu_percent)).unwrap_or(0.0);
    vec![
        metric(
            "rate_asked",
            d.profile.total_messages() as f64 / d.profile.duration().as_secs_f64(),
            "msg/s",
        ),
        metric("rate_achieved", d.generator.achieved_rate(), "msg/s"),
        // Not `message_throughput`: under an open-loop load this is the rate
        // asked for, not the runtime's capacity, so grading it against the
        // targets table would grade the scenario's configuration.
        metric("handled_rate", accounting.handled as f64 / secs, "msg/s"),
        metric("messages_sent", accounting.sent as f64, "count"),
        metric("messages_refused", accounting.refused as f64, "count"),
        metric("messages_handled", accounting.handled as f64, "count"),
        metric("dead_letters_after_accept", accounting.dead_accepted as f64, "count"),
        metric("in_progress_at_shutdown", accounting.in_progress as f64, "count"),
        metric(
            "success_rate",
            if accounting.sent > 0 {
                accounting.handled as f64 / accounting.sent as f64 * 100.0
            } else {
                0.0
            },
            "%",
        ),
        metric("latency_p50", lat.p50_us / 1000.0, "ms"),
        metric("latency_p90", lat.p90_us / 1000.0, "ms"),
        metric("latency_p95", lat.p95_us / 1000.0, "ms"),
        metric("latency_p99", lat.p99_us / 1000.0, "ms"),
        metric("latency_p999", lat.p999_us / 1000.0, "ms"),
        metric("latency_max", lat.max_us / 1000.0, "ms"),
        metric("generator_max_lag", d.generator.max_lag.as_secs_f64() * 1000.0, "ms"),
        metric(
            "rss_peak",
            d.intervals.iter().map(|i| i.rss_bytes).max().unwrap_or(0) as f64,
            "bytes",
        ),
        metric(
            "memory_per_agent",
            d.rss_spawned.saturating_sub(d.rss_before) as f64 / n_agents / 1e6,
            "MB",
        ),
        metric("cpu_median", cpu_median, "%"),
        metric("cpu_per_agent", cpu_median / n_agents, "%"),
    ]
}

fn peak(d: &RunData<'_>, checks: &PeakChecks, assertions: &mut Vec<Assertion>) {
    assertions.push(assess::success_rate(&d.accounting, checks.min_success_rate).1);
    assertions.push(assess::at_most(
        "latency_p99",
        d.latency.p99_us / 1000.0,
        checks.max_p99_ms,
        "ms",
    ));
}

fn sustained(d: &RunData<'_>, checks: &SustainedChecks, metrics: &mut Vec<Metric>, assertions: &mut Vec<Assertion>) {
    let (leak, a) = assess::leak(
        d.intervals,
        &LeakCheck {
            threshold_bytes_per_minute: checks.leak_threshold_bytes_per_min,
            warmup_s: checks.warmup_s as f64,
            min_samples: 5,
        },
    );
    metrics.push(metric("rss_slope", leak.slope_bytes_per_minute, "bytes/min"));
    assertions.push(a);
    let (first, last) = assess::windows(d.intervals, checks.warmup_s as f64, checks.window_intervals);
    metrics.push(metric("window_intervals", first.len() as f64, "count"));
    let thr = assess::degradation(first, last, Interval::handled_rate, true);
    let p50 = assess::degradation(first, last, Interval::p50_ms, false);
    let p99 = assess::degradation(first, last, Interval::p99_ms, false);
    for (name, change) in [
        ("throughput_degradation", thr),
        ("latency_p50_degradation", p50),
        ("latency_p99_degradation", p99),
    ] {
        if let Some(change) = change {
            metrics.push(metric(name, change.worse_by * 100.0, "%"));
        }
    }
    assertions.push(assess::degradation_check(
        "throughput_degradation",
        thr,
        checks.max_degradation,
        0.0,
        "msg/s",
    ));
    assertions.push(assess::degradation_check(
        "latency_degradation",
        p50,
        checks.max_degradation,
        checks.latency_noise_floor_ms,
        "ms",
    ));
}

fn burst_checks(
    d: &RunData<'_>,
    burst: &BurstShape,
    checks: &BurstChecks,
    metrics: &mut Vec<Metric>,
    assertions: &mut Vec<Assertion>,
) {
    let end = (burst.start_s + burst.duration_s) as f64;
    let in_burst = d.intervals.iter().filter(|i| i.phase == "burst");
    let refused = in_burst.clone().map(|i| i.refused).sum::<u64>();
    let waited = in_burst.clone().map(|i| i.waited).sum::<u64>();
    let at_bound = d
        .stats
        .iter()
        .filter(|s| s.mailbox_capacity > 0 && s.mailbox_high_water >= s.mailbox_capacity)
        .count();
    metrics.push(metric("burst_refused", refused as f64, "count"));
    metrics.push(metric("burst_waited", waited as f64, "count"));
    metrics.push(metric("waited_total", d.waited as f64, "count"));
    metrics.push(metric("mailboxes_at_bound", at_bound as f64, "count"));
    metrics.push(metric(
        "depth_max",
        d.intervals.iter().map(|i| i.depth_max).max().unwrap_or(0) as f64,
        "count",
    ));
    let overload = assess::overload(
        &assess::Overload {
            refused: d.accounting.refused,
            waited: d.waited,
            mailboxes_at_bound: at_bound as u64,
            agents: d.stats.len() as u64,
            policy: d.cfg.load.policy.name(),
        },
        checks.require_overload,
    );
    assertions.push(overload);
    if d.rss_spawned > 0 {
        let limit = rss_limit(d.cfg, d.rss_spawned);
        let peak = d.intervals.iter().map(|i| i.rss_bytes).max().unwrap_or(0);
        metrics.push(metric("rss_limit", limit as f64, "bytes"));
        assertions.push(Assertion {
            name: "memory_bounded".into(),
            passed: peak <= limit,
            detail: format!(
                "RSS peak {} MiB (limit {} MiB: {} MiB after spawning + {} agents x {} mailbox slots x \
                 {} B (envelope + payload) + {} MiB headroom)",
                peak >> 20,
                limit >> 20,
                d.rss_spawned >> 20,
                d.cfg.load.agents,
                d.cfg.load.mailbox_capacity,
                slot_bytes(d.cfg),
                RSS_HEADROOM >> 20
            ),
        });
    }
    metrics.push(metric(
        "burst_p99_max",
        in_burst.map(Interval::p99_ms).fold(0.0, f64::max),
        "ms",
    ));
    match assess::baseline_p99_ms(d.intervals, burst.start_s as f64) {
        Some(base) => {
            let threshold = (base * checks.recovery_p99_factor).max(checks.recovery_p99_floor_ms);
            metrics.push(metric("baseline_p99", base, "ms"));
            let rec = assess::recovery_time_s(d.intervals, end, threshold, checks.recovery_stable_intervals);
            if let Some(r) = rec {
                metrics.push(metric("recovery_time", r, "s"));
            }
            assertions.push(Assertion {
                name: "recovery_time".into(),
                passed: rec.is_some_and(|r| r <= checks.recovery_limit_s),
                detail: match rec {
                    Some(r) => format!(
                        "interval p99 back under {threshold:.3} ms (baseline {base:.3} ms) \
                         {r:.0} s after the burst (limit {} s)",
                        checks.recovery_limit_s
                    ),
                    None => format!(
                        "interval p99 not back under {threshold:.3} ms (baseline {base:.3} ms) \
                         for {} intervals before the run ended",
                        checks.recovery_stable_intervals
                    ),
                },
            });
        }
        None => assertions.push(Assertion {
            name: "recovery_time".into(),
            passed: false,
            detail: "no baseline latency before the burst".into(),
        }),
    }
}

/// Memory beyond the mailboxes the memory bound allows (latency
/// histograms, the runtime's and the allocator's own).
pub const RSS_HEADROOM: u64 = 64 << 20;

/// Bytes one queued message may hold: its envelope plus a payload of its
/// own (in process the payload is shared, so this over-counts).
pub fn slot_bytes(cfg: &Config) -> u64 {
    std::mem::size_of::<caxton_runtime::Message>() as u64 + 16 + cfg.load.message_size as u64
}

/// The RSS a run may reach with every mailbox full: RSS after spawning,
/// plus every mailbox slot holding a message, plus [`RSS_HEADROOM`].
pub fn rss_limit(cfg: &Config, rss_spawned: u64) -> u64 {
    let slots = cfg.load.agents as u64 * cfg.load.mailbox_capacity as u64;
    rss_spawned + slots * slot_bytes(cfg) + RSS_HEADROOM
}

fn fault_checks(d: &RunData<'_>, checks: &FaultChecks, metrics: &mut Vec<Metric>, assertions: &mut Vec<Assertion>) {
    let mut rec: Vec<f64> = d
        .stats
        .iter()
        .flat_map(|s| s.recovery_times.iter().map(Duration::as_secs_f64))
        .collect();
    rec.sort_by(f64::total_cmp);
    let restarts: u64 =
        d.stats.iter().map(|s| s.restarts).sum::<u64>() + d.failures.iter().map(|f| f.restarts).sum::<u64>();
    metrics.push(metric("faults_injected", d.faults_injected as f64, "count"));
    metrics.push(metric(
        "faults_observed",
        count(d.dead_letters, DeadLetterKind::Fault) as f64,
        "count",
    ));
    metrics.push(metric("restarts", restarts as f64, "count"));
    metrics.push(metric("agents_failed", d.failures.len() as f64, "count"));
    metrics.push(metric("recoveries_recorded", rec.len() as f64, "count"));
    if let (Some(max), Some(p50)) = (rec.last().copied(), assess::median(rec.iter().copied())) {
        metrics.push(metric("recovery_time", max, "s"));
        metrics.push(metric("recovery_time_p50", p50, "s"));
    }
    assertions.push(Assertion {
        name: "faults_recovered".into(),
        passed: !rec.is_empty() && rec.last().is_some_and(|m| *m <= checks.recovery_limit_s),
        detail: match rec.last() {
            Some(m) => format!(
                "{} recoveries recorded ({} faults injected, {} restarts, {} agents gave up); \
                 longest {:.3} ms (limit {} s)",
                rec.len(),
                d.faults_injected,
                restarts,
                d.failures.len(),
                m * 1000.0,
                checks.recovery_limit_s
            ),
            None => format!(
                "no recovery recorded ({} faults injected, {} restarts)",
                d.faults_injected, restarts
            ),
        },
    });
}
