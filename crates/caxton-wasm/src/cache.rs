//! Compiled-module cache: in memory for the host's lifetime, and on disk
//! (serialized artifacts) between runs. Keyed by a hash of the module bytes
//! and of the engine settings that affect compiled code.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{Engine, Module};

use crate::error::LoadError;

/// Where a loaded module came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// Compiled by this call.
    Compiled,
    /// Found in this host's in-memory cache.
    Memory,
    /// Deserialized from the on-disk cache.
    Disk,
}

pub(crate) struct ModuleCache {
    engine_key: u64,
    memory: Mutex<HashMap<u64, Module>>,
    dir: Option<PathBuf>,
}

impl ModuleCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            engine_key: h.finish(),
            memory: Mutex::new(HashMap::new()),
            dir,
        }
    }

    /// The cache key of `bytes` for this engine.
    pub(crate) fn key(&self, bytes: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        self.engine_key.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    }

    /// Returns the module for `bytes`, compiling it only on a miss of both
    /// caches.
    pub(crate) fn get_or_compile(&self, engine: &Engine, bytes: &[u8]) -> Result<(Module, ModuleOrigin), LoadError> {
        let key = self.key(bytes);
        if let Some(m) = self.lock().get(&key) {
            return Ok((m.clone(), ModuleOrigin::Memory));
        }
        let path = self.dir.as_ref().map(|d| d.join(format!("{key:016x}.cwasm")));
        let (module, origin) = match path.as_deref().and_then(|p| read(engine, p)) {
            Some(m) => (m, ModuleOrigin::Disk),
            None => {
                let m = compile(engine, bytes)?;
                if let Some(p) = &path {
                    write(&m, p);
                }
                (m, ModuleOrigin::Compiled)
            }
        };
        self.lock().insert(key, module.clone());
        Ok((module, origin))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Module>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Compiles `bytes` (validating them).
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module, LoadError> {
    Module::new(engine, bytes).map_err(|e| LoadError::Malformed(format!("{e}")))
}

fn read(engine: &Engine, path: &Path) -> Option<Module> {
    // Read into memory rather than mmap the file, so a cache file replaced
    // or truncated later cannot pull code out from under a live module.
    let bytes = std::fs::read(path).ok()?;
    // SAFETY: the bytes come from a file this cache wrote with
    // `Module::serialize` (atomically, via rename); wasmtime checks their
    // header and that they match this engine's configuration and version.
    unsafe { Module::deserialize(engine, &bytes) }.ok()
}

/// Best effort: a failed write only costs a recompile next run.
fn write(module: &Module, path: &Path) {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let Ok(bytes) = module.serialize() else { return };
    let tmp = path.with_extension(format!(
        "tmp{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
