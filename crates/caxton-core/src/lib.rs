//! Core types shared by every part of Caxton: who an agent is ([`AgentId`]),
//! how a message is addressed ([`Address`]) and the envelope itself
//! ([`Message`]).
//!
//! These types carry no runtime machinery, so the WASM host, the profiling
//! crate and external tools can depend on them without pulling in tokio.

mod address;
mod id;
mod message;
mod performative;

pub use address::Address;
pub use id::{AgentId, ConversationId, MessageId};
pub use message::{Message, Timestamp};
pub use performative::Performative;
