//! Where a message goes: one agent, a registered name, or a capability.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::AgentId;

/// The receiver of a message.
///
/// Routing by [`Address::Id`] is a lock-free O(1) lookup; names and
/// capabilities are resolved to an id first.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Address {
    /// One agent, by id.
    Id(AgentId),
    /// One agent, by the name it was registered under.
    Name(Arc<str>),
    /// Any one agent that declared this capability (chosen by the
    /// orchestrator's selection policy), or all of them for a broadcast.
    Capability(Arc<str>),
}

impl Address {
    /// Address of a registered name.
    pub fn name(name: impl Into<Arc<str>>) -> Self {
        Self::Name(name.into())
    }

    /// Address of a capability.
    pub fn capability(cap: impl Into<Arc<str>>) -> Self {
        Self::Capability(cap.into())
    }
}

impl From<AgentId> for Address {
    fn from(id: AgentId) -> Self {
        Self::Id(id)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(n) => write!(f, "name:{n}"),
            Self::Capability(c) => write!(f, "capability:{c}"),
        }
    }
}
