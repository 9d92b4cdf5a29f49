//! Fan-out: one producer routes messages round-robin to N agents.
//!
//! The Caxton shape sends through the orchestrator by agent id (a registry
//! lookup and a mailbox push per message); the raw shape sends the same
//! envelopes over one tokio mpsc channel per consumer task. Both wait for
//! every message to be handled before the clock stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_runtime::{
    Address, Agent, AgentError, AgentId, AgentSpec, Message, Orchestrator, Performative, SendError, SpawnError,
};
use tokio::sync::mpsc;

use crate::agents::{Completion, Sink, Tally, counted};
use crate::payload::Payloads;

/// Shape of a fan-out run.
#[derive(Clone, Copy, Debug)]
pub struct FanoutConfig {
    /// Receiving agents (or consumer tasks).
    pub agents: usize,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Mailbox (channel) capacity per receiver.
    pub mailbox_capacity: usize,
}

impl Default for FanoutConfig {
    /// 1000 receivers, 64-byte payloads, 1024-message mailboxes.
    fn default() -> Self {
        Self {
            agents: 1000,
            payload_bytes: 64,
            mailbox_capacity: 1024,
        }
    }
}

/// One measured run.
#[derive(Clone, Copy, Debug)]
pub struct FanoutRun {
    /// Messages sent and handled.
    pub messages: u64,
    /// First send to last message handled.
    pub elapsed: Duration,
}

impl FanoutRun {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }
}

/// Rounds a message count up to whole rounds over the receivers.
pub(crate) fn rounds(messages: u64, receivers: usize) -> u64 {
    messages.div_ceil(receivers as u64).max(1)
}

/// Drives one fan-out run, for every shape (Caxton, raw tokio, peers):
/// whole rounds over `receivers`, the last round's payload marked, `send`
/// called with the receiver's index and the payload of each message, then
/// waits until `completion` has seen every message handled.
pub async fn drive<E, F, Fut>(
    receivers: usize,
    messages: u64,
    payloads: &Payloads,
    completion: &Completion,
    mut send: F,
) -> Result<FanoutRun, E>
where
    F: FnMut(usize, Bytes) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let rounds = rounds(messages, receivers);
    let total = rounds * receivers as u64;
    completion.arm(total);
    let start = Instant::now();
    for r in 0..rounds {
        let payload = if r + 1 == rounds {
            &payloads.last
        } else {
            &payloads.more
        };
        for i in 0..receivers {
            send(i, payload.clone()).await?;
        }
    }
    completion.wait().await;
    Ok(FanoutRun {
        messages: total,
        elapsed: start.elapsed(),
    })
}

/// The envelope a shape without agent ids (raw tokio, peers) sends to
/// receiver `i`, addressed to a stand-in id, so every shape moves the same
/// envelope as the Caxton one.
pub(crate) fn envelope(i: usize, payload: Bytes) -> Message {
    let to = AgentId::new(i as u64 + 1).expect("non-zero");
    Message::new(Address::Id(to), Performative::Inform, payload)
}

/// Fan-out through the Caxton orchestrator.
pub struct CaxtonFanout {
    orch: Orchestrator,
    targets: Vec<AgentId>,
    completion: Arc<Completion>,
    payloads: Payloads,
}

impl CaxtonFanout {
    /// Spawns `cfg.agents` native sink agents.
    pub fn native(orch: &Orchestrator, cfg: &FanoutConfig) -> Result<Self, SpawnError> {
        Self::with_agents(orch, cfg, || Ok(Sink))
    }

    /// Spawns `cfg.agents` agents built by `make` (native or hosted), each
    /// wrapped to report completion.
    pub fn with_agents<A: Agent>(
        orch: &Orchestrator,
        cfg: &FanoutConfig,
        make: impl Fn() -> Result<A, AgentError> + Send + Sync + 'static,
    ) -> Result<Self, SpawnError> {
        let completion = Completion::new();
        let c = completion.clone();
        let spec = AgentSpec::try_new(move || Ok(counted(make()?, c.clone()))).mailbox_capacity(cfg.mailbox_capacity);
        let targets = orch.spawn_many(&spec, cfg.agents)?;
        Ok(Self {
            orch: orch.clone(),
            targets,
            completion,
            payloads: Payloads::new(cfg.payload_bytes),
        })
    }

    /// The receiving agents.
    pub fn targets(&self) -> &[AgentId] {
        &self.targets
    }

    /// Sends about `messages` (whole rounds over the agents), waiting on full
    /// mailboxes, and returns when all were handled.
    pub async fn run(&self, messages: u64) -> Result<FanoutRun, SendError> {
        drive(
            self.targets.len(),
            messages,
            &self.payloads,
            &self.completion,
            |i, payload| {
                let msg = Message::new(Address::Id(self.targets[i]), Performative::Inform, payload);
                self.orch.send(msg)
            },
        )
        .await
    }

    /// Stops the agents.
    pub async fn stop(self) {
        for id in self.targets {
            let _ = self.orch.stop(id).await;
        }
    }
}

/// The same fan-out on raw tokio channels: the floor.
pub struct RawFanout {
    senders: Vec<mpsc::Sender<Message>>,
    completion: Arc<Completion>,
    payloads: Payloads,
}

impl RawFanout {
    /// Spawns `cfg.agents` consumer tasks, one bounded channel each.
    pub fn spawn(cfg: &FanoutConfig) -> Self {
        let completion = Completion::new();
        let senders = (0..cfg.agents)
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Message>(cfg.mailbox_capacity);
                let c = completion.clone();
                tokio::spawn(async move {
                    let mut tally = Tally::new(c);
                    while let Some(msg) = rx.recv().await {
                        tally.count(&msg.payload);
                    }
                });
                tx
            })
            .collect();
        Self {
            senders,
            completion,
            payloads: Payloads::new(cfg.payload_bytes),
        }
    }

    /// Sends about `messages` (whole rounds), returns when all were received.
    pub async fn run(&self, messages: u64) -> FanoutRun {
        let result = drive(
            self.senders.len(),
            messages,
            &self.payloads,
            &self.completion,
            |i, payload| self.senders[i].send(envelope(i, payload)),
        )
        .await;
        result.expect("consumer tasks outlive the run")
    }
}
