//! Task processing by a pool of agents sharing a capability: tasks are sent
//! to the capability and the orchestrator picks a worker for each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caxton_runtime::{
    Address, Agent, AgentError, AgentId, AgentSpec, Context, Message, Orchestrator, Performative, SendError, SpawnError,
};

use crate::agents::{Completion, counted};
use crate::payload::Payloads;

/// The work one task costs: `rounds` of an FNV-1a hash over the payload.
pub fn task_work(payload: &[u8], rounds: u32) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for _ in 0..rounds {
        for b in payload {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A worker that does [`task_work`] per message.
#[derive(Clone, Copy, Debug)]
pub struct Worker {
    /// Hash rounds per task.
    pub rounds: u32,
}

impl Agent for Worker {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        std::hint::black_box(task_work(&msg.payload, self.rounds));
        Ok(())
    }
}

/// A worker that does [`task_work`] per message and replies (to a waiting
/// caller or the sending agent) with the payload it got: the single-agent
/// request/response shape.
#[derive(Clone, Copy, Debug)]
pub struct Responder {
    /// Hash rounds per request.
    pub rounds: u32,
}

impl Agent for Responder {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        std::hint::black_box(task_work(&msg.payload, self.rounds));
        if ctx.reply_expected() || msg.sender.is_some() {
            ctx.reply(Performative::Inform, msg.payload.clone())
                .map_err(|e| AgentError::handler(e.to_string()))?;
        }
        Ok(())
    }
}

/// Shape of a pool run.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// Workers in the pool.
    pub workers: usize,
    /// Tasks per run.
    pub tasks: u64,
    /// Hash rounds per task (over a 64-byte payload).
    pub rounds: u32,
}

impl Default for PoolConfig {
    /// 10 workers, 1000 tasks, 16 hash rounds each.
    fn default() -> Self {
        Self {
            workers: 10,
            tasks: 1000,
            rounds: 16,
        }
    }
}

/// A pool of workers behind the capability `"pool-worker"`.
pub struct Pool {
    orch: Orchestrator,
    workers: Vec<AgentId>,
    completion: Arc<Completion>,
    cfg: PoolConfig,
    to_pool: Address,
    payloads: Payloads,
}

/// The capability pool workers register.
pub const POOL_CAPABILITY: &str = "pool-worker";

impl Pool {
    /// Spawns the workers.
    pub fn spawn(orch: &Orchestrator, cfg: PoolConfig) -> Result<Self, SpawnError> {
        let completion = Completion::new();
        let c = completion.clone();
        let rounds = cfg.rounds;
        let spec = AgentSpec::new(move || counted(Worker { rounds }, c.clone())).capability(POOL_CAPABILITY);
        let workers = orch.spawn_many(&spec, cfg.workers)?;
        Ok(Self {
            orch: orch.clone(),
            workers,
            completion,
            cfg,
            to_pool: Address::capability(POOL_CAPABILITY),
            payloads: Payloads::new(64),
        })
    }

    /// Sends `cfg.tasks` tasks to the capability, then one end marker per
    /// worker (by id, not counted as tasks); returns when all are handled.
    pub async fn run(&self) -> Result<Duration, SendError> {
        self.completion.arm(self.cfg.tasks + self.workers.len() as u64);
        let start = Instant::now();
        for _ in 0..self.cfg.tasks {
            let msg = Message::new(self.to_pool.clone(), Performative::Request, self.payloads.more.clone());
            self.orch.send(msg).await?;
        }
        for id in &self.workers {
            let msg = Message::new(*id, Performative::Inform, self.payloads.last.clone());
            self.orch.send(msg).await?;
        }
        self.completion.wait().await;
        Ok(start.elapsed())
    }

    /// The workers.
    pub fn workers(&self) -> &[AgentId] {
        &self.workers
    }
}
