//! Engine-wide settings of a [`crate::WasmHost`].

use std::path::PathBuf;
use std::time::Duration;

/// How instance resources (linear memories, tables) are allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    /// A pool reserved up front; instantiation takes a slot (microseconds).
    Pooling {
        /// Instances (and memories, tables) the pool holds at once.
        instances: u32,
        /// Largest linear memory per instance, in bytes.
        memory_per_instance: usize,
    },
    /// Each instance maps its own memory (slower spawn, no upfront cost).
    OnDemand,
}

impl Default for Allocator {
    /// A pool of 1024 instances of up to 64 MiB each.
    fn default() -> Self {
        Self::Pooling {
            instances: 1024,
            memory_per_instance: 64 << 20,
        }
    }
}

/// How guest CPU use is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuMode {
    /// Epoch interruption: a host thread advances the epoch every `tick`;
    /// a call past its deadline traps. Wall-clock, cheap, not deterministic.
    Epoch {
        /// Epoch period (the CPU limit's granularity).
        tick: Duration,
    },
    /// Fuel metering: a deterministic instruction budget per message.
    Fuel,
    /// No CPU limit.
    Off,
}

impl Default for CpuMode {
    /// Epochs with a 1 ms tick.
    fn default() -> Self {
        Self::Epoch {
            tick: Duration::from_millis(1),
        }
    }
}

/// Settings shared by every module and instance of one host.
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// Instance allocation strategy.
    pub allocator: Allocator,
    /// CPU limiting mechanism.
    pub cpu: CpuMode,
    /// Where compiled modules are cached between runs; `None` uses
    /// `$CAXTON_WASM_CACHE` or else `<temp dir>/caxton-wasm-cache`.
    pub cache_dir: Option<PathBuf>,
    /// Disables the on-disk cache (the in-memory cache stays).
    pub no_disk_cache: bool,
    /// Native stack a guest may use, in bytes (wasmtime's default if `None`).
    pub max_wasm_stack: Option<usize>,
    /// Writes `/tmp/perf-<pid>.map` so that `perf report` names guest
    /// functions (`wasm[0]::function[17]`) instead of bare JIT addresses.
    /// Also on when `$CAXTON_WASM_PERFMAP` is set.
    pub perf_map: bool,
}

impl HostConfig {
    /// The default configuration with the on-demand allocator.
    pub fn on_demand() -> Self {
        Self {
            allocator: Allocator::OnDemand,
            ..Self::default()
        }
    }
}
