//! Send, request and broadcast: JSON routes, and the raw-bytes routes of
//! the throughput path.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use caxton_runtime::{Message, Performative};
use serde_json::json;

use crate::dispatch::reply_json;
use crate::error::ApiError;
use crate::extract::{JsonBody, RawBody};
use crate::metrics::Route;
use crate::state::AppState;
use crate::wire::{self, BroadcastBody, MessageBody, Reply, To};

/// Header naming the performative of a raw message (or of its reply).
pub const PERFORMATIVE_HEADER: HeaderName = HeaderName::from_static("caxton-performative");
/// Header with a raw request's timeout in milliseconds.
pub const TIMEOUT_HEADER: HeaderName = HeaderName::from_static("caxton-timeout-ms");
/// Header naming the agent that sent a raw reply.
pub const FROM_HEADER: HeaderName = HeaderName::from_static("caxton-from");

/// `POST /v1/messages`: 202 once a mailbox accepted it.
pub async fn send(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    // One body shape for every route: a send has no reply to wait for, so
    // its `timeout_ms` (if any) has nothing to bound and is ignored.
    let (msg, _) = body.message(Performative::Inform)?;
    state.send_routed(Route::Send, msg).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": true }))))
}

/// `POST /v1/requests`: 200 with the reply.
pub async fn request(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Json<Reply>, ApiError> {
    let timeout = state.request_timeout(body.timeout_ms)?;
    let (msg, text) = body.message(Performative::Request)?;
    let reply = state.request_now(Route::Request, msg, timeout).await?;
    Ok(Json(reply_json(reply, text)))
}

/// `POST /v1/broadcast`: 202 with who got a copy.
pub async fn broadcast(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<BroadcastBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let out = state.broadcast_routed(Route::Broadcast, body).await?;
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
    // As with JSON sends, a timeout header has nothing to bound here.
    let (performative, _timeout) = raw_headers(&headers, Performative::Inform)?;
    let msg = Message::new(To::parse(&to)?.address()?, performative, payload);
    state.send_routed(Route::RawSend, msg).await?;
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
    let reply = state.request_now(Route::RawRequest, msg, timeout).await?;
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
