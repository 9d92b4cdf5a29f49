//! Slow consumers and a hot spot: does one overloaded capability with slow
//! members hurt everyone else, and which routing copes better?
//!
//! The agents are split evenly over `capabilities` capabilities
//! (`cap-0` .. `cap-{n-1}`); the load is sent by capability, so the
//! orchestrator's own routing ([`Selection`]) picks the member. Three
//! phases run one after the other in one invocation, each on a fresh
//! orchestrator with the same agents, rate and schedule:
//!
//! * `uniform`: every capability gets the same share, no agent is slow (the
//!   no-hotspot reference), round-robin;
//! * `hotspot-round-robin`: `cap-0` gets `hot_share` of the messages and a
//!   `slow_share` of its members spin a Pareto-distributed time per
//!   message ([`crate::work::Pareto`]); round-robin routing;
//! * `hotspot-least-loaded`: the same, least-loaded routing.
//!
//! The *others* are the agents of every capability but `cap-0` (all fast):
//! their send -> handled latency is recorded apart from `cap-0`'s. The
//! isolation factor is the others' p99 in a hot-spot phase over their p99
//! in `uniform`; the verdict holds it under a stated limit (or the others'
//! p99 under a floor), and checks that every message of every phase is
//! accounted for. Least-loaded and round-robin are compared on `cap-0`'s
//! latency and on how much of its load the slow members got.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use caxton_profiling::{LatencyRecorder, LatencySummary};
use caxton_runtime::{Address, AgentId, AgentSpec, Message, Orchestrator, OrchestratorConfig, Selection};
use caxton_workloads::agents::Sink;
use caxton_workloads::open_loop::{Due, LoadSink, RateProfile, StopFlag};
use caxton_workloads::payload::Payloads;
use clap::Parser;
use serde::Serialize;

use crate::assess::{self, Accounting, Assertion};
use crate::cli::{EXIT_CONFIG, EXIT_ERROR, EXIT_FAILED};
use crate::config::parse_duration_s;
use crate::pace::Pacer;
use crate::probe::{Probe, timed};
use crate::result::{Metric, ScenarioResult};
use crate::run::RunError;
use crate::verdict::{dead_after_accept, metric};
use crate::work::{Cost, Pareto, Spin, SplitMix, mix};

/// Flags of the hotspot binary.
#[derive(Clone, Debug, Parser, Serialize)]
#[command(
    version,
    about = "Slow consumers and a hot spot: isolation of the other agents, least-loaded vs round-robin (see docs/scenarios.md)"
)]
pub struct HotspotArgs {
    /// Agents, split evenly over the capabilities.
    #[arg(long, default_value_t = 100)]
    pub agents: usize,
    /// Capabilities; `cap-0` is the hot one.
    #[arg(long, default_value_t = 10)]
    pub capabilities: usize,
    /// Messages per second, all capabilities together.
    #[arg(long, default_value_t = 5_000.0, value_name = "MSG/S")]
    pub rate: f64,
    /// Share of the messages sent to `cap-0` in the hot-spot phases (0..1).
    #[arg(long, default_value_t = 0.8)]
    pub hot_share: f64,
    /// Share of `cap-0`'s members that are slow (0..1).
    #[arg(long, default_value_t = 0.5)]
    pub slow_share: f64,
    /// Slow handler time: the Pareto scale (the least time), µs.
    #[arg(long, default_value_t = 50.0, value_name = "US")]
    pub slow_min_us: f64,
    /// Slow handler time: the Pareto tail index (smaller: heavier tail).
    #[arg(long, default_value_t = 1.5)]
    pub slow_alpha: f64,
    /// Slow handler time: the largest draw, ms.
    #[arg(long, default_value_t = 20.0, value_name = "MS")]
    pub slow_cap_ms: f64,
    /// Length of each phase (seconds, or 10s, 1m).
    #[arg(long, value_parser = parse_duration_s, default_value = "10", value_name = "DURATION")]
    pub phase: u64,
    /// Mailbox capacity per agent (a full one refuses: counted).
    #[arg(long, default_value_t = 1024)]
    pub mailbox_capacity: usize,
    /// Payload size, bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    pub message_size: usize,
    /// Register `cap-0`'s slow members before its fast ones (default:
    /// after). Least-loaded routing shares ties (equal depths, e.g. all
    /// idle) in turn, so the order should not matter: this checks it.
    #[arg(long)]
    pub slow_first: bool,
    /// Isolation limit: the others' p99 in a hot-spot phase at most this
    /// times their p99 in the uniform phase...
    #[arg(long, default_value_t = 10.0)]
    pub max_isolation: f64,
    /// ...or at most this many ms, whichever is larger (default: twice
    /// --slow-cap-ms: a slow handler holds its worker thread up to the
    /// cap, and an agent queued behind two of them waits for both).
    #[arg(long, value_name = "MS")]
    pub isolation_floor_ms: Option<f64>,
    /// A CI-sized run: 3 s phases.
    #[arg(long)]
    pub quick: bool,
    /// Folder for hotspot.json.
    #[arg(long, value_name = "DIR", default_value = "results/scenarios")]
    #[serde(skip)]
    pub out: PathBuf,
    /// No line per phase on stderr.
    #[arg(long)]
    #[serde(skip)]
    pub no_progress: bool,
    /// Do not record the result in the results history.
    #[arg(long)]
    #[serde(skip)]
    pub no_history: bool,
}

impl HotspotArgs {
    fn validate(&self) -> Result<(), String> {
        if self.capabilities < 2 {
            return Err("--capabilities must be at least 2 (one hot, the others)".into());
        }
        if self.agents < self.capabilities {
            return Err("--agents must be at least --capabilities".into());
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err("--rate must be above 0".into());
        }
        for (name, v) in [("--hot-share", self.hot_share), ("--slow-share", self.slow_share)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if !(self.slow_min_us > 0.0 && self.slow_alpha > 0.0 && self.slow_cap_ms > 0.0) {
            return Err("--slow-min-us, --slow-alpha and --slow-cap-ms must be above 0".into());
        }
        if self.phase == 0 || self.mailbox_capacity == 0 || self.message_size == 0 {
            return Err("--phase, --mailbox-capacity and --message-size must be above 0".into());
        }
        if self.max_isolation.is_nan() || self.max_isolation < 1.0 {
            return Err("--max-isolation must be at least 1".into());
        }
        Ok(())
    }

    fn isolation_floor(&self) -> f64 {
        self.isolation_floor_ms.unwrap_or(2.0 * self.slow_cap_ms)
    }

    fn pareto(&self) -> Pareto {
        Pareto {
            min_us: self.slow_min_us,
            alpha: self.slow_alpha,
            cap_us: self.slow_cap_ms * 1000.0,
        }
    }

    fn members(&self, cap: usize) -> usize {
        let c = self.capabilities;
        self.agents / c + usize::from(cap < self.agents % c)
    }

    fn slow_members(&self) -> usize {
        (self.members(0) as f64 * self.slow_share).round() as usize
    }
}

/// One phase of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseSpec {
    /// Its name.
    pub name: &'static str,
    /// Whether `cap-0` is hot and has slow members.
    pub hotspot: bool,
    /// The routing.
    pub selection: Selection,
}

/// The three phases, in order.
pub const PHASES: [PhaseSpec; 3] = [
    PhaseSpec {
        name: "uniform",
        hotspot: false,
        selection: Selection::RoundRobin,
    },
    PhaseSpec {
        name: "hotspot-round-robin",
        hotspot: true,
        selection: Selection::RoundRobin,
    },
    PhaseSpec {
        name: "hotspot-least-loaded",
        hotspot: true,
        selection: Selection::LeastLoaded,
    },
];

/// What one phase measured.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseResult {
    /// The phase's name.
    pub name: String,
    /// Latency of the others (every capability but `cap-0`).
    pub others: LatencySummary,
    /// Latency of `cap-0`'s members.
    pub hot: LatencySummary,
    /// Messages sent to `cap-0` and to the others.
    pub sent_hot: u64,
    /// Messages sent to the others.
    pub sent_others: u64,
    /// Where every message ended up.
    pub accounting: Accounting,
    /// Of the messages `cap-0` handled, the share its slow members handled, %.
    pub slow_handled_pct: f64,
    /// The deepest any `cap-0` mailbox got.
    pub hot_high_water: u64,
    /// The generator's lateness p99, ms.
    pub lateness_p99_ms: f64,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
}

/// Sends each message to a capability: `cap-0` with probability
/// `hot_share` (or its even share, in the uniform phase), else one of the
/// others, chosen by a hash of the message's index (the same schedule in
/// every phase).
struct CapSink {
    orch: Orchestrator,
    caps: Vec<Address>,
    hot_share: f64,
    payload: Bytes,
    start: Instant,
    probe: Arc<Probe>,
    counts: Arc<Counts>,
    sent_hot: u64,
    sent_others: u64,
}

impl LoadSink for CapSink {
    fn send(&mut self, due: Due) -> impl Future<Output = ()> + Send {
        let h = mix(due.index ^ 0x5EED);
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        let others = self.caps.len() as u64 - 1;
        let cap = if u < self.hot_share {
            0
        } else {
            1 + (mix(h) % others) as usize
        };
        if cap == 0 {
            self.sent_hot += 1;
        } else {
            self.sent_others += 1;
        }
        let mut msg = Message::inform(self.caps[cap].clone(), self.payload.clone());
        let intended = self.start.checked_add(due.intended).unwrap_or_else(Instant::now);
        msg.sent_at = self.probe.stamp(intended);
        let c = &self.counts;
        c.sent.fetch_add(1, Relaxed);
        match self.orch.try_send(msg) {
            Ok(()) => c.accepted.fetch_add(1, Relaxed),
            Err(_) => c.refused.fetch_add(1, Relaxed),
        };
        std::future::ready(())
    }
}

async fn run_phase(args: &HotspotArgs, phase: PhaseSpec) -> Result<PhaseResult, RunError> {
    let orch = Orchestrator::with_config(OrchestratorConfig {
        mailbox_capacity: args.mailbox_capacity,
        selection: phase.selection,
        dead_letter_log: 64,
        ..Default::default()
    });
    let start_anchor = Instant::now();
    let probe_hot = Probe::new(start_anchor);
    let probe_others = probe_hot.sibling();
    let mut slow_ids: Vec<AgentId> = Vec::new();
    let mut hot_ids: Vec<AgentId> = Vec::new();
    let caps: Vec<Address> = (0..args.capabilities)
        .map(|c| Address::capability(format!("cap-{c}")))
        .collect();
    for c in 0..args.capabilities {
        let name = format!("cap-{c}");
        let members = args.members(c);
        let slow = if c == 0 && phase.hotspot {
            args.slow_members()
        } else {
            0
        };
        let probe = if c == 0 {
            probe_hot.clone()
        } else {
            probe_others.clone()
        };
        let spawn_slow = |ids: &mut Vec<AgentId>| -> Result<(), RunError> {
            if slow == 0 {
                return Ok(());
            }
            let p = probe.clone();
            let pareto = args.pareto();
            let seed = AtomicU64::new(1);
            let spec = AgentSpec::new(move || {
                let rng = SplitMix::new(seed.fetch_add(1, Relaxed));
                timed(Spin::new(Sink, Cost::Pareto(pareto, rng)), p.clone())
            })
            .capability(name.clone());
            ids.extend(orch.spawn_many(&spec, slow)?);
            Ok(())
        };
        if args.slow_first {
            spawn_slow(&mut slow_ids)?;
        }
        let p = probe.clone();
        let fast = orch.spawn_many(
            &AgentSpec::new(move || timed(Sink, p.clone())).capability(name.clone()),
            members - slow,
        )?;
        if !args.slow_first {
            spawn_slow(&mut slow_ids)?;
        }
        if c == 0 {
            hot_ids.extend(&fast);
        }
    }
    hot_ids.extend(&slow_ids);

    let profile = RateProfile::constant(args.rate, Duration::from_secs(args.phase))?;
    let counts = Arc::new(Counts::default());
    let hot_share = if phase.hotspot {
        args.hot_share
    } else {
        1.0 / args.capabilities as f64
    };
    let start = Instant::now();
    let sink = CapSink {
        orch: orch.clone(),
        caps,
        hot_share,
        payload: Payloads::new(args.message_size).more,
        start,
        probe: probe_hot.clone(),
        counts: counts.clone(),
        sent_hot: 0,
        sent_others: 0,
    };
    let (paced, sink) = Pacer::new(profile)
        .spawn(start, sink, Arc::new(StopFlag::default()))
        .await
        .map_err(|e| RunError::Internal(format!("the load generator died: {e}")))?;

    // Drain: every accepted message handled or a dead letter, or 10 s.
    let (mut hot, mut others) = (LatencyRecorder::new(), LatencyRecorder::new());
    let accepted = counts.accepted.load(Relaxed);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        probe_hot.harvest(&mut hot);
        probe_others.harvest(&mut others);
        let settled = hot.count() + others.count() + dead_after_accept(&orch.dead_letter_counts()) >= accepted;
        if settled || Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = orch.all_stats();
    let slow_handled: u64 = stats
        .iter()
        .filter(|s| slow_ids.contains(&s.id))
        .map(|s| s.messages_handled)
        .sum();
    let hot_handled: u64 = stats
        .iter()
        .filter(|s| hot_ids.contains(&s.id))
        .map(|s| s.messages_handled)
        .sum();
    let hot_high_water = stats
        .iter()
        .filter(|s| hot_ids.contains(&s.id))
        .map(|s| s.mailbox_high_water as u64)
        .max()
        .unwrap_or(0);
    let shutdown = orch.shutdown(Duration::from_secs(5)).await;
    probe_hot.harvest(&mut hot);
    probe_others.harvest(&mut others);
    let dl = orch.dead_letter_counts();
    let accounting = Accounting {
        sent: paced.report.sent,
        accepted,
        refused: counts.refused.load(Relaxed),
        dead_refused: dl.total - dead_after_accept(&dl),
        handled: hot.count() + others.count(),
        dead_accepted: dead_after_accept(&dl),
        in_progress: shutdown.in_progress as u64,
    };
    Ok(PhaseResult {
        name: phase.name.into(),
        others: others.summary(),
        hot: hot.summary(),
        sent_hot: sink.sent_hot,
        sent_others: sink.sent_others,
        accounting,
        slow_handled_pct: if hot_handled > 0 {
            slow_handled as f64 / hot_handled as f64 * 100.0
        } else {
            0.0
        },
        hot_high_water,
        lateness_p99_ms: paced.lateness.summary().p99_us / 1000.0,
    })
}

/// A fresh tokio runtime (one worker per core) for each phase, so a
/// phase's leftovers never run into the next.
fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Internal(format!("starting the tokio runtime: {e}")))
}

/// Runs every phase; the verdict's inputs.
pub fn run(args: &HotspotArgs) -> Result<Vec<PhaseResult>, RunError> {
    let mut out = Vec::new();
    for phase in PHASES {
        let r = runtime()?.block_on(run_phase(args, phase))?;
        if !args.no_progress {
            eprintln!("  {}", phase_line(&r));
        }
        out.push(r);
    }
    Ok(out)
}

fn phase_line(r: &PhaseResult) -> String {
    format!(
        "{:<21} others p50 {:.3} ms p99 {:.3} ms | cap-0 p50 {:.3} ms p99 {:.3} ms | slow members handled {:.1} % \
         of cap-0 | cap-0 deepest mailbox {} | refused {} | lateness p99 {:.3} ms",
        r.name,
        r.others.p50_us / 1000.0,
        r.others.p99_us / 1000.0,
        r.hot.p50_us / 1000.0,
        r.hot.p99_us / 1000.0,
        r.slow_handled_pct,
        r.hot_high_water,
        r.accounting.refused,
        r.lateness_p99_ms
    )
}

/// The isolation check of one hot-spot phase against the uniform one.
pub fn isolation(name: &str, uniform_p99_ms: f64, hot_p99_ms: f64, max: f64, floor_ms: f64) -> (f64, Assertion) {
    let factor = hot_p99_ms / uniform_p99_ms;
    let limit = (uniform_p99_ms * max).max(floor_ms);
    let passed = hot_p99_ms <= limit;
    (
        factor,
        Assertion {
            name: format!("isolation_{name}"),
            passed,
            detail: format!(
                "the others' p99 {hot_p99_ms:.3} ms with the hot spot vs {uniform_p99_ms:.3} ms without: \
                 {factor:.2}x (limit {max}x, or {floor_ms} ms, whichever is larger: {limit:.3} ms)"
            ),
        },
    )
}

/// The metrics and assertions of a finished run.
pub fn evaluate(args: &HotspotArgs, phases: &[PhaseResult]) -> (Vec<Metric>, Vec<Assertion>) {
    let mut metrics = Vec::new();
    let mut assertions = Vec::new();
    let with = |mut m: Metric, variant: &str| {
        m.variant = Some(variant.to_owned());
        m
    };
    for p in phases {
        let v = p.name.as_str();
        metrics.push(with(metric("others_latency_p50", p.others.p50_us / 1000.0, "ms"), v));
        metrics.push(with(metric("others_latency_p99", p.others.p99_us / 1000.0, "ms"), v));
        metrics.push(with(metric("hot_latency_p50", p.hot.p50_us / 1000.0, "ms"), v));
        metrics.push(with(metric("hot_latency_p99", p.hot.p99_us / 1000.0, "ms"), v));
        metrics.push(with(metric("slow_handled_share", p.slow_handled_pct, "%"), v));
        metrics.push(with(
            metric("hot_mailbox_high_water", p.hot_high_water as f64, "count"),
            v,
        ));
        metrics.push(with(
            metric("messages_refused", p.accounting.refused as f64, "count"),
            v,
        ));
        metrics.push(with(metric("generator_lateness_p99", p.lateness_p99_ms, "ms"), v));
        for mut a in assess::accounting(&p.accounting) {
            a.name = format!("{}_{v}", a.name);
            assertions.push(a);
        }
    }
    let by = |name: &str| phases.iter().find(|p| p.name == name);
    if let (Some(u), Some(rr), Some(ll)) = (by("uniform"), by("hotspot-round-robin"), by("hotspot-least-loaded")) {
        let base = u.others.p99_us / 1000.0;
        for (key, p) in [("round_robin", rr), ("least_loaded", ll)] {
            let (factor, a) = isolation(
                key,
                base,
                p.others.p99_us / 1000.0,
                args.max_isolation,
                args.isolation_floor(),
            );
            metrics.push(metric(&format!("isolation_factor_{key}"), factor, "x"));
            let mut p50 = metric(
                &format!("isolation_factor_p50_{key}"),
                p.others.p50_us / u.others.p50_us,
                "x",
            );
            p50.informational = true;
            metrics.push(p50);
            assertions.push(a);
        }
        metrics.push(metric(
            "hot_p99_least_loaded_over_round_robin",
            ll.hot.p99_us / rr.hot.p99_us,
            "x",
        ));
    }
    (metrics, assertions)
}

/// Parses the command line, runs the phases, writes and prints the result.
pub fn main() -> ExitCode {
    let mut args = HotspotArgs::parse();
    if args.quick {
        args.phase = 3;
    }
    if let Err(e) = args.validate() {
        eprintln!("hotspot: configuration refused: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let p = args.pareto();
    eprintln!(
        "hotspot: {} agents over {} capabilities, {} msg/s, {} s per phase; hot spot: {:.0} % of messages to \
         cap-0, {} of its {} members slow (Pareto: min {} µs, alpha {}, mean {:.0} µs uncapped, cap {} ms)",
        args.agents,
        args.capabilities,
        args.rate,
        args.phase,
        args.hot_share * 100.0,
        args.slow_members(),
        args.members(0),
        p.min_us,
        p.alpha,
        p.mean_us(),
        args.slow_cap_ms
    );
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let t0 = Instant::now();
    let phases = match run(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hotspot: run failed: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let (metrics, assertions) = evaluate(&args, &phases);
    let passed = assertions.iter().all(|a| a.passed);
    let mut config = serde_json::to_value(&args).unwrap_or_default();
    if let Some(c) = config.as_object_mut() {
        c.insert("phases".into(), serde_json::to_value(&phases).unwrap_or_default());
    }
    let result = ScenarioResult {
        scenario: "hotspot".into(),
        config,
        metrics,
        assertions,
        intervals_file: String::new(),
        partial: false,
        passed,
        started_at_unix_s: started_at,
        elapsed_s: t0.elapsed().as_secs_f64(),
    };
    let path = args.out.join("hotspot.json");
    if let Err(e) = std::fs::create_dir_all(&args.out).and_then(|()| result.write(&path)) {
        eprintln!("hotspot: writing {}: {e}", path.display());
        return ExitCode::from(EXIT_ERROR);
    }
    print!("{}", result.summary());
    for p in &phases {
        println!("  {}", phase_line(p));
    }
    println!("  result: {}", path.display());
    crate::history::record(&path, args.no_history);
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}
