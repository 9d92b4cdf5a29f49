//! Benchmark workloads for Caxton, written once and shared by the criterion
//! benches, the scenario binaries and the suite runner.
//!
//! Every workload comes in two shapes doing the same work: on the Caxton
//! orchestrator, and on raw tokio channels (the floor no runtime can beat).
//! Comparing the two *in the same run* is how results stay meaningful on a
//! noisy machine.
//!
//! Workloads measure time and count; they do not install allocators or keep
//! histograms. Callers (benches, scenarios, the `caxton-perf` runner) bring
//! their own recorders from `caxton-profiling`.

pub mod agents;
pub mod counter;
pub mod fanout;
pub mod open_loop;
pub mod payload;
pub mod pingpong;
pub mod pool;
pub mod spawn;
#[cfg(feature = "wasm")]
pub mod wasm;
