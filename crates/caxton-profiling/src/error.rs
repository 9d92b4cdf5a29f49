//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

use caxton_runtime::{CheckpointError, RequestError, SendError, SpawnError};

/// What can go wrong while measuring.
#[derive(Debug, thiserror::Error)]
pub enum ProfilingError {
    /// The process sampler was asked for an interval too short for CPU %.
    #[error("sampling interval {got:?} is shorter than the {min:?} that CPU usage needs")]
    IntervalTooShort {
        /// The interval asked for.
        got: Duration,
        /// The shortest interval allowed.
        min: Duration,
    },
    /// sysinfo could not read process information.
    #[error("reading process information: {0}")]
    Sysinfo(String),
    /// A latency histogram could not be created with the asked bounds.
    #[error("creating a latency histogram: {0}")]
    HistogramCreation(#[from] hdrhistogram::CreationError),
    /// Two latency histograms could not be merged.
    #[error("merging latency histograms: {0}")]
    HistogramMerge(#[from] hdrhistogram::AdditionError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Serializing a result to JSON failed.
    #[error("serializing results: {0}")]
    Json(#[from] serde_json::Error),
    /// Building the tokio runtime for a profile failed.
    #[error("starting the tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// Spawning an agent for a profile failed.
    #[error("spawning a profiled agent: {0}")]
    Spawn(#[from] SpawnError),
    /// Sending a workload message failed.
    #[error("sending a workload message: {0}")]
    Send(#[from] Box<SendError>),
    /// A request to a profiled agent failed.
    #[error("requesting a profiled agent: {0}")]
    Request(#[from] RequestError),
    /// Checkpointing a profiled agent failed.
    #[error("checkpointing a profiled agent: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// Profiled agents stopped handling messages before all were handled.
    #[error("agents handled {handled} of {expected} messages and made no progress for {stalled_for:?}")]
    Stalled {
        /// Messages the agents should have handled.
        expected: u64,
        /// Messages they had handled.
        handled: u64,
        /// How long the count stood still.
        stalled_for: Duration,
    },
    /// A profile was asked for with settings it cannot run.
    #[error("invalid profile settings: {0}")]
    InvalidSettings(String),
}

impl From<SendError> for ProfilingError {
    fn from(e: SendError) -> Self {
        Self::Send(Box::new(e))
    }
}

impl ProfilingError {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
