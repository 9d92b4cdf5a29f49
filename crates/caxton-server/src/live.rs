//! Counting what is open (connections, sessions) against a limit, and
//! waiting for it all to close during a drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A count of open things with a limit; a slot is held by a [`Slot`].
#[derive(Debug, Default)]
pub struct Live {
    n: AtomicUsize,
    zero: Notify,
}

/// One open thing; dropping it closes its slot.
#[derive(Debug)]
pub struct Slot(Arc<Live>);

impl Live {
    /// Takes a slot unless `limit` are taken (never over the limit, even
    /// with many callers at once).
    pub fn try_enter(self: &Arc<Self>, limit: usize) -> Option<Slot> {
        self.n
            .try_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .ok()
            .map(|_| Slot(self.clone()))
    }

    /// Takes a slot, whatever the count.
    pub fn enter(self: &Arc<Self>) -> Slot {
        self.n.fetch_add(1, Ordering::AcqRel);
        Slot(self.clone())
    }

    /// How many are open.
    pub fn count(&self) -> usize {
        self.n.load(Ordering::Acquire)
    }

    /// Completes when none are open.
    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_never_pass_the_limit_and_free_on_drop() {
        let live = Arc::new(Live::default());
        let a = live.try_enter(2).unwrap();
        let _b = live.try_enter(2).unwrap();
        assert!(live.try_enter(2).is_none());
        drop(a);
        assert_eq!(live.count(), 1);
        assert!(live.try_enter(2).is_some());
    }
}
