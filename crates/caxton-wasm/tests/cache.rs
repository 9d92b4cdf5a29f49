//! Modules are compiled once: cached in memory and on disk between hosts.

mod common;

use caxton_wasm::{HostConfig, ModuleOrigin, WasmHost, guests};

#[test]
fn second_load_hits_memory_then_disk() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = HostConfig {
        cache_dir: Some(dir.clone()),
        ..common::config()
    };
    let host = WasmHost::new(config.clone()).unwrap();
    assert_eq!(host.load(guests::COUNTER).unwrap().origin(), ModuleOrigin::Compiled);
    assert_eq!(host.load(guests::COUNTER).unwrap().origin(), ModuleOrigin::Memory);
    // A new host (a later run) finds the serialized module on disk.
    let again = WasmHost::new(config).unwrap();
    assert_eq!(again.load(guests::COUNTER).unwrap().origin(), ModuleOrigin::Disk);
    // A corrupted cache entry is recompiled, not trusted.
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = WasmHost::new(HostConfig {
        cache_dir: Some(dir.clone()),
        ..common::config()
    })
    .unwrap();
    assert_eq!(third.load(guests::COUNTER).unwrap().origin(), ModuleOrigin::Compiled);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disabling_the_disk_cache_keeps_the_memory_cache() {
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..common::config()
    })
    .unwrap();
    assert_eq!(host.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Compiled);
    assert_eq!(host.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Memory);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_load_compiles_on_the_blocking_pool_and_reports_bad_bytes() {
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..common::config()
    })
    .unwrap();
    let module = host.load_async(guests::COMPUTE).await.unwrap();
    assert_eq!(module.origin(), ModuleOrigin::Compiled);
    assert_eq!(
        host.load_async(guests::COMPUTE).await.unwrap().origin(),
        ModuleOrigin::Memory
    );
    let err = host.load_async(&b"\0asm garbage"[..]).await.unwrap_err();
    assert!(matches!(err, caxton_wasm::LoadError::Malformed(_)), "{err}");
}
