//! `caxton-perf`: the benchmark suite graded against `targets.toml`
//! (`run`), report writing (`report`) and baseline comparison (`compare`).

mod compare_cmd;
mod suite;
mod wasm_steps;

use std::path::PathBuf;
use std::process::ExitCode;

use caxton_report::grade::{Tier, grade_all, worst};
use caxton_report::report::{markdown, write_all};
use caxton_report::results::ResultSet;
use caxton_report::targets::Targets;
use clap::{Parser, Subcommand};

caxton_profiling::measurement_allocator!();

#[derive(Parser)]
#[command(
    name = "caxton-perf",
    version,
    about = "Caxton's benchmark suite, reports and baseline comparison"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure every metric of the targets table, print the graded table,
    /// write results JSON and the reports.
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

fn run(full: bool, targets_path: &std::path::Path, out: &std::path::Path, progress: bool) -> Result<ExitCode, Error> {
    // Refuse a bad table before spending a minute measuring.
    let targets = Targets::load(targets_path)?;
    let results = suite::run(&suite::SuiteConfig::new(full), measurement_alloc_source(), progress)?;
    let results_path = out.join("results.json");
    results.save(&results_path)?;
    let code = grade_and_write(&results, &targets, out)?;
    println!("results: {}", results_path.display());
    Ok(code)
}

fn report(results: &std::path::Path, targets: &std::path::Path, out: &std::path::Path) -> Result<ExitCode, Error> {
    let targets = Targets::load(targets)?;
    let results = ResultSet::load(results)?;
    grade_and_write(&results, &targets, out)
}

fn grade_and_write(results: &ResultSet, targets: &Targets, out: &std::path::Path) -> Result<ExitCode, Error> {
    let graded = grade_all(results, targets)?;
    print!("{}", markdown(results, &graded));
    for f in write_all(out, results, &graded)? {
        println!("wrote {}", f.display());
    }
    Ok(if worst(&graded) == Some(Tier::Failing) {
        eprintln!("at least one metric misses its critical threshold");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
