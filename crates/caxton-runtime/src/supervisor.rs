//! The agent task: drains the mailbox in batches, runs the handler, and
//! supervises it: a fault (panic or trap) restarts the agent from its last
//! checkpoint under a [`RestartPolicy`], keeping the queued messages.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use caxton_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::agent::{Agent, Context, Factory};
use crate::checkpoint::{Checkpoint, CheckpointPolicy};
use crate::dead_letter::DeadLetterReason;
use crate::error::{AgentError, CheckpointError, FaultKind};
use crate::mailbox::{Batch, Control, Envelope, ReplySender, hook_error};
use crate::orchestrator::Orchestrator;
use crate::registry::AgentShared;
use crate::stats::{AgentStatus, StatsCell};

/// Largest batch buffer (in messages) an agent keeps between batches.
const KEEP_BUFFER: usize = 64;

/// How many restarts a supervisor allows before it gives up on an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// Restarts allowed within `window`; one more fault stops the agent.
    pub max_restarts: u32,
    /// The sliding window the restarts are counted in.
    pub window: Duration,
}

impl RestartPolicy {
    /// Never restart: the first fault stops the agent.
    pub const fn never() -> Self {
        Self {
            max_restarts: 0,
            window: Duration::ZERO,
        }
    }
}

impl Default for RestartPolicy {
    /// Up to 5 restarts within 10 seconds.
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(10),
        }
    }
}

/// Why an agent was stopped by its supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFailure {
    /// The agent.
    pub agent: caxton_core::AgentId,
    /// Its name, if it had one.
    pub name: Option<String>,
    /// The last fault, or why a restart failed.
    pub reason: String,
    /// Restarts before it was stopped.
    pub restarts: u64,
}

pub(crate) struct AgentTask<A> {
    pub(crate) orch: Orchestrator,
    pub(crate) shared: Arc<AgentShared>,
    pub(crate) agent: A,
    pub(crate) factory: Factory<A>,
    pub(crate) restart: RestartPolicy,
    pub(crate) checkpoints: CheckpointPolicy,
    pub(crate) last_checkpoint: Option<Checkpoint>,
}

/// Outcome of handling one message.
enum Handled {
    Ok,
    /// The agent faulted; a waiting requester is answered only after the
    /// restart (or failure), so it observes the supervisor's decision.
    Fault(AgentError, Option<(ReplySender, String)>),
}

fn panic_detail(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

impl<A: Agent> AgentTask<A> {
    pub(crate) async fn run(mut self) {
        let mut batch: VecDeque<Envelope> = VecDeque::new();
        let mut controls: Vec<Control> = Vec::new();
        let mut handled_in_batch = 0usize;
        let mut since_checkpoint = 0u64;
        let mut restarts: VecDeque<Instant> = VecDeque::new();
        let mut fault_at: Option<Instant> = None;
        let cpu_clock = self.orch.config().cpu_clock;
        let shared = self.shared.clone();
        // This task is the only writer of these counters: keep running totals
        // here and publish them with plain stores, once per batch.
        let (mut handled_total, mut batches_total, mut cpu_total) = (0u64, 0u64, Duration::ZERO);

        'outer: loop {
            let next = std::future::poll_fn(|cx| {
                shared
                    .mailbox
                    .poll_batch(cx, &mut handled_in_batch, &mut batch, &mut controls)
            })
            .await;
            if let Batch::Closed = next {
                break;
            }
            let cpu_start = cpu_clock.now();
            let mut handled = 0u64;
            while let Some(env) = batch.pop_front() {
                handled_in_batch += 1;
                match self.handle(env) {
                    Handled::Ok => {
                        handled += 1;
                        if let Some(at) = fault_at.take() {
                            shared.stats.record_recovery(at.elapsed());
                        }
                        since_checkpoint += 1;
                        if let CheckpointPolicy::EveryMessages(n) = self.checkpoints
                            && since_checkpoint >= n
                        {
                            // A failing automatic checkpoint keeps the previous one.
                            if self.take_checkpoint().is_ok() {
                                since_checkpoint = 0;
                            }
                        }
                    }
                    Handled::Fault(error, reply) => {
                        handled += 1;
                        let now = Instant::now();
                        fault_at.get_or_insert(now);
                        let restarted = self.restart(&mut restarts, now, &error);
                        if let Some((tx, why)) = reply {
                            let _ = tx.send(Err(why));
                        }
                        if let Err(reason) = restarted {
                            self.fail(reason, &mut batch, &mut controls);
                            break 'outer;
                        }
                    }
                }
            }
            handled_total += handled;
            batches_total += 1;
            shared.stats.handled.store(handled_total, Relaxed);
            shared.stats.batches.store(batches_total, Relaxed);
            if let Some(start) = cpu_start {
                cpu_total += cpu_clock.now().unwrap_or(start).saturating_sub(start);
                shared.stats.cpu_ns.store(cpu_total.as_nanos() as u64, Relaxed);
            }
            if let Some(bytes) = self.agent.memory_bytes() {
                shared.stats.memory_bytes.store(bytes, Relaxed);
            }
            for control in controls.drain(..) {
                self.run_control(control);
            }
            // A burst leaves a large buffer behind; give it back rather than
            // hold it for the agent's lifetime (it swaps with the mailbox's).
            if batch.capacity() > KEEP_BUFFER {
                batch = VecDeque::new();
            }
            // Let other tasks on this worker run between batches.
            tokio::task::consume_budget().await;
        }
        self.exit();
    }

    fn handle(&mut self, env: Envelope) -> Handled {
        let Envelope { msg, reply } = env;
        let mut ctx = Context {
            orch: &self.orch,
            id: self.shared.id,
            reply,
            sender: msg.sender,
            quote: msg.reply_with.unwrap_or(msg.id),
            conversation: msg.conversation_id,
        };
        let agent = &mut self.agent;
        let result = catch_unwind(AssertUnwindSafe(|| agent.handle(&mut ctx, &msg)));
        let reply = ctx.reply.take();
        let (kind, detail) = match result {
            Ok(Ok(())) => return Handled::Ok,
            Ok(Err(AgentError::Handler(e))) => {
                let reason = DeadLetterReason::HandlerError(e);
                if let Some(tx) = reply {
                    let _ = tx.send(Err(describe(&reason)));
                }
                self.dead_letter(msg, reason);
                return Handled::Ok;
            }
            Ok(Err(AgentError::Fault { kind, detail })) => (kind, detail),
            Err(payload) => (FaultKind::Panic, panic_detail(payload.as_ref())),
        };
        let reason = DeadLetterReason::Fault {
            kind,
            detail: detail.clone(),
        };
        let reply = reply.map(|tx| (tx, describe(&reason)));
        self.dead_letter(msg, reason);
        Handled::Fault(AgentError::Fault { kind, detail }, reply)
    }

    fn dead_letter(&self, msg: caxton_core::Message, reason: DeadLetterReason) {
        StatsCell::add(&self.shared.stats.dead_letters, 1);
        self.orch.dead_letters().record(msg, Some(self.shared.id), reason);
    }

    /// Replaces the faulted instance with a fresh one restored from the last
    /// checkpoint; `Err` with the reason when the policy or the restore says no.
    fn restart(&mut self, restarts: &mut VecDeque<Instant>, now: Instant, error: &AgentError) -> Result<(), String> {
        let policy = self.restart;
        while restarts.front().is_some_and(|t| now.duration_since(*t) > policy.window) {
            restarts.pop_front();
        }
        if restarts.len() >= policy.max_restarts as usize {
            return Err(format!(
                "{error}; restart limit reached ({} within {:?})",
                policy.max_restarts, policy.window
            ));
        }
        restarts.push_back(now);
        let mut fresh = (self.factory)().map_err(|e| format!("{error}; restart failed: {e}"))?;
        if let Some(cp) = &self.last_checkpoint {
            fresh
                .restore(&cp.state)
                .map_err(|e| format!("{error}; restoring checkpoint {} failed: {e}", cp.sequence))?;
        }
        self.agent = fresh;
        StatsCell::add(&self.shared.stats.restarts, 1);
        Ok(())
    }

    /// Stops the agent for good: everything it still holds becomes a dead
    /// letter and the failure is reported to the orchestrator.
    fn fail(&mut self, reason: String, batch: &mut VecDeque<Envelope>, controls: &mut Vec<Control>) {
        self.shared.stats.set_status(AgentStatus::Failed);
        let (queued, more_controls) = self.shared.mailbox.close_and_take();
        let id = self.shared.id;
        for env in batch.drain(..).chain(queued) {
            self.orch.fail_envelope(env, id, DeadLetterReason::AgentFailed, &reason);
        }
        for c in controls.drain(..).chain(more_controls) {
            c.refuse(id);
        }
        self.orch.report_failure(AgentFailure {
            agent: id,
            name: self.shared.name.as_deref().map(str::to_owned),
            reason,
            restarts: self.shared.stats.restarts.load(Relaxed),
        });
    }

    fn take_checkpoint(&mut self) -> Result<Checkpoint, CheckpointError> {
        let id = self.shared.id;
        let state = match self.agent.snapshot() {
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
        self.last_checkpoint = Some(cp.clone());
        StatsCell::add(&self.shared.stats.checkpoints, 1);
        Ok(cp)
    }

    fn run_control(&mut self, control: Control) {
        match control {
            Control::Checkpoint(tx) => {
                let _ = tx.send(self.take_checkpoint());
            }
            Control::Restore(cp, tx) => {
                let result = self.agent.restore(&cp.state).map_err(|e| hook_error(self.shared.id, e));
                if result.is_ok() {
                    self.last_checkpoint = Some(cp);
                }
                let _ = tx.send(result);
            }
        }
    }

    fn exit(self) {
        let shared = &self.shared;
        if shared.stats.status() != AgentStatus::Failed {
            shared.stats.set_status(AgentStatus::Stopped);
        }
        self.orch.registry().deregister(shared);
        // Count the exit before telling waiters, so `stop`/`shutdown`
        // callers see the live count already updated.
        self.orch.agent_exited();
        shared.mailbox.exited();
    }
}

fn describe(reason: &DeadLetterReason) -> String {
    match reason {
        DeadLetterReason::HandlerError(e) => format!("handler error: {e}"),
        DeadLetterReason::Fault { kind, detail } => format!("{kind:?} fault: {detail}"),
        other => format!("{other:?}"),
    }
}
