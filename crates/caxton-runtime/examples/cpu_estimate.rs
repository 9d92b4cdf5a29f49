//! How close the default CPU accounting ([`CpuClock::Sampled`]) comes to the
//! thread CPU clock ([`CpuClock::Thread`]), and what the wall clock would
//! say, on three agents:
//!
//! * **spin**: CPU-bound, every message spins 100 µs of thread CPU time
//!   (long batches);
//! * **mixed**: one message in 20 spins 200 µs, the rest return at once;
//! * **echo**: mostly waiting, request/reply one at a time (one short
//!   batch per message).
//!
//! For the spinning agents the truth is the CPU time the handlers measure
//! themselves (their own two thread-clock reads included); the echo's
//! handler measures nothing (two reads would cost more than it does), so
//! its figure to compare is the thread clock's, per batch. `--hog` adds two threads that spin for the whole run,
//! so the workers are preempted (what inflates the wall clock).
//!
//! ```sh
//! cargo run --release -p caxton-runtime --example cpu_estimate
//! cargo run --release -p caxton-runtime --example cpu_estimate -- --hog
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use caxton_runtime::cpu::thread_cpu_time;
use caxton_runtime::{
    Agent, AgentError, AgentSpec, Context, CpuClock, Message, Orchestrator, OrchestratorConfig, Performative,
};

/// Spins `spin` of thread CPU on every `every`-th message, adds what its
/// handler took (thread clock) to `truth`, and replies to requests. With
/// `every == 0` it only replies and measures nothing.
struct Worker {
    spin: Duration,
    every: u64,
    seen: u64,
    truth: Arc<AtomicU64>,
}

impl Agent for Worker {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if self.every == 0 {
            // The echo: no clock reads of its own, which would cost more
            // than the rest of its handler.
            return ctx
                .reply(Performative::Inform, msg.payload.clone())
                .map_err(|e| AgentError::handler(e.to_string()));
        }
        let start = thread_cpu_time();
        self.seen += 1;
        if self.seen.is_multiple_of(self.every) {
            while thread_cpu_time().saturating_sub(start) < self.spin {
                std::hint::spin_loop();
            }
        }
        if ctx.reply_expected() {
            ctx.reply(Performative::Inform, msg.payload.clone())
                .map_err(|e| AgentError::handler(e.to_string()))?;
        }
        let took = thread_cpu_time().saturating_sub(start);
        self.truth.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// One agent's figures on one clock.
struct Row {
    handler_cpu: Duration,
    truth: Duration,
    batches: u64,
}

/// Runs `messages` messages through a fresh agent on `clock`: sent in
/// bursts of 8 (`send`), or as one-at-a-time requests.
async fn run(clock: CpuClock, spin: Duration, every: u64, messages: u64, requests: bool) -> Row {
    let orch = Orchestrator::with_config(OrchestratorConfig {
        cpu_clock: clock,
        ..OrchestratorConfig::default()
    });
    let truth = Arc::new(AtomicU64::new(0));
    let t = truth.clone();
    let id = orch
        .spawn(AgentSpec::new(move || Worker {
            spin,
            every,
            seen: 0,
            truth: t.clone(),
        }))
        .expect("spawn");
    let driver = {
        let orch = orch.clone();
        tokio::spawn(async move {
            for i in 0..messages {
                if requests {
                    orch.request(Message::request(id, "x"), Duration::from_secs(10))
                        .await
                        .expect("reply");
                } else {
                    orch.send(Message::inform(id, "x")).await.expect("send");
                    if i % 8 == 7 {
                        tokio::task::yield_now().await;
                    }
                }
            }
        })
    };
    driver.await.expect("driver");
    while orch.stats(id).expect("live").messages_handled < messages {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The batch's time is published just after its last message.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let st = orch.stats(id).expect("live");
    orch.shutdown(Duration::from_secs(5)).await;
    Row {
        handler_cpu: st.handler_cpu,
        truth: Duration::from_nanos(truth.load(Ordering::Relaxed)),
        batches: st.batches,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let hog = std::env::args().any(|a| a == "--hog");
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..if hog { 2 } else { 0 })
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    println!(
        "per-agent handler CPU by clock{} (rounds interleaved; truth = the handlers' own thread-clock sum)",
        if hog { ", two hog threads spinning" } else { "" }
    );
    println!(
        "{:<6} {:<8} {:>6} {:>12} {:>12} {:>9} {:>12}",
        "agent", "clock", "round", "handler_cpu", "truth", "ratio", "per batch"
    );
    let agents: [(&str, Duration, u64, u64, bool); 3] = [
        ("spin", Duration::from_micros(100), 1, 2_000, false),
        ("mixed", Duration::from_micros(200), 20, 10_000, false),
        ("echo", Duration::ZERO, 0, 20_000, true),
    ];
    for (name, spin, every, messages, requests) in agents {
        for round in 0..3 {
            for clock in [CpuClock::Sampled, CpuClock::Thread, CpuClock::Wall] {
                let r = run(clock, spin, every, messages, requests).await;
                // The echo measures no truth of its own: no ratio.
                let ratio = if r.truth.is_zero() {
                    "-".to_owned()
                } else {
                    format!("{:.3}", r.handler_cpu.as_secs_f64() / r.truth.as_secs_f64())
                };
                println!(
                    "{:<6} {:<8} {:>6} {:>10.3}ms {:>10.3}ms {:>9} {:>10.0}ns",
                    name,
                    clock.name(),
                    round,
                    r.handler_cpu.as_secs_f64() * 1e3,
                    r.truth.as_secs_f64() * 1e3,
                    ratio,
                    r.handler_cpu.as_nanos() as f64 / r.batches.max(1) as f64,
                );
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        let _ = h.join();
    }
}
