//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use caxton_runtime::{Agent, AgentError, AgentId, Context, Message};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost};

/// Timeout for requests in tests (generous: behaviour, not speed).
pub const T: Duration = Duration::from_secs(10);

/// A small pooling host with epoch CPU limits.
pub fn host() -> WasmHost {
    WasmHost::new(config()).expect("host")
}

/// The small pooling configuration the tests use.
pub fn config() -> HostConfig {
    HostConfig::pooling(64, 32 << 20)
}

/// Tight limits so misbehaving guests are stopped quickly.
pub fn limits() -> AgentLimits {
    AgentLimits::default()
        .max_memory(4 << 20)
        .cpu_time(Some(Duration::from_millis(50)))
        .fuel(Some(10_000_000))
}

/// Messages seen by a [`Recorder`]: sender and payload.
pub type Seen = Arc<Mutex<Vec<(Option<AgentId>, Bytes)>>>;

/// Records every message it receives.
pub struct Recorder(pub Seen);

impl Agent for Recorder {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        self.0.lock().unwrap().push((msg.sender, msg.payload.clone()));
        Ok(())
    }
}

/// Waits (polling) until `f` holds, up to [`T`].
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < T {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    f()
}
