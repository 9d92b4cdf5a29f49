//! The native steps: Caxton's native agents, each beside a raw-tokio
//! reference measured in the same run.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use caxton_profiling::{CpuSnapshot, CpuWindow, LatencyRecorder};
use caxton_report::results::Measurement;
use caxton_runtime::{AgentSpec, CheckpointPolicy, CpuClock, Executor, Orchestrator, OrchestratorConfig};
use caxton_workloads::agents::{Fragile, PANIC, Sink};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig, RawFanout};
use caxton_workloads::pingpong::{RawEcho, caxton_round_trips, spawn_echo};
use caxton_workloads::spawn::{RawTasks, caxton_spawn_batch, stop_all};

use super::shared::{Error, SuiteConfig, in_runtime, latency_rows, recovery_samples};

/// Routed throughput, 1 producer -> 1000 native agents, 64 B, against raw
/// tokio channels in interleaved pairs: producer in the runtime, outside
/// it, and outside it with the agents on the orchestrator's own per-core
/// threads (`Executor::PerCore`, the setting for producers outside any
/// runtime).
pub(crate) async fn throughput(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let fan = FanoutConfig::default();
    let per_core = Orchestrator::with_config(OrchestratorConfig {
        executor: Executor::PerCore { threads: 0 },
        ..OrchestratorConfig::default()
    });
    let shared = Arc::new(CaxtonFanout::native(orch, &fan)?);
    let own_threads = Arc::new(CaxtonFanout::native(&per_core, &fan)?);
    let raw = Arc::new(RawFanout::spawn(&fan));
    let mut out = Vec::new();
    let cases = [
        ("producer in runtime", true, &shared),
        ("producer outside runtime", false, &shared),
        (
            "producer outside runtime, agents on per-core threads",
            false,
            &own_threads,
        ),
    ];
    for (label, inside, caxton) in cases {
        let (mut c_rates, mut r_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..=cfg.reps {
            let n = cfg.fanout_messages;
            let (c, r) = (caxton.clone(), raw.clone());
            let c_run = async move { c.run(n).await.map(|r| r.rate()) };
            let r_run = async move { r.run(n).await.rate() };
            let (c, r) = if inside {
                (in_runtime(c_run).await?, in_runtime(r_run).await)
            } else {
                (c_run.await?, r_run.await)
            };
            if i > 0 {
                c_rates.push(c);
                r_rates.push(r);
                ratios.push(c / r);
            }
        }
        let m = Measurement::from_samples(
            "message_throughput",
            &format!("native, {} agents, {} B, {label}", fan.agents, fan.payload_bytes),
            "msg/s",
            c_rates,
        )
        .with_reference_pairs(
            "raw tokio mpsc",
            caxton_stats::median(&r_rates).unwrap_or(f64::NAN),
            ratios,
        );
        // A producer outside the runtime is a third busy thread on two
        // cores: its ratio swings between runs with the machine's other load.
        out.push(if inside { m } else { m.informational() });
    }
    for fanout in [shared, own_threads] {
        if let Ok(c) = Arc::try_unwrap(fanout) {
            c.stop().await;
        }
    }
    per_core.shutdown(Duration::from_secs(5)).await;
    Ok(out)
}

/// Throughput at each agent count of the chart (producer in the runtime).
pub(crate) async fn throughput_by_count(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let mut out = Vec::new();
    for &agents in &cfg.agent_counts {
        let fan = FanoutConfig {
            agents,
            ..FanoutConfig::default()
        };
        let caxton = Arc::new(CaxtonFanout::native(orch, &fan)?);
        let raw = Arc::new(RawFanout::spawn(&fan));
        let (mut rates, mut raw_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..=cfg.reps.min(5) {
            let (c, r, n) = (caxton.clone(), raw.clone(), cfg.fanout_messages / 2);
            let rate = in_runtime(async move { c.run(n).await.map(|r| r.rate()) }).await?;
            let raw_rate = in_runtime(async move { r.run(n).await.rate() }).await;
            if i > 0 {
                rates.push(rate);
                raw_rates.push(raw_rate);
                ratios.push(rate / raw_rate);
            }
        }
        out.push(
            Measurement::from_samples(
                "throughput_by_agent_count",
                &format!("native, {agents} agent(s)"),
                "msg/s",
                rates,
            )
            .with_reference_pairs(
                "raw tokio mpsc",
                caxton_stats::median(&raw_rates).unwrap_or(f64::NAN),
                ratios,
            ),
        );
        if let Ok(c) = Arc::try_unwrap(caxton) {
            c.stop().await;
        }
    }
    Ok(out)
}

/// Request/reply at light load (one in flight), requester in the runtime:
/// the suite's orchestrator (the default configuration: handler time on
/// `CpuClock::Sampled`, agents on the suite's runtime), one timing handlers
/// on the wall clock and one running its agents on threads of its own
/// (`Executor::PerCore`), beside raw tokio, interleaved in an order that
/// rotates from rep to rep. The first pair shows what the default CPU
/// accounting costs a request; the per-core row what a requester that is
/// a task on the runtime pays when the agent lives on another thread.
pub(crate) async fn latency(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let wall = Orchestrator::with_config(OrchestratorConfig {
        cpu_clock: CpuClock::Wall,
        ..OrchestratorConfig::default()
    });
    let per_core = Orchestrator::with_config(OrchestratorConfig {
        executor: Executor::PerCore { threads: 0 },
        ..OrchestratorConfig::default()
    });
    let echo = spawn_echo(orch)?;
    let wall_echo = spawn_echo(&wall)?;
    let core_echo = spawn_echo(&per_core)?;
    let raw = Arc::new(RawEcho::spawn());
    let payload = Bytes::from_static(&[7u8; 64]);
    let (o, w, p, n, reps) = (orch.clone(), wall.clone(), per_core.clone(), cfg.round_trips, cfg.reps);
    let (c_reps, w_reps, p_reps, r_reps) = in_runtime(async move {
        caxton_round_trips(&o, echo, n / 2, payload.clone(), |_| {}).await?;
        caxton_round_trips(&w, wall_echo, n / 2, payload.clone(), |_| {}).await?;
        caxton_round_trips(&p, core_echo, n / 2, payload.clone(), |_| {}).await?;
        raw.round_trips(n / 2, payload.clone(), |_| {}).await;
        let (mut c_reps, mut w_reps, mut p_reps, mut r_reps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            let mut c = LatencyRecorder::new();
            let mut wr = LatencyRecorder::new();
            let mut pr = LatencyRecorder::new();
            let mut r = LatencyRecorder::new();
            // The order rotates from rep to rep, so no member is always the
            // one measured first (or right after another).
            for k in 0..4 {
                match (rep + k) % 4 {
                    0 => caxton_round_trips(&o, echo, n, payload.clone(), |d| c.record(d)).await?,
                    1 => caxton_round_trips(&w, wall_echo, n, payload.clone(), |d| wr.record(d)).await?,
                    2 => caxton_round_trips(&p, core_echo, n, payload.clone(), |d| pr.record(d)).await?,
                    _ => raw.round_trips(n, payload.clone(), |d| r.record(d)).await,
                }
            }
            c_reps.push(c);
            w_reps.push(wr);
            p_reps.push(pr);
            r_reps.push(r);
        }
        Ok::<_, caxton_runtime::RequestError>((c_reps, w_reps, p_reps, r_reps))
    })
    .await?;
    wall.shutdown(Duration::from_secs(5)).await;
    per_core.shutdown(Duration::from_secs(5)).await;
    let mut rows = latency_rows(
        "native, request/reply, 64 B, one in flight",
        &c_reps,
        "raw tokio mpsc + oneshot",
        &r_reps,
    )?;
    rows.extend(latency_rows(
        "native, request/reply, 64 B, one in flight, handler time on the wall clock",
        &w_reps,
        "raw tokio mpsc + oneshot",
        &r_reps,
    )?);
    rows.extend(latency_rows(
        "native, request/reply, 64 B, one in flight, agents on per-core threads",
        &p_reps,
        "raw tokio mpsc + oneshot",
        &r_reps,
    )?);
    Ok(rows)
}

/// Spawn time per agent (spawn call to ready), batches, against raw tokio
/// tasks with a channel each.
pub(crate) async fn spawn(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let spec = AgentSpec::new(|| Sink);
    let n = cfg.spawn_batch;
    let (mut c, mut r) = (Vec::new(), Vec::new());
    for i in 0..=cfg.reps {
        let (ids, took) = caxton_spawn_batch(orch, &spec, n)?;
        let (tasks, raw_took) = RawTasks::spawn(n, 1024);
        if i > 0 {
            c.push(took.as_secs_f64() * 1e6 / n as f64);
            r.push(raw_took.as_secs_f64() * 1e6 / n as f64);
        }
        drop(tasks);
        stop_all(orch, &ids).await;
    }
    Ok(vec![
        Measurement::from_samples("agent_spawn_time", &format!("native, batch of {n}, per agent"), "us", c)
            .with_reference_samples("raw tokio task + mpsc", &r),
    ])
}

/// The load under which CPU per agent is measured: messages per second to
/// the 1000 fan-out agents, in batches of one tick, for this many ticks.
const CPU_LOAD_MSGS_PER_S: u64 = 100_000;
const CPU_LOAD_TICK: Duration = Duration::from_millis(10);
const CPU_LOAD_TICKS: u32 = 200;

/// CPU per agent while 1000 agents take a fixed routed load.
pub(crate) async fn cpu_per_agent(orch: &Orchestrator, _cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let fan = FanoutConfig::default();
    let caxton = Arc::new(CaxtonFanout::native(orch, &fan)?);
    // A fixed load, not as much as the fan-out sustains: at saturation the
    // process uses whatever the machine has, so a faster runtime would read
    // as more CPU. `CPU_LOAD_MSGS_PER_S` in `CPU_LOAD_TICK` batches for
    // `CPU_LOAD_TICKS` ticks (about 2 s), a few per cent of the fan-out's
    // capacity on this machine; a tick that comes late is caught up.
    let per_tick = CPU_LOAD_MSGS_PER_S * CPU_LOAD_TICK.as_millis() as u64 / 1000;
    let before = CpuSnapshot::take(orch);
    let c = caxton.clone();
    let sent = in_runtime(async move {
        let mut tick = tokio::time::interval(CPU_LOAD_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut sent = 0;
        for _ in 0..CPU_LOAD_TICKS {
            tick.tick().await;
            sent += c.run(per_tick).await?.messages;
        }
        Ok::<_, caxton_runtime::SendError>(sent)
    })
    .await?;
    let window = CpuWindow::between(&before, &CpuSnapshot::take(orch));
    let achieved = sent as f64 / (window.wall_ms / 1e3);
    let variant = format!("native, {} agents, fan-out at {CPU_LOAD_MSGS_PER_S} msg/s", fan.agents);
    let out = vec![
        Measurement::single(
            "cpu_per_agent",
            &format!("{variant}, handler CPU (max agent)"),
            "%",
            window.agent_cpu_percent_max,
        )
        .with_detail("mean agent", window.agent_cpu_percent_mean)
        .with_detail("sum of agents", window.agent_cpu_percent_sum),
        Measurement::single(
            "cpu_per_agent",
            &format!("{variant}, process CPU / agents"),
            "%",
            window.process_cpu_percent_per_agent,
        )
        .with_detail("process", window.process_cpu_percent)
        .with_detail("achieved msg/s", achieved),
    ];
    if let Ok(c) = Arc::try_unwrap(caxton) {
        c.stop().await;
    }
    Ok(out)
}

/// Recovery time: a panic injected into a checkpointed native agent, from
/// the start of the panicking message (so the panic, the unwinding, the dead
/// letter, the new instance and its restore are in it) to the end of the
/// first message it handles after its restart, as the runtime records it
/// (docs/measurement.md).
pub(crate) async fn recovery(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let spec = AgentSpec::new(Fragile::default).checkpoint_policy(CheckpointPolicy::EveryMessages(1));
    let previous_hook = std::panic::take_hook();
    // The injected panics are expected; keep the terminal clean.
    std::panic::set_hook(Box::new(|_| {}));
    let samples = recovery_samples(orch, &spec, PANIC, cfg.faults).await;
    std::panic::set_hook(previous_hook);
    Ok(vec![Measurement::from_samples(
        "recovery_time",
        "native, panicking message starts -> first message after restart ends",
        "us",
        samples?,
    )])
}
