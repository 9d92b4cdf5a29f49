//! Native agents used by the workloads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use caxton_runtime::{Agent, AgentError, Context, Message};
use tokio::sync::Notify;

use crate::payload::Payloads;

/// Counts down messages of one run and wakes the driver at zero.
#[derive(Debug, Default)]
pub struct Completion {
    remaining: AtomicU64,
    done: Notify,
}

impl Completion {
    /// A new, idle completion.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Arms it for a run of `messages`.
    pub fn arm(&self, messages: u64) {
        self.remaining.store(messages, Ordering::Release);
    }

    /// Reports `n` handled messages.
    pub fn done(&self, n: u64) {
        if self.remaining.fetch_sub(n, Ordering::AcqRel) == n {
            self.done.notify_one();
        }
    }

    /// Waits until every armed message was reported.
    pub async fn wait(&self) {
        while self.remaining.load(Ordering::Acquire) != 0 {
            self.done.notified().await;
        }
    }
}

/// One receiver's count of a run's messages: reports to the shared
/// [`Completion`] on the message marked last, so the count costs one shared
/// atomic per receiver per run rather than per message. Every fan-out shape
/// (Caxton agents, raw tokio tasks, peer actors) counts with it.
#[derive(Debug)]
pub struct Tally {
    handled: u64,
    completion: Arc<Completion>,
}

impl Tally {
    /// A zero count reporting to `completion`.
    pub fn new(completion: Arc<Completion>) -> Self {
        Self { handled: 0, completion }
    }

    /// Counts one handled message with this payload.
    pub fn count(&mut self, payload: &[u8]) {
        self.handled += 1;
        if Payloads::is_last(payload) {
            self.completion.done(std::mem::take(&mut self.handled));
        }
    }
}

impl Observer for Tally {
    /// Counts every message, whether its handler succeeded or not.
    fn handled(&mut self, msg: &Message, _result: &Result<(), AgentError>) {
        self.count(&msg.payload);
    }
}

/// Told about every message an [`Observed`] agent has handled.
pub trait Observer: Send + 'static {
    /// `msg` was handled with `result`.
    fn handled(&mut self, msg: &Message, result: &Result<(), AgentError>);
}

/// Wraps any agent (native or hosted) and tells an [`Observer`] about each
/// message after its handler ran; checkpoints and memory are the inner
/// agent's.
pub struct Observed<A, O> {
    inner: A,
    observer: O,
}

impl<A, O> Observed<A, O> {
    /// Wraps `inner`.
    pub fn new(inner: A, observer: O) -> Self {
        Self { inner, observer }
    }
}

impl<A: Agent, O: Observer> Agent for Observed<A, O> {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let result = self.inner.handle(ctx, msg);
        self.observer.handled(msg, &result);
        result
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        self.inner.snapshot()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.inner.restore(state)
    }

    fn memory_bytes(&self) -> Option<u64> {
        self.inner.memory_bytes()
    }
}

/// An agent whose messages a [`Tally`] counts toward a [`Completion`].
pub type Counted<A> = Observed<A, Tally>;

/// Wraps `inner` so its messages count toward `completion`.
pub fn counted<A>(inner: A, completion: Arc<Completion>) -> Counted<A> {
    Observed::new(inner, Tally::new(completion))
}

/// Does nothing with a message: the cheapest possible handler, so a
/// throughput workload measures the runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sink;

impl Agent for Sink {
    fn handle(&mut self, _ctx: &mut Context<'_>, _msg: &Message) -> Result<(), AgentError> {
        Ok(())
    }
}

/// Answers a request or query with its payload (the `echo` guest's twin).
pub use caxton_runtime::agents::Echo;

/// Payload that makes a [`Fragile`] agent panic.
pub const PANIC: &[u8] = b"panic";

/// A stateful agent that counts messages, checkpoints its count with serde,
/// and panics on [`PANIC`]: the fault-injection target.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fragile {
    /// Messages counted (the [`PANIC`] ones excluded).
    pub count: u64,
}

/// The panic a [`Fragile`] agent raises on [`PANIC`], as a type: a panic
/// hook tells an injected fault from any other panic with
/// [`InjectedFault::is_raising`], never by its message.
#[derive(Clone, Copy, Debug)]
pub struct InjectedFault;

thread_local! {
    /// Set on this thread while an injected fault is being raised.
    static RAISING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl InjectedFault {
    /// Panics as an injected fault of an agent that had counted `count`
    /// messages (the message says so; the supervisor records it).
    pub fn raise(count: u64) -> ! {
        /// Clears the mark as the panic unwinds past `raise`, so it holds
        /// exactly while the panic hook runs.
        struct Raising;
        impl Drop for Raising {
            fn drop(&mut self) {
                RAISING.with(|r| r.set(false));
            }
        }
        RAISING.with(|r| r.set(true));
        let _raising = Raising;
        panic!("fault injected into agent with count {count}");
    }

    /// Whether the panic being raised on this thread is an injected fault
    /// (for a panic hook, which runs on the panicking thread before it
    /// unwinds).
    pub fn is_raising() -> bool {
        RAISING.with(|r| r.get())
    }
}

impl Agent for Fragile {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if &msg.payload[..] == PANIC {
            InjectedFault::raise(self.count);
        }
        self.count += 1;
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        caxton_runtime::checkpoint::encode(&self.count).map(Some)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.count = caxton_runtime::checkpoint::decode(state)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_injected_fault_is_marked_only_while_it_is_raised() {
        assert!(!InjectedFault::is_raising());
        let payload = std::panic::catch_unwind(|| InjectedFault::raise(7)).unwrap_err();
        // The message still says what happened (the supervisor records it)...
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("fault injected into agent with count 7")
        );
        // ...and the mark is gone once the panic has unwound.
        assert!(!InjectedFault::is_raising());
    }
}
