//! Resource and latency measurement for Caxton: the one place every bench,
//! scenario and the suite runner measures, so no measurement is written
//! twice.
//!
//! | what | module | result type |
//! | --- | --- | --- |
//! | bytes and counts allocated/freed over a scope | [`alloc`] | [`AllocDelta`] |
//! | dhat heap profile (feature `dhat-heap`) | `heap` | `dhat-heap.json` |
//! | RSS and CPU % over time, on a background thread | [`sampler`] | [`ProcessSeries`] |
//! | one-off RSS and process CPU time | [`process`] | bytes, `Duration` |
//! | latency percentiles, coordinated-omission correction | [`latency`] | [`LatencySummary`] |
//! | CPU % per agent and process CPU per agent | [`cpu`] | [`CpuWindow`] |
//! | memory per agent by phase and agent count | [`memory`] | [`MemoryProfileReport`] |
//! | RSS growth slope for long runs | [`leak`] | [`LeakReport`] |
//!
//! Every result is a serde struct whose field names carry their unit
//! (`p99_us`, `rss_bytes`, `slope_bytes_per_minute`), ready for reports.
//!
//! # Allocation counting in a binary
//!
//! Counting needs a global allocator, which only a binary may choose:
//!
//! ```no_run
//! caxton_profiling::measurement_allocator!();
//!
//! fn main() {
//!     let source = measurement_alloc_source();
//!     let region = caxton_profiling::AllocRegion::new(source);
//!     let v = vec![0u8; 4096];
//!     assert!(region.change().bytes_allocated >= 4096);
//! #   drop(v);
//! }
//! ```
//!
//! With the `dhat-heap` feature the same line installs dhat instead (dhat
//! and stats_alloc are both global allocators: one at a time), and the
//! counters come from dhat's heap stats.

pub mod alloc;
pub mod cpu;
mod error;
#[cfg(feature = "dhat-heap")]
pub mod heap;
pub mod latency;
pub mod leak;
pub mod memory;
pub mod process;
pub mod sampler;

/// The stats_alloc crate, for binaries that install its allocator by hand.
pub use stats_alloc;

pub use alloc::{AllocDelta, AllocRegion, AllocSource, AllocTotals};
pub use cpu::{AgentCpu, CpuSnapshot, CpuWindow};
pub use error::ProfilingError;
pub use latency::{LatencyRecorder, LatencySummary};
pub use leak::{LeakCheck, LeakReport, LeakVerdict};
pub use memory::{AgentKind, MemoryProfileConfig, MemoryProfileReport, MemoryProfileRow, PhaseBytes};
pub use process::{process_cpu_time, rss_bytes, rss_bytes_of};
pub use sampler::{ProcessSample, ProcessSampler, ProcessSeries};
