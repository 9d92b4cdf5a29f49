//! A node: an [`Orchestrator`] plus a NATS connection, joined to a lattice.
//!
//! * **Ids unique across nodes.** Joining claims the node's name with a
//!   JetStream key-value `create` on the lattice's node bucket; the
//!   revision that create returns is unique in the bucket, so it is the
//!   node's number, and the node's orchestrator hands out agent ids from
//!   `number << 40` ([`ID_RANGE_BITS`]). A second node claiming a taken
//!   name is refused ([`NodeError::DuplicateNodeName`]).
//! * **Local first.** A message whose receiver lives on this node (an id in
//!   the node's range, a name or capability registered here) goes through
//!   the orchestrator and never touches NATS.
//! * **Remote: at most once.** Otherwise a send is published on the
//!   receiver's subject (it returns a typed error or has been handed to
//!   NATS), a request is a NATS request with the caller's timeout, and the
//!   hosting node answers with the agent's reply or a typed error frame.
//! * **Nothing undecodable is dropped silently.** A frame on an agent's
//!   subject that does not decode is a dead letter
//!   ([`DeadLetterReason::Malformed`]) and counted.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use caxton_core::{Address, AgentId, Message, Performative};
use caxton_runtime::{
    Agent, AgentSpec, Broadcast, DeadLetterReason, Orchestrator, OrchestratorConfig, RequestError, SendError,
    SendErrorKind, ShutdownReport, SpawnError,
};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::subjects::{SubjectError, Subjects, capability_queue, validate_name};
use crate::wire::{self, Frame, RemoteError, WIRE_VERSION, WireError};

/// Agent ids of node number `n` are `n << ID_RANGE_BITS ..` `(n + 1) << ID_RANGE_BITS`.
pub const ID_RANGE_BITS: u32 = 40;

/// How a node connects to NATS.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Bound on one connection attempt.
    pub connect_timeout: Duration,
    /// Attempts before giving up (at least one).
    pub connect_attempts: u32,
    /// Wait after the first failed attempt; doubled after each, up to [`Self::max_backoff`].
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for NodeOptions {
    /// One attempt of at most 5 s (no retry); backoff 100 ms doubling to 5 s when retrying.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 1,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl NodeOptions {
    /// Keeps trying to connect `attempts` times with doubling backoff.
    pub fn retry(mut self, attempts: u32) -> Self {
        self.connect_attempts = attempts.max(1);
        self
    }
}

/// Why a node could not join, spawn or stop.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// NATS did not accept a connection.
    #[error("cannot reach NATS at {url} after {attempts} attempt(s): {detail}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        detail: String,
    },
    /// Another node of the lattice holds this name.
    #[error("node name {node:?} is already claimed in lattice {lattice:?}")]
    DuplicateNodeName {
        /// The lattice.
        lattice: String,
        /// The refused name.
        node: String,
    },
    /// A peer of the lattice speaks another wire version.
    #[error("peer node {peer:?} speaks wire version {theirs}, this node speaks version {ours}")]
    PeerWireVersion {
        /// The peer's name.
        peer: String,
        /// This node's version.
        ours: u8,
        /// The peer's version.
        theirs: u8,
    },
    /// A lattice, node, agent or capability name that cannot be a subject token.
    #[error(transparent)]
    Name(#[from] SubjectError),
    /// A JetStream call failed.
    #[error("JetStream at {url}: {detail}")]
    JetStream {
        /// The server URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The node number is past what agent ids can hold.
    #[error("node number {0} leaves no room for agent ids")]
    IdSpaceExhausted(u64),
    /// The orchestrator refused the agent.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// Subscribing an agent's subjects failed (the agent was stopped again).
    #[error("subscribing {subject} failed: {detail}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The NATS error.
        detail: String,
    },
    /// The agent to stop is not live here.
    #[error(transparent)]
    Stop(#[from] SendErrorKind),
}

/// Why a send, request or broadcast through a node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The local path refused the message (it is handed back inside).
    #[error("local: {0}")]
    Local(#[from] SendError),
    /// A local request got no reply.
    #[error("local: {0}")]
    LocalRequest(#[from] RequestError),
    /// The node hosting the agent answered with an error frame.
    #[error("remote: {0}")]
    Remote(#[from] RemoteError),
    /// No node subscribes the subject: no agent there, on any node.
    #[error("no agent answers on {subject} on any node")]
    NoResponders {
        /// The subject.
        subject: String,
    },
    /// No answer within the timeout.
    #[error("no reply on {subject} within {after:?}")]
    Timeout {
        /// The subject.
        subject: String,
        /// The timeout.
        after: Duration,
    },
    /// The node is not connected to NATS right now (it keeps reconnecting);
    /// nothing was published.
    #[error("not connected to NATS at {url}: nothing was sent on {subject}")]
    Disconnected {
        /// The NATS URL.
        url: String,
        /// The subject the message was for.
        subject: String,
    },
    /// NATS did not take the message.
    #[error("NATS refused the message on {subject}: {detail}")]
    Transport {
        /// The subject.
        subject: String,
        /// The NATS error.
        detail: String,
    },
    /// The answer did not decode, or the message did not encode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The address cannot be a subject.
    #[error(transparent)]
    Name(#[from] SubjectError),
}

/// What [`Node::broadcast`] did.
#[derive(Debug, Default)]
pub struct BroadcastReport {
    /// The copies handed to this node's capable agents.
    pub local: Broadcast,
    /// Whether a copy was published for the other nodes' capable agents.
    pub published: bool,
}

/// Remote-traffic counters of a node (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Sends, requests and broadcasts that took the local path.
    pub local: u64,
    /// Frames this node published to other nodes (sends, requests, broadcasts).
    pub sent_remote: u64,
    /// Frames received on this node's agent subjects.
    pub received_remote: u64,
    /// Frames (received, or answers) that did not decode.
    pub decode_failures: u64,
    /// Reconnections to NATS after the first connection.
    pub reconnects: u64,
}

#[derive(Default)]
struct Counters {
    local: AtomicU64,
    sent_remote: AtomicU64,
    received_remote: AtomicU64,
    decode_failures: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the subscription tasks share (no handle back to the node).
struct Shared {
    orch: Orchestrator,
    client: async_nats::Client,
    counters: Arc<Counters>,
}

/// One agent's subscriptions: closing `stop` ends their tasks, each
/// unsubscribing first.
struct AgentSubs {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// An orchestrator joined to a lattice over NATS. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    subjects: Subjects,
    url: String,
    name: String,
    number: u64,
    ids: Range<u64>,
    kv: kv::Store,
    subs: Mutex<HashMap<AgentId, AgentSubs>>,
}

async fn connect_nats(url: &str, opts: &NodeOptions) -> Result<async_nats::Client, NodeError> {
    let attempts = opts.connect_attempts.max(1);
    let mut backoff = opts.initial_backoff;
    let mut detail = String::new();
    for attempt in 1..=attempts {
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(opts.connect_timeout)
            .no_echo();
        match tokio::time::timeout(opts.connect_timeout, options.connect(url)).await {
            Ok(Ok(client)) => return Ok(client),
            Ok(Err(e)) => detail = e.to_string(),
            Err(_) => detail = format!("no connection within {:?}", opts.connect_timeout),
        }
        if attempt < attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(opts.max_backoff);
        }
    }
    Err(NodeError::Unreachable {
        url: url.to_owned(),
        attempts,
        detail,
    })
}

impl Node {
    /// Joins `lattice` as `node_name` through the NATS server at `url`,
    /// with an orchestrator built from `config` (its
    /// [`OrchestratorConfig::first_agent_id`] is set to the node's range).
    pub async fn connect(
        url: &str,
        lattice: &str,
        node_name: &str,
        config: OrchestratorConfig,
    ) -> Result<Self, NodeError> {
        Self::connect_with(url, lattice, node_name, config, NodeOptions::default()).await
    }

    /// [`Self::connect`] with connection options (timeout, retry with backoff).
    pub async fn connect_with(
        url: &str,
        lattice: &str,
        node_name: &str,
        mut config: OrchestratorConfig,
        options: NodeOptions,
    ) -> Result<Self, NodeError> {
        let subjects = Subjects::new(lattice)?;
        validate_name("node", node_name)?;
        let counters = Arc::new(Counters::default());
        let client = connect_nats(url, &options).await?;
        let js_err = |detail: String| NodeError::JetStream {
            url: url.to_owned(),
            detail,
        };
        let js = async_nats::jetstream::new(client.clone());
        let kv = js
            .create_key_value(kv::Config {
                bucket: subjects.nodes_bucket(),
                description: format!("Caxton nodes of lattice {lattice}"),
                history: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| js_err(e.to_string()))?;
        let record = Bytes::from(vec![WIRE_VERSION]);
        let number = match kv.create(node_name, record).await {
            Ok(revision) => revision,
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                return Err(NodeError::DuplicateNodeName {
                    lattice: lattice.to_owned(),
                    node: node_name.to_owned(),
                });
            }
            Err(e) => return Err(js_err(e.to_string())),
        };
        let release = async |kv: &kv::Store| {
            let _ = kv.purge(node_name).await;
        };
        if let Err(e) = check_peers(&kv, node_name).await {
            release(&kv).await;
            return Err(match e {
                PeerCheck::Version(peer, theirs) => NodeError::PeerWireVersion {
                    peer,
                    ours: WIRE_VERSION,
                    theirs,
                },
                PeerCheck::Js(detail) => js_err(detail),
            });
        }
        if number >= 1 << (64 - ID_RANGE_BITS) {
            release(&kv).await;
            return Err(NodeError::IdSpaceExhausted(number));
        }
        let ids = (number << ID_RANGE_BITS)..((number + 1) << ID_RANGE_BITS);
        config.first_agent_id = ids.start;
        let orch = Orchestrator::with_config(config);
        Ok(Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared { orch, client, counters }),
                subjects,
                url: url.to_owned(),
                name: node_name.to_owned(),
                number,
                ids,
                kv,
                subs: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The node's orchestrator (local agents, stats, dead letters).
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.inner.shared.orch
    }

    /// The NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.shared.client
    }

    /// The lattice's subjects.
    pub fn subjects(&self) -> &Subjects {
        &self.inner.subjects
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The NATS URL the node joined through.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The node's number (its name claim's revision in the node bucket).
    pub fn number(&self) -> u64 {
        self.inner.number
    }

    /// The raw agent ids this node hands out.
    pub fn id_range(&self) -> Range<u64> {
        self.inner.ids.clone()
    }

    /// Whether `id` belongs to this node's range.
    pub fn owns(&self, id: AgentId) -> bool {
        self.inner.ids.contains(&id.get())
    }

    /// The traffic counters.
    pub fn counters(&self) -> NodeCounters {
        let c = &self.inner.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NodeCounters {
            local: get(&c.local),
            sent_remote: get(&c.sent_remote),
            received_remote: get(&c.received_remote),
            decode_failures: get(&c.decode_failures),
            reconnects: self
                .inner
                .shared
                .client
                .statistics()
                .connects
                .load(Ordering::Relaxed)
                .saturating_sub(1),
        }
    }

    /// Spawns an agent on this node and subscribes its id subject, its
    /// name subject and its capability subjects, so other nodes reach it.
    /// Ready for remote traffic when this returns.
    pub async fn spawn<A: Agent>(&self, spec: AgentSpec<A>) -> Result<AgentId, NodeError> {
        let s = &self.inner.subjects;
        let mut plan: Vec<(String, Option<String>)> = Vec::new();
        if let Some(name) = spec.declared_name() {
            // A queue group: were two nodes to register one name, one gets it.
            plan.push((s.name(name)?, Some(format!("name-{name}"))));
        }
        for cap in spec.declared_capabilities() {
            plan.push((s.capability(cap)?, Some(capability_queue(cap))));
            plan.push((s.broadcast(cap)?, None));
        }
        let id = self.inner.shared.orch.spawn(spec)?;
        plan.insert(0, (s.agent(id), None));
        let (stop, _) = watch::channel(false);
        let mut subs = AgentSubs {
            stop,
            tasks: Vec::new(),
        };
        let client = &self.inner.shared.client;
        for (subject, queue) in plan {
            let sub = match queue {
                Some(q) => client.queue_subscribe(subject.clone(), q).await,
                None => client.subscribe(subject.clone()).await,
            };
            let sub = match sub {
                Ok(sub) => sub,
                Err(e) => {
                    Self::end(subs).await;
                    let _ = self.inner.shared.orch.stop(id).await;
                    return Err(NodeError::Subscribe {
                        subject,
                        detail: e.to_string(),
                    });
                }
            };
            let shared = self.inner.shared.clone();
            subs.tasks
                .push(tokio::spawn(serve(shared, id, subject, sub, subs.stop.subscribe())));
        }
        // The server has processed every subscription once a round trip returns.
        self.barrier().await;
        self.inner
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, subs);
        Ok(id)
    }

    /// Unsubscribes the agent's subjects, then stops it.
    pub async fn stop(&self, id: AgentId) -> Result<(), NodeError> {
        let subs = self.inner.subs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        if let Some(subs) = subs {
            Self::end(subs).await;
            self.barrier().await;
        }
        self.inner.shared.orch.stop(id).await?;
        Ok(())
    }

    /// Waits until the server has processed everything this node sent
    /// before: a flush only empties the socket, so this makes a round trip
    /// (a JetStream account-info request, answered by the server itself).
    async fn barrier(&self) {
        let client = &self.inner.shared.client;
        if client.request("$JS.API.INFO", Bytes::new()).await.is_err() {
            let _ = client.flush().await;
        }
    }

    async fn end(subs: AgentSubs) {
        let _ = subs.stop.send(true);
        for t in subs.tasks {
            let _ = t.await;
        }
    }

    /// Whether `address` is served by this node: an id in its range, a
    /// name registered here, a capability some local agent has. The one
    /// rule for local first (the front door asks it too).
    pub fn is_local(&self, address: &Address) -> bool {
        let orch = &self.inner.shared.orch;
        match address {
            Address::Id(id) => self.owns(*id),
            Address::Name(n) => orch.lookup(n).is_some(),
            Address::Capability(c) => !orch.with_capability(c).is_empty(),
        }
    }

    /// Where `address` is served: `None` for this node, else the subject.
    fn route(&self, address: &Address) -> Result<Option<String>, SubjectError> {
        if self.is_local(address) {
            return Ok(None);
        }
        let s = &self.inner.subjects;
        Ok(Some(match address {
            Address::Id(id) => s.agent(*id),
            Address::Name(n) => s.name(n)?,
            Address::Capability(c) => s.capability(c)?,
        }))
    }

    /// Publishes `frame` to `subject` (at most once: refused while
    /// disconnected, else handed to NATS) and counts it as sent remote.
    async fn publish(&self, subject: String, frame: &Frame) -> Result<(), ClusterError> {
        self.connected(&subject)?;
        let shared = &self.inner.shared;
        let bytes = wire::encode(frame)?;
        shared
            .client
            .publish(subject.clone(), bytes)
            .await
            .map_err(|e| ClusterError::Transport {
                subject,
                detail: e.to_string(),
            })?;
        bump(&shared.counters.sent_remote);
        Ok(())
    }

    /// Refuses remote traffic while the connection is down, so a remote
    /// send is either refused or handed to a connected client.
    fn connected(&self, subject: &str) -> Result<(), ClusterError> {
        match self.inner.shared.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            _ => Err(ClusterError::Disconnected {
                url: self.inner.url.clone(),
                subject: subject.to_owned(),
            }),
        }
    }

    /// Sends `msg`: locally when its receiver lives here (waiting for
    /// mailbox space), else published to the receiver's subject (at most
    /// once: an error, or handed to NATS).
    pub async fn send(&self, msg: Message) -> Result<(), ClusterError> {
        let shared = &self.inner.shared;
        match self.route(&msg.receiver)? {
            None => {
                bump(&shared.counters.local);
                Ok(shared.orch.send(msg).await?)
            }
            Some(subject) => self.publish(subject, &Frame::Send(msg)).await,
        }
    }

    /// Sends a request and waits up to `timeout` for the reply: locally
    /// when the receiver lives here, else as a NATS request answered by
    /// the hosting node (the agent's reply or a typed error frame).
    pub async fn request(&self, msg: Message, timeout: Duration) -> Result<Message, ClusterError> {
        let shared = &self.inner.shared;
        let Some(subject) = self.route(&msg.receiver)? else {
            bump(&shared.counters.local);
            return Ok(shared.orch.request(msg, timeout).await?);
        };
        self.connected(&subject)?;
        let frame = Frame::Request {
            message: msg,
            timeout_ms: timeout.as_millis().try_into().unwrap_or(u64::MAX),
        };
        let request = async_nats::Request::new()
            .payload(wire::encode(&frame)?)
            .timeout(Some(timeout));
        bump(&shared.counters.sent_remote);
        let answer = shared
            .client
            .send_request(subject.clone(), request)
            .await
            .map_err(|e| {
                use async_nats::client::RequestErrorKind as K;
                match e.kind() {
                    K::TimedOut => ClusterError::Timeout {
                        subject: subject.clone(),
                        after: timeout,
                    },
                    K::NoResponders => ClusterError::NoResponders {
                        subject: subject.clone(),
                    },
                    _ => ClusterError::Transport {
                        subject: subject.clone(),
                        detail: e.to_string(),
                    },
                }
            })?;
        match wire::decode(&answer.payload) {
            Ok(Frame::Reply(reply)) => Ok(reply),
            Ok(Frame::Error(e)) => Err(ClusterError::Remote(e)),
            Ok(other) => {
                bump(&shared.counters.decode_failures);
                Err(ClusterError::Wire(WireError::Malformed {
                    detail: format!("expected a reply frame, got {}", frame_kind(&other)),
                }))
            }
            Err(e) => {
                bump(&shared.counters.decode_failures);
                Err(ClusterError::Wire(e))
            }
        }
    }

    /// Sends a copy of `msg` to every agent with `capability`: this node's
    /// through the orchestrator, the other nodes' through one publish
    /// (at most once per remote agent).
    pub async fn broadcast(&self, capability: &str, msg: Message) -> Result<BroadcastReport, ClusterError> {
        let shared = &self.inner.shared;
        let subject = self.inner.subjects.broadcast(capability)?;
        let mut report = BroadcastReport::default();
        if !shared.orch.with_capability(capability).is_empty() {
            bump(&shared.counters.local);
            report.local = shared.orch.broadcast(capability, msg.clone())?;
        }
        self.publish(subject, &Frame::Send(msg)).await?;
        report.published = true;
        Ok(report)
    }

    /// Unsubscribes every agent, shuts the orchestrator down within
    /// `deadline`, releases the node's name and drains the connection.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let all: Vec<AgentSubs> = self
            .inner
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        for subs in all {
            Self::end(subs).await;
        }
        let report = self.inner.shared.orch.shutdown(deadline).await;
        let _ = self.inner.kv.purge(&self.inner.name).await;
        let _ = self.inner.shared.client.flush().await;
        report
    }
}

enum PeerCheck {
    Version(String, u8),
    Js(String),
}

/// Refuses to join a lattice whose other nodes speak another wire version
/// (each node's record in the bucket is its version byte).
async fn check_peers(kv: &kv::Store, me: &str) -> Result<(), PeerCheck> {
    let mut keys = kv.keys().await.map_err(|e| PeerCheck::Js(e.to_string()))?;
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| PeerCheck::Js(e.to_string()))?;
        if key == me {
            continue;
        }
        if let Ok(Some(record)) = kv.get(&key).await {
            let theirs = record.first().copied().unwrap_or(0);
            if theirs != WIRE_VERSION {
                return Err(PeerCheck::Version(key, theirs));
            }
        }
    }
    Ok(())
}

fn frame_kind(f: &Frame) -> &'static str {
    match f {
        Frame::Send(_) => "a send frame",
        Frame::Request { .. } => "a request frame",
        Frame::Reply(_) => "a reply frame",
        Frame::Error(_) => "an error frame",
    }
}

/// Serves one subscription of agent `id` until told to stop.
async fn serve(
    shared: Arc<Shared>,
    id: AgentId,
    subject: String,
    mut sub: async_nats::Subscriber,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            m = sub.next() => match m {
                Some(m) => shared.incoming(id, &subject, m),
                None => break,
            },
            _ = stop.changed() => {
                let _ = sub.unsubscribe().await;
                break;
            }
        }
    }
}

impl Shared {
    /// One frame for agent `id` arrived on `subject`.
    fn incoming(self: &Arc<Self>, id: AgentId, subject: &str, m: async_nats::Message) {
        bump(&self.counters.received_remote);
        match wire::decode(&m.payload) {
            Ok(Frame::Send(msg)) => self.deliver(id, msg),
            Ok(Frame::Request { message, timeout_ms }) => match m.reply {
                Some(reply_to) => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        let timeout = Duration::from_millis(timeout_ms);
                        let frame = match me.orch.request(message, timeout).await {
                            Ok(reply) => Frame::Reply(reply),
                            Err(e) => Frame::Error(RemoteError::from(&e)),
                        };
                        me.answer(reply_to, &frame).await;
                    });
                }
                // Nobody waits for an answer: handle it as a send.
                None => self.deliver(id, message),
            },
            Ok(other) => self.malformed(
                id,
                subject,
                m.payload,
                format!("unexpected {}", frame_kind(&other)),
                None,
            ),
            Err(e) => self.malformed(id, subject, m.payload, e.to_string(), m.reply),
        }
    }

    /// Hands a one-way message to agent `id` (refusals are the
    /// orchestrator's dead letters).
    fn deliver(&self, id: AgentId, msg: Message) {
        match self.orch.agent_ref(id) {
            Ok(agent) => {
                let _ = agent.try_send(msg);
            }
            Err(kind) => self
                .orch
                .record_dead_letter(msg, Some(id), DeadLetterReason::from(&kind)),
        }
    }

    /// Counts and dead-letters an undecodable frame (its raw bytes as the
    /// payload); a waiting requester gets an error frame.
    fn malformed(
        self: &Arc<Self>,
        id: AgentId,
        subject: &str,
        raw: Bytes,
        detail: String,
        reply_to: Option<async_nats::Subject>,
    ) {
        bump(&self.counters.decode_failures);
        let reason = format!("{detail} (on {subject})");
        let msg = Message::new(Address::Id(id), Performative::NotUnderstood, raw);
        self.orch
            .record_dead_letter(msg, Some(id), DeadLetterReason::Malformed(reason.clone()));
        if let Some(reply_to) = reply_to {
            let me = self.clone();
            tokio::spawn(async move {
                me.answer(reply_to, &Frame::Error(RemoteError::Malformed { detail: reason }))
                    .await;
            });
        }
    }

    async fn answer(&self, reply_to: async_nats::Subject, frame: &Frame) {
        if let Ok(bytes) = wire::encode(frame)
            && self.client.publish(reply_to, bytes).await.is_ok()
        {
            bump(&self.counters.sent_remote);
        }
    }
}
