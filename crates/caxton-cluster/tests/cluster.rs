//! Two or three nodes on one real `nats-server` (started by the harness),
//! each with its own orchestrator, in one test process.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use caxton_cluster::testing::NatsServer;
use caxton_cluster::wire::{self, Frame};
use caxton_cluster::{ClusterError, Node, NodeError, NodeOptions, RemoteError, WIRE_VERSION};
use caxton_runtime::{
    Address, Agent, AgentError, AgentSpec, Context, DeadLetterKind, DeadLetterReason, Message, OrchestratorConfig,
    Performative,
};

const T: Duration = Duration::from_secs(10);

/// Replies with `<node>:<payload>`, so a test sees which node answered.
struct Echo(&'static str);

impl Agent for Echo {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let body = format!("{}:{}", self.0, String::from_utf8_lossy(&msg.payload));
        ctx.reply(Performative::Inform, body)
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}

/// Counts what it handles; never replies.
struct Sink(Arc<AtomicU64>);

impl Agent for Sink {
    fn handle(&mut self, _: &mut Context<'_>, _: &Message) -> Result<(), AgentError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|e| panic!("these tests need a real nats-server: {e}"))
}

async fn node(nats: &NatsServer, name: &str) -> Node {
    Node::connect(&nats.url(), "test", name, OrchestratorConfig::default())
        .await
        .unwrap()
}

/// Waits (bounded) until `f` holds; the bound is a hang guard, not a timing assertion.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

fn sink(counter: &Arc<AtomicU64>) -> AgentSpec<Sink> {
    let c = counter.clone();
    AgentSpec::new(move || Sink(c.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_request_across_nodes_by_id_name_and_capability() {
    let nats = server();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    assert_ne!(a.number(), b.number());
    let echo = b
        .spawn(AgentSpec::new(|| Echo("b")).name("echo").capability("echoing"))
        .await
        .unwrap();
    assert!(b.owns(echo) && !a.owns(echo), "{echo} in {:?}", b.id_range());

    for to in [Address::Id(echo), Address::name("echo"), Address::capability("echoing")] {
        let reply = a.request(Message::request(to.clone(), "hi"), T).await.unwrap();
        assert_eq!(&reply.payload[..], b"b:hi", "{to}");
    }

    let count = Arc::new(AtomicU64::new(0));
    let s = b.spawn(sink(&count).name("sink").capability("sinking")).await.unwrap();
    a.send(Message::inform(s, "1")).await.unwrap();
    a.send(Message::inform(Address::name("sink"), "2")).await.unwrap();
    a.send(Message::inform(Address::capability("sinking"), "3"))
        .await
        .unwrap();
    eventually("three remote sends handled", || count.load(Ordering::SeqCst) == 3).await;

    let (ca, cb) = (a.counters(), b.counters());
    assert_eq!(ca.local, 0);
    assert_eq!(ca.sent_remote, 6);
    assert_eq!(cb.received_remote, 6);
    assert_eq!(cb.decode_failures, 0);
    a.shutdown(T).await;
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_path_never_touches_nats() {
    let nats = server();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    // The same capability on the other node too: local still wins.
    b.spawn(AgentSpec::new(|| Echo("b")).name("echo-b").capability("echoing"))
        .await
        .unwrap();
    let echo = a
        .spawn(AgentSpec::new(|| Echo("a")).name("echo").capability("echoing"))
        .await
        .unwrap();
    // Names are unique across the lattice.
    let twin = b.spawn(AgentSpec::new(|| Echo("b")).name("echo")).await.unwrap_err();
    assert!(
        matches!(&twin, NodeError::DuplicateAgentName { name, .. } if name == "echo"),
        "{twin}"
    );
    assert_eq!(b.orchestrator().lookup("echo"), None, "the refused agent was stopped");
    for to in [Address::Id(echo), Address::name("echo"), Address::capability("echoing")] {
        let reply = a.request(Message::request(to.clone(), "hi"), T).await.unwrap();
        assert_eq!(&reply.payload[..], b"a:hi", "{to}");
    }
    let count = Arc::new(AtomicU64::new(0));
    let s = a.spawn(sink(&count).capability("sinking")).await.unwrap();
    a.send(Message::inform(s, "x")).await.unwrap();
    let report = a.broadcast("sinking", Message::inform(s, "y")).await.unwrap();
    assert_eq!(report.local.delivered, vec![s]);
    eventually("two local messages handled", || count.load(Ordering::SeqCst) == 2).await;

    let (ca, cb) = (a.counters(), b.counters());
    assert_eq!(ca.local, 5);
    // Only the broadcast's copy for other nodes was published; no agent on b has the capability.
    assert_eq!(ca.sent_remote, 1);
    assert_eq!(ca.received_remote, 0);
    assert_eq!(cb.received_remote, 0);
    a.shutdown(T).await;
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capability_requests_reach_capable_agents_on_every_node() {
    let nats = server();
    let (a, b, c) = (node(&nats, "a").await, node(&nats, "b").await, node(&nats, "c").await);
    b.spawn(AgentSpec::new(|| Echo("b")).capability("work")).await.unwrap();
    c.spawn(AgentSpec::new(|| Echo("c")).capability("work")).await.unwrap();
    let mut answered = HashSet::new();
    for i in 0..64 {
        let reply = a
            .request(Message::request(Address::capability("work"), format!("{i}")), T)
            .await
            .unwrap();
        answered.insert(
            String::from_utf8_lossy(&reply.payload)
                .split(':')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    // NATS's queue group picks one capable agent per request, on any node.
    assert_eq!(answered, HashSet::from(["b".to_owned(), "c".to_owned()]));
    for n in [a, b, c] {
        n.shutdown(T).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_capable_agents_on_every_node() {
    let nats = server();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let count = Arc::new(AtomicU64::new(0));
    let here = a.spawn(sink(&count).capability("news")).await.unwrap();
    b.spawn(sink(&count).capability("news")).await.unwrap();
    b.spawn(sink(&count).capability("news")).await.unwrap();
    b.spawn(sink(&count).capability("other")).await.unwrap();
    let report = a
        .broadcast("news", Message::inform(Address::capability("news"), "extra"))
        .await
        .unwrap();
    assert_eq!(report.local.delivered, vec![here]);
    assert!(report.published);
    eventually("one copy per capable agent", || count.load(Ordering::SeqCst) == 3).await;
    assert_eq!(b.counters().received_remote, 2);
    a.shutdown(T).await;
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_bytes_on_an_agent_subject_become_counted_dead_letters() {
    let nats = server();
    let b = node(&nats, "b").await;
    let count = Arc::new(AtomicU64::new(0));
    let s = b.spawn(sink(&count).name("sink")).await.unwrap();
    let raw = async_nats::connect(nats.url()).await.unwrap();
    let subject = b.subjects().agent(s);
    raw.publish(subject.clone(), Bytes::from_static(b"not a caxton frame"))
        .await
        .unwrap();
    raw.publish(subject.clone(), Bytes::new()).await.unwrap();
    let reply = Frame::Reply(Message::inform(s, "misplaced"));
    raw.publish(b.subjects().name("sink").unwrap(), wire::encode(&reply).unwrap())
        .await
        .unwrap();
    // A requester sending garbage gets a typed error frame back.
    let answer = raw
        .request(subject.clone(), Bytes::from_static(&[WIRE_VERSION, 0xff, 0xff]))
        .await
        .unwrap();
    assert!(
        matches!(
            wire::decode(&answer.payload),
            Ok(Frame::Error(RemoteError::Malformed { .. }))
        ),
        "{answer:?}"
    );
    eventually("four decode failures counted", || b.counters().decode_failures == 4).await;
    let dead = b.orchestrator().dead_letter_counts();
    assert_eq!(dead.get(DeadLetterKind::Malformed), 4, "{dead:?}");
    let recent = b.orchestrator().recent_dead_letters();
    assert!(recent.iter().all(|d| matches!(&d.reason, DeadLetterReason::Malformed(why) if why.contains(&subject) || why.contains("name.sink"))), "{recent:?}");
    assert!(recent.iter().any(|d| &d.message.payload[..] == b"not a caxton frame"));
    // The agent saw none of it and still works.
    assert_eq!(count.load(Ordering::SeqCst), 0);
    b.send(Message::inform(s, "ok")).await.unwrap();
    eventually("the agent still handles messages", || count.load(Ordering::SeqCst) == 1).await;
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_version_mismatch_is_refused_naming_both_versions() {
    let nats = server();
    let b = node(&nats, "b").await;
    let echo = b.spawn(AgentSpec::new(|| Echo("b"))).await.unwrap();
    let raw = async_nats::connect(nats.url()).await.unwrap();
    let newer = WIRE_VERSION + 1;
    let frame = Frame::Request {
        message: Message::request(echo, "hi"),
        timeout_ms: 5000,
    };
    let answer = raw
        .request(b.subjects().agent(echo), wire::encode_as(newer, &frame).unwrap())
        .await
        .unwrap();
    let Ok(Frame::Error(RemoteError::Malformed { detail })) = wire::decode(&answer.payload) else {
        panic!("{answer:?}");
    };
    assert!(
        detail.contains(&format!("version {WIRE_VERSION}")) && detail.contains(&format!("version {newer}")),
        "{detail}"
    );
    assert_eq!(b.counters().decode_failures, 1);

    // A peer of another version in the lattice: joining is refused.
    let js = async_nats::jetstream::new(raw.clone());
    let kv = js.get_key_value(b.subjects().nodes_bucket()).await.unwrap();
    kv.create("old", Bytes::from(vec![newer])).await.unwrap();
    let err = Node::connect(&nats.url(), "test", "c", OrchestratorConfig::default())
        .await
        .err()
        .expect("a peer of another version must be refused");
    assert!(
        matches!(err, NodeError::PeerWireVersion { ref peer, ours, theirs } if peer == "old" && ours == WIRE_VERSION && theirs == newer),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("version {newer}")) && text.contains(&format!("version {WIRE_VERSION}")),
        "{text}"
    );
    // The refused node released its name.
    assert!(kv.get("c").await.unwrap().is_none());
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_nats_is_an_error_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let options = NodeOptions {
        connect_timeout: Duration::from_secs(2),
        initial_backoff: Duration::from_millis(10),
        ..NodeOptions::default()
    }
    .retry(3);
    let err = Node::connect_with(&url, "test", "a", OrchestratorConfig::default(), options)
        .await
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, NodeError::Unreachable { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_node_name_is_refused_and_released_on_shutdown() {
    let nats = server();
    let a = node(&nats, "a").await;
    let err = Node::connect(&nats.url(), "test", "a", OrchestratorConfig::default())
        .await
        .err()
        .expect("the name is taken");
    assert!(
        matches!(&err, NodeError::DuplicateNodeName { node, lattice } if node == "a" && lattice == "test"),
        "{err}"
    );
    // Another lattice on the same server has its own names.
    Node::connect(&nats.url(), "other", "a", OrchestratorConfig::default())
        .await
        .unwrap();
    // Bad names are typed errors before any claim.
    let err = Node::connect(&nats.url(), "test", "a.b", OrchestratorConfig::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, NodeError::Name(_)), "{err}");
    a.shutdown(T).await;
    let again = node(&nats, "a").await;
    // A new incarnation gets a new number, so a new id range.
    assert_ne!(again.number(), a.number());
    again.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_errors_are_typed() {
    let nats = server();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let count = Arc::new(AtomicU64::new(0));
    let silent = b.spawn(sink(&count)).await.unwrap();
    // The agent handled it without replying: an error frame from b.
    let err = a.request(Message::request(silent, "q"), T).await.unwrap_err();
    assert!(
        matches!(err, ClusterError::Remote(RemoteError::NoReply { agent }) if agent == silent.get()),
        "{err}"
    );
    // Stopped: unsubscribed, so no node answers.
    b.stop(silent).await.unwrap();
    let err = a.request(Message::request(silent, "q"), T).await.unwrap_err();
    assert!(matches!(err, ClusterError::NoResponders { .. }), "{err}");
    let err = a
        .request(Message::request(Address::name("nobody"), "q"), T)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NoResponders { subject } if subject.ends_with("name.nobody")),
        "{err}"
    );
    // Names that cannot be subjects are typed errors, not publishes.
    let err = a.send(Message::inform(Address::name("a.b"), "x")).await.unwrap_err();
    assert!(matches!(err, ClusterError::Name(_)), "{err}");
    let err = b.spawn(sink(&count).capability("has space")).await.unwrap_err();
    assert!(matches!(err, NodeError::Name(_)), "{err}");
    // Over the server's max_payload (1 MiB by default): refused, typed.
    let echo = b.spawn(AgentSpec::new(|| Echo("b"))).await.unwrap();
    let big = vec![0u8; 2 << 20];
    let err = a.send(Message::inform(echo, big)).await.unwrap_err();
    assert!(matches!(err, ClusterError::Transport { .. }), "{err}");
    assert_eq!(a.counters().local, 0);
    a.shutdown(T).await;
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_lost_mid_run_local_keeps_working_and_nodes_reconnect() {
    let mut nats = server();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    let echo = b.spawn(AgentSpec::new(|| Echo("b")).name("echo")).await.unwrap();
    assert_eq!(a.counters().reconnects, 0);
    a.request(Message::request(echo, "before"), T).await.unwrap();

    nats.kill();
    // The local path does not need NATS.
    let reply = b.request(Message::request(echo, "local"), T).await.unwrap();
    assert_eq!(&reply.payload[..], b"b:local");
    // Once the node sees the connection gone, remote traffic is refused
    // with a typed error naming the URL (before that, at most once).
    let mut refused = None;
    for _ in 0..1000 {
        match a.send(Message::inform(echo, "lost")).await {
            Err(e @ ClusterError::Disconnected { .. }) => {
                refused = Some(e);
                break;
            }
            other => assert!(other.is_ok(), "{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refused = refused.expect("remote sends were never refused while NATS was down");
    assert!(refused.to_string().contains(&nats.url()), "{refused}");
    let err = a.request(Message::request(echo, "lost"), T).await.unwrap_err();
    assert!(matches!(err, ClusterError::Disconnected { .. }), "{err}");
    let err = a.broadcast("none", Message::inform(echo, "lost")).await.unwrap_err();
    assert!(matches!(err, ClusterError::Disconnected { .. }), "{err}");

    nats.restart().unwrap();
    eventually("both nodes reconnect", || {
        a.counters().reconnects >= 1 && b.counters().reconnects >= 1
    })
    .await;
    // Subscriptions are restored on reconnect: remote traffic resumes.
    let mut resumed = false;
    for _ in 0..100 {
        if let Ok(reply) = a
            .request(
                Message::request(Address::name("echo"), "after"),
                Duration::from_millis(500),
            )
            .await
        {
            assert_eq!(&reply.payload[..], b"b:after");
            resumed = true;
            break;
        }
    }
    assert!(resumed, "remote requests never resumed after the reconnect");
    a.shutdown(T).await;
    b.shutdown(T).await;
}
