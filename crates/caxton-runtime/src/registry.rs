//! The agent registry: id -> agent, name -> agent, capability -> agents.
//!
//! Sharded maps with a fast integer hash: a send by id takes one shard's
//! read lock (never a global lock) and pushes to the mailbox while holding
//! it, so the hot path clones no `Arc`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use caxton_core::AgentId;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::error::SpawnError;
use crate::mailbox::Mailbox;
use crate::spec::SpecCommon;
use crate::stats::{AgentStats, SnapshotMeta, StatsCell};

/// Everything the orchestrator and other senders share with one agent.
pub(crate) struct AgentShared {
    pub(crate) id: AgentId,
    pub(crate) mailbox: Mailbox,
    pub(crate) stats: StatsCell,
    pub(crate) name: Option<Arc<str>>,
    /// Capabilities, policies and the largest payload it accepts, shared
    /// with every agent of its spec.
    pub(crate) common: Arc<SpecCommon>,
}

impl AgentShared {
    pub(crate) fn capabilities(&self) -> &[Arc<str>] {
        &self.common.capabilities
    }
}

impl AgentShared {
    pub(crate) fn stats_snapshot(&self) -> AgentStats {
        self.stats.snapshot(SnapshotMeta {
            id: self.id,
            name: self.name.as_deref().map(str::to_owned),
            depth: self.mailbox.depth(),
            high_water: self.mailbox.high_water(),
            capacity: self.mailbox.capacity(),
        })
    }
}

/// How one agent is chosen among those with a capability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    /// Each in turn.
    #[default]
    RoundRobin,
    /// The one with the fewest messages accepted and not yet handled. The
    /// scan starts one member further each time and stops at the first
    /// empty mailbox, so ties are shared in turn (not all given to the
    /// first member registered) and an idle group costs O(1); O(members)
    /// when every member is busy.
    LeastLoaded,
}

#[derive(Default)]
pub(crate) struct CapabilityGroup {
    pub(crate) members: RwLock<Vec<Arc<AgentShared>>>,
    next: AtomicUsize,
}

impl CapabilityGroup {
    pub(crate) fn select<'a>(&self, members: &'a [Arc<AgentShared>], how: Selection) -> Option<&'a Arc<AgentShared>> {
        if members.is_empty() {
            return None;
        }
        match how {
            Selection::RoundRobin => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % members.len();
                members.get(i)
            }
            Selection::LeastLoaded => {
                let start = self.next.fetch_add(1, Ordering::Relaxed) % members.len();
                let (head, tail) = members.split_at(start);
                let mut best: Option<(&'a Arc<AgentShared>, usize)> = None;
                for agent in tail.iter().chain(head) {
                    let depth = agent.mailbox.depth();
                    if depth == 0 {
                        return Some(agent);
                    }
                    if best.is_none_or(|(_, least)| depth < least) {
                        best = Some((agent, depth));
                    }
                }
                best.map(|(agent, _)| agent)
            }
        }
    }
}

pub(crate) struct Registry {
    pub(crate) agents: DashMap<AgentId, Arc<AgentShared>, FxBuildHasher>,
    pub(crate) names: DashMap<Arc<str>, Arc<AgentShared>, FxBuildHasher>,
    pub(crate) capabilities: DashMap<Arc<str>, Arc<CapabilityGroup>, FxBuildHasher>,
    /// The first id this registry hands out (see
    /// [`crate::OrchestratorConfig::first_agent_id`]).
    first_id: u64,
    next_id: AtomicU64,
}

impl Registry {
    /// A registry whose ids start at `first_id` (zero counts as one).
    pub(crate) fn new(first_id: u64) -> Self {
        let first_id = first_id.max(1);
        Self {
            first_id,
            agents: DashMap::with_hasher(FxBuildHasher),
            names: DashMap::with_hasher(FxBuildHasher),
            capabilities: DashMap::with_hasher(FxBuildHasher),
            next_id: AtomicU64::new(first_id),
        }
    }

    pub(crate) fn allocate_id(&self) -> AgentId {
        AgentId::new(self.next_id.fetch_add(1, Ordering::Relaxed)).expect("agent ids start at 1")
    }

    /// Whether `id` was handed out (so, if not registered, it has stopped).
    pub(crate) fn was_issued(&self, id: AgentId) -> bool {
        (self.first_id..self.next_id.load(Ordering::Relaxed)).contains(&id.get())
    }

    pub(crate) fn register(&self, agent: Arc<AgentShared>) -> Result<(), SpawnError> {
        if let Some(name) = &agent.name {
            match self.names.entry(name.clone()) {
                Entry::Occupied(_) => return Err(SpawnError::DuplicateName(name.clone())),
                Entry::Vacant(v) => {
                    v.insert(agent.clone());
                }
            }
        }
        match self.agents.entry(agent.id) {
            // Only an id asked for can collide (`AgentSpec::with_id`).
            Entry::Occupied(_) => {
                if let Some(name) = &agent.name {
                    self.names.remove_if(name, |_, a| Arc::ptr_eq(a, &agent));
                }
                return Err(SpawnError::IdTaken(agent.id));
            }
            Entry::Vacant(v) => {
                v.insert(agent.clone());
            }
        }
        for cap in agent.capabilities() {
            let group = self.capabilities.entry(cap.clone()).or_default().clone();
            group
                .members
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .push(agent.clone());
        }
        Ok(())
    }

    pub(crate) fn deregister(&self, agent: &AgentShared) {
        self.agents.remove(&agent.id);
        if let Some(name) = &agent.name {
            self.names.remove_if(name, |_, a| a.id == agent.id);
        }
        for cap in agent.capabilities() {
            if let Some(group) = self.capabilities.get(cap) {
                group
                    .members
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|a| a.id != agent.id);
            }
        }
    }

    /// Live members of a capability, for broadcasts and listing.
    pub(crate) fn members(&self, cap: &str) -> Vec<Arc<AgentShared>> {
        self.capabilities
            .get(cap)
            .map(|g| g.members.read().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }
}
