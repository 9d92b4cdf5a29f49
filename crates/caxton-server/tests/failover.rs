//! A node killed with SIGKILL under load: the survivor restarts its agents
//! from their last checkpoints, and no message JetStream acknowledged to a
//! durable agent is lost or handled twice. Real processes: a nats-server
//! and a `caxton-server` node started by the test (killed by PID on drop,
//! also when the test fails), and an in-process front door as the survivor.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use caxton_cluster::Node;
use caxton_cluster::testing::NatsServer;
use caxton_runtime::OrchestratorConfig;
use caxton_server::AppState;
use common::{TestServer, config, poll};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `caxton-server` as node `name` of `lattice`; its address.
fn node_process(nats: &NatsServer, lattice: &str, name: &str) -> (Proc, String) {
    let mut child = Proc(
        Command::new(env!("CARGO_BIN_EXE_caxton-server"))
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(["--cluster", &nats.url(), "--node", name, "--lattice", lattice])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start caxton-server"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .trim()
        .to_owned();
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});
    (child, addr)
}

async fn survivor(nats: &NatsServer, lattice: &str) -> TestServer {
    let node = Node::connect(&nats.url(), lattice, "a", OrchestratorConfig::default())
        .await
        .expect("join the lattice");
    let mut c = config();
    c.cluster = Some(nats.url());
    c.node = Some("a".into());
    c.lattice = lattice.to_owned();
    TestServer::start_state(AppState::with_node(node, c, None), None).await
}

/// The count of counter agent `id`, asked through `base` (None while no
/// node answers for it).
async fn count(http: &reqwest::Client, base: &str, id: u64) -> Option<u64> {
    let r = http
        .post(format!("http://{base}/v1/raw/request/{id}"))
        .header("content-type", "application/octet-stream")
        .body("count")
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::OK {
        return None;
    }
    let bytes = r.bytes().await.ok()?;
    Some(u64::from_le_bytes(bytes.as_ref().try_into().ok()?))
}

async fn spawn(http: &reqwest::Client, base: &str, body: Value) -> u64 {
    let r = http
        .post(format!("http://{base}/v1/agents"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_message_and_restarts_from_checkpoints() {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let a = survivor(&nats, "f1").await;
    let (mut b, b_addr) = node_process(&nats, "f1", "b");
    let http = reqwest::Client::new();

    // On B: a durable counter, and a plain one checkpointed every 10 messages.
    let durable = spawn(
        &http,
        &b_addr,
        json!({ "kind": "counter", "name": "ledger", "durable": true }),
    )
    .await;
    let plain = spawn(
        &http,
        &b_addr,
        json!({ "kind": "counter", "name": "tally", "checkpoint_every": 10 }),
    )
    .await;
    for i in 0..25 {
        let r = http
            .post(format!("http://{b_addr}/v1/messages"))
            .json(&json!({ "to": { "id": plain }, "payload": format!("t{i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(
        poll("tally to count 25", || async {
            count(&http, &b_addr, plain).await.filter(|&c| c == 25)
        })
        .await,
        25
    );
    // Let the checkpoint at 20 reach the bucket.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Load on the durable counter through A (the node that survives),
    // from two senders; B is killed with SIGKILL in the middle of it.
    let acked = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for s in 0..2 {
        let (acked, refused, stop, http, url) = (
            acked.clone(),
            refused.clone(),
            stop.clone(),
            http.clone(),
            a.url("/v1/messages"),
        );
        senders.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = http
                    .post(&url)
                    .json(&json!({ "to": { "name": "ledger" }, "payload": format!("{s}-{i}") }))
                    .send()
                    .await;
                match r.map(|r| r.status()) {
                    Ok(StatusCode::ACCEPTED) => acked.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
                i += 1;
            }
        }));
    }
    poll("200 acknowledged sends", || async {
        (acked.load(Ordering::Relaxed) >= 200).then_some(())
    })
    .await;
    // SAFETY: kill(2) on our own child's PID.
    assert_eq!(unsafe { libc::kill(b.0.id() as libc::pid_t, libc::SIGKILL) }, 0);
    let _ = b.0.wait();
    let at_kill = acked.load(Ordering::Relaxed);
    poll("200 more acknowledged sends", || async {
        (acked.load(Ordering::Relaxed) >= at_kill + 200).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.load(Ordering::Relaxed);

    // A restarted both agents under their ids: the plain counter from its
    // last checkpoint (20: the 5 messages after it died with B), the
    // durable one with every acknowledged message exactly once.
    let a_addr = a.addr.to_string();
    let plain_after = poll("tally restarted on A", || count(&http, &a_addr, plain)).await;
    assert_eq!(plain_after, 20);
    let final_count = poll("ledger to catch up", || async {
        let c = count(&http, &a_addr, durable).await?;
        (c >= acked).then_some(c)
    })
    .await;
    assert_eq!(
        final_count, acked,
        "every acknowledged message handled once ({acked} acknowledged)"
    );
    // And it stays there: nothing is handled twice later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&http, &a_addr, durable).await, Some(acked));
    let node = a.state.node.as_ref().unwrap();
    let f = node.failover_counters();
    assert_eq!(f.adopted, 2, "{f:?}");
    assert_eq!(f.adoption_failures, 0, "{f:?}");
    let metrics = http.get(a.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("caxton_cluster_agents_adopted_total 2"), "{metrics}");
    a.stop().await;
}
