//! The front door's calls into the orchestrator, shared by the HTTP
//! routes and the WebSocket sessions: send without waiting (429 when the
//! mailbox is full), request/reply with a bounded timeout, broadcast; each
//! counted in the metrics; and the JSON form of a reply.

use std::time::{Duration, Instant};

use caxton_runtime::{Message, Performative, RequestError};
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
    pub fn send_now(&self, route: Route, msg: Message) -> Result<(), ApiError> {
        self.orch.try_send(msg).map_err(|e| ApiError::from(e.kind()))?;
        self.metrics.routed(route, 1);
        Ok(())
    }

    /// Request/reply without waiting for mailbox space (429 when full),
    /// counted and timed under `route`.
    pub async fn request_now(&self, route: Route, msg: Message, timeout: Duration) -> Result<Message, ApiError> {
        let start = Instant::now();
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

    /// Broadcasts to a capability's agents; the JSON outcome.
    pub fn broadcast_now(&self, route: Route, body: BroadcastBody) -> Result<serde_json::Value, ApiError> {
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
        let out = self
            .orch
            .broadcast(&capability, msg)
            .map_err(|e| ApiError::from(e.kind()))?;
        self.metrics.routed(route, out.delivered.len() as u64);
        let failed: Vec<_> = out
            .failed
            .iter()
            .map(|(id, kind)| {
                let e = ApiError::from(kind);
                json!({ "id": id.get(), "error": e.message, "kind": e.kind })
            })
            .collect();
        Ok(json!({
            "delivered": out.delivered.iter().map(|i| i.get()).collect::<Vec<_>>(),
            "failed": failed,
        }))
    }
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
