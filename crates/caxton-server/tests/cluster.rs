//! Two front doors as nodes of one lattice on a real `nats-server`
//! (started by the test, killed by PID on drop): each answers for the
//! other's agents; and the binary's `--cluster`/`--node` flags.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use caxton_cluster::Node;
use caxton_cluster::testing::NatsServer;
use caxton_runtime::{Address, Message, OrchestratorConfig};
use caxton_server::AppState;
use common::{TestServer, assert_error, config, poll};
use reqwest::StatusCode;
use serde_json::json;

/// A server that is node `name` of lattice `lattice` on `nats`.
async fn node_server(nats: &NatsServer, lattice: &str, name: &str) -> TestServer {
    let node = Node::connect(&nats.url(), lattice, name, OrchestratorConfig::default())
        .await
        .expect("join the lattice");
    let mut c = config();
    c.cluster = Some(nats.url());
    c.node = Some(name.to_owned());
    c.lattice = lattice.to_owned();
    TestServer::start_state(AppState::with_node(node, c, None), None).await
}

fn nats() -> NatsServer {
    NatsServer::start().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_on_a_reaches_agent_spawned_on_b() {
    let nats = nats();
    let a = node_server(&nats, "t1", "a").await;
    let b = node_server(&nats, "t1", "b").await;
    let echo_b = b.spawn(json!({ "kind": "echo", "name": "echo-b" })).await;

    // JSON request by name, on A, answered by B's agent.
    let (s, v) = a
        .post("/v1/requests", json!({ "to": { "name": "echo-b" }, "payload": "hi" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["payload"], "hi");
    assert_eq!(v["from"]["id"], echo_b);

    // Raw request by id, on A.
    let r = a
        .post_raw(
            &format!("/v1/raw/request/{echo_b}"),
            "application/octet-stream",
            b"raw".to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"raw");

    // A send across is accepted.
    let (s, v) = a
        .post(
            "/v1/messages",
            json!({ "to": { "name": "echo-b" }, "payload": "one way" }),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");

    // A's own agents still take the local path.
    let echo_a = a.spawn_echo("echo-a").await;
    let (s, v) = a
        .post("/v1/requests", json!({ "to": { "id": echo_a }, "payload": "here" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["payload"], "here");

    // And B reaches A's.
    let (s, v) = b
        .post("/v1/requests", json!({ "to": { "name": "echo-a" }, "payload": "back" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["from"]["id"], echo_a);

    let m = a.metrics().await;
    assert!(m.sum("caxton_cluster_messages_sent_remote_total") >= 1.0, "{m:?}");
    assert_eq!(m.get("caxton_cluster_info", &[("lattice", "t1"), ("node", "a")]), 1.0);
    assert!(m.samples.contains_key("caxton_cluster_decode_failures_total"));
    assert!(m.samples.contains_key("caxton_cluster_reconnects_total"));
    assert!(m.sum("caxton_cluster_request_round_trip_seconds_count") >= 2.0, "{m:?}");
    let m = b.metrics().await;
    assert!(m.sum("caxton_cluster_messages_received_remote_total") >= 1.0, "{m:?}");

    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_name_across_is_404_and_stopped_agent_is_gone() {
    let nats = nats();
    let a = node_server(&nats, "t2", "a").await;
    let b = node_server(&nats, "t2", "b").await;

    let got = a
        .post("/v1/requests", json!({ "to": { "name": "nobody" }, "payload": "hi" }))
        .await;
    assert_error(&got, 404, "unknown_agent", "nobody");
    let r = a
        .post_raw("/v1/raw/request/name:nobody", "application/octet-stream", vec![])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Stopped through B's API: its subjects go too.
    let id = b.spawn_echo("short-lived").await;
    let (s, v) = b.delete(&format!("/v1/agents/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = a
        .post("/v1/requests", json!({ "to": { "id": id }, "payload": "hi" }))
        .await;
    assert_eq!(got.0, StatusCode::NOT_FOUND, "{:?}", got.1);

    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_and_websocket_cross_nodes() {
    let nats = nats();
    let a = node_server(&nats, "t3", "a").await;
    let b = node_server(&nats, "t3", "b").await;
    b.spawn(json!({ "kind": "echo", "name": "echo-ws", "capabilities": ["echoing"] }))
        .await;

    let (s, v) = a
        .post("/v1/broadcast", json!({ "capability": "echoing", "payload": "all" }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["published"], true, "{v}");

    let mut ws = a.ws("").await;
    let welcome = common::next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    common::send_json(
        &mut ws,
        json!({ "op": "request", "ref": 7, "to": { "name": "echo-ws" }, "payload": "ws" }),
    )
    .await;
    let reply = common::next_json(&mut ws).await;
    assert_eq!(reply["type"], "reply", "{reply}");
    assert_eq!(reply["ref"], 7);
    assert_eq!(reply["payload"], "ws");
    drop(ws);

    a.stop().await;
    b.stop().await;
}

#[test]
fn cluster_without_node_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_caxton-server"))
        .args(["--listen", "127.0.0.1:0", "--cluster", "nats://127.0.0.1:4222"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--node"), "{err}");
}

#[test]
fn unreachable_nats_names_the_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_caxton-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--cluster",
            "nats://127.0.0.1:1",
            "--node",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nats://127.0.0.1:1"), "{err}");
}

/// The binary as a child process, killed by its PID on drop.
struct Child2(Child);

impl Drop for Child2 {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_joins_the_lattice_and_releases_its_name_on_sigterm() {
    let nats = nats();
    let url = nats.url();
    let mut child = Child2(
        Command::new(env!("CARGO_BIN_EXE_caxton-server"))
            .args(["--listen", "127.0.0.1:0", "--workers", "2", "--spawn-echo", "1"])
            .args(["--cluster", &url, "--node", "bin", "--lattice", "t4"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start caxton-server"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on "), "first line: {line:?}");

    // Another node of the lattice reaches the binary's agent by name.
    let probe = Node::connect(&url, "t4", "probe", OrchestratorConfig::default())
        .await
        .expect("join");
    let reply = probe
        .request(Message::request(Address::name("echo-0"), "hi"), Duration::from_secs(10))
        .await
        .expect("reply from the binary's echo-0");
    assert_eq!(reply.payload.as_ref(), b"hi");

    // SIGTERM: drains, shuts the node down (its name is free again).
    // SAFETY: kill(2) on our own child's PID.
    assert_eq!(unsafe { libc::kill(child.0.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let status = poll("the server to exit", || {
        let s = child.0.try_wait().unwrap();
        async move { s }
    })
    .await;
    assert!(status.success(), "{status}");
    let again = Node::connect(&url, "t4", "bin", OrchestratorConfig::default())
        .await
        .expect("the name was released");
    again.shutdown(Duration::from_secs(5)).await;
    probe.shutdown(Duration::from_secs(5)).await;
}
