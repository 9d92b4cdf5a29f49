//! Spawn, list, inspect and stop agents.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use caxton_cluster::recipe::BoxFuture;
use caxton_cluster::{Adoption, Node, NodeError, Recipe, Respawner};
use caxton_runtime::agents::Echo;
use caxton_runtime::{
    Agent, AgentError, AgentId, AgentSpec, AgentStats, CheckpointPolicy, Context, Message, Orchestrator, RestartPolicy,
    SpawnError,
};
use caxton_wasm::AgentLimits;
use caxton_workloads::counter::CounterAgent;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::kinds::Kind;
use crate::state::{AppState, WeakState};

/// Accepts every message and drops it: the cheapest receiver, for send
/// throughput.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sink;

impl Agent for Sink {
    fn handle(&mut self, _ctx: &mut Context<'_>, _msg: &Message) -> Result<(), AgentError> {
        Ok(())
    }
}

/// `POST /v1/agents`. On a cluster node it is also each agent's recipe
/// (one agent, its own name), so a survivor rebuilds it the same way.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnBody {
    kind: String,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    restart: Option<Restart>,
    #[serde(default)]
    checkpoint_every: Option<u64>,
    /// Durable delivery (cluster nodes only): messages go through
    /// JetStream and survive the node.
    #[serde(default)]
    durable: bool,
}

/// The supervisor's restart policy of a spawn: at most `max_restarts`
/// within `window_ms` (0: over the agent's life); one more fault stops it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    max_restarts: u32,
    window_ms: u64,
}

/// Per-agent limits of a spawn.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    mailbox_capacity: Option<usize>,
    max_message_bytes: Option<usize>,
    max_memory_bytes: Option<usize>,
    fuel: Option<u64>,
    cpu_time_ms: Option<u64>,
}

/// What every spec gets, whatever the agent type.
struct Common {
    restart: Option<RestartPolicy>,
    checkpoints: Option<CheckpointPolicy>,
    name: Option<String>,
    capabilities: Vec<String>,
    mailbox_capacity: usize,
    max_message_bytes: Option<usize>,
    count: Option<usize>,
}

impl Common {
    fn apply<A>(&self, mut spec: AgentSpec<A>) -> AgentSpec<A> {
        spec = spec.mailbox_capacity(self.mailbox_capacity);
        if let Some(r) = self.restart {
            spec = spec.restart_policy(r);
        }
        if let Some(c) = self.checkpoints {
            spec = spec.checkpoint_policy(c);
        }
        if let Some(b) = self.max_message_bytes {
            spec = spec.max_message_bytes(b);
        }
        for c in &self.capabilities {
            spec = spec.capability(c.as_str());
        }
        spec
    }

    /// The name of agent `i` of the spawn: `<name>-<i>` with a count,
    /// `<name>` without.
    fn name_of(&self, i: usize) -> Option<String> {
        match (&self.name, self.count) {
            (Some(name), Some(_)) => Some(format!("{name}-{i}")),
            (Some(name), None) => Some(name.clone()),
            (None, _) => None,
        }
    }

    /// The spec of each agent of the spawn: `count` of them (or one),
    /// named by [`Self::name_of`].
    fn specs<'a, A: 'a>(&'a self, spec: AgentSpec<A>) -> impl Iterator<Item = AgentSpec<A>> + 'a {
        let spec = self.apply(spec);
        (0..self.count.unwrap_or(1)).map(move |i| match self.name_of(i) {
            Some(name) => spec.clone().name(name),
            None => spec.clone(),
        })
    }
}

/// Spawns `common.count` agents (or one); on a failure stops those already
/// spawned and returns them with the error.
fn spawn_all<A: Agent>(
    orch: &Orchestrator,
    spec: AgentSpec<A>,
    common: &Common,
) -> Result<Vec<AgentId>, (Vec<AgentId>, SpawnError)> {
    let mut ids = Vec::with_capacity(common.count.unwrap_or(1));
    for spec_i in common.specs(spec) {
        match orch.spawn(spec_i) {
            Ok(id) => ids.push(id),
            Err(e) => return Err((ids, e)),
        }
    }
    Ok(ids)
}

/// How the agents of a spawn come to life.
#[derive(Clone, Copy)]
pub enum Start<'a> {
    /// A new spawn (`POST /v1/agents`).
    Fresh,
    /// An agent of a dead node, restarted here from its recipe.
    Adopted(&'a Adoption),
}

/// [`spawn_all`] through the node, so other nodes reach the agents
/// (their subjects are subscribed when this returns). Each is
/// recoverable: its recipe is the spawn body for it alone.
async fn spawn_all_node<A: Agent>(
    node: &Node,
    spec: AgentSpec<A>,
    common: &Common,
    body: &SpawnBody,
    start: Start<'_>,
) -> Result<Vec<AgentId>, (Vec<AgentId>, ApiError)> {
    if let Start::Adopted(adoption) = start {
        let spec = common.specs(spec).next().expect("one agent");
        return node
            .respawn(spec, adoption)
            .await
            .map(|id| vec![id])
            .map_err(|e| (Vec::new(), e.into()));
    }
    let mut ids = Vec::with_capacity(common.count.unwrap_or(1));
    for (i, spec_i) in common.specs(spec).enumerate() {
        let one = SpawnBody {
            name: common.name_of(i),
            count: None,
            ..body.clone()
        };
        let config = serde_json::to_vec(&one).unwrap_or_default();
        let mut recipe = Recipe::new(body.kind.clone(), config).durable(body.durable);
        if let Some(m) = &body.module {
            recipe = recipe.module(m.clone());
        }
        match node.spawn_recoverable(spec_i, recipe).await {
            Ok(id) => ids.push(id),
            Err(e) => return Err((ids, e.into())),
        }
    }
    Ok(ids)
}

/// Spawns through the node when there is one, else on the orchestrator.
async fn spawn_any<A: Agent>(
    state: &AppState,
    spec: AgentSpec<A>,
    common: &Common,
    body: &SpawnBody,
    start: Start<'_>,
) -> Result<Vec<AgentId>, (Vec<AgentId>, ApiError)> {
    match &state.node {
        Some(node) => spawn_all_node(node, spec, common, body, start).await,
        None => spawn_all(&state.orch, spec, common).map_err(|(ids, e)| (ids, e.into())),
    }
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request("bad_request", message)
}

/// Restarts the agents this node adopts from a dead node: their recipe
/// is their spawn body, so they are rebuilt exactly as they were spawned
/// (WASM modules from the lattice's object store when not uploaded here).
pub struct FrontDoorRespawner(WeakState);

impl FrontDoorRespawner {
    /// A respawner spawning through `state`.
    pub fn new(state: &AppState) -> Self {
        Self(state.downgrade())
    }
}

impl Respawner for FrontDoorRespawner {
    fn respawn(&self, adoption: Adoption) -> BoxFuture<'_, Result<AgentId, NodeError>> {
        Box::pin(async move {
            let failed = |detail: String| NodeError::Respawn {
                kind: adoption.recipe.kind.clone(),
                detail,
            };
            let state = self
                .0
                .upgrade()
                .ok_or_else(|| failed("the server is shutting down".into()))?;
            let body: SpawnBody = serde_json::from_slice(&adoption.recipe.config)
                .map_err(|e| failed(format!("its recipe is not a spawn body: {e}")))?;
            let ids = spawn_body(&state, &body, Start::Adopted(&adoption))
                .await
                .map_err(|e| failed(e.message))?;
            ids.first().copied().ok_or_else(|| failed("nothing was spawned".into()))
        })
    }
}

/// `POST /v1/agents`: 201 `{"id"}` or, with `count`, `{"ids"}`.
pub async fn spawn(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SpawnBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let _room = state.reserve_agents(body.count.unwrap_or(1).clamp(1, state.config.max_spawn_batch))?;
    let ids = spawn_body(&state, &body, Start::Fresh).await?;
    let reply = match body.count {
        Some(_) => json!({ "ids": ids.iter().map(|i| i.get()).collect::<Vec<_>>() }),
        None => json!({ "id": ids[0].get() }),
    };
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Validates a spawn body and spawns its agents (all or none), fresh or
/// adopted from a dead node.
pub async fn spawn_body(state: &AppState, body: &SpawnBody, start: Start<'_>) -> Result<Vec<AgentId>, ApiError> {
    let body = body.clone();
    let kind = match body.kind.as_str() {
        "echo" => Kind::Echo,
        "counter" => Kind::Counter,
        "sink" => Kind::Sink,
        "wasm" => Kind::Wasm,
        other => {
            return Err(bad(format!(
                "unknown agent kind {other:?}; one of echo, counter, sink, wasm"
            )));
        }
    };
    let n = body.count.unwrap_or(1);
    let max = state.config.max_spawn_batch;
    if n == 0 || n > max {
        return Err(bad(format!("count must be 1 to {max}, not {n}")));
    }
    if let Some(name) = &body.name
        && name.is_empty()
    {
        return Err(bad("name must not be empty".into()));
    }
    if body.capabilities.iter().any(String::is_empty) {
        return Err(bad("a capability must not be empty".into()));
    }
    if body.durable && state.node.is_none() {
        return Err(bad(
            "durable delivery needs a cluster node (start the server with --cluster)".into(),
        ));
    }
    let limits = body.limits;
    let wasm_only = limits.max_memory_bytes.is_some() || limits.fuel.is_some() || limits.cpu_time_ms.is_some();
    if kind != Kind::Wasm && (wasm_only || body.module.is_some()) {
        return Err(bad(format!(
            "module, limits.max_memory_bytes, limits.fuel and limits.cpu_time_ms apply to kind \"wasm\" only, not {:?}",
            kind.name()
        )));
    }
    let mailbox_capacity = limits.mailbox_capacity.unwrap_or(state.config.mailbox_capacity);
    if mailbox_capacity == 0 {
        return Err(bad("limits.mailbox_capacity must be at least 1".into()));
    }
    if body.checkpoint_every == Some(0) {
        return Err(bad("checkpoint_every must be at least 1".into()));
    }
    let common = Common {
        restart: body.restart.map(|r| RestartPolicy {
            max_restarts: r.max_restarts,
            window: Duration::from_millis(r.window_ms),
        }),
        checkpoints: body.checkpoint_every.map(CheckpointPolicy::EveryMessages),
        name: body.name.clone(),
        capabilities: body.capabilities.clone(),
        mailbox_capacity,
        max_message_bytes: limits.max_message_bytes,
        count: body.count,
    };
    let orch = state.orch.clone();
    let spawned = match kind {
        Kind::Echo => spawn_any(state, AgentSpec::new(|| Echo), &common, &body, start).await,
        Kind::Counter => spawn_any(state, AgentSpec::new(CounterAgent::new), &common, &body, start).await,
        Kind::Sink => spawn_any(state, AgentSpec::new(|| Sink), &common, &body, start).await,
        _ => {
            let Some(module_id) = &body.module else {
                return Err(bad("kind \"wasm\" needs \"module\": an id from POST /v1/modules".into()));
            };
            let module = crate::routes::modules::find(state, module_id).await?;
            let mut agent_limits = AgentLimits::default();
            if let Some(b) = limits.max_memory_bytes {
                agent_limits = agent_limits.max_memory(b);
            }
            if let Some(f) = limits.fuel {
                agent_limits = agent_limits.fuel(Some(f));
            }
            if let Some(ms) = limits.cpu_time_ms {
                agent_limits = agent_limits.cpu_time(Some(Duration::from_millis(ms)));
            }
            if let Some(b) = limits.max_message_bytes {
                agent_limits = agent_limits.max_message_bytes(b);
            }
            if let Some(node) = &state.node {
                spawn_all_node(node, module.spec(agent_limits), &common, &body, start).await
            } else {
                // Instantiating thousands of guests takes a while: off the
                // async workers.
                tokio::task::spawn_blocking(move || spawn_all(&orch, module.spec(agent_limits), &common))
                    .await
                    .map_err(|e| {
                        ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal",
                            format!("spawn task failed: {e}"),
                        )
                    })?
                    .map_err(|(ids, e)| (ids, e.into()))
            }
        }
    };
    match spawned {
        Ok(ids) => {
            for id in &ids {
                state.kinds.insert(*id, kind);
            }
            Ok(ids)
        }
        Err((ids, e)) => {
            // All or nothing: stop the ones a failed batch already spawned.
            for id in ids {
                let _ = stop_any(state, id).await;
            }
            Err(e)
        }
    }
}

/// Resolves `{agent}`: digits are an id, anything else a name.
fn resolve(state: &AppState, agent: &str) -> Result<AgentId, ApiError> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_agent",
            format!("no live agent is {agent:?}"),
        )
    };
    match agent.parse::<u64>() {
        Ok(raw) => AgentId::new(raw).ok_or_else(unknown),
        Err(_) => state.orch.lookup(agent).ok_or_else(unknown),
    }
}

fn stats_json(state: &AppState, s: &AgentStats, full: bool) -> serde_json::Value {
    let mut v = json!({
        "id": s.id.get(),
        "name": s.name,
        "kind": state.kinds.kind(s.id).name(),
        "status": format!("{:?}", s.status).to_lowercase(),
        "messages_handled": s.messages_handled,
        "mailbox_depth": s.mailbox_depth,
        "mailbox_capacity": s.mailbox_capacity,
        "restarts": s.restarts,
        "dead_letters": s.dead_letters,
    });
    if full {
        let extra = json!({
            "batches": s.batches,
            "handler_cpu_us": s.handler_cpu.as_secs_f64() * 1e6,
            "mailbox_high_water": s.mailbox_high_water,
            "checkpoints": s.checkpoints,
            "memory_bytes": s.memory_bytes,
            "recovery_times_us": s.recovery_times.iter().map(|d| d.as_secs_f64() * 1e6).collect::<Vec<_>>(),
        });
        if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
    }
    v
}

/// `GET /v1/agents/{agent}`: the agent's stats.
pub async fn get_one(
    State(state): State<AppState>,
    Path(agent): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = resolve(&state, &agent)?;
    let stats = state.orch.stats(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_agent",
            format!("no live agent is {agent:?}"),
        )
    })?;
    Ok(Json(stats_json(&state, &stats, true)))
}

/// Paging of `GET /v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<u64>,
}

/// `GET /v1/agents?limit=&after=`: live agents by id, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(page) =
        page.map_err(|e| ApiError::bad_request("bad_request", format!("invalid query: {}", e.body_text())))?;
    let limit = page.limit.unwrap_or(1000);
    if limit == 0 || limit > 10_000 {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("limit must be 1 to 10000, not {limit}"),
        ));
    }
    let after = page.after.unwrap_or(0);
    let mut ids: Vec<AgentId> = Vec::new();
    state.orch.glance_all(|g| {
        if g.id.get() > after {
            ids.push(g.id);
        }
    });
    ids.sort_unstable();
    let more = ids.len() > limit;
    ids.truncate(limit);
    let agents: Vec<_> = ids
        .iter()
        .filter_map(|id| state.orch.stats(*id))
        .map(|s| stats_json(&state, &s, false))
        .collect();
    let next = if more { ids.last().map(|i| i.get()) } else { None };
    Ok(Json(json!({ "agents": agents, "next": next })))
}

/// `DELETE /v1/agents/{agent}`: stops the agent after it handled what it
/// accepted (202 `stopping` if that takes longer than the drain timeout).
pub async fn stop(
    State(state): State<AppState>,
    Path(agent): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = resolve(&state, &agent)?;
    match tokio::time::timeout(state.config.drain_timeout, stop_any(&state, id)).await {
        Ok(Ok(())) => {
            state.kinds.remove(id);
            Ok((StatusCode::OK, Json(json!({ "id": id.get(), "status": "stopped" }))))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "id": id.get(), "status": "stopping" })),
        )),
    }
}

/// Stops an agent of this server: through the node when there is one
/// (its subjects are unsubscribed first), else on the orchestrator.
async fn stop_any(state: &AppState, id: AgentId) -> Result<(), ApiError> {
    match &state.node {
        Some(node) => node.stop(id).await.map_err(ApiError::from),
        None => state.orch.stop(id).await.map_err(|kind| ApiError::from(&kind)),
    }
}
