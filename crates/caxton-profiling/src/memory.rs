//! The memory profile per agent kind: bytes per live agent at creation,
//! after processing messages, after a checkpoint, and in total, counted by
//! the allocator and by RSS, for several agent counts.
//!
//! For each agent count N the profile starts a fresh tokio runtime and
//! orchestrator, warms them up with one agent (so one-time allocations are
//! not charged to the agents), then:
//!
//! 1. **creation**: spawns N agents of the kind;
//! 2. **messages**: sends each `messages_per_agent` messages and waits until
//!    all are handled;
//! 3. **checkpoint**: checkpoints each agent (the runtime keeps the last
//!    checkpoint as the restart point);
//!
//! reading the allocator counters and RSS after each phase. Each phase's
//! growth is divided by N; `total` is the growth over all three. After
//! shutdown it reads once more (`residual`), which should fall back near
//! zero. RSS is page-granular and the allocator keeps freed pages, so
//! RSS / N is only meaningful for large N.
//!
//! Agent kinds are values: [`AgentKind::native_counter`] is built in; a
//! hosted (WASM) kind is added with [`AgentKind::new`] and a spawn closure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_runtime::{AgentId, Message, Orchestrator, SpawnError};
use serde::{Deserialize, Serialize};

use crate::ProfilingError;
use crate::alloc::{AllocSource, AllocTotals};
use crate::process::{available_cpus, peak_rss_bytes, rss_bytes};

/// Spawns one agent of a kind.
pub type SpawnFn = dyn Fn(&Orchestrator) -> Result<AgentId, SpawnError> + Send + Sync;

/// Builds the `i`-th workload message for an agent of a kind.
pub type MessageFn = dyn Fn(AgentId, u64) -> Message + Send + Sync;

/// The payload of the default workload message (16 bytes, static, so the
/// payload itself allocates nothing).
pub const DEFAULT_PAYLOAD: &[u8; 16] = b"caxton-profiling";

/// A kind of agent to profile: its name, how to spawn one, and the message
/// it is sent.
#[derive(Clone)]
pub struct AgentKind {
    name: Arc<str>,
    spawn: Arc<SpawnFn>,
    message: Arc<MessageFn>,
}

impl std::fmt::Debug for AgentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKind")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AgentKind {
    /// A kind named `name` whose agents `spawn` creates; it is sent
    /// [`DEFAULT_PAYLOAD`] as `Inform` messages unless
    /// [`with_message`](Self::with_message) says otherwise.
    pub fn new(
        name: impl Into<Arc<str>>,
        spawn: impl Fn(&Orchestrator) -> Result<AgentId, SpawnError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            spawn: Arc::new(spawn),
            message: Arc::new(|to, _| Message::inform(to, Bytes::from_static(DEFAULT_PAYLOAD))),
        }
    }

    /// Sends agents of this kind the messages `message` builds.
    pub fn with_message(mut self, message: impl Fn(AgentId, u64) -> Message + Send + Sync + 'static) -> Self {
        self.message = Arc::new(message);
        self
    }

    /// The kind's name, as reports show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Spawns one agent of this kind.
    pub fn spawn(&self, orch: &Orchestrator) -> Result<AgentId, SpawnError> {
        (self.spawn)(orch)
    }

    /// The `i`-th workload message for agent `to`.
    pub fn message(&self, to: AgentId, i: u64) -> Message {
        (self.message)(to, i)
    }
}

/// How to run a memory profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryProfileConfig {
    /// The agent counts N to profile, each in a fresh runtime.
    pub agent_counts: Vec<usize>,
    /// Messages sent to each agent in the messages phase.
    pub messages_per_agent: u64,
    /// Tokio worker threads (and sender tasks).
    pub worker_threads: usize,
    /// Pause before each reading so agent tasks reach their idle state, in
    /// milliseconds.
    pub settle_ms: u64,
}

impl Default for MemoryProfileConfig {
    /// N = 1, 100, 10000; 1000 messages each; one worker per CPU; 20 ms settle.
    fn default() -> Self {
        Self {
            agent_counts: vec![1, 100, 10_000],
            messages_per_agent: 1000,
            worker_threads: available_cpus(),
            settle_ms: 20,
        }
    }
}

/// Bytes per live agent, by phase. Growth can be negative (memory given
/// back), so these are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseBytes {
    /// Growth from spawning, per agent.
    pub creation_bytes_per_agent: f64,
    /// Growth from handling the messages, per agent.
    pub messages_bytes_per_agent: f64,
    /// Growth from one checkpoint, per agent.
    pub checkpoint_bytes_per_agent: f64,
    /// Growth over all three phases, per agent.
    pub total_bytes_per_agent: f64,
    /// What was still held after every agent exited (the orchestrator
    /// itself still alive), per agent: near zero unless agents leak.
    pub residual_after_shutdown_bytes_per_agent: f64,
}

/// The profile of one agent kind at one agent count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryProfileRow {
    /// The agent kind.
    pub kind: String,
    /// Live agents N.
    pub agents: usize,
    /// Messages each agent handled.
    pub messages_per_agent: u64,
    /// Allocator-counted bytes (allocated minus freed) per agent; `None`
    /// when no counting allocator is installed.
    pub allocator: Option<PhaseBytes>,
    /// Allocation calls per agent at creation; `None` without a counting allocator.
    pub creation_allocations_per_agent: Option<f64>,
    /// RSS growth per agent.
    pub rss: PhaseBytes,
    /// RSS before spawning, in bytes.
    pub rss_baseline_bytes: u64,
    /// RSS with all agents live after their checkpoint, in bytes.
    pub rss_loaded_bytes: u64,
    /// Highest RSS of the process so far (kernel high-water mark, so it
    /// covers the messages phase between readings), in bytes; `None` where
    /// the platform does not report it.
    pub rss_peak_bytes: Option<u64>,
    /// Wall time of the messages phase, in milliseconds.
    pub messages_phase_ms: f64,
    /// Wall time of the whole row, in milliseconds.
    pub elapsed_ms: f64,
}

/// A memory profile: one row per agent kind and count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryProfileReport {
    /// The allocator that counted ("stats_alloc", "dhat"), or `None`.
    pub allocator: Option<String>,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// The settings used.
    pub config: MemoryProfileConfig,
    /// The rows, in the order run.
    pub rows: Vec<MemoryProfileRow>,
    /// Wall time of the whole profile, in milliseconds.
    pub elapsed_ms: f64,
}

/// One reading of allocator counters and RSS.
#[derive(Clone, Copy, Debug)]
struct Reading {
    alloc: Option<AllocTotals>,
    rss: u64,
}

impl Reading {
    fn take(alloc: Option<&dyn AllocSource>) -> Result<Self, ProfilingError> {
        Ok(Self {
            alloc: alloc.map(|a| a.totals()),
            rss: rss_bytes()?,
        })
    }

    fn net_alloc(&self) -> Option<i64> {
        self.alloc.map(|t| t.bytes_allocated as i64 - t.bytes_freed as i64)
    }
}

fn phase_bytes(r: [i64; 5], n: usize) -> PhaseBytes {
    let per = |d: i64| d as f64 / n as f64;
    PhaseBytes {
        creation_bytes_per_agent: per(r[1] - r[0]),
        messages_bytes_per_agent: per(r[2] - r[1]),
        checkpoint_bytes_per_agent: per(r[3] - r[2]),
        total_bytes_per_agent: per(r[3] - r[0]),
        residual_after_shutdown_bytes_per_agent: per(r[4] - r[0]),
    }
}

/// Runs the profile for every kind and agent count. `alloc` is the
/// installed counting allocator (see
/// [`measurement_allocator!`](crate::measurement_allocator)); with `None`
/// only RSS is measured.
pub fn run_memory_profile(
    config: &MemoryProfileConfig,
    kinds: &[AgentKind],
    alloc: Option<&dyn AllocSource>,
) -> Result<MemoryProfileReport, ProfilingError> {
    if config.agent_counts.is_empty() || config.agent_counts.contains(&0) {
        return Err(ProfilingError::InvalidSettings(format!(
            "agent counts must be non-empty and positive, got {:?}",
            config.agent_counts
        )));
    }
    if config.worker_threads == 0 {
        return Err(ProfilingError::InvalidSettings(
            "worker_threads must be at least 1".into(),
        ));
    }
    let alloc = alloc.filter(|a| crate::alloc::is_counting(*a));
    let start = Instant::now();
    let mut rows = Vec::new();
    for kind in kinds {
        for &n in &config.agent_counts {
            rows.push(profile_row(config, kind, n, alloc)?);
        }
    }
    Ok(MemoryProfileReport {
        allocator: alloc.map(|a| a.name().to_owned()),
        cpus: available_cpus(),
        config: config.clone(),
        rows,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Profiles one kind at one agent count, in a fresh runtime.
pub fn profile_row(
    config: &MemoryProfileConfig,
    kind: &AgentKind,
    n: usize,
    alloc: Option<&dyn AllocSource>,
) -> Result<MemoryProfileRow, ProfilingError> {
    let started = Instant::now();
    // Message buffers kept for reuse by earlier work (up to 16 KiB shared
    // plus 2 KiB on this thread) would otherwise be taken and freed inside
    // a phase, which then reads less than the agents hold (below zero at
    // N = 1). The row's own runtime threads start with none.
    caxton_runtime::release_spare_buffers();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .enable_time()
        .build()
        .map_err(ProfilingError::Runtime)?;
    let settle = Duration::from_millis(config.settle_ms);
    let m = config.messages_per_agent;
    let (readings, messages_phase) = rt.block_on(async {
        let orch = Orchestrator::new();
        warm_up(&orch, kind, m, config.worker_threads).await?;
        let mut ids: Vec<AgentId> = Vec::with_capacity(n);
        let mut readings = [Reading { alloc: None, rss: 0 }; 5];
        tokio::time::sleep(settle).await;
        readings[0] = Reading::take(alloc)?;

        for _ in 0..n {
            ids.push(kind.spawn(&orch)?);
        }
        tokio::time::sleep(settle).await;
        readings[1] = Reading::take(alloc)?;

        let t = Instant::now();
        send_all(&orch, kind, &ids, m, config.worker_threads).await?;
        wait_handled(&orch, n as u64 * m).await?;
        let messages_phase = t.elapsed();
        tokio::time::sleep(settle).await;
        readings[2] = Reading::take(alloc)?;

        for &id in &ids {
            orch.checkpoint(id).await?;
        }
        tokio::time::sleep(settle).await;
        readings[3] = Reading::take(alloc)?;

        // The orchestrator itself stays alive for this reading, so what its
        // own structures free on drop is not mistaken for agent memory.
        orch.shutdown(Duration::from_secs(10)).await;
        tokio::time::sleep(settle).await;
        readings[4] = Reading::take(alloc)?;
        drop(orch);
        drop(ids);
        Ok::<_, ProfilingError>((readings, messages_phase))
    })?;
    drop(rt);

    let alloc_bytes = readings.map(|r| r.net_alloc());
    let allocator = if alloc_bytes.iter().all(Option::is_some) {
        Some(phase_bytes(alloc_bytes.map(|b| b.unwrap_or(0)), n))
    } else {
        None
    };
    let creation_allocations_per_agent = match (readings[0].alloc, readings[1].alloc) {
        (Some(a), Some(b)) => Some(b.allocations.saturating_sub(a.allocations) as f64 / n as f64),
        _ => None,
    };
    Ok(MemoryProfileRow {
        kind: kind.name().to_owned(),
        agents: n,
        messages_per_agent: m,
        allocator,
        creation_allocations_per_agent,
        rss: phase_bytes(readings.map(|r| r.rss as i64), n),
        rss_baseline_bytes: readings[0].rss,
        rss_loaded_bytes: readings[3].rss,
        rss_peak_bytes: peak_rss_bytes(),
        messages_phase_ms: messages_phase.as_secs_f64() * 1000.0,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Runs one agent through every phase and stops it, so the runtime's
/// one-time allocations (registry shards, worker buffers, timers) happen
/// before the first reading.
async fn warm_up(orch: &Orchestrator, kind: &AgentKind, m: u64, senders: usize) -> Result<(), ProfilingError> {
    let id = kind.spawn(orch)?;
    send_all(orch, kind, &[id], m, senders).await?;
    wait_handled(orch, m).await?;
    orch.checkpoint(id).await?;
    // The agent was just resolved, so it can only be gone if it stopped itself.
    let _ = orch.stop(id).await;
    Ok(())
}

/// Sends `m` messages to each agent from up to `senders` tasks, agent by
/// agent, yielding between agents so the receiver drains its mailbox.
async fn send_all(
    orch: &Orchestrator,
    kind: &AgentKind,
    ids: &[AgentId],
    m: u64,
    senders: usize,
) -> Result<(), ProfilingError> {
    let senders = senders.clamp(1, ids.len().max(1));
    let chunk = ids.len().div_ceil(senders).max(1);
    let mut tasks = Vec::with_capacity(senders);
    for part in ids.chunks(chunk) {
        let part = part.to_vec();
        let orch = orch.clone();
        let kind = kind.clone();
        tasks.push(tokio::spawn(async move {
            for id in part {
                for i in 0..m {
                    orch.send(kind.message(id, i)).await?;
                }
                tokio::task::yield_now().await;
            }
            Ok::<(), ProfilingError>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| ProfilingError::InvalidSettings(format!("sender task failed: {e}")))??;
    }
    Ok(())
}

/// How long the handled count may stand still before the profile gives up.
const STALL_LIMIT: Duration = Duration::from_secs(10);

/// Waits until the live agents have handled `expected` messages in all;
/// an error when the count stops growing (an agent failed or lost messages).
async fn wait_handled(orch: &Orchestrator, expected: u64) -> Result<(), ProfilingError> {
    let mut last = 0;
    let mut since = Instant::now();
    loop {
        let handled: u64 = orch.all_stats().iter().map(|s| s.messages_handled).sum();
        if handled >= expected {
            return Ok(());
        }
        if handled != last {
            last = handled;
            since = Instant::now();
        } else if since.elapsed() > STALL_LIMIT {
            return Err(ProfilingError::Stalled {
                expected,
                handled,
                stalled_for: since.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl MemoryProfileReport {
    /// The row of `kind` at `agents` live agents, if it was profiled.
    pub fn row(&self, kind: &str, agents: usize) -> Option<&MemoryProfileRow> {
        self.rows.iter().find(|r| r.kind == kind && r.agents == agents)
    }

    /// The report as a fixed-width text table, one line per row.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let counted = self.allocator.as_deref().unwrap_or("none installed");
        let _ = writeln!(
            out,
            "memory per agent (bytes/agent; allocator: {counted}; {} messages/agent; {} CPUs)",
            self.config.messages_per_agent, self.cpus
        );
        let _ = writeln!(
            out,
            "{:<16} {:>7} | {:>10} {:>10} {:>10} {:>10} {:>9} | {:>10} {:>10} {:>10} {:>10} | {:>8} {:>9}",
            "kind",
            "agents",
            "alloc:new",
            "+msgs",
            "+ckpt",
            "total",
            "residual",
            "rss:new",
            "+msgs",
            "+ckpt",
            "total",
            "msgs ms",
            "peak MiB"
        );
        let f = |v: f64| format!("{v:.0}");
        for r in &self.rows {
            let a = r.allocator.map_or_else(
                || {
                    [
                        "-".to_owned(),
                        "-".to_owned(),
                        "-".to_owned(),
                        "-".to_owned(),
                        "-".to_owned(),
                    ]
                },
                |a| {
                    [
                        f(a.creation_bytes_per_agent),
                        f(a.messages_bytes_per_agent),
                        f(a.checkpoint_bytes_per_agent),
                        f(a.total_bytes_per_agent),
                        f(a.residual_after_shutdown_bytes_per_agent),
                    ]
                },
            );
            let _ = writeln!(
                out,
                "{:<16} {:>7} | {:>10} {:>10} {:>10} {:>10} {:>9} | {:>10} {:>10} {:>10} {:>10} | {:>8.0} {:>9}",
                r.kind,
                r.agents,
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                f(r.rss.creation_bytes_per_agent),
                f(r.rss.messages_bytes_per_agent),
                f(r.rss.checkpoint_bytes_per_agent),
                f(r.rss.total_bytes_per_agent),
                r.messages_phase_ms,
                r.rss_peak_bytes
                    .map_or_else(|| "-".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0))
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_divided_by_the_agent_count() {
        let p = phase_bytes([1000, 3000, 5000, 5400, 1200], 4);
        assert_eq!(p.creation_bytes_per_agent, 500.0);
        assert_eq!(p.messages_bytes_per_agent, 500.0);
        assert_eq!(p.checkpoint_bytes_per_agent, 100.0);
        assert_eq!(p.total_bytes_per_agent, 1100.0);
        assert_eq!(p.residual_after_shutdown_bytes_per_agent, 50.0);
    }

    /// A native counter kind for these tests (the workloads crate has the
    /// one the profiles run).
    fn counter_kind() -> AgentKind {
        struct Counter(u64);
        impl caxton_runtime::Agent for Counter {
            fn handle(
                &mut self,
                _: &mut caxton_runtime::Context<'_>,
                _: &caxton_runtime::Message,
            ) -> Result<(), caxton_runtime::AgentError> {
                self.0 += 1;
                Ok(())
            }

            fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, caxton_runtime::AgentError> {
                caxton_runtime::checkpoint::encode(&self.0).map(Some)
            }
        }
        let spec = caxton_runtime::AgentSpec::new(|| Counter(0));
        AgentKind::new("native-counter", move |orch| orch.spawn(spec.clone()))
    }

    #[test]
    fn bad_settings_are_refused() {
        let cfg = MemoryProfileConfig {
            agent_counts: vec![0],
            ..MemoryProfileConfig::default()
        };
        let err = run_memory_profile(&cfg, &[counter_kind()], None).unwrap_err();
        assert!(matches!(err, ProfilingError::InvalidSettings(_)));
    }

    #[test]
    fn a_small_profile_runs_without_a_counting_allocator() {
        let cfg = MemoryProfileConfig {
            agent_counts: vec![3],
            messages_per_agent: 10,
            worker_threads: 1,
            settle_ms: 1,
        };
        let report = run_memory_profile(&cfg, &[counter_kind()], None).unwrap();
        assert_eq!(report.rows.len(), 1);
        let row = &report.rows[0];
        assert_eq!(
            (row.kind.as_str(), row.agents, row.messages_per_agent),
            ("native-counter", 3, 10)
        );
        assert!(row.allocator.is_none());
        assert!(report.allocator.is_none());
        assert!(report.to_table().contains("native-counter"));
        assert!(report.row("native-counter", 3).is_some());
        assert!(report.row("native-counter", 4).is_none());
    }
}
