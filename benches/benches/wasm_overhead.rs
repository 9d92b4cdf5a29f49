//! WASM overhead: the same compute kernels (`caxton_kernels::Kernel::ALL`,
//! one source compiled natively and into the `compute` guest) on the same
//! input, called natively and in a WASM instance under each CPU-limit
//! mechanism (epoch interruption, fuel, none), and routed as a request to a
//! native vs a WASM compute agent. The benchmark's parameter is the kernel.
//!
//! `cargo bench -p caxton-benches --bench wasm_overhead`

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use caxton_benches::{Budget, runtime, time_requests};
use caxton_kernels::Kernel;
use caxton_runtime::{AgentSpec, Orchestrator, Performative};
use caxton_wasm::{AgentLimits, CpuMode, HostConfig, WasmHost, guests};
use caxton_workloads::wasm::{native, overhead};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Direct calls: native function vs host->guest call (payload copied in,
/// reply copied out), per kernel and CPU-limit mechanism.
fn compute(c: &mut Criterion) {
    let mut group = c.benchmark_group("wasm_overhead_compute");
    Budget::FAST.apply(&mut group);
    let mut agents = Vec::new();
    for (label, cpu) in [
        ("wasm_epoch", CpuMode::default()),
        ("wasm_fuel", CpuMode::Fuel),
        ("wasm_no_cpu_limit", CpuMode::Off),
    ] {
        let host = WasmHost::new(HostConfig {
            cpu,
            ..HostConfig::default()
        })
        .expect("wasm host");
        let module = host.load(guests::COMPUTE).expect("load compute guest");
        let agent = module
            .instantiate(AgentLimits::default().cpu_time(None).fuel(None))
            .expect("instantiate compute guest");
        agents.push((label, agent));
    }
    for kernel in Kernel::ALL {
        let req = overhead::request(kernel);
        group.bench_with_input(BenchmarkId::new("native", kernel.name()), &req, |b, req| {
            b.iter(|| caxton_kernels::handle_request(black_box(req)))
        });
        for (label, agent) in &mut agents {
            group.bench_with_input(BenchmarkId::new(*label, kernel.name()), &req, |b, req| {
                b.iter(|| agent.call(Performative::Request, black_box(req)).expect("compute call"))
            });
        }
    }
    group.finish();
}

/// Request/reply through the orchestrator to a native compute agent vs a
/// WASM one (epoch CPU limit, the host's default), one request in flight,
/// on the collatz kernel.
fn routed(c: &mut Criterion) {
    let rt = runtime();
    let orch = rt.block_on(async { Orchestrator::new() });
    let host = WasmHost::new(HostConfig::default()).expect("wasm host");
    let module = host.load(guests::COMPUTE).expect("load compute guest");
    let wasm = orch
        .spawn(module.spec(AgentLimits::default().cpu_time(None).fuel(None)))
        .expect("spawn wasm compute");
    let native = orch
        .spawn(AgentSpec::new(|| native::Compute))
        .expect("spawn native compute");
    let kernel = Kernel::Collatz;
    let req = Bytes::copy_from_slice(&overhead::request(kernel));
    let mut group = c.benchmark_group("wasm_overhead_routed");
    Budget::FAST.apply(&mut group);
    for (label, id) in [("native", native), ("wasm", wasm)] {
        group.bench_with_input(BenchmarkId::new(label, kernel.name()), &id, |b, &id| {
            b.iter_custom(|iters| time_requests(&rt, &orch, id, iters, &req))
        });
    }
    group.finish();
    rt.block_on(orch.shutdown(Duration::from_secs(5)));
}

criterion_group!(benches, compute, routed);
criterion_main!(benches);
