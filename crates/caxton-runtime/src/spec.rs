//! How to spawn an agent: its factory, name, capabilities and policies.

use std::sync::{Arc, LazyLock};

use caxton_core::AgentId;

use crate::checkpoint::{Checkpoint, CheckpointPolicy};
use crate::error::AgentError;
use crate::restart::RestartPolicy;

/// Builds agent instances: once at spawn and again on every restart.
pub type Factory<A> = Arc<dyn Fn() -> Result<A, AgentError> + Send + Sync>;

/// Called with every checkpoint the agent takes (automatic or asked for),
/// on the agent's task, e.g. to keep it somewhere that outlives the
/// process. It must be quick; a panic in it is contained and ignored.
pub type CheckpointHook = Arc<dyn Fn(&Checkpoint) + Send + Sync>;

/// How to spawn an agent: its constructor, name, capabilities and policies.
pub struct AgentSpec<A> {
    pub(crate) factory: Factory<A>,
    pub(crate) name: Option<Arc<str>>,
    /// What every agent of this spec shares (one allocation per spec, not
    /// per agent).
    pub(crate) common: Arc<SpecCommon>,
    pub(crate) mailbox_capacity: Option<usize>,
    pub(crate) initial: Option<Checkpoint>,
    pub(crate) id: Option<AgentId>,
}

/// The part of a spec that its agents share, held by each agent through
/// one pointer: capabilities, policies, the checkpoint hook and the
/// payload limit.
#[derive(Clone, Default)]
pub(crate) struct SpecCommon {
    pub(crate) capabilities: Box<[Arc<str>]>,
    pub(crate) restart: RestartPolicy,
    pub(crate) checkpoints: CheckpointPolicy,
    pub(crate) on_checkpoint: Option<CheckpointHook>,
    /// The largest payload accepted; `None`: the orchestrator's.
    pub(crate) max_message_bytes: Option<usize>,
}

/// The common part of a spec that sets none of it: shared by every such
/// spec, so building one allocates nothing.
static DEFAULT_COMMON: LazyLock<Arc<SpecCommon>> = LazyLock::new(Arc::default);

impl<A> Clone for AgentSpec<A> {
    fn clone(&self) -> Self {
        Self {
            factory: self.factory.clone(),
            name: self.name.clone(),
            common: self.common.clone(),
            mailbox_capacity: self.mailbox_capacity,
            initial: self.initial.clone(),
            id: self.id,
        }
    }
}

// No `A: Agent` bound here: a spec is only a factory and policies, and
// `Orchestrator::spawn` is what asks for an agent. So `spec` does not depend
// on `agent` (whose `Context` depends on the orchestrator, which takes specs).
impl<A> AgentSpec<A> {
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
            common: DEFAULT_COMMON.clone(),
            mailbox_capacity: None,
            initial: None,
            id: None,
        }
    }

    /// The shared part, to change (copied first if other specs share it).
    fn common_mut(&mut self) -> &mut SpecCommon {
        Arc::make_mut(&mut self.common)
    }

    /// Registers the agent under a unique name.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Declares a capability the agent can be addressed by.
    pub fn capability(mut self, cap: impl Into<Arc<str>>) -> Self {
        let common = self.common_mut();
        let mut caps = std::mem::take(&mut common.capabilities).into_vec();
        caps.push(cap.into());
        common.capabilities = caps.into_boxed_slice();
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
        self.common_mut().max_message_bytes = Some(bytes);
        self
    }

    /// Sets the restart policy.
    pub fn restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.common_mut().restart = policy;
        self
    }

    /// Sets when checkpoints are taken automatically.
    pub fn checkpoint_policy(mut self, policy: CheckpointPolicy) -> Self {
        self.common_mut().checkpoints = policy;
        self
    }

    /// Calls `hook` with every checkpoint the agent takes, so a host can
    /// keep it beyond the process (a cluster node stores it in NATS).
    pub fn on_checkpoint(mut self, hook: impl Fn(&Checkpoint) + Send + Sync + 'static) -> Self {
        self.common_mut().on_checkpoint = Some(Arc::new(hook));
        self
    }

    /// Spawns the agent under `id` instead of a fresh one: an agent moved
    /// here from another orchestrator keeps its address. Refused
    /// ([`crate::SpawnError::IdTaken`]) when `id` is live here or was
    /// handed out here; the caller keeps it out of the range this
    /// orchestrator hands out (cluster nodes own disjoint ranges).
    pub fn with_id(mut self, id: AgentId) -> Self {
        self.id = Some(id);
        self
    }

    /// The name the agent will be registered under, if any.
    pub fn declared_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The capabilities the agent declares.
    pub fn declared_capabilities(&self) -> &[Arc<str>] {
        &self.common.capabilities
    }

    /// Starts the agent from this checkpoint instead of a fresh state.
    pub fn restore_from(mut self, checkpoint: Checkpoint) -> Self {
        self.initial = Some(checkpoint);
        self
    }
}
