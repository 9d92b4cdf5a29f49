//! Limits and faults: a guest that misbehaves is stopped, typed and restarted.
//!
//! Each agent has a CPU budget per message, a memory limit, a payload limit
//! and an outbox limit. Going past one traps the call; the trap becomes a
//! typed fault (a dead letter for the message) and the supervisor restarts
//! the agent, while everyone else keeps running. A payload over the limit
//! is refused to its sender before the guest sees it.
//!
//! Run with `cargo run -p caxton-wasm --example limits_and_faults`.

use std::time::Duration;

use caxton_runtime::{DeadLetterReason, Message, Orchestrator};
use caxton_wasm::guests::misbehave;
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = WasmHost::new(HostConfig::default())?;
    let module = host.load_async(guests::MISBEHAVE).await?;
    let limits = AgentLimits::default()
        .max_memory(4 << 20)
        .cpu_time(Some(Duration::from_millis(50)))
        .max_message_bytes(64 << 10);
    let orch = Orchestrator::new();
    let id = orch.spawn(module.spec(limits))?;
    let t = Duration::from_secs(2);

    // The misbehave guest's commands: spin forever, allocate without
    // bound, trap, and queue 256 MiB of replies.
    for command in [
        misbehave::LOOP,
        misbehave::GROW,
        misbehave::UNREACHABLE,
        misbehave::FLOOD,
    ] {
        let err = orch.request(Message::request(id, command), t).await.unwrap_err();
        println!("{:>12}: {err}", String::from_utf8_lossy(command));
    }
    let big = orch.try_send(Message::inform(id, vec![0u8; 1 << 20])).unwrap_err();
    println!("{:>12}: {}", "1 MiB", big.kind);

    let ok = orch.request(Message::request(id, "hello"), t).await?;
    let restarts = orch.stats(id).map_or(0, |s| s.restarts);
    println!(
        "still serving ({}), after {restarts} restarts",
        String::from_utf8_lossy(&ok.payload)
    );
    for dead in orch.recent_dead_letters() {
        if let DeadLetterReason::Fault { kind, .. } = dead.reason {
            println!(
                "  dead letter {:?}: {kind:?}",
                String::from_utf8_lossy(&dead.message.payload)
            );
        }
    }
    orch.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
