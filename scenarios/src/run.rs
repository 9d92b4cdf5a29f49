//! The run driver: spawns the agents, drives open-loop load at them,
//! samples an interval every second, drains, shuts down, accounts for every
//! message, and evaluates the scenario's assertions.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use caxton_profiling::{LatencyRecorder, LatencySummary, process_cpu_time};
use caxton_runtime::{
    AgentRef, AgentSpec, CheckpointPolicy, DeadLetterKind, Message, Orchestrator, OrchestratorConfig, RestartPolicy,
    SpawnError,
};
use caxton_wasm::{AgentLimits, Allocator, HostConfig, WasmHost, guests};
use caxton_workloads::agents::{Fragile, PANIC, Sink};
use caxton_workloads::open_loop::{Due, LoadSink, OpenLoopError, OpenLoopReport, RateProfile, StopFlag};
use caxton_workloads::payload::Payloads;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Notify;

use crate::assess::Accounting;
use crate::config::{AgentKind, Config, MailboxPolicy, Plan};
use crate::interval::{Interval, IntervalLog};
use crate::pace::Pacer;
use crate::probe::{Probe, timed};
use crate::result::ScenarioResult;
use crate::scenario::Scenario;
use crate::verdict::{self, RunData, count, dead_after_accept};
use crate::work::{Cost, Spin};

/// Why a run could not be carried out (as opposed to failing its checks).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The target server refused or failed a setup call (`--target`).
    #[error("the target server: {0}")]
    Remote(String),
    /// Writing results failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The agents could not be spawned.
    #[error("spawning the agents failed: {0}")]
    Spawn(#[from] SpawnError),
    /// The rate profile is unusable.
    #[error("rate profile: {0}")]
    Profile(#[from] OpenLoopError),
    /// The WASM host could not be set up.
    #[error("WASM host: {0}")]
    Wasm(String),
    /// A task of the run died.
    #[error("{0}")]
    Internal(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// Where results go and how the run shows itself.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Folder for `<scenario>.json` and `<scenario>.intervals.jsonl`.
    pub out_dir: PathBuf,
    /// Show the live progress display.
    pub progress: bool,
}

/// A finished (or interrupted) run.
#[derive(Debug)]
pub struct RunOutcome {
    /// The result, as written.
    pub result: ScenarioResult,
    /// Where it was written.
    pub result_path: PathBuf,
}

/// Runs `scenario` with `cfg` on a fresh tokio runtime.
pub fn run(scenario: Scenario, cfg: &Config, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    runtime(cfg)?.block_on(drive(scenario, cfg, opts))
}

/// The tokio runtime of a run, with `load.workers` worker threads.
pub(crate) fn runtime(cfg: &Config) -> Result<tokio::runtime::Runtime, RunError> {
    let workers = match cfg.load.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(io("starting the tokio runtime"))
}

/// Running totals the generator publishes (in-process it is their only
/// writer; the remote driver's connections add to them).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) faults_injected: AtomicU64,
    /// Sends that had to wait for mailbox room (backpressure).
    pub(crate) waited: AtomicU64,
}

/// A load sink the run loop can wait on after the generator's last message:
/// the in-process sink is done at once; a network sink waits for its
/// answers, so the last interval counts them.
pub(crate) trait Flush: LoadSink {
    /// Waits until every message handed to the sink has its outcome.
    fn flush(&mut self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

impl Flush for OrchSink {}

/// Resident memory (bytes) and CPU time used so far of the process that
/// handles the load.
pub(crate) type Usage = (u64, Duration);

/// Every `every`-th message is a crash command (the target's own crash
/// payload), sent to the agents in turn.
struct FaultPlan {
    every: u64,
    payloads: Vec<Bytes>,
}

/// The generator's sink: sends to the agents round-robin, counting
/// acceptances and refusals (the runtime records each refusal as a dead
/// letter too). Shedding, it uses `try_send` (a full mailbox refuses);
/// under backpressure, `send`, counting each send that had to wait.
struct OrchSink {
    policy: MailboxPolicy,
    waited: u64,
    refs: Vec<AgentRef>,
    start: Instant,
    probe: Arc<Probe>,
    payload: Bytes,
    fault: Option<FaultPlan>,
    counters: Arc<Counters>,
    sent: u64,
    accepted: u64,
    refused: u64,
    faults_injected: u64,
    crashes_sent: u64,
}

impl LoadSink for OrchSink {
    fn send(&mut self, due: Due) -> impl Future<Output = ()> + Send {
        let n = self.refs.len() as u64;
        let (target, payload, crash) = match &self.fault {
            Some(f) if due.index % f.every == f.every - 1 => {
                let target = self.crashes_sent % n;
                self.crashes_sent += 1;
                (target, f.payloads[target as usize].clone(), true)
            }
            _ => (due.index % n, self.payload.clone(), false),
        };
        let to = &self.refs[target as usize];
        let mut msg = Message::inform(to.id(), payload);
        // Within the (validated, at most a year long) run; were it not, the
        // message would be stamped when it is actually sent.
        let intended = self.start.checked_add(due.intended).unwrap_or_else(Instant::now);
        msg.sent_at = self.probe.stamp(intended);
        self.sent += 1;
        async move {
            let to = &self.refs[target as usize];
            let outcome = match self.policy {
                MailboxPolicy::Shed => to.try_send(msg),
                MailboxPolicy::Backpressure => {
                    // Polled once: pending means the mailbox was full and
                    // this send waits for room (counted once).
                    let mut send = std::pin::pin!(to.send(msg));
                    let mut first = true;
                    std::future::poll_fn(|cx| {
                        let p = send.as_mut().poll(cx);
                        if first {
                            first = false;
                            if p.is_pending() {
                                self.waited += 1;
                                self.counters.waited.store(self.waited, Relaxed);
                            }
                        }
                        p
                    })
                    .await
                }
            };
            match outcome {
                Ok(()) => {
                    self.accepted += 1;
                    if crash {
                        self.faults_injected += 1;
                    }
                }
                Err(_) => self.refused += 1,
            }
            let c = &self.counters;
            c.sent.store(self.sent, Relaxed);
            c.accepted.store(self.accepted, Relaxed);
            c.refused.store(self.refused, Relaxed);
            c.faults_injected.store(self.faults_injected, Relaxed);
        }
    }
}

/// RSS in bytes, 0 where it cannot be read.
fn rss() -> u64 {
    caxton_profiling::rss_bytes().unwrap_or(0)
}

/// The agents of a run: a handle to each, and the payload that crashes it.
struct Agents {
    refs: Vec<AgentRef>,
    crash: Vec<Bytes>,
    /// Keeps the WASM engine (and its epoch ticker) alive for the run.
    _host: Option<WasmHost>,
}

/// The guest WASM agents run: it counts messages (checkpointable) and
/// traps (`unreachable`) on the payload `trap`.
const WASM_CRASH: &[u8] = guests::counter::TRAP;

fn spawn_agents(orch: &Orchestrator, cfg: &Config, probe: &Arc<Probe>) -> Result<Agents, RunError> {
    let n = cfg.load.agents;
    let wasm_n = match cfg.load.agent_kind {
        AgentKind::Native => 0,
        AgentKind::Wasm => n,
        AgentKind::Mixed => n / 2,
    };
    let (restart, checkpoints) = match &cfg.plan {
        Plan::Faults { faults, .. } => (
            RestartPolicy {
                max_restarts: faults.max_restarts,
                window: Duration::from_secs(faults.restart_window_s),
            },
            match faults.checkpoint_every {
                0 => CheckpointPolicy::Manual,
                n => CheckpointPolicy::EveryMessages(n),
            },
        ),
        _ => (RestartPolicy::default(), CheckpointPolicy::Manual),
    };

    // Native agents: the cheapest handler, or the shared crashable one,
    // spinning `load.handler_us` per message first.
    let p = probe.clone();
    let cost = Cost::Fixed(Duration::from_secs_f64(cfg.load.handler_us / 1e6));
    let native = match &cfg.plan {
        Plan::Faults { .. } => orch.spawn_many(
            &AgentSpec::new(move || timed(Spin::new(Fragile::default(), cost.clone()), p.clone()))
                .restart_policy(restart)
                .checkpoint_policy(checkpoints),
            n - wasm_n,
        )?,
        _ => orch.spawn_many(
            &AgentSpec::new(move || timed(Spin::new(Sink, cost.clone()), p.clone())),
            n - wasm_n,
        )?,
    };

    // WASM agents: the counter guest, one pooled instance each (plus room
    // for restarts).
    let (host, wasm) = if wasm_n == 0 {
        (None, Vec::new())
    } else {
        let host = WasmHost::new(HostConfig {
            allocator: Allocator::Pooling {
                instances: u32::try_from(wasm_n + 64).unwrap_or(u32::MAX),
                memory_per_instance: 64 << 20,
            },
            ..HostConfig::default()
        })
        .map_err(|e| RunError::Wasm(e.to_string()))?;
        let module = host.load(guests::COUNTER).map_err(|e| RunError::Wasm(e.to_string()))?;
        let p = probe.clone();
        let spec = AgentSpec::try_new(move || Ok(timed(module.instantiate(AgentLimits::default())?, p.clone())))
            .restart_policy(restart)
            .checkpoint_policy(checkpoints);
        (Some(host), orch.spawn_many(&spec, wasm_n)?)
    };

    // Mixed: alternate native and WASM, so round-robin load and crashes
    // fall on both kinds in turn.
    let (mut native, mut wasm) = (native.into_iter(), wasm.into_iter());
    let mut ids = Vec::with_capacity(n);
    let mut crash = Vec::with_capacity(n);
    for i in 0..n {
        let take_wasm = if i % 2 == 1 { wasm.len() > 0 } else { native.len() == 0 };
        let next = if take_wasm {
            crash.push(Bytes::from_static(WASM_CRASH));
            wasm.next()
        } else {
            crash.push(Bytes::from_static(PANIC));
            native.next()
        };
        ids.extend(next);
    }
    let refs = ids
        .iter()
        .map(|id| {
            orch.agent_ref(*id)
                .map_err(|e| RunError::Internal(format!("agent {id} vanished: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Agents {
        refs,
        crash,
        _host: host,
    })
}

fn progress_bar(enabled: bool, seconds: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(seconds);
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

fn live_line(i: &Interval) -> String {
    format!(
        "sent {}/s handled {}/s refused {} waited {} depth {} faults {} p99 {:.3} ms rss {} MiB cpu {:.0} %",
        i.sent,
        i.handled,
        i.refused,
        i.waited,
        i.depth_max,
        i.faults,
        i.p99_ms(),
        i.rss_bytes >> 20,
        i.cpu_percent
    )
}

/// What the sampler keeps between intervals.
struct Sampler<'a> {
    cfg: &'a Config,
    profile: &'a RateProfile,
    /// Faults (dead letters) so far.
    faults: &'a (dyn Fn() -> u64 + Sync),
    /// Memory and CPU of the process under load.
    usage: &'a (dyn Fn() -> Usage + Sync),
    /// The deepest mailbox now, where known.
    depth: Option<&'a (dyn Fn() -> u64 + Sync)>,
    probe: &'a Probe,
    counters: &'a Counters,
    current: LatencyRecorder,
    total: LatencyRecorder,
    /// Running totals at the end of the previous interval.
    last_sent: u64,
    last_refused: u64,
    last_waited: u64,
    last_faults: u64,
    last_t: Duration,
    last_cpu: Duration,
}

impl Sampler<'_> {
    /// Closes the interval ending at `elapsed` since the start.
    fn sample(&mut self, elapsed: Duration) -> Interval {
        let sent = self.counters.sent.load(Relaxed);
        let refused = self.counters.refused.load(Relaxed);
        let waited = self.counters.waited.load(Relaxed);
        self.probe.harvest(&mut self.current);
        // Both recorders have the default bounds, so merging cannot fail.
        self.total
            .merge(&self.current)
            .expect("latency recorders share their bounds");
        let faults = (self.faults)();
        let (rss_bytes, cpu) = (self.usage)();
        let length = elapsed.saturating_sub(self.last_t);
        let cpu_percent = if length.is_zero() {
            0.0
        } else {
            cpu.saturating_sub(self.last_cpu).as_secs_f64() / length.as_secs_f64() * 100.0
        };
        let t_s = elapsed.as_secs_f64();
        let (due_now, due_before) = (self.profile.due(elapsed), self.profile.due(self.last_t));
        let interval = Interval {
            t_s,
            length_s: length.as_secs_f64(),
            phase: self.cfg.phase_of(t_s.ceil() as u64).to_owned(),
            scheduled: due_now.saturating_sub(due_before),
            sent: sent - self.last_sent,
            refused: refused - self.last_refused,
            waited: waited - self.last_waited,
            depth_max: self.depth.map_or(0, |d| d()),
            handled: self.current.count(),
            faults: faults - self.last_faults,
            latency: self.current.summary(),
            rss_bytes,
            cpu_percent,
        };
        self.current.reset();
        (self.last_sent, self.last_refused, self.last_waited, self.last_faults) = (sent, refused, waited, faults);
        self.last_t = elapsed;
        self.last_cpu = cpu;
        interval
    }
}

/// The result files of a run being written: the interval log, and where
/// the result goes.
pub(crate) struct Output {
    name: &'static str,
    out_dir: PathBuf,
    intervals_file: String,
    intervals_path: PathBuf,
    log: IntervalLog,
    started_at_unix_s: u64,
    /// The generator's lateness (actual - intended send), once the load
    /// phase has ended.
    lateness: Option<LatencySummary>,
    /// The in-process request/reply round trip measured in the same run
    /// (p50, ms), the floor the scenario's p50 is set beside.
    request_reply_p50_ms: Option<f64>,
}

impl Output {
    /// Creates the output folder and the interval log of `scenario`.
    pub(crate) fn create(scenario: Scenario, opts: &RunOptions) -> Result<Self, RunError> {
        let name = scenario.name();
        std::fs::create_dir_all(&opts.out_dir).map_err(io(format!("creating {}", opts.out_dir.display())))?;
        let intervals_file = format!("{name}.intervals.jsonl");
        let intervals_path = opts.out_dir.join(&intervals_file);
        let log = IntervalLog::create(&intervals_path).map_err(io(format!("creating {}", intervals_path.display())))?;
        Ok(Self {
            name,
            out_dir: opts.out_dir.clone(),
            intervals_file,
            intervals_path,
            log,
            started_at_unix_s: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            lateness: None,
            request_reply_p50_ms: None,
        })
    }

    /// Writes the result: `config` as run (with `extra` fields added to
    /// it, e.g. the target), the metrics and assertions.
    pub(crate) fn finish(
        self,
        cfg: &Config,
        extra: serde_json::Map<String, serde_json::Value>,
        (mut metrics, assertions): (Vec<crate::result::Metric>, Vec<crate::assess::Assertion>),
        partial: bool,
        load_elapsed: Duration,
    ) -> Result<RunOutcome, RunError> {
        add_generator_metrics(&mut metrics, self.lateness.as_ref(), self.request_reply_p50_ms);
        let mut config = serde_json::to_value(cfg).map_err(|e| RunError::Internal(e.to_string()))?;
        if let Some(c) = config.as_object_mut() {
            c.extend(extra);
        }
        let passed = assertions.iter().all(|a| a.passed);
        let result = ScenarioResult {
            scenario: self.name.to_owned(),
            config,
            metrics,
            assertions,
            intervals_file: self.intervals_file,
            partial,
            passed,
            started_at_unix_s: self.started_at_unix_s,
            elapsed_s: load_elapsed.as_secs_f64(),
        };
        let result_path = self.out_dir.join(format!("{}.json", self.name));
        result
            .write(&result_path)
            .map_err(io(format!("writing {}", result_path.display())))?;
        Ok(RunOutcome { result, result_path })
    }
}

/// What the load phase hands back.
pub(crate) struct Loaded<S> {
    /// The per-second intervals.
    pub(crate) intervals: Vec<Interval>,
    /// Latency of every interval, merged (harvest the probe into it to add
    /// what was recorded since).
    pub(crate) total: LatencyRecorder,
    /// The generator's report.
    pub(crate) report: OpenLoopReport,
    /// The sink, flushed.
    pub(crate) sink: S,
    /// Start of the load to the generator's end (the sink flushed).
    pub(crate) load_elapsed: Duration,
    /// Whether Ctrl-C cut the run short.
    pub(crate) interrupted: bool,
}

/// What the load phase measures with, besides the sink.
pub(crate) struct Gauges<'a> {
    /// The latency probe the sink (or the agents) record into.
    pub(crate) probe: &'a Probe,
    /// The totals the sink publishes.
    pub(crate) counters: &'a Counters,
    /// Faults (dead letters) so far.
    pub(crate) faults: &'a (dyn Fn() -> u64 + Sync),
    /// Memory and CPU of the process under load.
    pub(crate) usage: &'a (dyn Fn() -> Usage + Sync),
    /// The deepest mailbox now (in-process runs), for the interval log.
    pub(crate) depth: Option<&'a (dyn Fn() -> u64 + Sync)>,
}

/// Drives `sink` open-loop along the configuration's rate profile from
/// `start`, samples an interval every second (logged to `out` and shown
/// live), and stops at the end of the profile or at Ctrl-C.
pub(crate) async fn load_phase<S: Flush + Send + 'static>(
    cfg: &Config,
    opts: &RunOptions,
    profile: &RateProfile,
    out: &mut Output,
    gauges: Gauges<'_>,
    start: Instant,
    mut sink: S,
) -> Result<Loaded<S>, RunError> {
    let name = out.name;
    // --- Ctrl-C -------------------------------------------------------------
    let stop = Arc::new(StopFlag::default());
    let interrupted = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    {
        let (stop, interrupted, wake) = (stop.clone(), interrupted.clone(), wake.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Relaxed);
                stop.stop();
                wake.notify_one();
            }
        });
    }

    // --- load -----------------------------------------------------------------
    // Paced on a thread of its own to the microsecond (not on tokio's 1 ms
    // timer), measuring its own lateness; the flush runs there too.
    let mut generator = {
        let (pacer, stop) = (Pacer::new(profile.clone()), stop.clone());
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                let paced = pacer.run_from(start, &mut sink, &stop).await;
                sink.flush().await;
                (paced, sink)
            })
        })
    };

    // --- one interval a second ------------------------------------------------
    let pb = progress_bar(opts.progress, cfg.load.duration_s);
    let plain = opts.progress && pb.is_hidden();
    let mut sampler = Sampler {
        cfg,
        profile,
        faults: gauges.faults,
        usage: gauges.usage,
        depth: gauges.depth,
        probe: gauges.probe,
        counters: gauges.counters,
        current: LatencyRecorder::new(),
        total: LatencyRecorder::new(),
        last_sent: 0,
        last_refused: 0,
        last_waited: 0,
        last_faults: (gauges.faults)(),
        last_t: Duration::ZERO,
        last_cpu: (gauges.usage)().1,
    };
    let mut intervals: Vec<Interval> = Vec::with_capacity(cfg.load.duration_s.min(100_000) as usize);
    // The generator's outcome, once it has ended (at the last tick).
    let mut generated = None;
    for k in 1..=cfg.load.duration_s {
        // `Config::validate` caps the duration at a year, so this cannot
        // overflow; should it ever, the run stops with an error, not a panic.
        let tick = start
            .checked_add(Duration::from_secs(k))
            .ok_or_else(|| RunError::Internal(format!("second {k} of the run is past the clock's range")))?;
        let cut = tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(tick)) => false,
            _ = wake.notified() => true,
        };
        // A full interval is booked at its tick (whole seconds); one cut
        // short by Ctrl-C at the moment of the cut.
        let elapsed = if cut { start.elapsed() } else { Duration::from_secs(k) };
        if !cut && k == cfg.load.duration_s {
            // The generator's last messages are due at this tick and may
            // not be out yet (a busy machine): let it end, so the last
            // interval counts them and the intervals add up to what was sent.
            generated = Some((&mut generator).await);
        }
        let interval = sampler.sample(elapsed);
        out.log
            .write(&interval)
            .map_err(io(format!("writing {}", out.intervals_path.display())))?;
        pb.set_position(k);
        pb.set_message(live_line(&interval));
        if plain && k % 10 == 0 {
            eprintln!("[{name} {k:>5} s] {}", live_line(&interval));
        }
        intervals.push(interval);
        if cut {
            break;
        }
    }
    pb.finish_and_clear();
    // Without a Ctrl-C the generator ends by itself with the profile (its
    // last messages may still be due at the last tick); with one, `stop`
    // is already set.
    let generated = match generated {
        Some(done) => done,
        None => generator.await,
    };
    let (paced, sink) = generated.map_err(|e| RunError::Internal(format!("the load generator died: {e}")))?;
    out.lateness = Some(paced.lateness.summary());
    Ok(Loaded {
        intervals,
        total: std::mem::take(&mut sampler.total),
        report: paced.report,
        sink,
        load_elapsed: start.elapsed(),
        interrupted: interrupted.load(Relaxed),
    })
}

async fn drive(scenario: Scenario, cfg: &Config, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let mut out = Output::create(scenario, opts)?;
    let profile = cfg.rate_profile()?;

    // --- agents -----------------------------------------------------------
    let orch = Orchestrator::with_config(OrchestratorConfig {
        mailbox_capacity: cfg.load.mailbox_capacity,
        dead_letter_log: 64,
        ..Default::default()
    });
    let rss_before = rss();
    let probe = Probe::new(Instant::now());
    let agents = spawn_agents(&orch, cfg, &probe)?;
    let rss_spawned = rss();
    // The floor the scenario's latency is set beside: the in-process
    // request/reply round trip, measured now, in this run.
    out.request_reply_p50_ms = request_reply_p50_ms(&orch).await;

    // --- load -----------------------------------------------------------------
    let counters = Arc::new(Counters::default());
    let fault = match &cfg.plan {
        Plan::Faults { faults, .. } => Some(FaultPlan {
            every: crash_every(cfg.load.rate, faults.crash_rate),
            payloads: agents.crash.clone(),
        }),
        _ => None,
    };
    let start = Instant::now();
    let sink = OrchSink {
        policy: cfg.load.policy,
        waited: 0,
        refs: agents.refs.clone(),
        start,
        probe: probe.clone(),
        payload: Payloads::new(cfg.load.message_size).more,
        fault,
        counters: counters.clone(),
        sent: 0,
        accepted: 0,
        refused: 0,
        faults_injected: 0,
        crashes_sent: 0,
    };
    let faults = || count(&orch.dead_letter_counts(), DeadLetterKind::Fault);
    let usage = || (rss(), process_cpu_time());
    let refs = agents.refs.clone();
    let depth = move || refs.iter().map(|r| r.mailbox_depth() as u64).max().unwrap_or(0);
    let gauges = Gauges {
        probe: &probe,
        counters: &counters,
        faults: &faults,
        usage: &usage,
        depth: Some(&depth),
    };
    let loaded = load_phase(cfg, opts, &profile, &mut out, gauges, start, sink).await?;
    let Loaded {
        intervals,
        mut total,
        report: gen_report,
        sink,
        load_elapsed,
        interrupted,
    } = loaded;

    // --- drain, then shut down -------------------------------------------------
    let drain_until = Instant::now() + Duration::from_secs(10);
    loop {
        probe.harvest(&mut total);
        let settled = total.count() + dead_after_accept(&orch.dead_letter_counts()) >= sink.accepted;
        if settled || Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = orch.all_stats();
    let failures = orch.failures();
    let shutdown = orch.shutdown(Duration::from_secs(5)).await;
    probe.harvest(&mut total);
    let dl = orch.dead_letter_counts();

    let accounting = Accounting {
        sent: gen_report.sent,
        accepted: sink.accepted,
        refused: sink.refused,
        dead_refused: dl.total - dead_after_accept(&dl),
        handled: total.count(),
        dead_accepted: dead_after_accept(&dl),
        in_progress: shutdown.in_progress as u64,
    };

    let evaluated = verdict::evaluate(&RunData {
        cfg,
        profile: &profile,
        intervals: &intervals,
        latency: total.summary(),
        accounting,
        generator: gen_report,
        load_elapsed,
        rss_before,
        rss_spawned,
        faults_injected: sink.faults_injected,
        waited: sink.waited,
        stats: &stats,
        failures: &failures,
        dead_letters: &dl,
    });
    out.finish(cfg, serde_json::Map::new(), evaluated, interrupted, load_elapsed)
}

/// Every how many messages the fault scenario sends a crash command, for
/// `crash_rate` crashes per second at `rate` messages per second.
pub(crate) fn crash_every(rate: f64, crash_rate: f64) -> u64 {
    ((rate / crash_rate).round() as u64).max(2)
}

/// Round trips of the request/reply reference (after as many to warm up).
const REQUEST_REPLY_ROUND_TRIPS: u64 = 2000;

/// The median in-process request/reply round trip (64 B, one in flight, the
/// requester a task in the runtime, as the suite's `latency_p50` row
/// measures it), in ms; `None` when the echo agent could not be reached.
async fn request_reply_p50_ms(orch: &Orchestrator) -> Option<f64> {
    use caxton_workloads::pingpong::{caxton_round_trips, spawn_echo};
    let echo = spawn_echo(orch).ok()?;
    let o = orch.clone();
    let measured = tokio::spawn(async move {
        let payload = Bytes::from_static(&[7u8; 64]);
        caxton_round_trips(&o, echo, REQUEST_REPLY_ROUND_TRIPS, payload.clone(), |_| {}).await?;
        let mut rec = LatencyRecorder::new();
        caxton_round_trips(&o, echo, REQUEST_REPLY_ROUND_TRIPS, payload, |d| rec.record(d)).await?;
        Ok::<_, caxton_runtime::RequestError>(rec.summary().p50_us / 1000.0)
    })
    .await;
    let _ = orch.stop(echo).await;
    measured.ok()?.ok()
}

/// The generator's lateness share of the latency above which a run warns
/// that its latency figures are partly the generator's.
pub const LATENESS_WARN_SHARE: f64 = 0.25;

/// Adds the generator's lateness (p50/p99/max of actual - intended send,
/// informational) right after the latency rows, its share of the p50 and
/// p99 latency, and the request/reply reference beside `latency_p50`.
pub(crate) fn add_generator_metrics(
    metrics: &mut Vec<crate::result::Metric>,
    lateness: Option<&LatencySummary>,
    request_reply_p50_ms: Option<f64>,
) {
    use crate::result::Metric;
    let info = |name: &str, value: f64, unit: &str| Metric {
        name: name.to_owned(),
        value,
        unit: unit.to_owned(),
        variant: None,
        reference: None,
        informational: true,
    };
    if let Some(rr) = request_reply_p50_ms
        && let Some(p50) = metrics.iter_mut().find(|m| m.name == "latency_p50")
    {
        p50.reference = Some(caxton_report::results::Reference {
            name: "in-process request/reply p50 (same run)".to_owned(),
            value: rr,
        });
    }
    let Some(late) = lateness else { return };
    let latency = |name: &str| metrics.iter().find(|m| m.name == name).map(|m| m.value);
    let share = |late_us: f64, name: &str| match latency(name) {
        Some(ms) if ms > 0.0 && ms.is_finite() => late_us / 1000.0 / ms * 100.0,
        _ => f64::NAN,
    };
    let mut rows = vec![
        info("generator_lateness_p50", late.p50_us / 1000.0, "ms"),
        info("generator_lateness_p99", late.p99_us / 1000.0, "ms"),
        info("generator_lateness_max", late.max_us / 1000.0, "ms"),
        info("generator_lateness_share_p50", share(late.p50_us, "latency_p50"), "%"),
        info("generator_lateness_share_p99", share(late.p99_us, "latency_p99"), "%"),
    ];
    if let Some(rr) = request_reply_p50_ms {
        rows.push(info("request_reply_p50", rr, "ms"));
    }
    let at = metrics
        .iter()
        .position(|m| m.name == "generator_max_lag")
        .or_else(|| metrics.iter().rposition(|m| m.name.starts_with("latency_")))
        .map_or(metrics.len(), |i| i + 1);
    metrics.splice(at..at, rows);
}
