//! `caxton-perf compare`: result sets or criterion baselines.

use std::path::PathBuf;
use std::process::ExitCode;

use caxton_report::compare::{compare_criterion, compare_results, has_regression, markdown};
use caxton_report::criterion::load_baseline;
use caxton_report::results::ResultSet;
use caxton_report::targets::Targets;

/// Arguments of `compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Base: a results JSON file, or with --criterion a saved baseline name.
    base: String,
    /// Head: a results JSON file, or with --criterion a saved baseline name.
    head: String,
    /// Compare criterion baselines saved under --criterion-dir.
    #[arg(long)]
    criterion: bool,
    /// Where criterion keeps its results.
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// Smallest change (percent) that can count as a regression.
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    /// Targets table, for the direction of each metric (result sets only).
    #[arg(long, default_value = "targets.toml")]
    targets: PathBuf,
    /// Also write the Markdown table here (e.g. for a PR comment).
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// Runs the comparison; exit code 1 on a regression.
pub fn compare(args: &CompareArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        return Err(format!("--threshold must be a non-negative percentage, got {}", args.threshold).into());
    }
    let (title, rows) = if args.criterion {
        let base = load_baseline(&args.criterion_dir, &args.base)?;
        let head = load_baseline(&args.criterion_dir, &args.head)?;
        let shared = base.keys().filter(|k| head.contains_key(*k)).count();
        if shared == 0 {
            return Err(format!(
                "baselines {:?} and {:?} share no benchmark: were they saved by the same benches?",
                args.base, args.head
            )
            .into());
        }
        (
            format!("criterion: {} → {}", args.base, args.head),
            compare_criterion(&base, &head, args.threshold),
        )
    } else {
        let base = ResultSet::load(std::path::Path::new(&args.base))?;
        let head = ResultSet::load(std::path::Path::new(&args.head))?;
        let targets = if args.targets.exists() {
            Some(Targets::load(&args.targets)?)
        } else {
            None
        };
        (
            format!("results: {} → {}", args.base, args.head),
            compare_results(&base, &head, targets.as_ref(), args.threshold),
        )
    };
    let md = markdown(&title, &rows, args.threshold);
    print!("{md}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &md)?;
    }
    Ok(if has_regression(&rows) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
