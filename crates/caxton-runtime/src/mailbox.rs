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
//! capacity. A fresh mailbox allocates nothing; its buffer grows on first use.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use caxton_core::Message;
use tokio::sync::oneshot;

use crate::checkpoint::Checkpoint;
use crate::error::{AgentError, CheckpointError};

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
    /// Messages were moved into the caller's buffer (controls may be too).
    Ready,
    /// The mailbox is closed and empty: the agent should exit.
    Closed,
}

struct State {
    queue: VecDeque<Envelope>,
    /// Accepted and not yet handled: `queue.len()` plus the batch in hand.
    pending: usize,
    high_water: usize,
    closed: bool,
    consumer: Option<Waker>,
    blocked_senders: Vec<Waker>,
    controls: Vec<Control>,
    on_exit: Vec<oneshot::Sender<()>>,
}

/// A bounded, batching, multi-producer single-consumer mailbox.
pub(crate) struct Mailbox {
    state: Mutex<State>,
    capacity: usize,
    /// Mirror of `pending` readable without the lock (least-loaded routing).
    depth: AtomicUsize,
}

impl Mailbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                pending: 0,
                high_water: 0,
                closed: false,
                consumer: None,
                blocked_senders: Vec::new(),
                controls: Vec::new(),
                on_exit: Vec::new(),
            }),
            capacity,
            depth: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic never happens while the lock is held (no user code runs
        // under it), but stay usable even if one did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Messages accepted and not yet handled.
    pub(crate) fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Highest `depth` seen so far.
    pub(crate) fn high_water(&self) -> usize {
        self.lock().high_water
    }

    /// Pushes without waiting.
    #[allow(clippy::result_large_err)] // see `PushError`
    pub(crate) fn try_push(&self, env: Envelope) -> Result<(), PushError> {
        let mut st = self.lock();
        if st.closed {
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
        if st.closed {
            return Poll::Ready(Err(PushError::Closed(env)));
        }
        if st.pending >= self.capacity {
            *slot = Some(env);
            st.blocked_senders.push(cx.waker().clone());
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
        st.queue.push_back(env);
        st.pending += 1;
        if st.pending > st.high_water {
            st.high_water = st.pending;
        }
        self.depth.store(st.pending, Ordering::Relaxed);
        st.consumer.take()
    }

    /// Queues a control command and wakes the agent. Refused (handed back)
    /// once the mailbox is closed and drained.
    #[allow(clippy::result_large_err)] // the control carries its reply slot
    pub(crate) fn push_control(&self, control: Control) -> Result<(), Control> {
        let mut st = self.lock();
        if st.closed && st.pending == 0 {
            return Err(control);
        }
        st.controls.push(control);
        let waker = st.consumer.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The agent's side: reports `handled` messages of the previous batch as
    /// done, then moves every queued message into `batch` (which must be
    /// empty) and every control into `controls`. Parks when there is nothing.
    pub(crate) fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        handled: &mut usize,
        batch: &mut VecDeque<Envelope>,
        controls: &mut Vec<Control>,
    ) -> Poll<Batch> {
        debug_assert!(batch.is_empty());
        let mut st = self.lock();
        st.pending -= std::mem::take(handled);
        self.depth.store(st.pending, Ordering::Relaxed);
        let senders = if st.blocked_senders.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut st.blocked_senders)
        };
        let result = if !st.queue.is_empty() || !st.controls.is_empty() {
            std::mem::swap(&mut st.queue, batch);
            std::mem::swap(&mut st.controls, controls);
            Poll::Ready(Batch::Ready)
        } else if st.closed {
            Poll::Ready(Batch::Closed)
        } else {
            match &mut st.consumer {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        };
        drop(st);
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
        st.closed = true;
        st.on_exit.push(tx);
        let waker = st.consumer.take();
        let senders = std::mem::take(&mut st.blocked_senders);
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
    /// the batch in hand stay with the agent.
    pub(crate) fn close_and_take(&self) -> (VecDeque<Envelope>, Vec<Control>) {
        let mut st = self.lock();
        st.closed = true;
        let queue = std::mem::take(&mut st.queue);
        st.pending -= queue.len();
        self.depth.store(st.pending, Ordering::Relaxed);
        let controls = std::mem::take(&mut st.controls);
        let senders = std::mem::take(&mut st.blocked_senders);
        drop(st);
        for w in senders {
            w.wake();
        }
        (queue, controls)
    }

    /// Called by the agent as it exits: fires every `close` receiver.
    pub(crate) fn exited(&self) {
        let waiters = std::mem::take(&mut self.lock().on_exit);
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
