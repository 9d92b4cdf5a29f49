//! The host: one shared wasmtime [`Engine`], the [`Linker`] with the ABI's
//! host functions, the module cache and the epoch ticker. Loading modules
//! ([`WasmHost::load`] and friends) is in `load.rs`, above both this and
//! the module.

use std::path::Path;
use std::sync::Arc;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, ProfilingStrategy};

use crate::abi::PoolLimits;
use crate::cache::{DiskCache, ModuleCache};
use crate::config::{Allocator, CpuMode, HostConfig};
use crate::error::HostError;
use crate::imports::{self, HostState};
use crate::ticker::Ticker;

/// Hosts WASM agents: compiles and caches modules, and prepares them for
/// fast instantiation. Cheap to clone (shared).
#[derive(Clone)]
pub struct WasmHost {
    pub(crate) inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) config: HostConfig,
    pub(crate) cache: ModuleCache,
    /// The pool's per-module limits, checked before compiling.
    pub(crate) pool_limits: Option<PoolLimits>,
    _ticker: Option<Ticker>,
}

impl std::fmt::Debug for WasmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmHost").field("config", &self.inner.config).finish()
    }
}

impl WasmHost {
    /// Builds a host: the engine (reserving the pool, if pooling), the
    /// linker, the cache directory and, in epoch mode, the ticker thread.
    ///
    /// Refuses an unusable configuration ([`HostError::InvalidConfig`]: an
    /// epoch tick under [`CpuMode::MIN_EPOCH_TICK`], `max_wasm_stack` of
    /// `Some(0)`, a pool of 0 instances or 0 bytes of memory) and an unsafe
    /// cache directory (see [`HostConfig::cache_dir`]).
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        config.validate()?;
        let engine = Engine::new(&engine_config(&config)).map_err(|e| HostError::Engine(format!("{e}")))?;
        let linker = imports::linker(&engine).map_err(|e| HostError::Engine(format!("{e}")))?;
        let disk = if config.no_disk_cache {
            None
        } else {
            match config.cache_dir.clone().or_else(HostConfig::default_cache_dir) {
                Some(dir) => Some(DiskCache::open(dir, config.disk_cache_bytes)?),
                None => None,
            }
        };
        let cache = ModuleCache::new(&engine, config.memory_cache_entries, disk);
        let pool_limits = PoolLimits::of(&config.allocator);
        let ticker = match config.cpu {
            CpuMode::Epoch { tick } => Some(Ticker::start(engine.clone(), tick).map_err(HostError::Ticker)?),
            CpuMode::Fuel | CpuMode::Off => None,
        };
        Ok(Self {
            inner: Arc::new(HostInner {
                engine,
                linker,
                config,
                cache,
                pool_limits,
                _ticker: ticker,
            }),
        })
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The configuration this host was built with.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// How many modules the in-memory cache holds now (at most
    /// [`HostConfig::memory_cache_entries`]).
    pub fn cached_modules(&self) -> usize {
        self.inner.cache.memory_len()
    }

    /// The directory of the on-disk module cache, `None` when there is none
    /// (disabled, or no per-user directory could be found).
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.dir()
    }
}

/// Pool slots decommitted together (wasmtime's `decommit_batch_size`).
const DECOMMIT_BATCH: usize = 16;

fn engine_config(config: &HostConfig) -> Config {
    let mut cfg = Config::new();
    match config.allocator {
        Allocator::Pooling {
            instances,
            memory_per_instance,
        } => {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_core_instances(instances)
                .total_memories(instances)
                .total_tables(instances)
                .max_memory_size(memory_per_instance)
                // The per-module limits `abi::check_bytes` checks before
                // compiling (wasmtime's defaults, set explicitly).
                .max_memories_per_module(Allocator::POOL_MEMORIES_PER_MODULE)
                .max_tables_per_module(Allocator::POOL_TABLES_PER_MODULE)
                .table_elements(Allocator::POOL_TABLE_ELEMENTS)
                // Keep every freed slot's memory image mapped (pages are
                // still decommitted), so a respawn skips re-mapping it.
                .max_unused_warm_slots(instances)
                // Freed slots are decommitted 16 at a time, in one
                // `process_madvise` call (one TLB shootdown) where the kernel
                // has it; a slot waiting in the batch is not reused before
                // its decommit, and an exhausted pool flushes the batch
                // first. Measured by `examples/spawn_options.rs`: dropping
                // an instance costs 20 to 35 % less, spawning the same
                // (within noise); larger batches send respawns to cold
                // slots, which costs a fresh slot's first use.
                .decommit_batch_size(DECOMMIT_BATCH);
            cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        Allocator::OnDemand => {
            cfg.allocation_strategy(InstanceAllocationStrategy::OnDemand);
        }
    }
    // Guests may use 64x64->128-bit multiplication (`i64.mul_wide_u`);
    // without it, every overflow-checked u64 multiply in a guest is a
    // software 128-bit multiply (`__multi3`).
    cfg.wasm_wide_arithmetic(true);
    cfg.memory_init_cow(true);
    if config.perf_map || std::env::var_os("CAXTON_WASM_PERFMAP").is_some() {
        cfg.profiler(ProfilingStrategy::PerfMap);
    }
    match config.cpu {
        CpuMode::Epoch { .. } => {
            cfg.epoch_interruption(true);
        }
        CpuMode::Fuel => {
            cfg.consume_fuel(true);
        }
        CpuMode::Off => {}
    }
    if let Some(stack) = config.max_wasm_stack {
        cfg.max_wasm_stack(stack);
    }
    cfg
}
