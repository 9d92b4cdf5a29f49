//! Modules are checked (ABI, pool limits) from their bytes before they are
//! compiled, and a refused module is never cached, in memory or on disk.
//! Both caches are bounded.

mod common;
mod load_support;

use caxton_wasm::{Allocator, HostConfig, LoadError, ModuleOrigin, WasmHost, guests};
use load_support::{Spec, entries, fresh_dir};

/// The tests' pooling host (32 MiB per instance) with its disk cache in
/// `dir`.
fn host_in(dir: &std::path::Path) -> WasmHost {
    WasmHost::new(HostConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..common::config()
    })
    .unwrap()
}

#[test]
fn the_assembled_agent_is_valid() {
    let dir = fresh_dir("load-valid");
    let host = host_in(&dir);
    let module = host.load(&Spec::default().build()).unwrap();
    assert_eq!(module.origin(), ModuleOrigin::Compiled);
    assert_eq!(entries(&dir).len(), 1, "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_module_refused_by_the_abi_leaves_nothing_cached() {
    let dir = fresh_dir("load-refused");
    let host = host_in(&dir);
    let missing = Spec {
        inbox: false,
        ..Spec::default()
    };
    let err = host.load(&missing.build()).unwrap_err();
    assert!(matches!(err, LoadError::MissingExport("caxton_inbox")), "{err}");
    let bad = Spec {
        bad_handle: true,
        ..Spec::default()
    };
    let err = host.load(&bad.build()).unwrap_err();
    assert!(
        matches!(&err, LoadError::ExportType { name: "caxton_handle", found, .. } if found == "func (i32, i64, i32) -> (i64)"),
        "{err}"
    );
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    assert_eq!(host.cached_modules(), 0);
    // Refused again, not served from a cache.
    assert!(matches!(host.load(&missing.build()), Err(LoadError::MissingExport(_))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn many_distinct_refused_modules_leave_zero_artifacts() {
    let dir = fresh_dir("load-many-refused");
    let host = host_in(&dir);
    for i in 0u32..64 {
        let spec = Spec {
            handle: i % 2 == 0,
            inbox: i % 2 == 1,
            salt: i.to_le_bytes().to_vec(),
            ..Spec::default()
        };
        assert!(matches!(host.load(&spec.build()), Err(LoadError::MissingExport(_))));
    }
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    assert_eq!(host.cached_modules(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_abi_is_checked_before_compiling() {
    // A module that would not compile (a function body that does not type
    // check) and lacks an ABI export is refused for the export: the check
    // ran on its bytes, before any compile.
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..common::config()
    })
    .unwrap();
    let spec = Spec {
        broken_body: true,
        handle: false,
        ..Spec::default()
    };
    let err = host.load(&spec.build()).unwrap_err();
    assert!(matches!(err, LoadError::MissingExport("caxton_handle")), "{err}");
    let err = host.compile_uncached(&spec.build()).unwrap_err();
    assert!(matches!(err, LoadError::MissingExport("caxton_handle")), "{err}");
    // With the export, it gets as far as the compiler, which refuses it.
    let err = host
        .load(
            &Spec {
                broken_body: true,
                ..Spec::default()
            }
            .build(),
        )
        .unwrap_err();
    assert!(matches!(err, LoadError::Malformed(_)), "{err}");
}

#[test]
fn a_memory_over_the_pool_limit_is_over_limits() {
    let dir = fresh_dir("load-over-memory");
    let host = host_in(&dir);
    // 64 MiB of initial memory against a 32 MiB pool slot.
    let big = Spec {
        memories: vec![1024],
        ..Spec::default()
    }
    .build();
    let err = host.load(&big).unwrap_err();
    assert!(matches!(err, LoadError::OverLimits(_)), "{err}");
    assert!(err.to_string().contains("memory_per_instance"), "{err}");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    // Exactly the slot size fits.
    let fits = Spec {
        memories: vec![512],
        ..Spec::default()
    };
    assert!(host.load(&fits.build()).is_ok());
    // The on-demand allocator has no such limit.
    let on_demand = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..HostConfig::on_demand()
    })
    .unwrap();
    assert_eq!(on_demand.load(&big).unwrap().origin(), ModuleOrigin::Compiled);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn more_memories_or_tables_than_a_pool_slot_holds_are_over_limits() {
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..common::config()
    })
    .unwrap();
    let two_memories = Spec {
        memories: vec![1, 1],
        ..Spec::default()
    };
    let err = host.load(&two_memories.build()).unwrap_err();
    assert!(matches!(err, LoadError::OverLimits(_)), "{err}");
    assert!(err.to_string().contains("memories"), "{err}");
    let two_tables = Spec {
        tables: vec![1, 1],
        ..Spec::default()
    };
    let err = host.load(&two_tables.build()).unwrap_err();
    assert!(matches!(err, LoadError::OverLimits(_)), "{err}");
    assert!(err.to_string().contains("tables"), "{err}");
    let big_table = Spec {
        tables: vec![Allocator::POOL_TABLE_ELEMENTS as u64 + 1],
        ..Spec::default()
    };
    let err = host.load(&big_table.build()).unwrap_err();
    assert!(matches!(err, LoadError::OverLimits(_)), "{err}");
    assert!(err.to_string().contains("elements"), "{err}");
    let table_fits = Spec {
        tables: vec![Allocator::POOL_TABLE_ELEMENTS as u64],
        ..Spec::default()
    };
    assert!(host.load(&table_fits.build()).is_ok());
    assert_eq!(host.cached_modules(), 1);
}

#[test]
fn the_memory_cache_holds_at_most_its_bound_least_recently_used_out() {
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        memory_cache_entries: 2,
        ..common::config()
    })
    .unwrap();
    let origin = |bytes: &[u8]| host.load(bytes).unwrap().origin();
    assert_eq!(origin(guests::ECHO), ModuleOrigin::Compiled);
    assert_eq!(origin(guests::COUNTER), ModuleOrigin::Compiled);
    assert_eq!(origin(guests::ECHO), ModuleOrigin::Memory);
    // COUNTER is now the least recently used: MISBEHAVE replaces it.
    assert_eq!(origin(guests::MISBEHAVE), ModuleOrigin::Compiled);
    assert_eq!(host.cached_modules(), 2);
    assert_eq!(origin(guests::ECHO), ModuleOrigin::Memory);
    assert_eq!(origin(guests::COUNTER), ModuleOrigin::Compiled);
    assert_eq!(host.cached_modules(), 2);
    for i in 0u32..20 {
        let spec = Spec {
            salt: i.to_le_bytes().to_vec(),
            ..Spec::default()
        };
        host.load(&spec.build()).unwrap();
        assert!(host.cached_modules() <= 2);
    }
    // 0 disables the in-memory cache.
    let none = WasmHost::new(HostConfig {
        no_disk_cache: true,
        memory_cache_entries: 0,
        ..common::config()
    })
    .unwrap();
    assert_eq!(none.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Compiled);
    assert_eq!(none.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Compiled);
    assert_eq!(none.cached_modules(), 0);
}
