//! WebSocket sessions: each one an agent of its own (kind `session`), so
//! agents can send to the client; the client sends, requests and
//! broadcasts over the socket. Every buffer is bounded: requests in flight
//! (the socket is not read past them), frames queued to the client (a
//! client that lets them fill is closed with 1008), and bytes per frame.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use caxton_runtime::{
    Address, Agent, AgentError, AgentId, AgentSpec, Context, DeadLetterReason, Message, Performative,
};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Notify, mpsc};

use crate::dispatch::reply_json;
use crate::error::ApiError;
use crate::kinds::Kind;
use crate::live::Slot;
use crate::metrics::Route;
use crate::state::AppState;
use crate::wire::{self, BroadcastBody, From, Payload, To};

/// The upgrade's query: the default target of binary frames.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    #[serde(default)]
    to: Option<String>,
}

/// `GET /v1/ws`: upgrades to a session.
pub async fn upgrade(
    State(state): State<AppState>,
    query: Result<Query<SessionQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws =
        ws.map_err(|e| ApiError::bad_request("not_websocket", format!("not a WebSocket upgrade: {}", e.body_text())))?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request("bad_request", format!("invalid query: {}", e.body_text())))?;
    let default_to = match &query.to {
        Some(t) => Some(To::parse(t)?.address()?),
        None => None,
    };
    let Some(slot) = state.sessions.try_enter(state.config.max_sessions) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_sessions",
            format!(
                "the limit of {} open WebSocket sessions is reached; retry later",
                state.config.max_sessions
            ),
        ));
    };
    // Each session is an agent: refuse it now rather than after the upgrade.
    drop(state.reserve_agents(1)?);
    let max = state.config.max_body_bytes;
    Ok(ws
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(max + 64 * 1024)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| run(state, socket, default_to, slot)))
}

/// The session's client mailbox: what agents send to the session is
/// queued for the client, up to the bound; past it the message is a dead
/// letter and the session is shed.
#[derive(Clone)]
struct SessionAgent {
    outbox: mpsc::Sender<Box<Message>>,
    shed: Arc<Notify>,
}

impl Agent for SessionAgent {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        match self.outbox.try_send(Box::new(msg.clone())) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shed.notify_one();
                Err(AgentError::handler(
                    "the WebSocket client is not reading: its outbox is full",
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(AgentError::handler("the WebSocket session has closed")),
        }
    }
}

/// A text frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Op {
    Send {
        #[serde(default, rename = "ref")]
        reference: Option<u64>,
        to: To,
        #[serde(default)]
        performative: Option<String>,
        #[serde(default)]
        payload: Payload,
    },
    Request {
        #[serde(default, rename = "ref")]
        reference: Option<u64>,
        to: To,
        #[serde(default)]
        performative: Option<String>,
        #[serde(default)]
        payload: Payload,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    Broadcast {
        #[serde(default, rename = "ref")]
        reference: Option<u64>,
        #[serde(default)]
        capability: Option<String>,
        #[serde(default)]
        to: Option<To>,
        #[serde(default)]
        performative: Option<String>,
        #[serde(default)]
        payload: Payload,
    },
}

/// How a request of the session is answered.
enum Answer {
    /// A JSON `reply` frame (payload in the request's encoding).
    Json { reference: Option<u64>, text: bool },
    /// A binary frame: the 8-byte ref, then the payload.
    Binary { reference: u64 },
}

fn error_frame(reference: Option<u64>, e: &ApiError) -> Frame {
    let v = json!({
        "type": "error",
        "ref": reference,
        "status": e.status.as_u16(),
        "kind": e.kind,
        "error": e.message,
    });
    Frame::Text(Utf8Bytes::from(v.to_string()))
}

fn text_frame(v: serde_json::Value) -> Frame {
    Frame::Text(Utf8Bytes::from(v.to_string()))
}

fn close(code: u16, reason: &str) -> Frame {
    Frame::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// Why a session ends, and the close frame the client gets.
enum End {
    /// The client went away or closed.
    Gone,
    /// The server closes with this code and reason.
    Close(u16, String),
}

async fn run(state: AppState, mut socket: WebSocket, default_to: Option<Address>, _slot: Slot) {
    state.metrics.ws_sessions.inc();
    let _open = scopeguard(&state);
    let name = format!("session-{}", state.next_session());
    let frames = state.config.ws_outbox_frames;
    let (outbox, mut inbox) = mpsc::channel(frames);
    let shed = Arc::new(Notify::new());
    let agent = SessionAgent {
        outbox,
        shed: shed.clone(),
    };
    let spec = AgentSpec::new(move || agent.clone())
        .name(name.as_str())
        .mailbox_capacity(frames);
    let id = match state.orch.spawn(spec) {
        Ok(id) => id,
        Err(e) => {
            let e = ApiError::from(e);
            let _ = socket.send(error_frame(None, &e)).await;
            let _ = socket.send(close(close_code::AGAIN, &e.message)).await;
            return;
        }
    };
    state.kinds.insert(id, Kind::Session);
    let end = serve(&state, &mut socket, id, &name, default_to, &mut inbox, &shed).await;
    if let End::Close(code, reason) = end {
        let write = socket.send(close(code, &reason));
        let _ = tokio::time::timeout(state.config.ws_write_timeout, write).await;
    }
    // Closing the queue makes the agent dead-letter anything sent from now
    // on; what is still queued for the client is counted here, once.
    inbox.close();
    while let Ok(msg) = inbox.try_recv() {
        state
            .orch
            .record_dead_letter(*msg, Some(id), DeadLetterReason::Undelivered);
    }
    drop(inbox);
    let orch = state.orch.clone();
    let kinds = state.kinds.clone();
    tokio::spawn(async move {
        let _ = orch.stop(id).await;
        kinds.remove(id);
    });
}

/// Decrements the open-session gauge when the session ends.
struct OpenSession(AppState);

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.metrics.ws_sessions.dec();
    }
}

fn scopeguard(state: &AppState) -> OpenSession {
    OpenSession(state.clone())
}

type InFlight = std::pin::Pin<Box<dyn std::future::Future<Output = (Answer, Result<Message, ApiError>)> + Send>>;

async fn serve(
    state: &AppState,
    socket: &mut WebSocket,
    id: AgentId,
    name: &str,
    default_to: Option<Address>,
    inbox: &mut mpsc::Receiver<Box<Message>>,
    shed: &Notify,
) -> End {
    let write_timeout = state.config.ws_write_timeout;
    let max_in_flight = state.config.ws_max_in_flight;
    let mut drain = state.drain_signal();
    let mut in_flight: FuturesUnordered<InFlight> = FuturesUnordered::new();
    let welcome = text_frame(json!({ "type": "welcome", "session": { "id": id.get(), "name": name } }));
    if socket.send(welcome).await.is_err() {
        return End::Gone;
    }
    macro_rules! write {
        ($frame:expr) => {
            match tokio::time::timeout(write_timeout, socket.send($frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return End::Gone,
                Err(_) => {
                    return End::Close(
                        close_code::POLICY,
                        format!(
                            "the client did not read for {}",
                            humantime::format_duration(write_timeout)
                        ),
                    );
                }
            }
        };
    }
    loop {
        if *drain.borrow() {
            return End::Close(close_code::AWAY, "the server is shutting down".into());
        }
        tokio::select! {
            biased;
            _ = drain.changed() => continue,
            () = shed.notified() => {
                return End::Close(
                    close_code::POLICY,
                    format!("the client is not reading: {} frames are queued for it", state.config.ws_outbox_frames),
                );
            }
            Some((answer, result)) = in_flight.next(), if !in_flight.is_empty() => {
                write!(answer_frame(answer, result));
            }
            Some(msg) = inbox.recv() => {
                let v = json!({
                    "type": "message",
                    "from": msg.sender.map(|s| From { id: s.get(), name: None }),
                    "performative": wire::performative_name(msg.performative),
                    "payload": Payload::like(true, msg.payload.clone()),
                });
                write!(text_frame(v));
            }
            frame = socket.recv(), if in_flight.len() < max_in_flight => {
                let frame = match frame {
                    None => return End::Gone,
                    Some(Ok(f)) => f,
                    Some(Err(e)) => return protocol_end(&e),
                };
                match frame {
                    Frame::Text(text) => {
                        match on_text(state, id, &text, &mut in_flight).await {
                            Ok(Some(reply)) => write!(reply),
                            Ok(None) => {}
                            Err((reference, e)) => write!(error_frame(reference, &e)),
                        }
                    }
                    Frame::Binary(data) => match on_binary(state, id, default_to.as_ref(), data) {
                        Ok(fut) => in_flight.push(fut),
                        Err((reference, e)) => write!(error_frame(reference, &e)),
                    },
                    Frame::Close(_) => return End::Gone,
                    // Pings are answered by the socket itself.
                    Frame::Ping(_) | Frame::Pong(_) => {}
                }
            }
        }
    }
}

/// The close code for a protocol error: bad UTF-8 is 1007, a message
/// over the limit 1009, anything else 1002.
fn protocol_end(e: &axum::Error) -> End {
    let text = e.to_string();
    let source = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
    let all = format!("{text}: {source}");
    if all.contains("UTF-8") || all.contains("utf-8") || all.contains("Utf8") {
        End::Close(close_code::INVALID, format!("invalid UTF-8 in a text frame: {text}"))
    } else if all.contains("too long") || all.contains("too big") || all.contains("Space limit") {
        End::Close(close_code::SIZE, format!("frame over the limit: {text}"))
    } else {
        End::Close(close_code::PROTOCOL, format!("protocol error: {text}"))
    }
}

fn answer_frame(answer: Answer, result: Result<Message, ApiError>) -> Frame {
    match (answer, result) {
        (Answer::Json { reference, text }, Ok(reply)) => {
            let mut v = serde_json::to_value(reply_json(reply, text)).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), json!("reply"));
                o.insert("ref".into(), json!(reference));
            }
            text_frame(v)
        }
        (Answer::Binary { reference }, Ok(reply)) => {
            let mut out = BytesMut::with_capacity(8 + reply.payload.len());
            out.put_u64_le(reference);
            out.put_slice(&reply.payload);
            Frame::Binary(out.freeze())
        }
        (Answer::Json { reference, .. }, Err(e)) => error_frame(reference, &e),
        (Answer::Binary { reference }, Err(e)) => error_frame(Some(reference), &e),
    }
}

type OpError = (Option<u64>, ApiError);

async fn on_text(
    state: &AppState,
    id: AgentId,
    text: &str,
    in_flight: &mut FuturesUnordered<InFlight>,
) -> Result<Option<Frame>, OpError> {
    let op: Op = serde_json::from_str::<serde_json::Value>(text)
        .and_then(|mut v| {
            // `type` is accepted for `op`, the name some clients use.
            if let Some(o) = v.as_object_mut()
                && !o.contains_key("op")
                && let Some(t) = o.remove("type")
            {
                o.insert("op".into(), t);
            }
            serde_json::from_value(v)
        })
        .map_err(|e| {
            (
                None,
                ApiError::bad_request("invalid_json", format!("invalid JSON frame: {e}")),
            )
        })?;
    match op {
        Op::Send {
            reference,
            to,
            performative,
            payload,
        } => {
            let performative = perf(performative.as_deref(), Performative::Inform).map_err(|e| (reference, e))?;
            let address = to.address().map_err(|e| (reference, e))?;
            let msg = Message::new(address, performative, payload.into_bytes()).with_sender(id);
            state
                .send_routed(Route::WsSend, msg)
                .await
                .map_err(|e| (reference, e))?;
            Ok(Some(text_frame(json!({ "type": "accepted", "ref": reference }))))
        }
        Op::Request {
            reference,
            to,
            performative,
            payload,
            timeout_ms,
        } => {
            let performative = perf(performative.as_deref(), Performative::Request).map_err(|e| (reference, e))?;
            let address = to.address().map_err(|e| (reference, e))?;
            let timeout = state.request_timeout(timeout_ms).map_err(|e| (reference, e))?;
            let text = payload.is_text();
            let msg = Message::new(address, performative, payload.into_bytes()).with_sender(id);
            in_flight.push(request(state, msg, timeout, Answer::Json { reference, text }));
            Ok(None)
        }
        Op::Broadcast {
            reference,
            capability,
            to,
            performative,
            payload,
        } => {
            let body = BroadcastBody {
                capability,
                to,
                performative,
                payload,
                timeout_ms: None,
            };
            let mut v = state
                .broadcast_routed(Route::WsBroadcast, body)
                .await
                .map_err(|e| (reference, e))?;
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), json!("broadcast"));
                o.insert("ref".into(), json!(reference));
            }
            Ok(Some(text_frame(v)))
        }
    }
}

fn perf(p: Option<&str>, default: Performative) -> Result<Performative, ApiError> {
    p.map_or(Ok(default), wire::parse_performative)
}

fn on_binary(state: &AppState, id: AgentId, default_to: Option<&Address>, data: Bytes) -> Result<InFlight, OpError> {
    if data.len() < 8 {
        return Err((
            None,
            ApiError::bad_request(
                "bad_request",
                format!(
                    "a binary frame starts with an 8-byte ref; this one has {} bytes",
                    data.len()
                ),
            ),
        ));
    }
    let reference = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
    let Some(to) = default_to else {
        return Err((
            Some(reference),
            ApiError::bad_request(
                "invalid_address",
                "binary frames go to the session's target: open it as /v1/ws?to=ADDRESS",
            ),
        ));
    };
    let msg = Message::new(to.clone(), Performative::Request, data.slice(8..)).with_sender(id);
    let timeout = state.config.default_request_timeout;
    Ok(request(state, msg, timeout, Answer::Binary { reference }))
}

fn request(state: &AppState, msg: Message, timeout: Duration, answer: Answer) -> InFlight {
    let state = state.clone();
    Box::pin(async move {
        let result = state.request_now(Route::WsRequest, msg, timeout).await;
        (answer, result)
    })
}
