//! Spawn: one agent, and batches of 100 and 1000, native and WASM (the
//! `echo` guest on the pooling allocator with `InstancePre`, and on the
//! on-demand allocator), from the spawn call to every agent ready to receive
//! (`Orchestrator::spawn` returns once the agent is instantiated, registered
//! and its mailbox accepts messages). Raw tokio (a task owning a channel
//! receiver) is the floor for the batch of 1000.
//!
//! Agents are stopped between iterations, outside the timed region.
//!
//! `cargo bench -p caxton-benches --bench spawn`

use std::time::{Duration, Instant};

use caxton_benches::{Budget, runtime};
use caxton_runtime::{Agent, AgentSpec, Orchestrator};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use caxton_workloads::agents::Sink;
use caxton_workloads::spawn::{RawTasks, caxton_spawn_batch, stop_many};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// At most this many agents are left live before the bench stops them
/// (untimed), so memory stays flat however many iterations criterion asks for.
const CHUNK: usize = 1000;

/// Benches spawning one agent and batches of 100 and 1000 from `spec`.
fn spawn_kind<A: Agent>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    orch: &Orchestrator,
    label: &str,
    spec: &AgentSpec<A>,
) {
    Budget::FAST.apply(group);
    group.throughput(Throughput::Elements(1));
    group.bench_with_input(BenchmarkId::new(label, 1), &1usize, |b, _| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                let mut ids = Vec::with_capacity(n);
                let start = Instant::now();
                for _ in 0..n {
                    ids.push(orch.spawn(spec.clone()).expect("spawn"));
                }
                timed += start.elapsed();
                rt.block_on(stop_many(orch, ids));
                left -= n as u64;
            }
            timed
        })
    });

    Budget::SLOW.apply(group);
    for n in [100usize, 1000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new(label, n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let (ids, took) = caxton_spawn_batch(orch, spec, n).expect("spawn");
                    timed += took;
                    rt.block_on(stop_many(orch, ids));
                }
                timed
            })
        });
    }
}

fn spawn(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let mut group = c.benchmark_group("spawn");
    spawn_kind(&mut group, &rt, &orch, "native", &AgentSpec::new(|| Sink));

    // A pool with room for a batch of 1000 plus a chunk being torn down.
    let pooling = WasmHost::new(HostConfig::pooling(2 * CHUNK as u32 + 64, 64 << 20)).expect("pooling host");
    let module = pooling.load(guests::ECHO).expect("load echo guest");
    spawn_kind(
        &mut group,
        &rt,
        &orch,
        "wasm_pooling",
        &module.spec(AgentLimits::default()),
    );
    let on_demand = WasmHost::new(HostConfig::on_demand()).expect("on-demand host");
    let module = on_demand.load(guests::ECHO).expect("load echo guest");
    spawn_kind(
        &mut group,
        &rt,
        &orch,
        "wasm_on_demand",
        &module.spec(AgentLimits::default()),
    );

    Budget::SLOW.apply(&mut group);
    group.throughput(Throughput::Elements(1000));
    group.bench_with_input(BenchmarkId::new("raw_tokio", 1000), &1000usize, |b, &n| {
        b.iter_custom(|iters| {
            let _rt = rt.enter();
            let baseline = rt.metrics().num_alive_tasks();
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let (tasks, took) = RawTasks::spawn(n, 1024);
                timed += took;
                drop(tasks);
                // Like the Caxton batches, start the next iteration only once
                // the previous batch has exited (untimed).
                while rt.metrics().num_alive_tasks() > baseline {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            timed
        })
    });
    group.finish();
    rt.block_on(orch.shutdown(Duration::from_secs(5)));
}

criterion_group!(benches, spawn);
criterion_main!(benches);
