//! The scenario binaries refuse bad input before running anything: exit
//! code 2 and a message naming the flag or field.

use std::process::{Command, Output};

fn scenario(bin: &str, args: &[&str]) -> Output {
    let exe = match bin {
        "peak" => env!("CARGO_BIN_EXE_peak"),
        "faults" => env!("CARGO_BIN_EXE_faults"),
        "burst" => env!("CARGO_BIN_EXE_burst"),
        "capacity" => env!("CARGO_BIN_EXE_capacity"),
        "hotspot" => env!("CARGO_BIN_EXE_hotspot"),
        _ => unreachable!(),
    };
    Command::new(exe)
        .args(args)
        .args(["--no-progress", "--no-history", "--out"])
        .arg(std::env::temp_dir().join(format!("caxton-scenarios-cli-{}", std::process::id())))
        .output()
        .expect("run the scenario binary")
}

#[test]
fn a_huge_duration_is_refused_by_the_flag_not_overflowed() {
    // 5124095576030432 h * 3600 overflows u64; 400d is merely too long.
    for d in ["5124095576030432h", "99999999999999999999", "400d"] {
        let out = scenario("peak", &["--duration", d]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{d}: {err}");
        assert!(err.contains("--duration") && err.contains("365 days"), "{d}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_zero_restart_window_is_refused_by_name() {
    let dir = tempdir();
    let path = dir.join("faults.toml");
    let text = include_str!("../faults.toml").replace("restart_window_s = 10", "restart_window_s = 0");
    std::fs::write(&path, text).unwrap();
    let out = scenario("faults", &["--config", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`faults.restart_window_s`"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_relative_rates_and_in_process_only_flags_are_refused_before_running() {
    let cases: [(&str, &[&str], &str); 6] = [
        ("peak", &["--rate", "0.7y"], "--rate"),
        ("peak", &["--rate", "0.7x", "--capacity", "0"], "--capacity"),
        (
            "peak",
            &["--burst-rate", "3x", "--capacity", "1000"],
            "--burst-rate is for the burst",
        ),
        (
            "burst",
            &["--policy", "backpressure", "--target", "http://127.0.0.1:9"],
            "in-process",
        ),
        (
            "capacity",
            &["--handler-us", "5", "--target", "http://127.0.0.1:9"],
            "in-process",
        ),
        ("hotspot", &["--capabilities", "1"], "--capabilities"),
    ];
    for (bin, args, says) in cases {
        let out = scenario(bin, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {err}");
        assert!(err.contains(says), "{bin} {args:?}: {err}");
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("caxton-scenarios-cli-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
