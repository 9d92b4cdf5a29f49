//! The command line shared by the four scenario binaries.

use std::path::PathBuf;
use std::process::ExitCode;

use caxton_workloads::agents::InjectedFault;
use clap::Parser;

use crate::config::{AgentKind, Config, Overrides, parse_duration_s};
use crate::remote::{Target, parse_target};
use crate::run::{RunOptions, run};
use crate::scenario::Scenario;

/// Exit code when an assertion failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code when the configuration was refused (nothing ran).
pub const EXIT_CONFIG: u8 = 2;
/// Exit code when the run itself broke (I/O, spawn).
pub const EXIT_ERROR: u8 = 3;
/// Exit code when Ctrl-C stopped the run (partial results written).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Flags of every scenario binary; each overrides the TOML configuration.
#[derive(Debug, Parser)]
#[command(version, about = "A Caxton load scenario (see docs/scenarios.md)")]
pub struct Args {
    /// TOML configuration (default: the scenario's file in scenarios/, built in).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run length: seconds, or with units (90s, 10m, 24h, 1h30m, 2d); at most 365 days.
    #[arg(long, value_parser = parse_duration_s, value_name = "DURATION")]
    pub duration: Option<u64>,
    /// Messages per second (the baseline rate for burst).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Number of agents.
    #[arg(long)]
    pub agents: Option<usize>,
    /// Payload size, bytes.
    #[arg(long, value_name = "BYTES")]
    pub message_size: Option<usize>,
    /// Which agents handle the load.
    #[arg(long, value_enum)]
    pub agent_kind: Option<AgentKind>,
    /// A CI-sized run (under a minute): applies the file's [quick] table.
    #[arg(long)]
    pub quick: bool,
    /// Folder for the result JSON and the interval log.
    #[arg(long, value_name = "DIR", default_value = "results/scenarios")]
    pub out: PathBuf,
    /// No live progress display.
    #[arg(long)]
    pub no_progress: bool,
    /// Do not record the result in the results history
    /// (`results/history.sqlite`, or the store `CAXTON_HISTORY_URL` names).
    #[arg(long)]
    pub no_history: bool,
    /// Drive a running `caxton-server` at this address over HTTP instead
    /// of an orchestrator in this process (loopback only; see
    /// docs/scenarios.md, "Against a running server").
    #[arg(long, value_parser = parse_target, value_name = "http://HOST:PORT")]
    pub target: Option<Target>,
}

/// Keeps the injected crashes of the fault scenario out of stderr; any
/// other panic is reported as usual.
fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // `Fragile` raising an injected fault (on this thread, right now).
        if !InjectedFault::is_raising() {
            default(info);
        }
    }));
}

/// Parses the command line, runs `scenario`, prints the summary, and
/// returns the exit code.
pub fn main(scenario: Scenario) -> ExitCode {
    let args = Args::parse();
    let overrides = Overrides {
        duration_s: args.duration,
        rate: args.rate,
        agents: args.agents,
        message_size: args.message_size,
        agent_kind: args.agent_kind,
        ..Overrides::default()
    };
    let cfg = match Config::load(scenario, args.config.as_deref(), args.quick, &overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{}: configuration refused: {e}", scenario.name());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if scenario == Scenario::Faults {
        quiet_injected_panics();
    }
    eprintln!(
        "{}: {} agents, {} msg/s, {} s, {} B messages ({}{}){}",
        scenario.name(),
        cfg.load.agents,
        cfg.load.rate,
        cfg.load.duration_s,
        cfg.load.message_size,
        cfg.source,
        if cfg.quick { ", quick" } else { "" },
        args.target
            .as_ref()
            .map_or(String::new(), |t| format!(" against {}", t.url))
    );
    let no_history = args.no_history;
    let opts = RunOptions {
        out_dir: args.out,
        progress: !args.no_progress,
    };
    let outcome = match &args.target {
        Some(target) => crate::remote::run(scenario, &cfg, &opts, target),
        None => run(scenario, &cfg, &opts),
    };
    match outcome {
        Ok(outcome) => {
            print!("{}", outcome.result.summary());
            println!("  result: {}", outcome.result_path.display());
            crate::history::record(&outcome.result_path, no_history);
            if outcome.result.partial {
                ExitCode::from(EXIT_INTERRUPTED)
            } else if outcome.result.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => {
            eprintln!("{}: run failed: {e}", scenario.name());
            ExitCode::from(EXIT_ERROR)
        }
    }
}
