//! The `capacity` binary: a capacity search with the peak scenario's
//! agents (`scenarios/peak.toml`, or `--config`), see [`crate::capacity`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use crate::capacity::{self, Objectives, SearchPlan};
use crate::cli::{EXIT_CONFIG, EXIT_ERROR, EXIT_FAILED};
use crate::config::{AgentKind, Config, MailboxPolicy, Overrides, parse_duration_s};
use crate::remote::{Target, parse_target};
use crate::scenario::Scenario;

/// Flags of the capacity binary.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Capacity search: ramps an open-loop rate until an objective breaks (see docs/scenarios.md)"
)]
pub struct CapacityArgs {
    /// TOML configuration of the agents (peak's format; default: scenarios/peak.toml, built in).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Number of agents.
    #[arg(long)]
    pub agents: Option<usize>,
    /// Payload size, bytes.
    #[arg(long, value_name = "BYTES")]
    pub message_size: Option<usize>,
    /// Which agents handle the load.
    #[arg(long, value_enum)]
    pub agent_kind: Option<AgentKind>,
    /// What a full mailbox does to the sender (`shed` or `backpressure`).
    #[arg(long, value_enum)]
    pub policy: Option<MailboxPolicy>,
    /// Mailbox capacity per agent.
    #[arg(long, value_name = "MESSAGES")]
    pub mailbox_capacity: Option<usize>,
    /// CPU each native agent spins per message, µs.
    #[arg(long, value_name = "US")]
    pub handler_us: Option<f64>,
    /// The first rate, msg/s.
    #[arg(long, default_value_t = 10_000.0, value_name = "MSG/S")]
    pub start_rate: f64,
    /// Each step multiplies the rate by this until one breaks.
    #[arg(long, default_value_t = 2.0)]
    pub growth: f64,
    /// Bisections between the last rate that held and the first that broke.
    #[arg(long, default_value_t = 3)]
    pub refine: u32,
    /// Stop here even if nothing broke, msg/s.
    #[arg(long, default_value_t = 1e8, value_name = "MSG/S")]
    pub max_rate: f64,
    /// Runs a broken step again up to this many times; it breaks only if
    /// every try does.
    #[arg(long, default_value_t = 1)]
    pub confirm: u32,
    /// When the first rate breaks, step down to no lower than this, msg/s.
    #[arg(long, default_value_t = 10.0, value_name = "MSG/S")]
    pub min_rate: f64,
    /// Length of each step (seconds, or 5s, 1m).
    #[arg(long, value_parser = parse_duration_s, default_value = "3", value_name = "DURATION")]
    pub step: u64,
    /// Objective: the largest p99 send -> handled latency, ms (the peak
    /// scenario's).
    #[arg(long, default_value_t = 100.0, value_name = "MS")]
    pub max_p99_ms: f64,
    /// Objective: the least share of sent messages handled, %.
    #[arg(long, default_value_t = 99.0, value_name = "PCT")]
    pub min_success: f64,
    /// Objective: the generator's largest lateness p99, ms (it keeps its
    /// schedule; over it, the step measured the generator's limit).
    /// Default: --max-p99-ms.
    #[arg(long, value_name = "MS")]
    pub max_lateness_ms: Option<f64>,
    /// The knee: the highest held rate whose p99 is within this factor
    /// of the lowest rate's p99...
    #[arg(long, default_value_t = 3.0)]
    pub knee_factor: f64,
    /// ...or under this many ms, whichever is larger.
    #[arg(long, default_value_t = 0.1, value_name = "MS")]
    pub knee_floor_ms: f64,
    /// A CI-sized search (under a minute): 1 s steps, x4, one bisection.
    #[arg(long)]
    pub quick: bool,
    /// Folder for capacity.json, the curve (.steps.jsonl, .csv) and capacity.html.
    #[arg(long, value_name = "DIR", default_value = "results/scenarios")]
    pub out: PathBuf,
    /// No line per step on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Do not record the result in the results history.
    #[arg(long)]
    pub no_history: bool,
    /// Search against a running `caxton-server` (see docs/scenarios.md).
    #[arg(long, value_parser = parse_target, value_name = "http://HOST:PORT")]
    pub target: Option<Target>,
}

/// Parses the command line, runs the search, writes and prints the
/// result; returns the exit code.
pub fn main() -> ExitCode {
    let args = CapacityArgs::parse();
    let overrides = Overrides {
        agents: args.agents,
        message_size: args.message_size,
        agent_kind: args.agent_kind,
        policy: args.policy,
        mailbox_capacity: args.mailbox_capacity,
        handler_us: args.handler_us,
        ..Overrides::default()
    };
    // Peak's agents and load settings; its rate and duration are each step's.
    let base = match Config::load(Scenario::Peak, args.config.as_deref(), false, &overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("capacity: configuration refused: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = crate::cli::in_process_only(&base, args.target.as_ref()) {
        eprintln!("capacity: configuration refused: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let plan = if args.quick {
        SearchPlan {
            start_rate: args.start_rate,
            growth: 4.0,
            refine: 1,
            max_rate: args.max_rate,
            min_rate: args.min_rate,
            step_s: 1,
            confirm: args.confirm,
        }
    } else {
        SearchPlan {
            start_rate: args.start_rate,
            growth: args.growth,
            refine: args.refine,
            max_rate: args.max_rate,
            min_rate: args.min_rate,
            step_s: args.step.max(1),
            confirm: args.confirm,
        }
    };
    if !(plan.start_rate > 0.0 && plan.growth > 1.0 && plan.max_rate >= plan.start_rate) {
        eprintln!("capacity: configuration refused: need --start-rate > 0, --growth > 1, --max-rate >= --start-rate");
        return ExitCode::from(EXIT_CONFIG);
    }
    let objectives = Objectives {
        max_p99_ms: args.max_p99_ms,
        min_success_pct: args.min_success,
        max_lateness_p99_ms: args.max_lateness_ms.unwrap_or(args.max_p99_ms),
        ..Objectives::default()
    };
    eprintln!(
        "capacity: {} {} agents, {} B messages, {} policy, mailbox {}, handler {} µs; from {} msg/s x{} \
         ({} bisections, {} s steps); objectives: p99 <= {} ms, >= {} % handled, generator lateness p99 <= {} ms{}",
        base.load.agents,
        base.load.agent_kind.name(),
        base.load.message_size,
        base.load.policy.name(),
        base.load.mailbox_capacity,
        base.load.handler_us,
        plan.start_rate,
        plan.growth,
        plan.refine,
        plan.step_s,
        objectives.max_p99_ms,
        objectives.min_success_pct,
        objectives.max_lateness_p99_ms,
        args.target
            .as_ref()
            .map_or(String::new(), |t| format!("; against {}", t.url))
    );
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let t0 = Instant::now();
    let mut n = 0;
    let progress = !args.no_progress;
    let search = capacity::search(
        &plan,
        &objectives,
        |rate| {
            n += 1;
            capacity::run_step(&base, rate, plan.step_s, n, &args.out, args.target.as_ref())
        },
        |s| {
            if progress {
                eprintln!("  step: {}", capacity::step_line(s));
            }
        },
    );
    let search = match search {
        Ok(s) => s,
        Err(e) => {
            eprintln!("capacity: run failed: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut config = serde_json::to_value(&base).unwrap_or_default();
    if let (Some(c), Some(t)) = (config.as_object_mut(), &args.target) {
        c.insert("target".into(), t.url.clone().into());
    }
    let result = capacity::result(
        &search,
        &plan,
        &objectives,
        (args.knee_factor, args.knee_floor_ms),
        config,
        started_at,
        t0.elapsed().as_secs_f64(),
    );
    let written = write(&args.out, &result, &search);
    let path = match written {
        Ok(p) => p,
        Err(e) => {
            eprintln!("capacity: writing results: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    print!("{}", result.summary());
    println!(
        "  curve (offered rate -> latency; each a fresh {} s peak run):",
        plan.step_s
    );
    for s in search.curve() {
        println!("    {}", capacity::step_line(s));
    }
    println!("  result: {}", path.display());
    println!("  chart: {}", args.out.join("capacity.html").display());
    crate::history::record(&path, args.no_history);
    if result.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

fn write(
    out: &std::path::Path,
    result: &crate::result::ScenarioResult,
    search: &capacity::Search,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let mut lines = String::new();
    for s in &search.steps {
        lines.push_str(&serde_json::to_string(s).map_err(std::io::Error::other)?);
        lines.push('\n');
    }
    std::fs::write(out.join("capacity.steps.jsonl"), lines)?;
    std::fs::write(out.join("capacity.csv"), capacity::curve_csv(search))?;
    std::fs::write(out.join("capacity.html"), capacity::html(result, search))?;
    let path = out.join("capacity.json");
    result.write(&path)?;
    Ok(path)
}
