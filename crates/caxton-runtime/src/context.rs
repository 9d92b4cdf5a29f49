//! The context a handler runs in: who it is, replying, and sending.

use bytes::Bytes;
use caxton_core::{Address, AgentId, ConversationId, Message, MessageId, Performative, Timestamp};

use crate::error::{SendError, SendErrorKind};
use crate::mailbox::ReplySender;
use crate::orchestrator::{Broadcast, Orchestrator};

/// What a handler may do besides changing its own state: learn who it is,
/// reply, and send to other agents.
pub struct Context<'a> {
    pub(crate) orch: &'a Orchestrator,
    pub(crate) id: AgentId,
    pub(crate) reply: Option<ReplySender>,
    pub(crate) sender: Option<AgentId>,
    pub(crate) quote: MessageId,
    pub(crate) conversation: Option<ConversationId>,
}

impl<'a> Context<'a> {
    /// This agent's id.
    pub fn id(&self) -> AgentId {
        self.id
    }

    /// The orchestrator, for spawning agents, stats, or async work in a
    /// spawned task.
    pub fn orchestrator(&self) -> &'a Orchestrator {
        self.orch
    }

    /// Sends a message from this agent without waiting: a full mailbox is an
    /// error ([`SendErrorKind::MailboxFull`]), so agents that message each
    /// other can never deadlock on backpressure.
    pub fn send(&self, mut msg: Message) -> Result<(), SendError> {
        msg.sender = Some(self.id);
        self.orch.try_send(msg)
    }

    /// Sends a copy to every live agent with `capability`, from this agent.
    pub fn broadcast(&self, capability: &str, mut msg: Message) -> Result<Broadcast, SendError> {
        msg.sender = Some(self.id);
        self.orch.broadcast(capability, msg)
    }

    /// Replies to the message being handled: to the waiting caller of
    /// [`Orchestrator::request`], or else to the sending agent. At most one
    /// reply reaches a waiting caller; later ones go to the sender (if any).
    pub fn reply(&mut self, performative: Performative, payload: impl Into<Bytes>) -> Result<(), SendError> {
        // With no sending agent the reply goes only to a waiting caller.
        let receiver = Address::Id(self.sender.unwrap_or(self.id));
        let msg = Message {
            id: MessageId::next(),
            sender: Some(self.id),
            receiver,
            performative,
            conversation_id: self.conversation,
            reply_with: None,
            in_reply_to: Some(self.quote),
            sent_at: Timestamp::now(),
            payload: payload.into(),
        };
        if let Some(tx) = self.reply.take() {
            // The caller may have timed out and gone; that is its choice.
            let _ = tx.send(Ok(msg));
            return Ok(());
        }
        match self.sender {
            Some(_) => self.orch.try_send(msg),
            None => Err(self.orch.reject(msg, SendErrorKind::NoReplyTarget, Some(self.id))),
        }
    }

    /// Whether a caller is waiting on a reply to the current message.
    pub fn reply_expected(&self) -> bool {
        self.reply.is_some()
    }
}
