//! Argument handling: sizes, headers, refused and unreachable targets.

mod common;

use std::process::Command;

use caxton_load::Mode;
use caxton_load::cli::parse_header;
use caxton_load::size::{format_size, parse_size};
use caxton_load::target::{DEFAULT_HTTP_PATH, DEFAULT_WS_PATH, Target};

fn load(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caxton-load"))
        .args(args)
        .output()
        .expect("run caxton-load")
}

#[test]
fn sizes_parse_with_binary_units() {
    assert_eq!(parse_size("1024"), Ok(1024));
    assert_eq!(parse_size("1KiB"), Ok(1024));
    assert_eq!(parse_size("64KiB"), Ok(64 * 1024));
    assert_eq!(parse_size("1MiB"), Ok(1 << 20));
    assert_eq!(parse_size("2mb"), Ok(2 << 20));
    assert_eq!(parse_size("1k"), Ok(1024));
    assert_eq!(parse_size("100B"), Ok(100));
    assert!(parse_size("1XB").is_err());
    assert!(parse_size("KiB").is_err());
    assert_eq!(format_size(1024), "1KiB");
    assert_eq!(format_size(1 << 20), "1MiB");
    assert_eq!(format_size(1536), "1536B");
}

#[test]
fn headers_parse_as_name_colon_value() {
    assert_eq!(parse_header("X-A: b"), Ok(("X-A".to_owned(), "b".to_owned())));
    assert_eq!(
        parse_header("caxton-timeout-ms:100"),
        Ok(("caxton-timeout-ms".to_owned(), "100".to_owned()))
    );
    assert!(parse_header("no-colon").is_err());
    assert!(parse_header(": v").is_err());
}

#[test]
fn loopback_targets_are_accepted_and_get_default_paths() {
    let t = Target::parse("http://127.0.0.1:8080", Mode::Http, false).unwrap();
    assert_eq!(t.path_and_query, DEFAULT_HTTP_PATH);
    assert_eq!(t.url, format!("http://127.0.0.1:8080{DEFAULT_HTTP_PATH}"));
    let t = Target::parse("ws://localhost:9/", Mode::Ws, false).unwrap();
    assert_eq!(t.path_and_query, DEFAULT_WS_PATH);
    assert!(t.addr.ip().is_loopback());
    let t = Target::parse("http://[::1]:80/echo?x=1", Mode::Http, false).unwrap();
    assert_eq!(t.path_and_query, "/echo?x=1");
    assert!(Target::parse("http://127.0.0.2:80/x", Mode::Http, false).is_ok());
}

#[test]
fn non_loopback_targets_are_refused_without_allow_remote() {
    for url in ["http://10.1.2.3:80/x", "http://example.com/x", "http://0.0.0.0:80/"] {
        let e = Target::parse(url, Mode::Http, false).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{url}");
        assert!(e.to_string().contains("--allow-remote"), "{e}");
    }
    // With --allow-remote an IP literal is taken as it is (nothing is sent).
    assert!(Target::parse("http://10.1.2.3:80/x", Mode::Http, true).is_ok());
    // The wrong scheme for the mode is refused too.
    assert!(Target::parse("ws://127.0.0.1:80/x", Mode::Http, false).is_err());
    assert!(Target::parse("https://127.0.0.1:80/x", Mode::Http, false).is_err());
}

#[test]
fn the_binary_refuses_a_non_loopback_url_with_exit_code_2() {
    let out = load(&["http", "--url", "http://10.1.2.3:8080/x", "--duration", "1s", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("non-loopback"), "{stderr}");
    assert!(stderr.contains("--allow-remote"), "{stderr}");
}

#[test]
fn bad_flags_exit_with_code_2() {
    let out = load(&["http", "--payload-bytes", "1XB"]);
    assert_eq!(out.status.code(), Some(2));
    let out = load(&["http", "--duration", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let out = load(&["http", "--url", "http://127.0.0.1:1/x", "--connections", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_unreachable_target_exits_with_code_1_and_says_so() {
    let port = common::closed_port();
    let url = format!("http://127.0.0.1:{port}/echo");
    let out = load(&["http", "--url", &url, "--duration", "1s", "--warmup", "0s", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(stderr.contains(&port.to_string()), "{stderr}");

    let url = format!("ws://127.0.0.1:{port}/v1/ws");
    let out = load(&[
        "ws",
        "--url",
        &url,
        "--duration",
        "1s",
        "--sessions",
        "3",
        "--timeout",
        "1s",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot open any WebSocket session"), "{stderr}");
}
