//! A small pool of empty message buffers, shared by every mailbox.
//!
//! An agent that parks on an empty mailbox gives its message buffers back,
//! so an idle agent holds none (docs/profiling.md). Without a pool the next
//! message to it allocates a fresh buffer on the sender's thread, which the
//! agent's worker frees again when it parks: a cross-thread malloc and free
//! per wake-up, the largest cost a fan-out added over raw tokio
//! (docs/peers.md, item 1). Parking agents put their small buffers here and
//! senders pushing into an empty mailbox take them back, so a busy process
//! recycles a few buffers instead.
//!
//! Bounded: at most [`SPARE_BUFFERS`] buffers of at most [`SPARE_SLOTS`]
//! elements each, whatever the number of agents. It never waits: when
//! another thread holds the pool, the caller skips it and uses the
//! allocator as before.

use std::collections::VecDeque;

/// Buffers a pool keeps at most.
pub(crate) const SPARE_BUFFERS: usize = 32;

/// Elements a buffer may hold to be kept: the smallest buffer a `VecDeque`
/// of 128-byte envelopes allocates. Larger ones, left by bursts, are freed.
pub(crate) const SPARE_SLOTS: usize = 4;

/// A bounded pool of empty `VecDeque` buffers that never blocks.
pub(crate) struct Spare<T> {
    buffers: std::sync::Mutex<Vec<VecDeque<T>>>,
}

impl<T> Spare<T> {
    /// An empty pool (allocates on first use).
    pub(crate) const fn new() -> Self {
        Self {
            buffers: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// An empty buffer from the pool, when it has one and no other thread
    /// holds it.
    pub(crate) fn take(&self) -> Option<VecDeque<T>> {
        if cfg!(loom) {
            // Under loom the pool is off: its lock is std's, outside the model.
            return None;
        }
        self.buffers.try_lock().ok()?.pop()
    }

    /// Keeps an empty buffer, or frees it (after unlocking) when the pool is
    /// full or busy or the buffer is not a small one.
    pub(crate) fn give(&self, buffer: VecDeque<T>) {
        debug_assert!(buffer.is_empty(), "only empty buffers are recycled");
        if cfg!(loom) || !buffer.is_empty() || buffer.capacity() == 0 || buffer.capacity() > SPARE_SLOTS {
            return;
        }
        if let Ok(mut pool) = self.buffers.try_lock()
            && pool.len() < SPARE_BUFFERS
        {
            if pool.capacity() == 0 {
                pool.reserve_exact(SPARE_BUFFERS);
            }
            pool.push(buffer);
        }
    }

    #[cfg(all(test, not(loom)))]
    fn len(&self) -> usize {
        self.buffers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn keeps_small_empty_buffers_up_to_its_bound() {
        let pool = Spare::<[u8; 128]>::new();
        assert!(pool.take().is_none());
        pool.give(VecDeque::new()); // nothing to keep
        pool.give(VecDeque::with_capacity(64)); // a burst's buffer: freed
        assert_eq!(pool.len(), 0);
        for _ in 0..SPARE_BUFFERS + 10 {
            pool.give(VecDeque::with_capacity(SPARE_SLOTS));
        }
        assert_eq!(pool.len(), SPARE_BUFFERS);
        for _ in 0..SPARE_BUFFERS {
            let b = pool.take().expect("a kept buffer");
            assert!(b.is_empty() && b.capacity() == SPARE_SLOTS);
        }
        assert!(pool.take().is_none());
    }

    #[test]
    fn never_waits_for_a_held_pool() {
        let pool = Spare::<u64>::new();
        pool.give(VecDeque::with_capacity(SPARE_SLOTS));
        let held = pool.buffers.lock().unwrap();
        // Another thread holds it: both sides go around it at once.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(pool.take().is_none());
                pool.give(VecDeque::with_capacity(SPARE_SLOTS));
            });
        });
        drop(held);
        assert_eq!(pool.len(), 1, "the buffer given while held was freed, not queued");
    }
}
