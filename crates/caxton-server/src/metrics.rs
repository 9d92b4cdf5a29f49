//! `/metrics`: one explicit prometheus-client registry. The front door's
//! own counters are updated as requests pass; the orchestrator's figures
//! (handled, dead letters, restarts, agents, mailbox depths) are read at
//! scrape time by a collector, so they cost nothing between scrapes.

use std::collections::HashMap;
use std::sync::Arc;

use caxton_cluster::Node;
use caxton_runtime::{AgentStatus, DeadLetterKind, Orchestrator};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::kinds::{AgentKinds, Kind};

/// A way into the orchestrator through the front door (the `route` label
/// of `caxton_messages_routed_total` and `caxton_request_duration_seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/messages`.
    Send,
    /// `POST /v1/requests`.
    Request,
    /// `POST /v1/broadcast`.
    Broadcast,
    /// `POST /v1/raw/send/{to}`.
    RawSend,
    /// `POST /v1/raw/request/{to}`.
    RawRequest,
    /// A WebSocket `send`.
    WsSend,
    /// A WebSocket `request` or binary frame.
    WsRequest,
    /// A WebSocket `broadcast`.
    WsBroadcast,
}

impl Route {
    /// Every route, in label order.
    pub const ALL: [Route; 8] = [
        Route::Send,
        Route::Request,
        Route::Broadcast,
        Route::RawSend,
        Route::RawRequest,
        Route::WsSend,
        Route::WsRequest,
        Route::WsBroadcast,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Route::Send => "send",
            Route::Request => "request",
            Route::Broadcast => "broadcast",
            Route::RawSend => "raw_send",
            Route::RawRequest => "raw_request",
            Route::WsSend => "ws_send",
            Route::WsRequest => "ws_request",
            Route::WsBroadcast => "ws_broadcast",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRouteLabels {
    route: &'static str,
    method: &'static str,
}

/// The front door's metrics and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Per route, its routed counter and request-duration histogram,
    /// resolved once: the hot path takes no family lookup.
    by_route: [(Counter, Histogram); Route::ALL.len()],
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpRouteLabels, Histogram>,
    /// Open WebSocket sessions.
    pub ws_sessions: Gauge,
    /// Open HTTP connections (upgraded ones end when they upgrade).
    pub http_connections: Gauge,
    /// Remote request/reply round trips over NATS (a node only).
    cluster_round_trip: Option<Histogram>,
}

fn latency_histogram() -> Histogram {
    // 10 us .. ~42 s, doubling: 23 buckets.
    Histogram::new(exponential_buckets(1e-5, 2.0, 23))
}

impl Metrics {
    /// The registry for one server in front of `orch`.
    pub fn new(orch: Orchestrator, kinds: Arc<AgentKinds>) -> Self {
        let mut registry = Registry::default();
        let routed = Family::<RouteLabel, Counter>::default();
        registry.register(
            "caxton_messages_routed",
            "Messages the front door handed to the orchestrator that a mailbox accepted, by route",
            routed.clone(),
        );
        let request_duration = Family::<RouteLabel, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "caxton_request_duration_seconds",
            "Request/reply through the front door, from accepting the request to the reply",
            request_duration.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "caxton_http_requests",
            "HTTP requests served, by route pattern, method and status",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpRouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "caxton_http_request_duration_seconds",
            "Time to produce an HTTP response, by route pattern and method",
            http_duration.clone(),
        );
        let ws_sessions = Gauge::default();
        registry.register(
            "caxton_websocket_sessions",
            "Open WebSocket sessions",
            ws_sessions.clone(),
        );
        let http_connections = Gauge::default();
        registry.register(
            "caxton_http_connections",
            "Open HTTP connections (not counting upgraded WebSocket sessions)",
            http_connections.clone(),
        );
        registry.register_collector(Box::new(RuntimeCollector { orch, kinds }));
        let by_route = Route::ALL.map(|r| {
            let label = RouteLabel { route: r.name() };
            (
                routed.get_or_create_owned(&label),
                request_duration.get_or_create_owned(&label),
            )
        });
        Self {
            registry,
            by_route,
            http_requests,
            http_duration,
            ws_sessions,
            http_connections,
            cluster_round_trip: None,
        }
    }

    /// Adds the figures of the node this server is (`caxton_cluster_*`):
    /// its remote-traffic counters, read at scrape time, an info gauge and
    /// the NATS round-trip histogram of remote requests.
    pub fn register_node(&mut self, node: Node) {
        let round_trip = latency_histogram();
        self.registry.register(
            "caxton_cluster_request_round_trip_seconds",
            "Remote request/reply through the node over NATS, from publishing the request to the reply",
            round_trip.clone(),
        );
        self.cluster_round_trip = Some(round_trip);
        self.registry.register_collector(Box::new(ClusterCollector { node }));
    }

    /// Records one remote request/reply over NATS that took `seconds`.
    pub fn remote_request_done(&self, seconds: f64) {
        if let Some(h) = &self.cluster_round_trip {
            h.observe(seconds);
        }
    }

    /// Counts `n` messages a mailbox accepted from `route`.
    pub fn routed(&self, route: Route, n: u64) {
        self.by_route[route as usize].0.inc_by(n);
    }

    /// Records one request/reply through `route` that took `seconds`.
    pub fn request_done(&self, route: Route, seconds: f64) {
        self.by_route[route as usize].1.observe(seconds);
    }

    /// Records one HTTP request: its route pattern (never the raw path,
    /// so cardinality stays bounded), method, status and time.
    pub fn http_request(&self, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        self.http_duration
            .get_or_create(&HttpRouteLabels { route, method })
            .observe(seconds);
        self.http_requests
            .get_or_create(&HttpLabels { route, method, status })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads the orchestrator's figures at scrape time.
struct RuntimeCollector {
    orch: Orchestrator,
    kinds: Arc<AgentKinds>,
}

impl std::fmt::Debug for RuntimeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeCollector").finish_non_exhaustive()
    }
}

fn status_name(s: AgentStatus) -> &'static str {
    match s {
        AgentStatus::Running => "running",
        AgentStatus::Stopping => "stopping",
        AgentStatus::Stopped => "stopped",
        AgentStatus::Failed => "failed",
    }
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let handled = ConstCounter::new(self.orch.messages_handled_total());
        handled.encode(encoder.encode_descriptor(
            "caxton_messages_handled",
            "Messages handled by every agent of the orchestrator, agent to agent included",
            None,
            MetricType::Counter,
        )?)?;

        let restarts = ConstCounter::new(self.orch.restarts_total());
        restarts.encode(encoder.encode_descriptor(
            "caxton_agent_restarts",
            "Agent restarts after faults (panics, traps)",
            None,
            MetricType::Counter,
        )?)?;

        let counts = self.orch.dead_letter_counts();
        let mut family = encoder.encode_descriptor(
            "caxton_dead_letters",
            "Messages that became dead letters, by reason",
            None,
            MetricType::Counter,
        )?;
        for kind in DeadLetterKind::ALL {
            let labels = [("reason", kind.name())];
            ConstCounter::new(counts.get(kind)).encode(family.encode_family(&labels)?)?;
        }

        // One pass over the live agents: counts by kind and status, and
        // the mailbox depth histogram.
        let mut agents: HashMap<(Kind, &'static str), i64> = HashMap::new();
        let depth = Histogram::new([0.0, 1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0]);
        let mut live = Vec::with_capacity(self.orch.agent_count());
        self.orch.glance_all(|g| {
            live.push(g.id);
            depth.observe(g.mailbox_depth as f64);
            *agents
                .entry((self.kinds.kind(g.id), status_name(g.status)))
                .or_default() += 1;
        });
        self.kinds.retain_live(&live);

        let mut family = encoder.encode_descriptor(
            "caxton_agents",
            "Live agents by kind and status",
            None,
            MetricType::Gauge,
        )?;
        let mut rows: Vec<_> = agents.into_iter().collect();
        rows.sort_by_key(|((k, s), _)| (k.name(), *s));
        for ((kind, status), n) in rows {
            let labels = [("kind", kind.name()), ("status", status)];
            ConstGauge::new(n).encode(family.encode_family(&labels)?)?;
        }

        depth.encode(encoder.encode_descriptor(
            "caxton_mailbox_depth",
            "Queued messages per live agent, at scrape time",
            None,
            MetricType::Histogram,
        )?)?;
        Ok(())
    }
}

/// Reads the node's counters at scrape time.
struct ClusterCollector {
    node: Node,
}

impl std::fmt::Debug for ClusterCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCollector").finish_non_exhaustive()
    }
}

impl Collector for ClusterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let c = self.node.counters();
        let f = self.node.failover_counters();
        let counters = [
            (
                "caxton_cluster_messages_sent_remote",
                "Frames this node published to other nodes (sends, requests, broadcasts, answers)",
                c.sent_remote,
            ),
            (
                "caxton_cluster_messages_received_remote",
                "Frames received on this node's agent subjects",
                c.received_remote,
            ),
            (
                "caxton_cluster_decode_failures",
                "Frames received or answers that did not decode (dead-lettered as malformed)",
                c.decode_failures,
            ),
            (
                "caxton_cluster_reconnects",
                "Reconnections to NATS after the first connection",
                c.reconnects,
            ),
            (
                "caxton_cluster_agents_adopted",
                "Agents of dead nodes this node restarted from their last checkpoint",
                f.adopted,
            ),
            (
                "caxton_cluster_adoption_failures",
                "Agents of dead nodes this node won but could not restart",
                f.adoption_failures,
            ),
            (
                "caxton_cluster_agents_lost",
                "Agents without a recipe whose node died (removed from the registry by this node)",
                f.lost,
            ),
            (
                "caxton_cluster_lease_losses",
                "Lease renewals that found this node's lease expired (it claimed it again)",
                self.node.lease_losses(),
            ),
        ];
        for (name, help, value) in counters {
            ConstCounter::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "caxton_cluster_info",
            "The lattice and node name of this server (always 1)",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("lattice", self.node.subjects().lattice()), ("node", self.node.name())];
        ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        let registry = self.node.directory().len() as i64;
        ConstGauge::new(registry).encode(encoder.encode_descriptor(
            "caxton_cluster_registry_agents",
            "Agents in the lattice's registry, as this node's mirror sees it",
            None,
            MetricType::Gauge,
        )?)?;
        Ok(())
    }
}
