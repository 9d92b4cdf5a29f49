//! `caxton-perf bench-table`: prints `docs/benchmarks.md` from criterion's
//! latest results (see `caxton_report::bench_table`).
//!
//! ```text
//! caxton-perf bench-table [--criterion-dir target/criterion] [--since-unix SECONDS] \
//!     [--wall-time-s SECONDS] [--command "..."]
//! ```
//!
//! `benches/run-suite.sh` runs the suite, times it and calls this.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use caxton_report::bench_table::{RunInfo, document, read_limit_probes};
use caxton_report::criterion::load_latest;

/// Arguments of `bench-table`.
#[derive(clap::Args)]
pub struct BenchTableArgs {
    /// Where criterion keeps its results.
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// Keep only results written at or after this time (the run's start,
    /// unix seconds), so benchmarks a run no longer has are left out.
    #[arg(long, value_name = "SECONDS")]
    since_unix: Option<u64>,
    /// The whole suite's wall time, for the page's header.
    #[arg(long, value_name = "SECONDS")]
    wall_time_s: Option<String>,
    /// The command the page names to regenerate it.
    #[arg(long, default_value = "bash benches/run-suite.sh")]
    command: String,
}

/// Prints the page to stdout; exit code 1 when the results cannot be read.
pub fn bench_table(args: &BenchTableArgs) -> ExitCode {
    let since = args.since_unix.map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
    let read =
        load_latest(&args.criterion_dir, since).and_then(|rows| Ok((rows, read_limit_probes(&args.criterion_dir)?)));
    let (rows, probes) = match read {
        Ok(read) => read,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let info = RunInfo {
        date: today_utc(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        wall_time_s: args.wall_time_s.clone(),
        command: args.command.clone(),
    };
    print!("{}", document(&info, &rows, probes.as_deref()));
    ExitCode::SUCCESS
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today_utc() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_iso_8601() {
        let date = time::Date::from_calendar_date(2000, time::Month::February, 29).unwrap();
        assert_eq!(date.to_string(), "2000-02-29");
        let today = today_utc();
        assert_eq!(today.len(), 10, "{today}");
        assert_eq!(today.as_bytes()[4], b'-');
    }
}
