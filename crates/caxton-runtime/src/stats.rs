//! Per-agent counters, cheap enough to leave on in benchmarks: the agent
//! task is their only writer and touches them once per batch. What most
//! agents never count (restarts, dead letters, reported memory, recovery
//! times) lives in a box allocated on first use.

use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};
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
    pub(crate) checkpoints: AtomicU64,
    /// Messages of the batch in hand that the agent has finished with
    /// (written by the agent task per message), so a shutdown that gives
    /// up on a stuck handler counts only what is really still in progress.
    pub(crate) finished_in_batch: AtomicU32,
    status: AtomicU8,
    cold: LazyBox<ColdStats>,
}

/// The counters most agents never touch.
#[derive(Default)]
struct ColdStats {
    restarts: AtomicU64,
    dead_letters: AtomicU64,
    memory_bytes: AtomicU64,
    recoveries: Mutex<Vec<Duration>>,
}

/// A `Box<T>` allocated on first use, readable and initialised from any
/// thread: one pointer while empty.
struct LazyBox<T>(AtomicPtr<T>);

impl<T> Default for LazyBox<T> {
    fn default() -> Self {
        Self(AtomicPtr::new(ptr::null_mut()))
    }
}

impl<T: Default> LazyBox<T> {
    fn get(&self) -> Option<&T> {
        // SAFETY: a non-null pointer came from `Box::into_raw` in
        // `get_or_init` (published with Release, read with Acquire) and is
        // freed only by `Drop`, which has `&mut self`.
        unsafe { self.0.load(Ordering::Acquire).as_ref() }
    }

    fn get_or_init(&self) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let fresh = Box::into_raw(Box::<T>::default());
        match self
            .0
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` is now owned by `self` (see `get`).
            Ok(_) => unsafe { &*fresh },
            Err(existing) => {
                // SAFETY: `fresh` was never shared: free it; `existing`
                // is owned by `self` (see `get`).
                unsafe {
                    drop(Box::from_raw(fresh));
                    &*existing
                }
            }
        }
    }
}

impl<T> Drop for LazyBox<T> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: from `Box::into_raw`, and nothing else frees it.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl StatsCell {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_dead_letters(&self, n: u64) {
        Self::add(&self.cold.get_or_init().dead_letters, n);
    }

    pub(crate) fn add_restart(&self) {
        Self::add(&self.cold.get_or_init().restarts, 1);
    }

    pub(crate) fn restarts(&self) -> u64 {
        self.cold.get().map_or(0, |c| c.restarts.load(Ordering::Relaxed))
    }

    /// Records the memory the agent reports; zero (shown as none) needs no
    /// box.
    pub(crate) fn set_memory(&self, bytes: u64) {
        match self.cold.get() {
            Some(c) => c.memory_bytes.store(bytes, Ordering::Relaxed),
            None if bytes == 0 => {}
            None => self.cold.get_or_init().memory_bytes.store(bytes, Ordering::Relaxed),
        }
    }

    pub(crate) fn set_status(&self, s: AgentStatus) {
        self.status.store(s as u8, Ordering::Relaxed);
    }

    pub(crate) fn status(&self) -> AgentStatus {
        AgentStatus::from_u8(self.status.load(Ordering::Relaxed))
    }

    pub(crate) fn record_recovery(&self, d: Duration) {
        let mut log = self
            .cold
            .get_or_init()
            .recoveries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if log.len() == RECOVERY_LOG {
            log.remove(0);
        }
        log.push(d);
    }

    pub(crate) fn snapshot(&self, meta: SnapshotMeta) -> AgentStats {
        let cold = self.cold.get();
        let load = |f: fn(&ColdStats) -> &AtomicU64| cold.map_or(0, |c| f(c).load(Ordering::Relaxed));
        let memory = load(|c| &c.memory_bytes);
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
            restarts: load(|c| &c.restarts),
            dead_letters: load(|c| &c.dead_letters),
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            memory_bytes: (memory > 0).then_some(memory),
            recovery_times: cold.map_or_else(Vec::new, |c| {
                c.recoveries.lock().unwrap_or_else(|p| p.into_inner()).clone()
            }),
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
