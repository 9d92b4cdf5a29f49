//! Caxton's load scenarios from the performance guide: peak, sustained,
//! burst and fault injection, one binary each (`src/bin/`), each configured
//! by a TOML file in `scenarios/` plus command-line flags.
//!
//! A run spawns native agents on the orchestrator, drives open-loop,
//! constant-rate load at them ([`caxton_workloads::open_loop`]), measures
//! send -> handled latency against each message's *intended* send time
//! ([`probe`]), samples an [`interval::Interval`] every second (written as
//! JSON lines and shown live), then drains, shuts down, accounts for every
//! message, and checks the scenario's assertions ([`assess`]). The final
//! [`result::ScenarioResult`] is written as JSON; see `docs/scenarios.md`.

pub mod assess;
pub mod capacity;
pub mod capacity_cli;
pub mod cli;
pub mod config;
pub mod history;
pub mod hotspot;
pub mod interval;
pub mod network;
pub mod pace;
pub mod probe;
pub mod remote;
pub mod result;
pub mod run;
pub mod scenario;
pub mod verdict;
pub mod work;

pub use scenario::Scenario;
