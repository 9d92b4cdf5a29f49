//! Guest SDK for Caxton WebAssembly agents.
//!
//! A guest agent is a type implementing [`Agent`] plus one
//! [`export_agent!`] line; the macro emits the exports of the guest ABI
//! (see `docs/guest-abi.md`), so the guest never touches raw pointers.
//!
//! ```
//! use caxton_guest::{Agent, Incoming, performative, reply};
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! impl Agent for Echo {
//!     fn handle(&mut self, msg: &Incoming<'_>) -> Result<(), u32> {
//!         reply(performative::INFORM, msg.payload);
//!         Ok(())
//!     }
//! }
//!
//! caxton_guest::export_agent!(Echo);
//! ```
//!
//! On a non-wasm target (e.g. when the workspace is built for the host) the
//! macro emits nothing and [`reply`] / [`send`] do nothing, so SDK users
//! still compile and unit-test natively.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

/// The guest ABI this SDK implements (names, signatures, status codes), for
/// guests that need its constants.
pub use caxton_abi as abi;
/// Performative codes, identical to `caxton_core::Performative`
/// discriminants (both come from `caxton_abi`).
pub use caxton_abi::performative;
#[doc(hidden)]
pub mod rt;
mod sys;

use alloc::vec::Vec;

/// One message delivered to the guest. The payload is borrowed from the
/// guest's inbox buffer and is valid for the duration of the handler.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The performative code (see [`performative`]).
    pub performative: u32,
    /// The sending agent's id, if the message came from an agent.
    pub sender: Option<u64>,
    /// The message content.
    pub payload: &'a [u8],
}

/// A guest agent. One instance lives in each WASM instance; the host builds
/// it with [`Default`] before the first message.
pub trait Agent: Default + 'static {
    /// Handles one message. `Err(code)` tells the host the message could not
    /// be handled (it becomes a dead letter); the agent keeps running.
    fn handle(&mut self, msg: &Incoming<'_>) -> Result<(), u32>;

    /// The agent's state for a checkpoint; `None` (the default) when it
    /// keeps nothing worth saving.
    fn snapshot(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// Restores state produced by [`Agent::snapshot`] into a fresh instance.
    /// `Err(code)` refuses the state.
    fn restore(&mut self, state: &[u8]) -> Result<(), u32> {
        let _ = state;
        Ok(())
    }
}

/// Replies to the message being handled (to the waiting caller, or else to
/// the sender). Sends take effect when the handler returns successfully.
pub fn reply(performative: u32, payload: &[u8]) {
    sys::reply(performative, payload);
}

/// Sends a message to the agent with id `to`. Takes effect when the handler
/// returns successfully.
pub fn send(to: u64, performative: u32, payload: &[u8]) {
    sys::send(to, performative, payload);
}

// `export_agent!` spells the export names as function names; they must be
// the ABI's.
const _: () = {
    assert!(abi::str_eq(abi::INBOX, "caxton_inbox"));
    assert!(abi::str_eq(abi::HANDLE, "caxton_handle"));
    assert!(abi::str_eq(abi::SNAPSHOT, "caxton_snapshot"));
    assert!(abi::str_eq(abi::RESTORE, "caxton_restore"));
};

/// Exports a type implementing [`Agent`] as this module's agent: emits the
/// `caxton_inbox`, `caxton_handle`, `caxton_snapshot` and `caxton_restore`
/// exports on wasm32, and nothing on other targets.
#[macro_export]
macro_rules! export_agent {
    ($agent:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            static AGENT: $crate::rt::Slot<$agent> = $crate::rt::Slot::new();

            #[unsafe(no_mangle)]
            extern "C" fn caxton_inbox(len: u32) -> u32 {
                $crate::rt::inbox(len)
            }

            #[unsafe(no_mangle)]
            extern "C" fn caxton_handle(performative: u32, sender: u64, len: u32) -> u32 {
                $crate::rt::handle(&AGENT, performative, sender, len)
            }

            #[unsafe(no_mangle)]
            extern "C" fn caxton_snapshot() -> u64 {
                $crate::rt::snapshot(&AGENT)
            }

            #[unsafe(no_mangle)]
            extern "C" fn caxton_restore(len: u32) -> u32 {
                $crate::rt::restore(&AGENT, len)
            }
        };
    };
}
