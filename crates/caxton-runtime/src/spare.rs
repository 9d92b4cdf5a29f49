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
//! Each thread keeps a few buffers of its own in front of the shared pool
//! ([`LOCAL_BUFFERS`]): a request/reply between tasks on one worker gives a
//! buffer back and takes it again on the same thread, and the shared pool's
//! two lock round trips per message were about 3 % of that round trip (an
//! interleaved request/reply loop, median of 15: 1.51-1.54x raw tokio
//! before, 1.47-1.49x after). Buffers given back on one thread and taken on
//! another (a producer outside the runtime) go through the shared pool, as
//! before.
//!
//! Bounded: at most [`SPARE_BUFFERS`] shared buffers plus [`LOCAL_BUFFERS`]
//! per thread, of at most [`SPARE_SLOTS`] elements each, whatever the
//! number of agents. It never waits: when another thread holds the shared
//! pool, the caller skips it and uses the allocator as before.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::thread::LocalKey;

/// Buffers the shared pool keeps at most.
pub(crate) const SPARE_BUFFERS: usize = 32;

/// Buffers each thread keeps at most in front of the shared pool.
pub(crate) const LOCAL_BUFFERS: usize = 4;

/// Elements a buffer may hold to be kept: the smallest buffer a `VecDeque`
/// of 128-byte envelopes allocates. Larger ones, left by bursts, are freed.
pub(crate) const SPARE_SLOTS: usize = 4;

/// A thread's own buffers (declare one with `thread_local!`, const-initialised
/// to an empty `Vec`, per pool).
pub(crate) type Local<T> = RefCell<Vec<VecDeque<T>>>;

/// A bounded pool of empty `VecDeque` buffers that never blocks.
pub(crate) struct Spare<T: 'static> {
    buffers: std::sync::Mutex<Vec<VecDeque<T>>>,
    local: &'static LocalKey<Local<T>>,
}

impl<T: 'static> Spare<T> {
    /// An empty pool (allocates on first use) whose threads keep their own
    /// buffers in `local`.
    pub(crate) const fn new(local: &'static LocalKey<Local<T>>) -> Self {
        Self {
            buffers: std::sync::Mutex::new(Vec::new()),
            local,
        }
    }

    /// An empty buffer: the calling thread's own, else one from the shared
    /// pool when it has one and no other thread holds it.
    pub(crate) fn take(&self) -> Option<VecDeque<T>> {
        if cfg!(loom) {
            // Under loom the pool is off: its lock is std's, outside the model.
            return None;
        }
        // `try_with`: a thread being torn down has no local buffers left.
        if let Ok(Some(buffer)) = self.local.try_with(|l| l.borrow_mut().pop()) {
            return Some(buffer);
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
        let buffer = match self.local.try_with(|l| {
            let mut local = l.borrow_mut();
            if local.len() < LOCAL_BUFFERS {
                if local.capacity() == 0 {
                    local.reserve_exact(LOCAL_BUFFERS);
                }
                local.push(buffer);
                None
            } else {
                Some(buffer)
            }
        }) {
            Ok(None) => return,
            Ok(Some(buffer)) => buffer,
            // The thread is being torn down: the buffer was freed.
            Err(_) => return,
        };
        if let Ok(mut pool) = self.buffers.try_lock()
            && pool.len() < SPARE_BUFFERS
        {
            if pool.capacity() == 0 {
                pool.reserve_exact(SPARE_BUFFERS);
            }
            pool.push(buffer);
        }
    }

    /// Frees every shared buffer and the calling thread's own (other
    /// threads' own buffers are freed when they end).
    pub(crate) fn release(&self) {
        let shared = std::mem::take(&mut *self.buffers.lock().unwrap_or_else(|p| p.into_inner()));
        drop(shared);
        let _ = self.local.try_with(|l| std::mem::take(&mut *l.borrow_mut()));
    }

    #[cfg(all(test, not(loom)))]
    fn len(&self) -> usize {
        self.buffers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    thread_local! {
        static BYTES: Local<[u8; 128]> = const { RefCell::new(Vec::new()) };
        static WORDS: Local<u64> = const { RefCell::new(Vec::new()) };
    }

    fn local_len<T>(key: &'static LocalKey<Local<T>>) -> usize {
        key.with(|l| l.borrow().len())
    }

    #[test]
    fn keeps_small_empty_buffers_up_to_its_bounds() {
        let pool = Spare::<[u8; 128]>::new(&BYTES);
        assert!(pool.take().is_none());
        pool.give(VecDeque::new()); // nothing to keep
        pool.give(VecDeque::with_capacity(64)); // a burst's buffer: freed
        assert_eq!((local_len(&BYTES), pool.len()), (0, 0));
        for _ in 0..LOCAL_BUFFERS + SPARE_BUFFERS + 10 {
            pool.give(VecDeque::with_capacity(SPARE_SLOTS));
        }
        assert_eq!(local_len(&BYTES), LOCAL_BUFFERS, "the thread's own first");
        assert_eq!(pool.len(), SPARE_BUFFERS, "then the shared pool, the rest freed");
        pool.release();
        assert_eq!((local_len(&BYTES), pool.len()), (0, 0), "release frees both");
        for _ in 0..LOCAL_BUFFERS + SPARE_BUFFERS + 10 {
            pool.give(VecDeque::with_capacity(SPARE_SLOTS));
        }
        for _ in 0..LOCAL_BUFFERS + SPARE_BUFFERS {
            let b = pool.take().expect("a kept buffer");
            assert!(b.is_empty() && b.capacity() == SPARE_SLOTS);
        }
        assert!(pool.take().is_none());
    }

    #[test]
    fn another_thread_takes_from_the_shared_pool() {
        let pool = Spare::<u64>::new(&WORDS);
        for _ in 0..LOCAL_BUFFERS + 1 {
            pool.give(VecDeque::with_capacity(SPARE_SLOTS));
        }
        assert_eq!(pool.len(), 1);
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(pool.take().is_some(), "the shared buffer");
                assert!(pool.take().is_none(), "not another thread's own");
            });
        });
        assert_eq!(local_len(&WORDS), LOCAL_BUFFERS);
    }

    #[test]
    fn never_waits_for_a_held_pool() {
        let pool = Spare::<u64>::new(&WORDS);
        pool.give(VecDeque::with_capacity(SPARE_SLOTS));
        let shared_before = pool.len();
        let held = pool.buffers.lock().unwrap();
        // Another thread holds it: both sides go around it at once.
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..LOCAL_BUFFERS + 1 {
                    pool.give(VecDeque::with_capacity(SPARE_SLOTS));
                }
                for _ in 0..LOCAL_BUFFERS {
                    assert!(pool.take().is_some(), "the thread's own");
                }
                assert!(pool.take().is_none());
            });
        });
        drop(held);
        assert_eq!(
            pool.len(),
            shared_before,
            "the buffer given while held was freed, not queued"
        );
    }
}
