//! Send, request and broadcast: JSON routes, and the raw-bytes routes of
//! the throughput path.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use caxton_runtime::{Message, Performative, RequestError};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{JsonBody, RawBody};
use crate::state::{AppState, Shared};
use crate::wire::{self, BroadcastBody, From, MessageBody, Payload, Reply, To};

/// Header naming the performative of a raw message (or of its reply).
pub const PERFORMATIVE_HEADER: HeaderName = HeaderName::from_static("caxton-performative");
/// Header with a raw request's timeout in milliseconds.
pub const TIMEOUT_HEADER: HeaderName = HeaderName::from_static("caxton-timeout-ms");
/// Header naming the agent that sent a raw reply.
pub const FROM_HEADER: HeaderName = HeaderName::from_static("caxton-from");

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
    pub fn send_now(&self, route: &'static str, msg: Message) -> Result<(), ApiError> {
        self.orch.try_send(msg).map_err(|e| ApiError::from(e.kind()))?;
        self.metrics.routed(route, 1);
        Ok(())
    }

    /// Request/reply without waiting for mailbox space (429 when full),
    /// counted and timed under `route`.
    pub async fn request_now(&self, route: &'static str, msg: Message, timeout: Duration) -> Result<Message, ApiError> {
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
    pub fn broadcast_now(&self, route: &'static str, body: BroadcastBody) -> Result<serde_json::Value, ApiError> {
        if body.capability.is_empty() {
            return Err(ApiError::bad_request("invalid_address", "empty capability"));
        }
        let performative = match &body.performative {
            Some(p) => wire::parse_performative(p)?,
            None => Performative::Inform,
        };
        let msg = Message::new(
            caxton_runtime::Address::capability(body.capability.as_str()),
            performative,
            body.payload.into_bytes(),
        );
        let out = self
            .orch
            .broadcast(&body.capability, msg)
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

/// `POST /v1/messages`: 202 once a mailbox accepted it.
pub async fn send(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if body.timeout_ms.is_some() {
        return Err(ApiError::bad_request(
            "bad_request",
            "timeout_ms applies to requests, not sends",
        ));
    }
    let (msg, _) = body.message(Performative::Inform)?;
    state.send_now("send", msg)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": true }))))
}

/// `POST /v1/requests`: 200 with the reply.
pub async fn request(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Json<Reply>, ApiError> {
    let timeout = state.request_timeout(body.timeout_ms)?;
    let (msg, text) = body.message(Performative::Request)?;
    let reply = state.request_now("request", msg, timeout).await?;
    Ok(Json(reply_json(reply, text)))
}

/// `POST /v1/broadcast`: 202 with who got a copy.
pub async fn broadcast(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<BroadcastBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let out = state.broadcast_now("broadcast", body)?;
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// The performative and timeout headers of a raw route.
fn raw_headers(headers: &HeaderMap, default: Performative) -> Result<(Performative, Option<u64>), ApiError> {
    let text = |name: &HeaderName| -> Result<Option<&str>, ApiError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| ApiError::bad_request("bad_request", format!("header {name} is not ASCII")))
            })
            .transpose()
    };
    let performative = match text(&PERFORMATIVE_HEADER)? {
        Some(p) => wire::parse_performative(p)?,
        None => default,
    };
    let timeout = text(&TIMEOUT_HEADER)?
        .map(|t| {
            t.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    "bad_request",
                    format!("header {TIMEOUT_HEADER} is not a whole number of milliseconds: {t:?}"),
                )
            })
        })
        .transpose()?;
    Ok((performative, timeout))
}

/// `POST /v1/raw/send/{to}`: the body is the payload; 202, empty.
pub async fn raw_send(
    State(state): State<AppState>,
    Path(to): Path<String>,
    headers: HeaderMap,
    RawBody(payload): RawBody,
) -> Result<StatusCode, ApiError> {
    let (performative, timeout) = raw_headers(&headers, Performative::Inform)?;
    if timeout.is_some() {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("{TIMEOUT_HEADER} applies to requests, not sends"),
        ));
    }
    let msg = Message::new(To::parse(&to)?.address()?, performative, payload);
    state.send_now("raw_send", msg)?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /v1/raw/request/{to}`: the body is the payload; 200 with the
/// reply's payload.
pub async fn raw_request(
    State(state): State<AppState>,
    Path(to): Path<String>,
    headers: HeaderMap,
    RawBody(payload): RawBody,
) -> Result<Response, ApiError> {
    let (performative, timeout_ms) = raw_headers(&headers, Performative::Request)?;
    let timeout = state.request_timeout(timeout_ms)?;
    let msg = Message::new(To::parse(&to)?.address()?, performative, payload);
    let reply = state.request_now("raw_request", msg, timeout).await?;
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        reply.payload,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        PERFORMATIVE_HEADER,
        HeaderValue::from_static(wire::performative_name(reply.performative)),
    );
    if let Some(from) = reply.sender {
        h.insert(FROM_HEADER, HeaderValue::from(from.get()));
    }
    Ok(response)
}
