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
    /// Accepted, but never delivered: still queued when shutdown's
    /// deadline passed, or when its final recipient outside the runtime
    /// went away (see [`crate::Orchestrator::record_dead_letter`]).
    Undelivered,
    /// The payload was over the receiver's size limit.
    MessageTooLarge,
    /// Bytes that arrived from outside the process (say, on a cluster
    /// subject) and did not decode as a message; the detail says why. The
    /// recorded message carries the raw bytes as its payload.
    Malformed(String),
}

impl DeadLetterReason {
    /// The reason's kind, without its detail.
    pub const fn kind(&self) -> DeadLetterKind {
        match self {
            Self::UnknownAgent => DeadLetterKind::UnknownAgent,
            Self::AgentStopped => DeadLetterKind::AgentStopped,
            Self::MailboxFull => DeadLetterKind::MailboxFull,
            Self::NoCapableAgent => DeadLetterKind::NoCapableAgent,
            Self::NoReplyTarget => DeadLetterKind::NoReplyTarget,
            Self::ShuttingDown => DeadLetterKind::ShuttingDown,
            Self::HandlerError(_) => DeadLetterKind::HandlerError,
            Self::Fault { .. } => DeadLetterKind::Fault,
            Self::AgentFailed => DeadLetterKind::AgentFailed,
            Self::Undelivered => DeadLetterKind::Undelivered,
            Self::MessageTooLarge => DeadLetterKind::MessageTooLarge,
            Self::Malformed(_) => DeadLetterKind::Malformed,
        }
    }
}

/// The kind of a [`DeadLetterReason`], without its detail: what the counts
/// are kept by. Serialized (and named by [`DeadLetterKind::name`]) in
/// snake_case, as in [`DeadLetterCounts::by_reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterKind {
    /// [`DeadLetterReason::UnknownAgent`].
    UnknownAgent,
    /// [`DeadLetterReason::AgentStopped`].
    AgentStopped,
    /// [`DeadLetterReason::MailboxFull`].
    MailboxFull,
    /// [`DeadLetterReason::NoCapableAgent`].
    NoCapableAgent,
    /// [`DeadLetterReason::ShuttingDown`].
    ShuttingDown,
    /// [`DeadLetterReason::HandlerError`].
    HandlerError,
    /// [`DeadLetterReason::Fault`].
    Fault,
    /// [`DeadLetterReason::AgentFailed`].
    AgentFailed,
    /// [`DeadLetterReason::Undelivered`].
    Undelivered,
    /// [`DeadLetterReason::NoReplyTarget`].
    NoReplyTarget,
    /// [`DeadLetterReason::MessageTooLarge`].
    MessageTooLarge,
    /// [`DeadLetterReason::Malformed`].
    Malformed,
}

impl DeadLetterKind {
    /// Every kind, in the order the counts list them.
    pub const ALL: [Self; 12] = [
        Self::UnknownAgent,
        Self::AgentStopped,
        Self::MailboxFull,
        Self::NoCapableAgent,
        Self::ShuttingDown,
        Self::HandlerError,
        Self::Fault,
        Self::AgentFailed,
        Self::Undelivered,
        Self::NoReplyTarget,
        Self::MessageTooLarge,
        Self::Malformed,
    ];

    /// The snake_case name (as serialized).
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnknownAgent => "unknown_agent",
            Self::AgentStopped => "agent_stopped",
            Self::MailboxFull => "mailbox_full",
            Self::NoCapableAgent => "no_capable_agent",
            Self::ShuttingDown => "shutting_down",
            Self::HandlerError => "handler_error",
            Self::Fault => "fault",
            Self::AgentFailed => "agent_failed",
            Self::Undelivered => "undelivered",
            Self::NoReplyTarget => "no_reply_target",
            Self::MessageTooLarge => "message_too_large",
            Self::Malformed => "malformed",
        }
    }

    /// The kind named `name` (snake_case), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether a message with this fate had been accepted into a mailbox
    /// (it failed in or after its handler, or was still queued at the end),
    /// rather than refused to its sender.
    pub const fn after_accept(self) -> bool {
        matches!(
            self,
            Self::HandlerError | Self::Fault | Self::AgentFailed | Self::Undelivered
        )
    }

    /// The index in the counts table (the declaration order).
    const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for DeadLetterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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

/// How many kinds there are (the length of the counts table).
const REASONS: usize = DeadLetterKind::ALL.len();

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
    /// Per reason, by snake_case reason name ([`DeadLetterKind::name`]);
    /// reasons with zero omitted. [`DeadLetterCounts::get`] and
    /// [`DeadLetterCounts::kinds`] read it typed.
    pub by_reason: Vec<(String, u64)>,
}

impl DeadLetterCounts {
    /// Dead letters of `kind` (0 when none).
    pub fn get(&self, kind: DeadLetterKind) -> u64 {
        let name = kind.name();
        self.by_reason.iter().filter(|(r, _)| r == name).map(|(_, n)| n).sum()
    }

    /// The counts by kind, in [`Self::by_reason`]'s order (names no kind
    /// has are skipped).
    pub fn kinds(&self) -> impl Iterator<Item = (DeadLetterKind, u64)> + '_ {
        self.by_reason
            .iter()
            .filter_map(|(r, n)| DeadLetterKind::from_name(r).map(|k| (k, *n)))
    }

    /// Dead letters of messages that had been accepted into a mailbox
    /// ([`DeadLetterKind::after_accept`]).
    pub fn after_accept(&self) -> u64 {
        self.kinds().filter(|(k, _)| k.after_accept()).map(|(_, n)| n).sum()
    }
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
        self.counts[reason.kind().index()].fetch_add(1, Ordering::Relaxed);
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
        for (kind, c) in DeadLetterKind::ALL.into_iter().zip(&self.counts) {
            let n = c.load(Ordering::Relaxed);
            out.total += n;
            if n > 0 {
                out.by_reason.push((kind.name().to_owned(), n));
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
    fn kinds_are_named_once_and_index_the_table() {
        for (i, k) in DeadLetterKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(DeadLetterKind::from_name(k.name()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
        }
    }

    #[test]
    fn counts_read_typed() {
        let dl = DeadLetters::new(10, 100);
        dl.record(msg(1), None, DeadLetterReason::MailboxFull);
        dl.record(msg(1), None, DeadLetterReason::Undelivered);
        dl.record(msg(1), None, DeadLetterReason::Undelivered);
        let counts = dl.counts();
        assert_eq!(counts.get(DeadLetterKind::MailboxFull), 1);
        assert_eq!(counts.get(DeadLetterKind::Undelivered), 2);
        assert_eq!(counts.get(DeadLetterKind::Fault), 0);
        assert_eq!(counts.after_accept(), 2);
        let kinds: Vec<_> = counts.kinds().collect();
        assert_eq!(
            kinds,
            [(DeadLetterKind::MailboxFull, 1), (DeadLetterKind::Undelivered, 2)]
        );
        assert_eq!(
            counts.by_reason,
            [("mailbox_full".to_owned(), 1), ("undelivered".to_owned(), 2)]
        );
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
