//! The front door's calls into the orchestrator, shared by the HTTP
//! routes and the WebSocket sessions: send without waiting (429 when the
//! mailbox is full), request/reply with a bounded timeout, broadcast; each
//! counted in the metrics; and the JSON form of a reply. With a node,
//! messages to agents that do not live here go through it over NATS.

use std::time::{Duration, Instant};

use caxton_runtime::{Broadcast, Message, Performative, RequestError};
use serde_json::json;

use crate::error::ApiError;
use crate::metrics::Route;
use crate::state::Shared;
use crate::wire::{self, BroadcastBody, From, Payload, Reply};

impl Shared {
    /// The timeout a request asked for, within the server's bounds.
    pub fn request_timeout(&self, timeout_ms: Option<u64>) -> Result<Duration, ApiError> {
        let Some(ms) = timeout_ms else {
            return Ok(self.config.default_request_timeout);
        };
        let max = self.config.max_request_timeout;
        if ms == 0 || u128::from(ms) > max.as_millis() {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("timeout_ms must be 1 to {}, not {ms}", max.as_millis()),
            ));
        }
        Ok(Duration::from_millis(ms))
    }

    /// Routes a message without waiting: a full mailbox is 429 at once.
    /// Local only; [`Self::send_routed`] also reaches other nodes.
    pub fn send_now(&self, route: Route, msg: Message) -> Result<(), ApiError> {
        self.orch.try_send(msg).map_err(|e| ApiError::from(e.kind()))?;
        self.metrics.routed(route, 1);
        Ok(())
    }

    /// [`Self::send_now`], or, when the receiver lives on another node of
    /// the lattice, published to it over NATS (at most once).
    pub async fn send_routed(&self, route: Route, msg: Message) -> Result<(), ApiError> {
        let Some(node) = self.remote_node(&msg.receiver) else {
            return self.send_now(route, msg);
        };
        node.send(msg).await?;
        self.metrics.routed(route, 1);
        Ok(())
    }

    /// Request/reply without waiting for mailbox space (429 when full),
    /// counted and timed under `route`.
    /// With a node, a receiver on another node is asked over NATS.
    pub async fn request_now(&self, route: Route, msg: Message, timeout: Duration) -> Result<Message, ApiError> {
        let start = Instant::now();
        if let Some(node) = self.remote_node(&msg.receiver) {
            let result = node.request(msg, timeout).await;
            if result.is_ok() {
                let seconds = start.elapsed().as_secs_f64();
                self.metrics.routed(route, 1);
                self.metrics.request_done(route, seconds);
                self.metrics.remote_request_done(seconds);
            }
            return result.map_err(ApiError::from);
        }
        let result = self.orch.try_request(msg, timeout).await;
        let accepted = !matches!(
            result,
            Err(RequestError::Send(_) | RequestError::Timeout { accepted: false, .. })
        );
        if accepted {
            self.metrics.routed(route, 1);
            self.metrics.request_done(route, start.elapsed().as_secs_f64());
        }
        result.map_err(ApiError::from)
    }

    /// Broadcasts to a capability's agents, on every node of the lattice
    /// with a node; the JSON outcome (with a node, `published`: whether a
    /// copy went out to the other nodes).
    pub async fn broadcast_routed(&self, route: Route, body: BroadcastBody) -> Result<serde_json::Value, ApiError> {
        let Some(node) = &self.node else {
            return self.broadcast_now(route, body);
        };
        let (capability, msg) = broadcast_message(body)?;
        let report = node.broadcast(&capability, msg).await?;
        let mut v = self.broadcast_json(route, &report.local);
        if let Some(o) = v.as_object_mut() {
            o.insert("published".into(), json!(report.published));
        }
        Ok(v)
    }

    /// Broadcasts to this server's agents with a capability; the JSON
    /// outcome.
    pub fn broadcast_now(&self, route: Route, body: BroadcastBody) -> Result<serde_json::Value, ApiError> {
        let (capability, msg) = broadcast_message(body)?;
        let out = self
            .orch
            .broadcast(&capability, msg)
            .map_err(|e| ApiError::from(e.kind()))?;
        Ok(self.broadcast_json(route, &out))
    }

    /// Counts a broadcast's deliveries; its JSON outcome.
    fn broadcast_json(&self, route: Route, out: &Broadcast) -> serde_json::Value {
        self.metrics.routed(route, out.delivered.len() as u64);
        let failed: Vec<_> = out
            .failed
            .iter()
            .map(|(id, kind)| {
                let e = ApiError::from(kind);
                json!({ "id": id.get(), "error": e.message, "kind": e.kind })
            })
            .collect();
        json!({
            "delivered": out.delivered.iter().map(|i| i.get()).collect::<Vec<_>>(),
            "failed": failed,
        })
    }
}

/// The capability and message of a broadcast body.
fn broadcast_message(body: BroadcastBody) -> Result<(String, Message), ApiError> {
    let capability = body.capability()?.to_owned();
    let performative = match &body.performative {
        Some(p) => wire::parse_performative(p)?,
        None => Performative::Inform,
    };
    let msg = Message::new(
        caxton_runtime::Address::capability(capability.as_str()),
        performative,
        body.payload.into_bytes(),
    );
    Ok((capability, msg))
}

/// The JSON form of a reply, in the request's payload encoding.
pub fn reply_json(reply: Message, request_was_text: bool) -> Reply {
    Reply {
        from: reply.sender.map(|id| From {
            id: id.get(),
            name: None,
        }),
        performative: wire::performative_name(reply.performative),
        payload: Payload::like(request_was_text, reply.payload),
    }
}
