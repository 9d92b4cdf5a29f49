//! The suite `caxton-perf run` measures: one step per metric of the
//! targets table (the steps are in [`crate::steps`]), run in turn with a
//! progress display, stopping between steps when asked to.

use std::time::Duration;

use caxton_profiling::alloc::AllocSource;
use caxton_report::results::{Measurement, ResultSet};
use caxton_runtime::Orchestrator;
use indicatif::{ProgressBar, ProgressStyle};

use crate::interrupt::Stop;
use crate::steps::shared::{Error, SuiteConfig, memory};
use crate::steps::{native, network, wasm};

/// Steps of the suite, for the progress display.
const STEPS: u64 = 13;
/// Further steps of `--full`: the network scenarios.
const NETWORK_STEPS: u64 = 3;

/// The steps `--only` can select, by short name, in the order they run
/// (the network steps of `--full` are not selectable).
pub const STEP_NAMES: [&str; 12] = [
    "throughput",
    "throughput-wasm",
    "throughput-by-count",
    "latency",
    "latency-wasm",
    "spawn",
    "spawn-wasm",
    "cpu",
    "recovery",
    "wasm-overhead",
    "memory",
    "memory-wasm",
];

/// Which steps a run measures: all of them, or those `--only` names.
#[derive(Clone, Debug, Default)]
pub struct Selection(Option<Vec<String>>);

impl Selection {
    /// Every step.
    pub fn all() -> Self {
        Self(None)
    }

    /// The steps named in `names` (each one of [`STEP_NAMES`]); an unknown
    /// name is an error that lists the known ones.
    pub fn only(names: &[String]) -> Result<Self, String> {
        if let Some(bad) = names.iter().find(|n| !STEP_NAMES.contains(&n.as_str())) {
            return Err(format!(
                "unknown suite step `{bad}`; the steps are: {}",
                STEP_NAMES.join(", ")
            ));
        }
        Ok(Self(Some(names.to_vec())))
    }

    /// Whether step `name` (one of [`STEP_NAMES`]) is measured.
    pub fn has(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|names| names.iter().any(|n| n == name))
    }

    /// Whether this is a subset of the steps.
    pub fn is_subset(&self) -> bool {
        self.0.is_some()
    }

    fn count(&self) -> u64 {
        STEP_NAMES.iter().filter(|n| self.has(n)).count() as u64
    }
}

/// Runs the steps in turn: announces each, keeps its measurements, and
/// starts none once a stop was asked for.
struct Steps<'a> {
    bar: ProgressBar,
    progress: bool,
    stop: &'a Stop,
    results: ResultSet,
    done: u64,
    total: u64,
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
            eprintln!("[{}/{}] {name}", self.done + 1, self.total);
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
    only: &Selection,
    alloc: &'static dyn AllocSource,
    progress: bool,
    stop: &Stop,
) -> Result<ResultSet, Error> {
    let full = cfg.mode == "full" && !only.is_subset();
    let total = STEPS - STEP_NAMES.len() as u64 + only.count() + if full { NETWORK_STEPS } else { 0 };
    let bar = if progress {
        ProgressBar::new(total)
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
        total,
    };
    stop.checkpoint(&s.results);
    if !s.begin("compiling WASM guests (or loading them from the disk cache)") {
        return Ok(s.finish());
    }
    // Room for the 1000-agent fan-out, its native twins' WASM peers, and the
    // WASM memory profile's largest N, with spare slots.
    let largest = cfg.wasm_memory_counts.iter().copied().max().unwrap_or(0);
    let guests = wasm::Wasm::new((2 * 1000 + largest + 64) as u32)?;
    s.end(Vec::new());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let orch = Orchestrator::new();
        // One step: stop before it when asked, else run it and keep its rows.
        macro_rules! step {
            ($key:expr, $name:expr, $measure:expr) => {
                if only.has($key) {
                    if !s.begin($name) {
                        return Ok(());
                    }
                    let rows = $measure;
                    s.end(rows);
                }
            };
        }
        let steps = async {
            step!(
                "throughput",
                "throughput, native vs raw tokio",
                native::throughput(&orch, cfg).await?
            );
            step!(
                "throughput-wasm",
                "throughput, WASM vs native",
                wasm::throughput(&orch, &guests, cfg).await?
            );
            step!(
                "throughput-by-count",
                "throughput by agent count",
                native::throughput_by_count(&orch, cfg).await?
            );
            step!("latency", "latency, native", native::latency(&orch, cfg).await?);
            step!(
                "latency-wasm",
                "latency, WASM",
                wasm::latency(&orch, &guests, cfg).await?
            );
            step!("spawn", "spawn, native", native::spawn(&orch, cfg).await?);
            step!("spawn-wasm", "spawn, WASM", wasm::spawn(&orch, &guests, cfg).await?);
            step!("cpu", "cpu per agent", native::cpu_per_agent(&orch, cfg).await?);
            step!("recovery", "recovery, native panic and WASM trap", {
                let mut rows = native::recovery(&orch, cfg).await?;
                rows.extend(wasm::recovery(&orch, &guests, cfg).await?);
                rows
            });
            Ok::<_, Error>(())
        };
        let measured = steps.await;
        orch.shutdown(Duration::from_secs(10)).await;
        measured
    })?;
    drop(rt);
    if only.has("wasm-overhead") {
        if !s.begin("WASM overhead (compute kernel)") {
            return Ok(s.finish());
        }
        s.end(wasm::overhead(&guests, cfg)?);
    }
    if only.has("memory") {
        if !s.begin("memory per agent, native") {
            return Ok(s.finish());
        }
        s.end(memory(
            &cfg.memory_counts,
            caxton_workloads::counter::native_counter_kind(),
            alloc,
        )?);
    }
    if only.has("memory-wasm") {
        if !s.begin("memory per agent, WASM") {
            return Ok(s.finish());
        }
        s.end(memory(&cfg.wasm_memory_counts, guests.counter_kind(), alloc)?);
    }
    if full {
        drop(guests);
        let bins = network::binaries()?;
        let steps: [(&str, network::Step); 3] = [
            ("network: HTTP front door vs bare echo server", network::http),
            ("network: payload sizes", network::payload),
            ("network: 10 000 WebSocket sessions", network::websocket),
        ];
        for (name, step) in steps {
            if !s.begin(name) {
                return Ok(s.finish());
            }
            s.end(step(&bins)?);
        }
    }
    Ok(s.finish())
}
