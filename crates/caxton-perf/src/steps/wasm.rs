//! The WASM steps: the same workloads on WASM guest agents, each beside
//! its native twin measured in the same run.

use std::sync::Arc;

use bytes::Bytes;
use caxton_kernels::Kernel;
use caxton_profiling::{AgentKind, LatencyRecorder};
use caxton_report::results::Measurement;
use caxton_runtime::{AgentSpec, CheckpointPolicy, Orchestrator};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, WasmModule, guests};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig};
use caxton_workloads::pingpong::caxton_round_trips;
use caxton_workloads::spawn::{caxton_spawn_batch, stop_all};
use caxton_workloads::wasm::{native, overhead, raw_instantiate_batch};

use super::shared::{Error, SuiteConfig, in_runtime, latency_rows, recovery_samples};

/// Guest memory limit in the suite: far above what the guests use.
const GUEST_MEMORY: usize = 4 << 20;

/// Limits for the suite's guests: 4 MiB of memory, no CPU deadline (the
/// throughput and latency figures measure the host path, not a limit).
pub(crate) fn limits() -> AgentLimits {
    AgentLimits::default()
        .max_memory(GUEST_MEMORY)
        .cpu_time(None)
        .fuel(None)
}

/// The WASM hosts and modules the suite uses.
pub(crate) struct Wasm {
    echo: WasmModule,
    echo_on_demand: WasmModule,
    counter: WasmModule,
    compute: WasmModule,
}

impl Wasm {
    /// A pooling host with room for `instances` live guests, and an
    /// on-demand one for comparison; modules compiled (or loaded from the
    /// on-disk cache).
    pub(crate) fn new(instances: u32) -> Result<Self, Error> {
        let pooling = Self::pooling_host(instances)?;
        let on_demand = WasmHost::new(HostConfig::on_demand())?;
        Ok(Self {
            echo: pooling.load(guests::ECHO)?,
            echo_on_demand: on_demand.load(guests::ECHO)?,
            counter: pooling.load(guests::COUNTER)?,
            compute: pooling.load(guests::COMPUTE)?,
        })
    }

    /// A pooling host with room for `instances` guests of [`GUEST_MEMORY`].
    fn pooling_host(instances: u32) -> Result<WasmHost, Error> {
        Ok(WasmHost::new(HostConfig::pooling(instances, GUEST_MEMORY))?)
    }

    /// The memory-profile kind: the checkpointable counter guest.
    pub(crate) fn counter_kind(&self) -> AgentKind {
        let spec = self.counter.spec(limits());
        AgentKind::new("wasm-counter", move |orch| orch.spawn(spec.clone()))
    }
}

/// Routed throughput to 1000 WASM echo agents against 1000 native echo
/// twins, interleaved.
pub(crate) async fn throughput(orch: &Orchestrator, wasm: &Wasm, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let fan = FanoutConfig::default();
    let echo = wasm.echo.clone();
    let w = Arc::new(CaxtonFanout::with_agents(orch, &fan, move || {
        echo.instantiate(limits())
    })?);
    let n = Arc::new(CaxtonFanout::with_agents(orch, &fan, || Ok(native::Echo))?);
    let (mut wr, mut nr, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=cfg.reps {
        let (a, b, m) = (w.clone(), n.clone(), cfg.fanout_messages);
        let x = in_runtime(async move { a.run(m).await.map(|r| r.rate()) }).await?;
        let y = in_runtime(async move { b.run(m).await.map(|r| r.rate()) }).await?;
        if i > 0 {
            wr.push(x);
            nr.push(y);
            ratios.push(x / y);
        }
    }
    for f in [w, n] {
        if let Ok(f) = Arc::try_unwrap(f) {
            f.stop().await;
        }
    }
    Ok(vec![
        Measurement::from_samples(
            "message_throughput",
            &format!(
                "wasm echo, {} agents, {} B, producer in runtime",
                fan.agents, fan.payload_bytes
            ),
            "msg/s",
            wr,
        )
        .with_reference_pairs(
            "native echo twins",
            caxton_stats::median(&nr).unwrap_or(f64::NAN),
            ratios,
        ),
    ])
}

/// Request/reply round trips to a WASM echo agent, beside its native twin.
pub(crate) async fn latency(orch: &Orchestrator, wasm: &Wasm, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let w = orch.spawn(wasm.echo.spec(limits()))?;
    let n = orch.spawn(AgentSpec::new(|| native::Echo))?;
    let (o, count, reps) = (orch.clone(), cfg.round_trips, cfg.reps);
    let payload = Bytes::from_static(&[7u8; 64]);
    let (w_reps, n_reps) = in_runtime(async move {
        caxton_round_trips(&o, w, count / 2, payload.clone(), |_| {}).await?;
        let (mut w_reps, mut n_reps) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let (mut a, mut b) = (LatencyRecorder::new(), LatencyRecorder::new());
            caxton_round_trips(&o, w, count, payload.clone(), |d| a.record(d)).await?;
            caxton_round_trips(&o, n, count, payload.clone(), |d| b.record(d)).await?;
            w_reps.push(a);
            n_reps.push(b);
        }
        Ok::<_, caxton_runtime::RequestError>((w_reps, n_reps))
    })
    .await?;
    let _ = orch.stop(w).await;
    let _ = orch.stop(n).await;
    latency_rows(
        "wasm echo, request/reply, 64 B, one in flight",
        &w_reps,
        "native echo twin",
        &n_reps,
    )
}

/// WASM agent spawn (spawn call to ready), in batches of 1000: pooling
/// allocator + InstancePre on slots a batch used before (the steady
/// state), pooling on a fresh pool (every slot's first use, when wasmtime
/// maps the module's memory image into it), and on-demand.
pub(crate) async fn spawn(orch: &Orchestrator, wasm: &Wasm, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let batch = 1000;
    let per_agent = |took: std::time::Duration| took.as_secs_f64() * 1e6 / batch as f64;
    // Each pooling row's reference: the same batch made with raw wasmtime
    // (a fresh store and `InstancePre::instantiate` each) on the same kind
    // of pool slot, in the same repetition.
    let raw_name = "raw wasmtime Store::new + InstancePre::instantiate";
    let mut out = Vec::new();
    for (label, module, raw_reference) in [
        ("pooling + InstancePre, reused pool slots", &wasm.echo, true),
        ("on-demand", &wasm.echo_on_demand, false),
    ] {
        let spec = module.spec(limits());
        let (mut samples, mut raw) = (Vec::new(), Vec::new());
        for i in 0..=cfg.reps {
            let (ids, took) = caxton_spawn_batch(orch, &spec, batch)?;
            stop_all(orch, &ids).await;
            // The slots the agents just freed, reused by raw wasmtime.
            let raw_took = if raw_reference {
                let (stores, raw_took) = raw_instantiate_batch(module, batch)?;
                drop(stores);
                Some(raw_took)
            } else {
                None
            };
            if i > 0 {
                samples.push(per_agent(took));
                raw.extend(raw_took.map(per_agent));
            }
        }
        let m = Measurement::from_samples(
            "agent_spawn_time",
            &format!("wasm echo, {label}, batch of {batch}, per agent"),
            "us",
            samples,
        );
        out.push(if raw.is_empty() {
            m
        } else {
            m.with_reference_samples(raw_name, &raw)
        });
    }
    let (mut samples, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..cfg.reps {
        let fresh = Wasm::pooling_host(batch as u32)?.load(guests::ECHO)?;
        let (ids, took) = caxton_spawn_batch(orch, &fresh.spec(limits()), batch)?;
        samples.push(per_agent(took));
        stop_all(orch, &ids).await;
        // Another pool never used, for raw wasmtime's first use of each slot.
        let fresh = Wasm::pooling_host(batch as u32)?.load(guests::ECHO)?;
        let (stores, raw_took) = raw_instantiate_batch(&fresh, batch)?;
        raw.push(per_agent(raw_took));
        drop(stores);
    }
    out.push(
        Measurement::from_samples(
            "agent_spawn_time",
            &format!(
                "wasm echo, pooling + InstancePre, fresh pool (first use of each slot), batch of {batch}, per agent"
            ),
            "us",
            samples,
        )
        .with_reference_samples(raw_name, &raw),
    );
    Ok(out)
}

/// The compute kernels through the host->guest path vs the same Rust code
/// natively: per repetition each kernel's median of 9 short interleaved
/// pairs ([`overhead::measure`]); the headline
/// row is the geometric mean of the kernels' ratios, each kernel's ratio
/// follows as its own row.
pub(crate) fn overhead(wasm: &Wasm, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let mut agent = wasm.compute.instantiate(limits())?;
    let mut per_kernel = vec![Vec::new(); Kernel::ALL.len()];
    let mut means = Vec::new();
    for i in 0..=cfg.reps {
        let mut ratios = Vec::with_capacity(Kernel::ALL.len());
        for kernel in Kernel::ALL {
            ratios.push(overhead::measure(&mut agent, kernel, 9)?.ratio);
        }
        if i > 0 {
            means.push(caxton_stats::geomean(&ratios).unwrap_or(f64::NAN));
            for (samples, r) in per_kernel.iter_mut().zip(ratios) {
                samples.push(r);
            }
        }
    }
    let names: Vec<_> = Kernel::ALL.iter().map(|k| k.name()).collect();
    let mut out = vec![Measurement::from_samples(
        "wasm_overhead",
        &format!(
            "compute kernels ({}), geometric mean of WASM time / native time",
            names.join(", ")
        ),
        "ratio",
        means,
    )];
    for (kernel, samples) in Kernel::ALL.into_iter().zip(per_kernel) {
        out.push(Measurement::from_samples(
            "wasm_overhead",
            &format!(
                "compute kernel {}, {} rounds, WASM time / native time",
                kernel.name(),
                overhead::rounds(kernel)
            ),
            "ratio",
            samples,
        ));
    }
    Ok(out)
}

/// Recovery after a guest trap: the counter guest executes `unreachable`,
/// the supervisor restarts it from its checkpoint; one fresh agent per fault.
/// Timed from the start of the trapping message (the guest call, the trap,
/// the dead letter, the new instance and its restore are all in it) to the
/// end of the first message handled after the restart (docs/measurement.md).
pub(crate) async fn recovery(orch: &Orchestrator, wasm: &Wasm, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let spec = wasm
        .counter
        .spec(limits())
        .checkpoint_policy(CheckpointPolicy::EveryMessages(1));
    let samples = recovery_samples(orch, &spec, guests::counter::TRAP, cfg.faults).await?;
    Ok(vec![Measurement::from_samples(
        "recovery_time",
        "wasm counter, trapping message starts -> first message after restart ends",
        "us",
        samples,
    )])
}
