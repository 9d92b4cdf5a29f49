//! Payloads that cost nothing to clone, so workloads measure routing rather
//! than allocation.

use bytes::Bytes;

/// First payload byte of the last message a workload sends to an agent.
pub const LAST: u8 = 1;
/// First payload byte of every other message.
pub const MORE: u8 = 0;

/// A pair of static payloads of one size: `more` for most messages, `last`
/// to mark an agent's final message of a run. Cloning either is free
/// (no reference count).
#[derive(Clone, Debug)]
pub struct Payloads {
    /// Payload of every message but an agent's last.
    pub more: Bytes,
    /// Payload of an agent's last message in a run.
    pub last: Bytes,
}

impl Payloads {
    /// Payloads of `size` bytes (at least one byte for the marker).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        let make = |first: u8| {
            let mut v = vec![0xA5u8; size];
            v[0] = first;
            // Leaked once per workload setup so clones need no refcount.
            Bytes::from_static(Box::leak(v.into_boxed_slice()))
        };
        Self {
            more: make(MORE),
            last: make(LAST),
        }
    }

    /// Whether a payload marks the last message.
    pub fn is_last(payload: &[u8]) -> bool {
        payload.first() == Some(&LAST)
    }
}
