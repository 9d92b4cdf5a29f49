//! The wire format between nodes: one version byte, then a postcard-encoded
//! [`Frame`] that carries the runtime's own serde [`Message`].
//!
//! Decoding never panics: bytes of another wire version are
//! [`WireError::VersionMismatch`] (naming both versions), anything else
//! that does not decode is [`WireError::Malformed`].

use bytes::Bytes;
use caxton_core::Message;
use caxton_runtime::{RequestError, SendErrorKind};
use serde::{Deserialize, Serialize};

/// The wire version this build speaks; a frame of any other version is refused.
pub const WIRE_VERSION: u8 = 1;

/// One unit on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// A one-way message (a send or one copy of a broadcast): at most once.
    Send(Message),
    /// A request; the responder answers with [`Frame::Reply`] or [`Frame::Error`].
    Request {
        /// The request.
        message: Message,
        /// The requester's timeout in milliseconds; the responder waits no longer.
        timeout_ms: u64,
    },
    /// The agent's reply to a [`Frame::Request`].
    Reply(Message),
    /// Why a request got no reply, from the node that hosts the agent.
    Error(RemoteError),
}

/// Why a remote node could not deliver or answer: the typed error frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RemoteError {
    /// No agent is registered under the address on the answering node.
    #[error("no agent is registered as {address} on the remote node")]
    UnknownAgent {
        /// The address, as displayed.
        address: String,
    },
    /// The agent had stopped.
    #[error("agent#{agent} has stopped")]
    AgentStopped {
        /// The agent's raw id.
        agent: u64,
    },
    /// The agent's mailbox was full.
    #[error("mailbox of agent#{agent} is full ({capacity} messages)")]
    MailboxFull {
        /// The agent's raw id.
        agent: u64,
        /// Its capacity.
        capacity: u64,
    },
    /// No live agent on the answering node has the capability.
    #[error("no live agent has capability {capability:?} on the remote node")]
    NoCapableAgent {
        /// The capability.
        capability: String,
    },
    /// The payload was over the agent's limit.
    #[error("payload of {size} bytes is over the {limit}-byte limit of agent#{agent}")]
    MessageTooLarge {
        /// The agent's raw id.
        agent: u64,
        /// Payload size in bytes.
        size: u64,
        /// The agent's limit in bytes.
        limit: u64,
    },
    /// The answering node is shutting down.
    #[error("the remote node is shutting down")]
    ShuttingDown,
    /// The agent did not reply within the requester's timeout.
    #[error("no reply within {after_ms} ms on the remote node (request {})", if *accepted { "accepted" } else { "never accepted" })]
    Timeout {
        /// The timeout that passed, in milliseconds.
        after_ms: u64,
        /// Whether the agent's mailbox had accepted the request.
        accepted: bool,
    },
    /// The agent handled the request without replying.
    #[error("agent#{agent} handled the request without replying")]
    NoReply {
        /// The agent's raw id.
        agent: u64,
    },
    /// The agent failed while handling the request.
    #[error("agent#{agent} failed to handle the request: {reason}")]
    Failed {
        /// The agent's raw id.
        agent: u64,
        /// What went wrong.
        reason: String,
    },
    /// A reply with nowhere to go.
    #[error("the message being answered has no reply target")]
    NoReplyTarget,
    /// The request did not decode on the answering node.
    #[error("the remote node could not decode the request: {detail}")]
    Malformed {
        /// The decode error.
        detail: String,
    },
}

impl From<&SendErrorKind> for RemoteError {
    fn from(kind: &SendErrorKind) -> Self {
        match kind {
            SendErrorKind::UnknownAgent(a) => Self::UnknownAgent { address: a.to_string() },
            SendErrorKind::AgentStopped(id) => Self::AgentStopped { agent: id.get() },
            SendErrorKind::MailboxFull { agent, capacity } => Self::MailboxFull {
                agent: agent.get(),
                capacity: *capacity as u64,
            },
            SendErrorKind::NoCapableAgent(c) => Self::NoCapableAgent {
                capability: c.to_string(),
            },
            SendErrorKind::NoReplyTarget => Self::NoReplyTarget,
            SendErrorKind::ShuttingDown => Self::ShuttingDown,
            SendErrorKind::MessageTooLarge { agent, size, limit } => Self::MessageTooLarge {
                agent: agent.get(),
                size: *size as u64,
                limit: *limit as u64,
            },
        }
    }
}

impl From<&RequestError> for RemoteError {
    fn from(e: &RequestError) -> Self {
        match e {
            RequestError::Send(s) => Self::from(&s.kind),
            RequestError::Timeout { after, accepted } => Self::Timeout {
                after_ms: after.as_millis() as u64,
                accepted: *accepted,
            },
            RequestError::NoReply(id) => Self::NoReply { agent: id.get() },
            RequestError::Failed { agent, reason } => Self::Failed {
                agent: agent.get(),
                reason: reason.clone(),
            },
        }
    }
}

/// Why bytes could not be encoded or decoded as a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Zero bytes: not even a version byte.
    #[error("empty frame: no wire version byte")]
    Empty,
    /// A frame of another wire version.
    #[error("wire version mismatch: this node speaks version {ours}, the peer sent version {theirs}")]
    VersionMismatch {
        /// The version this node speaks ([`WIRE_VERSION`]).
        ours: u8,
        /// The version the frame carries.
        theirs: u8,
    },
    /// The right version byte, but the rest is not a frame.
    #[error("malformed frame: {detail}")]
    Malformed {
        /// What the decoder said.
        detail: String,
    },
    /// The frame could not be encoded (never expected for a valid message).
    #[error("frame could not be encoded: {0}")]
    Encode(String),
}

/// Encodes `frame` at [`WIRE_VERSION`].
pub fn encode(frame: &Frame) -> Result<Bytes, WireError> {
    encode_as(WIRE_VERSION, frame)
}

/// Encodes `frame` behind an arbitrary version byte: what a peer of
/// another version would send (for tests of version refusal).
pub fn encode_as(version: u8, frame: &Frame) -> Result<Bytes, WireError> {
    let body = postcard::to_allocvec(frame).map_err(|e| WireError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(version);
    out.extend_from_slice(&body);
    Ok(Bytes::from(out))
}

/// Decodes a frame of [`WIRE_VERSION`]; never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<Frame, WireError> {
    let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != WIRE_VERSION {
        return Err(WireError::VersionMismatch {
            ours: WIRE_VERSION,
            theirs: version,
        });
    }
    let (frame, rest) =
        postcard::take_from_bytes::<Frame>(body).map_err(|e| WireError::Malformed { detail: e.to_string() })?;
    if !rest.is_empty() {
        return Err(WireError::Malformed {
            detail: format!("{} trailing bytes after the frame", rest.len()),
        });
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use caxton_core::{AgentId, MessageId};

    fn msg() -> Message {
        let mut m = Message::request(AgentId::new(5).unwrap(), &b"payload"[..]).with_sender(AgentId::new(9).unwrap());
        m.reply_with = Some(MessageId::next());
        m
    }

    #[test]
    fn every_frame_round_trips() {
        let frames = [
            Frame::Send(msg()),
            Frame::Request {
                message: msg(),
                timeout_ms: 1500,
            },
            Frame::Reply(msg()),
            Frame::Error(RemoteError::MailboxFull { agent: 3, capacity: 8 }),
        ];
        for f in frames {
            let bytes = encode(&f).unwrap();
            assert_eq!(bytes[0], WIRE_VERSION);
            assert_eq!(decode(&bytes).unwrap(), f);
        }
    }

    #[test]
    fn another_version_is_refused_naming_both() {
        let bytes = encode_as(WIRE_VERSION + 1, &Frame::Send(msg())).unwrap();
        let err = decode(&bytes).unwrap_err();
        assert_eq!(
            err,
            WireError::VersionMismatch {
                ours: WIRE_VERSION,
                theirs: WIRE_VERSION + 1
            }
        );
        let text = err.to_string();
        assert!(text.contains("version 1") && text.contains("version 2"), "{text}");
    }

    #[test]
    fn garbage_is_a_typed_error_never_a_panic() {
        assert_eq!(decode(&[]), Err(WireError::Empty));
        let good = encode(&Frame::Send(msg())).unwrap();
        // Every truncation and a trailing byte.
        for n in 1..good.len() {
            assert!(matches!(decode(&good[..n]), Err(WireError::Malformed { .. })), "{n}");
        }
        let mut long = good.to_vec();
        long.push(0);
        assert!(matches!(decode(&long), Err(WireError::Malformed { .. })));
        // Pseudo-random bytes behind the right version byte.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..512 {
            let mut b = vec![WIRE_VERSION];
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            let _ = decode(&b);
        }
    }
}
