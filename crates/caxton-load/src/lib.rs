//! `caxton-load`: an open-loop HTTP and WebSocket load generator, and the
//! bare echo server that is the same-run floor the Caxton front door is
//! measured against.
//!
//! The generator paces requests on a dedicated thread with microsecond
//! resolution ([`pace`]), measures latency from each request's *intended*
//! send time (coordinated-omission free, like wrk2), records it in HDR
//! histograms with per-second intervals ([`record`]) and writes a
//! `caxton-report` result set ([`results`]).

#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod echo;
pub mod error;
pub mod fdlimit;
pub mod http;
pub mod pace;
pub mod record;
pub mod results;
pub mod run;
pub mod size;
pub mod target;
pub mod ws;

pub use config::LoadConfig;
pub use error::LoadError;
pub use results::RunSummary;
pub use run::run;
pub use target::Mode;
