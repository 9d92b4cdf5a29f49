//! What every handler shares: the orchestrator, the WASM host and its
//! modules, the metrics, the settings and the drain flag.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use caxton_cluster::Node;
use caxton_runtime::{Address, Orchestrator};
use caxton_wasm::{HostConfig, WasmHost, WasmModule};
use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::kinds::AgentKinds;
use crate::live::Live;
use crate::metrics::Metrics;

/// The state shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The inside of [`AppState`].
pub struct Shared {
    /// The orchestrator the front door serves (the node's, with a node).
    pub orch: Orchestrator,
    /// The node of a lattice this server is, if any: messages to agents
    /// that do not live here then go over NATS.
    pub node: Option<Node>,
    /// The kinds of the agents the front door spawned.
    pub kinds: Arc<AgentKinds>,
    /// The metrics and their registry.
    pub metrics: Metrics,
    /// The settings in force.
    pub config: ServerConfig,
    /// The bearer token of the mutating routes, if any.
    pub token: Option<String>,
    /// Uploaded modules by id (their SHA-256).
    pub modules: RwLock<HashMap<String, WasmModule>>,
    /// Open HTTP connections (a drain waits for them).
    pub connections: Arc<Live>,
    /// Open WebSocket sessions, against `max_sessions` (a drain waits for
    /// them).
    pub sessions: Arc<Live>,
    /// Agents being spawned right now, so that concurrent spawns cannot
    /// pass `max_agents` together.
    spawning: AtomicUsize,
    host: OnceLock<Result<WasmHost, String>>,
    draining: watch::Sender<bool>,
    /// Mirror of `draining` for the per-request check (no lock).
    draining_now: AtomicBool,
    session_numbers: AtomicU64,
}

/// An [`AppState`] that does not keep the server alive: for the node's
/// respawner, which the state itself owns through the node.
#[derive(Clone)]
pub struct WeakState(std::sync::Weak<Shared>);

impl WeakState {
    /// The state, while the server is alive.
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// A handle that does not keep the state alive.
    pub fn downgrade(&self) -> WeakState {
        WeakState(Arc::downgrade(&self.0))
    }

    /// State for a server in front of `orch`.
    pub fn new(orch: Orchestrator, config: ServerConfig, token: Option<String>) -> Self {
        Self::build(orch, None, config, token)
    }

    /// State for a server that is `node` of a lattice: in front of the
    /// node's orchestrator, answering for the lattice's other agents too.
    pub fn with_node(node: Node, config: ServerConfig, token: Option<String>) -> Self {
        Self::build(node.orchestrator().clone(), Some(node), config, token)
    }

    fn build(orch: Orchestrator, node: Option<Node>, config: ServerConfig, token: Option<String>) -> Self {
        let kinds = Arc::new(AgentKinds::default());
        let mut metrics = Metrics::new(orch.clone(), kinds.clone());
        if let Some(node) = &node {
            metrics.register_node(node.clone());
        }
        Self(Arc::new(Shared {
            orch,
            node,
            kinds,
            metrics,
            config,
            token,
            modules: RwLock::new(HashMap::new()),
            host: OnceLock::new(),
            draining: watch::Sender::new(false),
            draining_now: AtomicBool::new(false),
            connections: Arc::new(Live::default()),
            sessions: Arc::new(Live::default()),
            spawning: AtomicUsize::new(0),
            session_numbers: AtomicU64::new(0),
        }))
    }
}

impl Shared {
    /// The WASM host, created on first use (its pool reserves address
    /// space, which a server that never hosts WASM should not pay for).
    pub fn host(&self) -> Result<&WasmHost, ApiError> {
        self.host
            .get_or_init(|| WasmHost::new(HostConfig::default()).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "wasm_unavailable",
                    format!("the WASM host could not start: {e}"),
                )
            })
    }

    /// The node, when `to` does not live on this server and must go over
    /// NATS; `None` for the local path (always, without a node). Local
    /// means what it means to the node: an id in its range, a name or a
    /// capability registered here. Durable agents always go through the
    /// node (their messages go through JetStream, local or not).
    pub fn remote_node(&self, to: &Address) -> Option<&Node> {
        self.node
            .as_ref()
            .filter(|node| !node.is_local(to) || node.is_durable(to))
    }

    /// Whether a drain began.
    pub fn is_draining(&self) -> bool {
        self.draining_now.load(Ordering::Acquire)
    }

    /// A receiver that sees the drain begin.
    pub fn drain_signal(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Starts the drain: readiness fails and new work gets 503.
    pub fn start_draining(&self) {
        self.draining_now.store(true, Ordering::Release);
        self.draining.send_replace(true);
    }

    /// A fresh session number.
    pub fn next_session(&self) -> u64 {
        self.session_numbers.fetch_add(1, Ordering::Relaxed)
    }

    /// Reserves room for `n` more agents under `max_agents`; the room is
    /// given back when the reservation drops (by then the agents are live
    /// and counted by the orchestrator).
    pub fn reserve_agents(&self, n: usize) -> Result<AgentReservation<'_>, ApiError> {
        let pending = self.spawning.fetch_add(n, Ordering::AcqRel) + n;
        let reservation = AgentReservation { shared: self, n };
        let live = self.orch.agent_count();
        if live + pending > self.config.max_agents {
            return Err(ApiError::new(
                axum::http::StatusCode::INSUFFICIENT_STORAGE,
                "agent_limit",
                format!(
                    "spawning {n} would pass the limit of {} live agents ({live} live, {} being spawned)",
                    self.config.max_agents,
                    pending - n
                ),
            ));
        }
        Ok(reservation)
    }
}

/// Room for agents being spawned (see [`Shared::reserve_agents`]).
pub struct AgentReservation<'a> {
    shared: &'a Shared,
    n: usize,
}

impl Drop for AgentReservation<'_> {
    fn drop(&mut self) {
        self.shared.spawning.fetch_sub(self.n, Ordering::AcqRel);
    }
}
