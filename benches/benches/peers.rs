//! Peers: the same fan-out and ping-pong workloads on raw tokio channels
//! (the floor), Caxton (default, and with handler time on the wall clock),
//! ractor and kameo, side by side in one criterion group per workload so
//! criterion's report compares them directly.
//!
//! * `peers_fanout`: one producer sends [`FANOUT_MESSAGES`] 64-byte envelopes
//!   per iteration round-robin to 1000 receivers and waits until all were
//!   handled.
//! * `peers_pingpong`: one request in flight at a time to an echo, the time
//!   per round trip.
//!
//! `cargo bench -p caxton-benches --bench peers`

use std::time::Duration;

use bytes::Bytes;
use caxton_benches::{Budget, FANOUT_MESSAGES, runtime, sum_iters, time_block, time_requests};
use caxton_runtime::{CpuClock, Orchestrator, OrchestratorConfig};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig, RawFanout};
use caxton_workloads::peers::kameo::{KameoEcho, KameoFanout};
use caxton_workloads::peers::ractor::{RactorEcho, RactorFanout};
use caxton_workloads::pingpong::{RawEcho, spawn_echo};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Caxton as configured by default (handler time on the thread CPU clock:
/// two system calls per batch) and with the wall clock (two vDSO reads), the
/// closer match to peers that keep no per-actor time at all.
const CAXTON_CLOCKS: [(&str, CpuClock); 2] = [("caxton", CpuClock::Thread), ("caxton_wall_clock", CpuClock::Wall)];

fn caxton_orchestrator(cpu_clock: CpuClock) -> Orchestrator {
    Orchestrator::with_config(OrchestratorConfig {
        cpu_clock,
        ..OrchestratorConfig::default()
    })
}

fn fanout(c: &mut Criterion) {
    let rt = runtime();
    let cfg = FanoutConfig::default();
    let mut group = c.benchmark_group("peers_fanout");
    Budget::SLOW.apply(&mut group);
    group.throughput(Throughput::Elements(FANOUT_MESSAGES));

    let raw = rt.block_on(async { RawFanout::spawn(&cfg) });
    group.bench_function("raw_tokio", |b| {
        b.iter_custom(|iters| sum_iters(&rt, iters, || async { raw.run(FANOUT_MESSAGES).await.elapsed }))
    });
    drop(raw);

    for (name, clock) in CAXTON_CLOCKS {
        let orch = rt.block_on(async { caxton_orchestrator(clock) });
        let caxton = CaxtonFanout::native(&orch, &cfg).expect("spawn sinks");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                sum_iters(&rt, iters, || async {
                    caxton.run(FANOUT_MESSAGES).await.expect("fan-out").elapsed
                })
            })
        });
        rt.block_on(caxton.stop());
        rt.block_on(orch.shutdown(Duration::from_secs(5)));
    }

    let ractor = rt.block_on(RactorFanout::spawn(&cfg)).expect("spawn ractor actors");
    group.bench_function("ractor", |b| {
        b.iter_custom(|iters| sum_iters(&rt, iters, || async { ractor.run(FANOUT_MESSAGES).await.elapsed }))
    });
    rt.block_on(ractor.stop());

    let kameo = rt.block_on(KameoFanout::spawn(&cfg));
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| sum_iters(&rt, iters, || async { kameo.run(FANOUT_MESSAGES).await.elapsed }))
    });
    rt.block_on(kameo.stop());
    group.finish();
}

fn pingpong(c: &mut Criterion) {
    let rt = runtime();
    let payload = Bytes::from_static(&[7u8; 64]);
    let mut group = c.benchmark_group("peers_pingpong");
    Budget::FAST.apply(&mut group);

    let raw = rt.block_on(async { RawEcho::spawn() });
    group.bench_function("raw_tokio", |b| {
        b.iter_custom(|iters| time_block(&rt, raw.round_trips(iters, payload.clone(), |_| {})))
    });
    drop(raw);

    for (name, clock) in CAXTON_CLOCKS {
        let orch = rt.block_on(async { caxton_orchestrator(clock) });
        let echo = spawn_echo(&orch).expect("spawn echo");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| time_requests(&rt, &orch, echo, iters, &payload))
        });
        rt.block_on(orch.shutdown(Duration::from_secs(5)));
    }

    let ractor = rt.block_on(RactorEcho::spawn()).expect("spawn ractor echo");
    group.bench_function("ractor", |b| {
        b.iter_custom(|iters| time_block(&rt, ractor.round_trips(iters, payload.clone(), |_| {})))
    });
    rt.block_on(ractor.stop());

    let kameo = rt.block_on(KameoEcho::spawn());
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| time_block(&rt, kameo.round_trips(iters, payload.clone(), |_| {})))
    });
    rt.block_on(kameo.stop());
    group.finish();
}

criterion_group!(benches, fanout, pingpong);
criterion_main!(benches);
