//! The bundled guest agents, built from `guests/` by this crate's build
//! script for `wasm32-unknown-unknown`, and the words they understand
//! ([`echo`], [`counter`], [`misbehave`]: `caxton_abi`'s, which the guests
//! themselves use).

pub use caxton_abi::guests::{counter, echo, misbehave};

/// Replies with its payload; [`echo::FORWARD`] + 8-byte id + body sends the body on.
pub const ECHO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/echo.wasm"));
/// Counts messages, replies to [`counter::COUNT`], traps on [`counter::TRAP`];
/// checkpointable.
pub const COUNTER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/counter.wasm"));
/// Runs `caxton_kernels::handle_request`; its native twin is
/// `caxton_workloads::wasm::native::Compute`.
pub const COMPUTE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/compute.wasm"));
/// Misbehaves on command: the words of [`misbehave`].
pub const MISBEHAVE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/misbehave.wasm"));
