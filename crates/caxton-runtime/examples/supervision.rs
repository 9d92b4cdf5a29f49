//! Supervision: a panicking handler is restarted from its last checkpoint.
//!
//! The message that faulted becomes a dead letter; the agent resumes from
//! its last checkpoint with its queued messages kept. Past its restart
//! policy the agent fails: the rest of its queue is dead-lettered and the
//! failure reported.
//!
//! Run with `cargo run -p caxton-runtime --example supervision`.

use std::time::Duration;

use caxton_runtime::checkpoint::{decode, encode};
use caxton_runtime::{
    Agent, AgentError, AgentSpec, CheckpointPolicy, Context, Message, Orchestrator, Performative, RestartPolicy,
};

/// Keeps a running total; panics on "boom".
#[derive(Default)]
struct Tally {
    total: i64,
}

impl Agent for Tally {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        match &msg.payload[..] {
            b"boom" => panic!("asked to explode"),
            b"total" => ctx
                .reply(Performative::Inform, self.total.to_string())
                .map_err(|e| AgentError::handler(e.to_string())),
            n => {
                let n: i64 = String::from_utf8_lossy(n)
                    .parse()
                    .map_err(|e| AgentError::handler(format!("not a number: {e}")))?;
                self.total += n;
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
    // The panics below are expected; keep the output short.
    std::panic::set_hook(Box::new(|info| eprintln!("  (panic: {info})")));
    let orch = Orchestrator::new();
    let tally = orch.spawn(
        AgentSpec::new(Tally::default)
            .checkpoint_policy(CheckpointPolicy::EveryMessages(1))
            .restart_policy(RestartPolicy {
                max_restarts: 2,
                window: Duration::from_secs(60),
            }),
    )?;
    let t = Duration::from_secs(1);

    for n in ["5", "7", "boom", "30"] {
        orch.send(Message::inform(tally, n)).await?;
    }
    let total = orch.request(Message::request(tally, "total"), t).await?;
    let stats = orch.stats(tally).expect("running");
    println!(
        "total {} after {} restart(s)",
        String::from_utf8_lossy(&total.payload),
        stats.restarts
    );

    // Two more faults exceed the policy: the agent fails, properly.
    for m in ["boom", "boom", "1", "2"] {
        let _ = orch.try_send(Message::inform(tally, m));
    }
    orch.wait_idle().await;
    for failure in orch.failures() {
        println!("failed: {} ({})", failure.agent, failure.reason);
    }
    println!("dead letters: {:?}", orch.dead_letter_counts().by_reason);
    Ok(())
}
