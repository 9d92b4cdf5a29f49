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
    /// The largest payload the agent accepts, in bytes: a larger message is
    /// refused to its sender at the mailbox
    /// ([`caxton_runtime::SendErrorKind::MessageTooLarge`]) instead of
    /// trapping the guest. At most half of `max_memory` takes effect (the
    /// guest must hold the payload in its memory).
    pub max_message_bytes: usize,
    /// Messages (replies and sends) one call into the guest may queue;
    /// one more is a [`caxton_runtime::FaultKind::OutboxLimit`] fault.
    pub max_outbox_messages: usize,
    /// Payload bytes one call into the guest may queue; more is a
    /// [`caxton_runtime::FaultKind::OutboxLimit`] fault. The host copies
    /// each queued payload out of the guest, so this bounds what a guest
    /// makes the host hold on its behalf.
    pub max_outbox_bytes: usize,
}

impl Default for AgentLimits {
    /// 16 MiB of memory, 100 ms or 100 M fuel per message, 1 MiB messages,
    /// 256 outgoing messages and 4 MiB outgoing per message handled.
    fn default() -> Self {
        Self {
            max_memory: 16 << 20,
            cpu_time: Some(Duration::from_millis(100)),
            fuel: Some(100_000_000),
            max_message_bytes: 1 << 20,
            max_outbox_messages: 256,
            max_outbox_bytes: 4 << 20,
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

    /// Sets the largest accepted payload.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Sets how many messages and payload bytes one call may queue.
    pub fn outbox(mut self, messages: usize, bytes: usize) -> Self {
        self.max_outbox_messages = messages;
        self.max_outbox_bytes = bytes;
        self
    }

    /// The payload limit the mailbox enforces: `max_message_bytes`, at
    /// most half the memory limit.
    pub fn effective_max_message_bytes(&self) -> usize {
        self.max_message_bytes.min(self.max_memory / 2)
    }
}

/// The error a guest's `reply`/`send` past its outbox limits traps with.
#[derive(Debug, thiserror::Error)]
#[error(
    "guest queued {messages} messages / {bytes} bytes in one call, over the outbox limit of {max_messages} messages / {max_bytes} bytes"
)]
pub struct OutboxLimitExceeded {
    /// Messages the call would have queued.
    pub messages: usize,
    /// Payload bytes the call would have queued.
    pub bytes: usize,
    /// The message limit.
    pub max_messages: usize,
    /// The byte limit.
    pub max_bytes: usize,
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
