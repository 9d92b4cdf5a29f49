//! Throughput: messages routed through the orchestrator to 1, 10 and 1000
//! agents, native and WASM, and task processing by a pool of 10 agents over
//! 1000 tasks. Rates are reported per element (message or task).
//!
//! `cargo bench -p caxton-benches --bench throughput`

use caxton_benches::{Budget, FANOUT_MESSAGES, runtime, sum_iters};
use caxton_runtime::Orchestrator;
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig};
use caxton_workloads::pool::{Pool, PoolConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// One producer routes [`FANOUT_MESSAGES`] 64-byte messages per iteration
/// round-robin by agent id to N sink agents, and waits until all were
/// handled. Native sinks do nothing; WASM sinks are the `counter` guest
/// (adds one per message) on the pooling allocator with the host's default
/// limits (epoch CPU limit, 16 MiB memory).
fn routing(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let host = WasmHost::new(HostConfig::default()).expect("wasm host");
    let counter = host.load(guests::COUNTER).expect("load counter guest");
    let mut group = c.benchmark_group("throughput_routing");
    Budget::SLOW.apply(&mut group);
    group.throughput(Throughput::Elements(FANOUT_MESSAGES));
    for agents in [1usize, 10, 1000] {
        let cfg = FanoutConfig {
            agents,
            ..FanoutConfig::default()
        };
        let native = CaxtonFanout::native(&orch, &cfg).expect("spawn sinks");
        let module = counter.clone();
        let wasm = CaxtonFanout::with_agents(&orch, &cfg, move || module.instantiate(AgentLimits::default()))
            .expect("spawn wasm sinks");
        for (label, fanout) in [("native", &native), ("wasm", &wasm)] {
            group.bench_with_input(BenchmarkId::new(label, agents), &agents, |b, _| {
                b.iter_custom(|iters| {
                    sum_iters(&rt, iters, || async {
                        fanout.run(FANOUT_MESSAGES).await.expect("fan-out").elapsed
                    })
                })
            });
        }
        rt.block_on(native.stop());
        rt.block_on(wasm.stop());
    }
    group.finish();
    rt.block_on(orch.shutdown(std::time::Duration::from_secs(5)));
}

/// 1000 tasks sent to the capability of a pool of 10 native workers (16
/// FNV-1a rounds over 64 bytes each); the orchestrator picks a worker per
/// task round-robin.
fn pool(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let cfg = PoolConfig::default();
    let pool = Pool::spawn(&orch, cfg).expect("spawn pool");
    let mut group = c.benchmark_group("throughput_pool");
    Budget::SLOW.apply(&mut group);
    group.throughput(Throughput::Elements(cfg.tasks));
    group.bench_function(
        BenchmarkId::new(format!("native_{}_workers", cfg.workers), cfg.tasks),
        |b| b.iter_custom(|iters| sum_iters(&rt, iters, || async { pool.run().await.expect("pool run") })),
    );
    group.finish();
    rt.block_on(orch.shutdown(std::time::Duration::from_secs(5)));
}

criterion_group!(benches, routing, pool);
criterion_main!(benches);
