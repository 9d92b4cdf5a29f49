//! What instantiating a module needs, resolved once when it is loaded: the
//! engine, the pre-instantiated module, its export indices and the host
//! settings each instance runs under. A `WasmModule` holds one;
//! a `WasmAgent` is built from it without reaching into the host.

use wasmtime::{Engine, InstancePre, Linker, Module, ModuleExport};

use crate::abi;
use crate::config::{CpuMode, HostConfig};
use crate::error::LoadError;
use crate::imports::HostState;
use crate::stack;

/// A module checked against the ABI and prepared for fast instantiation.
pub(crate) struct Prepared {
    /// The host's shared engine (every store is built on it).
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) exports: Exports,
    /// How the host limits CPU (the budget armed before each call).
    pub(crate) cpu: CpuMode,
    /// Native stack a call into the guest may use.
    pub(crate) wasm_stack: usize,
}

/// Pre-resolved export indices (no name lookups per spawn).
pub(crate) struct Exports {
    pub(crate) memory: ModuleExport,
    pub(crate) inbox: ModuleExport,
    pub(crate) handle: ModuleExport,
    pub(crate) checkpoint: Option<(ModuleExport, ModuleExport)>,
}

impl Prepared {
    /// Checks `module` against the ABI, resolves its exports and
    /// pre-instantiates it with `linker`.
    pub(crate) fn new(
        engine: &Engine,
        linker: &Linker<HostState>,
        config: &HostConfig,
        module: &Module,
    ) -> Result<Self, LoadError> {
        let checkpointable = abi::check(module)?;
        let index = |name: &'static str| module.get_export_index(name).ok_or(LoadError::MissingExport(name));
        let exports = Exports {
            memory: index(abi::MEMORY)?,
            inbox: index(abi::INBOX)?,
            handle: index(abi::HANDLE)?,
            checkpoint: if checkpointable {
                Some((index(abi::SNAPSHOT)?, index(abi::RESTORE)?))
            } else {
                None
            },
        };
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| LoadError::Prepare(format!("{e}")))?;
        Ok(Self {
            engine: engine.clone(),
            pre,
            exports,
            cpu: config.cpu,
            wasm_stack: config.max_wasm_stack.unwrap_or(stack::WASMTIME_DEFAULT),
        })
    }
}
