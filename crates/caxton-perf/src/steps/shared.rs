//! What every step shares: the suite's sizes, where a driver runs, the
//! latency rows, recovery sampling and the memory profile. Depends on no
//! other step module.

use std::time::Duration;

use bytes::Bytes;
use caxton_profiling::alloc::AllocSource;
use caxton_profiling::memory::run_memory_profile;
use caxton_profiling::{AgentKind, LatencyRecorder, MemoryProfileConfig};
use caxton_report::results::Measurement;
use caxton_runtime::{AgentSpec, Message, Orchestrator};

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

/// Runs the driver of a measurement inside a runtime task: where agents and
/// services that send messages run.
pub(crate) async fn in_runtime<F>(f: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(f).await.expect("measurement task panicked")
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

/// Recovery times in µs, one fresh agent from `spec` per fault: a normal
/// message, the `fault` payload, another normal message, then the
/// recovery time the runtime recorded: from the start of the faulting
/// message to the end of the first message handled after the restart.
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
pub(crate) fn memory(
    counts: &[usize],
    kind: AgentKind,
    alloc: &'static dyn AllocSource,
) -> Result<Vec<Measurement>, Error> {
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
