//! Addressing agents by name and by capability, and broadcasting.
//!
//! A send to a capability picks one capable agent (round-robin by default,
//! or least-loaded); a broadcast gives every capable agent a copy.
//!
//! Run with `cargo run -p caxton-runtime --example capability_routing`.

use std::time::Duration;

use caxton_runtime::{Address, Agent, AgentError, AgentSpec, Context, Message, Orchestrator, Performative};

/// Says who it is.
struct Worker(&'static str);

impl Agent for Worker {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if ctx.reply_expected() {
            ctx.reply(Performative::Inform, self.0)
                .map_err(|e| AgentError::handler(e.to_string()))?;
        } else {
            println!("  {} got a copy of {:?}", self.0, String::from_utf8_lossy(&msg.payload));
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orch = Orchestrator::new();
    for name in ["ada", "grace", "edsger"] {
        orch.spawn(AgentSpec::new(move || Worker(name)).name(name).capability("compile"))?;
    }
    let t = Duration::from_secs(1);

    let by_name = orch
        .request(Message::request(Address::name("grace"), "who?"), t)
        .await?;
    println!("by name: {}", String::from_utf8_lossy(&by_name.payload));

    println!("by capability, round-robin:");
    for _ in 0..3 {
        let reply = orch
            .request(Message::request(Address::capability("compile"), "who?"), t)
            .await?;
        println!("  {}", String::from_utf8_lossy(&reply.payload));
    }

    println!("broadcast:");
    let sent = orch.broadcast("compile", Message::inform(Address::capability("compile"), "release"))?;
    println!("  delivered to {} agents", sent.delivered.len());

    orch.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
