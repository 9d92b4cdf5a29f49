//! Per-agent resource limits and the memory limiter that enforces them.

use std::time::Duration;

/// Limits applied to each instance of a WASM agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentLimits {
    /// Largest linear memory, in bytes; growing past it is a
    /// [`caxton_runtime::FaultKind::MemoryLimit`] fault.
    pub max_memory: usize,
    /// Wall-clock budget per call into the guest under
    /// [`crate::CpuMode::Epoch`] (rounded up to whole ticks); `None` = no limit.
    pub cpu_time: Option<Duration>,
    /// Instruction budget per call under [`crate::CpuMode::Fuel`]; `None` =
    /// no limit.
    pub fuel: Option<u64>,
}

impl Default for AgentLimits {
    /// 16 MiB of memory, 100 ms or 100 M fuel per message.
    fn default() -> Self {
        Self {
            max_memory: 16 << 20,
            cpu_time: Some(Duration::from_millis(100)),
            fuel: Some(100_000_000),
        }
    }
}

impl AgentLimits {
    /// Sets the memory limit.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Sets the per-call wall-clock budget (epoch mode).
    pub fn cpu_time(mut self, budget: Option<Duration>) -> Self {
        self.cpu_time = budget;
        self
    }

    /// Sets the per-call fuel budget (fuel mode).
    pub fn fuel(mut self, budget: Option<u64>) -> Self {
        self.fuel = budget;
        self
    }
}

/// The error a guest's `memory.grow` past its limit traps with.
#[derive(Debug, thiserror::Error)]
#[error("linear memory would grow to {desired} bytes, over the limit of {limit}")]
pub struct MemoryLimitExceeded {
    /// The size asked for.
    pub desired: usize,
    /// The limit.
    pub limit: usize,
}

/// Enforces [`AgentLimits::max_memory`] and remembers whether it was hit.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) max_memory: usize,
    pub(crate) hit: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                desired,
                limit: self.max_memory,
            }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}
