//! The suite `caxton-perf run` measures: one step per metric of the
//! targets table, each built from the shared workloads and the profiling
//! crate, each with a same-run reference where one exists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_profiling::alloc::AllocSource;
use caxton_profiling::memory::run_memory_profile;
use caxton_profiling::{AgentKind, CpuSnapshot, CpuWindow, LatencyRecorder, MemoryProfileConfig};
use caxton_report::results::{Measurement, ResultSet};
use caxton_runtime::{AgentSpec, CheckpointPolicy, CpuClock, Message, Orchestrator, OrchestratorConfig};
use caxton_workloads::agents::{Fragile, PANIC, Sink};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig, RawFanout};
use caxton_workloads::pingpong::{RawEcho, caxton_round_trips, spawn_echo};
use caxton_workloads::spawn::{RawTasks, caxton_spawn_batch, stop_all};
use indicatif::{ProgressBar, ProgressStyle};

use crate::interrupt::Stop;

pub(crate) type Error = Box<dyn std::error::Error>;

/// Sizes of one suite run.
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// Label written into the results.
    pub mode: &'static str,
    /// Repetitions (interleaved Caxton/reference pairs) per throughput figure.
    pub reps: usize,
    /// Messages per throughput repetition.
    pub fanout_messages: u64,
    /// Round trips per latency repetition.
    pub round_trips: u64,
    /// Agents per spawn batch.
    pub spawn_batch: usize,
    /// Agent counts of the throughput-by-count chart.
    pub agent_counts: Vec<usize>,
    /// Agent counts of the native memory profile.
    pub memory_counts: Vec<usize>,
    /// Agent counts of the WASM memory profile (each live guest takes a
    /// pooling-allocator slot).
    pub wasm_memory_counts: Vec<usize>,
    /// Injected faults for the recovery figure.
    pub faults: usize,
}

impl SuiteConfig {
    /// The quick default (about a minute) or `--full`.
    pub fn new(full: bool) -> Self {
        if full {
            Self {
                mode: "full",
                reps: 15,
                fanout_messages: 2_000_000,
                round_trips: 50_000,
                spawn_batch: 10_000,
                agent_counts: vec![1, 10, 100, 1000, 10_000],
                memory_counts: vec![1, 100, 10_000],
                wasm_memory_counts: vec![1, 100, 10_000],
                faults: 50,
            }
        } else {
            Self {
                mode: "quick",
                reps: 5,
                fanout_messages: 500_000,
                round_trips: 20_000,
                spawn_batch: 10_000,
                agent_counts: vec![1, 10, 1000],
                memory_counts: vec![1, 100, 10_000],
                wasm_memory_counts: vec![1, 100, 10_000],
                faults: 20,
            }
        }
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the driver of a measurement inside a runtime task: where agents and
/// services that send messages run.
pub(crate) async fn in_runtime<F>(f: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(f).await.expect("measurement task panicked")
}

/// Steps of the suite, for the progress display.
const STEPS: u64 = 13;

/// Runs the steps in turn: announces each, keeps its measurements, and
/// starts none once a stop was asked for.
struct Steps<'a> {
    bar: ProgressBar,
    progress: bool,
    stop: &'a Stop,
    results: ResultSet,
    done: u64,
}

impl Steps<'_> {
    /// Whether to run step `name`: false once a stop was asked for (the
    /// results are then partial).
    fn begin(&mut self, name: &str) -> bool {
        if self.stop.requested().is_some() {
            self.results.partial = true;
            return false;
        }
        self.bar.set_message(name.to_owned());
        if !self.progress {
            // Plain lines where no bar is drawn (CI logs, pipes).
            eprintln!("[{}/{STEPS}] {name}", self.done + 1);
        }
        true
    }

    /// Keeps a finished step's measurements.
    fn end(&mut self, measurements: Vec<Measurement>) {
        self.results.measurements.extend(measurements);
        self.done += 1;
        self.bar.inc(1);
        self.stop.checkpoint(&self.results);
    }

    fn finish(mut self) -> ResultSet {
        self.bar.finish_and_clear();
        // The run's end, not its start (`ResultSet::new`).
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            self.results.finished_at_unix = now.as_secs();
        }
        self.results
    }
}

/// Runs the whole suite. When `stop` is asked (Ctrl-C) it stops after the
/// step under way and returns what was measured, marked partial.
pub fn run(
    cfg: &SuiteConfig,
    alloc: &'static dyn AllocSource,
    progress: bool,
    stop: &Stop,
) -> Result<ResultSet, Error> {
    let bar = if progress {
        ProgressBar::new(STEPS)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(200));
    stop.set_bar(&bar);
    let mut s = Steps {
        bar,
        progress,
        stop,
        results: ResultSet::new(&format!("caxton-perf run ({})", cfg.mode)),
        done: 0,
    };
    stop.checkpoint(&s.results);
    if !s.begin("compiling WASM guests (or loading them from the disk cache)") {
        return Ok(s.finish());
    }
    // Room for the 1000-agent fan-out, its native twins' WASM peers, and the
    // WASM memory profile's largest N, with spare slots.
    let largest = cfg.wasm_memory_counts.iter().copied().max().unwrap_or(0);
    let wasm = crate::wasm_steps::Wasm::new((2 * 1000 + largest + 64) as u32)?;
    s.end(Vec::new());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let orch = Orchestrator::new();
        // One step: stop before it when asked, else run it and keep its rows.
        macro_rules! step {
            ($name:expr, $measure:expr) => {
                if !s.begin($name) {
                    return Ok(());
                }
                let rows = $measure;
                s.end(rows);
            };
        }
        let steps = async {
            step!("throughput, native vs raw tokio", throughput(&orch, cfg).await?);
            step!(
                "throughput, WASM vs native",
                crate::wasm_steps::throughput(&orch, &wasm, cfg).await?
            );
            step!("throughput by agent count", throughput_by_count(&orch, cfg).await?);
            step!("latency, native", latency(&orch, cfg).await?);
            step!("latency, WASM", crate::wasm_steps::latency(&orch, &wasm, cfg).await?);
            step!("spawn, native", spawn(&orch, cfg).await?);
            step!("spawn, WASM", crate::wasm_steps::spawn(&orch, &wasm, cfg).await?);
            step!("cpu per agent", cpu_per_agent(&orch, cfg).await?);
            step!("recovery, native panic and WASM trap", {
                let mut rows = recovery(&orch, cfg).await?;
                rows.extend(crate::wasm_steps::recovery(&orch, &wasm, cfg).await?);
                rows
            });
            Ok::<_, Error>(())
        };
        let measured = steps.await;
        orch.shutdown(Duration::from_secs(10)).await;
        measured
    })?;
    drop(rt);
    if !s.begin("WASM overhead (compute kernel)") {
        return Ok(s.finish());
    }
    s.end(crate::wasm_steps::overhead(&wasm, cfg)?);
    if !s.begin("memory per agent, native") {
        return Ok(s.finish());
    }
    s.end(memory(&cfg.memory_counts, AgentKind::native_counter(), alloc)?);
    if !s.begin("memory per agent, WASM") {
        return Ok(s.finish());
    }
    s.end(memory(&cfg.wasm_memory_counts, wasm.counter_kind(), alloc)?);
    Ok(s.finish())
}

/// Routed throughput, 1 producer -> 1000 native agents, 64 B, against raw
/// tokio channels in interleaved pairs; producer in the runtime and outside it.
async fn throughput(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let fan = FanoutConfig::default();
    let caxton = Arc::new(CaxtonFanout::native(orch, &fan)?);
    let raw = Arc::new(RawFanout::spawn(&fan));
    let mut out = Vec::new();
    for (label, inside) in [("producer in runtime", true), ("producer outside runtime", false)] {
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
        .with_reference_pairs("raw tokio mpsc", median(r_rates), ratios);
        // A producer outside the runtime is a third busy thread on two
        // cores: its ratio swings between runs with the machine's other load.
        out.push(if inside { m } else { m.informational() });
    }
    if let Ok(c) = Arc::try_unwrap(caxton) {
        c.stop().await;
    }
    Ok(out)
}

/// Throughput at each agent count of the chart (producer in the runtime).
async fn throughput_by_count(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
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
            .with_reference_pairs("raw tokio mpsc", median(raw_rates), ratios),
        );
        if let Ok(c) = Arc::try_unwrap(caxton) {
            c.stop().await;
        }
    }
    Ok(out)
}

/// Request/reply at light load (one in flight), requester in the runtime:
/// the suite's orchestrator (handler time on the thread CPU clock, the
/// default) and one timing handlers on the wall clock, beside raw tokio,
/// interleaved. The pair shows what exact CPU accounting costs a request.
async fn latency(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let wall = Orchestrator::with_config(OrchestratorConfig {
        cpu_clock: CpuClock::Wall,
        ..OrchestratorConfig::default()
    });
    let echo = spawn_echo(orch)?;
    let wall_echo = spawn_echo(&wall)?;
    let raw = Arc::new(RawEcho::spawn());
    let payload = Bytes::from_static(&[7u8; 64]);
    let (o, w, n, reps) = (orch.clone(), wall.clone(), cfg.round_trips, cfg.reps);
    let (c_reps, w_reps, r_reps) = in_runtime(async move {
        caxton_round_trips(&o, echo, n / 2, payload.clone(), |_| {}).await?;
        caxton_round_trips(&w, wall_echo, n / 2, payload.clone(), |_| {}).await?;
        raw.round_trips(n / 2, payload.clone(), |_| {}).await;
        let (mut c_reps, mut w_reps, mut r_reps) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            let (mut c, mut wr, mut r) = (LatencyRecorder::new(), LatencyRecorder::new(), LatencyRecorder::new());
            caxton_round_trips(&o, echo, n, payload.clone(), |d| c.record(d)).await?;
            caxton_round_trips(&w, wall_echo, n, payload.clone(), |d| wr.record(d)).await?;
            raw.round_trips(n, payload.clone(), |d| r.record(d)).await;
            c_reps.push(c);
            w_reps.push(wr);
            r_reps.push(r);
        }
        Ok::<_, caxton_runtime::RequestError>((c_reps, w_reps, r_reps))
    })
    .await?;
    wall.shutdown(Duration::from_secs(5)).await;
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
    Ok(rows)
}

/// The `latency_p50` and `latency_p99` rows from per-repetition recorders
/// (value = median over repetitions; details = the merged distribution),
/// beside the reference's recorders from the same, interleaved repetitions.
pub(crate) fn latency_rows(
    variant: &str,
    reps: &[LatencyRecorder],
    reference_name: &str,
    reference_reps: &[LatencyRecorder],
) -> Result<Vec<Measurement>, Error> {
    let merge = |recs: &[LatencyRecorder]| -> Result<LatencyRecorder, Error> {
        let mut all = LatencyRecorder::new();
        for r in recs {
            all.merge(r)?;
        }
        Ok(all)
    };
    let s = merge(reps)?.summary();
    let rs = merge(reference_reps)?.summary();
    let p = |recs: &[LatencyRecorder], q: f64| {
        recs.iter()
            .map(|r| r.quantile_ns(q) as f64 / 1000.0)
            .collect::<Vec<_>>()
    };
    let ratios = |q: f64| {
        p(reps, q)
            .iter()
            .zip(p(reference_reps, q))
            .map(|(a, b)| a / b.max(f64::MIN_POSITIVE))
            .collect::<Vec<_>>()
    };
    Ok(vec![
        Measurement::from_samples("latency_p50", variant, "us", p(reps, 0.5))
            .with_reference_pairs(reference_name, rs.p50_us, ratios(0.5))
            .with_detail("p50", s.p50_us)
            .with_detail("p90", s.p90_us)
            .with_detail("p95", s.p95_us)
            .with_detail("p99", s.p99_us)
            .with_detail("p99.9", s.p999_us)
            .with_detail("max", s.max_us),
        Measurement::from_samples("latency_p99", variant, "us", p(reps, 0.99)).with_reference_pairs(
            reference_name,
            rs.p99_us,
            ratios(0.99),
        ),
    ])
}

/// Spawn time per agent (spawn call to ready), batches, against raw tokio
/// tasks with a channel each.
async fn spawn(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
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
    Ok(vec![{
        let ratios = c.iter().zip(&r).map(|(a, b)| a / b).collect();
        Measurement::from_samples("agent_spawn_time", &format!("native, batch of {n}, per agent"), "us", c)
            .with_reference_pairs("raw tokio task + mpsc", median(r), ratios)
    }])
}

/// CPU per agent while 1000 agents take routed load.
async fn cpu_per_agent(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let fan = FanoutConfig::default();
    let caxton = Arc::new(CaxtonFanout::native(orch, &fan)?);
    let before = CpuSnapshot::take(orch);
    // As much load as the fan-out sustains, for about two seconds.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        let c = caxton.clone();
        let n = cfg.fanout_messages / 5;
        in_runtime(async move { c.run(n).await.map(|r| r.messages) }).await?;
    }
    let window = CpuWindow::between(&before, &CpuSnapshot::take(orch));
    let variant = format!("native, {} agents under fan-out load", fan.agents);
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
        .with_detail("process", window.process_cpu_percent),
    ];
    if let Ok(c) = Arc::try_unwrap(caxton) {
        c.stop().await;
    }
    Ok(out)
}

/// Recovery time: a panic injected into a checkpointed native agent, to the
/// first message it handles after its restart (as the runtime records it).
async fn recovery(orch: &Orchestrator, cfg: &SuiteConfig) -> Result<Vec<Measurement>, Error> {
    let spec = AgentSpec::new(Fragile::default).checkpoint_policy(CheckpointPolicy::EveryMessages(1));
    let previous_hook = std::panic::take_hook();
    // The injected panics are expected; keep the terminal clean.
    std::panic::set_hook(Box::new(|_| {}));
    let samples = recovery_samples(orch, &spec, PANIC, cfg.faults).await;
    std::panic::set_hook(previous_hook);
    Ok(vec![Measurement::from_samples(
        "recovery_time",
        "native, panic -> first message after restart",
        "us",
        samples?,
    )])
}

/// Recovery times in µs, one fresh agent from `spec` per fault: a normal
/// message, the `fault` payload, another normal message, then the restart's
/// fault-to-first-message time as the runtime recorded it.
pub(crate) async fn recovery_samples<A: caxton_runtime::Agent>(
    orch: &Orchestrator,
    spec: &AgentSpec<A>,
    fault: &'static [u8],
    faults: usize,
) -> Result<Vec<f64>, Error> {
    let mut samples = Vec::with_capacity(faults);
    for _ in 0..faults {
        let id = orch.spawn(spec.clone())?;
        for payload in [&b"tick"[..], fault, b"tick"] {
            orch.send(Message::inform(id, Bytes::from_static(payload))).await?;
        }
        let recovered = loop {
            let st = orch.stats(id).ok_or("the recovery agent stopped")?;
            if let Some(t) = st.recovery_times.first() {
                break *t;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        samples.push(recovered.as_secs_f64() * 1e6);
        let _ = orch.stop(id).await;
    }
    Ok(samples)
}

/// Memory per agent of one kind from the profiling crate's memory profile.
fn memory(counts: &[usize], kind: AgentKind, alloc: &'static dyn AllocSource) -> Result<Vec<Measurement>, Error> {
    let config = MemoryProfileConfig {
        agent_counts: counts.to_vec(),
        ..MemoryProfileConfig::default()
    };
    let report = run_memory_profile(&config, &[kind], Some(alloc))?;
    let mut out = Vec::new();
    for row in &report.rows {
        if let Some(a) = &row.allocator {
            out.push(
                Measurement::single(
                    "memory_per_agent",
                    &format!(
                        "{}, {} agents, heap after {} msgs + checkpoint",
                        row.kind, row.agents, row.messages_per_agent
                    ),
                    "B",
                    a.total_bytes_per_agent,
                )
                .with_detail("creation", a.creation_bytes_per_agent)
                .with_detail("messages", a.messages_bytes_per_agent)
                .with_detail("checkpoint", a.checkpoint_bytes_per_agent),
            );
        }
        out.push(Measurement::single(
            "memory_per_agent",
            &format!("{}, {} agents, RSS delta / N", row.kind, row.agents),
            "B",
            row.rss.total_bytes_per_agent,
        ));
    }
    Ok(out)
}
