//! Request deadlines without a tokio timer per request.
//!
//! A tokio timer registered and cancelled per request cost about a third
//! of an in-process request/reply round trip (suite p50 0.9 us with it,
//! 0.58 us without; `caxton-perf run --only latency`). Most requests are
//! answered long before their deadline, so [`WithDeadline`] files nothing
//! at first: a request still pending yields once (tokio's `yield_now`, a
//! wake-up the scheduler defers until it has run the other ready tasks,
//! such as the agent the request just woke), and only one still pending
//! after that files its deadline here: one uncontended lock to file it,
//! one to withdraw it. An agent on the requester's worker answers before
//! the deferred wake-up, so such a request files nothing: the deadline's
//! share of a round trip went from 0.10-0.12 of raw tokio's (about 45 ns
//! on the project's VM) to 0.02 with the yield (`cargo run --release -p
//! caxton-workloads --example request_reply_breakdown`). A withdrawn deadline stays in the heap until it
//! comes due or the heap is compacted (when it holds more than twice the
//! live deadlines), so filing never searches. One thread per orchestrator,
//! started with the first deadline filed, sleeps until the earliest
//! deadline and wakes the requests whose time is up; it ends with the
//! orchestrator.
//!
//! The due time is read when the request is made, so the yield delays
//! only the filing, not the deadline: a deadline is met to within the
//! thread's wake-up latency (tens of microseconds when idle, more on a
//! loaded machine), never early. (A worker busy with other tasks runs its
//! deferred wake-ups at its next maintenance, every 61 task polls by
//! default, so the filing is never put off for long.)

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The deadlines of one orchestrator's pending requests.
#[derive(Default)]
pub(crate) struct Deadlines {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Live deadlines by key; `None` marks a free key.
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    live: usize,
    /// (due, key, generation), earliest first; withdrawn ones linger.
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    generation: u64,
    /// What the thread sleeps until (`None`: not started, or no deadline).
    sleeping_until: Option<Instant>,
    started: bool,
    closed: bool,
}

struct Slot {
    generation: u64,
    waker: Waker,
    expired: bool,
}

/// A filed deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ticket {
    key: usize,
    generation: u64,
}

impl Deadlines {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Files a deadline: `waker` is woken once `due` has passed.
    fn file(&self, due: Instant, waker: &Waker) -> Ticket {
        let mut st = self.lock();
        st.generation += 1;
        let generation = st.generation;
        let slot = Slot {
            generation,
            waker: waker.clone(),
            expired: false,
        };
        let key = match st.free.pop() {
            Some(key) => {
                st.slots[key] = Some(slot);
                key
            }
            None => {
                st.slots.push(Some(slot));
                st.slots.len() - 1
            }
        };
        st.live += 1;
        st.heap.push(Reverse((due, key, generation)));
        let start = !st.started;
        st.started = true;
        // The thread must look again when it sleeps past this deadline.
        let notify = !start && st.sleeping_until.is_none_or(|at| due < at);
        drop(st);
        if start {
            self.start();
        } else if notify {
            self.shared.wake.notify_one();
        }
        Ticket { key, generation }
    }

    /// Whether the deadline has passed; if not, `waker` is the one to wake.
    fn expired(&self, ticket: Ticket, waker: &Waker) -> bool {
        let mut st = self.lock();
        match st.slots.get_mut(ticket.key).and_then(Option::as_mut) {
            Some(slot) if slot.generation == ticket.generation => {
                if !slot.expired && !slot.waker.will_wake(waker) {
                    slot.waker = waker.clone();
                }
                slot.expired
            }
            _ => true,
        }
    }

    /// Withdraws a deadline (answered, or given up).
    fn withdraw(&self, ticket: Ticket) {
        let mut st = self.lock();
        let mine = st
            .slots
            .get(ticket.key)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.generation == ticket.generation);
        if !mine {
            return;
        }
        st.slots[ticket.key] = None;
        st.free.push(ticket.key);
        st.live -= 1;
        // Withdrawn deadlines linger in the heap: drop them once they
        // outnumber the live ones (amortised O(1) per deadline).
        if st.heap.len() > 2 * st.live + 64 {
            let State { heap, slots, .. } = &mut *st;
            heap.retain(|Reverse((_, key, generation))| {
                slots[*key].as_ref().is_some_and(|s| s.generation == *generation)
            });
        }
    }

    fn start(&self) {
        let shared = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("caxton-deadlines".into())
            .spawn(move || run(shared));
        if spawned.is_err() {
            // No thread: deadlines would never fire. Let the next filing
            // try again rather than hang a request.
            self.lock().started = false;
        }
    }
}

impl Drop for Deadlines {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The thread: wakes each request whose deadline passed, sleeps until the
/// next one; ends when the orchestrator is gone.
fn run(shared: std::sync::Weak<Shared>) {
    let mut due_wakers: Vec<Waker> = Vec::new();
    loop {
        let Some(shared) = shared.upgrade() else { return };
        let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.closed {
                return;
            }
            let now = Instant::now();
            while let Some(&Reverse((due, key, generation))) = st.heap.peek() {
                let live = st.slots[key].as_ref().is_some_and(|s| s.generation == generation);
                if live && due > now {
                    break;
                }
                st.heap.pop();
                if live && let Some(slot) = st.slots[key].as_mut() {
                    slot.expired = true;
                    due_wakers.push(slot.waker.clone());
                }
            }
            if !due_wakers.is_empty() {
                break;
            }
            let next = st.heap.peek().map(|Reverse((due, _, _))| *due);
            st.sleeping_until = next;
            st = match next {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    shared.wake.wait_timeout(st, wait).unwrap_or_else(|p| p.into_inner()).0
                }
                None => shared.wake.wait(st).unwrap_or_else(|p| p.into_inner()),
            };
            st.sleeping_until = None;
        }
        drop(st);
        drop(shared);
        // Woken outside the lock: a waker may run code, and one that
        // panics must not stop the thread every deadline depends on.
        for waker in due_wakers.drain(..) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
        }
    }
}

/// `future`, given up (`Err(Elapsed)`) once `due` passes; `due == None`
/// waits as long as it takes. Files its deadline only if the future is
/// still pending after its first poll and one yield (module docs).
pub(crate) struct WithDeadline<'a, F> {
    future: F,
    due: Option<Instant>,
    deadlines: &'a Deadlines,
    filing: Filing,
}

/// How far a [`WithDeadline`] has gone towards filing its deadline.
#[derive(Clone, Copy)]
enum Filing {
    /// Not polled yet.
    NotYet,
    /// Pending once; the task yielded instead of filing.
    Yielded,
    /// Pending after the yield too: the deadline is filed.
    Filed(Ticket),
}

/// A [`WithDeadline`] whose time ran out.
#[derive(Debug)]
pub(crate) struct Elapsed;

impl<'a, F: Future + Unpin> WithDeadline<'a, F> {
    pub(crate) fn new(deadlines: &'a Deadlines, due: Option<Instant>, future: F) -> Self {
        Self {
            future,
            due,
            deadlines,
            filing: Filing::NotYet,
        }
    }
}

impl<F: Future + Unpin> Future for WithDeadline<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.future).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let Some(due) = this.due else {
            return Poll::Pending;
        };
        match this.filing {
            Filing::NotYet => {
                // The scheduler wakes the task again once it has run its
                // other ready tasks (outside a tokio runtime: at once).
                this.filing = Filing::Yielded;
                let _ = std::pin::pin!(tokio::task::yield_now()).poll(cx);
                Poll::Pending
            }
            Filing::Yielded => {
                // No clock read here: a deadline already past is simply
                // due at once for the thread.
                this.filing = Filing::Filed(this.deadlines.file(due, cx.waker()));
                Poll::Pending
            }
            Filing::Filed(ticket) if this.deadlines.expired(ticket, cx.waker()) => Poll::Ready(Err(Elapsed)),
            Filing::Filed(_) => Poll::Pending,
        }
    }
}

impl<F> Drop for WithDeadline<'_, F> {
    fn drop(&mut self) {
        if let Filing::Filed(ticket) = self.filing {
            self.deadlines.withdraw(ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pending_future_gives_up_at_its_deadline_and_not_before() {
        let deadlines = Deadlines::default();
        let start = Instant::now();
        let due = start + Duration::from_millis(30);
        let out = WithDeadline::new(&deadlines, Some(due), std::future::pending::<()>()).await;
        assert!(out.is_err());
        assert!(Instant::now() >= due, "never early");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ready_future_files_nothing_and_an_answered_one_withdraws() {
        let deadlines = Deadlines::default();
        let due = Some(Instant::now() + Duration::from_secs(60));
        assert_eq!(
            WithDeadline::new(&deadlines, due, std::future::ready(7)).await.unwrap(),
            7
        );
        assert_eq!(deadlines.lock().heap.len(), 0, "a ready future files nothing");
        for i in 0..1000u32 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                let _ = tx.send(i);
            });
            assert_eq!(WithDeadline::new(&deadlines, due, rx).await.unwrap().unwrap(), i);
        }
        let st = deadlines.lock();
        assert_eq!(st.live, 0, "every answered request withdrew its deadline");
        assert!(
            st.heap.len() <= 64 + 2,
            "withdrawn deadlines are compacted: {}",
            st.heap.len()
        );
    }

    #[tokio::test]
    async fn a_request_answered_by_a_task_on_its_worker_files_nothing() {
        let deadlines = Arc::new(Deadlines::default());
        let d = deadlines.clone();
        tokio::spawn(async move {
            let due = Some(Instant::now() + Duration::from_secs(60));
            for i in 0..1000u32 {
                let (tx, rx) = tokio::sync::oneshot::channel();
                tokio::spawn(async move {
                    let _ = tx.send(i);
                });
                assert_eq!(WithDeadline::new(&d, due, rx).await.unwrap().unwrap(), i);
            }
        })
        .await
        .unwrap();
        // The answering task, queued first, runs before the requester's
        // deferred wake-up (none filed in runs here; the bound leaves room
        // for a scheduler that orders them otherwise now and then, far
        // from the 1000 a request filing at its first pending poll makes).
        let filed = deadlines.lock().generation;
        assert!(filed <= 250, "{filed} of 1000 answered requests filed a deadline");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_earlier_deadline_filed_later_still_fires_first() {
        let deadlines = Arc::new(Deadlines::default());
        let far = Some(Instant::now() + Duration::from_secs(60));
        let d = deadlines.clone();
        let long = tokio::spawn(async move {
            let _ = WithDeadline::new(&d, far, std::future::pending::<()>()).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let near = Instant::now() + Duration::from_millis(20);
        let out = WithDeadline::new(&deadlines, Some(near), std::future::pending::<()>()).await;
        assert!(out.is_err() && Instant::now() >= near);
        long.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_deadlines_in_any_order_each_fire_once() {
        let deadlines = Arc::new(Deadlines::default());
        let start = Instant::now();
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                let d = deadlines.clone();
                // Out of order, some already past.
                let due = start + Duration::from_millis((i * 7919) % 50);
                tokio::spawn(async move {
                    let out = WithDeadline::new(&d, Some(due), std::future::pending::<()>()).await;
                    out.is_err() && Instant::now() >= due
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "given up at its deadline, not before");
        }
        let st = deadlines.lock();
        assert_eq!(st.live, 0);
    }

    #[test]
    fn the_thread_ends_with_its_deadlines() {
        let deadlines = Deadlines::default();
        let waker = Waker::noop();
        let ticket = deadlines.file(Instant::now() + Duration::from_secs(3600), waker);
        deadlines.withdraw(ticket);
        let weak = Arc::downgrade(&deadlines.shared);
        drop(deadlines);
        for _ in 0..500 {
            if weak.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("the deadline thread still holds its state");
    }
}
