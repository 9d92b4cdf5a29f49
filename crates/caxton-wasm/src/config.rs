//! Engine-wide settings of a [`crate::WasmHost`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::HostError;

/// How instance resources (linear memories, tables) are allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    /// A pool reserved up front; instantiation takes a slot (microseconds).
    ///
    /// Each module may define at most [`Allocator::POOL_MEMORIES_PER_MODULE`]
    /// memories and [`Allocator::POOL_TABLES_PER_MODULE`] tables, each table
    /// starting with at most [`Allocator::POOL_TABLE_ELEMENTS`] elements;
    /// modules over these limits are refused at load
    /// ([`crate::LoadError::OverLimits`]).
    Pooling {
        /// Instances (and memories, tables) the pool holds at once; at
        /// least 1.
        instances: u32,
        /// Largest linear memory per instance, in bytes; at least 1. A
        /// module whose memory starts larger is refused at load.
        memory_per_instance: usize,
    },
    /// Each instance maps its own memory (slower spawn, no upfront cost).
    OnDemand,
}

impl Allocator {
    /// Linear memories a module may define under the pooling allocator.
    pub const POOL_MEMORIES_PER_MODULE: u32 = 1;
    /// Tables a module may define under the pooling allocator.
    pub const POOL_TABLES_PER_MODULE: u32 = 1;
    /// Largest initial table size (elements) under the pooling allocator;
    /// tables are also capped at this size when they grow.
    pub const POOL_TABLE_ELEMENTS: usize = 20_000;
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
        /// Epoch period (the CPU limit's granularity); at least
        /// [`CpuMode::MIN_EPOCH_TICK`].
        tick: Duration,
    },
    /// Fuel metering: a deterministic instruction budget per message.
    Fuel,
    /// No CPU limit.
    Off,
}

impl CpuMode {
    /// The shortest epoch tick a host accepts: shorter ticks would keep the
    /// ticker thread (nearly) busy for no useful precision.
    pub const MIN_EPOCH_TICK: Duration = Duration::from_micros(100);
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
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Instance allocation strategy.
    pub allocator: Allocator,
    /// CPU limiting mechanism.
    pub cpu: CpuMode,
    /// Where compiled modules are cached between runs; `None` uses
    /// [`HostConfig::default_cache_dir`] (a per-user directory), and no
    /// disk cache if that has no answer. The directory (given or default)
    /// is created with mode 0700 if missing, and refused if it is a
    /// symbolic link, not a directory, owned by another user, or writable
    /// by group or others ([`crate::HostError::CacheDirSymlink`],
    /// [`crate::HostError::CacheDirNotDirectory`],
    /// [`crate::HostError::CacheDirOwner`],
    /// [`crate::HostError::CacheDirWritable`]): the host loads native code
    /// from it.
    pub cache_dir: Option<PathBuf>,
    /// Disables the on-disk cache (the in-memory cache stays).
    pub no_disk_cache: bool,
    /// Most modules the in-memory cache holds; the least recently used one
    /// is dropped beyond it (0 disables the in-memory cache). Default 256.
    pub memory_cache_entries: usize,
    /// Most bytes of artifacts the disk cache keeps; after each write the
    /// least recently used files are deleted beyond it, and an artifact
    /// larger than this is not written. Default 512 MiB.
    pub disk_cache_bytes: u64,
    /// Native stack a guest may use, in bytes (wasmtime's default if
    /// `None`); `Some(0)` is refused.
    pub max_wasm_stack: Option<usize>,
    /// Writes `/tmp/perf-<pid>.map` so that `perf report` names guest
    /// functions (`wasm[0]::function[17]`) instead of bare JIT addresses.
    /// Also on when `$CAXTON_WASM_PERFMAP` is set.
    pub perf_map: bool,
}

impl Default for HostConfig {
    /// Pooling allocator, 1 ms epochs, the per-user disk cache, 256 modules
    /// in memory, 512 MiB on disk.
    fn default() -> Self {
        Self {
            allocator: Allocator::default(),
            cpu: CpuMode::default(),
            cache_dir: None,
            no_disk_cache: false,
            memory_cache_entries: 256,
            disk_cache_bytes: 512 << 20,
            max_wasm_stack: None,
            perf_map: false,
        }
    }
}

impl HostConfig {
    /// The default configuration with a pool of `instances` slots of up
    /// to `memory_per_instance` bytes of linear memory each.
    pub fn pooling(instances: u32, memory_per_instance: usize) -> Self {
        Self {
            allocator: Allocator::Pooling {
                instances,
                memory_per_instance,
            },
            ..Self::default()
        }
    }

    /// The default configuration with the on-demand allocator.
    pub fn on_demand() -> Self {
        Self {
            allocator: Allocator::OnDemand,
            ..Self::default()
        }
    }

    /// The per-user module cache directory from this process's environment
    /// (see [`HostConfig::default_cache_dir_in`]).
    pub fn default_cache_dir() -> Option<PathBuf> {
        Self::default_cache_dir_in(|name| std::env::var_os(name))
    }

    /// The per-user module cache directory given an environment lookup:
    /// `$CAXTON_WASM_CACHE` if set (non-empty), else
    /// `$XDG_CACHE_HOME/caxton/wasm` (if absolute), else
    /// `$HOME/.cache/caxton/wasm` (if absolute), else `None` (no disk
    /// cache). Never a shared directory such as `/tmp`.
    pub fn default_cache_dir_in(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        if let Some(dir) = env("CAXTON_WASM_CACHE").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        let absolute = |name: &str| env(name).map(PathBuf::from).filter(|p| p.is_absolute());
        if let Some(xdg) = absolute("XDG_CACHE_HOME") {
            return Some(xdg.join("caxton").join("wasm"));
        }
        absolute("HOME").map(|home| home.join(".cache").join("caxton").join("wasm"))
    }

    /// Checks the settings a host cannot run with, naming the field.
    pub(crate) fn validate(&self) -> Result<(), HostError> {
        let invalid = |msg: String| Err(HostError::InvalidConfig(msg));
        if let CpuMode::Epoch { tick } = self.cpu
            && tick < CpuMode::MIN_EPOCH_TICK
        {
            return invalid(format!(
                "cpu: CpuMode::Epoch tick of {tick:?} is below the minimum of {:?}",
                CpuMode::MIN_EPOCH_TICK
            ));
        }
        if self.max_wasm_stack == Some(0) {
            return invalid("max_wasm_stack: Some(0) leaves guests no stack".into());
        }
        if let Allocator::Pooling {
            instances,
            memory_per_instance,
        } = self.allocator
        {
            if instances == 0 {
                return invalid("allocator: Allocator::Pooling with 0 instances".into());
            }
            if memory_per_instance == 0 {
                return invalid("allocator: Allocator::Pooling with memory_per_instance 0".into());
            }
        }
        Ok(())
    }
}
