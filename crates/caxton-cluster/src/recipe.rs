//! How an agent is rebuilt on another node when its own dies.
//!
//! An agent spawned with a [`Recipe`] is *recoverable*: the recipe goes to
//! the lattice's registry, its checkpoints to the checkpoint bucket, and
//! when its node's lease expires one survivor (exactly one: it wins a
//! compare-and-set on the agent's registry entry) hands the recipe and the
//! last checkpoint to its [`Respawner`] as an [`Adoption`]. The host
//! (e.g. the front door) knows its kinds; the cluster never looks inside a
//! recipe's configuration.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use caxton_core::AgentId;
use caxton_runtime::Checkpoint;
use serde::{Deserialize, Serialize};

use crate::error::NodeError;

/// What a survivor needs to rebuild an agent: its kind, the host's own
/// configuration bytes, the WASM module it runs (an id in the lattice's
/// object store), and whether it asked for durable delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    /// The host's name for the kind (e.g. `counter`, `wasm`).
    pub kind: String,
    /// The host's configuration of the agent (opaque to the cluster).
    pub config: Bytes,
    /// The module id, for agents that run a WASM module.
    pub module: Option<String>,
    /// Durable delivery: messages go through a JetStream stream, are
    /// acknowledged once covered by a stored checkpoint, and survive the
    /// node's death (at least once, deduplicated: handled once).
    pub durable: bool,
}

impl Recipe {
    /// A recipe of `kind` with `config`, no module, not durable.
    pub fn new(kind: impl Into<String>, config: impl Into<Bytes>) -> Self {
        Self {
            kind: kind.into(),
            config: config.into(),
            module: None,
            durable: false,
        }
    }

    /// Runs the WASM module `id` (stored with [`crate::Node::put_module`]).
    pub fn module(mut self, id: impl Into<String>) -> Self {
        self.module = Some(id.into());
        self
    }

    /// Asks for durable delivery.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }
}

/// An agent a survivor takes over: rebuild it from [`Self::recipe`] and
/// hand the spec to [`crate::Node::respawn`] with this adoption (which
/// gives it its old id and starts it from the checkpoint).
#[derive(Clone, Debug)]
pub struct Adoption {
    /// The agent's id (kept: senders keep addressing it).
    pub id: AgentId,
    /// Its registered name, if any.
    pub name: Option<String>,
    /// Its capabilities.
    pub capabilities: Vec<String>,
    /// How to build it.
    pub recipe: Recipe,
    /// Its last stored checkpoint, if it had one.
    pub checkpoint: Option<Checkpoint>,
    /// Durable agents: the last stream sequence the checkpoint covers
    /// (later messages are redelivered, earlier ones skipped).
    pub applied: u64,
    /// The node it came from.
    pub from_node: String,
    /// That node's number (its incarnation).
    pub from_number: u64,
}

/// A boxed future, for [`Respawner`] (object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Rebuilds adopted agents on this node: the host implements it for its
/// kinds (native kinds by name, WASM modules from the object store) and
/// calls [`crate::Node::respawn`] with the spec it built.
pub trait Respawner: Send + Sync + 'static {
    /// Rebuilds `adoption`'s agent; `Ok` with its id once it is live.
    fn respawn(&self, adoption: Adoption) -> BoxFuture<'_, Result<AgentId, NodeError>>;
}
