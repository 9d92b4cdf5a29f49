//! Why a configuration was refused.

use std::borrow::Cow;
use std::path::PathBuf;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this scenario (unknown or missing
    /// field, wrong type); toml's message names the field and the line.
    #[error("{origin}: {source}")]
    Parse {
        /// The file, or the built-in defaults.
        origin: String,
        /// toml's error.
        source: Box<toml::de::Error>,
    },
    /// A field has a value the scenario cannot run with.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field, as `table.field`.
        field: Cow<'static, str>,
        /// What is wrong with its value.
        reason: String,
    },
    /// The agents would not fit in the memory available.
    #[error(
        "invalid `load.agents`: {agents} agents need an estimated {needed_mib} MiB \
         ({per_agent} bytes each: load.agent_budget_bytes, a full mailbox and, for WASM, \
         the guest's memory), \
         but only {available_mib} MiB of memory is available"
    )]
    TooManyAgents {
        /// Agents asked for.
        agents: usize,
        /// Estimated bytes per agent.
        per_agent: u64,
        /// Estimated total, MiB.
        needed_mib: u64,
        /// Available memory, MiB.
        available_mib: u64,
    },
}
