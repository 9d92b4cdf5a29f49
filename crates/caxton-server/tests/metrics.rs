//! `/metrics` parsed after known traffic, and the accounting: every
//! message a mailbox accepted is handled (or, at shutdown, a dead letter).

mod common;

use common::{TestServer, config, next_json, poll};
use reqwest::StatusCode;
use serde_json::json;

const N: usize = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_after_known_traffic() {
    let srv = TestServer::start(config()).await;
    let before = srv.metrics().await;
    assert_eq!(before.sum("caxton_messages_routed_total"), 0.0);
    assert_eq!(before.get("caxton_messages_handled_total", &[]), 0.0);
    let echo = srv.spawn_echo("echo-0").await;
    srv.spawn_echo("echo-1").await;
    srv.spawn(json!({"kind": "sink"})).await;
    for i in 0..N {
        let (s, _) = srv
            .post("/v1/requests", json!({"to": {"id": echo}, "payload": format!("{i}")}))
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _) = srv.post("/v1/requests", json!({"to": {"id": 9999}})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = srv.get("/no/such/route").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for _ in 0..3 {
        let r = srv
            .post_raw("/v1/raw/request/name:echo-1", "application/octet-stream", b"r".to_vec())
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    let m = srv.metrics().await;
    assert_eq!(m.get("caxton_messages_routed_total", &[("route", "request")]), N as f64);
    assert_eq!(m.get("caxton_messages_routed_total", &[("route", "raw_request")]), 3.0);
    assert_eq!(
        m.get("caxton_request_duration_seconds_count", &[("route", "request")]),
        N as f64
    );
    for t in [
        "caxton_request_duration_seconds",
        "caxton_http_request_duration_seconds",
        "caxton_mailbox_depth",
    ] {
        assert_eq!(m.types.get(t).map(String::as_str), Some("histogram"), "{t}");
    }
    for t in [
        "caxton_messages_routed_total",
        "caxton_http_requests_total",
        "caxton_messages_handled_total",
        "caxton_dead_letters_total",
        "caxton_agent_restarts_total",
    ] {
        assert_eq!(m.types.get(t).map(String::as_str), Some("counter"), "{t}");
    }
    for t in ["caxton_agents", "caxton_websocket_sessions", "caxton_http_connections"] {
        assert_eq!(m.types.get(t).map(String::as_str), Some("gauge"), "{t}");
    }
    // Histograms have their buckets, sum and count.
    let buckets = &m.samples["caxton_request_duration_seconds_bucket"];
    assert!(
        buckets
            .iter()
            .any(|(l, v)| l.get("le").map(String::as_str) == Some("+Inf") && *v == N as f64)
    );
    assert!(m.get("caxton_request_duration_seconds_sum", &[("route", "request")]) > 0.0);
    let http = |route: &str, method: &str, status: &str| {
        m.get(
            "caxton_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(http("/v1/requests", "POST", "200"), N as f64);
    assert_eq!(http("/v1/requests", "POST", "404"), 1.0);
    assert_eq!(http("/v1/agents", "POST", "201"), 3.0);
    assert_eq!(
        http("/v1/raw/request/{to}", "POST", "200"),
        3.0,
        "by route pattern, not path"
    );
    assert_eq!(http("unmatched", "GET", "404"), 1.0);
    assert_eq!(http("/metrics", "GET", "200"), 1.0, "the first scrape");
    assert_eq!(
        m.get(
            "caxton_http_request_duration_seconds_count",
            &[("route", "/v1/requests"), ("method", "POST")]
        ),
        N as f64 + 1.0
    );
    assert_eq!(m.get("caxton_agents", &[("kind", "echo"), ("status", "running")]), 2.0);
    assert_eq!(m.get("caxton_agents", &[("kind", "sink"), ("status", "running")]), 1.0);
    assert_eq!(
        m.get("caxton_mailbox_depth_count", &[]),
        3.0,
        "one observation per live agent"
    );
    // The echoes handled every request (a reply is published after the
    // handler returns, so poll).
    poll("handled to catch up", || async {
        (srv.metrics().await.get("caxton_messages_handled_total", &[]) == (N + 3) as f64).then_some(())
    })
    .await;
    assert_eq!(m.get("caxton_dead_letters_total", &[("reason", "unknown_agent")]), 1.0);

    // A failed send moves the dead letters by reason.
    let (s, _) = srv.post("/v1/messages", json!({"to": {"name": "gone"}})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A `request` sent (not requested) over HTTP has no one to answer.
    let (s, _) = srv
        .post("/v1/messages", json!({"to": {"id": echo}, "performative": "request"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let m = poll("dead letters to move", || async {
        let m = srv.metrics().await;
        (m.get("caxton_dead_letters_total", &[("reason", "no_reply_target")]) == 1.0).then_some(m)
    })
    .await;
    assert_eq!(m.get("caxton_dead_letters_total", &[("reason", "unknown_agent")]), 2.0);
    assert_eq!(m.get("caxton_messages_routed_total", &[("route", "send")]), 1.0);

    // WebSocket sessions: the gauge, and ws routes.
    let mut ws = srv.ws("").await;
    next_json(&mut ws).await;
    let m = srv.metrics().await;
    assert_eq!(m.get("caxton_websocket_sessions", &[]), 1.0);
    assert_eq!(
        m.get("caxton_agents", &[("kind", "session"), ("status", "running")]),
        1.0
    );
    common::send_json(&mut ws, json!({"op": "request", "to": {"id": echo}, "payload": "w"})).await;
    assert_eq!(next_json(&mut ws).await["payload"], "w");
    let m = srv.metrics().await;
    assert_eq!(m.get("caxton_messages_routed_total", &[("route", "ws_request")]), 1.0);
    drop(ws);
    poll("the session gauge to drop", || async {
        (srv.metrics().await.get("caxton_websocket_sessions", &[]) == 0.0).then_some(())
    })
    .await;
    srv.stop().await;
}

/// After a mixed run every message a mailbox accepted was handled: the
/// orchestrator's handled total equals the front door's routed total, and
/// every refused message is a dead letter of its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_message_is_handled_or_a_dead_letter() {
    let srv = TestServer::start(config()).await;
    let module = srv.upload_misbehave().await;
    let echo = srv.spawn_echo("echo").await;
    let (s, v) = srv
        .post(
            "/v1/agents",
            json!({"kind": "counter", "name": "c", "capabilities": ["g"], "count": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    srv.spawn(json!({"kind": "sink", "name": "sink", "capabilities": ["g"]}))
        .await;
    srv.spawn(json!({"kind": "wasm", "module": module, "name": "guest"}))
        .await;
    let mut refused = 0u64;
    for i in 0..40u64 {
        let (path, body) = match i % 8 {
            0 => ("/v1/messages", json!({"to": {"name": "c-0"}})),
            1 => ("/v1/requests", json!({"to": {"id": echo}})),
            2 => ("/v1/broadcast", json!({"capability": "g"})),
            3 => ("/v1/messages", json!({"to": {"id": 4242}})),
            4 => ("/v1/requests", json!({"to": {"name": "guest"}, "payload": "fail"})),
            5 => (
                "/v1/requests",
                json!({"to": {"name": "guest"}, "payload": "unreachable"}),
            ),
            6 => ("/v1/messages", json!({"to": {"capability": "nobody"}})),
            _ => ("/v1/requests", json!({"to": {"name": "guest"}, "payload": "hi"})),
        };
        let (s, v) = srv.post(path, body).await;
        if s == StatusCode::NOT_FOUND {
            refused += 1;
        } else {
            assert!(s.is_success() || s == StatusCode::BAD_GATEWAY, "{path}: {s} {v}");
        }
        let r = srv
            .post_raw("/v1/raw/send/name:sink", "application/octet-stream", vec![i as u8])
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(refused, 10);
    let m = poll("every accepted message to be handled", || async {
        let m = srv.metrics().await;
        (m.get("caxton_messages_handled_total", &[]) == m.sum("caxton_messages_routed_total")).then_some(m)
    })
    .await;
    // 5 x (send, request, 3 broadcast copies, 3 guest requests) + 40 raw.
    assert_eq!(m.sum("caxton_messages_routed_total"), (5 * 8 + 40) as f64);
    assert_eq!(srv.state.orch.messages_handled_total(), (5 * 8 + 40) as u64);
    let dl = |reason| m.get("caxton_dead_letters_total", &[("reason", reason)]);
    assert_eq!(dl("unknown_agent"), 5.0);
    assert_eq!(dl("no_capable_agent"), 5.0);
    assert_eq!(dl("handler_error"), 5.0, "the guest's `fail`s");
    assert_eq!(dl("fault"), 5.0, "the guest's traps");
    assert_eq!(m.get("caxton_agent_restarts_total", &[]), 5.0);
    let report = srv.stop().await;
    assert!(report.undelivered.is_empty());
    assert_eq!(report.in_progress, 0);
}
