//! Graceful drain: the real binary on SIGTERM finishes the request in
//! flight, prints its shutdown report and exits 0; in-process, a draining
//! server fails readiness and refuses new work with 503.

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};

use axum::body::Body;
use common::{DEADLINE, TestServer, answer, config, poll};
use reqwest::StatusCode;
use serde_json::json;
use tower::ServiceExt as _;

/// The server binary as a child process, killed by its PID if a test
/// fails before it exits.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-server"))
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start caxton-server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .parse()
            .unwrap();
        Self { child, addr, stdout }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn terminate(&self) {
        // SAFETY: kill(2) on our own child's PID.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
    }

    /// Waits for the exit (up to the deadline); the status and the rest
    /// of stdout.
    async fn wait(&mut self) -> (std::process::ExitStatus, String) {
        let status = poll("the server to exit", || {
            let s = self.child.try_wait().unwrap();
            async move { s }
        })
        .await;
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_request_in_flight_and_exits_0() {
    let mut srv = Server::start(&["--spawn-echo", "1", "--drain-timeout", "30s"]);
    let http = reqwest::Client::new();
    // The echo from --spawn-echo answers.
    let r = http
        .post(srv.url("/v1/requests"))
        .json(&json!({"to": {"name": "echo-0"}, "payload": "hi"}))
        .send()
        .await
        .unwrap();
    let (s, v) = answer(r).await;
    assert_eq!((s, &v["payload"]), (StatusCode::OK, &json!("hi")), "{v}");
    // A guest that spins for a while: a request to it is in flight.
    let r = http
        .post(srv.url("/v1/modules"))
        .header("content-type", "application/wasm")
        .body(caxton_wasm::guests::MISBEHAVE.to_vec())
        .send()
        .await
        .unwrap();
    let (_, v) = answer(r).await;
    let module = v["module"].as_str().unwrap().to_owned();
    let r = http
        .post(srv.url("/v1/agents"))
        .json(&json!({"kind": "wasm", "module": module, "name": "spinner",
            "limits": {"fuel": 1u64 << 50, "cpu_time_ms": 1000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let in_flight = tokio::spawn({
        let http = http.clone();
        let url = srv.url("/v1/requests");
        async move {
            http.post(url)
                .json(&json!({"to": {"name": "spinner"}, "payload": "loop", "timeout_ms": 30000}))
                .send()
                .await
        }
    });
    // The guest's mailbox took the request.
    poll("the request to be accepted", || async {
        let r = http.get(srv.url("/v1/agents/spinner")).send().await.ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        (v["mailbox_high_water"].as_u64()? >= 1).then_some(())
    })
    .await;
    srv.terminate();
    // The request in flight gets its answer: the guest's CPU limit ends
    // the spin (502), the connection is not cut.
    let r = tokio::time::timeout(DEADLINE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .expect("an answer, not a cut connection");
    let (s, v) = answer(r).await;
    assert_eq!(
        (s, v["kind"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("agent_failed")),
        "{v}"
    );
    let (status, out) = srv.wait().await;
    assert_eq!(status.code(), Some(0), "{out}");
    let report = out
        .lines()
        .find(|l| l.starts_with("shutdown: "))
        .unwrap_or_else(|| panic!("no report: {out:?}"));
    assert!(
        report.contains("2 agents") && report.contains("0 undelivered"),
        "{report}"
    );
    // After the drain nothing listens.
    assert!(http.get(srv.url("/healthz")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_an_idle_server_exits_0() {
    let mut srv = Server::start(&["--spawn-echo", "3"]);
    let r = reqwest::get(srv.url("/readyz")).await.unwrap();
    let (s, v) = answer(r).await;
    assert_eq!((s, v["agents"].as_u64()), (StatusCode::OK, Some(3)), "{v}");
    srv.terminate();
    let (status, out) = srv.wait().await;
    assert_eq!(status.code(), Some(0));
    assert!(out.contains("shutdown: 3 agents, 3 drained"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_file_flag_guards_mutating_routes() {
    let path = std::env::temp_dir().join(format!("caxton-server-drain-token-{}", std::process::id()));
    std::fs::write(&path, "t0ken\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let srv = Server::start(&["--token-file", path.to_str().unwrap()]);
    let http = reqwest::Client::new();
    let r = http.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(srv.url("/v1/agents"))
        .json(&json!({"kind": "echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .post(srv.url("/v1/agents"))
        .bearer_auth("t0ken")
        .json(&json!({"kind": "echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    drop(srv);
    // A token file others can read is refused at start (exit 2, named).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_caxton-server"))
        .args(["--listen", "127.0.0.1:0", "--token-file", path.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
}

/// While draining: readiness is 503, new work is 503 `shutting_down`,
/// liveness and metrics stay open, and the request in flight finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draining_server_refuses_new_work() {
    let mut srv = TestServer::start(config()).await;
    let module = srv.upload_misbehave().await;
    let spinner = srv.spawn_spinner(&module, "spinner", 4, 1000).await;
    srv.spawn_echo("echo").await;
    let in_flight = tokio::spawn({
        let http = srv.http.clone();
        let url = srv.url("/v1/requests");
        async move {
            http.post(url)
                .json(&json!({"to": {"id": spinner}, "payload": "loop", "timeout_ms": 30000}))
                .send()
                .await
        }
    });
    poll("the request to be accepted", || async {
        let (_, v) = srv.get("/v1/agents/spinner").await;
        (v["mailbox_high_water"].as_u64()? >= 1).then_some(())
    })
    .await;
    srv.begin_shutdown();
    poll("the drain to begin", || async { srv.state.is_draining().then_some(()) }).await;
    // The listener is closed now; the router over the same state answers
    // what a request arriving during the drain would get.
    let app = caxton_server::routes::router(srv.state.clone());
    let call = |method: &str, path: &str, body: &str| {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let app = app.clone();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let status = r.status();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (status.as_u16(), String::from_utf8_lossy(&bytes).to_string())
        }
    };
    let (s, body) = call("GET", "/readyz", "").await;
    assert_eq!((s, body.as_str()), (503, r#"{"status":"draining"}"#));
    let (s, body) = call("POST", "/v1/requests", r#"{"to":{"name":"echo"}}"#).await;
    assert_eq!(s, 503, "{body}");
    assert!(
        body.contains("shutting_down") && body.contains("shutting down"),
        "{body}"
    );
    let (s, body) = call("GET", "/v1/ws", "").await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(call("GET", "/healthz", "").await.0, 200);
    assert_eq!(call("GET", "/metrics", "").await.0, 200);
    // The request in flight is answered.
    let r = tokio::time::timeout(DEADLINE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .expect("answered");
    let (s, v) = answer(r).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{v}");
    let report = srv.stop().await;
    assert_eq!(report.agents, 2);
    assert!(report.undelivered.is_empty());
}

/// A WebSocket session open at SIGTERM is closed with 1001 before the
/// process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sessions_with_1001() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message as Frame;
    let mut srv = Server::start(&["--spawn-echo", "1"]);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/ws", srv.addr))
        .await
        .unwrap();
    let welcome = ws.next().await.unwrap().unwrap();
    assert!(matches!(welcome, Frame::Text(_)), "{welcome:?}");
    srv.terminate();
    let mut code = None;
    while let Ok(Some(Ok(f))) = tokio::time::timeout(DEADLINE, ws.next()).await {
        if let Frame::Close(c) = f {
            code = c.map(|c| u16::from(c.code));
            break;
        }
    }
    assert_eq!(code, Some(1001));
    let (status, out) = srv.wait().await;
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("shutdown: "), "{out}");
}
