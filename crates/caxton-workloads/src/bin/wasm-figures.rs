//! Prints the WASM host's headline figures, measured in one run: module
//! compile time, spawn cost (pooling + `InstancePre` vs on-demand, beside
//! raw wasmtime instantiation), host->guest round trip, the compute
//! kernels' WASM/native ratios, memory per live agent, and routed
//! throughput to 1000 WASM vs 1000 native echo agents.
//!
//! Run with `cargo run --release -p caxton-workloads --features wasm --bin wasm-figures`.
//!
//! The spawn batches, request round trips and routed sends are the shared
//! workloads ([`caxton_spawn_batch`], [`caxton_round_trips`], [`drive`]
//! with the workloads' counting [`Sink`]), RSS is
//! [`caxton_profiling::process::rss_bytes`], medians and geometric means
//! are `caxton_stats`'. Where the shared workloads differ from the loops
//! this program had of its own:
//!
//! * routed throughput: the sink counts replies with a
//!   [`Tally`](caxton_workloads::agents::Tally) and the driver waits on its
//!   [`Completion`] (woken by the last reply) where it polled a counter
//!   every 200 us, so the clock stops at the last reply rather than up to
//!   200 us after it; the 16-byte payloads are [`Payloads`] (a marker
//!   byte, then filler) instead of `0123456789abcdef`;
//! * the request round trips time out after
//!   [`REQUEST_TIMEOUT`](caxton_workloads::pingpong::REQUEST_TIMEOUT)
//!   (10 s) instead of 1 s, which only bounds a hang.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_kernels::Kernel;
use caxton_profiling::process::rss_bytes;
use caxton_runtime::{Agent, AgentId, AgentSpec, Message, Orchestrator, OrchestratorConfig, Performative};
use caxton_wasm::{AgentLimits, CpuMode, HostConfig, WasmHost, WasmModule, guests};
use caxton_workloads::agents::{Completion, Sink, counted};
use caxton_workloads::fanout::drive;
use caxton_workloads::payload::Payloads;
use caxton_workloads::pingpong::caxton_round_trips;
use caxton_workloads::spawn::caxton_spawn_batch;
use caxton_workloads::wasm::{native, overhead, raw_instantiate_batch};

/// Agents per spawn batch and per throughput fleet.
const AGENTS: usize = 1000;
/// Messages routed per throughput run.
const MESSAGES: u64 = 400_000;
/// Calls per round-trip measurement.
const CALLS: u32 = 200_000;
/// Pool large enough for a spawn batch plus a live fleet.
const POOL: u32 = 2 * AGENTS as u32 + 64;

fn pooling() -> HostConfig {
    HostConfig::pooling(POOL, 64 << 20)
}

fn per_us(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

/// Raw wasmtime: fresh store + `InstancePre::instantiate` + drop.
fn raw_instantiate_us(module: &WasmModule) -> f64 {
    let start = Instant::now();
    for _ in 0..AGENTS {
        drop(black_box(module.instantiate_raw().expect("instantiate")));
    }
    per_us(start.elapsed(), AGENTS)
}

/// Raw wasmtime with the whole batch alive at once (fresh pool slots).
fn raw_batch_us(module: &WasmModule) -> f64 {
    let (live, elapsed) = raw_instantiate_batch(module, AGENTS).expect("instantiate");
    drop(live);
    per_us(elapsed, AGENTS)
}

/// `orch.spawn` of a batch of agents (each ready to receive on return).
async fn spawn_batch_us<A: Agent>(spec: &AgentSpec<A>) -> f64 {
    let orch = Orchestrator::new();
    let (_, elapsed) = caxton_spawn_batch(&orch, spec, AGENTS).expect("spawn");
    orch.shutdown(Duration::from_secs(10)).await;
    per_us(elapsed, AGENTS)
}

/// Routes `MESSAGES` round-robin as requests to `AGENTS` echo agents whose
/// replies go to one sink; returns messages per second (request + reply
/// delivered), or NaN if the replies did not all arrive within 120 s.
async fn throughput<A: Agent>(spec: AgentSpec<A>) -> f64 {
    let orch = Orchestrator::with_config(OrchestratorConfig {
        cpu_clock: caxton_runtime::CpuClock::Off,
        ..OrchestratorConfig::default()
    });
    let (ids, _) = caxton_spawn_batch(&orch, &spec, AGENTS).expect("spawn");
    // The sink counts every reply; the last one it handles carries the last
    // round's marker (each echo agent replies in order), so the count
    // completes exactly when every reply has arrived.
    let completion = Completion::new();
    let c = completion.clone();
    let sink = orch
        .spawn(AgentSpec::new(move || counted(Sink, c.clone())).mailbox_capacity(MESSAGES as usize))
        .expect("sink");
    let payloads = Payloads::new(16);
    let run = drive(ids.len(), MESSAGES, &payloads, &completion, |i, payload| {
        orch.send(Message::new(ids[i], Performative::Request, payload).with_sender(sink))
    });
    let rate = match tokio::time::timeout(Duration::from_secs(120), run).await {
        Ok(run) => run.expect("send").rate(),
        Err(_) => {
            eprintln!("throughput run timed out after 120 s");
            f64::NAN
        }
    };
    orch.shutdown(Duration::from_secs(10)).await;
    rate
}

/// Median request->reply time through the orchestrator, in µs.
async fn request_rtt_us(orch: &Orchestrator, id: AgentId) -> f64 {
    let mut us = Vec::with_capacity(20_000);
    caxton_round_trips(orch, id, 20_000, Bytes::from_static(b"ping"), |d| {
        us.push(d.as_secs_f64() * 1e6)
    })
    .await
    .expect("reply");
    caxton_stats::median(&us).unwrap_or(f64::NAN)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    println!("caxton-wasm figures ({AGENTS} agents per batch)");
    let host = WasmHost::new(pooling()).expect("pooling host");
    let on_demand = WasmHost::new(HostConfig::on_demand()).expect("on-demand host");
    let limits = AgentLimits::default();

    // Compile and cache.
    let start = Instant::now();
    host.compile_uncached(guests::ECHO).expect("compile");
    let compile = start.elapsed();
    let start = Instant::now();
    let echo = host.load(guests::ECHO).expect("load echo");
    let load = start.elapsed();
    let start = Instant::now();
    host.load(guests::ECHO).expect("load echo again");
    let reload = start.elapsed();
    println!(
        "compile echo.wasm ({} bytes): {:.1} ms uncached; load {:.1} ms ({:?}); second load {:.1} us (memory cache)",
        guests::ECHO.len(),
        compile.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        echo.origin(),
        reload.as_secs_f64() * 1e6,
    );
    let echo_od = on_demand.load(guests::ECHO).expect("load echo on-demand");

    // Memory per live agent: first, before other phases free heap that new
    // agents could reuse, and on a fresh pool so no slot is warm.
    {
        let mem_host = WasmHost::new(pooling()).expect("host");
        let echo_fresh = mem_host.load(guests::ECHO).expect("load echo");
        let orch = Orchestrator::new();
        let before = rss_bytes().expect("RSS");
        let (ids, _) = caxton_spawn_batch(&orch, &echo_fresh.spec(limits), AGENTS).expect("spawn");
        for &id in &ids {
            let _ = caxton_round_trips(&orch, id, 1, Bytes::from_static(b"x"), |_| {}).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = rss_bytes().expect("RSS");
        let linear: u64 = ids
            .iter()
            .filter_map(|&id| orch.stats(id).and_then(|s| s.memory_bytes))
            .sum();
        println!(
            "memory per live WASM echo agent (after one message): {:.2} KiB RSS (delta / {AGENTS}), linear memory size {:.0} KiB each (mostly untouched)",
            after.saturating_sub(before) as f64 / 1024.0 / AGENTS as f64,
            linear as f64 / 1024.0 / AGENTS as f64
        );
        orch.shutdown(Duration::from_secs(10)).await;
    }

    // Spawn.
    let raw_pool = raw_instantiate_us(&echo);
    let raw_od = raw_instantiate_us(&echo_od);
    let raw_batch_pool = raw_batch_us(&echo);
    let raw_batch_od = raw_batch_us(&echo_od);
    println!(
        "raw wasmtime instantiate: create+drop loop pooling {raw_pool:.2} us, on-demand {raw_od:.2} us; {AGENTS} kept alive pooling {raw_batch_pool:.2} us, on-demand {raw_batch_od:.2} us"
    );
    let start = Instant::now();
    let held: Vec<_> = (0..AGENTS)
        .map(|_| echo.instantiate(limits).expect("instance"))
        .collect();
    let agent_inst = per_us(start.elapsed(), AGENTS);
    drop(held);
    println!(
        "WasmAgent instantiate ({AGENTS} kept alive, store + instance + ABI exports resolved): {agent_inst:.2} us"
    );
    // Agent spawn through the orchestrator, best of three batches each.
    // Cold: a fresh pool whose slots were never used; reused: the same slots
    // again; prewarmed: a fresh pool after `WasmModule::prewarm`.
    let (mut cold, mut reused, mut prewarmed, mut spawn_od, mut spawn_native) =
        (f64::MAX, f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let mut prewarm_ms = f64::MAX;
    for _ in 0..3 {
        spawn_od = spawn_od.min(spawn_batch_us(&echo_od.spec(limits)).await);
        {
            let spawn_host = WasmHost::new(pooling()).expect("host");
            let echo_spawn = spawn_host.load(guests::ECHO).expect("load echo");
            cold = cold.min(spawn_batch_us(&echo_spawn.spec(limits)).await);
            reused = reused.min(spawn_batch_us(&echo_spawn.spec(limits)).await);
        }
        {
            let spawn_host = WasmHost::new(pooling()).expect("host");
            let echo_spawn = spawn_host.load(guests::ECHO).expect("load echo");
            let start = Instant::now();
            echo_spawn.prewarm(AGENTS).expect("prewarm");
            prewarm_ms = prewarm_ms.min(start.elapsed().as_secs_f64() * 1e3);
            prewarmed = prewarmed.min(spawn_batch_us(&echo_spawn.spec(limits)).await);
        }
        spawn_native = spawn_native.min(spawn_batch_us(&AgentSpec::new(|| native::Echo)).await);
    }
    println!(
        "agent spawn (orch.spawn x{AGENTS}, ready to receive, best of 3), WASM pooling+InstancePre: cold pool {cold:.2} us, reused slots {reused:.2} us, prewarmed {prewarmed:.2} us (prewarm({AGENTS}) {prewarm_ms:.1} ms); WASM on-demand {spawn_od:.2} us; native {spawn_native:.2} us"
    );

    // Host -> guest round trip.
    let mut agent = echo.instantiate(limits).expect("instance");
    let payload = [7u8; 16];
    for _ in 0..10_000 {
        agent.call(Performative::Request, &payload).expect("call");
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        black_box(agent.call(Performative::Request, black_box(&payload)).expect("call"));
    }
    let call_ns = start.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS);
    // An empty payload: no copy in, and an empty reply (no allocation).
    let start = Instant::now();
    for _ in 0..CALLS {
        black_box(agent.call(Performative::Inform, black_box(b"")).expect("call"));
    }
    let empty_ns = start.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS);
    let orch = Orchestrator::new();
    let wasm_id = orch.spawn(echo.spec(limits)).expect("spawn");
    let native_id = orch.spawn(AgentSpec::new(|| native::Echo)).expect("spawn");
    let rtt_wasm = request_rtt_us(&orch, wasm_id).await;
    let rtt_native = request_rtt_us(&orch, native_id).await;
    orch.shutdown(Duration::from_secs(5)).await;
    println!(
        "host->guest echo call (16-byte payload copied in, handle, reply copied out): {call_ns:.0} ns; empty payload {empty_ns:.0} ns; orch.request round trip p50: WASM {rtt_wasm:.2} us, native {rtt_native:.2} us"
    );

    // Compute kernels, under each CPU-limit mechanism: per kernel the median
    // of 41 short interleaved WASM/native pairs, then their geometric mean.
    for (label, cpu) in [
        ("epoch", CpuMode::default()),
        ("fuel", CpuMode::Fuel),
        ("no CPU limit", CpuMode::Off),
    ] {
        let h = WasmHost::new(HostConfig {
            cpu,
            ..HostConfig::pooling(4, 64 << 20)
        })
        .expect("host");
        let compute = h.load(guests::COMPUTE).expect("load compute");
        let mut wasm_compute = compute.instantiate(limits.cpu_time(None).fuel(None)).expect("instance");
        let mut ratios = Vec::new();
        let mut cells = Vec::new();
        for kernel in Kernel::ALL {
            let k = overhead::measure(&mut wasm_compute, kernel, 41).expect("compute");
            ratios.push(k.ratio);
            cells.push(format!(
                "{} {:.2} (fastest call {:.0} / {:.0} us)",
                kernel.name(),
                k.ratio,
                k.wasm_call.as_secs_f64() * 1e6,
                k.native_call.as_secs_f64() * 1e6
            ));
        }
        println!(
            "compute kernels WASM/native (median of 41 pairs), {label}: geomean {:.2}; {}",
            caxton_stats::geomean(&ratios).unwrap_or(f64::NAN),
            cells.join(", ")
        );
    }
    drop(agent);

    // Routed throughput, best of three interleaved runs each.
    let (mut wasm_rate, mut native_rate) = (0f64, 0f64);
    for _ in 0..3 {
        wasm_rate = wasm_rate.max(throughput(echo.spec(limits)).await);
        native_rate = native_rate.max(throughput(AgentSpec::new(|| native::Echo)).await);
    }
    println!(
        "routed throughput (best of 3), {MESSAGES} msgs to {AGENTS} echo agents (replies to one sink): WASM {:.2} M msg/s, native {:.2} M msg/s, WASM/native {:.0} %",
        wasm_rate / 1e6,
        native_rate / 1e6,
        100.0 * wasm_rate / native_rate
    );
}
