//! `caxton-perf`: the benchmark suite graded against `targets.toml`
//! (`run`), report writing (`report`), baseline comparison (`compare`) and
//! the criterion results page (`bench-table`).

mod bench_table_cmd;
mod compare_cmd;
mod interrupt;
mod steps;
mod suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use caxton_report::grade::{Tier, grade_all, not_measured, worst};
use caxton_report::report::{markdown, write_all};
use caxton_report::results::ResultSet;
use caxton_report::targets::Targets;
use clap::{Parser, Subcommand};

caxton_profiling::measurement_allocator!();

#[derive(Parser)]
#[command(
    name = "caxton-perf",
    version,
    about = "Caxton's benchmark suite, reports, baseline comparison and the criterion results page"
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
    },
    /// Compare two runs; exits 1 when something regressed beyond the
    /// threshold and the noise.
    Compare(compare_cmd::CompareArgs),
    /// Print docs/benchmarks.md (Markdown) from criterion's latest results:
    /// one table per group, with the same run's ratios to raw tokio and to
    /// native agents, and the WASM memory-limit probes. Exit 1 when there
    /// are no results to read.
    BenchTable(bench_table_cmd::BenchTableArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            full,
            targets,
            out,
            no_progress,
        } => run(full, &targets, &out, !no_progress),
        Command::Report { results, targets, out } => report(&results, &targets, &out),
        Command::Compare(args) => compare_cmd::compare(&args),
        Command::BenchTable(args) => Ok(bench_table_cmd::bench_table(&args)),
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

fn run(full: bool, targets_path: &Path, out: &Path, progress: bool) -> Result<ExitCode, Error> {
    // Refuse a bad table before spending a minute measuring.
    let targets = Targets::load(targets_path)?;
    let stop = {
        let (targets, out) = (targets.clone(), out.to_owned());
        interrupt::Stop::watch(Box::new(move |results, signal| {
            let code = match save_and_report(&results, &targets, &out, Some(signal)) {
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
        measurement_alloc_source(),
        progress,
        &stop,
    )?;
    // From here on a signal leaves the writing to this thread.
    stop.take_over();
    let interrupted = stop.requested().filter(|_| results.partial);
    let code = save_and_report(&results, &targets, out, interrupted)?;
    Ok(interrupted.map_or(code, |signal| ExitCode::from(interrupt::exit_code(signal))))
}

/// Saves `results.json` into `out`, prints the graded table and writes the
/// reports; for a run stopped by `signal`, says so and where it all went.
fn save_and_report(results: &ResultSet, targets: &Targets, out: &Path, signal: Option<i32>) -> Result<ExitCode, Error> {
    let results_path = out.join("results.json");
    results.save(&results_path)?;
    let code = grade_and_write(results, targets, out)?;
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

fn report(results: &Path, targets: &Path, out: &Path) -> Result<ExitCode, Error> {
    let targets = Targets::load(targets)?;
    let results = ResultSet::load(results)?;
    grade_and_write(&results, &targets, out)
}

/// Grades, prints the table and writes the reports. Exit code 1 when a
/// metric fails, which includes every metric a partial run did not reach.
fn grade_and_write(results: &ResultSet, targets: &Targets, out: &Path) -> Result<ExitCode, Error> {
    let graded = grade_all(results, targets)?;
    print!("{}", markdown(results, &graded));
    for f in write_all(out, results, &graded)? {
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
