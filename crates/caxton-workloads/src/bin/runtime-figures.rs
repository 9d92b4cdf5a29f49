//! Prints the runtime's headline figures next to raw tokio doing the same
//! work in the same run: routed fan-out throughput, request/reply latency,
//! spawn time and idle heap per agent.
//!
//! `cargo run --release -p caxton-workloads --bin runtime-figures`
//!
//! The machine's cross-core speed drifts, so each throughput figure is the
//! median of interleaved Caxton/raw pairs and the ratio is what to read.
//!
//! The workloads are the shared ones (fan-out, request/reply round trips,
//! spawn batches); latencies go to `caxton_profiling`'s
//! [`LatencyRecorder`] (an HDR histogram, 3 significant digits, as
//! before), heap per agent is counted by the allocator
//! [`caxton_profiling::measurement_allocator!`] installs (stats_alloc, as
//! before), medians are `caxton_stats`'.

use std::time::Duration;

use caxton_profiling::LatencyRecorder;
use caxton_profiling::alloc::AllocRegion;
use caxton_runtime::{AgentSpec, CpuClock, Orchestrator};
use caxton_workloads::agents::Sink;
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig, RawFanout};
use caxton_workloads::pingpong::{RawEcho, caxton_round_trips, spawn_echo};
use caxton_workloads::spawn::{RawTasks, caxton_spawn_batch, stop_all};

caxton_profiling::measurement_allocator!();

fn main() {
    // Under the `dhat-heap` feature the counting allocator is dhat's, whose
    // counters need a running profile (written when it drops).
    #[cfg(feature = "dhat-heap")]
    let _profile = {
        std::fs::create_dir_all("results").expect("results/");
        caxton_profiling::heap::HeapProfile::start("results/dhat-runtime-figures.json")
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

/// Where the driving loop (the producer, the requester) runs.
#[derive(Clone, Copy, Debug)]
enum Placement {
    /// On the thread that called `block_on`: an external client.
    External,
    /// In a task on the runtime's workers: as an agent or service would.
    InRuntime,
}

async fn placed<F: std::future::Future + Send + 'static>(p: Placement, f: F) -> F::Output
where
    F::Output: Send,
{
    match p {
        Placement::External => f.await,
        Placement::InRuntime => tokio::spawn(f).await.expect("driver task"),
    }
}

async fn run() {
    let cpu_clock = CpuClock::from_env().unwrap_or_default();
    println!("handler clock: {cpu_clock:?} (CAXTON_CPU_CLOCK=sampled|thread|wall|off)");
    let orch = Orchestrator::with_config(caxton_runtime::OrchestratorConfig {
        cpu_clock,
        ..Default::default()
    });
    let cfg = FanoutConfig::default();
    const MESSAGES: u64 = 1_000_000;
    const PAIRS: usize = 5;

    // --- throughput: 1 producer -> 1000 receivers, 64-byte payloads -----
    let caxton = std::sync::Arc::new(CaxtonFanout::native(&orch, &cfg).expect("spawn"));
    let raw = std::sync::Arc::new(RawFanout::spawn(&cfg));
    println!(
        "throughput, 1 producer -> {} agents, {} B payloads, {MESSAGES} msgs, {PAIRS} interleaved pairs",
        cfg.agents, cfg.payload_bytes
    );
    for p in [Placement::External, Placement::InRuntime] {
        let (mut c_rates, mut r_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..=PAIRS {
            let (c, r) = (caxton.clone(), raw.clone());
            let c = placed(p, async move { c.run(MESSAGES).await.expect("fan-out").rate() }).await;
            let r = placed(p, async move { r.run(MESSAGES).await.rate() }).await;
            if i == 0 {
                continue; // warm-up pair
            }
            c_rates.push(c);
            r_rates.push(r);
            ratios.push(c / r);
        }
        println!(
            "  producer {:<10} caxton {:>10.0} msg/s   raw tokio {:>10.0} msg/s   caxton/raw {:.2} (median of pairwise ratios)",
            format!("{p:?}"),
            caxton_stats::median(&c_rates).unwrap_or(f64::NAN),
            caxton_stats::median(&r_rates).unwrap_or(f64::NAN),
            caxton_stats::median(&ratios).unwrap_or(f64::NAN)
        );
    }
    let stats = orch.all_stats();
    let (handled, batches) = stats
        .iter()
        .fold((0, 0), |(h, b), s| (h + s.messages_handled, b + s.batches));
    println!(
        "  mean batch per wake-up (caxton): {:.2}",
        handled as f64 / batches as f64
    );
    if let Ok(c) = std::sync::Arc::try_unwrap(caxton) {
        c.stop().await;
    }

    // --- request/reply at light load --------------------------------------
    let echo = spawn_echo(&orch).expect("spawn echo");
    let raw_echo = std::sync::Arc::new(RawEcho::spawn());
    let payload = bytes::Bytes::from_static(&[7u8; 64]);
    println!("request/reply round trip, 64 B, one in flight, 5 x 20000 samples each");
    for p in [Placement::External, Placement::InRuntime] {
        let (o, re, pl) = (orch.clone(), raw_echo.clone(), payload.clone());
        let (hc, hr) = placed(p, async move {
            let (mut hc, mut hr) = (LatencyRecorder::new(), LatencyRecorder::new());
            caxton_round_trips(&o, echo, 10_000, pl.clone(), |_| {})
                .await
                .expect("warm-up");
            re.round_trips(10_000, pl.clone(), |_| {}).await;
            for _ in 0..5 {
                caxton_round_trips(&o, echo, 20_000, pl.clone(), |d| hc.record(d))
                    .await
                    .expect("round trips");
                re.round_trips(20_000, pl.clone(), |d| hr.record(d)).await;
            }
            (hc, hr)
        })
        .await;
        for (who, h) in [("caxton", &hc), ("raw tokio", &hr)] {
            let s = h.summary();
            println!(
                "  requester {:<10} {:<10} p50 {:>7.2} us  p99 {:>7.2} us  p99.9 {:>7.2} us  max {:>9.2} us",
                format!("{p:?}"),
                who,
                s.p50_us,
                s.p99_us,
                s.p999_us,
                s.max_us
            );
        }
    }

    // --- spawn + idle heap --------------------------------------------------
    const N: usize = 10_000;
    let spec = AgentSpec::new(|| Sink);
    // Warm the registry's maps so the measured batch shows per-agent cost.
    let (warm, _) = caxton_spawn_batch(&orch, &spec, N).expect("spawn");
    stop_all(&orch, &warm).await;
    let region = AllocRegion::new(measurement_alloc_source());
    let (ids, took) = caxton_spawn_batch(&orch, &spec, N).expect("spawn");
    // Let every agent task run once and park on its empty mailbox.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let heap = region.change().net_bytes() as f64 / N as f64;
    let region = AllocRegion::new(measurement_alloc_source());
    let (tasks, raw_took) = RawTasks::spawn(N, 1024);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let raw_heap = region.change().net_bytes() as f64 / N as f64;
    println!("spawn, batch of {N}");
    println!(
        "  caxton agent        {:>7.3} us each, idle heap {:>6.0} B each (mailbox included)",
        took.as_secs_f64() * 1e6 / N as f64,
        heap
    );
    println!(
        "  raw tokio task+mpsc {:>7.3} us each, idle heap {:>6.0} B each",
        raw_took.as_secs_f64() * 1e6 / N as f64,
        raw_heap
    );
    drop(tasks);
    stop_all(&orch, &ids).await;
    orch.shutdown(Duration::from_secs(5)).await;
}
