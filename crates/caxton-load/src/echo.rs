//! The bare echo server: the floor the front door's overhead is measured
//! against. No routing, no JSON, no orchestrator: `POST` to any path
//! answers 200 with the request body, `GET /v1/ws` echoes binary frames.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;

/// The request body limit, as a typical server sets it: 2 MiB, so 1 MiB
/// payloads fit.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The first frame of every session, shaped like the front door's so the
/// load generator's WebSocket mode works unchanged.
pub const WELCOME: &str = r#"{"type":"welcome","session":{"id":0,"name":"bare"}}"#;

/// The echo server's routes: `GET /v1/ws`, and everything else falls back
/// to the echo handler.
pub fn router() -> Router {
    Router::new()
        .route("/v1/ws", get(ws_upgrade))
        .fallback(echo)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// `POST` any path: 200 with the body as `application/octet-stream`;
/// other methods 405.
async fn echo(method: Method, body: Bytes) -> Response {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

async fn ws_upgrade(ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(BODY_LIMIT).on_upgrade(echo_session)
}

/// Sends the welcome, then echoes binary frames as they are; text frames
/// are ignored (the bare server has no operations).
async fn echo_session(mut socket: WebSocket) {
    if socket.send(Message::Text(WELCOME.into())).await.is_err() {
        return;
    }
    while let Some(Ok(msg)) = socket.recv().await {
        let echo = match msg {
            Message::Binary(b) => Message::Binary(b),
            Message::Close(_) => return,
            _ => continue,
        };
        if socket.send(echo).await.is_err() {
            return;
        }
    }
}

/// Serves on `listener` (with TCP_NODELAY, as the front door) until
/// `shutdown` (see [`shutdown_signal`]), then stops accepting,
/// gives open connections up to two seconds and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stop.clone();
    // TCP_NODELAY, like the front door: replies leave at once.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, router()).with_graceful_shutdown(async move {
        shutdown.await;
        signalled.notify_one();
    });
    tokio::select! {
        r = server => r,
        _ = async {
            stop.notified().await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        } => Ok(()),
    }
}

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// A future that resolves on SIGTERM or Ctrl-C. The handlers are
/// installed when this is called, not on first poll, so a signal sent as
/// soon as the server says it listens stops it gracefully instead of
/// killing it.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
