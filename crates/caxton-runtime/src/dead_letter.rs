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
    /// The payload was over the receiver's size limit.
    MessageTooLarge,
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
            Self::MessageTooLarge => 10,
        }
    }

    const NAMES: [&'static str; REASONS] = [
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
        "message_too_large",
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
            SendErrorKind::MessageTooLarge { .. } => Self::MessageTooLarge,
        }
    }
}

/// How many reasons there are (the length of the counts table).
const REASONS: usize = 11;

/// One undeliverable message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The message. The log keeps payloads within its byte budget
    /// ([`crate::OrchestratorConfig::dead_letter_log_bytes`]); a payload
    /// over the whole budget is dropped from the copy in the log (the
    /// message is kept with an empty payload and `payload_len` says how
    /// big it was).
    pub message: Message,
    /// The payload's size in bytes when it was recorded.
    #[serde(default)]
    pub payload_len: usize,
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
    counts: [AtomicU64; REASONS],
    recent: Mutex<Log>,
    keep: usize,
    keep_bytes: usize,
}

/// The recent log and the payload bytes it holds.
#[derive(Default)]
struct Log {
    entries: VecDeque<DeadLetter>,
    bytes: usize,
}

impl DeadLetters {
    /// A record whose log keeps at most `keep` entries and `keep_bytes`
    /// payload bytes.
    pub(crate) fn new(keep: usize, keep_bytes: usize) -> Self {
        Self {
            counts: Default::default(),
            recent: Mutex::new(Log::default()),
            keep,
            keep_bytes,
        }
    }

    /// Counts one dead letter and keeps a copy in the log.
    pub(crate) fn record(&self, mut message: Message, agent: Option<AgentId>, reason: DeadLetterReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
        if self.keep == 0 {
            return;
        }
        let payload_len = message.payload.len();
        if payload_len > self.keep_bytes {
            // Keeping it would evict the whole log and still not fit.
            message.payload = bytes::Bytes::new();
        }
        let kept = message.payload.len();
        let mut log = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        while log.entries.len() >= self.keep || (log.bytes + kept > self.keep_bytes && !log.entries.is_empty()) {
            if let Some(old) = log.entries.pop_front() {
                log.bytes -= old.message.payload.len();
            }
        }
        log.bytes += kept;
        log.entries.push_back(DeadLetter {
            message,
            payload_len,
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
            .entries
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(bytes: usize) -> Message {
        Message::request(AgentId::new(1).unwrap(), vec![0u8; bytes])
    }

    #[test]
    fn log_stays_within_its_byte_budget() {
        let dl = DeadLetters::new(1000, 10_000);
        for _ in 0..100 {
            dl.record(msg(1000), None, DeadLetterReason::MailboxFull);
        }
        let recent = dl.recent();
        let held: usize = recent.iter().map(|d| d.message.payload.len()).sum();
        assert!(held <= 10_000, "log holds {held} bytes");
        assert_eq!(recent.len(), 10);
        // Counts stay exact whatever the log drops.
        assert_eq!(dl.counts().total, 100);
    }

    #[test]
    fn a_payload_over_the_budget_is_logged_without_it() {
        let dl = DeadLetters::new(10, 100);
        dl.record(msg(50), None, DeadLetterReason::MailboxFull);
        dl.record(msg(1 << 20), None, DeadLetterReason::MailboxFull);
        let recent = dl.recent();
        assert_eq!(recent.len(), 2, "the small one stays");
        assert_eq!(recent[1].payload_len, 1 << 20);
        assert!(recent[1].message.payload.is_empty());
    }
}
