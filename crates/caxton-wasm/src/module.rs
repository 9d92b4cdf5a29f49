//! A loaded, ABI-checked module, pre-instantiated for fast spawns.

use std::sync::Arc;

use caxton_runtime::{AgentError, AgentSpec};
use wasmtime::Module;

use crate::agent::WasmAgent;
use crate::cache::ModuleOrigin;
use crate::error::LoadError;
use crate::host::WasmHost;
use crate::imports::HostState;
use crate::limits::AgentLimits;
use crate::prepared::Prepared;

/// A guest module ready to spawn agents from. Cheap to clone (shared).
#[derive(Clone)]
pub struct WasmModule {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    host: WasmHost,
    module: Module,
    prepared: Prepared,
    origin: ModuleOrigin,
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("origin", &self.inner.origin)
            .field("checkpointable", &self.is_checkpointable())
            .finish()
    }
}

impl WasmModule {
    /// Checks `module` against the ABI and prepares it for instantiation
    /// on `host`.
    pub(crate) fn prepare(host: WasmHost, module: Module, origin: ModuleOrigin) -> Result<Self, LoadError> {
        let inner = &host.inner;
        let prepared = Prepared::new(&inner.engine, &inner.linker, &inner.config, &module)?;
        Ok(Self {
            inner: Arc::new(ModuleInner {
                host,
                module,
                prepared,
                origin,
            }),
        })
    }

    /// Where this module came from (compiled now, or a cache).
    pub fn origin(&self) -> ModuleOrigin {
        self.inner.origin
    }

    /// Whether the module exports `caxton_snapshot` / `caxton_restore`.
    pub fn is_checkpointable(&self) -> bool {
        self.inner.prepared.exports.checkpoint.is_some()
    }

    /// The compiled wasmtime module.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// The host this module was loaded by.
    pub fn host(&self) -> &WasmHost {
        &self.inner.host
    }

    /// Creates one agent instance under `limits` (a store, an instance from
    /// the pre-instantiated module, and the ABI functions resolved).
    pub fn instantiate(&self, limits: AgentLimits) -> Result<WasmAgent, AgentError> {
        WasmAgent::new(&self.inner.prepared, limits)
    }

    /// An orchestrator spawn spec whose factory instantiates this module
    /// under `limits` (again on every supervised restart). Its mailbox
    /// refuses payloads over [`AgentLimits::effective_max_message_bytes`].
    pub fn spec(&self, limits: AgentLimits) -> AgentSpec<WasmAgent> {
        let module = self.clone();
        AgentSpec::try_new(move || module.instantiate(limits)).max_message_bytes(limits.effective_max_message_bytes())
    }

    /// Instantiates `n` instances at once and drops them, so that with the
    /// pooling allocator `n` pool slots hold this module's memory image
    /// and resident instance state, and the next `n` spawns skip that
    /// first-use cost. A no-op in effect with the on-demand allocator.
    pub fn prewarm(&self, n: usize) -> wasmtime::Result<()> {
        let stores = (0..n)
            .map(|_| self.instantiate_raw())
            .collect::<wasmtime::Result<Vec<_>>>()?;
        drop(stores);
        Ok(())
    }

    /// Raw wasmtime instantiation (a fresh store plus
    /// `InstancePre::instantiate`, no ABI lookups), for comparing the
    /// agent spawn cost with wasmtime's own.
    pub fn instantiate_raw(&self) -> wasmtime::Result<wasmtime::Store<HostState>> {
        let prepared = &self.inner.prepared;
        let mut store = wasmtime::Store::new(
            &prepared.engine,
            HostState::new(&AgentLimits::default().max_memory(usize::MAX)),
        );
        store.set_epoch_deadline(1 << 40);
        prepared.pre.instantiate(&mut store)?;
        Ok(store)
    }
}
