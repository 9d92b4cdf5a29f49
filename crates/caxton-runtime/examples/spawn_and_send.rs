//! Spawn an agent and send it messages.
//!
//! An agent is anything that implements [`Agent`]; the orchestrator runs
//! each one on its own task with a bounded mailbox. `send` waits while the
//! mailbox is full; `try_send` hands the message back instead.
//!
//! Run with `cargo run -p caxton-runtime --example spawn_and_send`.

use std::time::Duration;

use caxton_runtime::{Agent, AgentError, AgentSpec, Context, Message, Orchestrator};

/// Counts the bytes it is sent.
#[derive(Default)]
struct ByteCounter {
    bytes: usize,
}

impl Agent for ByteCounter {
    fn handle(&mut self, _ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        self.bytes += msg.payload.len();
        println!(
            "  got {:?}, {} bytes so far",
            String::from_utf8_lossy(&msg.payload),
            self.bytes
        );
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orch = Orchestrator::new();
    let id = orch.spawn(AgentSpec::new(ByteCounter::default).mailbox_capacity(8))?;

    for word in ["hello", "agent", "world"] {
        orch.send(Message::inform(id, word)).await?;
    }
    orch.try_send(Message::inform(id, "without waiting"))?;

    // Shutdown lets every agent handle what it accepted, then reports.
    let report = orch.shutdown(Duration::from_secs(1)).await;
    println!(
        "{} agent(s) drained, {} message(s) handled",
        report.agents_drained, report.messages_drained
    );
    Ok(())
}
