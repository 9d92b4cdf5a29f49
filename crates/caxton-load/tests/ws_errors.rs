//! WebSocket failure handling against small in-process servers: `error`
//! frames are counted by kind, a session the server closes counts its
//! unanswered requests as `closed` and is not stable; counts add up and
//! the run ends.

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use caxton_load::target::Target;
use caxton_load::{LoadConfig, Mode};

/// Serves `/v1/ws` with `session` on a free loopback port.
async fn serve<F, Fut>(session: F) -> std::net::SocketAddr
where
    F: Fn(WebSocket) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let app = Router::new().route(
        "/v1/ws",
        get(move |ws: WebSocketUpgrade| {
            let session = session.clone();
            async move { ws.on_upgrade(session) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn config(addr: std::net::SocketAddr, sessions: usize) -> LoadConfig {
    let url = format!("ws://{addr}/v1/ws?to=name:echo-0");
    let mut cfg = LoadConfig::new(Mode::Ws, Target::parse(&url, Mode::Ws, false).unwrap());
    cfg.rate = 200;
    cfg.sessions = sessions;
    cfg.duration = Duration::from_millis(500);
    cfg.warmup = Duration::ZERO;
    cfg.timeout = Duration::from_secs(1);
    cfg
}

/// Echoes even refs, answers odd refs with an `error` frame.
async fn half_errors(mut socket: WebSocket) {
    let welcome = r#"{"type":"welcome","session":{"id":1,"name":"session-0"}}"#;
    if socket.send(Message::Text(welcome.into())).await.is_err() {
        return;
    }
    while let Some(Ok(msg)) = socket.recv().await {
        let Message::Binary(b) = msg else { continue };
        let r = u64::from_le_bytes(b[..8].try_into().unwrap());
        let reply = if r % 2 == 0 {
            Message::Binary(b)
        } else {
            let e = format!(r#"{{"type":"error","ref":{r},"status":504,"kind":"timeout","error":"no reply"}}"#);
            Message::Text(e.into())
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// Answers three requests, then closes the session.
async fn closes_after_three(mut socket: WebSocket) {
    let welcome = r#"{"type":"welcome","session":{"id":1,"name":"session-0"}}"#;
    if socket.send(Message::Text(welcome.into())).await.is_err() {
        return;
    }
    let mut answered = 0;
    while let Some(Ok(msg)) = socket.recv().await {
        let Message::Binary(b) = msg else { continue };
        if answered == 3 {
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
        answered += 1;
        if socket.send(Message::Binary(b)).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_frames_are_counted_by_kind() {
    let addr = serve(half_errors).await;
    let s = caxton_load::run(&config(addr, 1)).await.unwrap();
    assert_eq!(s.sent, 100);
    assert_eq!(s.sent, s.ok + s.errors, "{:?}", s.errors_by_kind);
    assert_eq!(s.ok, 50);
    assert_eq!(
        s.errors_by_kind.get("server_timeout"),
        Some(&50),
        "{:?}",
        s.errors_by_kind
    );
    assert_eq!(s.ws_sessions.unwrap().open_at_end, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_the_server_closes_count_as_closed_and_unstable() {
    let addr = serve(closes_after_three).await;
    let s = caxton_load::run(&config(addr, 2)).await.unwrap();
    assert_eq!(s.sent, 100);
    assert_eq!(s.sent, s.ok + s.errors, "{:?}", s.errors_by_kind);
    assert_eq!(s.ok, 6);
    assert_eq!(s.errors_by_kind.get("closed"), Some(&94), "{:?}", s.errors_by_kind);
    let sessions = s.ws_sessions.unwrap();
    assert_eq!(sessions.opened, 2);
    assert_eq!(sessions.open_at_end, 0);
    assert_eq!(sessions.stability_pct(), 0.0);

    // Closed loop: the same, and the run still ends.
    let mut cfg = config(addr, 2);
    cfg.rate = 0;
    let s = caxton_load::run(&cfg).await.unwrap();
    assert_eq!(s.sent, s.ok + s.errors, "{:?}", s.errors_by_kind);
    assert_eq!(s.ok, 6);
    assert_eq!(s.ws_sessions.unwrap().open_at_end, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_welcome_fails_to_open_sessions() {
    let addr = serve(|mut socket: WebSocket| async move {
        let _ = socket.send(Message::Text(r#"{"type":"hello"}"#.into())).await;
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
    let e = caxton_load::run(&config(addr, 3)).await.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("not a welcome"), "{e}");
}
