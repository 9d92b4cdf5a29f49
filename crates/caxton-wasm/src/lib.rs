//! The Caxton WebAssembly agent host, on wasmtime.
//!
//! * One shared [`wasmtime::Engine`] per [`WasmHost`], with the pooling
//!   allocator (or on-demand, selectable) and copy-on-write memory images.
//! * Modules compiled once and cached in memory and on disk
//!   ([`WasmHost::load`]), checked against the guest ABI
//!   (`docs/guest-abi.md`) and pre-instantiated ([`wasmtime::InstancePre`])
//!   so spawning an agent costs microseconds.
//! * [`WasmAgent`] implements [`caxton_runtime::Agent`]; per-agent memory
//!   limits (a resource limiter) and CPU limits (epoch deadlines, or fuel)
//!   turn into typed faults ([`caxton_runtime::FaultKind`]) that the
//!   supervisor handles like a native panic.
//!
//! ```
//! use std::time::Duration;
//! use caxton_runtime::{Message, Orchestrator};
//! use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host = WasmHost::new(HostConfig::default()).unwrap();
//! let echo = host.load(guests::ECHO).unwrap();
//! let orch = Orchestrator::new();
//! let id = orch.spawn(echo.spec(AgentLimits::default())).unwrap();
//! let reply = orch.request(Message::request(id, "hi"), Duration::from_secs(1)).await.unwrap();
//! assert_eq!(&reply.payload[..], b"hi");
//! orch.shutdown(Duration::from_secs(1)).await;
//! # });
//! ```
#![warn(missing_docs)]

pub mod abi;
mod agent;
mod cache;
mod config;
mod error;
pub mod guests;
mod host;
mod imports;
mod limits;
mod load;
mod module;
mod prepared;
mod stack;
mod ticker;
pub mod trap;

pub use agent::WasmAgent;
pub use cache::ModuleOrigin;
pub use config::{Allocator, CpuMode, HostConfig};
pub use error::{HostError, LoadError};
pub use host::WasmHost;
pub use imports::HostState;
pub use limits::{AgentLimits, MemoryLimitExceeded, OutboxLimitExceeded};
pub use module::WasmModule;
pub use wasmtime;
