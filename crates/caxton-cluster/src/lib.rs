//! Caxton nodes sharing agents over NATS.
//!
//! A [`Node`] is an orchestrator plus an async-nats connection, joined to a
//! named lattice. Agents are reachable from every node of the lattice by
//! id, name and capability ([`subjects`]); messages travel as the runtime's
//! own serde message behind a version byte ([`wire`]). [`testing`] starts a
//! real `nats-server` for tests, scenarios and benches. See
//! `docs/cluster.md`.
//!
//! Agents spawned with a [`Recipe`] survive their node: the registry,
//! checkpoints and modules live in JetStream ([`store`]), each node holds a
//! lease, and the survivors of a dead node restart its agents
//! ([`failover`]); durable agents get their messages through a JetStream
//! stream ([`durable`]).
//!
//! Module dependencies point one way: `node` -> `failover`, `durable`,
//! `directory` -> `store` -> `recipe` -> `error` -> `wire`, `subjects`;
//! `testing` stands alone.

pub mod directory;
pub mod durable;
pub mod error;
pub mod failover;
pub mod node;
pub mod recipe;
pub mod store;
pub mod subjects;
pub mod testing;
pub mod wire;

pub use error::{ClusterError, NodeError};
pub use failover::FailoverCounters;
pub use node::{BroadcastReport, Node, NodeCounters, NodeOptions};
pub use recipe::{Adoption, Recipe, Respawner};
pub use subjects::{SubjectError, Subjects};
pub use wire::{Frame, RemoteError, WIRE_VERSION, WireError};
