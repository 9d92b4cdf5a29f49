//! Bad input, each a test: it gets its status code and a message naming
//! the problem, and other clients are unaffected.

mod common;

use std::time::Duration;

use common::{ServerConfig, TestServer, answer, assert_error, config, poll, raw_http, read_response};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Another client still gets answers.
async fn others_unaffected(srv: &TestServer) {
    let (s, v) = srv
        .post("/v1/requests", json!({"to": {"name": "echo"}, "payload": "still here"}))
        .await;
    assert_eq!((s, &v["payload"]), (StatusCode::OK, &json!("still here")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_json_and_unknown_fields() {
    let srv = TestServer::start(config()).await;
    srv.spawn_echo("echo").await;
    let r = srv
        .post_raw(
            "/v1/requests",
            "application/json",
            br#"{"to": {"name": "echo"}"#.to_vec(),
        )
        .await;
    assert_error(&answer(r).await, 400, "invalid_json", "EOF while parsing");
    let r = srv
        .post_raw("/v1/messages", "application/json", b"not json".to_vec())
        .await;
    assert_error(&answer(r).await, 400, "invalid_json", "line 1 column");
    let r = srv.post_raw("/v1/broadcast", "application/json", vec![]).await;
    assert_error(&answer(r).await, 400, "invalid_json", "EOF");
    // Unknown fields, at the top and nested, are named.
    assert_error(
        &srv.post("/v1/requests", json!({"to": {"name": "echo"}, "colour": "red"}))
            .await,
        400,
        "invalid_json",
        "colour",
    );
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "echo", "limits": {"mailbox": 3}}))
            .await,
        400,
        "invalid_json",
        "mailbox",
    );
    assert_error(
        &srv.post("/v1/broadcast", json!({"capability": "x", "extra": 1})).await,
        400,
        "invalid_json",
        "extra",
    );
    // A JSON body with invalid UTF-8 inside a string.
    let r = srv
        .post_raw(
            "/v1/messages",
            "application/json",
            b"{\"to\":{\"name\":\"\xff\"}}".to_vec(),
        )
        .await;
    assert_error(&answer(r).await, 400, "invalid_json", "invalid unicode");
    others_unaffected(&srv).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_content_type_is_415() {
    let srv = TestServer::start(config()).await;
    srv.spawn_echo("echo").await;
    let body = json!({"to": {"name": "echo"}}).to_string().into_bytes();
    let r = srv.post_raw("/v1/requests", "text/plain", body.clone()).await;
    assert_error(&answer(r).await, 415, "unsupported_media_type", "application/json");
    let r = srv
        .http
        .post(srv.url("/v1/messages"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_error(&answer(r).await, 415, "unsupported_media_type", "no Content-Type");
    // A charset parameter is fine.
    let r = srv
        .post_raw("/v1/requests", "application/json; charset=utf-8", body)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = srv
        .post_raw("/v1/raw/send/name:echo", "application/json", b"{}".to_vec())
        .await;
    assert_error(
        &answer(r).await,
        415,
        "unsupported_media_type",
        "application/octet-stream",
    );
    let r = srv
        .post_raw(
            "/v1/modules",
            "application/octet-stream",
            caxton_wasm::guests::ECHO.to_vec(),
        )
        .await;
    assert_error(&answer(r).await, 415, "unsupported_media_type", "application/wasm");
    others_unaffected(&srv).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_over_the_limit_are_413() {
    let srv = TestServer::start(ServerConfig {
        max_body_bytes: 1024,
        ..config()
    })
    .await;
    srv.spawn_echo("echo").await;
    let big = json!({"to": {"name": "echo"}, "payload": "x".repeat(2000)});
    assert_error(
        &srv.post("/v1/requests", big.clone()).await,
        413,
        "too_large",
        "1024-byte limit",
    );
    let r = srv
        .post_raw("/v1/raw/request/name:echo", "application/octet-stream", vec![7; 1025])
        .await;
    assert_error(&answer(r).await, 413, "too_large", "1024-byte limit");
    let r = srv
        .post_raw("/v1/modules", "application/wasm", caxton_wasm::guests::ECHO.to_vec())
        .await;
    assert_error(&answer(r).await, 413, "too_large", "1024-byte limit");
    // A chunked body without Content-Length is cut off while reading.
    let chunk = "x".repeat(600);
    let mut req = String::from(
        "POST /v1/raw/send/name:echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..2 {
        req.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    req.push_str("0\r\n\r\n");
    let (status, body) = raw_http(srv.addr, req.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("too_large") && body.contains("1024-byte limit"), "{body}");
    // Exactly at the limit is fine (chunked too).
    let req = format!(
        "POST /v1/raw/send/name:echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n400\r\n{}\r\n0\r\n\r\n",
        "y".repeat(1024)
    );
    let (status, body) = raw_http(srv.addr, req.as_bytes()).await;
    assert_eq!(status, 202, "{body}");
    others_unaffected(&srv).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payload_over_the_agents_limit_is_413() {
    let srv = TestServer::start(config()).await;
    srv.spawn_echo("echo").await;
    srv.spawn(json!({"kind": "echo", "name": "small", "limits": {"max_message_bytes": 8}}))
        .await;
    let (s, v) = srv
        .post(
            "/v1/requests",
            json!({"to": {"name": "small"}, "payload": "0123456789"}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["kind"], "too_large");
    others_unaffected(&srv).await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_module_that_fails_to_load_is_400() {
    let srv = TestServer::start(config()).await;
    srv.spawn_echo("echo").await;
    let r = srv
        .post_raw("/v1/modules", "application/wasm", b"\0asm but not really".to_vec())
        .await;
    assert_error(&answer(r).await, 400, "invalid_module", "the module failed to load");
    let r = srv.post_raw("/v1/modules", "application/wasm", vec![]).await;
    assert_error(&answer(r).await, 400, "invalid_module", "the module failed to load");
    // Nothing was kept.
    let (_, v) = srv.get("/v1/modules").await;
    assert_eq!(v["modules"], json!([]));
    others_unaffected(&srv).await;
    srv.stop().await;
}

/// Reads until the server closes the connection: EOF or a reset, never
/// an answer to a request it never got whole (hyper may say 408).
async fn closed_by_server(c: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    loop {
        let read = tokio::time::timeout(common::DEADLINE, c.read(&mut buf));
        match read.await.expect("the server closes it") {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(got.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let srv = TestServer::start(ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    srv.spawn_echo("echo").await;
    let mut slow = TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Ty")
        .await
        .unwrap();
    // Meanwhile another client is served.
    others_unaffected(&srv).await;
    closed_by_server(&mut slow).await;
    // The same timer bounds an idle keep-alive connection (hyper starts it
    // when the connection waits for the next request's head).
    let mut idle = TcpStream::connect(srv.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.0, 200);
    closed_by_server(&mut idle).await;
    // A new client is served. (Not `srv.http`: its pooled connection may
    // be closed by that same timer just as it is reused.)
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let r = fresh
        .post(srv.url("/v1/requests"))
        .json(&json!({"to": {"name": "echo"}, "payload": "still here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_connections_than_the_maximum_get_503() {
    let srv = TestServer::start(ServerConfig {
        max_connections: 2,
        ..config()
    })
    .await;
    // Two keep-alive connections, each served once: both hold a slot.
    let healthz = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(srv.addr).await.unwrap();
        c.write_all(healthz).await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        held.push(c);
    }
    // A third is refused with 503, Retry-After, and closed.
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let r = fresh.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["connection"], "close");
    assert_error(&answer(r).await, 503, "too_many_connections", "limit of 2 connections");
    // The refused connection was never counted as open.
    assert_eq!(srv.state.metrics.http_connections.get(), 2);
    // The held connections are unaffected.
    for c in &mut held {
        c.write_all(healthz).await.unwrap();
        assert_eq!(read_response(c).await.0, 200);
    }
    // Once one closes, its slot serves a new client.
    drop(held.pop());
    poll("a freed connection slot", || async {
        let r = fresh.get(srv.url("/healthz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
    srv.stop().await;
}
