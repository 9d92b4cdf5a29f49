//! Spawning batches of agents, and the raw tokio equivalent (idle tasks
//! waiting on a channel).

use std::time::{Duration, Instant};

use caxton_runtime::{Agent, AgentId, AgentSpec, Message, Orchestrator, SpawnError};
use tokio::sync::mpsc;

/// Spawns `n` agents from `spec`; returns their ids and the time taken
/// (spawn call to every agent ready to receive).
pub fn caxton_spawn_batch<A: Agent>(
    orch: &Orchestrator,
    spec: &AgentSpec<A>,
    n: usize,
) -> Result<(Vec<AgentId>, Duration), SpawnError> {
    let start = Instant::now();
    let ids = orch.spawn_many(spec, n)?;
    Ok((ids, start.elapsed()))
}

/// Stops every agent in `ids`.
pub async fn stop_all(orch: &Orchestrator, ids: &[AgentId]) {
    for id in ids {
        let _ = orch.stop(*id).await;
    }
}

/// Stops every agent in `ids` at once: all mailboxes close together and the
/// agents exit in parallel, so tearing down 10000 agents between bench
/// iterations takes milliseconds, not one round trip per agent.
pub async fn stop_many(orch: &Orchestrator, ids: Vec<AgentId>) {
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        let orch = orch.clone();
        set.spawn(async move {
            let _ = orch.stop(id).await;
        });
    }
    while set.join_next().await.is_some() {}
}

/// `n` idle tokio tasks, each owning the receiver of a bounded channel: what
/// an actor costs at the least.
pub struct RawTasks {
    /// The senders; dropping them ends the tasks.
    pub senders: Vec<mpsc::Sender<Message>>,
}

impl RawTasks {
    /// Spawns `n` tasks; returns them and the time taken.
    pub fn spawn(n: usize, capacity: usize) -> (Self, Duration) {
        let start = Instant::now();
        let senders = (0..n)
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Message>(capacity);
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                tx
            })
            .collect();
        (Self { senders }, start.elapsed())
    }
}
