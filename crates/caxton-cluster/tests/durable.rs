//! The durable pump on a real `nats-server`: a pump whose agent was
//! adopted by another node (its checkpoint record taken over) commits
//! nothing, so the messages its agent handled stay in the stream for the
//! adopter; an owner's pump commits, acknowledges and purges.

use std::time::Duration;

use caxton_cluster::Subjects;
use caxton_cluster::durable::{self, Pump};
use caxton_cluster::store::{self, Store, StoredCheckpoint, id_key};
use caxton_cluster::testing::NatsServer;
use caxton_cluster::wire::{self, Frame};
use caxton_runtime::{Agent, AgentError, AgentId, AgentSpec, Context, Message, Orchestrator};
use tokio::sync::watch;

/// Counts messages (no state kept across restarts: this test reads the
/// orchestrator's handled count).
struct Sink;

impl Agent for Sink {
    fn handle(&mut self, _: &mut Context<'_>, _: &Message) -> Result<(), AgentError> {
        Ok(())
    }
}

struct Setup {
    _nats: NatsServer,
    store: Store,
    subjects: Subjects,
    orch: Orchestrator,
    id: AgentId,
}

/// One agent, ten durable messages for it in the stream.
async fn setup() -> Setup {
    let nats = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let client = async_nats::connect(nats.url()).await.unwrap();
    let subjects = Subjects::new("pump").unwrap();
    let store = Store::open(client.clone(), &subjects, Duration::from_secs(1), 1 << 20)
        .await
        .unwrap();
    let orch = Orchestrator::new();
    let id = orch.spawn(AgentSpec::new(|| Sink)).unwrap();
    let js = async_nats::jetstream::new(client);
    for _ in 0..10 {
        let frame = wire::encode(&Frame::Send(Message::inform(id, "x"))).unwrap();
        js.publish(subjects.durable(id), frame).await.unwrap().await.unwrap();
    }
    Setup {
        _nats: nats,
        store,
        subjects,
        orch,
        id,
    }
}

/// Runs a pump of node 1 until the agent handled the ten, then stops it.
async fn pump_ten(s: &Setup, revision: u64) {
    let consumer = durable::open_consumer(&s.store.durable, &s.subjects, s.id, 1, 0, None)
        .await
        .unwrap();
    let pump = Pump::new(s.orch.clone(), s.id, consumer, &s.store, &s.subjects, 0, 1, revision);
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(pump.run(rx));
    for _ in 0..500 {
        if s.orch.messages_handled_total() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.orch.messages_handled_total(), 10);
    let _ = stop.send(true);
    task.await.unwrap();
}

async fn record(s: &Setup) -> StoredCheckpoint {
    let bytes = s.store.checkpoints.get(id_key(s.id)).await.unwrap().unwrap();
    store::decode(&bytes).unwrap()
}

async fn in_stream(s: &Setup) -> u64 {
    let mut stream = s.store.durable.clone();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_commits_acknowledges_and_purges() {
    let s = setup().await;
    let (_, revision) = durable::own_checkpoint(&s.store.checkpoints, s.id, 1).await.unwrap();
    pump_ten(&s, revision).await;
    let r = record(&s).await;
    assert_eq!((r.writer, r.applied), (1, 10), "committed through sequence 10");
    assert_eq!(in_stream(&s).await, 0, "purged what the checkpoint covers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pump_whose_agent_was_adopted_commits_nothing() {
    let s = setup().await;
    let (_, revision) = durable::own_checkpoint(&s.store.checkpoints, s.id, 1).await.unwrap();
    // Node 2 adopts the agent while node 1's pump still runs.
    let (taken, _) = durable::own_checkpoint(&s.store.checkpoints, s.id, 2).await.unwrap();
    assert_eq!((taken.writer, taken.applied), (2, 0));
    pump_ten(&s, revision).await;
    let r = record(&s).await;
    assert_eq!((r.writer, r.applied), (2, 0), "the adopter's record stands");
    assert_eq!(in_stream(&s).await, 10, "every message left for the adopter");
}
