//! Performative codes, identical to `caxton_core::Performative` discriminants.

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
