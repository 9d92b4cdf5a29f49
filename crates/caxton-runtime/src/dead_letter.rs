//! The dead-letter record: every message that could not be delivered or
//! handled, with the reason. Counts are exact; the most recent messages are
//! kept in a bounded log.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use caxton_core::{AgentId, Message, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{FaultKind, SendErrorKind};

/// Why a message became a dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadLetterReason {
    /// No agent registered under the address.
    UnknownAgent,
    /// The receiver had stopped.
    AgentStopped,
    /// The receiver's mailbox was full and the sender chose not to wait.
    MailboxFull,
    /// No live agent had the capability.
    NoCapableAgent,
    /// A reply with nowhere to go.
    NoReplyTarget,
    /// Sent while the orchestrator was shutting down.
    ShuttingDown,
    /// The handler returned an error.
    HandlerError(String),
    /// Handling it faulted the agent (panic or trap); the agent was restarted.
    Fault {
        /// The kind of fault.
        kind: FaultKind,
        /// Panic message or trap description.
        detail: String,
    },
    /// Still queued when the agent exceeded its restart policy and was stopped.
    AgentFailed,
    /// Still queued when shutdown's deadline passed.
    Undelivered,
}

impl DeadLetterReason {
    fn index(&self) -> usize {
        match self {
            Self::UnknownAgent => 0,
            Self::AgentStopped => 1,
            Self::MailboxFull => 2,
            Self::NoCapableAgent => 3,
            Self::ShuttingDown => 4,
            Self::HandlerError(_) => 5,
            Self::Fault { .. } => 6,
            Self::AgentFailed => 7,
            Self::Undelivered => 8,
            Self::NoReplyTarget => 9,
        }
    }

    const NAMES: [&'static str; 10] = [
        "unknown_agent",
        "agent_stopped",
        "mailbox_full",
        "no_capable_agent",
        "shutting_down",
        "handler_error",
        "fault",
        "agent_failed",
        "undelivered",
        "no_reply_target",
    ];
}

impl From<&SendErrorKind> for DeadLetterReason {
    fn from(kind: &SendErrorKind) -> Self {
        match kind {
            SendErrorKind::UnknownAgent(_) => Self::UnknownAgent,
            SendErrorKind::AgentStopped(_) => Self::AgentStopped,
            SendErrorKind::MailboxFull { .. } => Self::MailboxFull,
            SendErrorKind::NoCapableAgent(_) => Self::NoCapableAgent,
            SendErrorKind::NoReplyTarget => Self::NoReplyTarget,
            SendErrorKind::ShuttingDown => Self::ShuttingDown,
        }
    }
}

/// One undeliverable message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The message.
    pub message: Message,
    /// The agent it was for, when known.
    pub agent: Option<AgentId>,
    /// Why it was not delivered or handled.
    pub reason: DeadLetterReason,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

/// Totals of the dead-letter record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterCounts {
    /// All dead letters.
    pub total: u64,
    /// Per reason, by snake_case reason name; reasons with zero omitted.
    pub by_reason: Vec<(String, u64)>,
}

pub(crate) struct DeadLetters {
    counts: [AtomicU64; 10],
    recent: Mutex<VecDeque<DeadLetter>>,
    keep: usize,
}

impl DeadLetters {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            counts: Default::default(),
            recent: Mutex::new(VecDeque::new()),
            keep,
        }
    }

    pub(crate) fn record(&self, message: Message, agent: Option<AgentId>, reason: DeadLetterReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
        if self.keep == 0 {
            return;
        }
        let mut log = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == self.keep {
            log.pop_front();
        }
        log.push_back(DeadLetter {
            message,
            agent,
            reason,
            recorded_at: Timestamp::now(),
        });
    }

    pub(crate) fn counts(&self) -> DeadLetterCounts {
        let mut out = DeadLetterCounts::default();
        for (i, c) in self.counts.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            out.total += n;
            if n > 0 {
                out.by_reason.push((DeadLetterReason::NAMES[i].to_string(), n));
            }
        }
        out
    }

    pub(crate) fn recent(&self) -> Vec<DeadLetter> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}
