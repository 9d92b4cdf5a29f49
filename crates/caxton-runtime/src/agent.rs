//! The agent trait, the context a handler runs in, and the spawn spec.

use std::sync::Arc;

use bytes::Bytes;
use caxton_core::{Address, AgentId, ConversationId, Message, MessageId, Performative, Timestamp};

use crate::checkpoint::{Checkpoint, CheckpointPolicy};
use crate::error::{AgentError, SendError, SendErrorKind};
use crate::mailbox::ReplySender;
use crate::orchestrator::Orchestrator;
use crate::supervisor::RestartPolicy;

/// Anything that handles messages: a native Rust agent, or a host for a
/// sandboxed one (the WASM host implements this trait too).
///
/// Handlers are synchronous and run on the agent's own task, one message at
/// a time, in mailbox order. Work that must wait belongs in a task the
/// handler spawns (see [`Context::orchestrator`]); the agent then hears back
/// through a message like any other.
pub trait Agent: Send + 'static {
    /// Handles one message. `Err(AgentError::Handler)` records the message
    /// as a dead letter and carries on; `Err(AgentError::Fault)` or a panic
    /// restarts the agent under its restart policy.
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError>;

    /// Serializes the agent's state for a checkpoint; `Ok(None)` (the
    /// default) means the agent keeps no state worth saving.
    fn snapshot(&mut self) -> Result<Option<Bytes>, AgentError> {
        Ok(None)
    }

    /// Restores state produced by [`Agent::snapshot`] into a fresh instance.
    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        let _ = state;
        Ok(())
    }

    /// Memory the agent holds outside the Rust heap, reported in its stats
    /// (the WASM host reports linear-memory size). `None` by default.
    fn memory_bytes(&self) -> Option<u64> {
        None
    }
}

/// Builds agent instances: once at spawn and again on every restart.
pub type Factory<A> = Arc<dyn Fn() -> Result<A, AgentError> + Send + Sync>;

/// How to spawn an agent: its constructor, name, capabilities and policies.
pub struct AgentSpec<A> {
    pub(crate) factory: Factory<A>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) capabilities: Box<[Arc<str>]>,
    pub(crate) mailbox_capacity: Option<usize>,
    pub(crate) max_message_bytes: Option<usize>,
    pub(crate) restart: RestartPolicy,
    pub(crate) checkpoints: CheckpointPolicy,
    pub(crate) initial: Option<Checkpoint>,
}

impl<A> Clone for AgentSpec<A> {
    fn clone(&self) -> Self {
        Self {
            factory: self.factory.clone(),
            name: self.name.clone(),
            capabilities: self.capabilities.clone(),
            mailbox_capacity: self.mailbox_capacity,
            max_message_bytes: self.max_message_bytes,
            restart: self.restart,
            checkpoints: self.checkpoints,
            initial: self.initial.clone(),
        }
    }
}

impl<A: Agent> AgentSpec<A> {
    /// A spec whose instances `factory` builds.
    pub fn new(factory: impl Fn() -> A + Send + Sync + 'static) -> Self {
        Self::try_new(move || Ok(factory()))
    }

    /// A spec with a constructor that can fail (e.g. instantiating a module).
    pub fn try_new(factory: impl Fn() -> Result<A, AgentError> + Send + Sync + 'static) -> Self {
        Self::from_factory(Arc::new(factory))
    }

    /// A spec from a shared factory.
    pub fn from_factory(factory: Factory<A>) -> Self {
        Self {
            factory,
            name: None,
            capabilities: Box::new([]),
            mailbox_capacity: None,
            max_message_bytes: None,
            restart: RestartPolicy::default(),
            checkpoints: CheckpointPolicy::default(),
            initial: None,
        }
    }

    /// Registers the agent under a unique name.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Declares a capability the agent can be addressed by.
    pub fn capability(mut self, cap: impl Into<Arc<str>>) -> Self {
        let mut caps = self.capabilities.into_vec();
        caps.push(cap.into());
        self.capabilities = caps.into_boxed_slice();
        self
    }

    /// Overrides the orchestrator's default mailbox capacity.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = Some(capacity);
        self
    }

    /// Overrides the orchestrator's largest accepted payload
    /// ([`crate::OrchestratorConfig::max_message_bytes`]) for this agent:
    /// a larger message is refused to its sender, never handed to the agent.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = Some(bytes);
        self
    }

    /// Sets the restart policy.
    pub fn restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// Sets when checkpoints are taken automatically.
    pub fn checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.checkpoints = policy;
        self
    }

    /// Starts the agent from this checkpoint instead of a fresh state.
    pub fn restore_from(mut self, checkpoint: Checkpoint) -> Self {
        self.initial = Some(checkpoint);
        self
    }
}

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
    pub fn broadcast(&self, capability: &str, mut msg: Message) -> Result<crate::Broadcast, SendError> {
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
