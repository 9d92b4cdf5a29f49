//! Agents shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use caxton_runtime::checkpoint::{decode, encode};
use caxton_runtime::{Agent, AgentError, Context, Message, Performative};

/// Replies with the payload it got.
pub struct Echo;

impl Agent for Echo {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        ctx.reply(Performative::Inform, msg.payload.clone())
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}

/// Counts messages into a shared counter and its own state; panics on a
/// payload of `b"panic"`, fails on `b"fail"`; replies with its count to
/// `b"count"`. Its count survives restarts through checkpoints.
pub struct Counter {
    pub count: u64,
    pub seen: Arc<AtomicU64>,
}

impl Counter {
    pub fn new(seen: Arc<AtomicU64>) -> Self {
        Self { count: 0, seen }
    }
}

impl Agent for Counter {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        match &msg.payload[..] {
            b"panic" => panic!("asked to panic"),
            b"fail" => Err(AgentError::handler("asked to fail")),
            b"count" => ctx
                .reply(Performative::Inform, self.count.to_le_bytes().to_vec())
                .map_err(|e| AgentError::handler(e.to_string())),
            _ => {
                self.count += 1;
                self.seen.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        encode(&self.count).map(Some)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.count = decode(state)?;
        Ok(())
    }
}

/// Blocks its handler on a `b"wait"` message until the gate opens, so tests
/// can fill mailboxes. Counts each message as it *enters* the handler.
pub struct Gated {
    pub gate: Arc<std::sync::Barrier>,
    pub seen: Arc<AtomicU64>,
}

impl Agent for Gated {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        self.seen.fetch_add(1, Ordering::SeqCst);
        if &msg.payload[..] == b"wait" {
            self.gate.wait();
        }
        Ok(())
    }
}

/// Reads a little-endian u64 reply.
pub fn as_u64(msg: &Message) -> u64 {
    u64::from_le_bytes(msg.payload[..8].try_into().unwrap())
}

/// Waits (without asserting any timing) until `cond` holds; panics after
/// about ten seconds so a broken test fails instead of hanging.
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("condition never held");
}
