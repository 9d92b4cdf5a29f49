//! A first look at Caxton: agents addressed by name and capability, a
//! request/reply, agents messaging each other, a panic survived, and a clean
//! shutdown.
//!
//! Run with `cargo run -p caxton-runtime --example hello_agents`.

use std::time::Duration;

use caxton_runtime::checkpoint::{decode, encode};
use caxton_runtime::{
    Address, Agent, AgentError, AgentSpec, CheckpointPolicy, Context, Message, Orchestrator, Performative,
};

/// Greets whoever asks, by name.
struct Greeter;

impl Agent for Greeter {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let who = String::from_utf8_lossy(&msg.payload);
        ctx.reply(Performative::Inform, format!("hello, {who} (from {})", ctx.id()))
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}

/// Keeps a running total; panics on "boom" to show supervision.
#[derive(Default)]
struct Tally {
    total: i64,
}

impl Agent for Tally {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let text = std::str::from_utf8(&msg.payload).map_err(|e| AgentError::handler(e.to_string()))?;
        match text {
            "boom" => panic!("tally was asked to explode"),
            "total" => ctx
                .reply(Performative::Inform, self.total.to_string())
                .map_err(|e| AgentError::handler(e.to_string())),
            n => {
                self.total += n
                    .parse::<i64>()
                    .map_err(|e| AgentError::handler(format!("{n:?}: {e}")))?;
                Ok(())
            }
        }
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        encode(&self.total).map(Some)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.total = decode(state)?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the demo's output readable: the panic below is expected.
    std::panic::set_hook(Box::new(|info| eprintln!("  (agent panicked: {info})")));
    let orch = Orchestrator::new();
    let t = Duration::from_secs(1);

    for i in 0..3 {
        orch.spawn(
            AgentSpec::new(|| Greeter)
                .name(format!("greeter-{i}"))
                .capability("greet"),
        )?;
    }
    let tally = orch.spawn(
        AgentSpec::new(Tally::default)
            .name("tally")
            .checkpoint_policy(CheckpointPolicy::EveryMessages(1)),
    )?;

    println!("request by name:");
    let reply = orch
        .request(Message::request(Address::name("greeter-0"), "newcomer"), t)
        .await?;
    println!("  {}", String::from_utf8_lossy(&reply.payload));

    println!("requests by capability (round-robin):");
    for _ in 0..3 {
        let reply = orch
            .request(Message::request(Address::capability("greet"), "you"), t)
            .await?;
        println!("  {}", String::from_utf8_lossy(&reply.payload));
    }

    println!("a tally that panics and is restarted from its checkpoint:");
    for n in ["5", "7", "boom", "30"] {
        orch.send(Message::inform(tally, n)).await?;
    }
    let total = orch
        .request(Message::request(Address::name("tally"), "total"), t)
        .await?;
    let stats = orch.stats(tally).expect("tally is running");
    println!(
        "  total = {} after {} restart(s); recovery took {:?}",
        String::from_utf8_lossy(&total.payload),
        stats.restarts,
        stats.recovery_times.first()
    );
    for dead in orch.recent_dead_letters() {
        println!(
            "  dead letter: {:?} -> {:?}",
            String::from_utf8_lossy(&dead.message.payload),
            dead.reason
        );
    }

    println!("a message to nobody is a typed error:");
    if let Err(e) = orch.try_send(Message::inform(Address::name("nobody"), "?")) {
        println!("  {e}");
    }

    let report = orch.shutdown(t).await;
    println!(
        "shutdown: {} agents stopped, {} undelivered",
        report.agents_drained,
        report.undelivered.len()
    );
    Ok(())
}
