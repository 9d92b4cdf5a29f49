//! Identifiers for agents, messages and conversations.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Identifies one agent for the lifetime of an orchestrator.
///
/// Ids are handed out in increasing order and never reused, so an id below
/// the orchestrator's counter that is no longer registered names an agent
/// that has stopped.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(NonZeroU64);

impl AgentId {
    /// Builds an id from its raw value; `None` for zero, which is never an id.
    pub const fn new(raw: u64) -> Option<Self> {
        match NonZeroU64::new(raw) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The raw numeric value.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent#{}", self.0)
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent#{}", self.0)
    }
}

/// Identifies one message; unique within a process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(NonZeroU64);

/// Ids are taken from the global counter in blocks of this size, so threads
/// that send concurrently do not contend on one cache line per message.
const ID_BLOCK: u64 = 1024;
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static ID_RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl MessageId {
    /// A fresh id, unique within this process.
    pub fn next() -> Self {
        let raw = ID_RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
                end = next + ID_BLOCK;
            }
            range.set((next + 1, end));
            next
        });
        // The counter starts at 1 and only grows, so `raw` is never zero.
        Self(NonZeroU64::new(raw).expect("message id counter wrapped"))
    }

    /// Builds an id from its raw value; `None` for zero.
    pub const fn new(raw: u64) -> Option<Self> {
        match NonZeroU64::new(raw) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The raw numeric value.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "msg#{}", self.0)
    }
}

/// Groups the messages of one conversation (a request and its replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub NonZeroU64);

impl ConversationId {
    /// A fresh conversation id, unique within this process.
    pub fn next() -> Self {
        Self(MessageId::next().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..5000).map(|_| MessageId::next().get()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|&v| v != 0));
    }

    #[test]
    fn zero_is_not_an_id() {
        assert!(AgentId::new(0).is_none());
        assert_eq!(AgentId::new(7).unwrap().get(), 7);
    }
}
