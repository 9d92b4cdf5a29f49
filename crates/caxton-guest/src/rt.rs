//! Glue behind [`crate::export_agent!`]: the inbox buffer, the agent slot
//! and the ABI entry points. Not part of the public API.

use alloc::vec::Vec;
use core::cell::UnsafeCell;

use crate::{Agent, Incoming};

pub use caxton_abi::NO_STATE;
use caxton_abi::status;

/// A lazily built value in a `static`. A WASM instance is single-threaded
/// and the host never re-enters the guest, so plain interior mutability is
/// sound there.
pub struct Slot<T>(UnsafeCell<Option<T>>);

// SAFETY: guests run on one thread and calls into a guest never overlap.
unsafe impl<T> Sync for Slot<T> {}

impl<T: Default> Slot<T> {
    /// An empty slot.
    pub const fn new() -> Self {
        Self(UnsafeCell::new(None))
    }

    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut T {
        // SAFETY: single-threaded, non-reentrant (see the `Sync` impl), and
        // no other reference into the slot outlives an entry point.
        unsafe { (*self.0.get()).get_or_insert_with(T::default) }
    }
}

impl<T: Default> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Buffers {
    inbox: Vec<u8>,
    snapshot: Vec<u8>,
}

static BUFFERS: Slot<Buffers> = Slot::new();

/// `caxton_inbox`: a buffer of at least `len` bytes for the host to write
/// into; it stays put until the next `caxton_inbox` call.
pub fn inbox(len: u32) -> u32 {
    let buf = &mut BUFFERS.get().inbox;
    let len = len as usize;
    if buf.len() < len {
        buf.resize(len, 0);
    }
    buf.as_mut_ptr() as usize as u32
}

fn inbox_slice(len: u32) -> &'static [u8] {
    let buf = &BUFFERS.get().inbox;
    &buf[..(len as usize).min(buf.len())]
}

/// `caxton_handle`: runs the agent on the `len` bytes the host wrote.
pub fn handle<A: Agent>(slot: &Slot<A>, performative: u32, sender: u64, len: u32) -> u32 {
    let msg = Incoming {
        performative,
        sender: (sender != 0).then_some(sender),
        payload: inbox_slice(len),
    };
    match slot.get().handle(&msg) {
        Ok(()) => status::OK,
        Err(code) => refused(code),
    }
}

/// `caxton_snapshot`: `len << 32 | ptr` of the state, or [`NO_STATE`].
pub fn snapshot<A: Agent>(slot: &Slot<A>) -> u64 {
    match slot.get().snapshot() {
        None => NO_STATE,
        Some(state) => {
            let buf = &mut BUFFERS.get().snapshot;
            *buf = state;
            ((buf.len() as u64) << 32) | (buf.as_ptr() as usize as u64)
        }
    }
}

/// `caxton_restore`: restores from the `len` bytes the host wrote.
pub fn restore<A: Agent>(slot: &Slot<A>, len: u32) -> u32 {
    match slot.get().restore(inbox_slice(len)) {
        Ok(()) => status::OK,
        Err(code) => refused(code),
    }
}

/// A guest's error code as a status the host reads as a refusal: never
/// [`status::OK`].
fn refused(code: u32) -> u32 {
    if code == status::OK { status::OK + 1 } else { code }
}
