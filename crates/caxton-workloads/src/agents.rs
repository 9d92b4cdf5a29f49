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

/// Wraps any agent and reports to a [`Completion`] on the message marked
/// last, once per run, so the count costs one shared atomic per agent per
/// run rather than per message. Works for native and hosted agents alike.
pub struct Counted<A> {
    inner: A,
    handled: u64,
    completion: Arc<Completion>,
}

impl<A> Counted<A> {
    /// Wraps `inner`.
    pub fn new(inner: A, completion: Arc<Completion>) -> Self {
        Self {
            inner,
            handled: 0,
            completion,
        }
    }
}

impl<A: Agent> Agent for Counted<A> {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let result = self.inner.handle(ctx, msg);
        self.handled += 1;
        if Payloads::is_last(&msg.payload) {
            self.completion.done(std::mem::take(&mut self.handled));
        }
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

impl Agent for Fragile {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if &msg.payload[..] == PANIC {
            panic!("fault injected into agent with count {}", self.count);
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
