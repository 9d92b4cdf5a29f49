//! Durable delivery: messages for an agent that asked for it go through
//! the lattice's JetStream work-queue stream, and survive its node.
//!
//! A sender's message is acknowledged once JetStream has stored it (its
//! `Nats-Msg-Id` deduplicates a resend). The agent's node pulls the
//! agent's subject, hands each message to the agent, and *commits* every
//! [`COMMIT_EVERY`] messages or [`COMMIT_AFTER`]: a checkpoint taken
//! after those messages (so they were handled), stored with the last
//! stream sequence it covers, and only then the stream acknowledgements.
//! When the node dies, the adopting node starts the agent from that
//! checkpoint and skips redelivered messages up to its sequence: every
//! acknowledged message is handled once (at least once on the stream,
//! deduplicated by sequence against the state).

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use caxton_core::{AgentId, Message};
use caxton_runtime::{CheckpointError, DeadLetterReason, Orchestrator};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::store::{self, StoredCheckpoint, id_key};
use crate::subjects::Subjects;
use crate::wire::{self, Frame};

/// Messages handled between commits at most.
pub const COMMIT_EVERY: usize = 256;
/// The longest a handled message waits for its commit.
pub const COMMIT_AFTER: Duration = Duration::from_millis(20);

/// The durable consumer's name for agent `id`.
pub fn consumer_name(id: AgentId) -> String {
    format!("agent-{}", id.get())
}

/// Creates the agent's consumer (deleting one left by a dead node, whose
/// unacknowledged messages stay in the stream and come again).
pub async fn open_consumer(
    stream: &stream::Stream,
    subjects: &Subjects,
    id: AgentId,
    fresh: bool,
) -> Result<consumer::PullConsumer, String> {
    let name = consumer_name(id);
    if fresh {
        let _ = stream.delete_consumer(&name).await;
    }
    stream
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: subjects.durable(id),
                ack_policy: consumer::AckPolicy::Explicit,
                deliver_policy: consumer::DeliverPolicy::All,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 4 * COMMIT_EVERY as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {name}: {e}"))
}

/// What a pump needs.
pub struct Pump {
    /// The node's orchestrator.
    pub orch: Orchestrator,
    /// The agent (live on this node).
    pub id: AgentId,
    /// Its consumer.
    pub consumer: consumer::PullConsumer,
    /// The checkpoint bucket.
    pub checkpoints: async_nats::jetstream::kv::Store,
    /// The last stream sequence already in the agent's state.
    pub applied: u64,
}

impl Pump {
    /// Feeds the agent until `stop` turns true (then commits what was
    /// handled) or the agent is gone.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut pending: Vec<jetstream::Message> = Vec::new();
        'outer: loop {
            let mut messages = match self.consumer.messages().await {
                Ok(m) => m,
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                        _ = stop.changed() => break,
                    }
                }
            };
            loop {
                let deadline = tokio::time::sleep(COMMIT_AFTER);
                tokio::select! {
                    m = messages.next() => match m {
                        Some(Ok(m)) => {
                            if !self.take(m, &mut pending).await {
                                break 'outer;
                            }
                            if pending.len() >= COMMIT_EVERY && !self.commit(&mut pending).await {
                                break 'outer;
                            }
                        }
                        Some(Err(_)) => continue,
                        None => continue 'outer,
                    },
                    _ = deadline, if !pending.is_empty() => {
                        if !self.commit(&mut pending).await {
                            break 'outer;
                        }
                    }
                    _ = stop.changed() => break 'outer,
                }
            }
        }
        self.commit(&mut pending).await;
    }

    /// Hands one stream message to the agent; `false` once the agent is gone.
    async fn take(&mut self, m: jetstream::Message, pending: &mut Vec<jetstream::Message>) -> bool {
        let Ok(seq) = m.info().map(|i| i.stream_sequence) else {
            return true;
        };
        if seq <= self.applied {
            // In the state already (redelivered after a restart).
            pending.push(m);
            return true;
        }
        let msg = match wire::decode(&m.payload) {
            Ok(Frame::Send(msg)) => Some(msg),
            Ok(_) => None,
            Err(_) => None,
        };
        let alive = match msg {
            Some(mut msg) => {
                msg.receiver = self.id.into();
                match self.orch.send(msg).await {
                    Ok(()) => true,
                    Err(e) => {
                        let reason = DeadLetterReason::from(&e.kind);
                        let gone = matches!(
                            e.kind,
                            caxton_runtime::SendErrorKind::AgentStopped(_)
                                | caxton_runtime::SendErrorKind::UnknownAgent(_)
                        );
                        self.orch.record_dead_letter(*e.message, Some(self.id), reason);
                        !gone
                    }
                }
            }
            None => {
                let raw = Message::new(self.id, caxton_core::Performative::NotUnderstood, m.payload.clone());
                self.orch.record_dead_letter(
                    raw,
                    Some(self.id),
                    DeadLetterReason::Malformed(format!("durable stream message {seq} is not a send frame")),
                );
                true
            }
        };
        self.applied = seq;
        pending.push(m);
        alive
    }

    /// Checkpoints the agent after what it was handed, stores the
    /// checkpoint with the sequence, then acknowledges. `false` once the
    /// agent is gone (nothing acknowledged: the messages come again).
    async fn commit(&mut self, pending: &mut Vec<jetstream::Message>) -> bool {
        if pending.is_empty() {
            return true;
        }
        // The checkpoint runs after every message already in the mailbox,
        // so its answer (or "unsupported") means they were handled.
        let checkpoint = match self.orch.checkpoint(self.id).await {
            Ok(cp) => Some(cp),
            Err(CheckpointError::Unsupported(_)) => None,
            Err(_) => return false,
        };
        let record = StoredCheckpoint {
            checkpoint,
            applied: self.applied,
        };
        if self
            .checkpoints
            .put(id_key(self.id), store::encode(&record))
            .await
            .is_err()
        {
            // Not stored: acknowledge nothing, the messages stay in the
            // stream (and are skipped by sequence while this node lives).
            pending.clear();
            return true;
        }
        for m in pending.drain(..) {
            let _ = m.ack().await;
        }
        true
    }
}
