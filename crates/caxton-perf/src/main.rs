//! `caxton-perf`: the benchmark suite graded against `targets.toml`
//! (`run`, recorded in the results history), report writing (`report`),
//! baseline comparison (`compare`), the history (`history`), trends across
//! commits (`trend`) and the criterion results page (`bench-table`).

mod bench_table_cmd;
mod compare_cmd;
mod history_cmd;
mod interrupt;
mod steps;
mod suite;
mod trend_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use caxton_report::grade::{Tier, grade_all, not_measured, worst};
use caxton_report::report::{Context, markdown_with, write_all_with};
use caxton_report::results::ResultSet;
use caxton_report::targets::Targets;
use clap::{Parser, Subcommand};

caxton_profiling::measurement_allocator!();

#[derive(Parser)]
#[command(
    name = "caxton-perf",
    version,
    about = "Caxton's benchmark suite, reports, baseline comparison, results history and trends, and the criterion results page"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure every metric of the targets table, print the graded table,
    /// write results JSON and the reports. Ctrl-C (or SIGTERM) stops after
    /// the step under way and writes what was measured, marked partial
    /// (exit 130; 143 for SIGTERM); a second Ctrl-C stops at once.
    Run {
        /// Longer runs with more repetitions (several minutes) instead of the
        /// quick default (about a minute).
        #[arg(long)]
        full: bool,
        /// The targets table.
        #[arg(long, default_value = "targets.toml")]
        targets: PathBuf,
        /// Where results.json and the reports go.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// No progress bar (e.g. in CI logs).
        #[arg(long)]
        no_progress: bool,
        /// Measure only these steps (comma-separated short names; see
        /// --list-steps), e.g. for the interleaved gate, which pairs base
        /// and head step by step. Writes results.json only: a subset is not
        /// graded, reported or recorded in the history.
        #[arg(long, value_delimiter = ',', value_name = "STEP,...")]
        only: Vec<String>,
        /// Print the steps' short names (for --only) and exit.
        #[arg(long)]
        list_steps: bool,
        /// Where the run is recorded (docs/history.md); recording never
        /// fails the run.
        #[command(flatten)]
        record: history_cmd::RecordArgs,
    },
    /// Write Markdown, CSV, JSON and HTML reports from a results file.
    Report {
        /// The results file written by `run`.
        #[arg(long, default_value = "results/results.json")]
        results: PathBuf,
        /// The targets table.
        #[arg(long, default_value = "targets.toml")]
        targets: PathBuf,
        /// Directory for the report files.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Also record the results in the history (as `run` does) and
        /// compare them with it.
        #[arg(long)]
        record: bool,
        #[command(flatten)]
        record_args: history_cmd::RecordArgs,
    },
    /// Compare two runs; exits 1 when something regressed beyond the
    /// threshold and the noise.
    Compare(compare_cmd::CompareArgs),
    /// Print docs/benchmarks.md (Markdown) from criterion's latest results:
    /// one table per group, with the same run's ratios to raw tokio and to
    /// native agents, and the WASM memory-limit probes. Exit 1 when there
    /// are no results to read.
    BenchTable(bench_table_cmd::BenchTableArgs),
    /// The results history: list, show, import, prune, and the regression
    /// check against the recent runs of this machine (exit 1 on a
    /// regression).
    History(history_cmd::HistoryArgs),
    /// Each figure across the recorded runs in commit order, with noise
    /// bands and same-run ratios: a self-contained HTML page and/or
    /// Markdown.
    Trend(trend_cmd::TrendArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            full,
            targets,
            out,
            no_progress,
            only,
            list_steps,
            record,
        } => {
            if list_steps {
                println!("{}", suite::STEP_NAMES.join("\n"));
                Ok(ExitCode::SUCCESS)
            } else if only.is_empty() {
                run(full, &targets, &out, !no_progress, &record)
            } else {
                suite::Selection::only(&only)
                    .map_err(Error::from)
                    .and_then(|selection| run_subset(full, &selection, &out, !no_progress))
            }
        }
        Command::Report {
            results,
            targets,
            out,
            record,
            record_args,
        } => report(&results, &targets, &out, record.then_some(&record_args)),
        Command::Compare(args) => compare_cmd::compare(&args),
        Command::BenchTable(args) => Ok(bench_table_cmd::bench_table(&args)),
        Command::History(args) => history_cmd::history(&args),
        Command::Trend(args) => trend_cmd::trend(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

type Error = Box<dyn std::error::Error>;

fn run(
    full: bool,
    targets_path: &Path,
    out: &Path,
    progress: bool,
    record: &history_cmd::RecordArgs,
) -> Result<ExitCode, Error> {
    // Refuse a bad table before spending a minute measuring.
    let targets = Targets::load(targets_path)?;
    let started = caxton_history::provenance::now_unix();
    let config = serde_json::json!({
        "command": "run",
        "mode": if full { "full" } else { "quick" },
        "targets": targets_path.display().to_string(),
        "out": out.display().to_string(),
    });
    let recording = Recording {
        args: record.clone(),
        started,
        config,
    };
    let stop = {
        let (targets, out, recording) = (targets.clone(), out.to_owned(), recording.clone());
        interrupt::Stop::watch(Box::new(move |results, signal| {
            let code = match save_and_report(&results, &targets, &out, Some(signal), Some(&recording)) {
                Ok(_) => interrupt::exit_code(signal),
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            };
            std::process::exit(code.into());
        }))?
    };
    let results = suite::run(
        &steps::shared::SuiteConfig::new(full),
        &suite::Selection::all(),
        measurement_alloc_source(),
        progress,
        &stop,
    )?;
    // From here on a signal leaves the writing to this thread.
    stop.take_over();
    let interrupted = stop.requested().filter(|_| results.partial);
    let code = save_and_report(&results, &targets, out, interrupted, Some(&recording))?;
    Ok(interrupted.map_or(code, |signal| ExitCode::from(interrupt::exit_code(signal))))
}

/// `run --only`: measures the selected steps and saves their rows in
/// `out/results.json`, nothing else (a subset is neither graded nor
/// recorded). Ctrl-C stops it at once.
fn run_subset(full: bool, only: &suite::Selection, out: &Path, progress: bool) -> Result<ExitCode, Error> {
    let stop = interrupt::Stop::watch(Box::new(|_, signal| {
        std::process::exit(interrupt::exit_code(signal).into())
    }))?;
    let results = suite::run(
        &steps::shared::SuiteConfig::new(full),
        only,
        measurement_alloc_source(),
        progress,
        &stop,
    )?;
    let path = out.join("results.json");
    results.save(&path)?;
    println!(
        "results ({} measurement(s) of the selected steps): {}",
        results.measurements.len(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// How a run is recorded in the history.
#[derive(Clone)]
struct Recording {
    args: history_cmd::RecordArgs,
    started: u64,
    config: serde_json::Value,
}

/// Saves `results.json` into `out`, records the run in the history (when
/// `recording`), prints the graded table and writes the reports; for a run
/// stopped by `signal`, says so and where it all went. The exit code
/// comes from the grades alone: history that cannot be written is said,
/// never fatal.
fn save_and_report(
    results: &ResultSet,
    targets: &Targets,
    out: &Path,
    signal: Option<i32>,
    recording: Option<&Recording>,
) -> Result<ExitCode, Error> {
    let results_path = out.join("results.json");
    results.save(&results_path)?;
    let ctx = match recording {
        Some(r) => history_cmd::record_for_report(
            &r.args,
            history_cmd::RUN_KIND,
            results,
            r.started,
            r.config.clone(),
            targets,
        ),
        None => history_cmd::context_here(),
    };
    let code = grade_and_write(results, targets, out, &ctx)?;
    println!("results: {}", results_path.display());
    if let Some(signal) = signal {
        eprintln!(
            "interrupted by {}: partial results ({} measurement(s); not a pass) saved to {} \
             and the reports in {}",
            interrupt::name(signal),
            results.measurements.len(),
            results_path.display(),
            out.display()
        );
    }
    Ok(code)
}

fn report(
    results: &Path,
    targets: &Path,
    out: &Path,
    record: Option<&history_cmd::RecordArgs>,
) -> Result<ExitCode, Error> {
    let targets = Targets::load(targets)?;
    let loaded = ResultSet::load(results)?;
    let ctx = match record {
        Some(args) => history_cmd::record_for_report(
            args,
            if loaded.source.starts_with("scenario ") {
                caxton_history::provenance::KIND_SCENARIO
            } else {
                caxton_history::provenance::KIND_IMPORT
            },
            &loaded,
            loaded.finished_at_unix,
            serde_json::json!({"command": "report --record", "results": results.display().to_string()}),
            &targets,
        ),
        None => history_cmd::context_here(),
    };
    grade_and_write(&loaded, &targets, out, &ctx)
}

/// Grades, prints the table and writes the reports. Exit code 1 when a
/// metric fails, which includes every metric a partial run did not reach.
fn grade_and_write(results: &ResultSet, targets: &Targets, out: &Path, ctx: &Context) -> Result<ExitCode, Error> {
    let graded = grade_all(results, targets)?;
    print!("{}", markdown_with(results, &graded, ctx));
    for f in write_all_with(out, results, &graded, ctx)? {
        println!("wrote {}", f.display());
    }
    Ok(if results.partial {
        let missing = not_measured(results, targets);
        eprintln!(
            "partial results (the run was interrupted): not a pass; not measured: {}",
            if missing.is_empty() {
                "none of the graded metrics".to_owned()
            } else {
                missing.join(", ")
            }
        );
        ExitCode::from(1)
    } else if worst(&graded) == Some(Tier::Failing) {
        eprintln!("at least one metric misses its critical threshold");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
