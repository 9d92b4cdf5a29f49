//! The Caxton orchestrator: hosts agents and routes messages between them.
//!
//! # Design
//!
//! * **Routing in the sender's context.** There is no router task: a send
//!   looks up the receiver in a sharded registry (one shard read lock, never
//!   a global lock) and pushes to its mailbox directly, so routing scales
//!   with the number of senders rather than being capped at one core.
//! * **Bounded, batching mailboxes.** Each agent has a bounded mailbox. A
//!   sender chooses to wait for space ([`Orchestrator::send`]) or to get a
//!   [`SendErrorKind::MailboxFull`] error ([`Orchestrator::try_send`]). The
//!   agent takes everything queued in one lock, so one wake-up handles a
//!   batch; an idle agent is parked and costs no CPU.
//! * **Supervision.** A handler that panics (or a hosted agent that traps)
//!   is replaced by a fresh instance restored from its last checkpoint,
//!   under a [`RestartPolicy`]; queued messages are kept and the faulting
//!   message becomes a dead letter.
//! * **Nothing lost silently.** Every message that cannot be delivered or
//!   handled is returned to the caller and/or recorded as a [`DeadLetter`]
//!   with its reason.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use caxton_runtime::{Agent, AgentError, AgentSpec, Context, Message, Orchestrator, Performative};
//!
//! struct Echo;
//! impl Agent for Echo {
//!     fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
//!         ctx.reply(Performative::Inform, msg.payload.clone()).map_err(|e| AgentError::handler(e.to_string()))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let orch = Orchestrator::new();
//! let echo = orch.spawn(AgentSpec::new(|| Echo).name("echo")).unwrap();
//! let reply = orch.request(Message::request(echo, "hi"), Duration::from_secs(1)).await.unwrap();
//! assert_eq!(&reply.payload[..], b"hi");
//! orch.shutdown(Duration::from_secs(1)).await;
//! # });
//! ```

// Module dependencies point one way (docs/architecture.md, "Module
// layering"): `task` (the run loop and spawning) -> `agent` -> `context`
// -> `orchestrator` (the handle, routing, shutdown) -> `registry` -> `spec`,
// `dead_letter`, `mailbox`, `stats`, `restart`, `error`, ...
mod agent;
pub mod agents;
pub mod checkpoint;
mod context;
pub mod cpu;
mod dead_letter;
mod deadline;
mod error;
mod executor;
mod mailbox;
mod orchestrator;
mod registry;
mod restart;
mod spare;
mod spec;
mod stats;
mod sync;
mod task;

pub use agent::Agent;
pub use caxton_core::{Address, AgentId, ConversationId, Message, MessageId, Performative, Timestamp};
pub use checkpoint::{Checkpoint, CheckpointPolicy};
pub use context::Context;
pub use cpu::CpuClock;
pub use dead_letter::{DeadLetter, DeadLetterCounts, DeadLetterKind, DeadLetterReason};
pub use error::{AgentError, CheckpointError, FaultKind, RequestError, SendError, SendErrorKind, SpawnError};
pub use executor::Executor;
pub use mailbox::release_spare_buffers;
pub use orchestrator::{AgentGlance, AgentRef, Broadcast, Orchestrator, OrchestratorConfig, ShutdownReport};
pub use registry::Selection;
pub use restart::{AgentFailure, RestartPolicy};
pub use spec::{AgentSpec, CheckpointHook, Factory};
pub use stats::{AgentStats, AgentStatus};
