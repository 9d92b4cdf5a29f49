//! Scalability: agent counts 1, 10, 100, 1000 and 10000. For each count,
//! the time to spawn that many native agents (one batch, agents stopped
//! between iterations outside the timed region), and the routed throughput
//! of [`FANOUT_MESSAGES`] messages per iteration spread round-robin over
//! that many live agents.
//!
//! `cargo bench -p caxton-benches --bench scalability`

use std::time::Duration;

use caxton_benches::{Budget, FANOUT_MESSAGES, runtime, sum_iters};
use caxton_runtime::{AgentSpec, Orchestrator};
use caxton_workloads::agents::Sink;
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig};
use caxton_workloads::spawn::{caxton_spawn_batch, stop_many};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The agent counts benched.
const COUNTS: [usize; 5] = [1, 10, 100, 1000, 10_000];

fn spawn_time(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let spec = AgentSpec::new(|| Sink);
    let mut group = c.benchmark_group("scalability_spawn");
    for n in COUNTS {
        let budget = if n <= 10 {
            Budget::FAST
        } else if n <= 1000 {
            Budget::SLOW
        } else {
            Budget::HEAVY
        };
        budget.apply(&mut group);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("native", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let (ids, took) = caxton_spawn_batch(&orch, &spec, n).expect("spawn");
                    timed += took;
                    rt.block_on(stop_many(&orch, ids));
                }
                timed
            })
        });
    }
    group.finish();
    rt.block_on(orch.shutdown(Duration::from_secs(5)));
}

fn throughput_at(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let mut group = c.benchmark_group("scalability_throughput");
    Budget::SLOW.apply(&mut group);
    group.throughput(Throughput::Elements(FANOUT_MESSAGES));
    for agents in COUNTS {
        let cfg = FanoutConfig {
            agents,
            ..FanoutConfig::default()
        };
        let fanout = CaxtonFanout::native(&orch, &cfg).expect("spawn sinks");
        group.bench_with_input(BenchmarkId::new("native", agents), &agents, |b, _| {
            b.iter_custom(|iters| {
                sum_iters(&rt, iters, || async {
                    fanout.run(FANOUT_MESSAGES).await.expect("fan-out").elapsed
                })
            })
        });
        rt.block_on(fanout.stop());
    }
    group.finish();
    rt.block_on(orch.shutdown(Duration::from_secs(5)));
}

criterion_group!(benches, spawn_time, throughput_at);
criterion_main!(benches);
