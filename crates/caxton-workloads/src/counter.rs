//! The tiny native stateful agent the memory profiles run: a counter whose
//! state is checkpointed with serde, and its memory-profile kind.

use bytes::Bytes;
use caxton_profiling::memory::AgentKind;
use caxton_runtime::AgentSpec;
use caxton_runtime::checkpoint::{decode, encode};
use caxton_runtime::{Agent, AgentError, Context, Message, Performative};
use serde::{Deserialize, Serialize};

/// Payload that asks a [`CounterAgent`] for its count.
pub const COUNT_QUERY: &[u8] = b"count";

/// What a [`CounterAgent`] keeps, and what its checkpoints hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterState {
    /// Messages counted.
    pub count: u64,
    /// Payload bytes seen in the counted messages.
    pub payload_bytes: u64,
}

/// Counts every message; replies to [`COUNT_QUERY`] with its count as a
/// little-endian `u64`.
#[derive(Debug, Default)]
pub struct CounterAgent {
    state: CounterState,
}

impl CounterAgent {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Its state.
    pub fn state(&self) -> CounterState {
        self.state
    }
}

/// The memory-profile kind of [`CounterAgent`] (`native-counter`).
pub fn native_counter_kind() -> AgentKind {
    let spec = AgentSpec::new(CounterAgent::new);
    AgentKind::new("native-counter", move |orch| orch.spawn(spec.clone()))
}

impl Agent for CounterAgent {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if &msg.payload[..] == COUNT_QUERY {
            return ctx
                .reply(
                    Performative::Inform,
                    Bytes::copy_from_slice(&self.state.count.to_le_bytes()),
                )
                .map_err(|e| AgentError::handler(e.to_string()));
        }
        self.state.count += 1;
        self.state.payload_bytes += msg.payload.len() as u64;
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Option<Bytes>, AgentError> {
        encode(&self.state).map(Some)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.state = decode(state)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_a_checkpoint() {
        let mut a = CounterAgent {
            state: CounterState {
                count: 7,
                payload_bytes: 112,
            },
        };
        let bytes = a.snapshot().unwrap().unwrap();
        let mut b = CounterAgent::new();
        b.restore(&bytes).unwrap();
        assert_eq!(b.state(), a.state());
    }
}
