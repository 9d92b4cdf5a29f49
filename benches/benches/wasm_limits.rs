//! WASM memory limits of 1, 10, 100 and 1000 MiB: the largest linear memory
//! a guest reaches before its limit refuses a growth, the time to allocate
//! up to the limit, and handler speed at the limit vs a fresh instance.
//!
//! The `misbehave` guest allocates 1 MiB chunks (each touched) until its
//! allocator fails (`grow`), and answers anything else with `ok`. Instances
//! use the on-demand allocator (each maps its own memory), since a pool
//! slot caps memory per instance below the largest limit; CPU limits are
//! off so only memory ends a run.
//!
//! The largest memory per limit is not a time, so the bench prints it and
//! (except under `--test`) writes it to
//! `<criterion dir>/wasm_limits_largest.json`, which `caxton-perf bench-table`
//! turns into a table.
//!
//! `cargo bench -p caxton-benches --bench wasm_limits`

use std::time::Duration;

use caxton_benches::Budget;
use caxton_benches::criterion_dir;
use caxton_report::bench_table::{LimitProbe, write_limit_probes};
use caxton_runtime::{FaultKind, Performative};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, WasmModule, guests};
use caxton_workloads::wasm::{PING, grow_to_limit};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// The limits benched, in MiB.
const LIMITS_MIB: [usize; 4] = [1, 10, 100, 1000];

fn host_and_module() -> (WasmHost, WasmModule) {
    let host = WasmHost::new(HostConfig::on_demand()).expect("wasm host");
    let module = host.load(guests::MISBEHAVE).expect("load misbehave guest");
    (host, module)
}

/// Probes each limit once, prints and saves what it found; returns the
/// limits under which the guest could be instantiated at all.
fn probe(module: &WasmModule) -> Vec<usize> {
    let mut probes = Vec::new();
    let mut usable = Vec::new();
    for mib in LIMITS_MIB {
        let limit = mib << 20;
        let probe = match grow_to_limit(module, limit) {
            Ok(run) => {
                let refused_by_limit = run.fault == Some(FaultKind::MemoryLimit);
                eprintln!(
                    "wasm_limits: limit {mib} MiB: largest linear memory {:.2} MiB ({:.1} % of the limit), \
                     reached in {:.2} ms, ended by {:?}",
                    run.largest_bytes as f64 / f64::from(1 << 20),
                    100.0 * run.largest_bytes as f64 / limit as f64,
                    run.elapsed.as_secs_f64() * 1e3,
                    run.fault
                );
                usable.push(mib);
                LimitProbe {
                    limit_mib: mib,
                    largest_bytes: Some(run.largest_bytes as u64),
                    grow_ms: Some(run.elapsed.as_secs_f64() * 1e3),
                    outcome: if refused_by_limit {
                        "memory limit refused a growth".to_owned()
                    } else {
                        format!("ended by {:?}", run.fault)
                    },
                }
            }
            Err(e) => {
                eprintln!("wasm_limits: limit {mib} MiB: instantiation refused: {e}");
                LimitProbe {
                    limit_mib: mib,
                    largest_bytes: None,
                    grow_ms: None,
                    outcome: format!("instantiation refused: {e}"),
                }
            }
        };
        probes.push(probe);
    }
    // A `--test` smoke run probes too, but only a measuring run saves.
    let dir = criterion_dir();
    if std::env::args().any(|a| a == "--test") {
        return usable;
    }
    if let Err(e) = write_limit_probes(&dir, &probes) {
        eprintln!(
            "wasm_limits: could not save the probe results under {}: {e}",
            dir.display()
        );
    }
    usable
}

fn limits(c: &mut Criterion) {
    let (_host, module) = host_and_module();
    let usable = probe(&module);

    let mut group = c.benchmark_group("wasm_limits_grow");
    Budget::HEAVY.apply(&mut group);
    for &mib in &usable {
        group.bench_with_input(BenchmarkId::new("grow_until_refused", mib), &mib, |b, &mib| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    timed += grow_to_limit(&module, mib << 20).expect("instantiate").elapsed;
                }
                timed
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("wasm_limits_call");
    Budget::FAST.apply(&mut group);
    for &mib in &usable {
        let limits = AgentLimits::default().max_memory(mib << 20).cpu_time(None).fuel(None);
        let mut fresh = module.instantiate(limits).expect("instantiate");
        group.bench_with_input(BenchmarkId::new("fresh", mib), &mib, |b, _| {
            b.iter(|| fresh.call(Performative::Request, PING).expect("ping"))
        });
        let mut full = grow_to_limit(&module, mib << 20).expect("instantiate").agent;
        match full.call(Performative::Request, PING) {
            Ok(_) => {
                group.bench_with_input(BenchmarkId::new("at_limit", mib), &mib, |b, _| {
                    b.iter(|| full.call(Performative::Request, PING).expect("ping at the limit"))
                });
            }
            Err(e) => eprintln!("wasm_limits: limit {mib} MiB: an instance at its limit refuses calls: {e}"),
        }
    }
    group.finish();
}

criterion_group!(benches, limits);
criterion_main!(benches);
