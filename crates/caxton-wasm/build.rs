//! Builds the guest agents in `guests/` (their own Cargo workspace) for
//! `wasm32-unknown-unknown` and leaves the `.wasm` files in `OUT_DIR`, where
//! `src/guests.rs` includes them.
//!
//! First it makes sure the toolchain in use has the target's standard
//! library: rustup adds `rust-toolchain.toml`'s `targets` only when it
//! installs the toolchain, not to one already installed, so a fresh clone
//! built with an existing 1.95.0 would otherwise fail minutes in with
//! "can't find crate for `core`". It adds the target with rustup when it can,
//! and otherwise stops at once with the command to run.
//!
//! The guest build's own output (cargo's progress, rustc's notes) is
//! captured and shown only when that build fails.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUESTS: [&str; 4] = ["echo", "counter", "compute", "misbehave"];

/// The guests' target.
const TARGET: &str = "wasm32-unknown-unknown";

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
        root.join("crates/caxton-abi/src"),
        root.join("crates/caxton-abi/Cargo.toml"),
        root.join("crates/caxton-guest/src"),
        root.join("crates/caxton-guest/Cargo.toml"),
        root.join("crates/caxton-kernels/src"),
        root.join("crates/caxton-kernels/Cargo.toml"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    // Testing only: check this folder instead of the compiler's sysroot.
    println!("cargo:rerun-if-env-changed={SYSROOT_OVERRIDE}");
    ensure_target();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guests)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
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
    // Captured: a successful guest build prints nothing a newcomer would
    // take for a problem; a failed one shows everything it said.
    let out = cmd.output().expect("running cargo for the guest agents");
    if !out.status.success() {
        show(&out);
        panic!(
            "building the guest agents failed ({}); the guest build's output is above",
            out.status
        );
    }

    let built = target_dir.join(TARGET).join("release");
    for guest in GUESTS {
        let from = built.join(format!("guest_{guest}.wasm"));
        copy(&from, &out_dir.join(format!("{guest}.wasm")));
    }
}

/// Set to a folder, checked as the sysroot instead of the compiler's (to
/// try the detection against a sysroot without the target).
const SYSROOT_OVERRIDE: &str = "CAXTON_GUEST_SYSROOT";

/// Makes sure the compiler the guests are built with has the target's
/// standard library: adds it with rustup when it is missing, or panics at
/// once (before any guest compiles) with the command that adds it.
fn ensure_target() {
    let sysroot = sysroot();
    if has_target(&sysroot) {
        return;
    }
    // Set by rustup's proxies: the toolchain this build runs on.
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty());
    let mut add = vec!["target", "add", TARGET];
    if let Some(t) = &toolchain {
        add.extend(["--toolchain", t]);
    }
    let command = format!("rustup {}", add.join(" "));
    let hint = match Command::new("rustup").args(&add).output() {
        Ok(out) if out.status.success() && has_target(&sysroot) => return,
        Ok(out) => {
            show(&out);
            ""
        }
        Err(_) => " (rustup is not on PATH: install it, or this target's standard library for your compiler)",
    };
    panic!(
        "the {TARGET} target (needed to build the guest agents) is not installed in {}; run `{command}`{hint} and build again",
        sysroot.display()
    );
}

/// The sysroot of the compiler cargo builds with (`RUSTC`, as cargo sets
/// it for build scripts; the guest build uses the same), or the override.
fn sysroot() -> PathBuf {
    if let Some(dir) = env::var_os(SYSROOT_OVERRIDE) {
        return dir.into();
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| panic!("running `{} --print sysroot`: {e}", rustc.to_string_lossy()));
    if !out.status.success() {
        show(&out);
        panic!("`{} --print sysroot` failed ({})", rustc.to_string_lossy(), out.status);
    }
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Whether `sysroot` holds the target's standard library.
fn has_target(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib").join(TARGET).join("lib").is_dir()
}

/// A child's output, on the build script's stderr (which cargo shows when
/// the build script fails): never on stdout, where cargo reads directives.
fn show(out: &std::process::Output) {
    eprint!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}
