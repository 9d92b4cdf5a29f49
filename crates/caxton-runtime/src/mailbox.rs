//! Bounded per-agent mailboxes.
//!
//! A mailbox is a `VecDeque` behind one short-lived lock. Producers push one
//! message per lock; the owning agent swaps the whole queue out per lock, so
//! one wake-up hands it a batch. The lock also holds the agent's waker, so a
//! producer wakes the agent only when it was parked on an empty queue: an
//! idle agent costs no CPU and a busy one is never woken twice.
//!
//! The bound counts messages *accepted and not yet handled* (queued plus the
//! rest of the batch in hand), so a mailbox never holds more than its
//! capacity (at most `2^31 - 1`). A fresh mailbox allocates nothing; its
//! buffer grows on first use, and an agent that parks on an empty mailbox
//! gives its buffers back, to a small process-wide pool (`SPARE`) that the
//! next push into an empty mailbox takes from: an idle agent holds no
//! message buffer. What is rarely used (blocked senders, controls, exit
//! waiters) lives in one box allocated on first use and dropped once empty.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use caxton_core::Message;
use tokio::sync::oneshot;

use crate::checkpoint::Checkpoint;
use crate::error::{AgentError, CheckpointError};
use crate::spare::Spare;
// std's `Mutex`/`AtomicU32`, or loom's under `--cfg loom` (`loom_tests`).
use crate::sync::{AtomicU32, Mutex, MutexGuard};

/// Where a reply to a request made from outside any agent goes.
pub(crate) type ReplySender = oneshot::Sender<Result<Message, String>>;

/// A message in a mailbox, with the reply slot of a pending request.
pub(crate) struct Envelope {
    pub(crate) msg: Message,
    pub(crate) reply: Option<ReplySender>,
}

/// Out-of-band commands, run by the agent between batches.
pub(crate) enum Control {
    Checkpoint(oneshot::Sender<Result<Checkpoint, CheckpointError>>),
    Restore(Checkpoint, oneshot::Sender<Result<(), CheckpointError>>),
}

/// Why a push was refused; the envelope is handed back unboxed, so a full
/// mailbox (the backpressure path) costs no allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PushError {
    Full(Envelope),
    Closed(Envelope),
}

/// What the agent got from one `poll_batch`.
pub(crate) enum Batch {
    /// Messages were moved into the caller's buffer, and these controls
    /// (usually none: an empty `Vec` allocates nothing) are to run after
    /// them.
    Ready(Vec<Control>),
    /// The mailbox is closed and empty: the agent should exit.
    Closed,
}

struct State {
    queue: VecDeque<Envelope>,
    consumer: Option<Waker>,
    /// Allocated on first use; dropped by `poll_batch` once empty.
    cold: Option<Box<Cold>>,
    /// Accepted and not yet handled: `queue.len()` plus the batch in hand.
    pending: u32,
    /// The highest `pending` seen, and [`CLOSED`] once closed (one word
    /// for both keeps the state at 64 bytes).
    high_water_closed: u32,
}

/// The closed flag in `State::high_water_closed`; capacities stay below it.
const CLOSED: u32 = 1 << 31;

/// The mailbox's rarely used parts.
#[derive(Default)]
struct Cold {
    blocked_senders: Vec<Waker>,
    controls: Vec<Control>,
    on_exit: Vec<oneshot::Sender<()>>,
}

impl State {
    fn closed(&self) -> bool {
        self.high_water_closed & CLOSED != 0
    }

    fn close(&mut self) {
        self.high_water_closed |= CLOSED;
    }

    fn high_water(&self) -> u32 {
        self.high_water_closed & !CLOSED
    }

    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Takes the blocked senders' wakers out (to wake after unlocking).
    fn take_senders(&mut self) -> Vec<Waker> {
        self.cold
            .as_mut()
            .map(|c| std::mem::take(&mut c.blocked_senders))
            .unwrap_or_default()
    }

    fn take_controls(&mut self) -> Vec<Control> {
        self.cold
            .as_mut()
            .map(|c| std::mem::take(&mut c.controls))
            .unwrap_or_default()
    }

    fn has_controls(&self) -> bool {
        self.cold.as_ref().is_some_and(|c| !c.controls.is_empty())
    }

    /// The cold box, if it holds nothing any more (to drop after unlocking).
    fn take_empty_cold(&mut self) -> Option<Box<Cold>> {
        match &self.cold {
            Some(c) if c.blocked_senders.is_empty() && c.controls.is_empty() && c.on_exit.is_empty() => {
                self.cold.take()
            }
            _ => None,
        }
    }
}

/// Empty buffers given back by parked agents, for the next push into an
/// empty mailbox (`crate::spare`; at most 16 KiB shared by the process plus
/// 2 KiB per thread).
static SPARE: Spare<Envelope> = Spare::new(&SPARE_HERE);

/// Frees the empty message buffers kept for reuse: the process's shared
/// pool and the calling thread's own (at most 16 KiB plus 2 KiB). For
/// measurements of heap growth, so that buffers left by earlier, unrelated
/// work are not freed inside a measured phase and counted against it.
pub fn release_spare_buffers() {
    SPARE.release();
}

std::thread_local! {
    /// This thread's own buffers in front of `SPARE`.
    static SPARE_HERE: crate::spare::Local<Envelope> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Wakers of blocked senders kept before they are all woken (see
/// `poll_push`).
const MAX_BLOCKED_SENDERS: usize = 1024;

/// A bounded, batching, multi-producer single-consumer mailbox.
pub(crate) struct Mailbox {
    state: Mutex<State>,
    capacity: u32,
    /// Mirror of `pending` readable without the lock (least-loaded routing).
    depth: AtomicU32,
}

impl Mailbox {
    /// A mailbox of `capacity` messages (more than `2^31 - 1` counts as
    /// `2^31 - 1`: 256 GiB of queued envelopes).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                consumer: None,
                cold: None,
                pending: 0,
                high_water_closed: 0,
            }),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX).min(CLOSED - 1),
            depth: AtomicU32::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held (no user code runs
        // under it), but stay usable even if one did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Messages accepted and not yet handled.
    pub(crate) fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed) as usize
    }

    /// Highest `depth` seen so far.
    pub(crate) fn high_water(&self) -> usize {
        self.lock().high_water() as usize
    }

    /// Pushes without waiting.
    #[allow(clippy::result_large_err)] // see `PushError`
    pub(crate) fn try_push(&self, env: Envelope) -> Result<(), PushError> {
        let mut st = self.lock();
        if st.closed() {
            return Err(PushError::Closed(env));
        }
        if st.pending >= self.capacity {
            return Err(PushError::Full(env));
        }
        let waker = self.accept(&mut st, env);
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Pushes, or registers the caller to be woken when space frees up.
    /// `slot` holds the envelope until it is accepted.
    pub(crate) fn poll_push(&self, cx: &mut Context<'_>, slot: &mut Option<Envelope>) -> Poll<Result<(), PushError>> {
        let mut st = self.lock();
        let env = slot.take().expect("poll_push polled after completion");
        if st.closed() {
            return Poll::Ready(Err(PushError::Closed(env)));
        }
        if st.pending >= self.capacity {
            *slot = Some(env);
            // A sender polled again (e.g. beside a timer) is usually the
            // last one registered: do not list it twice.
            let waker = cx.waker();
            let blocked = &mut st.cold().blocked_senders;
            if !blocked.iter().rev().take(4).any(|w| w.will_wake(waker)) {
                blocked.push(waker.clone());
            }
            // Senders that gave up (a request's timeout) leave their waker
            // behind until the agent next takes a batch; with the agent
            // stuck that list would grow with every attempt. Past a bound,
            // wake them all: live ones register again, dead ones are gone.
            if blocked.len() > MAX_BLOCKED_SENDERS {
                let senders = std::mem::take(blocked);
                drop(st);
                for w in senders {
                    w.wake();
                }
            }
            return Poll::Pending;
        }
        let waker = self.accept(&mut st, env);
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }

    fn accept(&self, st: &mut State, env: Envelope) -> Option<Waker> {
        // The gate's self-check (`scripts/gate-check.sh`): one heap
        // allocation per routed message, a known slowdown the PR gate must
        // flag. Off unless the `planted-slowdown` feature is asked for.
        #[cfg(feature = "planted-slowdown")]
        drop(std::hint::black_box(Box::new(st.pending)));
        // An empty mailbox gave its buffer back when its agent parked: take
        // a recycled one rather than allocate (`SPARE`).
        if st.queue.capacity() == 0
            && let Some(buffer) = SPARE.take()
        {
            st.queue = buffer;
        }
        st.queue.push_back(env);
        st.pending += 1;
        if st.pending > st.high_water() {
            st.high_water_closed = st.pending | (st.high_water_closed & CLOSED);
        }
        self.depth.store(st.pending, Ordering::Relaxed);
        st.consumer.take()
    }

    /// Queues a control command and wakes the agent. Refused (handed back)
    /// once the mailbox is closed and drained.
    #[allow(clippy::result_large_err)] // the control carries its reply slot
    pub(crate) fn push_control(&self, control: Control) -> Result<(), Control> {
        let mut st = self.lock();
        if st.closed() && st.pending == 0 {
            return Err(control);
        }
        st.cold().controls.push(control);
        let waker = st.consumer.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The agent's side: reports `handled` messages of the previous batch as
    /// done, then moves every queued message into `batch` (which must be
    /// empty; its buffer goes to the mailbox for the next messages) and
    /// hands over every control. Parks when there is nothing, giving back
    /// both buffers: an idle agent holds none.
    pub(crate) fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        handled: &mut usize,
        batch: &mut VecDeque<Envelope>,
    ) -> Poll<Batch> {
        debug_assert!(batch.is_empty());
        let mut st = self.lock();
        // `handled` never exceeds the batch, which never exceeds `pending`.
        st.pending -= std::mem::take(handled) as u32;
        self.depth.store(st.pending, Ordering::Relaxed);
        let senders = st.take_senders();
        let mut given_back = None;
        let result = if !st.queue.is_empty() || st.has_controls() {
            std::mem::swap(&mut st.queue, batch);
            Poll::Ready(Batch::Ready(st.take_controls()))
        } else if st.closed() {
            Poll::Ready(Batch::Closed)
        } else {
            if st.queue.capacity() > 0 || batch.capacity() > 0 {
                given_back = Some((std::mem::take(&mut st.queue), std::mem::take(batch)));
            }
            match &mut st.consumer {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        };
        let cold = st.take_empty_cold();
        drop(st);
        drop(cold);
        if let Some((queue, batch)) = given_back {
            SPARE.give(queue);
            SPARE.give(batch);
        }
        for w in senders {
            w.wake();
        }
        result
    }

    /// Stops accepting messages; the agent drains what was accepted and
    /// exits. Returns a receiver that fires when the agent has exited.
    pub(crate) fn close(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.lock();
        st.close();
        st.cold().on_exit.push(tx);
        let waker = st.consumer.take();
        let senders = st.take_senders();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        for w in senders {
            w.wake();
        }
        rx
    }

    /// Closes the mailbox and takes every queued message and control out,
    /// for an agent that failed or a shutdown past its deadline. Messages of
    /// the batch in hand stay with the agent, which is woken if parked so it
    /// sees `Batch::Closed` (even when `close` did not come first).
    pub(crate) fn close_and_take(&self) -> (VecDeque<Envelope>, Vec<Control>) {
        let mut st = self.lock();
        st.close();
        let queue = std::mem::take(&mut st.queue);
        st.pending -= queue.len() as u32;
        self.depth.store(st.pending, Ordering::Relaxed);
        let controls = st.take_controls();
        let waker = st.consumer.take();
        let senders = st.take_senders();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        for w in senders {
            w.wake();
        }
        (queue, controls)
    }

    /// Called by the agent as it exits: fires every `close` receiver.
    ///
    /// A failed agent exits with the rest of its batch unreported, so
    /// `pending` would stay above 0 and `push_control` (which refuses only
    /// once closed *and* drained) would keep accepting controls nobody will
    /// run, their requesters waiting forever. Nothing is in hand any more:
    /// zero the count, so later controls are refused, and drop the controls
    /// that slipped in since `close_and_take`, so their requesters see the
    /// agent gone (`CheckpointError::NotRunning`).
    pub(crate) fn exited(&self) {
        let mut st = self.lock();
        st.close();
        st.pending = 0;
        self.depth.store(0, Ordering::Relaxed);
        let cold = st.cold.take().map(|c| *c).unwrap_or_default();
        drop(st);
        let Cold {
            blocked_senders,
            controls: stranded,
            on_exit: waiters,
        } = cold;
        drop(stranded);
        for w in blocked_senders {
            w.wake();
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

impl Control {
    /// Answers a control that can no longer run because the agent is gone.
    pub(crate) fn refuse(self, agent: caxton_core::AgentId) {
        match self {
            Control::Checkpoint(tx) => {
                let _ = tx.send(Err(CheckpointError::NotRunning(agent)));
            }
            Control::Restore(_, tx) => {
                let _ = tx.send(Err(CheckpointError::NotRunning(agent)));
            }
        }
    }
}

/// Turns an agent hook error into the checkpoint error the caller sees.
pub(crate) fn hook_error(agent: caxton_core::AgentId, error: AgentError) -> CheckpointError {
    CheckpointError::Agent { agent, error }
}

/// Loom models of the mailbox protocol: every interleaving (up to a
/// preemption bound) of producers, the agent and closers, with loom's `Mutex`
/// and atomics behind `crate::sync`. The agent and blocked senders park in
/// `loom::future::block_on`, so a lost wake-up is a deadlock loom reports.
///
/// `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p caxton-runtime --release --lib loom_tests`
/// (`.ci/test`); `LOOM_MAX_PREEMPTIONS` overrides the bound of 3.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::VecDeque;
    use std::future::poll_fn;

    use caxton_core::{AgentId, Message};
    use loom::future::block_on;
    use loom::thread;
    use tokio::sync::oneshot::{self, error::TryRecvError};

    use super::{Batch, Control, Envelope, Mailbox, PushError};
    use crate::sync::Arc;

    fn model(f: impl Fn() + Send + Sync + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound.get_or_insert(3);
        builder.check(f);
    }

    fn env(tag: u8) -> Envelope {
        Envelope {
            msg: Message::inform(AgentId::new(1).unwrap(), vec![tag]),
            reply: None,
        }
    }

    fn tag(env: &Envelope) -> u8 {
        env.msg.payload[0]
    }

    /// `Ok(tag)` when the push accepted the message, `Err(tag)` when it
    /// handed that same message back.
    fn outcome(sent: u8, result: Result<(), PushError>) -> Result<u8, u8> {
        match result {
            Ok(()) => Ok(sent),
            Err(PushError::Full(back) | PushError::Closed(back)) => {
                assert_eq!(tag(&back), sent, "a refused push hands back its own message");
                Err(sent)
            }
        }
    }

    /// `poll_push` until it resolves, parked in between.
    fn push_blocking(mb: &Mailbox, sent: u8) -> Result<u8, u8> {
        let mut slot = Some(env(sent));
        let result = block_on(poll_fn(|cx| mb.poll_push(cx, &mut slot)));
        outcome(sent, result)
    }

    /// The agent's loop as the supervisor runs it: take a batch, handle it,
    /// report it done at the next poll, until `Batch::Closed`. Closes the
    /// mailbox itself after `close_after` messages. Returns the tags and
    /// controls it was handed.
    fn consume(mb: &Mailbox, mut close_after: Option<usize>) -> (Vec<u8>, Vec<Control>) {
        let (mut handled, mut batch) = (0, VecDeque::new());
        let (mut seen, mut all_controls) = (Vec::new(), Vec::new());
        loop {
            if close_after == Some(seen.len()) {
                close_after = None;
                drop(mb.close());
            }
            match block_on(poll_fn(|cx| mb.poll_batch(cx, &mut handled, &mut batch))) {
                Batch::Closed => return (seen, all_controls),
                Batch::Ready(mut controls) => {
                    for env in batch.drain(..) {
                        seen.push(tag(&env));
                        handled += 1;
                    }
                    all_controls.append(&mut controls);
                }
            }
        }
    }

    /// `got` holds exactly the `accepted` messages, each once.
    fn exactly_once(accepted: &[Result<u8, u8>], got: impl IntoIterator<Item = u8>) {
        let mut want: Vec<u8> = accepted.iter().filter_map(|r| r.ok()).collect();
        let mut got: Vec<u8> = got.into_iter().collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "every accepted message is taken exactly once");
    }

    /// Nothing accepted is left behind, the depth mirror agrees, the bound
    /// held throughout, and the closed mailbox refuses (hands back) pushes
    /// and controls.
    fn settled(mb: &Mailbox) {
        let st = mb.lock();
        assert_eq!(st.pending, 0, "pending returns to 0");
        assert!(st.queue.is_empty() && !st.has_controls());
        assert!(st.high_water() <= mb.capacity, "capacity exceeded");
        drop(st);
        assert_eq!(mb.depth(), 0);
        assert_eq!(outcome(9, mb.try_push(env(9))), Err(9));
        let (tx, _rx) = oneshot::channel();
        assert!(mb.push_control(Control::Checkpoint(tx)).is_err());
    }

    /// Two producers push while the agent is about to park: the agent sees
    /// both (a lost wake-up would leave it parked), reports them handled and
    /// sees `Closed` after its own `close()`.
    #[test]
    fn push_wakes_a_parking_agent() {
        model(|| {
            let mb = Arc::new(Mailbox::new(2));
            let producers: Vec<_> = (1..=2)
                .map(|t| {
                    let mb = mb.clone();
                    thread::spawn(move || outcome(t, mb.try_push(env(t))))
                })
                .collect();
            let (seen, _) = consume(&mb, Some(2));
            let accepted: Vec<_> = producers.into_iter().map(|p| p.join().unwrap()).collect();
            assert_eq!(accepted, [Ok(1), Ok(2)]);
            exactly_once(&accepted, seen);
            settled(&mb);
        });
    }

    /// `close()` races two pushes into a mailbox of capacity 1: each message
    /// is either handled by the agent or handed back (full or closed), the
    /// agent gets `Closed` once drained, and `exited()` fires the receiver.
    #[test]
    fn close_refuses_pushes_and_drains() {
        model(|| {
            let mb = Arc::new(Mailbox::new(1));
            let producer = {
                let mb = mb.clone();
                thread::spawn(move || [outcome(1, mb.try_push(env(1))), outcome(2, mb.try_push(env(2)))])
            };
            let closer = {
                let mb = mb.clone();
                thread::spawn(move || mb.close())
            };
            let (seen, _) = consume(&mb, None);
            mb.exited();
            let accepted = producer.join().unwrap();
            let mut exited = closer.join().unwrap();
            exactly_once(&accepted, seen);
            assert_eq!(exited.try_recv(), Ok(()));
            settled(&mb);
        });
    }

    /// A sender blocked on a full mailbox is woken when the agent frees space.
    #[test]
    fn blocked_sender_is_woken_by_space() {
        model(|| {
            let mb = Arc::new(Mailbox::new(1));
            assert_eq!(outcome(1, mb.try_push(env(1))), Ok(1));
            let sender = {
                let mb = mb.clone();
                thread::spawn(move || push_blocking(&mb, 2))
            };
            let (seen, _) = consume(&mb, Some(2));
            assert_eq!(sender.join().unwrap(), Ok(2));
            exactly_once(&[Ok(1), Ok(2)], seen);
            settled(&mb);
        });
    }

    /// A sender blocked on a full mailbox is woken when it closes, with no
    /// help from the agent (busy in a long handler): its message is handed
    /// back. The agent then drains what was accepted.
    #[test]
    fn blocked_sender_is_woken_by_close() {
        model(|| {
            let mb = Arc::new(Mailbox::new(1));
            assert_eq!(outcome(1, mb.try_push(env(1))), Ok(1));
            let sender = {
                let mb = mb.clone();
                thread::spawn(move || push_blocking(&mb, 2))
            };
            drop(mb.close());
            assert_eq!(sender.join().unwrap(), Err(2));
            let (seen, _) = consume(&mb, None);
            exactly_once(&[Ok(1)], seen);
            settled(&mb);
        });
    }

    /// Shutdown past its deadline: `close_and_take` from another thread
    /// races a push and the agent. Every accepted message is either handled
    /// or taken, once, and the agent, even parked, is woken and sees `Closed`.
    #[test]
    fn close_and_take_races_the_agent() {
        model(|| {
            let mb = Arc::new(Mailbox::new(2));
            let producer = {
                let mb = mb.clone();
                thread::spawn(move || outcome(1, mb.try_push(env(1))))
            };
            let taker = {
                let mb = mb.clone();
                thread::spawn(move || mb.close_and_take().0.iter().map(tag).collect::<Vec<_>>())
            };
            let (seen, _) = consume(&mb, None);
            mb.exited();
            let accepted = [producer.join().unwrap()];
            let taken = taker.join().unwrap();
            exactly_once(&accepted, seen.into_iter().chain(taken));
            settled(&mb);
        });
    }

    /// A failing agent: it takes one batch, then `close_and_take`s the rest
    /// and exits, while a sender blocks on the full mailbox and a control
    /// (`Orchestrator::checkpoint`) races in. Every accepted message ends up
    /// with the agent once; the blocked sender is released; the control is
    /// refused, handed to the agent, or dropped (its requester sees the
    /// agent gone), never left waiting in the mailbox.
    #[test]
    fn failing_agent_hands_everything_back() {
        model(|| {
            let mb = Arc::new(Mailbox::new(1));
            let producer = {
                let mb = mb.clone();
                thread::spawn(move || [push_blocking(&mb, 1), push_blocking(&mb, 2)])
            };
            let controller = {
                let mb = mb.clone();
                thread::spawn(move || {
                    let (tx, rx) = oneshot::channel();
                    (mb.push_control(Control::Checkpoint(tx)).is_ok(), rx)
                })
            };
            let mut batch = VecDeque::new();
            let first = block_on(poll_fn(|cx| mb.poll_batch(cx, &mut 0, &mut batch)));
            let Batch::Ready(controls) = first else {
                panic!("the first poll has the first message");
            };
            let (queued, more_controls) = mb.close_and_take();
            mb.exited();
            let accepted = producer.join().unwrap();
            let (control_accepted, mut reply) = controller.join().unwrap();
            exactly_once(&accepted, batch.iter().chain(&queued).map(tag));
            let handed = controls.len() + more_controls.len();
            assert!(handed <= 1);
            if control_accepted && handed == 0 {
                assert_eq!(reply.try_recv().err(), Some(TryRecvError::Closed), "control stranded");
            }
            settled(&mb);
        });
    }
}

/// The mends the loom models found, and the bound on blocked senders, as
/// plain tests.
#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    use caxton_core::{AgentId, Message};
    use tokio::sync::oneshot::{self, error::TryRecvError};

    use super::{Batch, Control, Envelope, MAX_BLOCKED_SENDERS, Mailbox};

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn env() -> Envelope {
        Envelope {
            msg: Message::inform(AgentId::new(1).unwrap(), "m"),
            reply: None,
        }
    }

    fn blocked(mb: &Mailbox) -> usize {
        mb.lock().cold.as_ref().map_or(0, |c| c.blocked_senders.len())
    }

    /// An agent that parks on an empty mailbox gives its buffers back, and
    /// the rarely used parts are dropped once empty.
    #[test]
    fn an_idle_agent_holds_no_buffer() {
        let mb = Mailbox::new(8);
        let mut cx = Context::from_waker(Waker::noop());
        let mut batch = VecDeque::new();
        for _ in 0..3 {
            assert!(mb.try_push(env()).is_ok());
        }
        let (tx, _rx) = oneshot::channel();
        assert!(mb.push_control(Control::Checkpoint(tx)).is_ok());
        let Poll::Ready(Batch::Ready(controls)) = mb.poll_batch(&mut cx, &mut 0, &mut batch) else {
            panic!("a batch is ready");
        };
        assert_eq!((batch.len(), controls.len()), (3, 1));
        let mut handled = batch.drain(..).count();
        assert!(mb.poll_batch(&mut cx, &mut handled, &mut batch).is_pending());
        assert_eq!(batch.capacity(), 0);
        let st = mb.lock();
        assert_eq!((st.queue.capacity(), st.pending), (0, 0));
        assert!(st.cold.is_none());
    }

    #[test]
    fn close_and_take_wakes_a_parked_agent() {
        let mb = Mailbox::new(1);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = VecDeque::new();
        assert!(mb.poll_batch(&mut cx, &mut 0, &mut batch).is_pending());
        mb.close_and_take();
        assert!(flag.0.load(Ordering::SeqCst));
        let next = mb.poll_batch(&mut cx, &mut 0, &mut batch);
        assert!(matches!(next, Poll::Ready(Batch::Closed)));
    }

    #[test]
    fn a_failed_agent_strands_no_control() {
        let mb = Mailbox::new(2);
        assert!(mb.try_push(env()).is_ok());
        let mut batch = VecDeque::new();
        let mut cx = Context::from_waker(Waker::noop());
        let first = mb.poll_batch(&mut cx, &mut 0, &mut batch);
        assert!(matches!(first, Poll::Ready(Batch::Ready(_))));
        // The agent fails with the message in hand, unreported.
        mb.close_and_take();
        let (tx, mut reply) = oneshot::channel();
        assert!(
            mb.push_control(Control::Checkpoint(tx)).is_ok(),
            "accepted: the batch is still in hand"
        );
        mb.exited();
        assert!(
            matches!(reply.try_recv(), Err(TryRecvError::Closed)),
            "the requester sees the agent gone"
        );
        assert_eq!(mb.depth(), 0);
        let (tx, _reply) = oneshot::channel();
        assert!(mb.push_control(Control::Checkpoint(tx)).is_err());
    }

    #[test]
    fn senders_that_gave_up_do_not_pile_up() {
        let mb = Mailbox::new(1);
        assert!(mb.try_push(env()).is_ok());
        let first = Arc::new(Flag(AtomicBool::new(false)));
        // Every attempt is a different task that gives up (drops its slot)
        // while the agent never takes a batch.
        for i in 0..10 * MAX_BLOCKED_SENDERS {
            let flag = if i == 0 {
                first.clone()
            } else {
                Arc::new(Flag(AtomicBool::new(false)))
            };
            let waker = Waker::from(flag);
            let mut slot = Some(env());
            assert!(mb.poll_push(&mut Context::from_waker(&waker), &mut slot).is_pending());
            assert!(blocked(&mb) <= MAX_BLOCKED_SENDERS);
        }
        // The one woken early can register again and is woken once space frees.
        assert!(first.0.load(Ordering::SeqCst));
        // The same sender polled twice is listed once.
        let again = Waker::from(Arc::new(Flag(AtomicBool::new(false))));
        let before = blocked(&mb);
        let mut slot = Some(env());
        for _ in 0..3 {
            assert!(mb.poll_push(&mut Context::from_waker(&again), &mut slot).is_pending());
        }
        let after = blocked(&mb);
        assert!(after <= before + 1, "{before} -> {after}");
    }
}
