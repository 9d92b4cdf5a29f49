//! Typed errors of the WASM host.

use std::path::PathBuf;

/// Why a module was refused at load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid WebAssembly module (or failed to compile).
    #[error("malformed module: {0}")]
    Malformed(String),
    /// A required export of the guest ABI is missing.
    #[error("module lacks the ABI export `{0}`")]
    MissingExport(&'static str),
    /// An ABI export exists with the wrong kind or signature.
    #[error("ABI export `{name}` has type {found}, expected {expected}")]
    ExportType {
        /// The export.
        name: &'static str,
        /// What the ABI requires.
        expected: &'static str,
        /// What the module declares.
        found: String,
    },
    /// The module imports something the host does not provide.
    #[error("module imports `{module}::{name}`, which the host does not provide")]
    UnknownImport {
        /// The import's module name.
        module: String,
        /// The import's field name.
        name: String,
    },
    /// A host import is imported with the wrong type.
    #[error("import `caxton::{name}` has type {found}, expected {expected}")]
    ImportType {
        /// The import.
        name: String,
        /// What the host provides.
        expected: &'static str,
        /// What the module declares.
        found: String,
    },
    /// Wasmtime refused to pre-instantiate the module.
    #[error("preparing instances failed: {0}")]
    Prepare(String),
    /// The background compile task did not finish (it panicked or the
    /// runtime shut down).
    #[error("background compile did not finish: {0}")]
    Background(String),
}

/// Why a host could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The engine configuration was rejected (e.g. the pool could not be
    /// reserved).
    #[error("engine configuration rejected: {0}")]
    Engine(String),
    /// The module cache directory could not be created.
    #[error("cache directory {path}: {source}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The epoch ticker thread could not be started.
    #[error("starting the epoch ticker: {0}")]
    Ticker(std::io::Error),
}
