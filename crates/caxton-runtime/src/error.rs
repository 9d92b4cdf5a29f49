//! Typed errors of the orchestrator's public calls.

use std::sync::Arc;
use std::time::Duration;

use caxton_core::{Address, AgentId, Message};

/// Why a message could not be accepted by a mailbox.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendErrorKind {
    /// No agent was ever registered under this address.
    #[error("no agent is registered as {0}")]
    UnknownAgent(Address),
    /// The agent existed but has stopped (or is stopping).
    #[error("{0} has stopped")]
    AgentStopped(AgentId),
    /// The agent's bounded mailbox is at capacity.
    #[error("mailbox of {agent} is full ({capacity} messages)")]
    MailboxFull {
        /// The agent whose mailbox is full.
        agent: AgentId,
        /// Its capacity.
        capacity: usize,
    },
    /// No live agent declares the capability.
    #[error("no live agent has capability {0:?}")]
    NoCapableAgent(Arc<str>),
    /// A reply to a message that has neither a sending agent nor a caller
    /// waiting for the reply.
    #[error("the message being answered has no sender and no waiting caller")]
    NoReplyTarget,
    /// The orchestrator is shutting down and accepts no new messages.
    #[error("the orchestrator is shutting down")]
    ShuttingDown,
    /// The payload is larger than the receiver accepts.
    #[error("payload of {size} bytes is over the {limit}-byte limit of {agent}")]
    MessageTooLarge {
        /// The receiving agent.
        agent: AgentId,
        /// The payload's size in bytes.
        size: usize,
        /// The largest payload the agent accepts.
        limit: usize,
    },
}

/// A message that was not accepted, with the reason. The message is handed
/// back so the caller can retry or reroute it; it was also counted as a
/// dead letter.
#[derive(Debug, thiserror::Error)]
#[error("{kind} (message {:?})", message.id)]
pub struct SendError {
    /// Why it was not accepted.
    pub kind: SendErrorKind,
    /// The message, returned to the caller (boxed to keep `Result`s small).
    pub message: Box<Message>,
}

impl SendError {
    /// Why the message was not accepted.
    pub fn kind(&self) -> &SendErrorKind {
        &self.kind
    }

    /// Takes the rejected message back.
    pub fn into_message(self) -> Message {
        *self.message
    }
}

/// Why a request produced no reply.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request itself was not accepted.
    #[error("request not delivered: {0}")]
    Send(#[from] SendError),
    /// No reply arrived within the timeout. `accepted` says whether the
    /// request had entered the agent's mailbox: if it had, the agent still
    /// handles it (its reply is discarded); if not, it timed out waiting for
    /// mailbox space and was recorded as a dead letter (`MailboxFull`).
    #[error("no reply within {after:?} (request {})", if *accepted { "accepted" } else { "never accepted: the mailbox stayed full" })]
    Timeout {
        /// The timeout that passed.
        after: Duration,
        /// Whether the agent's mailbox had accepted the request.
        accepted: bool,
    },
    /// The agent handled the request without replying.
    #[error("{0} handled the request without replying")]
    NoReply(AgentId),
    /// The agent failed while handling the request (handler error, panic
    /// or trap), or stopped before handling it.
    #[error("{agent} failed to handle the request: {reason}")]
    Failed {
        /// The agent that failed.
        agent: AgentId,
        /// What went wrong.
        reason: String,
    },
}

/// Why an agent could not be spawned.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Another live agent already has this name.
    #[error("an agent named {0:?} already exists")]
    DuplicateName(Arc<str>),
    /// The agent's constructor failed.
    #[error("agent constructor failed: {0}")]
    Init(#[from] AgentError),
    /// The agent's initial checkpoint could not be restored.
    #[error("restoring the initial checkpoint failed: {0}")]
    Restore(AgentError),
    /// A mailbox capacity of zero can accept nothing.
    #[error("mailbox capacity must be at least 1")]
    ZeroCapacity,
    /// The orchestrator is shutting down.
    #[error("the orchestrator is shutting down")]
    ShuttingDown,
    /// The id asked for ([`crate::AgentSpec::with_id`]) is live here or
    /// was handed out here.
    #[error("agent id {0} is taken on this orchestrator")]
    IdTaken(AgentId),
}

/// Why a checkpoint or restore call failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// No live agent with that id.
    #[error("{0} is not running")]
    NotRunning(AgentId),
    /// The agent does not support checkpoints.
    #[error("{0} does not support checkpoints")]
    Unsupported(AgentId),
    /// The agent's snapshot or restore hook failed.
    #[error("{agent}: {error}")]
    Agent {
        /// The agent.
        agent: AgentId,
        /// What its hook reported.
        error: AgentError,
    },
}

/// Classifies a fault: an event after which the agent instance cannot be
/// trusted and is restarted by its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FaultKind {
    /// A native handler panicked.
    Panic,
    /// The agent ran past its CPU budget (fuel or epoch deadline).
    CpuLimit,
    /// The agent asked for more memory than its limit allows.
    MemoryLimit,
    /// The guest executed `unreachable` (e.g. a Rust panic in the guest).
    Unreachable,
    /// The guest accessed memory out of bounds.
    MemoryOutOfBounds,
    /// The guest overflowed its stack.
    StackOverflow,
    /// A hosted agent queued more outgoing messages (or bytes) in one call
    /// than its limits allow.
    OutboxLimit,
    /// Any other trap or host-detected corruption.
    Other,
}

/// The error an agent's handler or hook returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The message could not be handled; the agent itself is healthy. The
    /// message becomes a dead letter and the agent carries on.
    #[error("handler error: {0}")]
    Handler(String),
    /// The agent instance is broken; the supervisor restarts it.
    #[error("{kind:?} fault: {detail}")]
    Fault {
        /// What kind of fault.
        kind: FaultKind,
        /// Details, e.g. the panic message or trap description.
        detail: String,
    },
}

impl AgentError {
    /// A recoverable handler error.
    pub fn handler(msg: impl Into<String>) -> Self {
        Self::Handler(msg.into())
    }

    /// A fault of the given kind.
    pub fn fault(kind: FaultKind, detail: impl Into<String>) -> Self {
        Self::Fault {
            kind,
            detail: detail.into(),
        }
    }
}
