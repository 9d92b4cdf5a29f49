//! The memory estimate of a run, checked against the memory available
//! before anything is spawned.

use super::error::ConfigError;
use super::schema::{AgentKind, Config};

/// Linear memory a Rust guest starts with (1 MiB of stack plus its data
/// and heap pages), counted in full although copy-on-write images make
/// less of it resident.
pub const WASM_GUEST_BYTES: u64 = 5 << 18;

/// Memory available to new processes (Linux's `MemAvailable`), in bytes,
/// from `sysinfo`; `None` where unknown.
pub fn available_memory() -> Option<u64> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_memory();
    Some(sys.available_memory()).filter(|&bytes| bytes > 0)
}

impl Config {
    /// Estimated bytes per agent: its budget plus a full mailbox, plus for
    /// WASM agents their guest's linear memory.
    pub fn bytes_per_agent(&self) -> u64 {
        // A queued envelope: the message plus its reply slot.
        let envelope = std::mem::size_of::<caxton_runtime::Message>() as u64 + 16;
        let base = self.load.agent_budget_bytes + self.load.mailbox_capacity as u64 * envelope;
        match self.load.agent_kind {
            AgentKind::Native => base,
            AgentKind::Wasm => base + WASM_GUEST_BYTES,
            AgentKind::Mixed => base + WASM_GUEST_BYTES / 2,
        }
    }

    /// Refuses more agents than `available` bytes of memory hold (90 % of
    /// it, leaving the rest to the process and the system). `None` (memory
    /// unknown) passes.
    pub fn check_memory(&self, available: Option<u64>) -> Result<(), ConfigError> {
        let Some(available) = available else {
            return Ok(());
        };
        let per_agent = self.bytes_per_agent();
        let needed = per_agent.saturating_mul(self.load.agents as u64);
        if needed > available / 10 * 9 {
            return Err(ConfigError::TooManyAgents {
                agents: self.load.agents,
                per_agent,
                needed_mib: needed >> 20,
                available_mib: available >> 20,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn available_memory_is_known_on_linux() {
        assert!(super::available_memory().is_some_and(|bytes| bytes > 0));
    }
}
