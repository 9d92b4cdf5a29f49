//! Caxton's network front door: one [`caxton_runtime::Orchestrator`]
//! behind HTTP/1.1 and WebSocket (axum), with Prometheus metrics.
//!
//! The API is described in `docs/server-api.md`: a versioned JSON API under
//! `/v1` to spawn, inspect and stop agents, upload WASM modules, send,
//! request and broadcast; raw-bytes routes for the throughput path; and
//! WebSocket sessions that are client mailboxes agents can send to.
//! Every failure is a status code that means something and a JSON body
//! that names the problem; every buffer a client can fill is bounded.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use caxton_server::{AppState, Server, ServerConfig};
//!
//! let orch = caxton_runtime::Orchestrator::new();
//! let state = AppState::new(orch, ServerConfig::default(), None);
//! let server = Server::bind(state).await?;
//! println!("listening on {}", server.local_addr()?);
//! let report = server.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! println!("{report:?}");
//! # Ok(()) }
//! ```

// Module dependencies point one way: `serve` -> `routes` -> `session` ->
// `dispatch` (the calls into the orchestrator) -> `state` -> `metrics` ->
// `kinds`, `live`; `wire`, `extract`, `config` and `error` are leaves.
pub mod config;
pub mod dispatch;
pub mod error;
pub mod extract;
pub mod kinds;
pub mod live;
pub mod metrics;
pub mod routes;
pub mod serve;
pub mod session;
pub mod state;
pub mod wire;

pub use config::{ConfigError, ServerConfig};
pub use error::ApiError;
pub use serve::Server;
pub use state::AppState;
