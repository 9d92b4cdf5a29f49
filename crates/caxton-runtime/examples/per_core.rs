//! Agents on the orchestrator's own threads, one per core
//! (`Executor::PerCore`), driven from a plain thread with no runtime of
//! its own.
//!
//! By default agents are tasks on the tokio runtime the orchestrator is
//! made on, the faster choice when senders are tasks on that runtime. A
//! client on a thread of its own (a blocking program, FFI, a producer
//! thread) reaches agents faster on single-threaded loops, one per core,
//! each agent pinned to one for its life, as actix runs its actors.
//!
//! Run with `cargo run -p caxton-runtime --example per_core`.

use std::time::Duration;

use caxton_runtime::{
    Agent, AgentError, AgentSpec, Context, Executor, Message, Orchestrator, OrchestratorConfig, Performative,
};

/// Replies with the name of the thread that handled the message.
struct WhereAmI;

impl Agent for WhereAmI {
    fn handle(&mut self, ctx: &mut Context<'_>, _msg: &Message) -> Result<(), AgentError> {
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        ctx.reply(Performative::Inform, thread)
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No runtime is needed to make it: it starts its own threads.
    let orch = Orchestrator::with_config(OrchestratorConfig {
        executor: Executor::PerCore { threads: 0 },
        ..OrchestratorConfig::default()
    });
    let ids = orch.spawn_many(&AgentSpec::new(|| WhereAmI), 4)?;

    // `request` is a future; any executor can wait for it.
    let client = tokio::runtime::Builder::new_current_thread().build()?;
    for id in ids {
        let reply = client.block_on(orch.request(Message::request(id, "where?"), Duration::from_secs(1)))?;
        println!("{id} runs on {}", String::from_utf8_lossy(&reply.payload));
    }

    // Shutdown drains every agent; the threads end with the orchestrator.
    let report = client.block_on(orch.shutdown(Duration::from_secs(1)));
    println!("{} agents drained", report.agents_drained);
    Ok(())
}
