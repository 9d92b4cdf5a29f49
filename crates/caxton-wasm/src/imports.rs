//! The host side of a guest's imports: [`HostState`] (each instance's
//! store data: memory limiter, outbox) and the [`Linker`] with the host
//! functions `caxton::reply` and `caxton::send`.

use bytes::Bytes;
use caxton_abi::status;
use caxton_runtime::{AgentId, Performative};
use wasmtime::{Caller, Engine, Linker, Memory};

use crate::abi;
use crate::limits::{AgentLimits, Limiter, OutboxLimitExceeded};

/// Host-side state of one instance (the wasmtime store's data).
pub struct HostState {
    pub(crate) limiter: Limiter,
    /// The instance's exported memory, once instantiated.
    pub(crate) memory: Option<Memory>,
    outbox: Vec<Outgoing>,
    /// Payload bytes queued in `outbox`.
    outbox_bytes: usize,
    max_outbox_messages: usize,
    max_outbox_bytes: usize,
}

impl HostState {
    pub(crate) fn new(limits: &AgentLimits) -> Self {
        Self {
            limiter: Limiter {
                max_memory: limits.max_memory,
                hit: false,
            },
            memory: None,
            outbox: Vec::new(),
            outbox_bytes: 0,
            max_outbox_messages: limits.max_outbox_messages,
            max_outbox_bytes: limits.max_outbox_bytes,
        }
    }

    /// Takes the queued messages out, leaving the outbox empty.
    pub(crate) fn take_outbox(&mut self) -> Vec<Outgoing> {
        self.outbox_bytes = 0;
        std::mem::take(&mut self.outbox)
    }

    /// Gives an emptied outbox's buffer back, for the next call.
    pub(crate) fn return_outbox(&mut self, mut outbox: Vec<Outgoing>) {
        outbox.clear();
        if self.outbox.is_empty() {
            self.outbox = outbox;
        }
    }

    /// Refuses a message that would take the outbox past its limits,
    /// before its payload is copied out of the guest.
    fn admit(&self, len: u32) -> wasmtime::Result<()> {
        let messages = self.outbox.len() + 1;
        let bytes = self.outbox_bytes.saturating_add(len as usize);
        if messages > self.max_outbox_messages || bytes > self.max_outbox_bytes {
            return Err(wasmtime::Error::new(OutboxLimitExceeded {
                messages,
                bytes,
                max_messages: self.max_outbox_messages,
                max_bytes: self.max_outbox_bytes,
            }));
        }
        Ok(())
    }

    fn queue(&mut self, out: Outgoing, len: u32) {
        self.outbox_bytes += len as usize;
        self.outbox.push(out);
    }
}

/// A message the guest asked to send during a call; applied when the call
/// returns without trapping.
pub(crate) enum Outgoing {
    Reply(Performative, Bytes),
    Send(AgentId, Performative, Bytes),
}

/// Copies `len` bytes at `ptr` out of the caller's memory.
fn read_guest(caller: &Caller<'_, HostState>, ptr: u32, len: u32) -> Option<Bytes> {
    let memory = caller.data().memory?;
    let start = ptr as usize;
    let bytes = memory.data(caller).get(start..start.checked_add(len as usize)?)?;
    Some(Bytes::copy_from_slice(bytes))
}

fn performative(code: u32) -> Option<Performative> {
    u8::try_from(code).ok().and_then(Performative::from_u8)
}

/// The linker with the ABI's host functions (`caxton::reply`, `caxton::send`).
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(
        abi::IMPORT_MODULE,
        abi::REPLY,
        |mut caller: Caller<'_, HostState>, perf: u32, ptr: u32, len: u32| -> wasmtime::Result<u32> {
            let Some(perf) = performative(perf) else {
                return Ok(status::BAD_PERFORMATIVE);
            };
            caller.data().admit(len)?;
            let Some(payload) = read_guest(&caller, ptr, len) else {
                return Ok(status::OUT_OF_BOUNDS);
            };
            caller.data_mut().queue(Outgoing::Reply(perf, payload), len);
            Ok(status::OK)
        },
    )?;
    linker.func_wrap(
        abi::IMPORT_MODULE,
        abi::SEND,
        |mut caller: Caller<'_, HostState>, to: u64, perf: u32, ptr: u32, len: u32| -> wasmtime::Result<u32> {
            let Some(to) = AgentId::new(to) else {
                return Ok(status::BAD_RECEIVER);
            };
            let Some(perf) = performative(perf) else {
                return Ok(status::BAD_PERFORMATIVE);
            };
            caller.data().admit(len)?;
            let Some(payload) = read_guest(&caller, ptr, len) else {
                return Ok(status::OUT_OF_BOUNDS);
            };
            caller.data_mut().queue(Outgoing::Send(to, perf, payload), len);
            Ok(status::OK)
        },
    )?;
    Ok(linker)
}
