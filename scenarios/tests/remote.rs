//! The four in-process scenarios run with `--target` against the real
//! `caxton-server` binary: each passes its assertions on a small, short
//! load, leaves no agent behind, and the server drains and exits 0 on
//! SIGTERM. Needs the release binaries
//! (`cargo build --release -p caxton-server -p caxton-load`); timings are
//! never asserted.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use caxton_netbench::{Binaries, Service, bins::BUILD, client};

/// The binaries: release builds first (what the scenarios measure), then
/// beside this test.
fn binaries() -> Binaries {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe.parent().expect("the test's folder").to_path_buf();
    let profile = deps.parent().expect("the profile folder").to_path_buf();
    let target = profile.parent().expect("the target folder").to_path_buf();
    let dirs: Vec<PathBuf> = vec![target.join("release"), profile, deps];
    Binaries::in_dirs(&dirs).unwrap_or_else(|e| panic!("{e}\n(build them first: `{BUILD}`)"))
}

/// A folder for this test's results, removed afterwards.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scenario(name: &str) -> Command {
    let bin = match name {
        "peak" => env!("CARGO_BIN_EXE_peak"),
        "sustained" => env!("CARGO_BIN_EXE_sustained"),
        "burst" => env!("CARGO_BIN_EXE_burst"),
        _ => env!("CARGO_BIN_EXE_faults"),
    };
    Command::new(bin)
}

/// The burst file with a burst this machine's HTTP client keeps up with.
const SMALL_BURST: &str = r#"
[load]
duration_s = 12
rate = 100
agents = 4
message_size = 256
agent_kind = "native"
mailbox_capacity = 1024
workers = 0
agent_budget_bytes = 16384

[burst]
start_s = 3
duration_s = 2
rate = 400

[checks]
recovery_limit_s = 30.0
recovery_p99_factor = 2.0
recovery_p99_floor_ms = 50.0
recovery_stable_intervals = 2
"#;

#[test]
fn the_four_scenarios_run_against_a_server_and_leave_it_as_found() {
    let bins = binaries();
    let server = Service::start(
        "caxton-server",
        &bins.server,
        &["--listen".into(), "127.0.0.1:0".into()],
        Duration::from_secs(30),
    )
    .expect("the server starts");
    let url = server.http_base();
    let dir = TempDir(std::env::temp_dir().join(format!("caxton-scenarios-remote-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let burst_toml = dir.0.join("burst.toml");
    std::fs::write(&burst_toml, SMALL_BURST).unwrap();

    let runs: [(&str, &[&str]); 4] = [
        ("peak", &["--rate", "200", "--agents", "4", "--duration", "3"]),
        // The quick file's 20 s: a leak fit over fewer seconds of a server
        // that just started reads its first allocations as a slope.
        ("sustained", &["--rate", "200", "--agents", "4"]),
        ("burst", &["--config", burst_toml.to_str().unwrap()]),
        // 10 crashes/s over 10 agents for 3 s: 3 restarts each, within the
        // server's restart policy (5 in 10 s).
        ("faults", &["--rate", "200", "--agents", "10", "--duration", "3"]),
    ];
    for (name, flags) in runs {
        let out_dir = dir.0.join(name);
        let out = scenario(name)
            .args(["--quick", "--no-progress", "--no-history", "--target", &url, "--out"])
            .arg(&out_dir)
            .args(flags)
            .output()
            .unwrap();
        let text = format!(
            "{name}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let result: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join(format!("{name}.json"))).expect(&text)).unwrap();
        let failed: Vec<&serde_json::Value> = result["assertions"]
            .as_array()
            .expect("assertions")
            .iter()
            .filter(|a| a["passed"] != true)
            .collect();
        assert!(failed.is_empty(), "{text}");
        assert!(out.status.success(), "{text}");
        assert_eq!(result["config"]["target"]["url"], url.as_str(), "{text}");
        let names: Vec<&str> = result["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert!(names.contains(&"accepted_accounted"), "{names:?}");
        // Every agent the run spawned is stopped again.
        let agents = client::call(server.addr(), "GET", "/v1/agents", None, b"").unwrap();
        let agents: serde_json::Value = serde_json::from_slice(&agents.body).unwrap();
        assert_eq!(agents["agents"], serde_json::json!([]), "{name} left agents behind");
    }

    let stopped = server.stop(Duration::from_secs(30));
    assert!(
        stopped.status.is_some_and(|s| s.success()),
        "the server did not exit 0 on SIGTERM: {:?}",
        stopped.status
    );
}

#[test]
fn a_remote_target_is_refused_as_a_configuration_error() {
    let out = scenario("peak")
        .args(["--quick", "--target", "http://192.0.2.1:8080"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
