//! FIPA-ACL communicative acts.

use serde::{Deserialize, Serialize};

/// What the sender means by a message, after FIPA-ACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[repr(u8)]
pub enum Performative {
    /// Ask the receiver to perform an action.
    #[default]
    Request = 0,
    /// Tell the receiver that something is true.
    Inform = 1,
    /// Ask the receiver for information (FIPA query-ref).
    Query = 2,
    /// Agree to perform a requested action.
    Agree = 3,
    /// Refuse to perform a requested action.
    Refuse = 4,
    /// Report that an attempted action failed.
    Failure = 5,
    /// The message was not understood.
    NotUnderstood = 6,
    /// Propose something, in a negotiation.
    Propose = 7,
    /// Accept a proposal.
    AcceptProposal = 8,
    /// Reject a proposal.
    RejectProposal = 9,
    /// Call for proposals.
    CallForProposal = 10,
    /// Cancel an earlier request.
    Cancel = 11,
    /// Subscribe to updates.
    Subscribe = 12,
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
