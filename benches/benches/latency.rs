//! Latency: end-to-end request/reply through the orchestrator to a native
//! and a WASM echo agent, and a single agent's handler work called directly
//! vs through its mailbox.
//!
//! `cargo bench -p caxton-benches --bench latency`

use std::time::Duration;

use bytes::Bytes;
use caxton_benches::{Budget, runtime, time_requests};
use caxton_runtime::{AgentSpec, Orchestrator};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig};
use caxton_workloads::pingpong::spawn_echo;
use caxton_workloads::pool::{PoolConfig, Responder, Worker, task_work};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Payload of every request: 64 bytes.
const PAYLOAD: &[u8; 64] = &[7u8; 64];

/// One request in flight at a time from an external client to an echo agent
/// and back (`Orchestrator::request`): the time per round trip. `native` is
/// the native echo agent; `wasm` the `echo` guest (pooling allocator,
/// default limits).
fn request_reply(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let native = spawn_echo(&orch).expect("spawn echo");
    let host = WasmHost::new(HostConfig::default()).expect("wasm host");
    let module = host.load(guests::ECHO).expect("load echo guest");
    let wasm = orch
        .spawn(module.spec(AgentLimits::default()))
        .expect("spawn wasm echo");
    let payload = Bytes::from_static(PAYLOAD);
    let mut group = c.benchmark_group("latency_request_reply");
    Budget::FAST.apply(&mut group);
    for (label, echo) in [("native", native), ("wasm", wasm)] {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| time_requests(&rt, &orch, echo, iters, &payload))
        });
    }
    group.finish();
    rt.block_on(orch.shutdown(Duration::from_secs(5)));
}

/// The pool's per-task work (16 FNV-1a rounds over 64 bytes): called
/// directly (`direct`), handled by one agent fed through its mailbox with
/// messages pipelined (`mailbox`, per message), and as a request/reply to
/// one agent that does the work and answers (`request_reply`).
fn handler(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let rounds = PoolConfig::default().rounds;
    let payload = Bytes::from_static(PAYLOAD);
    let one = FanoutConfig {
        agents: 1,
        ..FanoutConfig::default()
    };
    let worker = CaxtonFanout::with_agents(&orch, &one, move || Ok(Worker { rounds })).expect("spawn worker");
    let responder = orch
        .spawn(AgentSpec::new(move || Responder { rounds }))
        .expect("spawn responder");

    let mut group = c.benchmark_group("latency_handler");
    Budget::FAST.apply(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("direct", |b| {
        b.iter(|| task_work(std::hint::black_box(&payload), std::hint::black_box(rounds)))
    });
    group.bench_function("mailbox", |b| {
        b.iter_custom(|iters| rt.block_on(async { worker.run(iters).await.expect("worker run").elapsed }))
    });
    group.bench_function("request_reply", |b| {
        b.iter_custom(|iters| time_requests(&rt, &orch, responder, iters, &payload))
    });
    group.finish();
    rt.block_on(orch.shutdown(Duration::from_secs(5)));
}

criterion_group!(benches, request_reply, handler);
criterion_main!(benches);
