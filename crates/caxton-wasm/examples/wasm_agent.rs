//! A WebAssembly agent: load a guest module, spawn it, talk to it.
//!
//! The orchestrator treats a WASM agent like a native one: the same spawn,
//! send and request calls. The module is compiled once (and cached), then
//! each spawn instantiates it from a pre-instantiated pool slot.
//!
//! Run with `cargo run -p caxton-wasm --example wasm_agent`.

use std::time::Duration;

use caxton_runtime::{Message, Orchestrator};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = WasmHost::new(HostConfig::default())?;
    // Any module that follows docs/guest-abi.md; here the echo guest.
    let echo = host.load_async(guests::ECHO).await?;
    println!("module loaded ({:?})", echo.origin());

    let orch = Orchestrator::new();
    let id = orch.spawn(echo.spec(AgentLimits::default()).name("echo"))?;
    let reply = orch
        .request(Message::request(id, "hello, guest"), Duration::from_secs(1))
        .await?;
    println!("reply: {}", String::from_utf8_lossy(&reply.payload));

    let stats = orch.stats(id).expect("running");
    println!("linear memory: {:?} bytes", stats.memory_bytes);
    orch.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
