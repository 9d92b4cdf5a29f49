//! Why a run could not be done, and the exit code that says so.

/// A run that could not start or could not reach its target.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Bad flags or a refused target (exit code 2).
    #[error("{0}")]
    BadArgs(String),
    /// The target could not be reached at all (exit code 1).
    #[error("{0}")]
    Unreachable(String),
    /// Anything else that stopped the run, e.g. an unwritable `--out` file
    /// (exit code 1).
    #[error("{0}")]
    Other(String),
}

impl LoadError {
    /// The process exit code for this error: 2 for bad arguments, 1 else.
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadError::BadArgs(_) => 2,
            LoadError::Unreachable(_) | LoadError::Other(_) => 1,
        }
    }
}
