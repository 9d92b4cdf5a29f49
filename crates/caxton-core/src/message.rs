//! The message envelope.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Address, AgentId, ConversationId, MessageId, Performative};

/// Nanoseconds since the Unix epoch, as stamped by the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self(nanos)
    }
}

/// One message between agents (or between a caller and an agent).
///
/// The payload is [`Bytes`], so forwarding and broadcasting a message
/// copies no payload bytes. The envelope serializes with serde for
/// checkpoints and the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique id of this message.
    pub id: MessageId,
    /// The sending agent; `None` when sent from outside any agent.
    pub sender: Option<AgentId>,
    /// Where the message is addressed.
    pub receiver: Address,
    /// What the sender means by it.
    pub performative: Performative,
    /// The conversation this message belongs to, if any.
    pub conversation_id: Option<ConversationId>,
    /// Id the receiver should quote in `in_reply_to` when replying.
    pub reply_with: Option<MessageId>,
    /// The `reply_with` of the message this one answers.
    pub in_reply_to: Option<MessageId>,
    /// When the sender created the message.
    pub sent_at: Timestamp,
    /// The content; opaque to the runtime.
    pub payload: Bytes,
}

impl Message {
    /// A new message with a fresh id and the current time.
    pub fn new(receiver: impl Into<Address>, performative: Performative, payload: impl Into<Bytes>) -> Self {
        Self {
            id: MessageId::next(),
            sender: None,
            receiver: receiver.into(),
            performative,
            conversation_id: None,
            reply_with: None,
            in_reply_to: None,
            sent_at: Timestamp::now(),
            payload: payload.into(),
        }
    }

    /// A `Request` to `receiver`.
    pub fn request(receiver: impl Into<Address>, payload: impl Into<Bytes>) -> Self {
        Self::new(receiver, Performative::Request, payload)
    }

    /// An `Inform` to `receiver`.
    pub fn inform(receiver: impl Into<Address>, payload: impl Into<Bytes>) -> Self {
        Self::new(receiver, Performative::Inform, payload)
    }

    /// Sets the conversation id.
    pub fn with_conversation(mut self, id: ConversationId) -> Self {
        self.conversation_id = Some(id);
        self
    }

    /// Sets the sender.
    pub fn with_sender(mut self, sender: AgentId) -> Self {
        self.sender = Some(sender);
        self
    }

    /// Builds the reply to this message: addressed to its sender (when it
    /// had one), in the same conversation, quoting its `reply_with` (or its
    /// id when it set none).
    pub fn reply(&self, performative: Performative, payload: impl Into<Bytes>) -> Self {
        let receiver = match self.sender {
            Some(s) => Address::Id(s),
            None => self.receiver.clone(),
        };
        Self {
            id: MessageId::next(),
            sender: None,
            receiver,
            performative,
            conversation_id: self.conversation_id,
            reply_with: None,
            in_reply_to: Some(self.reply_with.unwrap_or(self.id)),
            sent_at: Timestamp::now(),
            payload: payload.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_through_serde() {
        let to = AgentId::new(3).unwrap();
        let mut m = Message::request(to, &b"hello"[..]).with_conversation(ConversationId::next());
        m.reply_with = Some(MessageId::next());
        m.sender = AgentId::new(9);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
        let bin = postcard::to_allocvec(&m).unwrap();
        assert_eq!(postcard::from_bytes::<Message>(&bin).unwrap(), m);
    }

    #[test]
    fn reply_quotes_the_request() {
        let from = AgentId::new(1).unwrap();
        let to = AgentId::new(2).unwrap();
        let req = Message::request(to, "q")
            .with_sender(from)
            .with_conversation(ConversationId::next());
        let rep = req.reply(Performative::Inform, "a");
        assert_eq!(rep.receiver, Address::Id(from));
        assert_eq!(rep.in_reply_to, Some(req.id));
        assert_eq!(rep.conversation_id, req.conversation_id);
    }

    #[test]
    fn envelope_stays_small() {
        // Every message moves through a mailbox by value; keep it to two cache lines.
        assert!(
            std::mem::size_of::<Message>() <= 128,
            "{}",
            std::mem::size_of::<Message>()
        );
    }
}
