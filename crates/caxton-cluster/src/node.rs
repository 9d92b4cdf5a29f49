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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use caxton_core::{Address, AgentId, Message, Performative};
use caxton_runtime::{
    Agent, AgentSpec, Broadcast, Checkpoint, DeadLetterReason, Orchestrator, OrchestratorConfig, ShutdownReport,
};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::directory::Directory;
use crate::durable::{self, Pump};
use crate::error::{ClusterError, NodeError};
use crate::failover::{self, FailoverCounters, Survivor};
use crate::recipe::{Adoption, Recipe, Respawner};
use crate::store::{self, AgentRecord, NodeRecord, Store, StoredCheckpoint, id_key, name_key};
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
    /// The node's lease: how long after its last renewal (every quarter
    /// lease) a silent node counts as dead and its agents move. The first
    /// node of a lattice sets it for all (the node bucket's TTL).
    pub lease: Duration,
    /// The bound of the lattice's durable stream in bytes (set by the
    /// first node); a full stream refuses new durable messages.
    pub durable_bytes: i64,
}

impl Default for NodeOptions {
    /// One attempt of at most 5 s (no retry); backoff 100 ms doubling to
    /// 5 s when retrying; a 1 s lease; a 256 MiB durable stream.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 1,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            lease: Duration::from_secs(1),
            durable_bytes: 256 << 20,
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

/// Empties a map behind a mutex (a poisoned one too) and hands back its entries.
fn take_all<K, V>(map: &Mutex<HashMap<K, V>>) -> Vec<(K, V)> {
    map.lock().unwrap_or_else(|p| p.into_inner()).drain().collect()
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

/// Checkpoints on their way to the checkpoint bucket: the newest per
/// agent (so as many entries as agents at most), written by one task.
#[derive(Default)]
struct CheckpointQueue {
    latest: Mutex<HashMap<AgentId, Checkpoint>>,
    wake: Notify,
}

impl CheckpointQueue {
    fn push(&self, id: AgentId, cp: &Checkpoint) {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, cp.clone());
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<(AgentId, Checkpoint)> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).drain().collect()
    }

    async fn write(&self, bucket: &kv::Store, writer: u64) {
        for (id, checkpoint) in self.take() {
            let record = StoredCheckpoint {
                checkpoint: Some(checkpoint),
                applied: 0,
                writer,
            };
            let _ = bucket.put(id_key(id), store::encode(&record)).await;
        }
    }
}

/// A durable agent's pump: closing `stop` makes it commit and end.
struct PumpHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Inner {
    shared: Arc<Shared>,
    subjects: Subjects,
    url: String,
    name: String,
    number: u64,
    ids: Range<u64>,
    store: Store,
    directory: Directory,
    respawner: Arc<OnceLock<Arc<dyn Respawner>>>,
    failover: Arc<failover::Counters>,
    checkpoints: Arc<CheckpointQueue>,
    subs: Mutex<HashMap<AgentId, AgentSubs>>,
    pumps: Mutex<HashMap<AgentId, PumpHandle>>,
    /// Lease renewal, registry watch, failover sweeps, checkpoint writes.
    background: Mutex<Vec<JoinHandle<()>>>,
    /// Lease renewals that found the lease gone (the node re-claimed it).
    lease_losses: AtomicU64,
    /// Set by [`Node::pause_lease`]: renewals skipped (a stall, drilled).
    lease_paused: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self.background.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
    }
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
        let store = Store::open(client.clone(), &subjects, options.lease, options.durable_bytes)
            .await
            .map_err(js_err)?;
        // One put per join: its revision is this node's number.
        let number = store
            .joins
            .put("join", Bytes::new())
            .await
            .map_err(|e| js_err(e.to_string()))?;
        if number >= 1 << (64 - ID_RANGE_BITS) {
            return Err(NodeError::IdSpaceExhausted(number));
        }
        let record = store::encode(&NodeRecord { number });
        let lease_revision = match store.nodes.create(node_name, record.clone()).await {
            Ok(revision) => revision,
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                return Err(NodeError::DuplicateNodeName {
                    lattice: lattice.to_owned(),
                    node: node_name.to_owned(),
                });
            }
            Err(e) => return Err(js_err(e.to_string())),
        };
        if let Err(e) = check_peers(&store.nodes, node_name).await {
            let _ = store.nodes.purge(node_name).await;
            return Err(match e {
                PeerCheck::Version(peer, theirs) => NodeError::PeerWireVersion {
                    peer,
                    ours: WIRE_VERSION,
                    theirs,
                },
                PeerCheck::Js(detail) => js_err(detail),
            });
        }
        let ids = (number << ID_RANGE_BITS)..((number + 1) << ID_RANGE_BITS);
        config.first_agent_id = ids.start;
        let orch = Orchestrator::with_config(config);
        let node = Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared { orch, client, counters }),
                subjects,
                url: url.to_owned(),
                name: node_name.to_owned(),
                number,
                ids,
                store,
                directory: Directory::default(),
                respawner: Arc::new(OnceLock::new()),
                failover: Arc::new(failover::Counters::default()),
                checkpoints: Arc::new(CheckpointQueue::default()),
                subs: Mutex::new(HashMap::new()),
                pumps: Mutex::new(HashMap::new()),
                background: Mutex::new(Vec::new()),
                lease_losses: AtomicU64::new(0),
                lease_paused: AtomicBool::new(false),
            }),
        };
        node.start_background(record, lease_revision, options.lease);
        Ok(node)
    }

    /// Starts the node's own tasks: lease renewal, the registry watch,
    /// failover sweeps and the checkpoint writer. They hold no strong
    /// handle on the node; they end when it is dropped.
    fn start_background(&self, record: Bytes, mut revision: u64, lease: Duration) {
        let inner = &self.inner;
        let tick = (lease / 4).max(Duration::from_millis(10));
        let mut tasks = Vec::new();
        // The lease.
        let weak = Arc::downgrade(inner);
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.lease_paused.load(Ordering::Relaxed) {
                    continue;
                }
                let nodes = &inner.store.nodes;
                match nodes.update(&inner.name, record.clone(), revision).await {
                    Ok(r) => revision = r,
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        // The lease expired (this node stalled past it):
                        // claim it again, and stop any agent the survivors
                        // took over meanwhile.
                        if let Ok(r) = nodes.create(&inner.name, record.clone()).await {
                            revision = r;
                            inner.lease_losses.fetch_add(1, Ordering::Relaxed);
                            Node { inner: inner.clone() }.fence().await;
                        }
                    }
                    Err(_) => {}
                }
            }
        }));
        // The registry mirror.
        tasks.push(tokio::spawn(inner.directory.clone().follow(inner.store.agents.clone())));
        // Failover sweeps.
        let survivor = Survivor {
            store: inner.store.clone(),
            directory: inner.directory.clone(),
            me: inner.name.clone(),
            number: inner.number,
            respawner: inner.respawner.clone(),
            counters: inner.failover.clone(),
        };
        let (directory, agents) = (inner.directory.clone(), inner.store.agents.clone());
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut round = 0u64;
            loop {
                every.tick().await;
                round = round.wrapping_add(1);
                // The mirror's backstop, every ~5 s (20 leases' quarters at 1 s).
                if round.is_multiple_of(20) {
                    directory.reconcile(&agents).await;
                }
                survivor.sweep().await;
            }
        }));
        // The checkpoint writer.
        let (queue, bucket, number) = (inner.checkpoints.clone(), inner.store.checkpoints.clone(), inner.number);
        tasks.push(tokio::spawn(async move {
            loop {
                queue.wake.notified().await;
                queue.write(&bucket, number).await;
            }
        }));
        inner.background.lock().unwrap_or_else(|p| p.into_inner()).extend(tasks);
    }

    /// After a lost lease: stops local agents whose registry entry now
    /// names another owner (a survivor restarted them), so no agent runs twice.
    async fn fence(&self) {
        let ids: Vec<AgentId> = self
            .inner
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        for id in ids {
            if let Ok(Some(bytes)) = self.inner.store.agents.get(id_key(id)).await
                && let Ok(r) = store::decode::<AgentRecord>(&bytes)
                && !(r.owner == self.inner.name && r.owner_number == self.inner.number)
            {
                let _ = self.stop_local(id).await;
            }
        }
    }

    /// Sets what restarts the agents this node adopts from dead nodes
    /// (once; later calls are ignored). Without one the node adopts nothing.
    pub fn set_respawner(&self, respawner: Arc<dyn Respawner>) {
        let _ = self.inner.respawner.set(respawner);
    }

    /// What failover did on this node.
    pub fn failover_counters(&self) -> FailoverCounters {
        self.inner.failover.get()
    }

    /// Lease renewals that found the lease expired.
    pub fn lease_losses(&self) -> u64 {
        self.inner.lease_losses.load(Ordering::Relaxed)
    }

    /// The lattice's registry as this node last saw it.
    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    /// Stores a WASM module in the lattice's object store under `id`, so
    /// a survivor can restart agents that run it.
    pub async fn put_module(&self, id: &str, bytes: &[u8]) -> Result<(), NodeError> {
        let mut reader = bytes;
        self.inner
            .store
            .modules
            .put(id, &mut reader)
            .await
            .map(|_| ())
            .map_err(|e| self.registry_error(format!("storing module {id}: {e}")))
    }

    /// A module stored with [`Self::put_module`] (by any node).
    pub async fn module(&self, id: &str) -> Result<Vec<u8>, NodeError> {
        let mut object = self
            .inner
            .store
            .modules
            .get(id)
            .await
            .map_err(|e| self.registry_error(format!("module {id}: {e}")))?;
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| self.registry_error(format!("reading module {id}: {e}")))?;
        Ok(bytes)
    }

    fn registry_error(&self, detail: String) -> NodeError {
        NodeError::Registry {
            lattice: self.inner.subjects.lattice().to_owned(),
            detail,
        }
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

    /// Spawns an agent on this node: registers it in the lattice (id ->
    /// node, its name, unique across the lattice, and capabilities) and
    /// subscribes its id, name and capability subjects, so other nodes
    /// reach it. Ready for remote traffic when this returns. It dies with
    /// its node; [`Self::spawn_recoverable`] makes one that moves.
    pub async fn spawn<A: Agent>(&self, spec: AgentSpec<A>) -> Result<AgentId, NodeError> {
        self.place(spec, None, None).await
    }

    /// [`Self::spawn`] an agent that survives its node: `recipe` goes to
    /// the registry and its checkpoints to the checkpoint bucket, and when
    /// this node dies a survivor rebuilds it with its [`Respawner`] and
    /// starts it from the last checkpoint, under the same id and name.
    /// With [`Recipe::durable`], messages sent to it go through JetStream
    /// and survive too (see [`crate::durable`]).
    pub async fn spawn_recoverable<A: Agent>(&self, spec: AgentSpec<A>, recipe: Recipe) -> Result<AgentId, NodeError> {
        self.place(spec, Some(recipe), None).await
    }

    /// Starts an agent this node adopted from a dead node (called by the
    /// node's [`Respawner`] with the spec it built from the recipe): same
    /// id, started from the checkpoint, subjects subscribed, durable
    /// delivery resumed after the checkpoint's sequence.
    pub async fn respawn<A: Agent>(&self, spec: AgentSpec<A>, adoption: &Adoption) -> Result<AgentId, NodeError> {
        let mut spec = spec.with_id(adoption.id);
        if let Some(cp) = &adoption.checkpoint {
            spec = spec.restore_from(cp.clone());
        }
        self.place(spec, Some(adoption.recipe.clone()), Some(adoption)).await
    }

    async fn place<A: Agent>(
        &self,
        mut spec: AgentSpec<A>,
        recipe: Option<Recipe>,
        adoption: Option<&Adoption>,
    ) -> Result<AgentId, NodeError> {
        let inner = &self.inner;
        let s = &inner.subjects;
        let mut plan: Vec<(String, Option<String>)> = Vec::new();
        let name = spec.declared_name().map(str::to_owned);
        if let Some(name) = &name {
            plan.push((s.name(name)?, Some(format!("name-{name}"))));
        }
        let capabilities: Vec<String> = spec.declared_capabilities().iter().map(|c| c.to_string()).collect();
        for cap in &capabilities {
            plan.push((s.capability(cap)?, Some(capability_queue(cap))));
            plan.push((s.broadcast(cap)?, None));
        }
        let durable = recipe.as_ref().is_some_and(|r| r.durable);
        if recipe.is_some() && !durable {
            // Non-durable recoverable agents: every checkpoint goes to the
            // bucket (durable ones store theirs with the stream sequence).
            let queue = inner.checkpoints.clone();
            spec = spec.on_checkpoint(move |cp| queue.push(cp.agent, cp));
        }
        let id = inner.shared.orch.spawn(spec)?;
        self.register(id, name, capabilities, recipe, adoption, plan).await
    }

    /// Registers a freshly spawned local agent in the lattice and
    /// subscribes its subjects; on a failure stops it and undoes the rest.
    async fn register(
        &self,
        id: AgentId,
        name: Option<String>,
        capabilities: Vec<String>,
        recipe: Option<Recipe>,
        adoption: Option<&Adoption>,
        mut plan: Vec<(String, Option<String>)>,
    ) -> Result<AgentId, NodeError> {
        let inner = &self.inner;
        let store = &inner.store;
        let durable = recipe.as_ref().is_some_and(|r| r.durable);
        if adoption.is_none() {
            if let Some(name) = &name {
                match store.names.create(name_key(name), Bytes::from(id_key(id))).await {
                    Ok(_) => {}
                    Err(e) => {
                        let _ = inner.shared.orch.stop(id).await;
                        return Err(if e.kind() == kv::CreateErrorKind::AlreadyExists {
                            NodeError::DuplicateAgentName {
                                lattice: inner.subjects.lattice().to_owned(),
                                name: name.clone(),
                            }
                        } else {
                            self.registry_error(format!("claiming name {name:?}: {e}"))
                        });
                    }
                }
            }
            let record = AgentRecord {
                owner: inner.name.clone(),
                owner_number: inner.number,
                name: name.clone(),
                capabilities,
                recipe,
            };
            if let Err(e) = store.agents.put(id_key(id), store::encode(&record)).await {
                self.undo(id, name.as_deref(), false).await;
                return Err(self.registry_error(format!("registering agent {id}: {e}")));
            }
            inner.directory.apply(id, Some(record));
        }
        plan.insert(0, (inner.subjects.agent(id), None));
        let (stop, _) = watch::channel(false);
        let mut subs = AgentSubs {
            stop,
            tasks: Vec::new(),
        };
        let client = &inner.shared.client;
        for (subject, queue) in plan {
            let sub = match queue {
                Some(q) => client.queue_subscribe(subject.clone(), q).await,
                None => client.subscribe(subject.clone()).await,
            };
            let sub = match sub {
                Ok(sub) => sub,
                Err(e) => {
                    Self::end(subs).await;
                    self.undo(id, name.as_deref(), true).await;
                    return Err(NodeError::Subscribe {
                        subject,
                        detail: e.to_string(),
                    });
                }
            };
            let shared = inner.shared.clone();
            subs.tasks
                .push(tokio::spawn(serve(shared, id, subject, sub, subs.stop.subscribe())));
        }
        if durable {
            let applied = adoption.map_or(0, |a| a.applied);
            let previous = adoption.map(|a| a.from_number);
            // The pump commits with a compare-and-set on this revision.
            let owned = durable::own_checkpoint(&store.checkpoints, id, inner.number).await;
            let opened = match owned {
                Ok((_, revision)) => {
                    durable::open_consumer(&store.durable, &inner.subjects, id, inner.number, applied, previous)
                        .await
                        .map(|c| (c, revision))
                }
                Err(detail) => Err(detail),
            };
            let (consumer, revision) = match opened {
                Ok(opened) => opened,
                Err(detail) => {
                    Self::end(subs).await;
                    self.undo(id, name.as_deref(), true).await;
                    return Err(self.registry_error(detail));
                }
            };
            let pump = Pump::new(
                inner.shared.orch.clone(),
                id,
                consumer,
                store,
                &inner.subjects,
                applied,
                inner.number,
                revision,
            );
            let (stop, rx) = watch::channel(false);
            let task = tokio::spawn(pump.run(rx));
            inner
                .pumps
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, PumpHandle { stop, task });
        }
        // The server has processed every subscription once a round trip returns.
        self.barrier().await;
        inner.subs.lock().unwrap_or_else(|p| p.into_inner()).insert(id, subs);
        Ok(id)
    }

    /// Undoes a half-made spawn: stops the agent, forgets its name and,
    /// with `registered`, its registry entry.
    async fn undo(&self, id: AgentId, name: Option<&str>, registered: bool) {
        let store = &self.inner.store;
        let _ = self.inner.shared.orch.stop(id).await;
        if let Some(name) = name {
            let _ = store.names.delete(name_key(name)).await;
        }
        if registered {
            let _ = store.agents.delete(id_key(id)).await;
            self.inner.directory.apply(id, None);
        }
    }

    /// Unsubscribes the agent's subjects, stops it and removes it from the
    /// lattice (registry, name, checkpoint, durable consumer).
    pub async fn stop(&self, id: AgentId) -> Result<(), NodeError> {
        let result = self.stop_local(id).await;
        if result.is_ok() {
            let store = &self.inner.store;
            if let Some(name) = self.inner.directory.get(id).and_then(|r| r.name) {
                let _ = store.names.delete(name_key(&name)).await;
            }
            let _ = store.agents.delete(id_key(id)).await;
            let _ = store.checkpoints.delete(id_key(id)).await;
            if self.inner.directory.is_durable(id) {
                let orch = &self.inner.shared.orch;
                durable::forget(&store.durable, &self.inner.subjects, id, self.inner.number, orch).await;
            }
            self.inner.directory.apply(id, None);
        }
        result?;
        Ok(())
    }

    /// Ends the agent's subscriptions and pump and stops it here, leaving
    /// the lattice's records alone.
    async fn stop_local(&self, id: AgentId) -> Result<(), caxton_runtime::SendErrorKind> {
        let subs = self.inner.subs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        let pump = self.inner.pumps.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        if let Some(pump) = pump {
            let _ = pump.stop.send(true);
            let _ = pump.task.await;
        }
        if let Some(subs) = subs {
            Self::end(subs).await;
            self.barrier().await;
        }
        self.inner.shared.orch.stop(id).await
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
            // Its own range, or an agent adopted from a dead node.
            Address::Id(id) => self.owns(*id) || orch.agent_ref(*id).is_ok(),
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
    /// An agent that asked for durable delivery gets it through
    /// [`Self::send_durable`] (once this node's registry mirror has seen it).
    pub async fn send(&self, msg: Message) -> Result<(), ClusterError> {
        let shared = &self.inner.shared;
        if let Some(id) = self.durable_receiver(&msg.receiver) {
            return self.publish_durable(id, msg).await.map(|_| ());
        }
        match self.route(&msg.receiver)? {
            None => {
                bump(&shared.counters.local);
                Ok(shared.orch.send(msg).await?)
            }
            Some(subject) => self.publish(subject, &Frame::Send(msg)).await,
        }
    }

    /// Whether `address` names an agent that asked for durable delivery
    /// (as far as this node's registry mirror knows).
    pub fn is_durable(&self, address: &Address) -> bool {
        self.durable_receiver(address).is_some()
    }

    /// The durable agent `address` names, as far as the mirror knows.
    fn durable_receiver(&self, address: &Address) -> Option<AgentId> {
        let dir = &self.inner.directory;
        if dir.is_empty() {
            return None;
        }
        let id = match address {
            Address::Id(id) => *id,
            Address::Name(n) => dir.lookup(n)?,
            Address::Capability(_) => return None,
        };
        dir.is_durable(id).then_some(id)
    }

    /// Sends `msg` to a durable agent through the lattice's stream, local
    /// or not; `Ok` with its stream sequence once JetStream has stored it.
    /// From then on it is handled once, also if the agent's node dies.
    /// Refused ([`ClusterError::NotDurable`]) for a capability, or an
    /// address no durable agent is registered under (asked of the
    /// registry itself when the mirror has not seen it yet).
    pub async fn send_durable(&self, msg: Message) -> Result<u64, ClusterError> {
        let not_durable = || ClusterError::NotDurable {
            address: msg.receiver.to_string(),
        };
        let id = match self.durable_receiver(&msg.receiver) {
            Some(id) => id,
            None => {
                let store = &self.inner.store;
                let id = match &msg.receiver {
                    Address::Id(id) => *id,
                    Address::Name(n) => store
                        .names
                        .get(name_key(n))
                        .await
                        .ok()
                        .flatten()
                        .and_then(|b| std::str::from_utf8(&b).ok()?.parse::<u64>().ok())
                        .and_then(AgentId::new)
                        .ok_or_else(not_durable)?,
                    Address::Capability(_) => return Err(not_durable()),
                };
                let durable = match store.agents.get(id_key(id)).await {
                    Ok(Some(bytes)) => store::decode::<AgentRecord>(&bytes)
                        .ok()
                        .and_then(|r| r.recipe)
                        .is_some_and(|r| r.durable),
                    _ => false,
                };
                if !durable {
                    return Err(not_durable());
                }
                id
            }
        };
        self.publish_durable(id, msg).await
    }

    async fn publish_durable(&self, id: AgentId, msg: Message) -> Result<u64, ClusterError> {
        let subject = self.inner.subjects.durable(id);
        self.connected(&subject)?;
        let inner = &self.inner;
        // Unique across the lattice (message ids are unique per process):
        // a resend of the same message is dropped by JetStream.
        let msg_id = format!("{}.{}.{}", inner.name, inner.number, msg.id.get());
        let publish = async_nats::jetstream::message::PublishMessage::build()
            .payload(wire::encode(&Frame::Send(msg))?)
            .message_id(msg_id);
        let refused = |e: String| ClusterError::NotAcknowledged {
            subject: subject.clone(),
            detail: e,
        };
        let ack = inner
            .store
            .js
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| refused(e.to_string()))?
            .await
            .map_err(|e| refused(e.to_string()))?;
        bump(&inner.shared.counters.sent_remote);
        Ok(ack.sequence)
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

    /// Leaves the lattice: unsubscribes every agent; stores a last
    /// checkpoint of each recoverable agent (durable ones commit); shuts
    /// the orchestrator down within `deadline`; removes the agents that
    /// die with the node from the registry; releases the lease, so the
    /// survivors restart the recoverable agents at once; drains the
    /// connection.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let inner = &self.inner;
        let all = take_all(&inner.subs);
        let pumps = take_all(&inner.pumps);
        for (_, subs) in &all {
            let _ = subs.stop.send(true);
        }
        for (_, pump) in pumps {
            let _ = pump.stop.send(true);
            let _ = pump.task.await;
        }
        let orch = &inner.shared.orch;
        let store = &inner.store;
        for (id, subs) in all {
            Self::end(subs).await;
            match inner.directory.get(id) {
                Some(r) if r.recipe.as_ref().is_some_and(|r| !r.durable) => {
                    // Its hook queues the checkpoint.
                    let _ = orch.checkpoint(id).await;
                }
                Some(r) if r.recipe.is_none() => {
                    if let Some(name) = &r.name {
                        let _ = store.names.delete(name_key(name)).await;
                    }
                    let _ = store.agents.delete(id_key(id)).await;
                }
                _ => {}
            }
        }
        inner.checkpoints.write(&store.checkpoints, inner.number).await;
        let report = orch.shutdown(deadline).await;
        for task in inner.background.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
        let _ = store.nodes.purge(&inner.name).await;
        let _ = inner.shared.client.flush().await;
        report
    }
}

impl Node {
    /// Stops (`true`) or resumes (`false`) renewing the lease while the
    /// node goes on working, as a node that stalls past its lease would (a
    /// long pause, a stopped VM), for fault drills and tests: survivors
    /// adopt its agents; on resuming it finds its lease lost and stops its
    /// copies of the agents that moved.
    pub fn pause_lease(&self, paused: bool) {
        self.inner.lease_paused.store(paused, Ordering::Relaxed);
    }

    /// Leaves the lattice as a killed process would, for fault drills and
    /// tests in one process: stops renewing the lease (it expires),
    /// unsubscribes, drops the durable pumps without a commit and stops
    /// the orchestrator at once, writing nothing and removing no record.
    /// The survivors then do what they do when a node dies.
    pub async fn vanish(&self) {
        let inner = &self.inner;
        for task in inner.background.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
        let pumps = take_all(&inner.pumps);
        for (_, pump) in pumps {
            pump.task.abort();
            let _ = pump.task.await;
        }
        for (_, subs) in take_all(&inner.subs) {
            Self::end(subs).await;
        }
        inner.shared.orch.shutdown(Duration::ZERO).await;
        let _ = inner.shared.client.flush().await;
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
