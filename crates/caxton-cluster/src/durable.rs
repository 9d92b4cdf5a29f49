//! Durable delivery: messages for an agent that asked for it go through
//! the lattice's JetStream stream, and survive its node.
//!
//! A sender's message is acknowledged once JetStream has stored it (its
//! `Nats-Msg-Id` deduplicates a resend). The agent's node pulls the
//! agent's subject, hands each message to the agent, and *commits* every
//! [`COMMIT_EVERY`] messages or [`COMMIT_AFTER`]: a checkpoint taken
//! after those messages (so they were handled), stored with the last
//! stream sequence it covers, then the acknowledgements, then a purge of
//! the agent's subject up to that sequence (so the stream holds only what
//! no stored state covers yet: it is bounded like a work queue, but a
//! consumer can be replaced without losing a message).
//! When the node dies, the adopting node starts the agent from that
//! checkpoint with a consumer of its own starting after that sequence
//! (skipping any redelivery at or below it): every
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

/// The durable consumer's name for agent `id` on the node numbered `node`
/// (one consumer per incarnation: an adopter never binds the dead node's).
pub fn consumer_name(id: AgentId, node: u64) -> String {
    format!("agent-{}-n{node}", id.get())
}

/// Creates the agent's consumer for this node, starting after `applied`
/// (the last sequence its state holds); deletes the one the previous
/// owner (`previous`, a node number) used, if any. The stream keeps
/// retention by limits, so deleting a consumer never drops a message.
pub async fn open_consumer(
    stream: &stream::Stream,
    subjects: &Subjects,
    id: AgentId,
    node: u64,
    applied: u64,
    previous: Option<u64>,
) -> Result<consumer::PullConsumer, String> {
    if let Some(previous) = previous {
        let _ = stream.delete_consumer(&consumer_name(id, previous)).await;
    }
    let name = consumer_name(id, node);
    let deliver_policy = if applied == 0 {
        consumer::DeliverPolicy::All
    } else {
        consumer::DeliverPolicy::ByStartSequence {
            start_sequence: applied + 1,
        }
    };
    stream
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: subjects.durable(id),
                ack_policy: consumer::AckPolicy::Explicit,
                deliver_policy,
                ack_wait: Duration::from_secs(10),
                max_ack_pending: 4 * COMMIT_EVERY as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {name}: {e}"))
}

/// Removes what the stream holds for agent `id`, which stopped for good:
/// messages it never got are dead letters (`AgentStopped`, each counted
/// once), then its consumer and subject go.
pub async fn forget(stream: &stream::Stream, subjects: &Subjects, id: AgentId, node: u64, orch: &Orchestrator) {
    let name = consumer_name(id, node);
    if let Ok(consumer) = stream.get_consumer::<consumer::pull::Config>(&name).await {
        // Bounded: at most this many batches of 1000.
        for _ in 0..1000 {
            let fetched = consumer
                .fetch()
                .max_messages(1000)
                .expires(Duration::from_millis(200))
                .messages()
                .await;
            let Ok(mut batch) = fetched else { break };
            let mut any = false;
            while let Some(Ok(m)) = batch.next().await {
                any = true;
                let msg = match wire::decode(&m.payload) {
                    Ok(Frame::Send(msg)) => msg,
                    _ => Message::new(id, caxton_core::Performative::NotUnderstood, m.payload.clone()),
                };
                orch.record_dead_letter(msg, Some(id), DeadLetterReason::AgentStopped);
                let _ = m.ack().await;
            }
            if !any {
                break;
            }
        }
    }
    let _ = stream.delete_consumer(&name).await;
    let _ = stream.purge().filter(subjects.durable(id)).await;
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
    /// The stream (purged below what a commit covers).
    pub stream: stream::Stream,
    /// The agent's subject in it.
    pub subject: String,
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
        // The stream keeps only what the stored state does not cover yet.
        let _ = self
            .stream
            .purge()
            .filter(self.subject.clone())
            .sequence(self.applied + 1)
            .await;
        true
    }
}
