//! Real runs against the real `caxton-bare-echo` binary: every request
//! succeeds, the counts add up, the result file loads. No timing is
//! asserted.

mod common;

use std::process::Command;
use std::time::Duration;

use caxton_load::target::Target;
use caxton_load::{LoadConfig, Mode, RunSummary};
use caxton_report::results::ResultSet;
use common::EchoServer;

fn config(mode: Mode, url: &str) -> LoadConfig {
    let mut cfg = LoadConfig::new(mode, Target::parse(url, mode, false).unwrap());
    cfg.rate = 200;
    cfg.duration = Duration::from_secs(1);
    cfg.warmup = Duration::from_millis(200);
    cfg.connections = 4;
    cfg.sessions = 10;
    cfg.label = "bare-echo".to_owned();
    cfg
}

fn assert_all_ok(s: &RunSummary) {
    assert_eq!(s.sent, s.ok + s.errors, "{s:?}");
    assert_eq!(s.errors, 0, "errors: {:?}", s.errors_by_kind);
    assert!(s.ok > 0);
    assert_eq!(s.bytes_received, s.ok * s.payload_bytes as u64, "echoed bytes");
    let per_second: u64 = s.intervals.iter().map(|i| i.sent).sum();
    assert_eq!(per_second, s.sent, "intervals add up to the total");
    let per_second_ok: u64 = s.intervals.iter().map(|i| i.ok).sum();
    assert_eq!(per_second_ok, s.ok);
    assert!(s.latency_us.p50 <= s.latency_us.p99 && s.latency_us.p99 <= s.latency_us.max);
}

fn metric<'a>(set: &'a ResultSet, name: &str) -> &'a caxton_report::results::Measurement {
    set.measurements
        .iter()
        .find(|m| m.metric == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", set.measurements))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_open_loop_against_the_bare_echo() {
    let echo = EchoServer::start();
    let cfg = config(Mode::Http, &format!("http://{}/echo", echo.addr));
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_all_ok(&s);
    // The schedule issues exactly rate x duration requests in the window.
    assert_eq!(s.sent, 200);
    assert_eq!(s.variant, "http 200/s 4 conns 1KiB bare-echo");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("http.json");
    s.save(&path).unwrap();
    let set = ResultSet::load(&path).unwrap();
    for name in [
        "http_requests_per_s",
        "http_latency_p50",
        "http_latency_p95",
        "http_latency_p99",
        "http_latency_max",
        "error_rate",
    ] {
        let m = metric(&set, name);
        assert_eq!(m.variant, s.variant);
    }
    assert_eq!(metric(&set, "http_requests_per_s").unit, "req/s");
    assert_eq!(metric(&set, "http_latency_p99").unit, "us");
    assert_eq!(metric(&set, "error_rate").value, 0.0);
    // The full summary, intervals included, rides along under "load".
    let raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let back: RunSummary = serde_json::from_value(raw["load"].clone()).unwrap();
    assert_eq!(back.sent, s.sent);
    assert_eq!(back.intervals.len(), s.intervals.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_closed_loop_and_large_payloads() {
    let echo = EchoServer::start();
    let mut cfg = config(Mode::Http, &format!("http://{}/any/path", echo.addr));
    cfg.rate = 0;
    cfg.duration = Duration::from_millis(500);
    cfg.connections = 2;
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_all_ok(&s);
    assert!(s.variant.starts_with("http closed 2 conns"));

    // 1 MiB fits the echo server's 2 MiB body limit.
    let mut cfg = config(Mode::Http, &format!("http://{}/echo", echo.addr));
    cfg.rate = 20;
    cfg.payload_bytes = 1 << 20;
    cfg.warmup = Duration::ZERO;
    cfg.new_connection_per_request = true;
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_all_ok(&s);
    assert_eq!(s.sent, 20);
    assert!(s.variant.contains("1MiB"), "{}", s.variant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_errors_are_counted_by_code() {
    let echo = EchoServer::start();
    // The bare echo answers 405 to anything but POST; a GET-only route
    // (the WebSocket one, without an upgrade) answers POST with 405 too.
    let mut cfg = config(Mode::Http, &format!("http://{}/v1/ws", echo.addr));
    cfg.warmup = Duration::ZERO;
    cfg.duration = Duration::from_millis(500);
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_eq!(s.sent, 100);
    assert_eq!(s.sent, s.ok + s.errors);
    assert_eq!(s.ok, 0);
    assert_eq!(s.errors_by_kind.get("status_405"), Some(&100), "{:?}", s.errors_by_kind);
    assert_eq!(s.error_rate_pct, 100.0);
    assert!(!s.unreachable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_open_loop_against_the_bare_echo() {
    let echo = EchoServer::start();
    let cfg = config(Mode::Ws, &format!("ws://{}/v1/ws?to=name:echo-0", echo.addr));
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_all_ok(&s);
    assert_eq!(s.sent, 200);
    let sessions = s.ws_sessions.clone().unwrap();
    assert_eq!(sessions.opened, 10);
    assert_eq!(sessions.failed_to_open, 0);
    assert_eq!(sessions.open_at_end, 10);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.json");
    s.save(&path).unwrap();
    let set = ResultSet::load(&path).unwrap();
    for name in [
        "ws_round_trips_per_s",
        "ws_latency_p50",
        "ws_latency_p95",
        "ws_latency_p99",
        "ws_latency_max",
        "error_rate",
    ] {
        metric(&set, name);
    }
    assert_eq!(metric(&set, "websocket_sessions").value, 10.0);
    assert_eq!(metric(&set, "websocket_stability").value, 100.0);
    assert_eq!(metric(&set, "websocket_stability").unit, "%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_closed_loop_against_the_bare_echo() {
    let echo = EchoServer::start();
    let mut cfg = config(Mode::Ws, &format!("ws://{}/v1/ws", echo.addr));
    cfg.rate = 0;
    cfg.sessions = 4;
    cfg.duration = Duration::from_millis(500);
    cfg.payload_bytes = 64 * 1024;
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_all_ok(&s);
    assert_eq!(s.ws_sessions.unwrap().open_at_end, 4);
}

#[test]
fn the_binary_writes_results_and_a_json_summary() {
    let echo = EchoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_caxton-load"))
        .args([
            "http",
            "--url",
            &format!("http://{}/echo", echo.addr),
            "--rate",
            "100",
            "--duration",
            "1s",
            "--warmup",
            "100ms",
            "--connections",
            "2",
            "--payload-bytes",
            "64KiB",
            "--label",
            "bare-echo",
            "--header",
            "caxton-timeout-ms: 1000",
            "--json-summary",
            "--quiet",
            "--out",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {stdout}");
    let s: RunSummary = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(s.sent, 100);
    assert_eq!(s.ok, 100);
    assert_eq!(s.payload_bytes, 64 * 1024);
    assert_eq!(s.variant, "http 100/s 2 conns 64KiB bare-echo");
    let set = ResultSet::load(&path).unwrap();
    assert!(set.source.starts_with("caxton-load http"));
    let tput = metric(&set, "http_requests_per_s");
    assert_eq!(tput.details, vec![("offered".to_owned(), 100.0)]);
    assert_eq!(tput.samples.len(), 1, "one sample per full second");
}

#[test]
fn the_bare_echo_exits_0_on_sigterm() {
    let mut echo = EchoServer::start();
    // Serve one request first, so the server is fully up.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = config(Mode::Http, &format!("http://{}/echo", echo.addr));
    cfg.duration = Duration::from_millis(100);
    cfg.warmup = Duration::ZERO;
    let s = rt.block_on(caxton_load::run(&cfg)).unwrap();
    assert_eq!(s.errors, 0);
    let status = echo.terminate();
    assert_eq!(status.code(), Some(0), "pid {} exited with {status}", echo.pid());
}
