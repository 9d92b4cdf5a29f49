//! Workloads on WASM agents: probing a memory limit (below), the native
//! twins of the guests ([`native`]) and the WASM-overhead measurement
//! ([`overhead`]). (Routing, request/reply and spawning WASM agents reuse
//! the generic workloads: [`crate::fanout::CaxtonFanout::with_agents`]
//! takes any agent.)
//!
//! Enabled by the crate feature `wasm`.

pub mod native;
pub mod overhead;

use std::time::{Duration, Instant};

use caxton_runtime::{AgentError, FaultKind, Performative};
use caxton_wasm::guests::misbehave;
use caxton_wasm::{AgentLimits, WasmAgent, WasmModule};

/// `n` instances of `module` made with raw wasmtime and kept alive: a
/// fresh store and `InstancePre::instantiate` each, with no ABI lookups and
/// no orchestrator. The reference for the WASM spawn figures. Returns the
/// stores (dropping them frees their pool slots) and the time taken.
pub fn raw_instantiate_batch(
    module: &WasmModule,
    n: usize,
) -> caxton_wasm::wasmtime::Result<(Vec<caxton_wasm::wasmtime::Store<caxton_wasm::HostState>>, Duration)> {
    let mut live = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        live.push(module.instantiate_raw()?);
    }
    Ok((live, start.elapsed()))
}

/// Payload that makes the `misbehave` guest allocate 1 MiB chunks (each
/// touched) until its allocator fails.
pub const GROW: &[u8] = misbehave::GROW;
/// Payload the `misbehave` guest answers with a plain `ok` reply.
pub const PING: &[u8] = b"ping";

/// What one grow-to-the-limit run found.
#[derive(Debug)]
pub struct GrowRun {
    /// The memory limit the instance ran under, in bytes.
    pub limit_bytes: usize,
    /// Linear-memory size when the growth was refused: the largest memory
    /// the guest held successfully, in bytes.
    pub largest_bytes: usize,
    /// Instance creation excluded: the call that grew memory until refused.
    pub elapsed: Duration,
    /// How the call ended: a memory-limit fault is the expected outcome.
    pub fault: Option<FaultKind>,
    /// The instance, left at its limit (for calls near the limit).
    pub agent: WasmAgent,
}

/// Instantiates the `misbehave` guest under a memory limit of `limit_bytes`
/// (no CPU limit, so only memory ends the run) and has it allocate until
/// the limit refuses a growth.
pub fn grow_to_limit(misbehave: &WasmModule, limit_bytes: usize) -> Result<GrowRun, AgentError> {
    let limits = AgentLimits::default().max_memory(limit_bytes).cpu_time(None).fuel(None);
    let mut agent = misbehave.instantiate(limits)?;
    let start = Instant::now();
    let outcome = agent.call(Performative::Request, GROW);
    let elapsed = start.elapsed();
    let fault = match outcome {
        Err(AgentError::Fault { kind, .. }) => Some(kind),
        _ => None,
    };
    Ok(GrowRun {
        limit_bytes,
        largest_bytes: agent.linear_memory_bytes(),
        elapsed,
        fault,
        agent,
    })
}
