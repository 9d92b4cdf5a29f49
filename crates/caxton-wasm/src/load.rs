//! Loading modules into a host: [`WasmHost::load`] and its variants. These
//! live here, above `host` and `module`, so that the host never depends on
//! the module type (a module holds its host).

use crate::abi;
use crate::cache::{self, ModuleOrigin};
use crate::error::LoadError;
use crate::host::WasmHost;
use crate::module::WasmModule;

impl WasmHost {
    /// Loads a module: from the in-memory cache, else the disk cache, else
    /// by compiling it (synchronously; run it off async workers). The module
    /// is checked against the guest ABI and the pool's limits from its bytes
    /// first, so a refused module costs no compile and is never cached; an
    /// accepted one is prepared for instantiation.
    pub fn load(&self, bytes: &[u8]) -> Result<WasmModule, LoadError> {
        let inner = &self.inner;
        let key = inner.cache.key(bytes);
        if let Some(module) = inner.cache.get_memory(&key) {
            return WasmModule::prepare(self.clone(), module, ModuleOrigin::Memory);
        }
        abi::check_bytes(bytes, inner.pool_limits.as_ref())?;
        let (module, origin) = match inner.cache.get_disk(&inner.engine, &key) {
            Some(module) => (module, ModuleOrigin::Disk),
            None => (cache::compile(&inner.engine, bytes)?, ModuleOrigin::Compiled),
        };
        let prepared = WasmModule::prepare(self.clone(), module, origin)?;
        inner
            .cache
            .insert(key, prepared.module(), origin == ModuleOrigin::Compiled);
        Ok(prepared)
    }

    /// Loads a module on tokio's blocking pool: compiling a large module
    /// takes hundreds of milliseconds, and this keeps it off the async
    /// workers, so agents on them never stall. Needs a tokio runtime.
    pub async fn load_async(&self, bytes: impl Into<bytes::Bytes>) -> Result<WasmModule, LoadError> {
        let host = self.clone();
        let bytes = bytes.into();
        tokio::task::spawn_blocking(move || host.load(&bytes))
            .await
            .map_err(|e| LoadError::Background(e.to_string()))?
    }

    /// Compiles a module without consulting or filling any cache, e.g. to
    /// time compilation. The module is checked as by [`WasmHost::load`]
    /// before it is compiled.
    pub fn compile_uncached(&self, bytes: &[u8]) -> Result<WasmModule, LoadError> {
        abi::check_bytes(bytes, self.inner.pool_limits.as_ref())?;
        let module = cache::compile(&self.inner.engine, bytes)?;
        WasmModule::prepare(self.clone(), module, ModuleOrigin::Compiled)
    }
}
