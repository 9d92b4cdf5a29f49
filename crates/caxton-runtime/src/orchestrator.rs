//! The orchestrator handle: routes messages in the sender's own context,
//! controls and observes agents, and shuts down cleanly. Spawning (which
//! builds an agent's task) is in `task`; this module knows nothing of the
//! run loop.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use caxton_core::{Address, AgentId, Message, MessageId};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use crate::checkpoint::Checkpoint;
use crate::cpu::CpuClock;
use crate::dead_letter::{DeadLetter, DeadLetterCounts, DeadLetterReason, DeadLetters};
use crate::deadline::{Deadlines, Elapsed, WithDeadline};
use crate::error::{CheckpointError, RequestError, SendError, SendErrorKind};
use crate::executor::{Executor, Placement};
use crate::mailbox::{Control, Envelope, PushError};
use crate::registry::{AgentShared, Registry, Selection};
use crate::restart::AgentFailure;
use crate::stats::{AgentStats, AgentStatus};

/// Orchestrator-wide settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct OrchestratorConfig {
    /// Mailbox capacity of agents whose spec sets none.
    pub mailbox_capacity: usize,
    /// How a send to a capability picks its agent.
    pub selection: Selection,
    /// Dead letters kept in the recent log (counts are always exact).
    pub dead_letter_log: usize,
    /// Payload bytes the recent dead-letter log may hold; older entries
    /// are dropped first, so a flood of large messages cannot grow it.
    pub dead_letter_log_bytes: usize,
    /// The largest payload, in bytes, an agent whose spec sets none
    /// accepts; a larger one is refused to its sender
    /// ([`SendErrorKind::MessageTooLarge`]).
    pub max_message_bytes: usize,
    /// The clock that sums each agent's handler time
    /// ([`CpuClock::Sampled`] by default: an upper bound of thread CPU
    /// time at about the cost of the monotonic clock).
    pub cpu_clock: CpuClock,
    /// The first agent id handed out (ids then count up from it; zero
    /// counts as one). Orchestrators that share an id space, such as the
    /// nodes of a cluster, each start at the base of a disjoint range.
    pub first_agent_id: u64,
    /// Where agents run: on the runtime the orchestrator was made on
    /// ([`Executor::Shared`], the default: fastest for senders that are
    /// tasks on that runtime), or on threads of its own, one
    /// single-threaded runtime per core ([`Executor::PerCore`]: fastest
    /// for senders on threads of their own).
    pub executor: Executor,
}

impl Default for OrchestratorConfig {
    /// 1024-message mailboxes, round-robin, a dead-letter log of 1024
    /// entries and 16 MiB, 16 MiB messages, the sampled CPU clock, ids
    /// from 1, agents on the runtime the orchestrator is made on.
    fn default() -> Self {
        Self {
            mailbox_capacity: 1024,
            selection: Selection::RoundRobin,
            dead_letter_log: 1024,
            dead_letter_log_bytes: 16 << 20,
            max_message_bytes: 16 << 20,
            cpu_clock: CpuClock::Sampled,
            first_agent_id: 1,
            executor: Executor::Shared,
        }
    }
}

/// The result of a broadcast: which agents got a copy and which did not.
#[derive(Debug, Default)]
pub struct Broadcast {
    /// Agents whose mailbox accepted a copy.
    pub delivered: Vec<AgentId>,
    /// Agents that refused a copy, with the reason (each counted as a dead letter).
    pub failed: Vec<(AgentId, SendErrorKind)>,
}

/// One live agent at a glance (see [`Orchestrator::glance_all`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentGlance {
    /// The agent.
    pub id: AgentId,
    /// Its lifecycle state.
    pub status: AgentStatus,
    /// Messages accepted and not yet handled.
    pub mailbox_depth: usize,
}

/// What [`Orchestrator::shutdown`] did.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// Agents that were live when shutdown began.
    pub agents: usize,
    /// Agents that drained their mailbox and exited before the deadline.
    pub agents_drained: usize,
    /// Messages handled while draining.
    pub messages_drained: u64,
    /// Accepted messages still queued at the deadline; each is also a dead
    /// letter with reason `Undelivered`.
    pub undelivered: Vec<DeadLetter>,
    /// Accepted messages still in the hands of agents stuck in a handler at
    /// the deadline (the one in the handler and the rest of its batch):
    /// not lost, they are handled if the handler returns.
    pub in_progress: usize,
}

struct Inner {
    registry: Registry,
    dead_letters: DeadLetters,
    failures: Mutex<Vec<AgentFailure>>,
    config: OrchestratorConfig,
    placement: Placement,
    live: AtomicUsize,
    all_exited: Notify,
    shutting_down: AtomicBool,
    /// Messages handled by every agent, ever (added once per batch).
    handled_total: AtomicU64,
    /// Restarts after faults, ever.
    restarts_total: AtomicU64,
    /// The deadlines of requests still waiting (see [`crate::deadline`]).
    deadlines: Deadlines,
}

/// A handle to the orchestrator; cheap to clone and share.
///
/// Routing happens in the caller's context: a send looks up the receiver's
/// mailbox and pushes to it directly, with no router task in between.
///
/// When the last handle made by [`Orchestrator::new`] (and its clones) is
/// dropped without [`Orchestrator::shutdown`], every agent is closed: it
/// handles what it accepted and exits, releasing what it holds. Handles an
/// agent gets from [`crate::Context::orchestrator`] do not keep agents
/// alive on their own.
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
    /// Present in handles given to users; the last one dropped closes
    /// every agent. Agent tasks hold handles without it (they would
    /// otherwise keep each other alive).
    _user: Option<Arc<UserHandles>>,
}

/// Closes every agent when the last user handle goes.
struct UserHandles(Weak<Inner>);

impl Drop for UserHandles {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.close_all();
        }
    }
}

impl Inner {
    /// Refuses new work and closes every mailbox: agents drain what they
    /// accepted and exit.
    fn close_all(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let agents: Vec<Arc<AgentShared>> = self.registry.agents.iter().map(|e| e.value().clone()).collect();
        for a in agents {
            if a.stats.status() == AgentStatus::Running {
                a.stats.set_status(AgentStatus::Stopping);
            }
            drop(a.mailbox.close());
        }
    }
}

/// What [`Orchestrator::try_push_id`] left to do.
enum ById {
    /// The mailbox took the envelope.
    Pushed,
    /// The mailbox was full: the agent and the envelope, to wait for space.
    Full(Arc<AgentShared>, Envelope),
}

/// A resolved handle to one agent's mailbox, for senders that address the
/// same agent many times and want to skip the registry lookup.
#[derive(Clone)]
pub struct AgentRef {
    orch: Orchestrator,
    shared: Arc<AgentShared>,
}

impl Orchestrator {
    /// An orchestrator with default settings on the current tokio runtime.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn new() -> Self {
        Self::with_config(OrchestratorConfig::default())
    }

    /// An orchestrator with `config`: its agents run on the current tokio
    /// runtime ([`Executor::Shared`]) or on threads of its own
    /// ([`Executor::PerCore`], which needs no runtime to be made).
    ///
    /// # Panics
    /// With [`Executor::Shared`] outside a tokio runtime; with
    /// [`Executor::PerCore`] when its threads cannot be started.
    pub fn with_config(config: OrchestratorConfig) -> Self {
        let placement = match config.executor {
            Executor::Shared => Placement::Shared(tokio::runtime::Handle::current()),
            Executor::PerCore { threads } => Placement::per_core(threads),
        };
        Self::with_placement(config, placement)
    }

    /// An orchestrator whose agents run on the given runtime with
    /// [`Executor::Shared`] ([`Executor::PerCore`] starts threads of its
    /// own and does not use `runtime`).
    ///
    /// # Panics
    /// With [`Executor::PerCore`] when its threads cannot be started.
    pub fn on_runtime(config: OrchestratorConfig, runtime: tokio::runtime::Handle) -> Self {
        let placement = match config.executor {
            Executor::Shared => Placement::Shared(runtime),
            Executor::PerCore { threads } => Placement::per_core(threads),
        };
        Self::with_placement(config, placement)
    }

    fn with_placement(config: OrchestratorConfig, placement: Placement) -> Self {
        let inner = Arc::new(Inner {
            registry: Registry::new(config.first_agent_id),
            dead_letters: DeadLetters::new(config.dead_letter_log, config.dead_letter_log_bytes),
            failures: Mutex::new(Vec::new()),
            config,
            placement,
            live: AtomicUsize::new(0),
            all_exited: Notify::new(),
            shutting_down: AtomicBool::new(false),
            handled_total: AtomicU64::new(0),
            restarts_total: AtomicU64::new(0),
            deadlines: Deadlines::default(),
        });
        let user = Arc::new(UserHandles(Arc::downgrade(&inner)));
        Self {
            inner,
            _user: Some(user),
        }
    }

    /// A handle for an agent task: it does not keep the agents alive.
    pub(crate) fn internal(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _user: None,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &OrchestratorConfig {
        &self.inner.config
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn dead_letters(&self) -> &DeadLetters {
        &self.inner.dead_letters
    }

    // ---- the agent tasks' side (see `task`) ------------------------------

    /// Whether a shutdown began (spawns are refused from then on).
    #[inline]
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// How many threads of its own the orchestrator runs agents on
    /// (`None`: agents share the runtime it was made on).
    #[inline]
    pub(crate) fn executor_threads(&self) -> Option<usize> {
        self.inner.placement.threads()
    }

    /// The runtime agent `id`'s task is spawned on.
    #[inline]
    pub(crate) fn runtime_for(&self, id: AgentId) -> &tokio::runtime::Handle {
        self.inner.placement.for_agent(id.get())
    }

    /// Counts a registered agent as live until [`Self::agent_exited`].
    #[inline]
    pub(crate) fn agent_started(&self) {
        self.inner.live.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn agent_exited(&self) {
        if self.inner.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.all_exited.notify_waiters();
        }
    }

    /// Adds a batch's handled messages to the orchestrator's total.
    #[inline]
    pub(crate) fn count_handled(&self, n: u64) {
        self.inner.handled_total.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one restart after a fault.
    pub(crate) fn count_restart(&self) {
        self.inner.restarts_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn report_failure(&self, failure: AgentFailure) {
        self.inner
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(failure);
    }

    // ---- lookup ---------------------------------------------------------

    /// The id registered under `name`.
    pub fn lookup(&self, name: &str) -> Option<AgentId> {
        self.inner.registry.names.get(name).map(|a| a.id)
    }

    /// Ids of the live agents with `capability`.
    pub fn with_capability(&self, capability: &str) -> Vec<AgentId> {
        self.inner.registry.members(capability).iter().map(|a| a.id).collect()
    }

    /// Picks one live agent for `address` (a capability is resolved with `how`).
    pub fn resolve(&self, address: &Address, how: Selection) -> Result<AgentId, SendErrorKind> {
        self.resolve_shared(address, how).map(|a| a.id)
    }

    fn resolve_shared(&self, address: &Address, how: Selection) -> Result<Arc<AgentShared>, SendErrorKind> {
        let reg = &self.inner.registry;
        match address {
            Address::Id(id) => reg.agents.get(id).map(|a| a.clone()).ok_or_else(|| self.missing(*id)),
            Address::Name(name) => reg
                .names
                .get(name)
                .map(|a| a.clone())
                .ok_or_else(|| SendErrorKind::UnknownAgent(address.clone())),
            Address::Capability(cap) => {
                let group = reg
                    .capabilities
                    .get(cap)
                    .map(|g| g.clone())
                    .ok_or_else(|| SendErrorKind::NoCapableAgent(cap.clone()))?;
                let members = group.members.read().unwrap_or_else(|p| p.into_inner());
                group
                    .select(&members, how)
                    .cloned()
                    .ok_or_else(|| SendErrorKind::NoCapableAgent(cap.clone()))
            }
        }
    }

    fn missing(&self, id: AgentId) -> SendErrorKind {
        if self.inner.registry.was_issued(id) {
            SendErrorKind::AgentStopped(id)
        } else {
            SendErrorKind::UnknownAgent(Address::Id(id))
        }
    }

    /// A handle that sends to one agent without a registry lookup per message.
    pub fn agent_ref(&self, id: AgentId) -> Result<AgentRef, SendErrorKind> {
        let shared = self.resolve_shared(&Address::Id(id), Selection::RoundRobin)?;
        Ok(AgentRef {
            orch: self.clone(),
            shared,
        })
    }

    // ---- sending --------------------------------------------------------

    /// Counts `msg` as a dead letter and builds the error handing it back.
    pub(crate) fn reject(&self, msg: Message, kind: SendErrorKind, agent: Option<AgentId>) -> SendError {
        let reason = DeadLetterReason::from(&kind);
        if let Some(id) = agent
            && let Some(a) = self.inner.registry.agents.get(&id)
        {
            a.stats.add_dead_letters(1);
        }
        // The log keeps a copy; the caller gets the message back.
        self.inner.dead_letters.record(msg.clone(), agent, reason);
        SendError {
            kind,
            message: Box::new(msg),
        }
    }

    /// Records an accepted message that will never be handled and tells a
    /// waiting requester why.
    pub(crate) fn fail_envelope(&self, env: Envelope, agent: AgentId, reason: DeadLetterReason, why: &str) {
        if let Some(tx) = env.reply {
            let _ = tx.send(Err(why.to_owned()));
        }
        self.inner.dead_letters.record(env.msg, Some(agent), reason);
    }

    fn push_error(&self, err: PushError, shared: &AgentShared) -> SendError {
        let (env, kind) = match err {
            PushError::Full(env) => (
                env,
                SendErrorKind::MailboxFull {
                    agent: shared.id,
                    capacity: shared.mailbox.capacity(),
                },
            ),
            PushError::Closed(env) => (env, SendErrorKind::AgentStopped(shared.id)),
        };
        // A dropped reply slot tells a waiting requester nothing is coming;
        // `request` reports the send error itself.
        self.reject_at(env.msg, kind, shared)
    }

    /// [`Self::reject`] for a message refused by an agent already in hand
    /// (no second registry lookup while a registry guard may be held).
    fn reject_at(&self, msg: Message, kind: SendErrorKind, shared: &AgentShared) -> SendError {
        shared.stats.add_dead_letters(1);
        let reason = DeadLetterReason::from(&kind);
        self.inner.dead_letters.record(msg.clone(), Some(shared.id), reason);
        SendError {
            kind,
            message: Box::new(msg),
        }
    }

    /// Refuses a payload over the receiver's size limit.
    #[inline]
    fn check_size(&self, shared: &AgentShared, env: &Envelope) -> Result<(), SendErrorKind> {
        let size = env.msg.payload.len();
        let limit = shared
            .common
            .max_message_bytes
            .unwrap_or(self.inner.config.max_message_bytes);
        if size > limit {
            return Err(SendErrorKind::MessageTooLarge {
                agent: shared.id,
                size,
                limit,
            });
        }
        Ok(())
    }

    fn try_push(&self, shared: &AgentShared, env: Envelope) -> Result<(), SendError> {
        if let Err(kind) = self.check_size(shared, &env) {
            return Err(self.reject_at(env.msg, kind, shared));
        }
        shared.mailbox.try_push(env).map_err(|e| self.push_error(e, shared))
    }

    async fn push_wait(&self, shared: &AgentShared, env: Envelope) -> Result<(), SendError> {
        if let Err(kind) = self.check_size(shared, &env) {
            return Err(self.reject_at(env.msg, kind, shared));
        }
        let mut slot = Some(env);
        std::future::poll_fn(|cx| shared.mailbox.poll_push(cx, &mut slot))
            .await
            .map_err(|e| self.push_error(e, shared))
    }

    fn check_open(&self, msg: Message) -> Result<Message, SendError> {
        if self.inner.shutting_down.load(Ordering::Relaxed) && msg.sender.is_none() {
            return Err(self.reject(msg, SendErrorKind::ShuttingDown, None));
        }
        Ok(msg)
    }

    /// Routes `msg` to its receiver without waiting: a full mailbox is an
    /// error, with the message handed back.
    pub fn try_send(&self, msg: Message) -> Result<(), SendError> {
        let msg = self.check_open(msg)?;
        self.route_now(Envelope { msg, reply: None })
    }

    fn route_now(&self, env: Envelope) -> Result<(), SendError> {
        if let Address::Id(id) = env.msg.receiver {
            // Hot path: push while holding the shard's read guard.
            return match self.inner.registry.agents.get(&id) {
                Some(a) => self.try_push(&a, env),
                None => Err(self.reject(env.msg, self.missing(id), None)),
            };
        }
        match self.resolve_shared(&env.msg.receiver, self.inner.config.selection) {
            Ok(a) => self.try_push(&a, env),
            Err(kind) => Err(self.reject(env.msg, kind, None)),
        }
    }

    /// Routes `msg` to its receiver, waiting while the mailbox is full.
    ///
    /// Each send takes one unit of tokio's cooperative budget, as tokio's
    /// own channels do: a task sending in a loop yields to the other tasks
    /// of its worker every 128 sends or so, instead of holding the worker
    /// until a mailbox fills (which left timers, I/O and requests from
    /// outside waiting behind the whole loop).
    pub async fn send(&self, msg: Message) -> Result<(), SendError> {
        tokio::task::consume_budget().await;
        let msg = self.check_open(msg)?;
        self.route_wait(Envelope { msg, reply: None }).await
    }

    async fn route_wait(&self, env: Envelope) -> Result<(), SendError> {
        let shared = if let Address::Id(id) = env.msg.receiver {
            match self.try_push_id(id, env)? {
                ById::Pushed => return Ok(()),
                ById::Full(shared, env) => return self.push_wait(&shared, env).await,
            }
        } else {
            match self.resolve_shared(&env.msg.receiver, self.inner.config.selection) {
                Ok(a) => a,
                Err(kind) => return Err(self.reject(env.msg, kind, None)),
            }
        };
        self.push_wait(&shared, env).await
    }

    /// Pushes to agent `id` without waiting, under the registry's read
    /// guard: a mailbox with room takes the envelope with no reference
    /// count on the agent. A full one hands the agent and the envelope
    /// back, for a caller that waits for space.
    fn try_push_id(&self, id: AgentId, env: Envelope) -> Result<ById, SendError> {
        let Some(a) = self.inner.registry.agents.get(&id) else {
            return Err(self.reject(env.msg, self.missing(id), None));
        };
        if let Err(kind) = self.check_size(&a, &env) {
            return Err(self.reject_at(env.msg, kind, &a));
        }
        match a.mailbox.try_push(env) {
            Ok(()) => Ok(ById::Pushed),
            Err(PushError::Full(env)) => Ok(ById::Full(a.clone(), env)),
            Err(e) => Err(self.push_error(e, &a)),
        }
    }

    /// Sends a request and waits for the reply, up to `timeout` in all
    /// (waiting for mailbox space included). Never hangs: a stopped,
    /// failing or silent agent yields an error. The timeout runs on the
    /// real clock (a paused tokio test clock does not move it) and fires
    /// within the deadline thread's wake-up latency, never early.
    pub async fn request(&self, msg: Message, timeout: Duration) -> Result<Message, RequestError> {
        self.request_with(msg, timeout, true).await
    }

    /// Like [`Self::request`], but a full mailbox is an error at once
    /// ([`SendErrorKind::MailboxFull`], the request handed back and counted
    /// as a dead letter) instead of a wait: for callers that must show
    /// backpressure, such as a network front door answering 429.
    pub async fn try_request(&self, msg: Message, timeout: Duration) -> Result<Message, RequestError> {
        self.request_with(msg, timeout, false).await
    }

    async fn request_with(&self, mut msg: Message, timeout: Duration, wait: bool) -> Result<Message, RequestError> {
        msg.reply_with.get_or_insert_with(MessageId::next);
        let msg = self.check_open(msg)?;
        let (tx, rx) = oneshot::channel();
        let mut env = Envelope { msg, reply: Some(tx) };
        // One deadline for the whole exchange: waiting for mailbox space,
        // then for the reply. A deadline too far to represent is none.
        let deadline = std::time::Instant::now().checked_add(timeout);
        let shared = if let Address::Id(target) = env.msg.receiver {
            // By id, the usual case: no reference count unless it is full.
            match self.try_push_id(target, env)? {
                ById::Pushed => return self.await_reply(rx, target, timeout, deadline).await,
                ById::Full(shared, full) if wait => {
                    env = full;
                    shared
                }
                ById::Full(shared, full) => return Err(self.push_error(PushError::Full(full), &shared).into()),
            }
        } else {
            // One lookup: a name or capability is resolved to one agent here.
            let shared = match self.resolve_shared(&env.msg.receiver, self.inner.config.selection) {
                Ok(a) => a,
                Err(kind) => return Err(self.reject(env.msg, kind, None).into()),
            };
            env.msg.receiver = Address::Id(shared.id);
            if let Err(kind) = self.check_size(&shared, &env) {
                return Err(self.reject_at(env.msg, kind, &shared).into());
            }
            // The envelope stays here until the mailbox takes it, so a
            // request that times out while waiting for space is not lost
            // silently.
            if !wait {
                if let Err(e) = shared.mailbox.try_push(env) {
                    return Err(self.push_error(e, &shared).into());
                }
                let target = shared.id;
                drop(shared);
                return self.await_reply(rx, target, timeout, deadline).await;
            }
            shared
        };
        let target = shared.id;
        let mut slot = Some(env);
        let push = std::future::poll_fn(|cx| shared.mailbox.poll_push(cx, &mut slot));
        let pushed = WithDeadline::new(&self.inner.deadlines, deadline, push).await.ok();
        match pushed {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(self.push_error(e, &shared).into()),
            None => {
                let env = slot.take().expect("a pending push keeps its envelope");
                // Never accepted: count it once, as a send refused for a
                // full mailbox.
                let full = SendErrorKind::MailboxFull {
                    agent: target,
                    capacity: shared.mailbox.capacity(),
                };
                self.reject_at(env.msg, full, &shared);
                return Err(RequestError::Timeout {
                    after: timeout,
                    accepted: false,
                });
            }
        }
        drop(shared);
        self.await_reply(rx, target, timeout, deadline).await
    }

    /// Waits for the reply to an accepted request, up to `deadline`.
    async fn await_reply(
        &self,
        rx: oneshot::Receiver<Result<Message, String>>,
        target: AgentId,
        timeout: Duration,
        deadline: Option<std::time::Instant>,
    ) -> Result<Message, RequestError> {
        match WithDeadline::new(&self.inner.deadlines, deadline, rx).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(reason))) => Err(RequestError::Failed { agent: target, reason }),
            Ok(Err(_)) => Err(RequestError::NoReply(target)),
            Err(Elapsed) => Err(RequestError::Timeout {
                after: timeout,
                accepted: true,
            }),
        }
    }

    /// Sends a copy of `msg` to every live agent with `capability`, without
    /// waiting on full mailboxes. Errors only when no agent has it.
    pub fn broadcast(&self, capability: &str, msg: Message) -> Result<Broadcast, SendError> {
        let msg = self.check_open(msg)?;
        let Some(group) = self.inner.registry.capabilities.get(capability).map(|g| g.clone()) else {
            return Err(self.reject(msg, SendErrorKind::NoCapableAgent(capability.into()), None));
        };
        let members = group.members.read().unwrap_or_else(|p| p.into_inner());
        if members.is_empty() {
            drop(members);
            return Err(self.reject(msg, SendErrorKind::NoCapableAgent(capability.into()), None));
        }
        let mut out = Broadcast::default();
        for a in members.iter() {
            let env = Envelope {
                msg: msg.clone(),
                reply: None,
            };
            match self.try_push(a, env) {
                Ok(()) => out.delivered.push(a.id),
                Err(e) => out.failed.push((a.id, e.kind)),
            }
        }
        Ok(out)
    }

    // ---- control --------------------------------------------------------

    async fn control<T>(
        &self,
        id: AgentId,
        make: impl FnOnce(oneshot::Sender<Result<T, CheckpointError>>) -> Control,
    ) -> Result<T, CheckpointError> {
        let shared = self
            .resolve_shared(&Address::Id(id), Selection::RoundRobin)
            .map_err(|_| CheckpointError::NotRunning(id))?;
        let (tx, rx) = oneshot::channel();
        if let Err(c) = shared.mailbox.push_control(make(tx)) {
            c.refuse(id);
            return Err(CheckpointError::NotRunning(id));
        }
        rx.await.unwrap_or(Err(CheckpointError::NotRunning(id)))
    }

    /// Checkpoints an agent after the messages already in its mailbox, and
    /// keeps the checkpoint as its restart point.
    pub async fn checkpoint(&self, id: AgentId) -> Result<Checkpoint, CheckpointError> {
        self.control(id, Control::Checkpoint).await
    }

    /// Restores a checkpoint into a running agent (after the messages
    /// already in its mailbox); it becomes the agent's restart point.
    pub async fn restore(&self, id: AgentId, checkpoint: Checkpoint) -> Result<(), CheckpointError> {
        self.control(id, |tx| Control::Restore(checkpoint, tx)).await
    }

    /// Stops an agent: it accepts no new messages, handles those it already
    /// accepted, and exits. Resolves when it has exited.
    pub async fn stop(&self, id: AgentId) -> Result<(), SendErrorKind> {
        let shared = self.resolve_shared(&Address::Id(id), Selection::RoundRobin)?;
        if shared.stats.status() == AgentStatus::Running {
            shared.stats.set_status(AgentStatus::Stopping);
        }
        let exited = shared.mailbox.close();
        drop(shared);
        let _ = exited.await;
        Ok(())
    }

    /// Stops every agent, letting each drain its mailbox until `deadline`.
    /// Messages still queued then are reported (and recorded as dead
    /// letters); no accepted message disappears unreported.
    /// A deadline too far to represent (e.g. `Duration::MAX`) waits as
    /// long as it takes.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let agents: Vec<Arc<AgentShared>> = self.inner.registry.agents.iter().map(|e| e.value().clone()).collect();
        let before: u64 = agents.iter().map(|a| a.stats.handled.load(Ordering::Relaxed)).sum();
        let mut report = ShutdownReport {
            agents: agents.len(),
            ..Default::default()
        };
        let exits: Vec<_> = agents
            .iter()
            .map(|a| {
                if a.stats.status() == AgentStatus::Running {
                    a.stats.set_status(AgentStatus::Stopping);
                }
                a.mailbox.close()
            })
            .collect();
        let all = std::pin::pin!(async {
            for rx in exits {
                let _ = rx.await;
            }
        });
        // The orchestrator's own deadline keeper, not a tokio timer: a
        // shutdown can be awaited on any executor (a per-core
        // orchestrator's user may have no tokio runtime at all). A
        // deadline too far to represent is none.
        let _ = WithDeadline::new(&self.inner.deadlines, Instant::now().checked_add(deadline), all).await;
        for a in &agents {
            let status = a.stats.status();
            if matches!(status, AgentStatus::Stopped | AgentStatus::Failed) {
                report.agents_drained += 1;
                continue;
            }
            let (queued, controls) = a.mailbox.close_and_take();
            for env in queued {
                if let Some(tx) = env.reply {
                    let _ = tx.send(Err("undelivered at shutdown".to_owned()));
                }
                report.undelivered.push(DeadLetter {
                    payload_len: env.msg.payload.len(),
                    message: env.msg.clone(),
                    agent: Some(a.id),
                    reason: DeadLetterReason::Undelivered,
                    recorded_at: caxton_core::Timestamp::now(),
                });
                self.inner
                    .dead_letters
                    .record(env.msg, Some(a.id), DeadLetterReason::Undelivered);
            }
            for c in controls {
                c.refuse(a.id);
            }
            // What is left accepted is the batch in hand; the agent has
            // finished with part of it already.
            let finished = a.stats.finished_in_batch.load(Ordering::Relaxed) as usize;
            report.in_progress += a.mailbox.depth().saturating_sub(finished);
        }
        let after: u64 = agents.iter().map(|a| a.stats.handled.load(Ordering::Relaxed)).sum();
        report.messages_drained = after - before;
        report
    }

    /// Waits until no agent is live.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.all_exited.notified();
            if self.inner.live.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    // ---- observation ----------------------------------------------------

    /// Live agents.
    pub fn agent_count(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Stats of one live agent.
    pub fn stats(&self, id: AgentId) -> Option<AgentStats> {
        self.inner.registry.agents.get(&id).map(|a| a.stats_snapshot())
    }

    /// Stats of every live agent.
    pub fn all_stats(&self) -> Vec<AgentStats> {
        self.inner.registry.agents.iter().map(|a| a.stats_snapshot()).collect()
    }

    /// Messages handled by every agent since the orchestrator started,
    /// agents that have exited included (a monotonic total, updated once
    /// per batch).
    pub fn messages_handled_total(&self) -> u64 {
        self.inner.handled_total.load(Ordering::Relaxed)
    }

    /// Agent restarts after faults since the orchestrator started.
    pub fn restarts_total(&self) -> u64 {
        self.inner.restarts_total.load(Ordering::Relaxed)
    }

    /// Calls `f` with a glance at every live agent: what a metrics scrape
    /// of 10 000 agents needs, without copying each agent's stats. `f`
    /// runs under the registry's shard read locks: keep it short.
    pub fn glance_all(&self, mut f: impl FnMut(AgentGlance)) {
        for a in self.inner.registry.agents.iter() {
            f(AgentGlance {
                id: a.id,
                status: a.stats.status(),
                mailbox_depth: a.mailbox.depth(),
            });
        }
    }

    /// Records a message that was accepted but will never reach its
    /// final recipient outside the runtime (say, a network client that
    /// went away with replies still queued for it), so that it is counted
    /// once like the runtime's own dead letters.
    pub fn record_dead_letter(&self, msg: Message, agent: Option<AgentId>, reason: DeadLetterReason) {
        self.inner.dead_letters.record(msg, agent, reason);
    }

    /// Dead-letter totals by reason.
    pub fn dead_letter_counts(&self) -> DeadLetterCounts {
        self.inner.dead_letters.counts()
    }

    /// The most recent dead letters, oldest first.
    pub fn recent_dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.dead_letters.recent()
    }

    /// Agents stopped by their supervisor, with the reason.
    pub fn failures(&self) -> Vec<AgentFailure> {
        self.inner.failures.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Default for Orchestrator {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentRef {
    /// The agent's id.
    pub fn id(&self) -> AgentId {
        self.shared.id
    }

    /// Sends to this agent without waiting (the message's receiver is not
    /// consulted).
    pub fn try_send(&self, msg: Message) -> Result<(), SendError> {
        self.orch.try_push(&self.shared, Envelope { msg, reply: None })
    }

    /// Sends to this agent, waiting while its mailbox is full. Takes one
    /// unit of tokio's cooperative budget, like [`Orchestrator::send`].
    pub async fn send(&self, msg: Message) -> Result<(), SendError> {
        tokio::task::consume_budget().await;
        let env = Envelope { msg, reply: None };
        if let Err(kind) = self.orch.check_size(&self.shared, &env) {
            return Err(self.orch.reject_at(env.msg, kind, &self.shared));
        }
        match self.shared.mailbox.try_push(env) {
            Ok(()) => Ok(()),
            Err(PushError::Full(env)) => self.orch.push_wait(&self.shared, env).await,
            Err(e) => Err(self.orch.push_error(e, &self.shared)),
        }
    }

    /// Messages accepted by this agent and not yet handled.
    pub fn mailbox_depth(&self) -> usize {
        self.shared.mailbox.depth()
    }
}
