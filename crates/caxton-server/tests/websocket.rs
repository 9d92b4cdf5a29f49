//! WebSocket sessions over a real client (tokio-tungstenite): the welcome,
//! request/reply in JSON and binary, a message an agent sends to the
//! session, error frames, the close codes, and the bounded buffers.

mod common;

use std::time::Duration;

use common::{ServerConfig, TestServer, Ws, config, next_frame, next_json, poll, send_json};
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// The close code the server ends the session with.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match next_frame(ws).await? {
            Frame::Close(Some(c)) => return Some(c.code.into()),
            Frame::Close(None) => return None,
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_sends_requests_and_receives_messages() {
    let srv = TestServer::start(config()).await;
    let echo = srv.spawn_echo("echo").await;
    srv.spawn(json!({"kind": "sink", "name": "s", "capabilities": ["search"]}))
        .await;
    let mut ws = srv.ws("?to=name:echo").await;

    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    let session = welcome["session"]["id"].as_u64().unwrap();
    let name = welcome["session"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("session-"), "{welcome}");
    // The session is an agent of kind "session".
    let (s, v) = srv.get(&format!("/v1/agents/{name}")).await;
    assert_eq!(
        (s, v["id"].as_u64(), v["kind"].as_str()),
        (StatusCode::OK, Some(session), Some("session"))
    );

    // Request/reply, text and base64.
    send_json(
        &mut ws,
        json!({"op": "request", "ref": 2, "to": {"id": echo}, "payload": "hi", "timeout_ms": 5000}),
    )
    .await;
    let r = next_json(&mut ws).await;
    assert_eq!((r["type"].as_str(), r["ref"].as_u64()), (Some("reply"), Some(2)), "{r}");
    assert_eq!(
        (r["payload"].as_str(), r["from"]["id"].as_u64()),
        (Some("hi"), Some(echo))
    );
    send_json(
        &mut ws,
        json!({"op": "request", "ref": 3, "to": {"name": "echo"}, "payload": {"base64": "AAE="}}),
    )
    .await;
    let r = next_json(&mut ws).await;
    assert_eq!(
        (r["ref"].as_u64(), &r["payload"]),
        (Some(3), &json!({"base64": "AAE="})),
        "{r}"
    );

    // `type` is accepted for `op`.
    send_json(
        &mut ws,
        json!({"type": "request", "ref": 4, "to": {"name": "echo"}, "payload": "typed"}),
    )
    .await;
    let r = next_json(&mut ws).await;
    assert_eq!(
        (r["type"].as_str(), r["ref"].as_u64(), r["payload"].as_str()),
        (Some("reply"), Some(4), Some("typed")),
        "{r}"
    );

    // Binary: 8-byte little-endian ref, then the payload, to the session's target.
    let mut frame = 77u64.to_le_bytes().to_vec();
    frame.extend_from_slice(&[0, 1, 2, 255]);
    ws.send(Frame::Binary(frame.clone().into())).await.unwrap();
    match next_frame(&mut ws).await.unwrap() {
        Frame::Binary(b) => assert_eq!(b.as_ref(), &frame[..]),
        other => panic!("expected a binary reply, got {other:?}"),
    }

    // A send with performative `request` to the echo: the echo answers
    // the session, and the client receives the agent's message.
    send_json(
        &mut ws,
        json!({"op": "send", "ref": 4, "to": {"name": "echo"}, "performative": "request", "payload": "ping"}),
    )
    .await;
    let a = next_json(&mut ws).await;
    assert_eq!(
        (a["type"].as_str(), a["ref"].as_u64()),
        (Some("accepted"), Some(4)),
        "{a}"
    );
    let m = next_json(&mut ws).await;
    assert_eq!(m["type"], "message", "{m}");
    assert_eq!(m["from"]["id"], echo);
    assert_eq!(
        (m["performative"].as_str(), m["payload"].as_str()),
        (Some("inform"), Some("ping"))
    );

    // An agent reached over HTTP can send to the session too.
    let (s, v) = srv
        .post(
            "/v1/messages",
            json!({"to": {"name": name}, "performative": "propose", "payload": "from http"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let m = next_json(&mut ws).await;
    assert_eq!(
        (m["type"].as_str(), m["performative"].as_str(), m["payload"].as_str()),
        (Some("message"), Some("propose"), Some("from http")),
        "{m}"
    );

    // Broadcast.
    send_json(
        &mut ws,
        json!({"op": "broadcast", "ref": 5, "capability": "search", "payload": "q"}),
    )
    .await;
    let b = next_json(&mut ws).await;
    assert_eq!(
        (
            b["type"].as_str(),
            b["ref"].as_u64(),
            b["delivered"].as_array().map(Vec::len)
        ),
        (Some("broadcast"), Some(5), Some(1)),
        "{b}"
    );

    // Errors are frames, and the session goes on.
    send_json(&mut ws, json!({"op": "request", "ref": 6, "to": {"name": "nobody"}})).await;
    let e = next_json(&mut ws).await;
    assert_eq!(
        (
            e["type"].as_str(),
            e["ref"].as_u64(),
            e["status"].as_u64(),
            e["kind"].as_str()
        ),
        (Some("error"), Some(6), Some(404), Some("unknown_agent")),
        "{e}"
    );
    assert!(e["error"].as_str().unwrap().contains("nobody"), "{e}");
    ws.send(Frame::Text("{not json".into())).await.unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!(
        (e["status"].as_u64(), e["kind"].as_str()),
        (Some(400), Some("invalid_json")),
        "{e}"
    );
    send_json(
        &mut ws,
        json!({"op": "send", "ref": 7, "to": {"name": "echo"}, "performative": "shout"}),
    )
    .await;
    let e = next_json(&mut ws).await;
    assert_eq!(
        (e["ref"].as_u64(), e["kind"].as_str()),
        (Some(7), Some("invalid_performative")),
        "{e}"
    );
    send_json(
        &mut ws,
        json!({"op": "request", "ref": 8, "to": {"name": "echo"}, "timeout_ms": 0}),
    )
    .await;
    let e = next_json(&mut ws).await;
    assert_eq!((e["ref"].as_u64(), e["status"].as_u64()), (Some(8), Some(400)), "{e}");
    ws.send(Frame::Binary(vec![1, 2, 3].into())).await.unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!(
        (e["status"].as_u64(), e["kind"].as_str()),
        (Some(400), Some("bad_request")),
        "{e}"
    );
    assert!(e["error"].as_str().unwrap().contains("8-byte ref"), "{e}");
    send_json(
        &mut ws,
        json!({"op": "request", "ref": 9, "to": {"id": echo}, "payload": "after errors"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["payload"], "after errors");

    // Closing ends the session and stops its agent.
    ws.close(None).await.unwrap();
    poll("the session's agent to stop", || async {
        (srv.get(&format!("/v1/agents/{session}")).await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn binary_frames_need_a_target() {
    let srv = TestServer::start(config()).await;
    let mut ws = srv.ws("").await;
    next_json(&mut ws).await;
    ws.send(Frame::Binary(5u64.to_le_bytes().to_vec().into()))
        .await
        .unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!(
        (e["ref"].as_u64(), e["kind"].as_str()),
        (Some(5), Some("invalid_address")),
        "{e}"
    );
    // A bad target in the upgrade's query is refused before upgrading.
    let r = srv.http.get(srv.url("/v1/ws?to=nick:x")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A plain GET (no upgrade) is 400 naming it.
    let r = srv.http.get(srv.url("/v1/ws")).send().await.unwrap();
    let (s, v) = common::answer(r).await;
    assert_eq!(
        (s, v["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("not_websocket")),
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let srv = TestServer::start(config()).await;
    srv.spawn_echo("echo").await;
    let mut bad = srv.ws("").await;
    let mut good = srv.ws("").await;
    next_json(&mut bad).await;
    next_json(&mut good).await;
    let frame = RawFrame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    bad.send(Frame::Frame(frame)).await.unwrap();
    assert_eq!(close_code(&mut bad).await, Some(1007));
    // The other session is unaffected.
    send_json(
        &mut good,
        json!({"op": "request", "ref": 1, "to": {"name": "echo"}, "payload": "ok"}),
    )
    .await;
    assert_eq!(next_json(&mut good).await["payload"], "ok");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frame_over_the_limit_closes_with_1009() {
    let srv = TestServer::start(ServerConfig {
        max_body_bytes: 1024,
        ..config()
    })
    .await;
    let mut ws = srv.ws("?to=1").await;
    next_json(&mut ws).await;
    ws.send(Frame::Binary(vec![0u8; 4096].into())).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1009));
    srv.stop().await;
}

/// A client that sends many requests and never reads: the server's
/// buffers for it stay bounded, it is closed (1008 when the close frame
/// gets through), and another client keeps getting answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_client_that_never_reads_is_shed() {
    let srv = TestServer::start(ServerConfig {
        ws_outbox_frames: 8,
        ws_max_in_flight: 4,
        ws_write_timeout: Duration::from_millis(500),
        ..config()
    })
    .await;
    srv.spawn_echo("echo").await;
    let mut good = srv.ws("").await;
    next_json(&mut good).await;
    let flood = srv.ws("").await;
    let (mut tx, mut rx) = flood.split();
    // Each `send` makes the echo answer the session with 64 KiB.
    const FRAMES: usize = 4000;
    let payload = "z".repeat(64 * 1024);
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        for i in 0..FRAMES {
            let op =
                json!({"op": "send", "ref": i, "to": {"name": "echo"}, "performative": "request", "payload": payload});
            if tx.send(Frame::Text(op.to_string().into())).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    // The server gives up on the flooding session: its gauge drops back to
    // the one good session, with the flooder still never having read.
    poll("the flooding session to be shed", || async {
        (srv.state.metrics.ws_sessions.get() == 1).then_some(())
    })
    .await;
    // The writer stops: the server closed the connection.
    let sent = tokio::time::timeout(common::DEADLINE, writer)
        .await
        .expect("the writer is cut off")
        .unwrap();
    assert!(
        sent < FRAMES,
        "the server read all {FRAMES} frames from a client that never read"
    );
    // The good client is unaffected.
    send_json(
        &mut good,
        json!({"op": "request", "ref": 1, "to": {"name": "echo"}, "payload": "ok"}),
    )
    .await;
    assert_eq!(next_json(&mut good).await["payload"], "ok");
    // What the flooder gets when it finally reads: fewer answers than it
    // asked for, and the close (1008) if it got through before the reset.
    let mut answers = 0usize;
    let mut code = None;
    while let Ok(Some(Ok(f))) = tokio::time::timeout(common::DEADLINE, rx.next()).await {
        match f {
            Frame::Text(_) => answers += 1,
            Frame::Close(c) => {
                code = c.map(|c| u16::from(c.code));
                break;
            }
            _ => {}
        }
    }
    assert!(answers < 2 * sent, "{answers} frames for {sent} sends");
    assert!(code.is_none() || code == Some(1008), "closed with {code:?}");
    // Every send the server accepted was handled by the echo.
    let routed = srv
        .metrics()
        .await
        .get("caxton_messages_routed_total", &[("route", "ws_send")]);
    assert!(routed >= 1.0 && routed <= sent as f64, "{routed} routed of {sent}");
    poll("the echo to handle every accepted send", || async {
        let m = srv.metrics().await;
        (m.sum("caxton_messages_handled_total") >= routed).then_some(())
    })
    .await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn draining_closes_sessions_with_1001() {
    let mut srv = TestServer::start(config()).await;
    let mut ws = srv.ws("").await;
    next_json(&mut ws).await;
    srv.begin_shutdown();
    assert_eq!(close_code(&mut ws).await, Some(1001));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_over_the_maximum_get_503() {
    let srv = TestServer::start(ServerConfig {
        max_sessions: 1,
        ..config()
    })
    .await;
    let mut first = srv.ws("").await;
    next_json(&mut first).await;
    let url = format!("ws://{}/v1/ws", srv.addr);
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 503);
            let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).to_string();
            assert!(
                body.contains("too_many_sessions") && body.contains("limit of 1 open WebSocket sessions"),
                "{body}"
            );
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // The open session is unaffected; once it closes, a new one opens.
    first.close(None).await.unwrap();
    poll("the session slot to free", || async {
        (srv.state.metrics.ws_sessions.get() == 0).then_some(())
    })
    .await;
    let mut again = srv.ws("").await;
    assert_eq!(next_json(&mut again).await["type"], "welcome");
    srv.stop().await;
}
