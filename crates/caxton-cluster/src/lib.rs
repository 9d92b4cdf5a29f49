//! Caxton nodes sharing agents over NATS.
//!
//! A [`Node`] is an orchestrator plus an async-nats connection, joined to a
//! named lattice. Agents are reachable from every node of the lattice by
//! id, name and capability ([`subjects`]); messages travel as the runtime's
//! own serde message behind a version byte ([`wire`]). [`testing`] starts a
//! real `nats-server` for tests, scenarios and benches. See
//! `docs/cluster.md`.
//!
//! Module dependencies point one way: `node` -> `wire`, `subjects`;
//! `testing` stands alone.

pub mod node;
pub mod subjects;
pub mod testing;
pub mod wire;

pub use node::{BroadcastReport, ClusterError, Node, NodeCounters, NodeError, NodeOptions};
pub use subjects::{SubjectError, Subjects};
pub use wire::{Frame, RemoteError, WIRE_VERSION, WireError};
