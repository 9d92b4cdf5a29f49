//! The agent task: drains the mailbox in batches, runs the handler, and
//! supervises it: a fault (panic or trap) restarts the agent from its last
//! checkpoint under a [`RestartPolicy`], keeping the queued messages.
//!
//! Spawning lives here too ([`Orchestrator::spawn`]), since it builds the
//! task: the orchestrator module knows nothing of the run loop.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use bytes::Bytes;
use caxton_core::{AgentId, Message, Timestamp};

use crate::agent::Agent;
use crate::checkpoint::{Checkpoint, CheckpointPolicy};
use crate::context::Context;
use crate::cpu::{BatchTimer, Mono};
use crate::dead_letter::DeadLetterReason;
use crate::error::{AgentError, CheckpointError, FaultKind, SpawnError};
use crate::executor::thread_of;
use crate::mailbox::{Batch, Control, Envelope, Mailbox, ReplySender, hook_error};
use crate::orchestrator::Orchestrator;
use crate::registry::AgentShared;
use crate::restart::AgentFailure;
use crate::spec::{AgentSpec, Factory};
use crate::stats::{AgentStatus, StatsCell};

/// Largest batch buffer (in messages) an agent keeps between batches.
const KEEP_BUFFER: usize = 64;

/// An agent's task: what it keeps is what every live agent costs, so it is
/// kept small (the agent's tokio task is this future plus ~96 bytes,
/// rounded up to 128; docs/profiling.md, "Memory per agent"). Policies,
/// capabilities and the checkpoint hook are reached through
/// `shared.common`; what only a checkpointed or faulted agent needs is
/// boxed on first use.
struct AgentTask<A: Agent> {
    orch: Orchestrator,
    shared: Arc<AgentShared>,
    /// The live instance; `None` only between dropping a faulted instance
    /// and building its replacement, or once the agent has failed.
    agent: Option<A>,
    factory: Factory<A>,
    /// The batch in hand (how many of it the agent has finished with is
    /// `shared.stats.finished_in_batch`).
    batch: VecDeque<Envelope>,
    /// Messages handled successfully since the last automatic checkpoint.
    since_checkpoint: u64,
    /// The restart point.
    last_checkpoint: Option<Box<SavedCheckpoint>>,
    /// Restart history and the start of a recovery under way.
    faults: Option<Box<Faults>>,
    timer: BatchTimer,
    /// Set once the task has deregistered the agent; until then, dropping
    /// the task (a panic that escaped, or its runtime shutting down) fails
    /// the agent properly.
    exited: bool,
}

/// What a restart needs of the last checkpoint (the rest of a
/// [`Checkpoint`] is rebuilt from the agent's stats when one is taken).
struct SavedCheckpoint {
    sequence: u64,
    state: Bytes,
}

/// The supervisor's memory of faults, for agents that had any.
#[derive(Default)]
struct Faults {
    /// When recent restarts happened (within the policy's window).
    restarts: VecDeque<Instant>,
    /// When the fault being recovered from happened.
    fault_at: Option<Mono>,
}

/// A snapshot at most this large is copied for the caller and the hook
/// rather than shared: the copy the agent keeps then needs no shared
/// header (a refcounted `Bytes` costs 24 bytes more, for the agent's life).
const COPY_SMALL_CHECKPOINT: usize = 256;

impl Orchestrator {
    /// Spawns an agent. It is ready when this returns: messages sent from
    /// now on are queued for it.
    ///
    /// A constructor or initial restore that fails or panics is a
    /// [`SpawnError`]; nothing is registered then.
    pub fn spawn<A: Agent>(&self, spec: AgentSpec<A>) -> Result<AgentId, SpawnError> {
        let (task, late) = self.prepare(spec)?;
        let id = task.shared.id;
        // The task is tracked by `live`; its JoinHandle is not needed.
        drop(self.runtime_for(id).spawn(task.run()));
        if late {
            return Err(SpawnError::ShuttingDown);
        }
        Ok(id)
    }

    /// Builds and registers an agent and its task, ready to be spawned;
    /// `true` when a shutdown began meanwhile (the agent is then closed
    /// and drains what it accepted once its task runs).
    fn prepare<A: Agent>(&self, spec: AgentSpec<A>) -> Result<(AgentTask<A>, bool), SpawnError> {
        if self.is_shutting_down() {
            return Err(SpawnError::ShuttingDown);
        }
        let capacity = spec.mailbox_capacity.unwrap_or(self.config().mailbox_capacity);
        if capacity == 0 {
            return Err(SpawnError::ZeroCapacity);
        }
        if let Some(name) = &spec.name
            && self.registry().names.contains_key(name)
        {
            return Err(SpawnError::DuplicateName(name.clone()));
        }
        if let Some(id) = spec.id
            && (self.registry().was_issued(id) || self.registry().agents.contains_key(&id))
        {
            return Err(SpawnError::IdTaken(id));
        }
        let (agent, memory) = build_agent(&spec)?;
        let shared = Arc::new(AgentShared {
            id: spec.id.unwrap_or_else(|| self.registry().allocate_id()),
            mailbox: Mailbox::new(capacity),
            stats: StatsCell::default(),
            name: spec.name,
            common: spec.common,
        });
        // Stats show the agent's memory from the start, not only after its
        // first batch.
        if let Some(bytes) = memory {
            shared.stats.set_memory(bytes);
        }
        if let Err(e) = self.registry().register(shared.clone()) {
            drop_contained(agent);
            return Err(e);
        }
        self.agent_started();
        // A shutdown that began while this agent was being built may not
        // have seen it in the registry: close it here (the registry's lock
        // orders the two, so one side always sees the other). It still
        // drains anything accepted in between, then exits.
        let late = self.is_shutting_down();
        if late {
            shared.stats.set_status(AgentStatus::Stopping);
            drop(shared.mailbox.close());
        }
        let task = AgentTask {
            timer: BatchTimer::new(self.config().cpu_clock),
            orch: self.internal(),
            shared,
            agent: Some(agent),
            factory: spec.factory,
            batch: VecDeque::new(),
            since_checkpoint: 0,
            last_checkpoint: spec.initial.map(|cp| {
                Box::new(SavedCheckpoint {
                    sequence: cp.sequence,
                    state: cp.state,
                })
            }),
            faults: None,
            exited: false,
        };
        Ok((task, late))
    }

    /// Spawns `n` agents from one spec (which must not carry a name).
    /// Stops at the first error, keeping the agents already spawned.
    pub fn spawn_many<A: Agent>(&self, spec: &AgentSpec<A>, n: usize) -> Result<Vec<AgentId>, SpawnError> {
        if let (Some(name), true) = (&spec.name, n > 1) {
            return Err(SpawnError::DuplicateName(name.clone()));
        }
        if let (Some(id), true) = (spec.id, n > 1) {
            return Err(SpawnError::IdTaken(id));
        }
        // Every agent is built and registered first, and the tasks are
        // spawned after, together: building a WASM agent takes microseconds,
        // long enough for an idle runtime thread to park between two spawns,
        // so spawning each as it is built paid a wake-up (a futex call) per
        // agent. On a shared runtime every task is spawned before this
        // returns. On the orchestrator's own threads, each thread gets its
        // agents' tasks in one hand-off and spawns them itself (a local
        // queue push each) rather than one cross-thread push and wake-up per
        // agent; the agents are registered and take messages when this
        // returns, and their tasks start as their threads get to the
        // hand-off.
        let threads = self.executor_threads();
        let mut batches: Vec<Vec<AgentTask<A>>> = (0..threads.unwrap_or(1)).map(|_| Vec::new()).collect();
        let mut ids = Vec::with_capacity(n);
        let mut outcome = Ok(());
        for _ in 0..n {
            match self.prepare(spec.clone()) {
                Ok((task, late)) => {
                    let id = task.shared.id;
                    batches[threads.map_or(0, |t| thread_of(id.get(), t))].push(task);
                    if late {
                        outcome = Err(SpawnError::ShuttingDown);
                        break;
                    }
                    ids.push(id);
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        for batch in batches {
            if threads.is_some() {
                self.launch(batch);
            } else {
                for task in batch {
                    drop(self.runtime_for(task.shared.id).spawn(task.run()));
                }
            }
        }
        outcome.map(|()| ids)
    }

    /// Spawns a batch of agent tasks that share a runtime thread with one
    /// task that spawns them there.
    fn launch<A: Agent>(&self, batch: Vec<AgentTask<A>>) {
        let Some(first) = batch.first() else { return };
        // Dropped unrun (its runtime gone), each task fails its agent
        // properly (see `Drop for AgentTask`).
        drop(self.runtime_for(first.shared.id).spawn(async move {
            for task in batch {
                drop(tokio::spawn(task.run()));
            }
        }));
    }
}

/// Builds an agent from its spec (constructor, then the initial restore),
/// containing panics, and reads its starting memory figure.
fn build_agent<A: Agent>(spec: &AgentSpec<A>) -> Result<(A, Option<u64>), SpawnError> {
    let panicked = |p: Box<dyn std::any::Any + Send>| AgentError::fault(FaultKind::Panic, panic_detail(p.as_ref()));
    let mut agent = catch_unwind(AssertUnwindSafe(|| (spec.factory)())).map_err(panicked)??;
    if let Some(cp) = &spec.initial {
        let restored = catch_unwind(AssertUnwindSafe(|| agent.restore(&cp.state))).unwrap_or_else(|p| Err(panicked(p)));
        if let Err(e) = restored {
            drop_contained(agent);
            return Err(SpawnError::Restore(e));
        }
    }
    match catch_unwind(AssertUnwindSafe(|| agent.memory_bytes())) {
        Ok(memory) => Ok((agent, memory)),
        Err(p) => {
            drop_contained(agent);
            Err(SpawnError::Init(panicked(p)))
        }
    }
}

/// Outcome of handling one message.
enum Handled {
    Ok,
    /// The agent faulted; a waiting requester is answered only after the
    /// restart (or failure), so it observes the supervisor's decision. The
    /// instant is when the faulting message started being handled: the
    /// start of the recovery time (docs/measurement.md).
    Fault(AgentError, Option<(ReplySender, String)>, Mono),
}

/// The message of a panic payload.
fn panic_detail(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Runs a user hook, turning a panic into a [`FaultKind::Panic`] fault.
fn contained<T>(hook: impl FnOnce() -> Result<T, AgentError>) -> Result<T, AgentError> {
    catch_unwind(AssertUnwindSafe(hook))
        .unwrap_or_else(|p| Err(AgentError::fault(FaultKind::Panic, panic_detail(p.as_ref()))))
}

/// Drops an agent instance, containing a panic in its `Drop`: the instance
/// is gone either way.
fn drop_contained<A>(agent: A) {
    if std::thread::panicking() {
        // A second panic while unwinding would abort the process: leak
        // the instance instead (only on a panic that escaped the
        // supervisor itself).
        std::mem::forget(agent);
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(move || drop(agent)));
}

/// Whether a hook's error means the instance can no longer be trusted.
fn is_fault(e: &AgentError) -> bool {
    matches!(e, AgentError::Fault { .. })
}

/// tokio's cooperative budget per task poll: an agent takes at most this
/// many units after a batch (more would only make it wait a second turn,
/// and a fresh budget always covers it, so a retried take ends).
const COOP_UNITS_PER_BATCH: usize = 128;

impl<A: Agent> AgentTask<A> {
    /// The agent's task: serves its mailbox until it closes (or the agent
    /// fails), then exits.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store the task twice in every agent's future"
    )]
    fn run(mut self) -> impl std::future::Future<Output = ()> + Send {
        // `self` lives once, in this block, and the loop is written here
        // rather than in an `async fn serve(&mut self)`: every byte of this
        // future is in every live agent. (An `async fn run(self)` would
        // keep a second copy of the task.)
        async move {
            loop {
                // In a block: nothing of a batch stays in the future while
                // the agent yields below.
                let more = {
                    match std::future::poll_fn(|cx| self.poll_batch(cx)).await {
                        Batch::Closed => false,
                        Batch::Ready(controls) => self.run_batch(controls),
                    }
                };
                if !more {
                    break;
                }
                // Let other tasks on this worker run between batches.
                std::future::poll_fn(|cx| self.take_budget(cx)).await;
            }
            self.exit();
        }
    }

    /// Takes one unit of tokio's cooperative budget per message of the
    /// batch just handled (at most [`COOP_UNITS_PER_BATCH`]), as a tokio
    /// channel's receiver takes one per message: a busy agent yields its
    /// worker to the other tasks every 128 messages or so, not every 128
    /// batches. `Pending` (the task yields) once the budget runs out. The
    /// count is the batch's published progress, so nothing more lives in
    /// the agent's future across this wait (every byte of it is in every
    /// live agent).
    fn take_budget(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let handled = self.shared.stats.finished_in_batch.load(Relaxed) as usize;
        for _ in 0..handled.clamp(1, COOP_UNITS_PER_BATCH) {
            match tokio::task::coop::poll_proceed(cx) {
                std::task::Poll::Ready(progress) => progress.made_progress(),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
        std::task::Poll::Ready(())
    }

    /// Reports the previous batch done and takes the next one.
    fn poll_batch(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Batch> {
        let finished = &self.shared.stats.finished_in_batch;
        let mut handled = finished.load(Relaxed) as usize;
        let polled = self.shared.mailbox.poll_batch(cx, &mut handled, &mut self.batch);
        if handled == 0 {
            // Reported to the mailbox: none of the next batch is finished.
            finished.store(0, Relaxed);
        }
        polled
    }

    /// Handles the batch in hand, then runs `controls`. `false` when the
    /// agent failed for good. (Not async: nothing of it lives in the
    /// agent's future while it waits.)
    fn run_batch(&mut self, controls: Vec<Control>) -> bool {
        let batch_start = self.timer.start(self.batch.len());
        // When the batch's first message started being handled: the
        // batch's start on the agent's clock (the read the agent takes
        // per message anyway, for recovery times).
        let mut first_started = None;
        // This task is the only writer of its counters: it reads them back
        // and publishes the batch's with plain stores.
        let handled_before = self.shared.stats.handled.load(Relaxed);
        let mut handled = 0u64;
        // Set when the agent failed for good; the batch's counts are still
        // published below.
        let mut failed = false;
        while let Some(env) = self.batch.pop_front() {
            // One clock read (~11 ns, `Mono`) per message: the start of a
            // recovery, should this message fault (docs/measurement.md).
            let started = Mono::now();
            first_started.get_or_insert(started);
            let outcome = self.handle(env, started);
            handled += 1;
            // At most the batch, which is at most the capacity (a u32).
            self.shared.stats.finished_in_batch.store(handled as u32, Relaxed);
            match outcome {
                Handled::Ok => {
                    if let Some(at) = self.faults.as_mut().and_then(|f| f.fault_at.take()) {
                        self.shared.stats.record_recovery(at.elapsed());
                    }
                    self.since_checkpoint += 1;
                    if let CheckpointPolicy::EveryMessages(n) = self.shared.common.checkpoints
                        && self.since_checkpoint >= n
                    {
                        // The checkpoint records the count so far, not the last batch's.
                        self.shared.stats.handled.store(handled_before + handled, Relaxed);
                        match self.take_checkpoint() {
                            Ok(_) => self.since_checkpoint = 0,
                            // A snapshot that faults (or panics) broke the
                            // instance: restart it from the previous one.
                            Err(CheckpointError::Agent { error, .. }) if is_fault(&error) => {
                                self.since_checkpoint = 0;
                                if !self.on_fault(error, None) {
                                    failed = true;
                                    break;
                                }
                            }
                            // Any other failure keeps the previous checkpoint.
                            Err(_) => {}
                        }
                    }
                }
                Handled::Fault(error, reply, started) => {
                    // Recovery counts from the start of the faulting
                    // message, so the unwinding (or trap) and the fault
                    // handling are in it.
                    self.faults().fault_at.get_or_insert(started);
                    if !self.on_fault(error, reply) {
                        failed = true;
                        break;
                    }
                }
            }
        }
        self.orch.count_handled(handled);
        let stats = &self.shared.stats;
        stats.handled.store(handled_before + handled, Relaxed);
        // Plain stores, not atomic adds: this task is the only writer.
        stats.batches.store(stats.batches.load(Relaxed) + 1, Relaxed);
        if self.timer.timed() {
            let end = first_started.map(|_| Mono::now());
            let took = self.timer.finish(batch_start, first_started, end);
            let cpu_ns = stats.cpu_ns.load(Relaxed).saturating_add(took);
            stats.cpu_ns.store(cpu_ns, Relaxed);
        }
        let id = self.shared.id;
        if failed {
            controls.into_iter().for_each(|c| c.refuse(id));
            return false;
        }
        let memory = match &self.agent {
            Some(agent) => contained(|| Ok(agent.memory_bytes())),
            None => Ok(None),
        };
        match memory {
            Ok(Some(bytes)) => self.shared.stats.set_memory(bytes),
            Ok(None) => {}
            Err(error) => {
                if !self.on_fault(error, None) {
                    controls.into_iter().for_each(|c| c.refuse(id));
                    return false;
                }
            }
        }
        let mut pending = controls.into_iter();
        while let Some(control) = pending.next() {
            if !self.run_control(control) {
                // The agent failed: `fail` refused the mailbox's; refuse the
                // rest of these.
                pending.for_each(|c| c.refuse(id));
                return false;
            }
        }
        // A burst leaves a large buffer behind; give it back rather than
        // hold it for the agent's lifetime (it swaps with the mailbox's;
        // both go back when the agent parks).
        if self.batch.capacity() > KEEP_BUFFER {
            self.batch = VecDeque::new();
        }
        true
    }

    /// The fault record, allocated on the first fault.
    fn faults(&mut self) -> &mut Faults {
        self.faults.get_or_insert_with(Box::default)
    }

    /// Handles one message, which started being handled at `started`.
    fn handle(&mut self, env: Envelope, started: Mono) -> Handled {
        let Envelope { msg, reply } = env;
        let mut ctx = Context {
            orch: &self.orch,
            id: self.shared.id,
            reply,
            sender: msg.sender,
            quote: msg.reply_with.unwrap_or(msg.id),
            conversation: msg.conversation_id,
        };
        let result = match self.agent.as_mut() {
            Some(agent) => contained(|| agent.handle(&mut ctx, &msg)),
            None => Err(AgentError::fault(FaultKind::Other, "no live instance")),
        };
        let reply = ctx.reply.take();
        let (kind, detail) = match result {
            Ok(()) => return Handled::Ok,
            Err(AgentError::Handler(e)) => {
                let reason = DeadLetterReason::HandlerError(e);
                if let Some(tx) = reply {
                    let _ = tx.send(Err(describe(&reason)));
                }
                self.dead_letter(msg, reason);
                return Handled::Ok;
            }
            Err(AgentError::Fault { kind, detail }) => (kind, detail),
        };
        let reason = DeadLetterReason::Fault {
            kind,
            detail: detail.clone(),
        };
        let reply = reply.map(|tx| (tx, describe(&reason)));
        self.dead_letter(msg, reason);
        Handled::Fault(AgentError::Fault { kind, detail }, reply, started)
    }

    fn dead_letter(&self, msg: Message, reason: DeadLetterReason) {
        self.shared.stats.add_dead_letters(1);
        self.orch.dead_letters().record(msg, Some(self.shared.id), reason);
    }

    /// Handles a fault: restarts the agent, answers a waiting requester,
    /// and on a refused restart fails the agent. `false` when it failed.
    fn on_fault(&mut self, error: AgentError, reply: Option<(ReplySender, String)>) -> bool {
        self.faults().fault_at.get_or_insert_with(Mono::now);
        let restarted = self.restart(Instant::now(), &error);
        if let Some((tx, why)) = reply {
            let _ = tx.send(Err(why));
        }
        match restarted {
            Ok(()) => true,
            Err(reason) => {
                self.fail(reason);
                false
            }
        }
    }

    /// Replaces the faulted instance with a fresh one restored from the last
    /// checkpoint; `Err` with the reason when the policy or the restore says
    /// no. The faulted instance is dropped first, so it never holds
    /// resources (e.g. a pool slot) its replacement needs.
    fn restart(&mut self, now: Instant, error: &AgentError) -> Result<(), String> {
        let policy = self.shared.common.restart;
        let restarts = &mut self.faults.get_or_insert_with(Box::default).restarts;
        // A zero window never forgets a restart: the limit is then over the
        // agent's whole life.
        if !policy.window.is_zero() {
            while restarts.front().is_some_and(|t| now.duration_since(*t) > policy.window) {
                restarts.pop_front();
            }
        }
        let refused = restarts.len() >= policy.max_restarts as usize;
        if !refused {
            restarts.push_back(now);
        }
        if let Some(old) = self.agent.take() {
            drop_contained(old);
        }
        if refused {
            return Err(format!(
                "{error}; restart limit reached ({} within {:?})",
                policy.max_restarts, policy.window
            ));
        }
        let factory = self.factory.clone();
        let mut fresh = contained(|| factory()).map_err(|e| format!("{error}; restart failed: {e}"))?;
        if let Some(cp) = &self.last_checkpoint
            && let Err(e) = contained(|| fresh.restore(&cp.state))
        {
            drop_contained(fresh);
            return Err(format!("{error}; restoring checkpoint {} failed: {e}", cp.sequence));
        }
        self.agent = Some(fresh);
        self.shared.stats.add_restart();
        self.orch.count_restart();
        Ok(())
    }

    /// Stops the agent for good: everything it still holds becomes a dead
    /// letter and the failure is reported to the orchestrator.
    fn fail(&mut self, reason: String) {
        self.shared.stats.set_status(AgentStatus::Failed);
        if let Some(agent) = self.agent.take() {
            drop_contained(agent);
        }
        let (queued, more_controls) = self.shared.mailbox.close_and_take();
        let id = self.shared.id;
        for env in self.batch.drain(..).chain(queued) {
            self.shared.stats.add_dead_letters(1);
            self.orch.fail_envelope(env, id, DeadLetterReason::AgentFailed, &reason);
        }
        for c in more_controls {
            c.refuse(id);
        }
        self.orch.report_failure(AgentFailure {
            agent: id,
            name: self.shared.name.as_deref().map(str::to_owned),
            reason,
            restarts: self.shared.stats.restarts(),
        });
    }

    /// Makes `state` the restart point (reusing the box of the last one).
    fn save_checkpoint(&mut self, sequence: u64, state: Bytes) {
        match &mut self.last_checkpoint {
            Some(saved) => **saved = SavedCheckpoint { sequence, state },
            None => self.last_checkpoint = Some(Box::new(SavedCheckpoint { sequence, state })),
        }
    }

    fn take_checkpoint(&mut self) -> Result<Checkpoint, CheckpointError> {
        let id = self.shared.id;
        let Some(agent) = self.agent.as_mut() else {
            return Err(CheckpointError::NotRunning(id));
        };
        let state = match contained(|| agent.snapshot()) {
            Ok(Some(state)) => state,
            Ok(None) => return Err(CheckpointError::Unsupported(id)),
            Err(e) => return Err(hook_error(id, e)),
        };
        let cp = Checkpoint {
            agent: id,
            sequence: self.last_checkpoint.as_ref().map_or(1, |c| c.sequence + 1),
            taken_at: Timestamp::now(),
            messages_handled: self.shared.stats.handled.load(Relaxed),
            state,
        };
        // A small state is copied, so the agent keeps it at its exact size
        // and unshared; a large one is shared with the caller.
        let kept = if cp.state.len() <= COPY_SMALL_CHECKPOINT {
            Bytes::copy_from_slice(&cp.state)
        } else {
            cp.state.clone()
        };
        self.save_checkpoint(cp.sequence, kept);
        StatsCell::add(&self.shared.stats.checkpoints, 1);
        if let Some(hook) = &self.shared.common.on_checkpoint {
            // The checkpoint stands whatever the hook does.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&cp)));
        }
        Ok(cp)
    }

    /// Runs one control command; a hook that faults restarts the agent.
    /// `false` when the agent failed.
    fn run_control(&mut self, control: Control) -> bool {
        let id = self.shared.id;
        let fault = match control {
            Control::Checkpoint(tx) => {
                let result = self.take_checkpoint();
                let fault = match &result {
                    Err(CheckpointError::Agent { error, .. }) if is_fault(error) => Some(error.clone()),
                    _ => None,
                };
                let _ = tx.send(result);
                fault
            }
            Control::Restore(cp, tx) => {
                let result = match self.agent.as_mut() {
                    Some(agent) => contained(|| agent.restore(&cp.state)),
                    None => Err(AgentError::fault(FaultKind::Other, "no live instance")),
                };
                match result {
                    Ok(()) => {
                        self.save_checkpoint(cp.sequence, cp.state);
                        let _ = tx.send(Ok(()));
                        None
                    }
                    Err(error) => {
                        // A failed restore may have left the instance half
                        // restored: a fault replaces it (from the last good
                        // checkpoint); a refusal leaves it as it was.
                        let fault = is_fault(&error).then(|| error.clone());
                        let _ = tx.send(Err(hook_error(id, error)));
                        fault
                    }
                }
            }
        };
        match fault {
            Some(error) => self.on_fault(error, None),
            None => true,
        }
    }

    fn exit(mut self) {
        // Release what the instance holds before anyone hears it exited.
        if let Some(agent) = self.agent.take() {
            drop_contained(agent);
        }
        let shared = self.shared.clone();
        if shared.stats.status() != AgentStatus::Failed {
            shared.stats.set_status(AgentStatus::Stopped);
        }
        self.finish();
    }

    /// Deregisters the agent and wakes whoever waits on its exit.
    fn finish(&mut self) {
        self.exited = true;
        let shared = &self.shared;
        self.orch.registry().deregister(shared);
        // Count the exit before telling waiters, so `stop`/`shutdown`
        // callers see the live count already updated.
        self.orch.agent_exited();
        shared.mailbox.exited();
    }
}

impl<A: Agent> Drop for AgentTask<A> {
    /// The task ended without exiting: a panic escaped the supervisor, or
    /// the runtime dropped the task. Nothing it accepted may vanish: fail
    /// the agent properly (dead letters, failure report, deregistered).
    fn drop(&mut self) {
        if self.exited {
            return;
        }
        let reason = if std::thread::panicking() {
            "the agent's task panicked".to_owned()
        } else {
            "the agent's task was dropped (its runtime shut down)".to_owned()
        };
        self.fail(reason);
        self.finish();
    }
}

fn describe(reason: &DeadLetterReason) -> String {
    match reason {
        DeadLetterReason::HandlerError(e) => format!("handler error: {e}"),
        DeadLetterReason::Fault { kind, detail } => format!("{kind:?} fault: {detail}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-byte agent, like the memory profile's counter.
    struct Small(#[allow(dead_code)] u64, #[allow(dead_code)] u64);

    impl Agent for Small {
        fn handle(&mut self, _: &mut Context<'_>, _: &Message) -> Result<(), AgentError> {
            Ok(())
        }
    }

    /// Every byte of the task's future is in every live agent, and tokio
    /// rounds its task (future + 96 bytes) up to 128: past 160 bytes a
    /// small agent's task grows from 256 to 384 (docs/profiling.md, "Where
    /// a native agent's bytes go"). Not a timing: a layout.
    #[tokio::test]
    async fn a_small_agents_task_fits_in_256_bytes() {
        let orch = Orchestrator::new();
        let spec = AgentSpec::new(|| Small(0, 0));
        let task = AgentTask::<Small> {
            timer: BatchTimer::new(crate::CpuClock::Sampled),
            orch: orch.internal(),
            shared: Arc::new(AgentShared {
                id: AgentId::new(1).unwrap(),
                mailbox: Mailbox::new(4),
                stats: StatsCell::default(),
                name: None,
                common: spec.common.clone(),
            }),
            agent: Some(Small(0, 0)),
            factory: spec.factory.clone(),
            batch: VecDeque::new(),
            since_checkpoint: 0,
            last_checkpoint: None,
            faults: None,
            // Nothing to deregister when it is dropped below.
            exited: true,
        };
        let future = task.run();
        let size = std::mem::size_of_val(&future);
        drop(future);
        assert!(size <= 160, "the agent task's future is {size} bytes");
        // The loop's own state beyond the task: the waits' borrows of it.
        // A count kept across a wait once made it 32 and moved the memory
        // profile's counter agent into the next 128-byte class (504 ->
        // 632 B per agent).
        let over = size - std::mem::size_of::<AgentTask<Small>>();
        assert!(over <= 16, "the task's future adds {over} bytes to the task");
        assert!(std::mem::size_of::<AgentShared>() <= 160);
    }
}
