//! Shared helpers of the integration tests: a real server on a free port
//! (in-process), HTTP/WebSocket clients, a raw TCP client, and a parser
//! of the Prometheus text.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use caxton_runtime::{Orchestrator, ShutdownReport};
pub use caxton_server::ServerConfig;
use caxton_server::{AppState, Server};
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;

/// Generous deadline for polling: a failure, never a timing assertion.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A config for tests: a free loopback port, short drain.
pub fn config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        drain_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub http: reqwest::Client,
    pub token: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ShutdownReport>>,
}

impl TestServer {
    pub async fn start(config: ServerConfig) -> Self {
        Self::start_with_token(config, None).await
    }

    pub async fn start_with_token(config: ServerConfig, token: Option<String>) -> Self {
        let state = AppState::new(Orchestrator::new(), config, token.clone());
        Self::start_state(state, token).await
    }

    /// A server over a prepared state (e.g. one with a node).
    pub async fn start_state(state: AppState, token: Option<String>) -> Self {
        let server = Server::bind(state.clone()).await.expect("bind");
        let addr = server.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            state,
            http: reqwest::Client::new(),
            token,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.http.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        answer(
            self.auth(self.http.delete(self.url(path)))
                .send()
                .await
                .expect("DELETE"),
        )
        .await
    }

    /// POSTs JSON (with the token, when the server has one).
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .post_raw(path, "application/json", body.to_string().into_bytes())
            .await;
        answer(r).await
    }

    /// POSTs bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.auth(self.http.post(self.url(path)))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// Spawns one agent; its id.
    pub async fn spawn(&self, body: Value) -> u64 {
        let (s, v) = self.post("/v1/agents", body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "spawn {body}: {v}");
        v["id"].as_u64().expect("id")
    }

    pub async fn spawn_echo(&self, name: &str) -> u64 {
        self.spawn(json!({ "kind": "echo", "name": name })).await
    }

    /// Uploads the `misbehave` guest; its module id.
    pub async fn upload_misbehave(&self) -> String {
        let r = self
            .post_raw(
                "/v1/modules",
                "application/wasm",
                caxton_wasm::guests::MISBEHAVE.to_vec(),
            )
            .await;
        let (s, v) = answer(r).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["module"].as_str().unwrap().to_owned()
    }

    /// A `misbehave` agent whose `loop` spins for `cpu_ms` of CPU time.
    pub async fn spawn_spinner(&self, module: &str, name: &str, mailbox: usize, cpu_ms: u64) -> u64 {
        self.spawn(json!({
            "kind": "wasm", "module": module, "name": name,
            "limits": { "mailbox_capacity": mailbox, "fuel": 1u64 << 50, "cpu_time_ms": cpu_ms }
        }))
        .await
    }

    /// The parsed `/metrics`.
    pub async fn metrics(&self) -> Metrics {
        let r = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            ct.starts_with("application/openmetrics-text") || ct.starts_with("text/plain"),
            "{ct}"
        );
        Metrics::parse(&r.text().await.unwrap())
    }

    /// A WebSocket session (`query` like `?to=name:echo`).
    pub async fn ws(&self, query: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/ws{query}", self.addr))
            .await
            .expect("ws connect");
        ws
    }

    /// Begins the drain (as a signal would) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Stops the server; the orchestrator's report.
    pub async fn stop(mut self) -> ShutdownReport {
        self.begin_shutdown();
        let task = self.task.take().unwrap();
        tokio::time::timeout(DEADLINE, task)
            .await
            .expect("drain")
            .expect("server task")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Status and JSON body (Null when the body is not JSON).
pub async fn answer(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    let text = r.text().await.unwrap_or_default();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts an error answer: status, kind, and a message naming `names`.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, kind: &str, names: &str) {
    let (s, v) = got;
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(v["kind"], kind, "{v}");
    let msg = v["error"].as_str().unwrap_or_else(|| panic!("no error message: {v}"));
    assert!(msg.contains(names), "error {msg:?} does not name {names:?}");
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The next text frame as JSON (pings skipped); panics on anything else.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let f = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("frame");
        match f {
            Frame::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON frame"),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next frame, whatever it is (None when the stream ended or failed).
pub async fn next_frame(ws: &mut Ws) -> Option<Frame> {
    match tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("a frame in time")
    {
        Some(Ok(f)) => Some(f),
        _ => None,
    }
}

pub async fn send_json(ws: &mut Ws, v: Value) {
    ws.send(Frame::Text(v.to_string().into())).await.expect("ws send");
}

/// Sends raw bytes on a fresh connection and reads to EOF: the status
/// code and the body after the headers.
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_response(&mut s).await
}

/// Reads one whole response (Content-Length framed, or to EOF).
pub async fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return (status, body);
            }
        }
        let n = tokio::time::timeout(DEADLINE, s.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(
            n > 0,
            "connection closed before a whole response: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Polls `f` until it is `Some`, up to [`DEADLINE`].
pub async fn poll<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < end, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A metric's labels.
pub type Labels = BTreeMap<String, String>;

/// Samples of a Prometheus text exposition: name -> labels -> value.
#[derive(Debug, Default)]
pub struct Metrics {
    pub samples: BTreeMap<String, Vec<(Labels, f64)>>,
    pub types: BTreeMap<String, String>,
}

impl Metrics {
    pub fn parse(text: &str) -> Self {
        let mut m = Metrics::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap();
                m.types.insert(name.to_owned(), ty.to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.strip_suffix('}').unwrap()),
                None => (series, ""),
            };
            let mut map = BTreeMap::new();
            for pair in labels.split(',').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap();
                map.insert(k.to_owned(), v.trim_matches('"').to_owned());
            }
            m.samples.entry(name.to_owned()).or_default().push((map, value));
        }
        m
    }

    /// The value of `name` with exactly these labels (0 when absent).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples
            .get(name)
            .and_then(|rows| rows.iter().find(|(l, _)| *l == want))
            .map_or(0.0, |(_, v)| *v)
    }

    /// The sum of `name` over every label set.
    pub fn sum(&self, name: &str) -> f64 {
        self.samples
            .get(name)
            .map_or(0.0, |rows| rows.iter().map(|(_, v)| v).sum())
    }
}
