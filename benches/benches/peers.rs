//! Peers: Caxton beside raw tokio channels (the floor) and other Rust actor
//! runtimes (ractor, kameo, actix) on the same workloads, one criterion group
//! per workload, each with a `raw_tokio` member so every row reads as
//! time ÷ raw tokio (`caxton-perf bench-table`, `caxton-perf compare
//! --criterion`).
//!
//! The workloads, and how each runtime is hosted (actix on its own System
//! with one single-threaded Arbiter per core), are defined once in
//! `caxton_benches::peers`, shared with the interleaved rounds runner
//! (`benches/peers_rounds.rs`). Criterion measures the members one after
//! another; the rounds runner interleaves them.
//!
//! `cargo bench -p caxton-benches --bench peers`

use caxton_benches::peers::{Host, MEMBERS, WORKLOADS};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn peers(c: &mut Criterion) {
    let host = Host::new();
    for workload in WORKLOADS {
        let mut group = c.benchmark_group(workload.group);
        workload.budget.apply(&mut group);
        if let Some(elements) = workload.elements {
            group.throughput(Throughput::Elements(elements));
        }
        for name in MEMBERS {
            let mut member = (workload.make)(&host, name);
            group.bench_function(name, |b| b.iter_custom(|iters| member.measure(&host, iters)));
            member.stop(&host);
        }
        group.finish();
    }
}

criterion_group!(benches, peers);
criterion_main!(benches);
