//! The Caxton guest ABI (v1) in one place: what the host
//! (`caxton-wasm`) checks and calls and what the guest SDK
//! (`caxton-guest`) emits, spelled once for both sides. See
//! `docs/guest-abi.md` for the protocol these names take part in.
//!
//! * the exports a guest provides ([`MEMORY`], [`INBOX`], [`HANDLE`],
//!   [`SNAPSHOT`], [`RESTORE`]) and the host functions it may import
//!   ([`IMPORT_MODULE`], [`REPLY`], [`SEND`]), with their signatures
//!   ([`sig`]);
//! * the status codes of the host functions ([`status`]) and the
//!   snapshot's no-state marker ([`NO_STATE`]);
//! * the performative codes ([`performative`]; `caxton_core::Performative`
//!   takes its discriminants from them);
//! * the words the bundled guests in `guests/` understand ([`guests`]), so
//!   the guests and the tests, benches and scenarios that drive them spell
//!   them once.
//!
//! `no_std` and free of dependencies, so a guest built for
//! `wasm32-unknown-unknown` pays nothing for it.
#![no_std]
#![warn(missing_docs)]

/// The guest's linear memory (export, required).
pub const MEMORY: &str = "memory";
/// `(len: i32) -> (ptr: i32)`: a guest buffer of at least `len` bytes for
/// the host to write a payload or a state into (export, required).
pub const INBOX: &str = "caxton_inbox";
/// `(performative: i32, sender: i64, len: i32) -> (status: i32)`: handle
/// the `len` bytes in the inbox; [`status::OK`] means handled (export,
/// required).
pub const HANDLE: &str = "caxton_handle";
/// `() -> (packed: i64)`: `len << 32 | ptr` of the guest's state, or
/// [`NO_STATE`] (export, optional, with [`RESTORE`]).
pub const SNAPSHOT: &str = "caxton_snapshot";
/// `(len: i32) -> (status: i32)`: restore the state in the inbox;
/// [`status::OK`] accepts it (export, optional, with [`SNAPSHOT`]).
pub const RESTORE: &str = "caxton_restore";

/// The import module of the host functions.
pub const IMPORT_MODULE: &str = "caxton";
/// `(performative: i32, ptr: i32, len: i32) -> (status: i32)`: reply to
/// the message being handled (import from [`IMPORT_MODULE`]).
pub const REPLY: &str = "reply";
/// `(to: i64, performative: i32, ptr: i32, len: i32) -> (status: i32)`:
/// send to the agent with id `to` (import from [`IMPORT_MODULE`]).
pub const SEND: &str = "send";

/// `caxton_snapshot`'s answer when the guest has no state (all bits set,
/// `-1` as an `i64`).
pub const NO_STATE: u64 = u64::MAX;

/// The function signatures, as the host checks them: `(params) ->
/// (results)`, value types `i32` / `i64` separated by `", "`. Integers are
/// unsigned in meaning (`u32` / `u64`).
pub mod sig {
    /// [`crate::INBOX`].
    pub const INBOX: &str = "(i32) -> (i32)";
    /// [`crate::HANDLE`].
    pub const HANDLE: &str = "(i32, i64, i32) -> (i32)";
    /// [`crate::SNAPSHOT`].
    pub const SNAPSHOT: &str = "() -> (i64)";
    /// [`crate::RESTORE`].
    pub const RESTORE: &str = "(i32) -> (i32)";
    /// [`crate::REPLY`].
    pub const REPLY: &str = "(i32, i32, i32) -> (i32)";
    /// [`crate::SEND`].
    pub const SEND: &str = "(i64, i32, i32, i32) -> (i32)";
}

/// Status codes. The host functions ([`crate::REPLY`], [`crate::SEND`])
/// return one of these; a guest's `caxton_handle` and `caxton_restore`
/// return [`OK`] for success and any other value for a refusal.
pub mod status {
    /// Done: the message is queued (or, from the guest, handled / the
    /// state accepted).
    pub const OK: u32 = 0;
    /// The performative code is none of [`crate::performative`]'s.
    pub const BAD_PERFORMATIVE: u32 = 1;
    /// `ptr..ptr + len` lies outside the guest's memory.
    pub const OUT_OF_BOUNDS: u32 = 2;
    /// `send` to `0`, which is no agent.
    pub const BAD_RECEIVER: u32 = 3;
}

/// Performative codes (FIPA-ACL communicative acts): the discriminants of
/// `caxton_core::Performative`, in the same order from 0.
pub mod performative {
    /// Ask the receiver to perform an action.
    pub const REQUEST: u32 = 0;
    /// Tell the receiver that something is true.
    pub const INFORM: u32 = 1;
    /// Ask the receiver for information.
    pub const QUERY: u32 = 2;
    /// Agree to perform a requested action.
    pub const AGREE: u32 = 3;
    /// Refuse to perform a requested action.
    pub const REFUSE: u32 = 4;
    /// An attempted action failed.
    pub const FAILURE: u32 = 5;
    /// The receiver did not understand the message.
    pub const NOT_UNDERSTOOD: u32 = 6;
    /// Propose something, in a negotiation.
    pub const PROPOSE: u32 = 7;
    /// Accept a proposal.
    pub const ACCEPT_PROPOSAL: u32 = 8;
    /// Reject a proposal.
    pub const REJECT_PROPOSAL: u32 = 9;
    /// Call for proposals.
    pub const CALL_FOR_PROPOSAL: u32 = 10;
    /// Cancel an earlier request.
    pub const CANCEL: u32 = 11;
    /// Subscribe to updates.
    pub const SUBSCRIBE: u32 = 12;
    /// How many performatives there are: the codes are `0..COUNT`.
    pub const COUNT: u32 = 13;
}

/// The words the bundled guests in `guests/` understand (payloads, and
/// states to restore). Not part of the ABI proper: they live here so the
/// guests and everything that drives them spell them once.
pub mod guests {
    /// The `echo` guest.
    pub mod echo {
        /// Payload prefix: `FORWARD` + 8-byte little-endian agent id +
        /// body sends the body (an inform) to that agent instead of
        /// replying.
        pub const FORWARD: &[u8] = b"forward:";
    }

    /// The `counter` guest: counts the messages it handles; its count is
    /// its checkpointed state (8 bytes little-endian).
    pub mod counter {
        /// Replies with the count (8 bytes little-endian), uncounted.
        pub const COUNT: &[u8] = b"count";
        /// Executes `unreachable` (a trap).
        pub const TRAP: &[u8] = b"trap";
    }

    /// The `misbehave` guest, for fault tests: each command word (the
    /// payload) triggers one fault; after a command that returns, and for
    /// any other payload, it replies [`OK`].
    pub mod misbehave {
        /// Spins forever (a CPU-limit fault).
        pub const LOOP: &[u8] = b"loop";
        /// Allocates 1 MiB chunks, each touched, without bound (a
        /// memory-limit fault).
        pub const GROW: &[u8] = b"grow";
        /// Executes `unreachable`.
        pub const UNREACHABLE: &[u8] = b"unreachable";
        /// Reads far outside linear memory.
        pub const OOB: &[u8] = b"oob";
        /// Recurses until the native wasm stack overflows.
        pub const STACK: &[u8] = b"stack";
        /// Returns the handler error [`FAIL_STATUS`].
        pub const FAIL: &[u8] = b"fail";
        /// The status [`FAIL`] returns.
        pub const FAIL_STATUS: u32 = 7;
        /// Replies 1024 times with 256 KiB each (past any sane outbox
        /// limit).
        pub const FLOOD: &[u8] = b"flood";
        /// Replies twice ([`CHATTER_FIRST`], then [`OK`]): the second has
        /// nowhere to go when the caller is not an agent.
        pub const CHATTER: &[u8] = b"chatter";
        /// The first of [`CHATTER`]'s two replies.
        pub const CHATTER_FIRST: &[u8] = b"first";
        /// Makes the next snapshot trap.
        pub const TRAP_SNAPSHOT: &[u8] = b"trap-snapshot";
        /// A state whose restore traps.
        pub const TRAP_RESTORE: &[u8] = b"trap";
        /// The reply to a command that returns, and to any other payload.
        pub const OK: &[u8] = b"ok";
    }
}

/// Whether two strings are equal, in a `const` context: for compile-time
/// checks that a name spelled where a literal is required (a link
/// attribute, a function name) is the ABI's.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_eq_compares_bytes() {
        assert!(str_eq(INBOX, "caxton_inbox"));
        assert!(!str_eq(INBOX, "caxton_inbo"));
        assert!(!str_eq(REPLY, "reply "));
        assert!(str_eq("", ""));
    }

    #[test]
    fn guest_words_are_distinct() {
        use guests::misbehave::*;
        let words = [LOOP, GROW, UNREACHABLE, OOB, STACK, FAIL, FLOOD, CHATTER, TRAP_SNAPSHOT];
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(guests::counter::COUNT, guests::counter::TRAP);
    }
}
