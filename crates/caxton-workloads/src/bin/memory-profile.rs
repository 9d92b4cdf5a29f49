//! Prints the per-agent memory table and writes it as JSON.
//!
//! ```sh
//! cargo run --release -p caxton-workloads --features wasm --bin memory-profile
//! cargo run --release -p caxton-workloads --features wasm --bin memory-profile -- --agents 1,1000 --messages 100
//! cargo run --release -p caxton-workloads --features wasm --bin memory-profile -- --kinds native-counter,wasm-counter
//! # dhat heap profile instead of stats_alloc counting:
//! cargo run --release -p caxton-workloads --features wasm,dhat-heap --bin memory-profile -- --agents 1,100
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use caxton_profiling::memory::{AgentKind, MemoryProfileConfig, run_memory_profile};
use caxton_profiling::{ProfilingError, process};
use clap::{Parser, ValueEnum};

caxton_profiling::measurement_allocator!();

/// The agent kinds this binary can profile. A hosted kind (WASM) is one
/// more variant whose `kind()` spawns it through its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// The native `CounterAgent`, checkpointed with serde.
    NativeCounter,
    /// The `counter` WASM guest (checkpointed through its snapshot export),
    /// on a pooling-allocator host with a slot per agent.
    WasmCounter,
}

impl Kind {
    fn kind(self, max_agents: usize) -> Result<AgentKind, Box<dyn std::error::Error>> {
        Ok(match self {
            Kind::NativeCounter => caxton_workloads::counter::native_counter_kind(),
            Kind::WasmCounter => {
                const GUEST_MEMORY: usize = 4 << 20;
                let host = caxton_wasm::WasmHost::new(caxton_wasm::HostConfig::pooling(
                    u32::try_from(max_agents + 16)?,
                    GUEST_MEMORY,
                ))?;
                let limits = caxton_wasm::AgentLimits::default().max_memory(GUEST_MEMORY);
                let spec = host.load(caxton_wasm::guests::COUNTER)?.spec(limits);
                AgentKind::new("wasm-counter", move |orch| orch.spawn(spec.clone()))
            }
        })
    }
}

/// Memory per live agent: at creation, after messages, after a checkpoint.
#[derive(Debug, Parser)]
#[command(
    name = "memory-profile",
    version,
    about = "Memory per live agent (allocator-counted and RSS): at creation, after messages, after a checkpoint"
)]
struct Args {
    /// Agent counts to profile, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 100, 10_000])]
    agents: Vec<usize>,
    /// Agent kinds to profile, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Kind::NativeCounter])]
    kinds: Vec<Kind>,
    /// Messages each agent handles before the "after messages" reading.
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Tokio worker threads (default: one per CPU).
    #[arg(long)]
    workers: Option<usize>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "results/memory-profile.json")]
    out: PathBuf,
    /// Where dhat writes its heap profile.
    #[cfg(feature = "dhat-heap")]
    #[arg(long, default_value = "results/dhat-heap.json")]
    dhat_out: PathBuf,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memory-profile: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ensure_parent(path: &Path) -> Result<(), ProfilingError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| ProfilingError::io(dir, e))
        }
        _ => Ok(()),
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    ensure_parent(&args.out)?;
    #[cfg(feature = "dhat-heap")]
    let heap = {
        ensure_parent(&args.dhat_out)?;
        caxton_profiling::heap::HeapProfile::start(&args.dhat_out)
    };
    let config = MemoryProfileConfig {
        agent_counts: args.agents,
        messages_per_agent: args.messages,
        worker_threads: args.workers.unwrap_or_else(process::available_cpus),
        ..MemoryProfileConfig::default()
    };
    let max_agents = config.agent_counts.iter().copied().max().unwrap_or(1);
    let kinds = args
        .kinds
        .iter()
        .map(|k| k.kind(max_agents))
        .collect::<Result<Vec<AgentKind>, _>>()?;
    let report = run_memory_profile(&config, &kinds, Some(measurement_alloc_source()))?;
    print!("{}", report.to_table());
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.out, json).map_err(|e| ProfilingError::io(&args.out, e))?;
    println!(
        "wrote {} (run took {:.1} s)",
        args.out.display(),
        report.elapsed_ms / 1000.0
    );
    #[cfg(feature = "dhat-heap")]
    {
        let path = heap.finish();
        println!(
            "dhat heap profile: {} (open it with /usr/libexec/valgrind/dh_view.html or the online dh_view)",
            path.display()
        );
    }
    Ok(())
}
