//! Failover on one real `nats-server`, three nodes in one process: a node
//! vanishes (as if killed); the two survivors restart each of its
//! recoverable agents exactly once between them, from its last checkpoint,
//! under its id and name; durable agents lose no acknowledged message.

use std::sync::Arc;
use std::time::Duration;

use caxton_cluster::recipe::BoxFuture;
use caxton_cluster::{Adoption, ClusterError, Node, NodeError, NodeOptions, Recipe, Respawner};
use caxton_runtime::checkpoint::{decode, encode};
use caxton_runtime::{
    Address, Agent, AgentError, AgentId, AgentSpec, Context, Message, OrchestratorConfig, Performative,
};

use caxton_cluster::testing::NatsServer;

const T: Duration = Duration::from_secs(10);

/// Counts messages; answers `count` with the count (decimal).
#[derive(Default)]
struct Counter(u64);

impl Agent for Counter {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if &msg.payload[..] == b"count" {
            return ctx
                .reply(Performative::Inform, self.0.to_string())
                .map_err(|e| AgentError::handler(e.to_string()));
        }
        self.0 += 1;
        Ok(())
    }
    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        encode(&self.0).map(Some)
    }
    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.0 = decode(state)?;
        Ok(())
    }
}

/// Rebuilds `counter` recipes on its node.
struct Counters(std::sync::OnceLock<Node>);

impl Respawner for Counters {
    fn respawn(&self, adoption: Adoption) -> BoxFuture<'_, Result<AgentId, NodeError>> {
        Box::pin(async move {
            let node = self.0.get().expect("node set");
            if adoption.recipe.kind != "counter" {
                return Err(NodeError::Respawn {
                    kind: adoption.recipe.kind.clone(),
                    detail: "unknown kind".into(),
                });
            }
            let mut spec = AgentSpec::new(Counter::default);
            if let Some(name) = &adoption.name {
                spec = spec.name(name.as_str());
            }
            node.respawn(spec, &adoption).await
        })
    }
}

async fn node(nats: &NatsServer, name: &str) -> Node {
    let node = Node::connect_with(
        &nats.url(),
        "fo",
        name,
        OrchestratorConfig::default(),
        NodeOptions::default(),
    )
    .await
    .unwrap();
    let respawner = Arc::new(Counters(std::sync::OnceLock::new()));
    let _ = respawner.0.set(node.clone());
    node.set_respawner(respawner);
    node
}

async fn count(node: &Node, to: impl Into<Address>) -> Option<u64> {
    let reply = node.request(Message::request(to, "count"), T).await.ok()?;
    std::str::from_utf8(&reply.payload).ok()?.parse().ok()
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..1500 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_restart_each_agent_of_a_vanished_node_exactly_once() {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, c) = (node(&nats, "a").await, node(&nats, "b").await, node(&nats, "c").await);
    let mut plain = Vec::new();
    let mut durable = Vec::new();
    for i in 0..10 {
        let spec = AgentSpec::new(Counter::default).name(format!("p{i}"));
        plain.push(c.spawn_recoverable(spec, Recipe::new("counter", "")).await.unwrap());
        let spec = AgentSpec::new(Counter::default).name(format!("d{i}"));
        durable.push(
            c.spawn_recoverable(spec, Recipe::new("counter", "").durable(true))
                .await
                .unwrap(),
        );
    }
    // One that cannot move: it dies with c, and is counted lost once.
    c.spawn(AgentSpec::new(Counter::default).name("fragile")).await.unwrap();
    // Five messages each, sent from a; then a checkpoint of the plain ones.
    for &id in &plain {
        for _ in 0..5 {
            a.send(Message::inform(id, "x")).await.unwrap();
        }
    }
    for &id in &durable {
        for _ in 0..5 {
            a.send_durable(Message::inform(id, "x")).await.unwrap();
        }
    }
    for &id in plain.iter().chain(&durable) {
        eventually("five handled", async || (count(&a, id).await == Some(5)).then_some(())).await;
    }
    for &id in &plain {
        c.orchestrator().checkpoint(id).await.unwrap();
    }
    // A sixth to each plain agent, after its checkpoint: lost with c.
    for &id in &plain {
        a.send(Message::inform(id, "x")).await.unwrap();
    }
    for &id in &plain {
        eventually("six handled", async || (count(&a, id).await == Some(6)).then_some(())).await;
    }
    // Give the checkpoint writer its round trips, then c vanishes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.vanish().await;
    // Durable sends while no node hosts the agents: stored, handled later.
    for &id in &durable {
        for _ in 0..3 {
            a.send_durable(Message::inform(id, "x")).await.unwrap();
        }
    }
    let adopted = eventually("all twenty adopted", async || {
        let n = a.failover_counters().adopted + b.failover_counters().adopted;
        (n >= 20).then_some(n)
    })
    .await;
    assert_eq!(adopted, 20, "each agent adopted once");
    for (i, &id) in plain.iter().chain(&durable).enumerate() {
        let on_a = a.orchestrator().agent_ref(id).is_ok();
        let on_b = b.orchestrator().agent_ref(id).is_ok();
        assert!(
            on_a ^ on_b,
            "agent {id} runs on exactly one survivor (a: {on_a}, b: {on_b})"
        );
        let want = if i < plain.len() { 5 } else { 8 };
        let got = eventually("restarted counts", async || count(&a, id).await.filter(|&n| n >= want)).await;
        assert_eq!(got, want, "agent {id}: from its checkpoint, nothing twice");
        // The name moved with it, and answers from either survivor.
        let name = if i < plain.len() {
            format!("p{i}")
        } else {
            format!("d{}", i - plain.len())
        };
        assert_eq!(count(&b, Address::name(name)).await, Some(want));
    }
    let lost = a.failover_counters().lost + b.failover_counters().lost;
    assert_eq!(lost, 1, "the agent without a recipe is counted lost once");
    assert_eq!(
        a.failover_counters().adoption_failures + b.failover_counters().adoption_failures,
        0
    );
    // Its name is free again.
    a.spawn(AgentSpec::new(Counter::default).name("fragile")).await.unwrap();
    a.shutdown(T).await;
    b.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_delivery_needs_one_durable_receiver_and_modules_travel() {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let a = node(&nats, "a").await;
    let plain = a.spawn(AgentSpec::new(Counter::default).capability("c")).await.unwrap();
    for to in [Address::Id(plain), Address::capability("c"), Address::name("nobody")] {
        let e = a.send_durable(Message::inform(to.clone(), "x")).await.unwrap_err();
        assert!(matches!(e, ClusterError::NotDurable { .. }), "{to}: {e}");
    }
    // A module stored by one node is read back by another.
    let b = node(&nats, "b").await;
    let module = vec![0u8, 97, 115, 109, 1, 0, 0, 0];
    a.put_module("m1", &module).await.unwrap();
    assert_eq!(b.module("m1").await.unwrap(), module);
    assert!(b.module("missing").await.is_err());
    a.shutdown(T).await;
    b.shutdown(T).await;
}

/// A node that only stalls (its lease lapses while it goes on working)
/// loses its durable agent to a survivor, and its pump, still running,
/// must not commit past the adopter's checkpoint: every message the
/// senders had acknowledged is in the adopted agent's count, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_cannot_commit_what_its_adopter_has_to_handle() {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (a, b, c) = (node(&nats, "a").await, node(&nats, "b").await, node(&nats, "c").await);
    let spec = AgentSpec::new(Counter::default).name("stalls");
    let id = c
        .spawn_recoverable(spec, Recipe::new("counter", "").durable(true))
        .await
        .unwrap();
    // Durable sends all along: before, during and after the stall.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = tokio::spawn({
        let (a, stop) = (a.clone(), stop.clone());
        async move {
            let mut acknowledged = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                a.send_durable(Message::inform(id, "x")).await.unwrap();
                acknowledged += 1;
            }
            acknowledged
        }
    });
    eventually("some handled on c", async || count(&a, id).await.filter(|&n| n >= 100)).await;
    c.pause_lease(true);
    eventually("adopted by a survivor", async || {
        (a.failover_counters().adopted + b.failover_counters().adopted >= 1).then_some(())
    })
    .await;
    // The adopter's pump runs a while beside the stalled node's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.pause_lease(false);
    eventually("c finds its lease lost", async || (c.lease_losses() >= 1).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = sender.await.unwrap();
    assert!(acknowledged > 100, "the sender kept sending");
    let got = eventually("every acknowledged message handled", async || {
        count(&a, id).await.filter(|&n| n >= acknowledged)
    })
    .await;
    assert_eq!(got, acknowledged, "handled once each on the adopter");
    assert!(c.orchestrator().agent_ref(id).is_err(), "c stopped its copy");
    assert_eq!(a.failover_counters().adopted + b.failover_counters().adopted, 1);
    a.shutdown(T).await;
    b.shutdown(T).await;
    c.shutdown(T).await;
}
