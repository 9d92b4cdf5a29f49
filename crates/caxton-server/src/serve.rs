//! Accepting connections: HTTP/1.1 with keep-alive and upgrades, at most
//! `max_connections` at once (more get 503 and are closed), a header read
//! timeout for slow clients, and a graceful drain.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use caxton_runtime::ShutdownReport;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

/// Connections refused with 503 that may be answered at once; past this
/// an over-limit connection is closed without an answer.
const REFUSALS_IN_FLIGHT: usize = 64;

/// A running server: its address, and how to stop it.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Binds the listening socket.
    pub async fn bind(state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(state.config.listen).await?;
        // A node restarts the agents of dead nodes through the front
        // door's own spawn logic.
        if let Some(node) = &state.node {
            node.set_respawner(std::sync::Arc::new(crate::routes::FrontDoorRespawner::new(&state)));
        }
        Ok(Self { listener, state })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (for embedding: the orchestrator is `state.orch`).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains: stops accepting,
    /// refuses new requests (503), lets requests in flight finish and
    /// closes WebSocket sessions (1001), then shuts the orchestrator down
    /// (with a node: the node, which also releases its name); all within
    /// the drain timeout. Returns the orchestrator's report.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> ShutdownReport {
        let Self { listener, state } = self;
        let app: Router = routes::router(state.clone());
        let permits = Arc::new(Semaphore::new(state.config.max_connections));
        let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                a = listener.accept() => a,
            };
            let stream = match accepted {
                Ok((stream, _peer)) => stream,
                // Out of file descriptors and the like: back off, go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    let guard = state.connections.enter();
                    let app = app.clone();
                    let state = state.clone();
                    tokio::spawn(async move {
                        state.metrics.http_connections.inc();
                        serve_connection(&state, stream, app).await;
                        state.metrics.http_connections.dec();
                        drop(permit);
                        drop(guard);
                    });
                }
                Err(_) => {
                    if let Ok(permit) = refusals.clone().try_acquire_owned() {
                        let limit = state.config.max_connections;
                        let timeout = state.config.header_read_timeout;
                        tokio::spawn(async move {
                            refuse(stream, limit, timeout).await;
                            drop(permit);
                        });
                    }
                }
            }
        }
        drop(listener);
        let deadline = Instant::now() + state.config.drain_timeout;
        state.start_draining();
        // Connections finish the request in hand and close; sessions close
        // with 1001 and stop their agents.
        let _ = tokio::time::timeout_at(deadline, state.connections.wait_zero()).await;
        let _ = tokio::time::timeout_at(deadline, state.sessions.wait_zero()).await;
        let left = deadline.saturating_duration_since(Instant::now());
        match &state.node {
            // Unsubscribes the agents, shuts the orchestrator down and
            // releases the node's name in the lattice.
            Some(node) => node.shutdown(left).await,
            None => state.orch.shutdown(left).await,
        }
    }
}

/// Serves one connection until it closes, or gracefully once the drain
/// begins.
async fn serve_connection(state: &AppState, stream: TcpStream, app: Router) {
    let service = TowerToHyperService::new(app);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut drain = state.drain_signal();
    if !*drain.borrow() {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = drain.changed() => {}
        }
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Answers a connection over the limit with 503 and closes it.
async fn refuse(stream: TcpStream, limit: usize, timeout: Duration) {
    let service = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
        let e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            format!("the server is at its limit of {limit} connections; retry later"),
        );
        let mut response: Response<Body> = axum::response::IntoResponse::into_response(e);
        let h = response.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        Ok::<_, Infallible>(response)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(timeout, conn).await;
}
