//! A scenario run against a running front door: spawn the agents through
//! the API, drive the load over HTTP with the shared run loop, wait for
//! the server to settle, account on its counters, stop the agents.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_runtime::{AgentFailure, AgentId, AgentStats, AgentStatus, DeadLetterKind};
use caxton_wasm::guests;
use caxton_workloads::payload::Payloads;

use super::api::{Api, SpawnSpec};
use super::scrape::Scrape;
use super::server;
use super::sink::{CONNECTIONS, Crashes, HttpSink, Refusals};
use super::target::Target;
use crate::assess::Accounting;
use crate::config::{AgentKind, Config, Plan};
use crate::probe::Probe;
use crate::run::{
    Counters, Gauges, Loaded, Output, RunError, RunOptions, RunOutcome, crash_every, load_phase, runtime,
};
use crate::scenario::Scenario;
use crate::verdict::{self, RunData};

/// The agents a run spawned on the server; stopped when dropped, so a run
/// that fails half way leaves the server as it found it too.
struct Agents {
    api: Api,
    /// In load order (mixed runs alternate kinds).
    ids: Vec<u64>,
    /// What they are, for the result.
    kinds: &'static str,
}

impl Agents {
    /// Spawns the agents `cfg` asks for: the fault scenario's are the
    /// counter guest (it traps on command; the server's native kinds do
    /// not crash), the others' native `sink`s, counter guests, or half each.
    fn spawn(api: Api, cfg: &Config) -> Result<Self, RunError> {
        let n = cfg.load.agents;
        let faults = matches!(cfg.plan, Plan::Faults { .. });
        let wasm_n = match cfg.load.agent_kind {
            _ if faults => n,
            AgentKind::Native => 0,
            AgentKind::Wasm => n,
            AgentKind::Mixed => n / 2,
        };
        let mut agents = Self {
            api,
            ids: Vec::with_capacity(n),
            kinds: match wasm_n {
                0 => "sink",
                w if w == n => "wasm counter guest",
                _ => "sink and wasm counter guest, alternating",
            },
        };
        let spec = |kind, module, name, count| SpawnSpec {
            kind,
            module,
            name,
            count,
            mailbox_capacity: cfg.load.mailbox_capacity,
        };
        let native = if wasm_n < n {
            let ids = api
                .spawn(&spec("sink", None, "scn", n - wasm_n))
                .map_err(RunError::Remote)?;
            agents.ids.extend(&ids);
            ids
        } else {
            Vec::new()
        };
        let wasm = if wasm_n > 0 {
            let module = api.upload_module(guests::COUNTER).map_err(RunError::Remote)?;
            let name = if native.is_empty() { "scn" } else { "scn-wasm" };
            let ids = api
                .spawn(&spec("wasm", Some(&module), name, wasm_n))
                .map_err(RunError::Remote)?;
            agents.ids.extend(&ids);
            ids
        } else {
            Vec::new()
        };
        // Mixed: alternate, so round-robin load falls on both kinds in turn.
        let (mut native, mut wasm) = (native.into_iter(), wasm.into_iter());
        agents.ids = (0..n)
            .filter_map(|i| {
                if i % 2 == 1 && wasm.len() > 0 || native.len() == 0 {
                    wasm.next()
                } else {
                    native.next()
                }
            })
            .collect();
        Ok(agents)
    }

    /// Each agent's stats, or why its supervisor gave up on it.
    fn stats(&self) -> Result<(Vec<AgentStats>, Vec<AgentFailure>), RunError> {
        let (mut stats, mut failures) = (Vec::new(), Vec::new());
        for &id in &self.ids {
            let agent = AgentId::new(id).ok_or_else(|| RunError::Remote(format!("agent id {id} is not valid")))?;
            match self.api.stats(id).map_err(RunError::Remote)? {
                Some(v) => {
                    let s = agent_stats(agent, &v);
                    if s.status == AgentStatus::Failed {
                        failures.push(AgentFailure {
                            agent,
                            name: s.name.clone(),
                            reason: "stopped by its supervisor".into(),
                            restarts: s.restarts,
                        });
                    } else {
                        stats.push(s);
                    }
                }
                None => failures.push(AgentFailure {
                    agent,
                    name: None,
                    reason: "gone from the server before the run ended".into(),
                    restarts: 0,
                }),
            }
        }
        Ok((stats, failures))
    }

    /// Stops every agent (`DELETE /v1/agents/{id}`).
    fn stop(&mut self) -> Result<(), RunError> {
        let mut first_error = None;
        for id in std::mem::take(&mut self.ids) {
            if let Err(e) = self.api.stop(id) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(RunError::Remote(e)))
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// An agent's stats from its `GET /v1/agents/{id}` JSON.
fn agent_stats(id: AgentId, v: &serde_json::Value) -> AgentStats {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    AgentStats {
        id,
        name: v["name"].as_str().map(str::to_owned),
        status: match v["status"].as_str() {
            Some("failed") => AgentStatus::Failed,
            Some("stopped") => AgentStatus::Stopped,
            Some("stopping") => AgentStatus::Stopping,
            _ => AgentStatus::Running,
        },
        messages_handled: n("messages_handled"),
        batches: n("batches"),
        handler_cpu: Duration::from_secs_f64(v["handler_cpu_us"].as_f64().unwrap_or(0.0).max(0.0) / 1e6),
        mailbox_depth: n("mailbox_depth") as usize,
        mailbox_high_water: n("mailbox_high_water") as usize,
        mailbox_capacity: n("mailbox_capacity") as usize,
        restarts: n("restarts"),
        dead_letters: n("dead_letters"),
        checkpoints: n("checkpoints"),
        memory_bytes: v["memory_bytes"].as_u64(),
        recovery_times: v["recovery_times_us"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_f64)
            .map(|us| Duration::from_secs_f64(us.max(0.0) / 1e6))
            .collect(),
    }
}

/// Reads the server's fault dead letters (since `base`) once a second, so
/// each interval shows its faults.
struct FaultWatch {
    faults: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultWatch {
    fn start(api: Api, base: Scrape) -> Self {
        let (faults, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (faults, stop) = (faults.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Relaxed) {
                    if let Ok(text) = api.metrics() {
                        let d = base.delta(&Scrape::parse(&text)).dead_letter_counts();
                        faults.store(d.get(DeadLetterKind::Fault), Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
        };
        Self {
            faults,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FaultWatch {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Messages handled successfully: the server counts every message a
/// handler returned from, and those that faulted or failed are dead
/// letters too.
fn handled_ok(d: &Scrape) -> u64 {
    let dl = d.dead_letter_counts();
    d.handled
        .saturating_sub(dl.get(DeadLetterKind::Fault) + dl.get(DeadLetterKind::HandlerError))
}

fn scrape(api: &Api) -> Result<Scrape, RunError> {
    api.metrics().map(|t| Scrape::parse(&t)).map_err(RunError::Remote)
}

/// Runs `scenario` with `cfg` against the front door at `target`.
pub fn run(scenario: Scenario, cfg: &Config, opts: &RunOptions, target: &Target) -> Result<RunOutcome, RunError> {
    let api = Api { addr: target.addr };
    api.healthy().map_err(RunError::Remote)?;
    let mut out = Output::create(scenario, opts)?;
    let profile = cfg.rate_profile()?;
    let pid = server::pid_listening_on(target.addr.port());
    let usage = move || server::usage(pid);

    // --- agents, and the server's counters before the load ----------------
    let rss_before = usage().0;
    let mut agents = Agents::spawn(api, cfg)?;
    let rss_spawned = usage().0;
    let before = scrape(&api)?;
    let watch = FaultWatch::start(api, before.clone());

    // --- load -----------------------------------------------------------------
    let probe = Probe::new(Instant::now());
    let counters = Arc::new(Counters::default());
    let refusals = Arc::new(Refusals::default());
    let crashes = match &cfg.plan {
        Plan::Faults { faults, .. } => Some(Crashes {
            every: crash_every(cfg.load.rate, faults.crash_rate),
            payload: Bytes::from_static(guests::counter::TRAP),
        }),
        _ => None,
    };
    let faults = || watch.faults.load(Relaxed);
    let loaded = runtime(cfg)?.block_on(async {
        let start = Instant::now();
        let sink = HttpSink::new(
            target.addr,
            &agents.ids,
            Payloads::new(cfg.load.message_size).more,
            crashes,
            start,
            probe.clone(),
            counters.clone(),
            refusals.clone(),
        );
        let gauges = Gauges {
            probe: &probe,
            counters: &counters,
            faults: &faults,
            usage: &usage,
            depth: None,
        };
        load_phase(cfg, opts, &profile, &mut out, gauges, start, sink).await
    })?;
    let Loaded {
        intervals,
        mut total,
        report,
        load_elapsed,
        interrupted,
        ..
    } = loaded;
    drop(watch);

    // --- let the server settle: every accepted message handled or dead ------
    let drain_until = Instant::now() + Duration::from_secs(10);
    let mut after = scrape(&api)?;
    loop {
        let d = before.delta(&after);
        if handled_ok(&d) + d.dead_letter_counts().after_accept() >= d.routed("raw_send")
            || Instant::now() >= drain_until
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        after = scrape(&api)?;
    }
    let (stats, failures) = agents.stats()?;
    let kinds = agents.kinds;
    agents.stop()?;
    probe.harvest(&mut total);

    let d = before.delta(&after);
    let dl = d.dead_letter_counts();
    let after_accept = dl.after_accept();
    let answered_outside = refusals.by_front_door.load(Relaxed) + refusals.unanswered.load(Relaxed);
    let accounting = Accounting {
        sent: report.sent,
        accepted: d.routed("raw_send"),
        refused: counters.refused.load(Relaxed),
        // The orchestrator's refusals are dead letters on the server; the
        // front door's own (503...) and unanswered ones never reached it.
        dead_refused: dl.total - after_accept + answered_outside,
        handled: handled_ok(&d),
        dead_accepted: after_accept,
        in_progress: 0,
    };
    let evaluated = verdict::evaluate(&RunData {
        cfg,
        profile: &profile,
        intervals: &intervals,
        latency: total.summary(),
        accounting,
        generator: report,
        load_elapsed,
        rss_before,
        rss_spawned,
        faults_injected: counters.faults_injected.load(Relaxed),
        waited: counters.waited.load(Relaxed),
        stats: &stats,
        failures: &failures,
        dead_letters: &dl,
    });
    let marker = serde_json::json!({
        "url": target.url,
        "route": "raw_send",
        "connections": CONNECTIONS.min(cfg.load.agents.max(1)),
        "agents": kinds,
        "server_pid": pid,
        "latency": "intended send -> 202 Accepted, measured by this client",
        "accounting": "the server's /metrics counters (routed raw_send, handled, dead letters)",
        "refused_by_orchestrator": refusals.by_orchestrator.load(Relaxed),
        "refused_by_front_door": refusals.by_front_door.load(Relaxed),
        "unanswered": refusals.unanswered.load(Relaxed),
        "server_restarts": d.restarts,
    });
    let mut extra = serde_json::Map::new();
    extra.insert("target".into(), marker);
    out.finish(cfg, extra, evaluated, interrupted, load_elapsed)
}
