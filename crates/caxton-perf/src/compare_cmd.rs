//! `caxton-perf compare`: result sets or criterion baselines, two single
//! runs or interleaved rounds (base, head, base, head, ...) judged on
//! paired ratios; with `--expect`, the gate's own self-check.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use caxton_report::compare::{
    Comparison, Expect, MIN_ROUNDS, Run, SelfCheck, compare_criterion, compare_results, compare_rounds, criterion_run,
    has_regression, markdown, results_run,
};
use caxton_report::criterion::load_baseline;
use caxton_report::results::ResultSet;
use caxton_report::targets::Targets;

/// What a self-check expects (`--expect`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ExpectArg {
    /// A/A: the same commit on both sides; any flag is a false alarm.
    Same,
    /// The head has a planted slowdown; every row slowed past the
    /// threshold should be flagged.
    Slower,
}

/// Arguments of `compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Base: a results JSON file (or, for a round, a directory of
    /// `*/results.json` from `run --only`, merged), or with --criterion a
    /// saved baseline name. Several, comma-separated, for interleaved
    /// rounds (at least 5,
    /// measured alternately with head's: base1, head1, base2, head2, ...).
    base: String,
    /// Head: as base, with as many entries.
    head: String,
    /// With --criterion: the results history to record the head baseline
    /// in (a `postgres://` URL or an SQLite file; default:
    /// $CAXTON_HISTORY_URL, else results/history.sqlite).
    #[arg(long, value_name = "URL|PATH")]
    history: Option<String>,
    /// Do not record the head baseline in the results history.
    #[arg(long)]
    no_history: bool,
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
    /// Also write the compared rows as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Check the gate itself: print its false alarms (same) or its
    /// sensitivity to a planted slowdown (slower), and exit 1 when the
    /// expectation is not met (see scripts/gate-check.sh).
    #[arg(long, value_enum)]
    expect: Option<ExpectArg>,
}

/// Runs the comparison; exit code 1 on a regression (with `--expect`: on
/// a missed expectation).
pub fn compare(args: &CompareArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        return Err(format!("--threshold must be a non-negative percentage, got {}", args.threshold).into());
    }
    let bases: Vec<&str> = args.base.split(',').filter(|s| !s.is_empty()).collect();
    let heads: Vec<&str> = args.head.split(',').filter(|s| !s.is_empty()).collect();
    let (title, rows) = if bases.len() > 1 || heads.len() > 1 {
        interleaved(args, &bases, &heads)?
    } else if args.criterion {
        let base = load_baseline(&args.criterion_dir, &args.base)?;
        let head = load_baseline(&args.criterion_dir, &args.head)?;
        let default = std::path::Path::new(caxton_history::location::DEFAULT_PATH);
        if let Some(location) = caxton_history::Location::choose(args.history.as_deref(), args.no_history, default) {
            crate::history_cmd::record_criterion(&location, &args.criterion_dir, &args.head);
        }
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
        let base = ResultSet::load(Path::new(&args.base))?;
        let head = ResultSet::load(Path::new(&args.head))?;
        let targets = load_targets(&args.targets)?;
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
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)? + "\n")?;
    }
    if let Some(expect) = args.expect {
        let expect = match expect {
            ExpectArg::Same => Expect::Same,
            ExpectArg::Slower => Expect::Slower,
        };
        let tally = SelfCheck::tally(&rows, args.threshold);
        println!("{}", tally.line(expect));
        let met = match expect {
            Expect::Same => tally.flagged == 0,
            Expect::Slower => tally.slowed_past_threshold > 0 && tally.missed.is_empty(),
        };
        return Ok(if met { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    Ok(if has_regression(&rows) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn load_targets(path: &Path) -> Result<Option<Targets>, Box<dyn std::error::Error>> {
    Ok(if path.exists() {
        Some(Targets::load(path)?)
    } else {
        None
    })
}

/// One round of results: a results file, or a directory whose
/// subdirectories each hold the `results.json` of some suite steps
/// (`caxton-perf run --only`, as scripts/interleave.sh pairs base and head
/// step by step), merged in name order.
fn load_round(path: &Path) -> Result<ResultSet, Box<dyn std::error::Error>> {
    if !path.is_dir() {
        return Ok(ResultSet::load(path)?);
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path().join("results.json")))
        .collect::<Result<_, _>>()?;
    parts.retain(|p| p.is_file());
    parts.sort();
    let mut parts = parts.iter();
    let first = parts
        .next()
        .ok_or_else(|| format!("{}: no */results.json in this directory", path.display()))?;
    let mut merged = ResultSet::load(first)?;
    for part in parts {
        let set = ResultSet::load(part)?;
        merged.partial |= set.partial;
        merged.measurements.extend(set.measurements);
    }
    Ok(merged)
}

/// Interleaved rounds: `bases[i]` and `heads[i]` measured back to back.
fn interleaved(
    args: &CompareArgs,
    bases: &[&str],
    heads: &[&str],
) -> Result<(String, Vec<Comparison>), Box<dyn std::error::Error>> {
    if bases.len() != heads.len() {
        return Err(format!(
            "interleaved rounds pair base and head: {} base run(s) but {} head run(s)",
            bases.len(),
            heads.len()
        )
        .into());
    }
    if bases.len() < MIN_ROUNDS {
        return Err(format!(
            "an interleaved comparison needs at least {MIN_ROUNDS} rounds (base, head, base, head, ...), got {}",
            bases.len()
        )
        .into());
    }
    let load = |names: &[&str]| -> Result<Vec<Run>, Box<dyn std::error::Error>> {
        if args.criterion {
            names
                .iter()
                .map(|n| Ok(criterion_run(&load_baseline(&args.criterion_dir, n)?)))
                .collect()
        } else {
            let targets = load_targets(&args.targets)?;
            names
                .iter()
                .map(|n| Ok(results_run(&load_round(Path::new(n))?, targets.as_ref())))
                .collect()
        }
    };
    let (base, head) = (load(bases)?, load(heads)?);
    let kind = if args.criterion { "criterion" } else { "results" };
    Ok((
        format!(
            "{kind}, {} interleaved rounds: {} → {}",
            bases.len(),
            bases.join(", "),
            heads.join(", ")
        ),
        compare_rounds(&base, &head, args.threshold),
    ))
}
