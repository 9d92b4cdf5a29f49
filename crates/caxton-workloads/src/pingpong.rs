//! Request/reply round trips at light load: one request in flight at a time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_runtime::{AgentId, AgentSpec, Message, Orchestrator, RequestError, SpawnError};
use tokio::sync::{mpsc, oneshot};

use crate::agents::Echo;

/// Timeout given to each Caxton request; generous, it only bounds a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Spawns a native echo agent to ping.
pub fn spawn_echo(orch: &Orchestrator) -> Result<AgentId, SpawnError> {
    orch.spawn(AgentSpec::new(|| Echo))
}

/// `n` sequential requests to `target` through the orchestrator, each
/// given [`REQUEST_TIMEOUT`]; `record` gets each round trip.
pub async fn caxton_round_trips(
    orch: &Orchestrator,
    target: AgentId,
    n: u64,
    payload: Bytes,
    record: impl FnMut(Duration),
) -> Result<(), RequestError> {
    caxton_round_trips_with_timeout(orch, target, n, payload, REQUEST_TIMEOUT, record).await
}

/// [`caxton_round_trips`] with each request given `timeout`
/// (`Duration::MAX`: no deadline at all).
pub async fn caxton_round_trips_with_timeout(
    orch: &Orchestrator,
    target: AgentId,
    n: u64,
    payload: Bytes,
    timeout: Duration,
    mut record: impl FnMut(Duration),
) -> Result<(), RequestError> {
    for _ in 0..n {
        let start = Instant::now();
        let reply = orch.request(Message::request(target, payload.clone()), timeout).await?;
        record(start.elapsed());
        std::hint::black_box(reply);
    }
    Ok(())
}

type RawRequest = (Message, oneshot::Sender<Message>);

/// An echo task on raw tokio channels: the floor for a round trip.
pub struct RawEcho {
    tx: mpsc::Sender<RawRequest>,
}

impl RawEcho {
    /// Spawns the echo task.
    pub fn spawn() -> Self {
        let (tx, mut rx) = mpsc::channel::<RawRequest>(1024);
        tokio::spawn(async move {
            while let Some((msg, reply)) = rx.recv().await {
                let _ = reply.send(msg.reply(caxton_runtime::Performative::Inform, msg.payload.clone()));
            }
        });
        Self { tx }
    }

    /// `n` sequential round trips; `record` gets each.
    pub async fn round_trips(&self, n: u64, payload: Bytes, mut record: impl FnMut(Duration)) {
        let to = AgentId::new(1).expect("non-zero");
        for _ in 0..n {
            let start = Instant::now();
            let (rtx, rrx) = oneshot::channel();
            self.tx
                .send((Message::request(to, payload.clone()), rtx))
                .await
                .expect("echo task is running");
            let reply = rrx.await.expect("echo task replies");
            record(start.elapsed());
            std::hint::black_box(reply);
        }
    }
}
