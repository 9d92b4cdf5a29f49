//! Prints `docs/benchmarks.md` from criterion's latest results.
//!
//! ```text
//! cargo run --release -p caxton-benches --bin bench-table -- \
//!     [--criterion-dir target/criterion] [--since-unix SECONDS] [--wall-time-s SECONDS] [--command "..."]
//! ```
//!
//! `--since-unix` keeps only results written at or after that time (the
//! run's start), so results of benchmarks that no longer exist are left out.
//!
//! ```text
//! ```
//!
//! `benches/run-suite.sh` runs the suite, times it and calls this.

use std::path::PathBuf;
use std::process::ExitCode;

use caxton_benches::table::{read_limit_probes, read_rows, render, render_limit_probes, today_utc};

fn main() -> ExitCode {
    let mut dir = PathBuf::from("target/criterion");
    let mut wall: Option<String> = None;
    let mut since: Option<std::time::SystemTime> = None;
    let mut command = String::from("bash benches/run-suite.sh");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next().ok_or_else(|| {
                eprintln!("bench-table: {name} needs a value");
                ExitCode::from(2)
            })
        };
        match arg.as_str() {
            "--criterion-dir" => match value("--criterion-dir") {
                Ok(v) => dir = PathBuf::from(v),
                Err(code) => return code,
            },
            "--wall-time-s" => match value("--wall-time-s") {
                Ok(v) => wall = Some(v),
                Err(code) => return code,
            },
            "--since-unix" => match value("--since-unix").map(|v| v.parse::<u64>()) {
                Ok(Ok(secs)) => since = Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)),
                Ok(Err(e)) => {
                    eprintln!("bench-table: --since-unix needs whole seconds: {e}");
                    return ExitCode::from(2);
                }
                Err(code) => return code,
            },
            "--command" => match value("--command") {
                Ok(v) => command = v,
                Err(code) => return code,
            },
            other => {
                eprintln!("bench-table: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let rows = match read_rows(&dir, since) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("bench-table: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# Benchmarks\n");
    println!("Generated from a real run of the criterion suite (`benches/`) on this project's machine.\n");
    println!("* date (UTC): {}", today_utc());
    println!("* cores (`nproc`): {cores}");
    if let Some(w) = wall {
        println!("* whole suite wall time, default settings: {w} s (measuring only; the build is not counted)");
    }
    println!("* regenerate: `{command}`\n");
    println!("{}", HOW_TO_READ.trim());
    println!();
    print!("{}", render(&rows));
    match read_limit_probes(&dir) {
        Ok(Some(probes)) => print!("{}", render_limit_probes(&probes)),
        Ok(None) => {}
        Err(e) => {
            eprintln!("bench-table: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

const HOW_TO_READ: &str = r#"
## How to read these tables

* Each row is criterion's **median** time per iteration and the 95 % confidence interval of that median,
  from the run named above. A rate is elements per iteration ÷ median time.
* Every workload is defined once in `crates/caxton-workloads` and driven from the thread that calls
  `Runtime::block_on` (an external client); agents, actors and consumer tasks run on tokio's
  multi-threaded runtime with one worker per core. See `benches/src/lib.rs`.
* **Peers** (`peers_*`): the same workload on raw tokio mpsc (the floor), Caxton, ractor and kameo;
  `caxton_wall_clock` is Caxton timing handlers on the wall clock instead of the thread CPU clock
  (a system call per read on Linux), the closer match to peers that keep no per-actor time.
  "time ÷ raw tokio" is a row's median time divided by the `raw_tokio` row's (same parameter) in the
  same run: 1.00 is as fast as bare channels, 2.00 takes twice as long (half the throughput).
  "time ÷ native" likewise divides by the native Caxton row with the same parameter. Members are
  measured one after the other, and this machine's cross-core speed drifts by up to 2x from minute to
  minute, so read ratios as approximate and compare runs with criterion baselines
  (`--save-baseline`, `--baseline`).
* Fan-out: one producer, 20 000 envelopes of 64 B per iteration, round-robin to 1000 receivers
  (bounded mailboxes of 1024; ractor's are unbounded). Ping-pong: one request in flight, 64 B.
* `throughput_routing`: 20 000 messages per iteration routed by agent id to N sink agents: `native`
  does nothing, `wasm` is the `counter` guest (pooling allocator, default limits: epoch CPU limit,
  16 MiB memory).
  `throughput_pool`: 1000 tasks to a 10-agent capability pool (16 FNV-1a rounds over 64 B each).
* `latency_handler`: the pool's per-task work called directly, through one agent's mailbox
  (pipelined, per message), and as a request/reply to one agent.
* `spawn` and `scalability_spawn`: spawn call to every agent ready to receive (`native/N` is a batch
  of N); agents are stopped between iterations outside the timed region. `raw_tokio/1000`: 1000 tasks
  each owning a channel receiver. `scalability_throughput`: 20 000 messages per
  iteration spread over N live agents. `scalability_spawn/native/1` times one lone spawn into an idle
  runtime (it includes waking a worker thread), whereas `spawn/native/1` is the per-spawn time of
  back-to-back spawns.
* `wasm_overhead_compute`: the same kernels (`caxton_kernels::Kernel::ALL`: collatz, sort, crc32,
  parse; the parameter names the kernel, at the rounds of `caxton_wasm::overhead::rounds`, same
  seed) called natively and in the `compute` guest under each CPU-limit mechanism (epoch, fuel,
  none); `wasm_overhead_routed`: the collatz kernel as a request to a native vs a WASM compute
  agent.
* `wasm_limits_*`: the `misbehave` guest (on-demand allocator, no CPU limit) allocating 1 MiB chunks
  until its memory limit refuses a growth (`grow_until_refused/L`, L in MiB), and a trivial call on a
  fresh instance vs one held at its limit. The largest-memory table below comes from the same bench;
  since the probe allocates whole 1 MiB chunks, under a 1 MiB limit no chunk fits and the guest keeps
  only its initial memory.
"#;
