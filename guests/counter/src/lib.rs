//! Counter guest: counts messages; `count` replies with the count (8 bytes
//! little-endian), `trap` executes `unreachable` (the words are
//! `caxton_abi::guests::counter`'s). The count is its checkpointed state.
use caxton_abi::guests::counter::{COUNT, TRAP};
use caxton_guest::{Agent, Incoming, performative, reply};

#[derive(Default)]
struct Counter {
    count: u64,
}

impl Agent for Counter {
    fn handle(&mut self, msg: &Incoming<'_>) -> Result<(), u32> {
        match msg.payload {
            COUNT => reply(performative::INFORM, &self.count.to_le_bytes()),
            TRAP => core::arch::wasm32::unreachable(),
            _ => self.count += 1,
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Option<Vec<u8>> {
        Some(self.count.to_le_bytes().to_vec())
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), u32> {
        self.count = u64::from_le_bytes(state.try_into().map_err(|_| 1u32)?);
        Ok(())
    }
}

caxton_guest::export_agent!(Counter);
