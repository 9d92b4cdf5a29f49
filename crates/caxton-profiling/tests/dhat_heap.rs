//! The `dhat-heap` feature: dhat is the global allocator, its heap stats
//! feed the allocation counters, and the profile is written as JSON.
#![cfg(feature = "dhat-heap")]

use caxton_profiling::alloc::AllocRegion;
use caxton_profiling::heap::{DhatSource, HeapProfile};

caxton_profiling::measurement_allocator!();

#[test]
fn dhat_counts_and_writes_its_file() {
    let dir = std::env::temp_dir().join(format!("caxton-dhat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dhat-heap.json");
    let profile = HeapProfile::start(&path);
    assert_eq!(measurement_alloc_source().name(), "dhat");
    let region = AllocRegion::new(&DhatSource);
    let v: Vec<u8> = Vec::with_capacity(4096);
    assert!(region.change().bytes_allocated >= 4096);
    drop(std::hint::black_box(v));
    assert_eq!(profile.finish(), path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"dhatFileVersion\""), "{}", &text[..text.len().min(200)]);
    let _ = std::fs::remove_dir_all(&dir);
}
