//! Builds the guest agents in `guests/` (their own Cargo workspace) for
//! `wasm32-unknown-unknown` and leaves the `.wasm` files in `OUT_DIR`, where
//! `src/guests.rs` includes them.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUESTS: [&str; 4] = ["echo", "counter", "compute", "misbehave"];

/// Linear-memory stack of each guest; small stacks keep idle agents small.
const GUEST_STACK_BYTES: u32 = 64 * 1024;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let guests = root.join("guests");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    // A target dir of our own: the outer cargo holds the lock on its own.
    let target_dir = out_dir.join("guest-target");

    for path in [
        guests.clone(),
        root.join("crates/caxton-guest/src"),
        root.join("crates/caxton-guest/Cargo.toml"),
        root.join("crates/caxton-kernels/src"),
        root.join("crates/caxton-kernels/Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guests)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(&target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            [
                format!("-Clink-arg=-zstack-size={GUEST_STACK_BYTES}"),
                // 64x64->128-bit multiply (the host enables the proposal):
                // overflow-checked u64 arithmetic stays one instruction.
                // rustc calls the feature unstable and says so in the
                // (hidden) guest build output; it changes no semantics.
                "-Ctarget-feature=+wide-arithmetic".to_owned(),
            ]
            .join("\x1f"),
        );
    // Flags and wrappers meant for the host build must not leak into the
    // guest build (clippy's wrapper, coverage flags, a forced target).
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_LLVM_COV",
        "CARGO_INCREMENTAL",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_TARGET_") {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd.status().expect("running cargo for the guest agents");
    assert!(status.success(), "building the guest agents failed ({status})");

    let built = target_dir.join("wasm32-unknown-unknown/release");
    for guest in GUESTS {
        let from = built.join(format!("guest_{guest}.wasm"));
        copy(&from, &out_dir.join(format!("{guest}.wasm")));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}
