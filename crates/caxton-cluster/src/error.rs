//! Why a node could not join, spawn or stop, and why a message through a
//! node failed: the typed errors of the cluster.

use std::time::Duration;

use caxton_runtime::{RequestError, SendError, SendErrorKind, SpawnError};

use crate::subjects::SubjectError;
use crate::wire::{RemoteError, WireError};

/// Why a node could not join, spawn or stop.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// NATS did not accept a connection.
    #[error("cannot reach NATS at {url} after {attempts} attempt(s): {detail}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        detail: String,
    },
    /// Another node of the lattice holds this name.
    #[error("node name {node:?} is already claimed in lattice {lattice:?}")]
    DuplicateNodeName {
        /// The lattice.
        lattice: String,
        /// The refused name.
        node: String,
    },
    /// A peer of the lattice speaks another wire version.
    #[error("peer node {peer:?} speaks wire version {theirs}, this node speaks version {ours}")]
    PeerWireVersion {
        /// The peer's name.
        peer: String,
        /// This node's version.
        ours: u8,
        /// The peer's version.
        theirs: u8,
    },
    /// A lattice, node, agent or capability name that cannot be a subject token.
    #[error(transparent)]
    Name(#[from] SubjectError),
    /// A JetStream call failed.
    #[error("JetStream at {url}: {detail}")]
    JetStream {
        /// The server URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The node number is past what agent ids can hold.
    #[error("node number {0} leaves no room for agent ids")]
    IdSpaceExhausted(u64),
    /// The orchestrator refused the agent.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// Subscribing an agent's subjects failed (the agent was stopped again).
    #[error("subscribing {subject} failed: {detail}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The NATS error.
        detail: String,
    },
    /// The agent to stop is not live here.
    #[error(transparent)]
    Stop(#[from] SendErrorKind),
    /// Another agent of the lattice, on this node or another, has this name.
    #[error("an agent named {name:?} already exists in lattice {lattice:?}")]
    DuplicateAgentName {
        /// The lattice.
        lattice: String,
        /// The refused name.
        name: String,
    },
    /// The lattice's registry (JetStream key-value) refused a write.
    #[error("registry of lattice {lattice:?}: {detail}")]
    Registry {
        /// The lattice.
        lattice: String,
        /// What failed.
        detail: String,
    },
    /// An agent asked for durable delivery on a node without a respawner,
    /// or for a kind the respawner does not know.
    #[error("cannot restart agent kind {kind:?} on this node: {detail}")]
    Respawn {
        /// The recipe's kind.
        kind: String,
        /// Why.
        detail: String,
    },
}

/// Why a send, request or broadcast through a node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The local path refused the message (it is handed back inside).
    #[error("local: {0}")]
    Local(#[from] SendError),
    /// A local request got no reply.
    #[error("local: {0}")]
    LocalRequest(#[from] RequestError),
    /// The node hosting the agent answered with an error frame.
    #[error("remote: {0}")]
    Remote(#[from] RemoteError),
    /// No node subscribes the subject: no agent there, on any node.
    #[error("no agent answers on {subject} on any node")]
    NoResponders {
        /// The subject.
        subject: String,
    },
    /// No answer within the timeout.
    #[error("no reply on {subject} within {after:?}")]
    Timeout {
        /// The subject.
        subject: String,
        /// The timeout.
        after: Duration,
    },
    /// The node is not connected to NATS right now (it keeps reconnecting);
    /// nothing was published.
    #[error("not connected to NATS at {url}: nothing was sent on {subject}")]
    Disconnected {
        /// The NATS URL.
        url: String,
        /// The subject the message was for.
        subject: String,
    },
    /// NATS did not take the message.
    #[error("NATS refused the message on {subject}: {detail}")]
    Transport {
        /// The subject.
        subject: String,
        /// The NATS error.
        detail: String,
    },
    /// The answer did not decode, or the message did not encode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The address cannot be a subject.
    #[error(transparent)]
    Name(#[from] SubjectError),
    /// Durable delivery needs one receiver that asked for it: the address
    /// is a capability, or no durable agent is registered under it.
    #[error("no durable agent is registered as {address}")]
    NotDurable {
        /// The address.
        address: String,
    },
    /// JetStream did not acknowledge a durable message (nothing is
    /// promised about it; sending it again is safe: it carries its id).
    #[error("JetStream did not acknowledge the message on {subject}: {detail}")]
    NotAcknowledged {
        /// The subject.
        subject: String,
        /// The JetStream error.
        detail: String,
    },
}
