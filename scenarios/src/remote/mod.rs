//! `--target http://HOST:PORT`: the peak, sustained, burst and fault
//! scenarios driven through a running `caxton-server` over HTTP from this
//! process, instead of an orchestrator in it.
//!
//! Setup goes through the API (spawn agents, upload the WASM guest), the
//! load through the raw send route, paced by the same open-loop generator
//! and sampled by the same per-second loop as in-process runs
//! ([`crate::run::load_phase`]); the accounting is checked on the
//! server's `/metrics` counters, and the agents are stopped at the end.
//!
//! Dependencies point one way: [`target`], [`api`], [`scrape`],
//! [`server`] use nothing of each other; [`sink`] uses [`crate::run`];
//! [`drive`] uses them all. Nothing in [`crate::run`] uses this module.

pub mod api;
pub mod drive;
pub mod scrape;
pub mod server;
pub mod sink;
pub mod target;

pub use drive::run;
pub use target::{Target, parse_target};
