//! Every scenario result is recorded in the results history
//! (`results/history.sqlite`, or the store `CAXTON_HISTORY_URL` names),
//! with the checkout, machine and toolchain it ran on. Recording never
//! decides a scenario's exit code: when the store cannot be written the
//! scenario says so and goes on.

use std::path::Path;

use caxton_history::provenance::{KIND_SCENARIO, now_unix};
use caxton_history::{Location, RunInfo, Store};
use caxton_report::results::ResultSet;

/// Records the result file at `path` (as written by the scenario) unless
/// `no_history`; prints where it went, or why it did not.
pub fn record(path: &Path, no_history: bool) {
    let default = Path::new(caxton_history::location::DEFAULT_PATH);
    let Some(location) = Location::choose(None, no_history, default) else {
        return;
    };
    match try_record(path, &location) {
        Ok(id) => println!("  history: recorded run {id} in {}", location.describe()),
        Err(e) => eprintln!("  history: not recorded ({}): {e}", location.describe()),
    }
}

fn try_record(path: &Path, location: &Location) -> Result<i64, String> {
    let set = ResultSet::load(path).map_err(|e| e.to_string())?;
    let finished = if set.finished_at_unix > 0 {
        set.finished_at_unix
    } else {
        now_unix()
    };
    let mut info = RunInfo::current(
        KIND_SCENARIO,
        &set.source,
        finished,
        finished,
        serde_json::json!({ "file": path.display().to_string() }),
    );
    info.partial = set.partial;
    let mut store = Store::open(location).map_err(|e| e.to_string())?;
    store.record(&info, &set).map_err(|e| e.to_string())
}
