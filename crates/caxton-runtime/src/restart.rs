//! The restart policy a supervisor applies to a faulting agent, and the
//! report of an agent it gave up on.

use std::time::Duration;

use caxton_core::AgentId;
use serde::{Deserialize, Serialize};

/// How many restarts a supervisor allows before it gives up on an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// Restarts allowed within `window`; one more fault stops the agent.
    pub max_restarts: u32,
    /// The sliding window the restarts are counted in. A zero window
    /// counts restarts over the agent's whole life (it never forgets one).
    pub window: Duration,
}

impl RestartPolicy {
    /// Never restart: the first fault stops the agent.
    pub const fn never() -> Self {
        Self {
            max_restarts: 0,
            window: Duration::ZERO,
        }
    }
}

impl Default for RestartPolicy {
    /// Up to 5 restarts within 10 seconds.
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(10),
        }
    }
}

/// Why an agent was stopped by its supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFailure {
    /// The agent.
    pub agent: AgentId,
    /// Its name, if it had one.
    pub name: Option<String>,
    /// The last fault, or why a restart failed.
    pub reason: String,
    /// Restarts before it was stopped.
    pub restarts: u64,
}
