//! The agent trait: what the orchestrator hosts.

use bytes::Bytes;
use caxton_core::Message;

use crate::context::Context;
use crate::error::AgentError;

/// Anything that handles messages: a native Rust agent, or a host for a
/// sandboxed one (the WASM host implements this trait too).
///
/// Handlers are synchronous and run on the agent's own task, one message at
/// a time, in mailbox order. Work that must wait belongs in a task the
/// handler spawns (see [`Context::orchestrator`]); the agent then hears back
/// through a message like any other.
pub trait Agent: Send + 'static {
    /// Handles one message. `Err(AgentError::Handler)` records the message
    /// as a dead letter and carries on; `Err(AgentError::Fault)` or a panic
    /// restarts the agent under its restart policy.
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError>;

    /// Serializes the agent's state for a checkpoint; `Ok(None)` (the
    /// default) means the agent keeps no state worth saving.
    fn snapshot(&mut self) -> Result<Option<Bytes>, AgentError> {
        Ok(None)
    }

    /// Restores state produced by [`Agent::snapshot`] into a fresh instance.
    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        let _ = state;
        Ok(())
    }

    /// Memory the agent holds outside the Rust heap, reported in its stats
    /// (the WASM host reports linear-memory size). `None` by default.
    fn memory_bytes(&self) -> Option<u64> {
        None
    }
}
