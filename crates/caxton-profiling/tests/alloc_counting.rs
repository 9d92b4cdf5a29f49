//! Allocation counting with the measurement allocator installed, as a
//! measurement binary would install it.
#![cfg(not(feature = "dhat-heap"))]

use caxton_profiling::alloc::{self, AllocRegion};
use caxton_profiling::memory::{AgentKind, MemoryProfileConfig, run_memory_profile};

caxton_profiling::measurement_allocator!();

#[test]
fn the_counter_sees_a_known_allocation() {
    let source = measurement_alloc_source();
    assert!(alloc::is_counting(source));
    let region = AllocRegion::new(source);
    let v: Vec<u8> = Vec::with_capacity(4096);
    let grown = region.change();
    // Other test threads may allocate too, so at least (never exactly).
    assert!(grown.allocations >= 1, "{grown:?}");
    assert!(grown.bytes_allocated >= 4096, "{grown:?}");
    drop(std::hint::black_box(v));
    let after = region.change();
    assert!(after.deallocations >= 1, "{after:?}");
    assert!(after.bytes_freed >= 4096, "{after:?}");
}

#[test]
fn measure_returns_the_result_and_the_delta() {
    let (v, delta) = alloc::measure(measurement_alloc_source(), || vec![7u8; 10_000]);
    assert_eq!(v.len(), 10_000);
    assert!(delta.bytes_allocated >= 10_000, "{delta:?}");
}

#[test]
fn the_memory_profile_counts_agent_memory() {
    let cfg = MemoryProfileConfig {
        agent_counts: vec![10],
        messages_per_agent: 20,
        worker_threads: 1,
        settle_ms: 1,
    };
    let report = run_memory_profile(&cfg, &[AgentKind::native_counter()], Some(measurement_alloc_source())).unwrap();
    assert_eq!(report.allocator.as_deref(), Some("stats_alloc"));
    let row = &report.rows[0];
    let a = row.allocator.expect("allocator-counted phases");
    // Every agent needs some heap: its task, mailbox and stats.
    assert!(a.creation_bytes_per_agent > 0.0, "{a:?}");
    assert!(row.creation_allocations_per_agent.unwrap() >= 1.0);
    assert!(report.to_table().contains("stats_alloc"));
}
