//! [`WasmAgent`]: one guest instance behind the [`caxton_runtime::Agent`]
//! trait, built from a [`Prepared`] module.

use bytes::Bytes;
use caxton_abi::status;
use caxton_runtime::{Agent, AgentError, AgentId, Context, FaultKind, Message, Performative};
use wasmtime::{Extern, Memory, Store, TypedFunc};

use crate::abi;
use crate::config::CpuMode;
use crate::imports::{HostState, Outgoing};
use crate::limits::AgentLimits;
use crate::prepared::Prepared;
use crate::{stack, trap};

/// Epoch deadline standing for "no CPU limit".
const NO_DEADLINE: u64 = 1 << 48;

/// The CPU budget armed before each call into the guest.
#[derive(Clone, Copy, Debug)]
enum Budget {
    EpochTicks(u64),
    Fuel(u64),
    None,
}

/// One WASM guest instance, driven by the orchestrator like a native agent.
pub struct WasmAgent {
    store: Store<HostState>,
    memory: Memory,
    inbox: TypedFunc<u32, u32>,
    handle: TypedFunc<(u32, u64, u32), u32>,
    checkpoint: Option<(TypedFunc<(), u64>, TypedFunc<u32, u32>)>,
    budget: Budget,
    inbox_ptr: u32,
    inbox_cap: u32,
    /// Native stack a call into the guest may use (checked against what
    /// the calling thread has left).
    wasm_stack: usize,
    /// Set by the first trap: the instance may be half-way through any
    /// change of its state, so it never runs guest code again (the
    /// supervisor replaces it).
    poisoned: Option<String>,
}

impl std::fmt::Debug for WasmAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmAgent")
            .field("memory_bytes", &self.memory.data_size(&self.store))
            .field("budget", &self.budget)
            .finish()
    }
}

fn missing(what: &str) -> AgentError {
    AgentError::fault(FaultKind::Other, format!("instance lacks {what}"))
}

impl WasmAgent {
    pub(crate) fn new(prepared: &Prepared, limits: AgentLimits) -> Result<Self, AgentError> {
        let budget = match prepared.cpu {
            CpuMode::Epoch { tick } => Budget::EpochTicks(match limits.cpu_time {
                // +1: the next tick may come right after the deadline is set.
                Some(t) => (t.as_nanos().div_ceil(tick.as_nanos().max(1)) as u64).saturating_add(1),
                None => NO_DEADLINE,
            }),
            CpuMode::Fuel => Budget::Fuel(limits.fuel.unwrap_or(u64::MAX)),
            CpuMode::Off => Budget::None,
        };
        let mut store = Store::new(&prepared.engine, HostState::new(&limits));
        store.limiter(|s| &mut s.limiter);
        arm(&mut store, budget);
        let instance = prepared
            .pre
            .instantiate(&mut store)
            .map_err(|e| trap::fault(&e, store.data().limiter.hit))?;
        let mut get = |export| instance.get_module_export(&mut store, export);
        let memory = get(&prepared.exports.memory)
            .and_then(Extern::into_memory)
            .ok_or_else(|| missing(abi::MEMORY))?;
        let inbox = get(&prepared.exports.inbox)
            .and_then(Extern::into_func)
            .ok_or_else(|| missing(abi::INBOX))?;
        let handle = get(&prepared.exports.handle)
            .and_then(Extern::into_func)
            .ok_or_else(|| missing(abi::HANDLE))?;
        let checkpoint = match &prepared.exports.checkpoint {
            Some((snapshot, restore)) => Some((
                get(snapshot)
                    .and_then(Extern::into_func)
                    .ok_or_else(|| missing(abi::SNAPSHOT))?,
                get(restore)
                    .and_then(Extern::into_func)
                    .ok_or_else(|| missing(abi::RESTORE))?,
            )),
            None => None,
        };
        let typed_err = |e: wasmtime::Error| AgentError::fault(FaultKind::Other, format!("{e}"));
        let inbox = inbox.typed(&store).map_err(typed_err)?;
        let handle = handle.typed(&store).map_err(typed_err)?;
        let checkpoint = match checkpoint {
            Some((s, r)) => Some((s.typed(&store).map_err(typed_err)?, r.typed(&store).map_err(typed_err)?)),
            None => None,
        };
        store.data_mut().memory = Some(memory);
        Ok(Self {
            store,
            memory,
            inbox,
            handle,
            checkpoint,
            budget,
            inbox_ptr: 0,
            inbox_cap: 0,
            wasm_stack: prepared.wasm_stack,
            poisoned: None,
        })
    }

    /// Refuses to run guest code on a poisoned instance, or on a thread
    /// with less native stack left than a guest call may use.
    fn ready(&self) -> Result<(), AgentError> {
        if let Some(trap) = &self.poisoned {
            return Err(AgentError::fault(
                FaultKind::Other,
                format!("instance unusable after an earlier trap ({trap})"),
            ));
        }
        stack::check(self.wasm_stack)
    }

    /// Delivers one payload outside any orchestrator (for benchmarks and
    /// tests of the raw host->guest path): the same copy-in and call as a
    /// routed message, with the guest's outgoing messages counted and then
    /// dropped. Returns how many the guest queued.
    pub fn call(&mut self, performative: Performative, payload: &[u8]) -> Result<usize, AgentError> {
        self.ready()?;
        let len = self.write_inbox(payload)?;
        arm(&mut self.store, self.budget);
        match self.handle.call(&mut self.store, (performative as u32, 0, len)) {
            Ok(status::OK) => Ok(self.store.data_mut().take_outbox().len()),
            Ok(code) => {
                self.store.data_mut().take_outbox();
                Err(AgentError::handler(format!("guest handler returned status {code}")))
            }
            Err(e) => Err(self.fault(&e)),
        }
    }

    /// Whether an earlier trap made this instance unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Current linear-memory size in bytes.
    pub fn linear_memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    fn fault(&mut self, err: &wasmtime::Error) -> AgentError {
        self.store.data_mut().take_outbox();
        let fault = trap::fault(err, self.store.data().limiter.hit);
        if let AgentError::Fault { detail, .. } = &fault {
            self.poisoned = Some(detail.clone());
        }
        fault
    }

    /// Copies `bytes` into the guest's inbox, asking for a bigger inbox
    /// when needed. Returns the length as the ABI's `u32`.
    fn write_inbox(&mut self, bytes: &[u8]) -> Result<u32, AgentError> {
        let len = u32::try_from(bytes.len()).map_err(|_| AgentError::handler("payload over 4 GiB"))?;
        if len > self.inbox_cap {
            arm(&mut self.store, self.budget);
            self.inbox_ptr = self.inbox.call(&mut self.store, len).map_err(|e| self.fault(&e))?;
            self.inbox_cap = len;
        }
        let start = self.inbox_ptr as usize;
        match self
            .memory
            .data_mut(&mut self.store)
            .get_mut(start..start + bytes.len())
        {
            Some(dst) => dst.copy_from_slice(bytes),
            None => {
                let detail = "guest inbox lies outside its memory";
                self.poisoned = Some(detail.to_owned());
                return Err(AgentError::fault(FaultKind::MemoryOutOfBounds, detail));
            }
        }
        Ok(len)
    }

    /// Applies the sends the guest queued during a successful call. A send
    /// the orchestrator refuses is already a dead letter of its own (the
    /// outgoing message, counted once); the incoming message was handled,
    /// so it is not one too.
    fn flush(&mut self, ctx: &mut Context<'_>) {
        let mut outbox = self.store.data_mut().take_outbox();
        for out in outbox.drain(..) {
            let _refused_and_counted = match out {
                Outgoing::Reply(perf, payload) => ctx.reply(perf, payload),
                Outgoing::Send(to, perf, payload) => ctx.send(Message::new(to, perf, payload)),
            };
        }
        // Keep the buffer for the next call.
        self.store.data_mut().return_outbox(outbox);
    }
}

/// Sets the per-call CPU budget and clears the memory-limit flag, so a
/// fault is classified by what happened in this call only.
fn arm(store: &mut Store<HostState>, budget: Budget) {
    store.data_mut().limiter.hit = false;
    match budget {
        Budget::EpochTicks(ticks) => store.set_epoch_deadline(ticks),
        Budget::Fuel(fuel) => {
            // Only fails when fuel is disabled, which `Budget::Fuel` rules out.
            let _ = store.set_fuel(fuel);
        }
        Budget::None => {}
    }
}

impl Agent for WasmAgent {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        self.ready()?;
        let len = self.write_inbox(&msg.payload)?;
        let sender = msg.sender.map_or(0, AgentId::get);
        arm(&mut self.store, self.budget);
        match self
            .handle
            .call(&mut self.store, (msg.performative as u32, sender, len))
        {
            Ok(code) => {
                self.flush(ctx);
                if code != status::OK {
                    return Err(AgentError::handler(format!("guest handler returned status {code}")));
                }
                Ok(())
            }
            Err(e) => Err(self.fault(&e)),
        }
    }

    fn snapshot(&mut self) -> Result<Option<Bytes>, AgentError> {
        let Some((snapshot, _)) = self.checkpoint.clone() else {
            return Ok(None);
        };
        self.ready()?;
        arm(&mut self.store, self.budget);
        let packed = snapshot.call(&mut self.store, ()).map_err(|e| self.fault(&e))?;
        if packed == abi::NO_STATE {
            return Ok(None);
        }
        let (ptr, len) = ((packed & 0xffff_ffff) as usize, (packed >> 32) as usize);
        match self.memory.data(&self.store).get(ptr..ptr + len) {
            Some(state) => Ok(Some(Bytes::copy_from_slice(state))),
            None => {
                let detail = "guest snapshot lies outside its memory";
                self.poisoned = Some(detail.to_owned());
                Err(AgentError::fault(FaultKind::MemoryOutOfBounds, detail))
            }
        }
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        let Some((_, restore)) = self.checkpoint.clone() else {
            return if state.is_empty() {
                Ok(())
            } else {
                Err(AgentError::handler("module has no caxton_restore export"))
            };
        };
        self.ready()?;
        let len = self.write_inbox(state)?;
        arm(&mut self.store, self.budget);
        match restore.call(&mut self.store, len) {
            Ok(status::OK) => Ok(()),
            Ok(code) => Err(AgentError::handler(format!("guest refused the state (status {code})"))),
            Err(e) => Err(self.fault(&e)),
        }
    }

    fn memory_bytes(&self) -> Option<u64> {
        Some(self.linear_memory_bytes() as u64)
    }
}
