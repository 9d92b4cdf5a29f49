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
//!
//! A node whose lease ran out may only have stalled: its pump can still be
//! running when a survivor adopts the agent. So the checkpoint record is
//! owned: the adopter rewrites it under its own node number (a
//! compare-and-set, [`own_checkpoint`]) before it reads the sequence, and a
//! pump stores each commit with a compare-and-set on the revision it last
//! wrote. The stalled pump's next commit finds another revision and ends
//! without acknowledging or purging anything: the messages its (fenced)
//! agent handled after the adoption stay in the stream for the adopter.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use caxton_core::{AgentId, Message};
use caxton_runtime::{CheckpointError, DeadLetterReason, Orchestrator};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::store::{self, Store, StoredCheckpoint, id_key};
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

/// Makes node `writer` the owner of agent `id`'s checkpoint record and
/// returns the record with its revision, which that node's pump then
/// compares-and-sets on. The record is rewritten as read (or created
/// empty for a new agent) under `writer`'s number with a compare-and-set
/// on the revision read, so any other node's pump that still runs can no
/// longer commit. Retries a lost race or a transient error a few times.
pub async fn own_checkpoint(
    checkpoints: &kv::Store,
    id: AgentId,
    writer: u64,
) -> Result<(StoredCheckpoint, u64), String> {
    let key = id_key(id);
    let mut last = String::new();
    for attempt in 0..20u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt.min(10)))).await;
        }
        let entry = match checkpoints.entry(key.clone()).await {
            Ok(entry) => entry,
            Err(e) => {
                last = format!("reading the checkpoint of agent {id}: {e}");
                continue;
            }
        };
        let (mut record, revision) = match entry {
            Some(e) if e.operation == kv::Operation::Put => match store::decode::<StoredCheckpoint>(&e.value) {
                Ok(record) => (record, Some(e.revision)),
                Err(err) => return Err(format!("the checkpoint of agent {id}: {err}")),
            },
            // Deleted (a stopped agent's id is never reused, but be exact).
            Some(e) => (StoredCheckpoint::empty(), Some(e.revision)),
            None => (StoredCheckpoint::empty(), None),
        };
        record.writer = writer;
        let bytes = store::encode(&record);
        let written = match revision {
            Some(revision) => checkpoints
                .update(&key, bytes, revision)
                .await
                .map_err(|e| e.to_string()),
            None => checkpoints.create(&key, bytes).await.map_err(|e| e.to_string()),
        };
        match written {
            Ok(revision) => return Ok((record, revision)),
            Err(e) => last = format!("taking over the checkpoint of agent {id}: {e}"),
        }
    }
    Err(last)
}

/// What storing a commit's checkpoint came to.
enum Stored {
    /// Stored: acknowledge and purge.
    Yes,
    /// Not stored (NATS did not answer): acknowledge nothing, go on.
    No,
    /// Another node owns the record now: acknowledge nothing, stop.
    Fenced,
}

/// Feeds one durable agent from its consumer and commits what it handled
/// (see the module docs).
pub struct Pump {
    orch: Orchestrator,
    id: AgentId,
    consumer: consumer::PullConsumer,
    checkpoints: kv::Store,
    stream: stream::Stream,
    subject: String,
    /// The last stream sequence already in the agent's state.
    applied: u64,
    /// This node's number (the checkpoint record's writer).
    writer: u64,
    /// The checkpoint record's revision this pump last wrote: commits
    /// compare-and-set on it.
    revision: u64,
    /// Problems told to stderr so far (the first few are).
    warnings: u64,
}

impl Pump {
    /// A pump for agent `id` (live in `orch`) on node `writer`, reading
    /// `consumer` (from [`open_consumer`]), whose state holds the stream
    /// up to `applied` and whose checkpoint record `writer` owns at
    /// `revision` (from [`own_checkpoint`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        orch: Orchestrator,
        id: AgentId,
        consumer: consumer::PullConsumer,
        store: &Store,
        subjects: &Subjects,
        applied: u64,
        writer: u64,
        revision: u64,
    ) -> Self {
        Self {
            orch,
            id,
            consumer,
            checkpoints: store.checkpoints.clone(),
            stream: store.durable.clone(),
            subject: subjects.durable(id),
            applied,
            writer,
            revision,
            warnings: 0,
        }
    }

    /// Feeds the agent until `stop` turns true (then commits what was
    /// handled) or the agent is gone.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut pending: Vec<jetstream::Message> = Vec::new();
        'outer: loop {
            let mut messages = match self.consumer.messages().await {
                Ok(m) => m,
                Err(e) => {
                    self.warn(format_args!("pulling: {e}"));
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
                        Some(Err(e)) => {
                            self.warn(format_args!("pulled: {e}"));
                            continue;
                        }
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
            Err(e) => {
                self.warn(format_args!("checkpoint: {e}; the pump ends"));
                return false;
            }
        };
        let record = StoredCheckpoint {
            checkpoint,
            applied: self.applied,
            writer: self.writer,
        };
        match self.store(store::encode(&record)).await {
            Stored::Yes => {}
            Stored::No => {
                // Acknowledge nothing: the messages stay in the stream
                // (and are skipped by sequence while this node lives).
                pending.clear();
                return true;
            }
            Stored::Fenced => {
                self.warn(format_args!("another node adopted the agent; the pump ends"));
                // Adopted elsewhere: what this agent handled since the
                // adopter's checkpoint is redelivered there.
                pending.clear();
                return false;
            }
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

    /// Tells stderr what went wrong, the first few times (diagnostics:
    /// every outcome is also handled).
    fn warn(&mut self, what: std::fmt::Arguments<'_>) {
        self.warnings += 1;
        if self.warnings <= 5 {
            eprintln!("caxton-cluster: durable pump of agent {}: {what}", self.id);
        }
    }

    /// Stores a commit's record with a compare-and-set on the revision
    /// this pump last wrote.
    async fn store(&mut self, bytes: bytes::Bytes) -> Stored {
        let key = id_key(self.id);
        if let Ok(revision) = self.checkpoints.update(&key, bytes.clone(), self.revision).await {
            self.revision = revision;
            return Stored::Yes;
        }
        // Refused, or no answer: the record tells which.
        match self.checkpoints.entry(key).await {
            Ok(Some(e)) if e.revision == self.revision => Stored::No,
            // The write landed though its answer was lost.
            Ok(Some(e)) if e.operation == kv::Operation::Put && e.value == bytes => {
                self.revision = e.revision;
                Stored::Yes
            }
            Ok(_) => Stored::Fenced,
            Err(_) => Stored::No,
        }
    }
}
