//! With no `cache_dir` configured, a host caches under the per-user
//! `$XDG_CACHE_HOME/caxton/wasm`, created private (its own test binary: it
//! sets environment variables).

use std::os::unix::fs::MetadataExt;

use caxton_wasm::{HostConfig, ModuleOrigin, WasmHost, guests};

#[test]
fn the_default_cache_dir_follows_xdg_cache_home() {
    let xdg = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("xdg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&xdg);
    // SAFETY: the only test of this binary, so no other thread reads the
    // environment meanwhile.
    unsafe {
        std::env::remove_var("CAXTON_WASM_CACHE");
        std::env::set_var("XDG_CACHE_HOME", &xdg);
    }
    let expected = xdg.join("caxton").join("wasm");
    assert_eq!(HostConfig::default_cache_dir(), Some(expected.clone()));
    let host = WasmHost::new(HostConfig::on_demand()).unwrap();
    assert_eq!(host.cache_dir(), Some(expected.as_path()));
    assert_eq!(std::fs::metadata(&expected).unwrap().mode() & 0o777, 0o700);
    assert_eq!(host.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Compiled);
    assert_eq!(std::fs::read_dir(&expected).unwrap().count(), 1);
    let again = WasmHost::new(HostConfig::on_demand()).unwrap();
    assert_eq!(again.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Disk);
    let _ = std::fs::remove_dir_all(&xdg);
}
