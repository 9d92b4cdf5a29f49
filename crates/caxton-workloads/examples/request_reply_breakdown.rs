//! Where a request/reply round trip's time goes beyond raw tokio's (an
//! mpsc send and a oneshot reply): Caxton's routing alone (handler time
//! off, no deadline), then with the default handler timing
//! (`CpuClock::Sampled`), then with a deadline too (the default: what the
//! suite's latency row measures). The requester is a task on the same
//! runtime as the echo agent, one request in flight, 64 B payload; each
//! round runs every member in an order that rotates, and the figures are
//! the medians over rounds of each member's p50 and of its ratio to raw
//! tokio's p50 in the same round.
//!
//! Run with `cargo run --release -p caxton-workloads --example
//! request_reply_breakdown [ROUNDS]` (default 9).

use std::time::Duration;

use bytes::Bytes;
use caxton_profiling::LatencyRecorder;
use caxton_runtime::{CpuClock, Orchestrator, OrchestratorConfig};
use caxton_stats::median;
use caxton_workloads::pingpong::{REQUEST_TIMEOUT, RawEcho, caxton_round_trips_with_timeout, spawn_echo};

const ROUND_TRIPS: u64 = 100_000;

/// The p50, in ns, of `n` sequential requests to `echo`, each given
/// `timeout` (`Duration::MAX`: no deadline).
async fn p50_ns(orch: &Orchestrator, echo: caxton_runtime::AgentId, timeout: Duration, payload: &Bytes) -> f64 {
    let mut rec = LatencyRecorder::new();
    caxton_round_trips_with_timeout(orch, echo, ROUND_TRIPS, payload.clone(), timeout, |d| rec.record(d))
        .await
        .expect("the echo agent replies");
    rec.quantile_ns(0.5) as f64
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(9);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let task = rt.spawn(async move {
        let untimed = Orchestrator::with_config(OrchestratorConfig {
            cpu_clock: CpuClock::Off,
            ..OrchestratorConfig::default()
        });
        let default = Orchestrator::new();
        let (untimed_echo, echo) = (spawn_echo(&untimed).expect("echo"), spawn_echo(&default).expect("echo"));
        let raw = RawEcho::spawn();
        let payload = Bytes::from_static(&[7u8; 64]);
        let names = [
            "raw tokio mpsc + oneshot",
            "caxton: routing only (handler time off, no deadline)",
            "  + handler time (CpuClock::Sampled, the default)",
            "  + a deadline (the default request)",
        ];
        let mut p50s = vec![Vec::new(); names.len()];
        // Round 0 warms up and is not kept.
        for round in 0..=rounds {
            let mut this = [0.0; 4];
            for k in 0..names.len() {
                let member = (round + k) % names.len();
                this[member] = match member {
                    0 => {
                        let mut rec = LatencyRecorder::new();
                        raw.round_trips(ROUND_TRIPS, payload.clone(), |d| rec.record(d)).await;
                        rec.quantile_ns(0.5) as f64
                    }
                    1 => p50_ns(&untimed, untimed_echo, Duration::MAX, &payload).await,
                    2 => p50_ns(&default, echo, Duration::MAX, &payload).await,
                    _ => p50_ns(&default, echo, REQUEST_TIMEOUT, &payload).await,
                };
            }
            if round > 0 {
                for (m, p) in this.iter().enumerate() {
                    p50s[m].push((*p, p / this[0]));
                }
            }
        }
        println!("request/reply, 64 B, one in flight, {rounds} rounds of {ROUND_TRIPS} round trips each");
        for (name, samples) in names.iter().zip(&p50s) {
            let p50: Vec<f64> = samples.iter().map(|s| s.0).collect();
            let ratio: Vec<f64> = samples.iter().map(|s| s.1).collect();
            println!(
                "  {name:<54} p50 {:>5.0} ns   / raw tokio {:.2}",
                median(&p50).unwrap_or(f64::NAN),
                median(&ratio).unwrap_or(f64::NAN)
            );
        }
        default.shutdown(Duration::from_secs(5)).await;
        untimed.shutdown(Duration::from_secs(5)).await;
    });
    rt.block_on(task).expect("the measuring task");
}
