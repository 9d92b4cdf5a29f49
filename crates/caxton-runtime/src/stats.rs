//! Per-agent counters, cheap enough to leave on in benchmarks: the agent
//! task is their only writer and touches them once per batch.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use caxton_core::AgentId;
use serde::{Deserialize, Serialize};

/// Lifecycle state of an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentStatus {
    /// Handling messages (or idle, waiting for them).
    Running,
    /// Closed to new messages, draining what it accepted.
    Stopping,
    /// Exited normally.
    Stopped,
    /// Exceeded its restart policy and was stopped.
    Failed,
}

impl AgentStatus {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Running,
            1 => Self::Stopping,
            2 => Self::Stopped,
            _ => Self::Failed,
        }
    }
}

/// Most recent recovery times kept per agent.
const RECOVERY_LOG: usize = 64;

#[derive(Default)]
pub(crate) struct StatsCell {
    pub(crate) handled: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) cpu_ns: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) dead_letters: AtomicU64,
    pub(crate) memory_bytes: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    status: AtomicU8,
    recoveries: Mutex<Vec<Duration>>,
}

impl StatsCell {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_status(&self, s: AgentStatus) {
        self.status.store(s as u8, Ordering::Relaxed);
    }

    pub(crate) fn status(&self) -> AgentStatus {
        AgentStatus::from_u8(self.status.load(Ordering::Relaxed))
    }

    pub(crate) fn record_recovery(&self, d: Duration) {
        let mut log = self.recoveries.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == RECOVERY_LOG {
            log.remove(0);
        }
        log.push(d);
    }

    pub(crate) fn snapshot(&self, meta: SnapshotMeta) -> AgentStats {
        let memory = self.memory_bytes.load(Ordering::Relaxed);
        AgentStats {
            id: meta.id,
            name: meta.name,
            status: self.status(),
            messages_handled: self.handled.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            handler_cpu: Duration::from_nanos(self.cpu_ns.load(Ordering::Relaxed)),
            mailbox_depth: meta.depth,
            mailbox_high_water: meta.high_water,
            mailbox_capacity: meta.capacity,
            restarts: self.restarts.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            memory_bytes: (memory > 0).then_some(memory),
            recovery_times: self.recoveries.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

pub(crate) struct SnapshotMeta {
    pub(crate) id: AgentId,
    pub(crate) name: Option<String>,
    pub(crate) depth: usize,
    pub(crate) high_water: usize,
    pub(crate) capacity: usize,
}

/// A point-in-time copy of one agent's counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStats {
    /// The agent.
    pub id: AgentId,
    /// Its registered name, if any.
    pub name: Option<String>,
    /// Lifecycle state.
    pub status: AgentStatus,
    /// Messages its handler returned from (successfully or with an error).
    pub messages_handled: u64,
    /// Batches drained from the mailbox (one wake-up each).
    pub batches: u64,
    /// Time spent in its handler, summed per batch, on the orchestrator's
    /// [`crate::cpu::CpuClock`]: by default ([`crate::cpu::CpuClock::Sampled`])
    /// an upper bound of the thread CPU time its batches took, exact for
    /// long batches; zero when off.
    pub handler_cpu: Duration,
    /// Messages accepted and not yet handled.
    pub mailbox_depth: usize,
    /// Highest depth seen.
    pub mailbox_high_water: usize,
    /// Mailbox capacity.
    pub mailbox_capacity: usize,
    /// Restarts by its supervisor.
    pub restarts: u64,
    /// Messages addressed to it that ended as dead letters.
    pub dead_letters: u64,
    /// Checkpoints taken.
    pub checkpoints: u64,
    /// Memory the agent reports (WASM: linear-memory size); `None` for
    /// agents that report none.
    pub memory_bytes: Option<u64>,
    /// Fault-to-first-handled-message time of recent restarts, oldest first.
    pub recovery_times: Vec<Duration>,
}
