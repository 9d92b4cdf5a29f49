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
    /// The module is valid but exceeds a limit of this host's instance pool
    /// (a linear memory starting larger than `memory_per_instance`, more
    /// memories or tables than a pooled instance holds, a table starting
    /// larger than the pool's table size); the message names the limit.
    /// Such a module is refused before it is compiled.
    #[error("module exceeds the host's limits: {0}")]
    OverLimits(String),
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
    /// The configuration is unusable (e.g. an epoch tick of 0, which would
    /// busy-loop the ticker thread); the message names the field.
    #[error("invalid host configuration: {0}")]
    InvalidConfig(String),
    /// The module cache directory could not be created or inspected.
    #[error("cache directory {path}: {source}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The module cache directory is a symbolic link (which could be
    /// redirected anywhere). Refused: the host loads native code from it.
    #[error("refusing cache directory {path}: it is a symbolic link")]
    CacheDirSymlink {
        /// The directory.
        path: PathBuf,
    },
    /// The module cache path exists but is not a directory.
    #[error("refusing cache directory {path}: it is not a directory")]
    CacheDirNotDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The module cache directory belongs to another user, who could plant
    /// code in it. Refused.
    #[error("refusing cache directory {path}: it is owned by uid {owner}, not by this process's effective uid {euid}")]
    CacheDirOwner {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective uid.
        euid: u32,
    },
    /// Group or other users may create or replace files in the module cache
    /// directory, so they could plant code in it. Refused.
    #[error(
        "refusing cache directory {path}: it is writable by group or others (mode {mode:04o}; at most 0755 is accepted, 0700 is created)"
    )]
    CacheDirWritable {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The epoch ticker thread could not be started.
    #[error("starting the epoch ticker: {0}")]
    Ticker(std::io::Error),
}
