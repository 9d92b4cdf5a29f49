//! FIPA-ACL communicative acts.

use caxton_abi::performative as abi;
use serde::{Deserialize, Serialize};

/// An ABI performative code as a discriminant; one over `u8` fails the
/// build.
const fn code(c: u32) -> u8 {
    assert!(c <= u8::MAX as u32, "performative code over u8");
    c as u8
}

/// What the sender means by a message, after FIPA-ACL. The discriminants
/// are the guest ABI's codes (`caxton_abi::performative`), which is how a
/// performative crosses into a WASM guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[repr(u8)]
pub enum Performative {
    /// Ask the receiver to perform an action.
    #[default]
    Request = code(abi::REQUEST),
    /// Tell the receiver that something is true.
    Inform = code(abi::INFORM),
    /// Ask the receiver for information (FIPA query-ref).
    Query = code(abi::QUERY),
    /// Agree to perform a requested action.
    Agree = code(abi::AGREE),
    /// Refuse to perform a requested action.
    Refuse = code(abi::REFUSE),
    /// Report that an attempted action failed.
    Failure = code(abi::FAILURE),
    /// The message was not understood.
    NotUnderstood = code(abi::NOT_UNDERSTOOD),
    /// Propose something, in a negotiation.
    Propose = code(abi::PROPOSE),
    /// Accept a proposal.
    AcceptProposal = code(abi::ACCEPT_PROPOSAL),
    /// Reject a proposal.
    RejectProposal = code(abi::REJECT_PROPOSAL),
    /// Call for proposals.
    CallForProposal = code(abi::CALL_FOR_PROPOSAL),
    /// Cancel an earlier request.
    Cancel = code(abi::CANCEL),
    /// Subscribe to updates.
    Subscribe = code(abi::SUBSCRIBE),
}

impl Performative {
    /// Every performative, in discriminant order.
    pub const ALL: [Performative; 13] = [
        Self::Request,
        Self::Inform,
        Self::Query,
        Self::Agree,
        Self::Refuse,
        Self::Failure,
        Self::NotUnderstood,
        Self::Propose,
        Self::AcceptProposal,
        Self::RejectProposal,
        Self::CallForProposal,
        Self::Cancel,
        Self::Subscribe,
    ];

    /// Decodes the `u8` discriminant (as carried across the WASM ABI).
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }
}

// `ALL` holds every ABI code, each at its own index (which `from_u8`
// relies on).
const _: () = {
    assert!(Performative::ALL.len() == abi::COUNT as usize);
    let mut i = 0;
    while i < Performative::ALL.len() {
        assert!(Performative::ALL[i] as usize == i);
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_round_trip() {
        for p in Performative::ALL {
            assert_eq!(Performative::from_u8(p as u8), Some(p));
        }
        assert_eq!(Performative::from_u8(200), None);
    }
}
