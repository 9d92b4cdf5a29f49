//! What kind of agent each live agent is, for `caxton_agents{kind,status}`
//! and the agent listings.

use std::collections::HashSet;

use caxton_runtime::AgentId;
use dashmap::DashMap;

/// The kinds of agent the front door spawns.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Kind {
    /// Answers requests and queries with their payload.
    Echo,
    /// Counts messages; answers `count` with the count.
    Counter,
    /// Accepts and drops every message.
    Sink,
    /// A WebAssembly guest.
    Wasm,
    /// A WebSocket session's client mailbox.
    Session,
    /// Not spawned through the front door.
    Other,
}

impl Kind {
    /// The name used in the API and in metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Echo => "echo",
            Kind::Counter => "counter",
            Kind::Sink => "sink",
            Kind::Wasm => "wasm",
            Kind::Session => "session",
            Kind::Other => "other",
        }
    }
}

/// Agent id -> kind, for the agents the front door spawned.
#[derive(Debug, Default)]
pub struct AgentKinds(DashMap<AgentId, Kind>);

impl AgentKinds {
    /// Records the kind of a new agent.
    pub fn insert(&self, id: AgentId, kind: Kind) {
        self.0.insert(id, kind);
    }

    /// Forgets an agent.
    pub fn remove(&self, id: AgentId) {
        self.0.remove(&id);
    }

    /// The kind of `id` (`Other` for agents spawned elsewhere).
    pub fn kind(&self, id: AgentId) -> Kind {
        self.0.get(&id).map_or(Kind::Other, |k| *k)
    }

    /// Forgets every agent not in `live` (agents that failed or stopped on
    /// their own), so the map stays as large as the live set.
    pub fn retain_live(&self, live: &[AgentId]) {
        if self.0.len() <= live.len() {
            return;
        }
        let live: HashSet<AgentId> = live.iter().copied().collect();
        self.0.retain(|id, _| live.contains(id));
    }
}
