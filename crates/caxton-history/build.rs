//! Records the toolchain that builds this crate, so each recorded run says
//! which compiler produced the binary that measured it.

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CAXTON_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
