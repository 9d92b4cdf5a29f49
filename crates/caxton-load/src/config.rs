//! What one run of the load generator does: mode, target, rate,
//! connections or sessions, timing and payload.

use std::time::Duration;

use crate::target::{Mode, Target};

/// Everything a run needs; [`LoadConfig::new`] gives the CLI's defaults.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// HTTP or WebSocket.
    pub mode: Mode,
    /// Where to.
    pub target: Target,
    /// Requests per second in total; 0 runs a closed loop.
    pub rate: u64,
    /// HTTP connections (concurrent requests at most).
    pub connections: usize,
    /// HTTP: a fresh connection for every request.
    pub new_connection_per_request: bool,
    /// WebSocket sessions held open for the run.
    pub sessions: usize,
    /// WebSocket handshakes in flight at once while opening sessions.
    pub open_concurrency: usize,
    /// The measured window.
    pub duration: Duration,
    /// Load before the measured window, not recorded.
    pub warmup: Duration,
    /// Request payload size.
    pub payload_bytes: usize,
    /// Per-request limit, counted from the intended send time (queueing
    /// included, like the latency); also the limit to open a session.
    pub timeout: Duration,
    /// HTTP `Content-Type`.
    pub content_type: String,
    /// Further HTTP headers.
    pub headers: Vec<(String, String)>,
    /// Names the target in the result variant, e.g. `front-door`, `bare-echo`.
    pub label: String,
    /// Print a progress line per second to stderr.
    pub progress: bool,
    /// How long before each intended send time the pacer stops sleeping
    /// and spins.
    pub spin: Duration,
}

impl LoadConfig {
    /// The defaults: 1000 req/s over 8 connections or 8 sessions, 10 s
    /// after 1 s of warmup, 1 KiB payloads, 5 s timeout.
    pub fn new(mode: Mode, target: Target) -> Self {
        Self {
            mode,
            target,
            rate: 1000,
            connections: 8,
            new_connection_per_request: false,
            sessions: 8,
            open_concurrency: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            payload_bytes: 1024,
            timeout: Duration::from_secs(5),
            content_type: "application/octet-stream".to_owned(),
            headers: Vec::new(),
            label: "target".to_owned(),
            progress: false,
            spin: Duration::from_micros(30),
        }
    }
}
