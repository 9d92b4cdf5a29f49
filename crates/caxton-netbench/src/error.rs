//! Why a network benchmark could not run.

use std::path::PathBuf;

/// A benchmark that could not run (as opposed to one that ran and missed).
#[derive(Debug, thiserror::Error)]
pub enum NetbenchError {
    /// A binary the benchmark starts is not built.
    #[error("{name} is not built (looked for {path}); build it with `{build}`")]
    MissingBinary {
        /// The binary.
        name: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The command that builds it.
        build: &'static str,
    },
    /// A process could not be started or did not come up.
    #[error("{name}: {why}")]
    Start {
        /// The process.
        name: String,
        /// Why, with its stderr where there is one.
        why: String,
    },
    /// The load generator failed or printed no summary.
    #[error("caxton-load {args}: {why}")]
    Load {
        /// Its arguments.
        args: String,
        /// Why.
        why: String,
    },
    /// A setup call to the server failed.
    #[error("{what}: {why}")]
    Setup {
        /// The call.
        what: String,
        /// Why.
        why: String,
    },
    /// An I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
