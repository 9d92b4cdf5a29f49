//! The command line shared by the four scenario binaries.

use std::path::PathBuf;
use std::process::ExitCode;

use caxton_workloads::agents::InjectedFault;
use clap::Parser;

use crate::config::{AgentKind, CapacityBasis, Config, MailboxPolicy, Overrides, Plan, parse_duration_s};
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
    /// Messages per second (the baseline rate for burst): a number, or a
    /// multiple of the capacity (`0.7x`; see --capacity).
    #[arg(long, value_parser = parse_rate, value_name = "MSG/S|Nx")]
    pub rate: Option<Rate>,
    /// The burst's rate (burst only): a number, or a multiple of the
    /// capacity (`3x`; a multiple of 1 or more also requires overload).
    #[arg(long, value_parser = parse_rate, value_name = "MSG/S|Nx")]
    pub burst_rate: Option<Rate>,
    /// The capacity, msg/s, that `Nx` rates multiply; without it a quick
    /// capacity search (1 s steps, default objectives) measures it first.
    #[arg(long, value_name = "MSG/S")]
    pub capacity: Option<f64>,
    /// What a full mailbox does to the sender: refuse (`shed`, counted as
    /// MailboxFull) or make it wait (`backpressure`, each wait counted).
    #[arg(long, value_enum)]
    pub policy: Option<MailboxPolicy>,
    /// Mailbox capacity per agent.
    #[arg(long, value_name = "MESSAGES")]
    pub mailbox_capacity: Option<usize>,
    /// CPU each native agent spins per message, µs (a known handler cost).
    #[arg(long, value_name = "US")]
    pub handler_us: Option<f64>,
    /// Burst: fail as "did not reach overload" unless the burst refused,
    /// made a sender wait, or filled a mailbox.
    #[arg(long)]
    pub require_overload: bool,
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

/// A rate given on the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Messages per second.
    Absolute(f64),
    /// A multiple of the capacity (`0.7x`).
    Relative(f64),
}

impl Rate {
    fn absolute(self) -> Option<f64> {
        match self {
            Self::Absolute(r) => Some(r),
            Self::Relative(_) => None,
        }
    }

    fn relative(self) -> Option<f64> {
        match self {
            Self::Relative(f) => Some(f),
            Self::Absolute(_) => None,
        }
    }
}

/// Parses `5000` (msg/s) or `0.7x` (a multiple of the capacity).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let t = text.trim();
    let (num, relative) = match t.strip_suffix(['x', 'X']) {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}`: a rate is msg/s (5000) or a multiple of the capacity (0.7x)"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("`{text}`: must be above 0"));
    }
    Ok(if relative { Rate::Relative(v) } else { Rate::Absolute(v) })
}

/// Resolves `Nx` rates against `--capacity` or a quick capacity search
/// (with `cfg`'s agents), and records the basis in the configuration.
fn resolve_relative(
    cfg: &mut Config,
    rate: Option<f64>,
    burst: Option<f64>,
    capacity: Option<f64>,
    out: &std::path::Path,
    target: Option<&Target>,
) -> Result<(), String> {
    let (cap, source) = match capacity {
        Some(c) if c.is_finite() && c > 0.0 => (c, "given"),
        Some(c) => return Err(format!("--capacity must be above 0 msg/s, got {c}")),
        None => {
            eprintln!("capacity: measuring it first (quick search, 1 s steps)");
            let search = crate::capacity::measure(cfg, out, target).map_err(|e| e.to_string())?;
            let cap = search
                .capacity
                .ok_or_else(|| "the quick capacity search found no rate that held; give --capacity".to_owned())?;
            eprintln!("capacity: {cap:.0} msg/s measured");
            (cap, "measured")
        }
    };
    if let Some(f) = rate {
        cfg.load.rate = (f * cap).round().max(1.0);
    }
    if let Some(f) = burst {
        match &mut cfg.plan {
            Plan::Burst { burst, .. } => burst.rate = (f * cap).round().max(1.0),
            _ => return Err("--burst-rate is for the burst scenario".into()),
        }
    }
    cfg.load.capacity = Some(CapacityBasis {
        msg_per_s: cap,
        source: source.into(),
        rate_factor: rate,
        burst_factor: burst,
    });
    cfg.validate().map_err(|e| e.to_string())
}

/// Refuses what only an in-process run can do when a `--target` is given:
/// the server's agents are its own (no spun handler cost) and its send
/// route never waits for room.
pub fn in_process_only(cfg: &Config, target: Option<&Target>) -> Result<(), String> {
    if target.is_some() && (cfg.load.policy == MailboxPolicy::Backpressure || cfg.load.handler_us > 0.0) {
        return Err("--policy backpressure and --handler-us are for in-process runs, not --target".into());
    }
    Ok(())
}

/// The burst's intervals, one line each: the policy counted per interval.
fn print_intervals(result_path: &std::path::Path, intervals_file: &str) {
    let path = result_path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(intervals_file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    println!(
        "  {:>5} {:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8}",
        "t s", "phase", "sent", "handled", "refused", "waited", "depth", "p99 ms", "rss MiB"
    );
    for line in text.lines() {
        if let Ok(i) = serde_json::from_str::<crate::interval::Interval>(line) {
            println!(
                "  {:>5.0} {:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10.3} {:>8}",
                i.t_s,
                i.phase,
                i.sent,
                i.handled,
                i.refused,
                i.waited,
                i.depth_max,
                i.p99_ms(),
                i.rss_bytes >> 20
            );
        }
    }
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
    let (rate_x, burst_x) = (
        args.rate.and_then(Rate::relative),
        args.burst_rate.and_then(Rate::relative),
    );
    let overrides = Overrides {
        duration_s: args.duration,
        rate: args.rate.and_then(Rate::absolute),
        agents: args.agents,
        message_size: args.message_size,
        agent_kind: args.agent_kind,
        mailbox_capacity: args.mailbox_capacity,
        policy: args.policy,
        handler_us: args.handler_us,
        burst_rate: args.burst_rate.and_then(Rate::absolute),
        require_overload: (args.require_overload || burst_x.is_some_and(|f| f >= 1.0)).then_some(true),
        ..Overrides::default()
    };
    let mut cfg = match Config::load(scenario, args.config.as_deref(), args.quick, &overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{}: configuration refused: {e}", scenario.name());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = in_process_only(&cfg, args.target.as_ref()) {
        eprintln!("{}: configuration refused: {e}", scenario.name());
        return ExitCode::from(EXIT_CONFIG);
    }
    if (rate_x.is_some() || burst_x.is_some())
        && let Err(e) = resolve_relative(
            &mut cfg,
            rate_x,
            burst_x,
            args.capacity,
            &args.out,
            args.target.as_ref(),
        )
    {
        eprintln!("{}: configuration refused: {e}", scenario.name());
        return ExitCode::from(EXIT_CONFIG);
    }
    if scenario == Scenario::Faults {
        quiet_injected_panics();
    }
    let burst = match &cfg.plan {
        Plan::Burst { burst, .. } => format!(", burst {} msg/s", burst.rate),
        _ => String::new(),
    };
    eprintln!(
        "{}: {} agents, {} msg/s{burst}, {} s, {} B messages, {} policy, mailbox {} ({}{}){}",
        scenario.name(),
        cfg.load.agents,
        cfg.load.rate,
        cfg.load.duration_s,
        cfg.load.message_size,
        cfg.load.policy.name(),
        cfg.load.mailbox_capacity,
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
            if scenario == Scenario::Burst {
                print_intervals(&outcome.result_path, &outcome.result.intervals_file);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_absolute_or_multiples_of_the_capacity() {
        assert_eq!(parse_rate("5000"), Ok(Rate::Absolute(5000.0)));
        assert_eq!(parse_rate("50_000"), Ok(Rate::Absolute(50_000.0)));
        assert_eq!(parse_rate("0.7x"), Ok(Rate::Relative(0.7)));
        assert_eq!(parse_rate("3X"), Ok(Rate::Relative(3.0)));
        for bad in ["", "x", "-1", "0x", "fast", "NaN", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
