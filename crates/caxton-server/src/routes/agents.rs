//! Spawn, list, inspect and stop agents.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use caxton_cluster::Node;
use caxton_runtime::agents::Echo;
use caxton_runtime::{
    Agent, AgentError, AgentId, AgentSpec, AgentStats, CheckpointPolicy, Context, Message, Orchestrator, RestartPolicy,
    SpawnError,
};
use caxton_wasm::AgentLimits;
use caxton_workloads::counter::CounterAgent;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::kinds::Kind;
use crate::state::AppState;

/// Accepts every message and drops it: the cheapest receiver, for send
/// throughput.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sink;

impl Agent for Sink {
    fn handle(&mut self, _ctx: &mut Context<'_>, _msg: &Message) -> Result<(), AgentError> {
        Ok(())
    }
}

/// `POST /v1/agents`.
#[derive(Debug, Deserialize)]
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
}

/// The supervisor's restart policy of a spawn: at most `max_restarts`
/// within `window_ms` (0: over the agent's life); one more fault stops it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    max_restarts: u32,
    window_ms: u64,
}

/// Per-agent limits of a spawn.
#[derive(Debug, Default, Deserialize)]
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

    /// The spec of each agent of the spawn: `count` of them (or one),
    /// named `<name>-<i>` with a count, `<name>` without.
    fn specs<'a, A: 'a>(&'a self, spec: AgentSpec<A>) -> impl Iterator<Item = AgentSpec<A>> + 'a {
        let spec = self.apply(spec);
        (0..self.count.unwrap_or(1)).map(move |i| match (&self.name, self.count) {
            (Some(name), Some(_)) => spec.clone().name(format!("{name}-{i}")),
            (Some(name), None) => spec.clone().name(name.as_str()),
            (None, _) => spec.clone(),
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

/// [`spawn_all`] through the node, so other nodes reach the agents
/// (their subjects are subscribed when this returns).
async fn spawn_all_node<A: Agent>(
    node: &Node,
    spec: AgentSpec<A>,
    common: &Common,
) -> Result<Vec<AgentId>, (Vec<AgentId>, ApiError)> {
    let mut ids = Vec::with_capacity(common.count.unwrap_or(1));
    for spec_i in common.specs(spec) {
        match node.spawn(spec_i).await {
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
) -> Result<Vec<AgentId>, (Vec<AgentId>, ApiError)> {
    match &state.node {
        Some(node) => spawn_all_node(node, spec, common).await,
        None => spawn_all(&state.orch, spec, common).map_err(|(ids, e)| (ids, e.into())),
    }
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request("bad_request", message)
}

/// `POST /v1/agents`: 201 `{"id"}` or, with `count`, `{"ids"}`.
pub async fn spawn(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SpawnBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
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
    let _room = state.reserve_agents(n)?;
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
        name: body.name,
        capabilities: body.capabilities,
        mailbox_capacity,
        max_message_bytes: limits.max_message_bytes,
        count: body.count,
    };
    let orch = state.orch.clone();
    let spawned = match kind {
        Kind::Echo => spawn_any(&state, AgentSpec::new(|| Echo), &common).await,
        Kind::Counter => spawn_any(&state, AgentSpec::new(CounterAgent::new), &common).await,
        Kind::Sink => spawn_any(&state, AgentSpec::new(|| Sink), &common).await,
        _ => {
            let Some(module_id) = &body.module else {
                return Err(bad("kind \"wasm\" needs \"module\": an id from POST /v1/modules".into()));
            };
            let module = state
                .modules
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(module_id)
                .cloned()
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "unknown_module",
                        format!("no module {module_id:?} was uploaded"),
                    )
                })?;
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
                spawn_all_node(node, module.spec(agent_limits), &common).await
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
            let body = match body.count {
                Some(_) => json!({ "ids": ids.iter().map(|i| i.get()).collect::<Vec<_>>() }),
                None => json!({ "id": ids[0].get() }),
            };
            Ok((StatusCode::CREATED, Json(body)))
        }
        Err((ids, e)) => {
            // All or nothing: stop the ones a failed batch already spawned.
            for id in ids {
                let _ = stop_any(&state, id).await;
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
