//! Checkpoints: an agent's state as bytes, used to restore it after a
//! restart or to move it elsewhere.
//!
//! Native agents serialize their state with serde through [`encode`] and
//! [`decode`]; hosted agents (WASM) produce the bytes themselves. Either way
//! the orchestrator stores a [`Checkpoint`] and never looks inside.

use bytes::Bytes;
use caxton_core::{AgentId, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// A snapshot of one agent's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The agent it was taken from.
    pub agent: AgentId,
    /// Increases by one per checkpoint of this agent.
    pub sequence: u64,
    /// When it was taken.
    pub taken_at: Timestamp,
    /// Messages the agent had handled when it was taken.
    pub messages_handled: u64,
    /// The agent's state, in the agent's own encoding.
    pub state: Bytes,
}

/// Serializes native agent state for a checkpoint (postcard: compact, no
/// schema needed beyond the Rust type).
pub fn encode<T: Serialize>(state: &T) -> Result<Bytes, AgentError> {
    postcard::to_allocvec(state)
        .map(Bytes::from)
        .map_err(|e| AgentError::handler(format!("encoding checkpoint: {e}")))
}

/// Deserializes native agent state produced by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AgentError> {
    postcard::from_bytes(bytes).map_err(|e| AgentError::handler(format!("decoding checkpoint: {e}")))
}

/// When the orchestrator takes checkpoints on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointPolicy {
    /// Only when asked ([`crate::Orchestrator::checkpoint`]).
    #[default]
    Manual,
    /// After every this-many messages handled successfully (checked per
    /// message, so a restart loses at most `n - 1` messages' effects).
    EveryMessages(u64),
}
