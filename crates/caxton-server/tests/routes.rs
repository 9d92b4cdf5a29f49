//! Every route of docs/server-api.md over real HTTP, and every status code
//! of its table: each answer's status, kind, and a message that names the
//! problem.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{TestServer, answer, assert_error, config, poll};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers() {
    let srv = TestServer::start(config()).await;

    let (s, v) = srv.get("/healthz").await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "ok"})));
    let (s, v) = srv.get("/readyz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ready");

    // Agents: spawn one, a batch, list, page, get by id and name.
    let echo = srv.spawn_echo("echo").await;
    let (s, v) = srv
        .post(
            "/v1/agents",
            json!({"kind": "counter", "name": "c", "count": 3, "capabilities": ["count"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ids: Vec<u64> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let sink = srv.spawn(json!({"kind": "sink", "capabilities": ["search"]})).await;
    let (s, v) = srv.get("/v1/agents").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["agents"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["next"], serde_json::Value::Null);
    let (s, v) = srv.get("/v1/agents?limit=2").await;
    assert_eq!(s, StatusCode::OK);
    let page: Vec<u64> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    assert_eq!(page.len(), 2);
    let next = v["next"].as_u64().expect("a next page");
    assert_eq!(next, page[1]);
    let (_, v) = srv.get(&format!("/v1/agents?limit=10&after={next}")).await;
    assert_eq!(v["agents"].as_array().unwrap().len(), 3, "{v}");
    let (s, v) = srv.get(&format!("/v1/agents/{echo}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["name"].as_str(), v["kind"].as_str(), v["status"].as_str()),
        (Some("echo"), Some("echo"), Some("running"))
    );
    let (s, v) = srv.get("/v1/agents/c-1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((v["id"].as_u64(), v["kind"].as_str()), (Some(ids[1]), Some("counter")));

    // Messages: send, request (text and base64), broadcast.
    let (s, v) = srv
        .post("/v1/messages", json!({"to": {"name": "c-0"}, "payload": "x"}))
        .await;
    assert_eq!((s, v), (StatusCode::ACCEPTED, json!({"accepted": true})));
    let (s, v) = srv
        .post("/v1/requests", json!({"to": {"id": echo}, "payload": "hello"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["payload"], "hello");
    assert_eq!(v["performative"], "inform");
    assert_eq!(v["from"]["id"], echo);
    let (s, v) = srv
        .post(
            "/v1/requests",
            json!({"to": {"name": "echo"}, "performative": "query", "payload": {"base64": "AP8="}, "timeout_ms": 5000}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["payload"], json!({"base64": "AP8="}));
    let (s, v) = srv
        .post(
            "/v1/requests",
            json!({"to": {"capability": "count"}, "payload": "count"}),
        )
        .await;
    // A counter answers "count" with its count: a capability resolved to one agent.
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(ids.contains(&v["from"]["id"].as_u64().unwrap()), "{v}");
    let (s, v) = srv
        .post("/v1/broadcast", json!({"capability": "count", "payload": "tick"}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let mut delivered: Vec<u64> = v["delivered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    delivered.sort_unstable();
    assert_eq!(delivered, ids);
    assert_eq!(v["failed"], json!([]));

    // Raw routes.
    let r = srv
        .post_raw(
            &format!("/v1/raw/send/id:{sink}"),
            "application/octet-stream",
            vec![1, 2, 3],
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = srv
        .http
        .post(srv.url("/v1/raw/request/name:echo"))
        .header("content-type", "application/octet-stream")
        .header("caxton-performative", "query")
        .header("caxton-timeout-ms", "5000")
        .body(vec![0u8, 159, 146, 150])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["caxton-from"].to_str().unwrap(), echo.to_string());
    assert_eq!(r.headers()["caxton-performative"], "inform");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[0u8, 159, 146, 150]);

    // Modules: upload (twice: same id), list, spawn a guest and talk to it.
    let module = srv.upload_misbehave().await;
    assert_eq!(module.len(), 64);
    assert_eq!(srv.upload_misbehave().await, module);
    let (s, v) = srv.get("/v1/modules").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["modules"], json!([module]));
    let guest = srv
        .spawn(json!({"kind": "wasm", "module": module, "name": "guest"}))
        .await;
    let (s, v) = srv
        .post("/v1/requests", json!({"to": {"id": guest}, "payload": "hello"}))
        .await;
    assert_eq!((s, &v["payload"]), (StatusCode::OK, &json!("ok")), "{v}");
    let (_, v) = srv.get("/v1/agents/guest").await;
    assert_eq!(v["kind"], "wasm");

    // Stop by id and by name; they are gone.
    let (s, v) = srv.delete(&format!("/v1/agents/{sink}")).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"id": sink, "status": "stopped"})));
    let (s, v) = srv.delete("/v1/agents/guest").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], guest);
    assert_error(
        &srv.get(&format!("/v1/agents/{sink}")).await,
        404,
        "unknown_agent",
        &sink.to_string(),
    );

    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_values_are_400_naming_the_problem() {
    let srv = TestServer::start(config()).await;
    srv.spawn_echo("echo").await;
    let post = |body: serde_json::Value| srv.post("/v1/requests", body);
    assert_error(
        &post(json!({"to": {"nick": "echo"}})).await,
        400,
        "invalid_json",
        "nick",
    );
    assert_error(&post(json!({"to": {"id": 0}})).await, 400, "invalid_address", "id 0");
    assert_error(
        &post(json!({"to": {"name": ""}})).await,
        400,
        "invalid_address",
        "empty agent name",
    );
    assert_error(
        &post(json!({"to": {"name": "echo"}, "performative": "shout"})).await,
        400,
        "invalid_performative",
        "shout",
    );
    assert_error(
        &post(json!({"to": {"name": "echo"}, "payload": {"base64": "!!"}})).await,
        400,
        "invalid_json",
        "base64",
    );
    assert_error(
        &post(json!({"to": {"name": "echo"}, "timeout_ms": 0})).await,
        400,
        "bad_request",
        "timeout_ms",
    );
    // One body shape for every route: a send ignores `timeout_ms`.
    let (s, v) = srv
        .post("/v1/messages", json!({"to": {"name": "echo"}, "timeout_ms": 5}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // A broadcast takes its capability as `capability` or as `to`, once.
    // (No agent here has it: the `to` form was read as a capability.)
    assert_error(
        &srv.post("/v1/broadcast", json!({"to": {"capability": "count"}, "payload": "x"}))
            .await,
        404,
        "no_capable_agent",
        "count",
    );
    assert_error(
        &srv.post("/v1/broadcast", json!({"to": {"name": "echo"}, "payload": "x"}))
            .await,
        400,
        "invalid_address",
        "capability",
    );
    assert_error(
        &srv.post("/v1/broadcast", json!({"payload": "x"})).await,
        400,
        "invalid_address",
        "capability",
    );
    // Paths and headers of the raw routes.
    let r = srv
        .post_raw("/v1/raw/send/nick:echo", "application/octet-stream", vec![])
        .await;
    assert_error(&answer(r).await, 400, "invalid_address", "nick:echo");
    let r = srv
        .http
        .post(srv.url("/v1/raw/request/name:echo"))
        .header("content-type", "application/octet-stream")
        .header("caxton-timeout-ms", "soon")
        .send()
        .await
        .unwrap();
    assert_error(&answer(r).await, 400, "bad_request", "caxton-timeout-ms");
    // Spawn values.
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "dragon"})).await,
        400,
        "bad_request",
        "dragon",
    );
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "echo", "count": 0})).await,
        400,
        "bad_request",
        "count",
    );
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "echo", "limits": {"fuel": 5}}))
            .await,
        400,
        "bad_request",
        "wasm",
    );
    assert_error(&srv.get("/v1/agents?limit=0").await, 400, "bad_request", "limit");
    assert_error(&srv.get("/v1/agents?color=red").await, 400, "bad_request", "color");
    // The echo still answers.
    let (s, _) = post(json!({"to": {"name": "echo"}, "payload": "x"})).await;
    assert_eq!(s, StatusCode::OK);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_found_method_conflict_and_limits() {
    let srv = TestServer::start(common::ServerConfig {
        max_agents: 3,
        ..config()
    })
    .await;
    srv.spawn_echo("echo").await;

    // 404: unknown agent by id and by name, on every route that addresses one.
    assert_error(&srv.get("/v1/agents/999").await, 404, "unknown_agent", "999");
    assert_error(&srv.get("/v1/agents/nobody").await, 404, "unknown_agent", "nobody");
    assert_error(&srv.delete("/v1/agents/nobody").await, 404, "unknown_agent", "nobody");
    assert_error(
        &srv.post("/v1/requests", json!({"to": {"id": 999}})).await,
        404,
        "unknown_agent",
        "999",
    );
    assert_error(
        &srv.post("/v1/messages", json!({"to": {"name": "nobody"}})).await,
        404,
        "unknown_agent",
        "nobody",
    );
    assert_error(
        &srv.post("/v1/requests", json!({"to": {"capability": "flying"}})).await,
        404,
        "no_capable_agent",
        "flying",
    );
    let r = srv
        .post_raw("/v1/raw/request/name:nobody", "application/octet-stream", vec![])
        .await;
    assert_error(&answer(r).await, 404, "unknown_agent", "nobody");
    // 404: unknown module, unknown route.
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "wasm", "module": "abc123"}))
            .await,
        404,
        "unknown_module",
        "abc123",
    );
    assert_error(&srv.get("/v2/nothing").await, 404, "not_found", "/v2/nothing");

    // 405.
    assert_error(
        &srv.get("/v1/messages").await,
        405,
        "method_not_allowed",
        "/v1/messages",
    );
    assert_error(&srv.delete("/v1/agents").await, 405, "method_not_allowed", "DELETE");

    // 409.
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "sink", "name": "echo"})).await,
        409,
        "duplicate_name",
        "echo",
    );

    // 507: the limit of 3 live agents (one echo live).
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "sink", "count": 3})).await,
        507,
        "agent_limit",
        "limit of 3",
    );
    let (s, v) = srv.post("/v1/agents", json!({"kind": "sink", "count": 2})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "sink"})).await,
        507,
        "agent_limit",
        "limit of 3",
    );
    // A refused spawn left nothing behind.
    let (_, v) = srv.get("/v1/agents").await;
    assert_eq!(v["agents"].as_array().unwrap().len(), 3);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn module_limit_is_507() {
    let srv = TestServer::start(common::ServerConfig {
        max_modules: 1,
        ..config()
    })
    .await;
    srv.upload_misbehave().await;
    let r = srv
        .post_raw("/v1/modules", "application/wasm", caxton_wasm::guests::ECHO.to_vec())
        .await;
    assert_error(&answer(r).await, 507, "module_limit", "1 modules");
    srv.stop().await;
}

/// A `misbehave` guest spinning on `loop` is busy: its one-slot mailbox
/// fills (429 with Retry-After), a request shorter than the spin times out
/// (504), and a trapping request is 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_and_failing_agents() {
    let srv = TestServer::start(config()).await;
    let module = srv.upload_misbehave().await;
    let spinner = srv.spawn_spinner(&module, "spinner", 1, 1500).await;

    // 504: the spin outlasts the timeout (the request was accepted).
    assert_error(
        &srv.post(
            "/v1/requests",
            json!({"to": {"id": spinner}, "payload": "loop", "timeout_ms": 50}),
        )
        .await,
        504,
        "timeout",
        "accepted",
    );
    // 429: the guest is in its handler; one more fits the mailbox, the
    // next does not. (If the guest has not yet taken `loop` out, the
    // first is already refused.)
    let mut refused = None;
    for _ in 0..2 {
        let r = srv
            .post_raw(
                "/v1/messages",
                "application/json",
                json!({"to": {"id": spinner}, "payload": "x"}).to_string().into_bytes(),
            )
            .await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["retry-after"], "1");
            refused = Some(answer(r).await);
            break;
        }
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let refused = refused.expect("a full mailbox refuses");
    assert_error(&refused, 429, "mailbox_full", "full");
    // The raw routes refuse the same way.
    let r = srv
        .post_raw(
            &format!("/v1/raw/send/{spinner}"),
            "application/octet-stream",
            b"y".to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");

    // 502: a trap on a request.
    let trapper = srv
        .spawn(json!({"kind": "wasm", "module": module, "name": "trapper"}))
        .await;
    assert_error(
        &srv.post("/v1/requests", json!({"to": {"id": trapper}, "payload": "unreachable"}))
            .await,
        502,
        "agent_failed",
        "failed to handle",
    );
    // The guest restarted and answers again.
    let (s, v) = srv
        .post("/v1/requests", json!({"to": {"id": trapper}, "payload": "hi"}))
        .await;
    assert_eq!((s, &v["payload"]), (StatusCode::OK, &json!("ok")), "{v}");
    // A restart policy from the spawn body: no restarts, so the first trap
    // fails the agent for good (404 afterwards).
    let fragile = srv
        .spawn(json!({"kind": "wasm", "module": module, "name": "fragile",
                      "restart": {"max_restarts": 0, "window_ms": 0}, "checkpoint_every": 10}))
        .await;
    let (s, _) = srv
        .post("/v1/requests", json!({"to": {"id": fragile}, "payload": "unreachable"}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    poll("the fragile agent to be gone", || async {
        (srv.get(&format!("/v1/agents/{fragile}")).await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "echo", "checkpoint_every": 0}))
            .await,
        400,
        "bad_request",
        "checkpoint_every",
    );
    assert_error(
        &srv.post("/v1/agents", json!({"kind": "echo", "restart": {"max_restarts": 1}}))
            .await,
        400,
        "invalid_json",
        "window_ms",
    );
    // The spinner's CPU limit ends the spin; it answers again.
    let (s, v) = poll("the spinner to recover", || async {
        let r = srv
            .post(
                "/v1/requests",
                json!({"to": {"id": spinner}, "payload": "hi", "timeout_ms": 20000}),
            )
            .await;
        (r.0 != StatusCode::TOO_MANY_REQUESTS).then_some(r)
    })
    .await;
    assert_eq!((s, &v["payload"]), (StatusCode::OK, &json!("ok")), "{v}");
    srv.stop().await;
}

fn token_file(token: &str, tag: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("caxton-server-test-token-{}-{tag}", std::process::id()));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_guards_mutating_routes_only() {
    let path = token_file("s3cret", "ok");
    let cfg = common::ServerConfig {
        token_file: Some(path.clone()),
        ..config()
    };
    let token = cfg.token().expect("token file");
    let _ = std::fs::remove_file(&path);
    assert_eq!(token.as_deref(), Some("s3cret"));
    let srv = TestServer::start_with_token(cfg, token).await;
    let anon = reqwest::Client::new();
    // Open: health, readiness, metrics, and reads.
    for path in ["/healthz", "/readyz", "/metrics", "/v1/agents", "/v1/modules"] {
        let r = anon.get(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    // Mutating: 401 without the token, and with a wrong one.
    let r = anon
        .post(srv.url("/v1/agents"))
        .header("content-type", "application/json")
        .body(r#"{"kind":"echo"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_error(&answer(r).await, 401, "unauthorized", "Authorization: Bearer");
    let r = anon
        .post(srv.url("/v1/agents"))
        .bearer_auth("s3cre")
        .header("content-type", "application/json")
        .body(r#"{"kind":"echo"}"#)
        .send()
        .await
        .unwrap();
    assert_error(&answer(r).await, 401, "unauthorized", "wrong");
    let r = anon.delete(srv.url("/v1/agents/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = anon.get(srv.url("/v1/ws")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{}/v1/ws", srv.addr))
            .await
            .is_err()
    );
    // With the token (srv's helpers send it): allowed.
    let echo = srv.spawn_echo("echo").await;
    let (s, _) = srv.post("/v1/requests", json!({"to": {"id": echo}})).await;
    assert_eq!(s, StatusCode::OK);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreadable_token_files_are_refused() {
    let path = token_file("s3cret", "open");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = common::ServerConfig {
        token_file: Some(path.clone()),
        ..config()
    };
    let e = cfg.token().unwrap_err().to_string();
    let _ = std::fs::remove_file(&path);
    assert!(e.contains("chmod 600"), "{e}");
}
