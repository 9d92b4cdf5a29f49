//! Shared set-up for Caxton's criterion bench targets (`benches/benches/*.rs`).
//!
//! # Where the driver runs
//!
//! On a 2-core machine a workload's result depends on where its driving loop
//! (the producer, the requester) runs: on the thread that called
//! `Runtime::block_on` (an *external client*), or inside a task on the
//! runtime's workers. Every bench here drives from the **block_on thread**:
//! each measurement is `runtime.block_on(workload)` inside criterion's
//! `iter_custom`, the same placement criterion's `to_async(&runtime)` uses.
//! Agents, actors and consumer tasks run on the runtime's workers (one per
//! core, tokio's default). The same placement is used for Caxton, raw tokio
//! and every peer framework, so their numbers compare directly.
//!
//! # Time budget
//!
//! Each group sets its own warm-up, measurement time and sample size
//! ([`Budget`]) so the whole suite's default run stays well under 20 minutes
//! on 2 cores. Command-line flags (`--measurement-time`, `--sample-size`,
//! `--warm-up-time`) still override them, and `--test` runs every bench
//! once.

pub mod peers;

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_runtime::{AgentId, Orchestrator};
use caxton_workloads::pingpong::caxton_round_trips;
use criterion::{BenchmarkGroup, SamplingMode, measurement::WallTime};
use tokio::runtime::Runtime;

/// Messages per measured iteration of a fan-out: divisible by every agent
/// count benched (1, 10, 100, 1000, 10000) so each run is whole rounds.
pub const FANOUT_MESSAGES: u64 = 20_000;

/// The multi-threaded tokio runtime every bench runs on: one worker per
/// core (tokio's default), timers enabled.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Warm-up, measurement time, sample size and sampling mode for a group.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Warm-up time.
    pub warm_up: Duration,
    /// Measurement time.
    pub measurement: Duration,
    /// Samples per benchmark (criterion's minimum is 10).
    pub samples: usize,
    /// Flat sampling suits iterations of milliseconds; linear suits
    /// iterations of micro- or nanoseconds.
    pub flat: bool,
}

impl Budget {
    /// For iterations that take microseconds or less.
    pub const FAST: Self = Self {
        warm_up: Duration::from_secs(1),
        measurement: Duration::from_secs(3),
        samples: 50,
        flat: false,
    };

    /// For iterations of about a millisecond or more (a fan-out run, a pool run, a batch spawn).
    pub const SLOW: Self = Self {
        warm_up: Duration::from_secs(1),
        measurement: Duration::from_secs(5),
        samples: 20,
        flat: true,
    };

    /// For iterations of tens of milliseconds (10000-agent spawns).
    pub const HEAVY: Self = Self {
        warm_up: Duration::from_secs(1),
        measurement: Duration::from_secs(5),
        samples: 10,
        flat: true,
    };

    /// Applies the budget to a group. Criterion's own flags on the command
    /// line (`--warm-up-time`, `--measurement-time`, `--sample-size`) win
    /// over the budget's, as a user giving them expects (a group's setting
    /// would otherwise override them): the interleaved gate runs every
    /// benchmark short that way.
    pub fn apply(self, group: &mut BenchmarkGroup<'_, WallTime>) {
        let given = |flag: &str| std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if !given("--warm-up-time") {
            group.warm_up_time(self.warm_up);
        }
        if !given("--measurement-time") {
            group.measurement_time(self.measurement);
        }
        if !given("--sample-size") {
            group.sample_size(self.samples);
        }
        group.sampling_mode(if self.flat {
            SamplingMode::Flat
        } else {
            SamplingMode::Linear
        });
    }
}

/// Runs `iters` iterations of an async workload on the block_on thread and
/// returns the summed time each iteration reported (set-up and tear-down
/// left out by the workload itself).
pub fn sum_iters<F, Fut>(rt: &Runtime, iters: u64, mut one: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    rt.block_on(async {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += one().await;
        }
        total
    })
}

/// Times a whole async block on the block_on thread (for workloads that run
/// `iters` operations back to back).
pub fn time_block<Fut: Future>(rt: &Runtime, fut: Fut) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        std::hint::black_box(fut.await);
        start.elapsed()
    })
}

/// Times `iters` sequential requests to `target` (one in flight) from the
/// block_on thread, through the shared ping-pong workload. A failed request
/// panics rather than being timed.
pub fn time_requests(rt: &Runtime, orch: &Orchestrator, target: AgentId, iters: u64, payload: &Bytes) -> Duration {
    time_block(rt, async {
        caxton_round_trips(orch, target, iters, payload.clone(), |_| {})
            .await
            .expect("request/reply")
    })
}

/// Criterion's output directory as criterion picks it: `$CRITERION_HOME`,
/// else `$CARGO_TARGET_DIR/criterion`, else the workspace's
/// `target/criterion`. Benches that save more than times (the WASM limit
/// probes, see `caxton_report::bench_table`) write there.
pub fn criterion_dir() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => std::path::PathBuf::from(target).join("criterion"),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"),
    }
}
