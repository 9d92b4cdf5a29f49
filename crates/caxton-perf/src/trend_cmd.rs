//! `caxton-perf trend`: each figure across the recorded runs in commit
//! order, with its noise band and same-run ratio, as a self-contained HTML
//! page (uPlot) and/or Markdown; exit 1 when `--check` is given and a
//! figure's newest run is a regression against the history.

use std::path::PathBuf;
use std::process::ExitCode;

use caxton_history::provenance::MachineInfo;
use caxton_history::trends::{Query, trends};
use caxton_report::targets::Targets;
use caxton_report::trend;

use crate::history_cmd::{RuleArgs, StoreArgs};

/// Arguments of `trend`.
#[derive(clap::Args)]
pub struct TrendArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only this metric (e.g. latency_p99).
    #[arg(long)]
    metric: Option<String>,
    /// Only runs of this commit (hash prefix) and later commits.
    #[arg(long, value_name = "COMMIT")]
    since: Option<String>,
    /// Write the HTML page here.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    /// Write Markdown here (`-` for stdout).
    #[arg(long, value_name = "OUT")]
    markdown: Option<PathBuf>,
    /// Machine fingerprint (default: this machine's).
    #[arg(long)]
    machine: Option<String>,
    /// Runs of every machine (the rule still judges each figure's newest
    /// run against the runs before it).
    #[arg(long, conflicts_with = "machine")]
    all_machines: bool,
    /// The targets table (for each metric's direction).
    #[arg(long, default_value = "targets.toml")]
    targets: PathBuf,
    /// Exit 1 when a figure's newest run is a regression.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    rule: RuleArgs,
}

/// Runs `trend`.
pub fn trend(args: &TrendArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if args.html.is_none() && args.markdown.is_none() {
        return Err("say where the trends go: --html OUT and/or --markdown OUT (- for stdout)".into());
    }
    let targets = if args.targets.exists() {
        Some(Targets::load(&args.targets)?)
    } else {
        None
    };
    let machine = match (&args.machine, args.all_machines) {
        (_, true) => None,
        (Some(m), _) => Some(m.clone()),
        (None, false) => Some(MachineInfo::current().fingerprint),
    };
    let q = Query {
        machine,
        metric: args.metric.clone(),
        since: args.since.clone(),
        rule: args.rule.rule()?,
    };
    let mut store = caxton_history::store::Store::open(&args.store.location())?;
    let t = trends(&mut store, &q, targets.as_ref())?;
    if t.series.is_empty() {
        eprintln!(
            "no recorded figure matches ({}); run `caxton-perf run` or `caxton-perf history import` first",
            t.description
        );
    }
    if let Some(p) = &args.html {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, trend::html(&t))?;
        eprintln!("wrote {} ({} figure(s))", p.display(), t.series.len());
    }
    if let Some(p) = &args.markdown {
        let md = trend::markdown(&t);
        if p.as_os_str() == "-" {
            print!("{md}");
        } else {
            std::fs::write(p, md)?;
            eprintln!("wrote {}", p.display());
        }
    }
    let regressions: Vec<String> = t.regressions().map(|s| s.name()).collect();
    if !regressions.is_empty() {
        eprintln!("regression(s) against history: {}", regressions.join("; "));
    }
    Ok(if args.check && !regressions.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
