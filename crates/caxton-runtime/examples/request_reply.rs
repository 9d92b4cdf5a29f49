//! Request/reply with a timeout, and the typed errors a caller gets.
//!
//! `request` sends a message and waits for the agent's reply, up to the
//! timeout (waiting for mailbox space included). It never hangs: an unknown
//! agent, a failing handler or a silent agent each give a typed error.
//!
//! Run with `cargo run -p caxton-runtime --example request_reply`.

use std::time::Duration;

use caxton_runtime::{Agent, AgentError, AgentSpec, Context, Message, Orchestrator, Performative};

/// Upper-cases what it is asked; stays silent on "ignore".
struct Shout;

impl Agent for Shout {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let text = String::from_utf8_lossy(&msg.payload).to_uppercase();
        if text == "IGNORE" {
            return Ok(());
        }
        ctx.reply(Performative::Inform, text)
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orch = Orchestrator::new();
    let shout = orch.spawn(AgentSpec::new(|| Shout).name("shout"))?;
    let t = Duration::from_millis(200);

    let reply = orch.request(Message::request(shout, "hello"), t).await?;
    println!("reply: {}", String::from_utf8_lossy(&reply.payload));

    // Each failure is a `RequestError` that says what happened.
    let silent = orch.request(Message::request(shout, "ignore"), t).await;
    println!("silent agent: {}", silent.unwrap_err());
    let unknown = orch
        .request(Message::request(caxton_runtime::Address::name("nobody"), "hi"), t)
        .await;
    println!("unknown agent: {}", unknown.unwrap_err());

    orch.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
