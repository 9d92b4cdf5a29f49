//! Caxton's results history: every suite run, criterion import and
//! scenario result recorded with its provenance (commit, branch, dirty
//! flag, machine fingerprint, toolchain, time, configuration), in SQLite by
//! default (`results/history.sqlite`, no server) or PostgreSQL for a team
//! (`--history postgres://...` or `CAXTON_HISTORY_URL`). One schema and one
//! list of migrations serve both ([`schema`]).
//!
//! * [`location`]: where the store is, from the flags and the environment.
//! * [`provenance`]: what a run is recorded with (git, machine, toolchain).
//! * [`store`]: open (create or migrate; refuse foreign, corrupt or newer
//!   stores), record, list, show, prune, and read figures back.
//! * [`trends`]: figures across runs as `caxton_report::trend::Trends`, the
//!   baseline a report compares with, and the regression check.
//! * [`testing`]: a throwaway PostgreSQL cluster for tests.
//!
//! Layering: `caxton-report` (results, grading, drawing) <- this crate <-
//! `caxton-perf` (the commands).

pub mod error;
pub mod location;
pub mod provenance;
pub mod schema;
pub mod store;
pub mod testing;
pub mod trends;

pub use error::HistoryError;
pub use location::Location;
pub use provenance::{Git, MachineInfo, RunInfo};
pub use store::Store;
