//! The on-disk module cache loads native code, so it only trusts a private
//! directory and only runs a file written for exactly the module being
//! loaded; anything else is recompiled (and the file replaced).

mod common;
mod load_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use caxton_runtime::{Message, Orchestrator};
use caxton_wasm::guests::counter::COUNT;
use caxton_wasm::{HostConfig, HostError, ModuleOrigin, WasmHost, WasmModule, guests};
use load_support::{entries, fresh_dir};

fn config_in(dir: &Path) -> HostConfig {
    HostConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..common::config()
    }
}

/// The single `.cwasm` file in `dir`.
fn only_artifact(dir: &Path) -> PathBuf {
    let files: Vec<_> = entries(dir).into_iter().filter(|n| n.ends_with(".cwasm")).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    dir.join(&files[0])
}

/// What an agent of `module` answers to `count`: the counter its count
/// (8 bytes), the echo `count` itself.
async fn answer_to_count(module: &WasmModule) -> Vec<u8> {
    let orch = Orchestrator::new();
    let id = orch.spawn(module.spec(common::limits())).unwrap();
    let reply = orch.request(Message::request(id, COUNT), common::T).await.unwrap();
    orch.shutdown(common::T).await;
    reply.payload.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_modules_artifact_copied_over_is_recompiled_not_run() {
    let echo_dir = fresh_dir("cache-subst-echo");
    let counter_dir = fresh_dir("cache-subst-counter");
    let echo_host = WasmHost::new(config_in(&echo_dir)).unwrap();
    assert_eq!(echo_host.load(guests::ECHO).unwrap().origin(), ModuleOrigin::Compiled);
    let counter_host = WasmHost::new(config_in(&counter_dir)).unwrap();
    assert_eq!(
        counter_host.load(guests::COUNTER).unwrap().origin(),
        ModuleOrigin::Compiled
    );
    // The echo's artifact, under the counter's name.
    let counter_file = only_artifact(&counter_dir);
    std::fs::copy(only_artifact(&echo_dir), &counter_file).unwrap();

    let later = WasmHost::new(config_in(&counter_dir)).unwrap();
    let counter = later.load(guests::COUNTER).unwrap();
    assert_eq!(counter.origin(), ModuleOrigin::Compiled);
    assert!(counter.is_checkpointable(), "the echo guest was run as the counter");
    assert_eq!(answer_to_count(&counter).await, 0u64.to_le_bytes());
    // The bad file was replaced by the right one.
    let again = WasmHost::new(config_in(&counter_dir)).unwrap();
    let counter = again.load(guests::COUNTER).unwrap();
    assert_eq!(counter.origin(), ModuleOrigin::Disk);
    assert_eq!(answer_to_count(&counter).await, 0u64.to_le_bytes());
    let echo = again.load(guests::ECHO).unwrap();
    assert_eq!(echo.origin(), ModuleOrigin::Compiled);
    assert_eq!(answer_to_count(&echo).await, COUNT);
    let _ = std::fs::remove_dir_all(&echo_dir);
    let _ = std::fs::remove_dir_all(&counter_dir);
}

#[test]
fn a_tampered_or_truncated_artifact_is_recompiled() {
    let dir = fresh_dir("cache-tamper");
    let host = WasmHost::new(config_in(&dir)).unwrap();
    host.load(guests::COUNTER).unwrap();
    let file = only_artifact(&dir);
    let good = std::fs::read(&file).unwrap();
    let load = || {
        WasmHost::new(config_in(&dir))
            .unwrap()
            .load(guests::COUNTER)
            .unwrap()
            .origin()
    };
    assert_eq!(load(), ModuleOrigin::Disk);
    // One flipped bit in the artifact, after the header.
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    assert_eq!(load(), ModuleOrigin::Compiled);
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // Truncated.
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    assert_eq!(load(), ModuleOrigin::Compiled);
    // A bare wasmtime artifact, without the header.
    let engine_host = WasmHost::new(config_in(&dir)).unwrap();
    let bare = engine_host.load(guests::COUNTER).unwrap().module().serialize().unwrap();
    std::fs::write(&file, &bare).unwrap();
    assert_eq!(load(), ModuleOrigin::Compiled);
    // A symbolic link to a good file is not followed.
    let elsewhere = dir.with_extension("good");
    std::fs::write(&elsewhere, &good).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    assert_eq!(load(), ModuleOrigin::Compiled);
    assert!(!std::fs::symlink_metadata(&file).unwrap().file_type().is_symlink());
    let _ = std::fs::remove_file(&elsewhere);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_files_are_private_and_named_by_sha256() {
    let dir = fresh_dir("cache-files");
    let host = WasmHost::new(config_in(&dir)).unwrap();
    host.load(guests::ECHO).unwrap();
    assert_eq!(host.cache_dir(), Some(dir.as_path()));
    let file = only_artifact(&dir);
    let name = file.file_name().unwrap().to_str().unwrap();
    let stem = name.strip_suffix(".cwasm").unwrap();
    assert_eq!(stem.len(), 64, "{name}");
    assert!(stem.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(entries(&dir).len(), 1, "no temporary files left: {:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_world_or_group_writable_cache_dir_is_refused() {
    for mode in [0o777, 0o770, 0o702] {
        let dir = fresh_dir(&format!("cache-mode-{mode:o}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = WasmHost::new(config_in(&dir)).unwrap_err();
        assert!(
            matches!(&err, HostError::CacheDirWritable { path, mode: m } if path == &dir && *m == mode),
            "{err}"
        );
        assert!(err.to_string().contains(&dir.display().to_string()), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Readable by others is fine: only writing matters.
    let dir = fresh_dir("cache-mode-755");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(WasmHost::new(config_in(&dir)).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cache_dir_owned_by_another_user_is_refused() {
    let dir = fresh_dir("cache-owner");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if let Err(e) = std::os::unix::fs::chown(&dir, Some(65534), Some(65534)) {
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        eprintln!("note: skipping, cannot chown to nobody when not root: {e}");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let err = WasmHost::new(config_in(&dir)).unwrap_err();
    assert!(
        matches!(&err, HostError::CacheDirOwner { path, owner: 65534, .. } if path == &dir),
        "{err}"
    );
    assert!(err.to_string().contains(&dir.display().to_string()), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_symlinked_or_non_directory_cache_dir_is_refused() {
    let real = fresh_dir("cache-real");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = fresh_dir("cache-link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = WasmHost::new(config_in(&link)).unwrap_err();
    assert!(
        matches!(&err, HostError::CacheDirSymlink { path } if path == &link),
        "{err}"
    );
    let file = fresh_dir("cache-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = WasmHost::new(config_in(&file)).unwrap_err();
    assert!(
        matches!(&err, HostError::CacheDirNotDirectory { path } if path == &file),
        "{err}"
    );
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir_all(&real);
}

#[test]
fn the_default_dir_is_per_user() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    let dir = HostConfig::default_cache_dir_in;
    assert_eq!(
        dir(env(&[
            ("CAXTON_WASM_CACHE", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h")
        ])),
        Some(PathBuf::from("/c"))
    );
    assert_eq!(
        dir(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
        Some(PathBuf::from("/x/caxton/wasm"))
    );
    assert_eq!(
        dir(env(&[("HOME", "/h")])),
        Some(PathBuf::from("/h/.cache/caxton/wasm"))
    );
    // Empty or relative values are ignored (XDG base directory spec).
    assert_eq!(
        dir(env(&[
            ("CAXTON_WASM_CACHE", ""),
            ("XDG_CACHE_HOME", "rel"),
            ("HOME", "/h")
        ])),
        Some(PathBuf::from("/h/.cache/caxton/wasm"))
    );
    // Nowhere per-user: no disk cache at all (never a shared temp dir).
    assert_eq!(dir(env(&[])), None);
    assert_eq!(dir(env(&[("TMPDIR", "/tmp")])), None);
}

#[test]
fn the_default_dir_is_created_private_with_its_parents() {
    let xdg = fresh_dir("cache-xdg");
    let xdg_str = xdg.to_str().unwrap().to_owned();
    let dir =
        HostConfig::default_cache_dir_in(|name| (name == "XDG_CACHE_HOME").then(|| xdg_str.clone().into())).unwrap();
    assert_eq!(dir, xdg.join("caxton").join("wasm"));
    let host = WasmHost::new(config_in(&dir)).unwrap();
    assert_eq!(host.cache_dir(), Some(dir.as_path()));
    for created in [&xdg, &xdg.join("caxton"), &dir] {
        let meta = std::fs::symlink_metadata(created).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o777, 0o700, "{}", created.display());
    }
    let _ = std::fs::remove_dir_all(&xdg);
}

#[test]
fn the_disk_cache_keeps_at_most_its_bound() {
    // Artifact sizes, from an unbounded cache.
    let sizes_dir = fresh_dir("cache-sizes");
    let host = WasmHost::new(config_in(&sizes_dir)).unwrap();
    let mut largest = 0;
    for guest in [guests::ECHO, guests::COUNTER, guests::MISBEHAVE] {
        host.load(guest).unwrap();
    }
    for name in entries(&sizes_dir) {
        largest = largest.max(std::fs::metadata(sizes_dir.join(name)).unwrap().len());
    }
    let _ = std::fs::remove_dir_all(&sizes_dir);

    let dir = fresh_dir("cache-bound");
    let bound = largest + largest / 2;
    let config = HostConfig {
        disk_cache_bytes: bound,
        ..config_in(&dir)
    };
    let host = WasmHost::new(config.clone()).unwrap();
    for guest in [guests::ECHO, guests::COUNTER, guests::MISBEHAVE] {
        host.load(guest).unwrap();
        let total: u64 = entries(&dir)
            .iter()
            .map(|n| std::fs::metadata(dir.join(n)).unwrap().len())
            .sum();
        assert!(total <= bound, "{total} > {bound}: {:?}", entries(&dir));
        assert!(!entries(&dir).is_empty());
    }
    // The most recent one was kept.
    let later = WasmHost::new(config).unwrap();
    assert_eq!(later.load(guests::MISBEHAVE).unwrap().origin(), ModuleOrigin::Disk);
    // An artifact larger than the whole bound is not written.
    let tiny = fresh_dir("cache-tiny");
    let host = WasmHost::new(HostConfig {
        disk_cache_bytes: 16,
        ..config_in(&tiny)
    })
    .unwrap();
    host.load(guests::ECHO).unwrap();
    assert!(entries(&tiny).is_empty(), "{:?}", entries(&tiny));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&tiny);
}
