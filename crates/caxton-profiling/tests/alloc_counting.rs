//! Allocation counting with the measurement allocator installed, as a
//! measurement binary would install it.
#![cfg(not(feature = "dhat-heap"))]

use caxton_profiling::alloc::{self, AllocRegion};

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
