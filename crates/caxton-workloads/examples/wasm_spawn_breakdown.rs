//! Where a WASM agent's spawn time goes on a reused pool slot: raw
//! wasmtime (a store and `InstancePre::instantiate`), Caxton's host
//! (`WasmModule::instantiate`: store data, limiter, the ABI's typed
//! exports) and the orchestrator's `spawn_many` (all of that plus registry,
//! mailbox and task). Each repetition times a batch of each in turn on the
//! same prewarmed slots; the figures are medians per instance.
//!
//! Run with `cargo run --release -p caxton-workloads --features wasm
//! --example wasm_spawn_breakdown [REPS]` (default 15).

use std::time::Instant;

use caxton_runtime::Orchestrator;
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use caxton_workloads::spawn::{caxton_spawn_batch, stop_all};
use caxton_workloads::wasm::raw_instantiate_batch;

const BATCH: usize = 1000;

fn main() {
    let reps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(15);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let orch = Orchestrator::new();
        let host = WasmHost::new(HostConfig::pooling(2 * BATCH as u32, 4 << 20)).expect("a host");
        let echo = host.load(guests::ECHO).expect("the echo guest");
        echo.prewarm(BATCH).expect("prewarmed slots");
        let limits = AgentLimits::default().max_memory(4 << 20).cpu_time(None).fuel(None);
        let spec = echo.spec(limits);
        let per_us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / BATCH as f64;
        let (mut raw, mut host_only, mut spawn) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            let (stores, took) = raw_instantiate_batch(&echo, BATCH).expect("raw instances");
            drop(stores);
            raw.push(per_us(took));
            let start = Instant::now();
            let agents: Vec<_> = (0..BATCH)
                .map(|_| echo.instantiate(limits).expect("an agent"))
                .collect();
            host_only.push(per_us(start.elapsed()));
            drop(agents);
            let (ids, took) = caxton_spawn_batch(&orch, &spec, BATCH).expect("spawned");
            spawn.push(per_us(took));
            stop_all(&orch, &ids).await;
        }
        let median = |v: &[f64]| caxton_stats::median(v).unwrap_or(f64::NAN);
        println!("echo guest, batches of {BATCH} on reused pool slots, {reps} repetitions; us per instance, median");
        println!(
            "raw wasmtime (Store::new + InstancePre::instantiate)  {:.2}",
            median(&raw)
        );
        println!(
            "WasmModule::instantiate                               {:.2}",
            median(&host_only)
        );
        println!(
            "Orchestrator::spawn_many                              {:.2}",
            median(&spawn)
        );
        orch.shutdown(std::time::Duration::from_secs(5)).await;
    });
}
