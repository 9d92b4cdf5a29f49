//! The results history from the command line: recording each `run`
//! (and `report --record`), and `caxton-perf history list | show | import |
//! prune | check`. The store is `caxton-history`'s; see docs/history.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use caxton_history::location::DEFAULT_PATH;
use caxton_history::provenance::{
    Git, KIND_CRITERION, KIND_IMPORT, KIND_SCENARIO, KIND_SUITE, MachineInfo, RunInfo, now_unix, toolchain,
};
use caxton_history::store::Store;
use caxton_history::{Location, trends};
use caxton_report::report::Context;
use caxton_report::results::{Measurement, ResultSet};
use caxton_report::targets::Targets;
use caxton_report::trend::{self, Rule};

type Error = Box<dyn std::error::Error>;

/// Which store: `--history URL|PATH`, else `$CAXTON_HISTORY_URL`, else
/// `results/history.sqlite`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StoreArgs {
    /// The history store: a `postgres://` URL or an SQLite file (default:
    /// $CAXTON_HISTORY_URL, else results/history.sqlite).
    #[arg(long, value_name = "URL|PATH", global = true)]
    pub history: Option<String>,
}

impl StoreArgs {
    /// The store these flags (or the environment) name.
    pub fn location(&self) -> Location {
        Location::choose(self.history.as_deref(), false, Path::new(DEFAULT_PATH))
            .unwrap_or_else(|| Location::Sqlite(DEFAULT_PATH.into()))
    }

    fn open(&self) -> Result<Store, Error> {
        Ok(Store::open(&self.location())?)
    }
}

/// How `run` records: the store, or none.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RecordArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Do not record the run in the history (and compare with nothing).
    #[arg(long, conflicts_with = "history")]
    pub no_history: bool,
    #[command(flatten)]
    pub rule: RuleArgs,
}

/// The regression rule's parameters (docs/history.md).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct RuleArgs {
    /// Earlier runs (same machine) the band is computed from.
    #[arg(long, default_value_t = Rule::default().window)]
    pub window: usize,
    /// Band half-width, in robust standard deviations (1.4826 × MAD).
    #[arg(long, default_value_t = Rule::default().k)]
    pub k: f64,
    /// Smallest change from the window's median (percent) that counts.
    #[arg(long, default_value_t = Rule::default().min_change_pct)]
    pub min_change: f64,
}

impl Default for RuleArgs {
    fn default() -> Self {
        let r = Rule::default();
        Self {
            window: r.window,
            k: r.k,
            min_change: r.min_change_pct,
        }
    }
}

impl RuleArgs {
    /// The rule.
    pub fn rule(&self) -> Result<Rule, Error> {
        if self.window == 0
            || !(self.k.is_finite() && self.k > 0.0)
            || !(self.min_change.is_finite() && self.min_change >= 0.0)
        {
            return Err(format!(
                "the rule needs --window >= 1, --k > 0 and --min-change >= 0 (got {}, {}, {})",
                self.window, self.k, self.min_change
            )
            .into());
        }
        Ok(Rule {
            window: self.window,
            min_runs: Rule::default().min_runs.min(self.window),
            k: self.k,
            min_change_pct: self.min_change,
        })
    }
}

/// Records `results` (a suite run, or with `kind` another kind) when the
/// history is on, and returns the report's context: commit, environment,
/// and, when recorded, the baseline from the history of this machine.
/// History never fails the run: a store that cannot be opened or written
/// becomes a note in the reports and a line on stderr.
pub fn record_for_report(
    args: &RecordArgs,
    kind: &str,
    results: &ResultSet,
    started_at_unix: u64,
    config: serde_json::Value,
    targets: &Targets,
) -> Context {
    let mut info = RunInfo::current(kind, &results.source, started_at_unix, results.finished_at_unix, config);
    info.partial = results.partial;
    let mut ctx = Context {
        commit: info.git.commit.clone(),
        branch: info.git.branch.clone(),
        dirty: info.git.dirty,
        environment: {
            let mut env = info.machine.environment();
            env.push(("toolchain".to_owned(), info.toolchain.clone()));
            env
        },
        ..Context::default()
    };
    if args.no_history {
        ctx.notes
            .push("History: off (--no-history); this run was not recorded.".to_owned());
        return ctx;
    }
    let rule = match args.rule.rule() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("history not recorded: {e}");
            ctx.notes.push(format!("History not recorded: {e}."));
            return ctx;
        }
    };
    let location = args.store.location();
    // On a thread of its own: the PostgreSQL client runs a runtime of its
    // own, which cannot start inside another (the signal watcher's).
    let outcome = std::thread::scope(|s| {
        s.spawn(|| -> Result<_, caxton_history::HistoryError> {
            let t0 = Instant::now();
            let mut store = Store::open(&location)?;
            let id = store.record(&info, results)?;
            let recorded_in = t0.elapsed();
            // Recorded: a failure to read the history back now only costs
            // the comparison.
            let compared = trends::baseline(&mut store, &info.machine.fingerprint, id, results, &rule, Some(targets));
            Ok((id, recorded_in, compared))
        })
        .join()
    });
    match outcome {
        Ok(Ok((id, took, compared))) => {
            eprintln!(
                "history: recorded run {id} in {} ({:.1} ms)",
                location.describe(),
                took.as_secs_f64() * 1e3
            );
            ctx.notes
                .push(format!("History: recorded as run {id} in {}.", location.describe()));
            match compared {
                Ok((baseline, trends)) if !baseline.rows.is_empty() => {
                    ctx.baseline = Some(baseline);
                    ctx.trends = Some(trends);
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("history: recorded, but not compared: {e}");
                    ctx.notes.push(format!("History: not compared with earlier runs: {e}."));
                }
            }
        }
        Ok(Err(e)) => {
            eprintln!("history not recorded: {e}");
            ctx.notes.push(format!("History not recorded: {e}."));
        }
        Err(_) => {
            eprintln!("history not recorded: the history writer panicked");
            ctx.notes
                .push("History not recorded: the history writer panicked.".to_owned());
        }
    }
    ctx
}

/// The context of a report that is not recorded (`report` without
/// `--record`): this checkout and machine.
pub fn context_here() -> Context {
    let git = Git::current();
    let machine = MachineInfo::current();
    let mut environment = machine.environment();
    environment.push(("toolchain".to_owned(), toolchain()));
    Context {
        commit: git.commit,
        branch: git.branch,
        dirty: git.dirty,
        environment,
        ..Context::default()
    }
}

/// Arguments of `history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: HistoryCommand,
}

#[derive(clap::Subcommand)]
enum HistoryCommand {
    /// The recorded runs, newest first.
    List {
        /// Only this machine fingerprint (default: this machine's).
        #[arg(long)]
        machine: Option<String>,
        /// Every machine.
        #[arg(long, conflicts_with = "machine")]
        all_machines: bool,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run: its provenance and measurements.
    Show {
        /// The run's id (from `history list`).
        run: i64,
        /// JSON (provenance and the result set) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Records result files: suite results (results.json) and scenario
    /// result files, or with --criterion a saved criterion baseline. Every
    /// file is read and checked first; one malformed file refuses the whole
    /// import and nothing is written.
    Import {
        /// Result files.
        files: Vec<PathBuf>,
        /// Import this saved criterion baseline instead (e.g. `main`).
        #[arg(long, value_name = "BASELINE")]
        criterion: Option<String>,
        /// Where criterion keeps its results.
        #[arg(long, default_value = "target/criterion")]
        criterion_dir: PathBuf,
        /// The commit the files measured (default: this checkout's HEAD).
        #[arg(long)]
        commit: Option<String>,
        /// Its branch (default: this checkout's).
        #[arg(long)]
        branch: Option<String>,
    },
    /// Deletes all but the newest N runs.
    Prune {
        /// How many runs to keep.
        #[arg(long)]
        keep: usize,
    },
    /// The regression check: the newest run of this machine against the
    /// runs before it (docs/history.md). Exit 1 on a regression.
    Check {
        #[command(flatten)]
        rule: RuleArgs,
        /// The targets table (for each metric's direction).
        #[arg(long, default_value = "targets.toml")]
        targets: PathBuf,
        /// Machine fingerprint (default: this machine's).
        #[arg(long)]
        machine: Option<String>,
        /// Also write the Markdown here (e.g. for a PR comment).
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
}

/// Runs a `history` subcommand.
pub fn history(args: &HistoryArgs) -> Result<ExitCode, Error> {
    match &args.command {
        HistoryCommand::List {
            machine,
            all_machines,
            limit,
            json,
        } => {
            let mut store = args.store.open()?;
            let machine = match (machine, all_machines) {
                (_, true) => None,
                (Some(m), _) => Some(m.clone()),
                (None, false) => Some(MachineInfo::current().fingerprint),
            };
            let runs = store.list(machine.as_deref(), *limit)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} run(s) in {}{}",
                runs.len(),
                store.location().describe(),
                machine.map_or(String::new(), |m| format!(
                    ", machine {m} (--all-machines for every one)"
                ))
            );
            println!(
                "{:>6}  {:<20}  {:<9}  {:<12}  {:<16}  {:>5}  source",
                "run", "started", "kind", "commit", "branch", "figs"
            );
            for r in runs {
                println!(
                    "{:>6}  {:<20}  {:<9}  {:<12}  {:<16}  {:>5}  {}{}",
                    r.id,
                    r.started_at,
                    r.kind,
                    r.commit.as_deref().map_or("-".to_owned(), |c| format!(
                        "{}{}",
                        c.chars().take(10).collect::<String>(),
                        if r.dirty { "+" } else { "" }
                    )),
                    r.branch.as_deref().unwrap_or("-"),
                    r.measurements,
                    r.source,
                    if r.partial { " (partial)" } else { "" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        HistoryCommand::Show { run, json } => {
            let mut store = args.store.open()?;
            let (info, results) = store.run(*run)?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"run": run, "info": info, "results": results}))?
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!("run {run}: {} ({})", info.source, info.kind);
            println!("started {}, finished {}", info.started_at, info.finished_at);
            println!(
                "commit {} on {}{}; committed {}",
                info.git.commit.as_deref().unwrap_or("unknown"),
                info.git.branch.as_deref().unwrap_or("-"),
                if info.git.dirty { " (uncommitted changes)" } else { "" },
                info.git.commit_time.as_deref().unwrap_or("-")
            );
            println!(
                "machine {}: {}, {} cores, kernel {}, {}, {} GiB{}",
                info.machine.fingerprint,
                info.machine.cpu,
                info.machine.cores,
                info.machine.kernel,
                info.machine.os,
                info.machine.memory_gib,
                info.machine
                    .governor
                    .as_deref()
                    .map_or(String::new(), |g| format!(", governor {g}"))
            );
            println!("toolchain {}; config {}", info.toolchain, info.config);
            if info.partial {
                println!("PARTIAL: the run was interrupted");
            }
            for m in &results.measurements {
                println!(
                    "  {} [{}] = {} {}{}",
                    m.metric,
                    m.variant,
                    caxton_report::report::fmt_value(m.value),
                    m.unit,
                    m.reference.as_ref().map_or(String::new(), |r| format!(
                        "  (same-run {} {})",
                        r.name,
                        caxton_report::report::fmt_value(r.value)
                    ))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        HistoryCommand::Import {
            files,
            criterion,
            criterion_dir,
            commit,
            branch,
        } => import(&args.store, files, criterion.as_deref(), criterion_dir, commit, branch),
        HistoryCommand::Prune { keep } => {
            let mut store = args.store.open()?;
            let n = store.prune(*keep)?;
            println!(
                "deleted {n} run(s) from {}; kept the newest {keep}",
                store.location().describe()
            );
            Ok(ExitCode::SUCCESS)
        }
        HistoryCommand::Check {
            rule,
            targets,
            machine,
            markdown,
        } => {
            let rule = rule.rule()?;
            let targets = if targets.exists() {
                Some(Targets::load(targets)?)
            } else {
                None
            };
            let mut store = args.store.open()?;
            let machine = machine.clone().unwrap_or_else(|| MachineInfo::current().fingerprint);
            let Some((_, t)) = trends::check(&mut store, &machine, &rule, targets.as_ref())? else {
                return Err(format!(
                    "no run of machine {machine} in {}: nothing to check",
                    store.location().describe()
                )
                .into());
            };
            let md = trend::markdown(&t);
            print!("{md}");
            if let Some(p) = markdown {
                std::fs::write(p, &md)?;
            }
            Ok(if t.regressions().next().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// A saved criterion baseline as a result set: each benchmark's time per
/// iteration (median where criterion kept samples, else its mean), in ns.
fn criterion_set(criterion_dir: &Path, name: &str) -> Result<ResultSet, Error> {
    let baseline = caxton_report::criterion::load_baseline(criterion_dir, name)?;
    let mut set = ResultSet::new(&format!("criterion baseline {name}"));
    set.finished_at_unix = now_unix();
    for (id, est) in &baseline {
        let mut m = Measurement::from_samples("criterion", id, "ns", est.per_iteration_ns.clone());
        m.value = est.median_ns.map_or(est.mean_ns, |(median, _)| median);
        if m.samples.is_empty() {
            m.interval = Some(est.median_ns.map_or(est.interval_ns, |(_, i)| i));
        }
        set.measurements.push(m);
    }
    Ok(set)
}

/// Records the criterion baseline `name` (what `compare --criterion`
/// judged) in the store `location` names; says where, or why not. Never
/// fails the comparison.
pub fn record_criterion(location: &Location, criterion_dir: &Path, name: &str) {
    let recorded = (|| -> Result<i64, Error> {
        let set = criterion_set(criterion_dir, name)?;
        let info = RunInfo::current(
            KIND_CRITERION,
            &set.source,
            set.finished_at_unix,
            set.finished_at_unix,
            serde_json::json!({"criterion_dir": criterion_dir.display().to_string(), "baseline": name}),
        );
        Ok(Store::open(location)?.record(&info, &set)?)
    })();
    match recorded {
        Ok(id) => println!(
            "history: recorded criterion baseline {name} as run {id} in {}",
            location.describe()
        ),
        Err(e) => eprintln!(
            "history: criterion baseline {name} not recorded ({}): {e}",
            location.describe()
        ),
    }
}

/// `history import`: reads and checks everything, then records it all in
/// one transaction.
fn import(
    store: &StoreArgs,
    files: &[PathBuf],
    criterion: Option<&str>,
    criterion_dir: &Path,
    commit: &Option<String>,
    branch: &Option<String>,
) -> Result<ExitCode, Error> {
    if files.is_empty() && criterion.is_none() {
        return Err("nothing to import: name result files, or --criterion BASELINE".into());
    }
    let mut runs: Vec<(RunInfo, ResultSet)> = Vec::new();
    let mut git = Git::current();
    if let Some(c) = commit {
        git = Git {
            commit: Some(c.clone()),
            commit_time: None,
            branch: branch.clone(),
            dirty: false,
        };
    } else if let Some(b) = branch {
        git.branch = Some(b.clone());
    }
    let machine = MachineInfo::current();
    let make = |kind: &str, set: &ResultSet, config: serde_json::Value| RunInfo {
        kind: kind.to_owned(),
        source: set.source.clone(),
        started_at: caxton_history::provenance::iso8601(set.finished_at_unix),
        finished_at: caxton_history::provenance::iso8601(set.finished_at_unix),
        git: git.clone(),
        machine: machine.clone(),
        toolchain: toolchain(),
        config,
        partial: set.partial,
    };
    for f in files {
        let set = ResultSet::load(f).map_err(|e| format!("import refused, nothing recorded: {e}"))?;
        if set.measurements.is_empty() {
            return Err(format!("import refused, nothing recorded: {} holds no measurement", f.display()).into());
        }
        let kind = if set.source.starts_with("scenario ") {
            KIND_SCENARIO
        } else {
            KIND_IMPORT
        };
        runs.push((
            make(kind, &set, serde_json::json!({"file": f.display().to_string()})),
            set,
        ));
    }
    if let Some(name) = criterion {
        let set = criterion_set(criterion_dir, name).map_err(|e| format!("import refused, nothing recorded: {e}"))?;
        runs.push((
            make(
                KIND_CRITERION,
                &set,
                serde_json::json!({"criterion_dir": criterion_dir.display().to_string(), "baseline": name}),
            ),
            set,
        ));
    }
    let mut store = store.open()?;
    let ids = store.record_all(&runs)?;
    for ((info, set), id) in runs.iter().zip(&ids) {
        println!(
            "recorded run {id} ({}, {} measurement(s)) from {}",
            info.kind,
            set.measurements.len(),
            set.source
        );
    }
    println!("{} run(s) recorded in {}", ids.len(), store.location().describe());
    Ok(ExitCode::SUCCESS)
}

/// The kind of a `run`'s record.
pub const RUN_KIND: &str = KIND_SUITE;
