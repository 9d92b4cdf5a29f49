//! The memory profile of the native counter, counted by the measurement
//! allocator as the memory-profile binary installs it.
#![cfg(not(feature = "dhat-heap"))]

use caxton_profiling::memory::{MemoryProfileConfig, run_memory_profile};
use caxton_workloads::counter::native_counter_kind;

caxton_profiling::measurement_allocator!();

#[test]
fn the_memory_profile_counts_agent_memory() {
    let cfg = MemoryProfileConfig {
        agent_counts: vec![10],
        messages_per_agent: 20,
        worker_threads: 1,
        settle_ms: 1,
    };
    let report = run_memory_profile(&cfg, &[native_counter_kind()], Some(measurement_alloc_source())).unwrap();
    assert_eq!(report.allocator.as_deref(), Some("stats_alloc"));
    let row = &report.rows[0];
    let a = row.allocator.expect("allocator-counted phases");
    // Every agent needs some heap: its task, mailbox and stats.
    assert!(a.creation_bytes_per_agent > 0.0, "{a:?}");
    assert!(row.creation_allocations_per_agent.unwrap() >= 1.0);
    assert!(report.to_table().contains("stats_alloc"));
}
