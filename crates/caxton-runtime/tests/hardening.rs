//! Regression tests for the runtime's promise that nothing accepted is lost:
//! every user hook that panics is contained, restarts release the faulted
//! instance first, spawns racing shutdown are closed, dropped orchestrators
//! close their agents, requests that time out are accounted, oversized
//! messages are refused at the door, and bad arguments do not panic.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use caxton_runtime::checkpoint::{decode, encode};
use caxton_runtime::{
    Agent, AgentError, AgentSpec, CheckpointError, CheckpointPolicy, Context, FaultKind, Message, Orchestrator,
    OrchestratorConfig, Performative, RequestError, RestartPolicy, SendErrorKind, SpawnError,
};
use common::{as_u64, eventually};

const T: Duration = Duration::from_secs(10);

/// Which hooks panic, shared by every instance a factory builds.
#[derive(Clone, Default)]
struct Plan {
    factory_calls: Arc<AtomicU64>,
    /// The factory panics on calls after this many (0: never).
    factory_ok_calls: Arc<AtomicU64>,
    snapshot: Arc<AtomicBool>,
    /// The next restore panics (once).
    restore: Arc<AtomicBool>,
    memory: Arc<AtomicBool>,
    drop: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    release: Arc<AtomicBool>,
}

impl Plan {
    fn spec(&self) -> AgentSpec<Hooked> {
        let plan = self.clone();
        AgentSpec::new(move || {
            let n = plan.factory_calls.fetch_add(1, Ordering::SeqCst) + 1;
            let ok = plan.factory_ok_calls.load(Ordering::SeqCst);
            if ok != 0 && n > ok {
                panic!("factory asked to panic");
            }
            plan.live.fetch_add(1, Ordering::SeqCst);
            Hooked {
                plan: plan.clone(),
                count: 0,
            }
        })
    }
}

/// Counts messages; `panic` panics, `count` replies with the count, `block`
/// spins until the plan's release flag is set.
struct Hooked {
    plan: Plan,
    count: u64,
}

impl Agent for Hooked {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        match &msg.payload[..] {
            b"panic" => panic!("handler asked to panic"),
            b"count" => {
                let _ = ctx.reply(Performative::Inform, self.count.to_le_bytes().to_vec());
            }
            b"block" => {
                while !self.plan.release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            _ => self.count += 1,
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        if self.plan.snapshot.load(Ordering::SeqCst) {
            panic!("snapshot asked to panic");
        }
        encode(&self.count).map(Some)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        // Panics once per request, so the restart after it can restore.
        if self.plan.restore.swap(false, Ordering::SeqCst) {
            panic!("restore asked to panic");
        }
        self.count = decode(state)?;
        Ok(())
    }

    fn memory_bytes(&self) -> Option<u64> {
        if self.plan.memory.load(Ordering::SeqCst) {
            panic!("memory_bytes asked to panic");
        }
        None
    }
}

impl Drop for Hooked {
    fn drop(&mut self) {
        self.plan.live.fetch_sub(1, Ordering::SeqCst);
        if self.plan.drop.load(Ordering::SeqCst) && !std::thread::panicking() {
            panic!("drop asked to panic");
        }
    }
}

fn by_reason(orch: &Orchestrator) -> std::collections::HashMap<String, u64> {
    orch.dead_letter_counts().by_reason.into_iter().collect()
}

/// A failed agent must be properly gone: reported, deregistered, its queue
/// dead-lettered, and `wait_idle` must return.
async fn assert_failed_properly(orch: &Orchestrator, id: caxton_runtime::AgentId) {
    eventually(|| !orch.failures().is_empty()).await;
    assert_eq!(orch.failures()[0].agent, id);
    let e = orch.try_send(Message::inform(id, "late")).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::AgentStopped(id));
    tokio::time::timeout(T, orch.wait_idle())
        .await
        .expect("wait_idle returns");
    assert_eq!(orch.agent_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_that_panics_on_restart_fails_the_agent_properly() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    plan.factory_ok_calls.store(1, Ordering::SeqCst);
    let id = orch.spawn(plan.spec()).unwrap();
    // The requester must hear the failure, not "handled without replying".
    let waiting = {
        let orch = orch.clone();
        tokio::spawn(async move { orch.request(Message::request(id, "panic"), T).await })
    };
    let r = waiting.await.unwrap();
    assert!(
        matches!(&r, Err(RequestError::Failed { reason, .. }) if reason.contains("handler asked to panic")),
        "{r:?}"
    );
    assert_failed_properly(&orch, id).await;
    assert!(
        orch.failures()[0].reason.contains("factory asked to panic"),
        "{:?}",
        orch.failures()
    );
    assert_eq!(plan.live.load(Ordering::SeqCst), 0, "the faulted instance was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_of_a_failing_agent_become_dead_letters() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    plan.factory_ok_calls.store(1, Ordering::SeqCst);
    let id = orch.spawn(plan.spec().mailbox_capacity(64)).unwrap();
    // Hold the agent so the rest queue up behind the panic.
    orch.try_send(Message::inform(id, "block")).unwrap();
    orch.try_send(Message::inform(id, "panic")).unwrap();
    for _ in 0..10 {
        orch.try_send(Message::inform(id, "x")).unwrap();
    }
    plan.release.store(true, Ordering::SeqCst);
    assert_failed_properly(&orch, id).await;
    let by = by_reason(&orch);
    assert_eq!(by.get("fault"), Some(&1));
    assert_eq!(by.get("agent_failed"), Some(&10), "{by:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_panics_on_restart_fails_the_agent_properly() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch
        .spawn(plan.spec().checkpoint_policy(CheckpointPolicy::EveryMessages(1)))
        .unwrap();
    orch.send(Message::inform(id, "x")).await.unwrap();
    eventually(|| orch.stats(id).is_some_and(|s| s.checkpoints >= 1)).await;
    plan.restore.store(true, Ordering::SeqCst);
    orch.send(Message::inform(id, "panic")).await.unwrap();
    assert_failed_properly(&orch, id).await;
    assert!(orch.failures()[0].reason.contains("restore asked to panic"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_panics_in_an_automatic_checkpoint_restarts_the_agent() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch
        .spawn(plan.spec().checkpoint_policy(CheckpointPolicy::EveryMessages(2)))
        .unwrap();
    for _ in 0..2 {
        orch.send(Message::inform(id, "x")).await.unwrap();
    }
    eventually(|| orch.stats(id).is_some_and(|s| s.checkpoints == 1)).await;
    plan.snapshot.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        orch.send(Message::inform(id, "x")).await.unwrap();
    }
    eventually(|| orch.stats(id).is_some_and(|s| s.restarts == 1)).await;
    plan.snapshot.store(false, Ordering::SeqCst);
    // Back to the last good checkpoint (2), and still serving.
    let reply = orch.request(Message::request(id, "count"), T).await.unwrap();
    assert_eq!(as_u64(&reply), 2);
    assert!(orch.failures().is_empty());
    assert_eq!(orch.dead_letter_counts().total, 0, "both messages were handled");
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_panics_in_a_manual_checkpoint_is_an_error_and_a_restart() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch.spawn(plan.spec()).unwrap();
    orch.send(Message::inform(id, "x")).await.unwrap();
    plan.snapshot.store(true, Ordering::SeqCst);
    let e = orch.checkpoint(id).await.unwrap_err();
    assert!(
        matches!(
            &e,
            CheckpointError::Agent {
                error: AgentError::Fault {
                    kind: FaultKind::Panic,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
    plan.snapshot.store(false, Ordering::SeqCst);
    eventually(|| orch.stats(id).is_some_and(|s| s.restarts == 1)).await;
    let reply = orch.request(Message::request(id, "count"), T).await.unwrap();
    assert_eq!(as_u64(&reply), 0, "restarted fresh (no checkpoint yet)");
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_control_that_panics_restarts_from_the_last_good_checkpoint() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch.spawn(plan.spec()).unwrap();
    for _ in 0..3 {
        orch.send(Message::inform(id, "x")).await.unwrap();
    }
    let good = orch.checkpoint(id).await.unwrap();
    plan.restore.store(true, Ordering::SeqCst);
    let mut other = good.clone();
    other.state = encode(&99u64).unwrap();
    assert!(orch.restore(id, other).await.is_err());
    eventually(|| orch.stats(id).is_some_and(|s| s.restarts == 1)).await;
    let reply = orch.request(Message::request(id, "count"), T).await.unwrap();
    assert_eq!(as_u64(&reply), 3);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_memory_figure_is_a_fault_handled_by_the_policy() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch.spawn(plan.spec().restart_policy(RestartPolicy::never())).unwrap();
    plan.memory.store(true, Ordering::SeqCst);
    orch.send(Message::inform(id, "x")).await.unwrap();
    assert_failed_properly(&orch, id).await;
    assert!(orch.failures()[0].reason.contains("memory_bytes asked to panic"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_drop_does_not_stop_the_restart() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    plan.drop.store(true, Ordering::SeqCst);
    let id = orch.spawn(plan.spec()).unwrap();
    orch.send(Message::inform(id, "panic")).await.unwrap();
    orch.send(Message::inform(id, "x")).await.unwrap();
    let reply = orch.request(Message::request(id, "count"), T).await.unwrap();
    assert_eq!(as_u64(&reply), 1);
    assert_eq!(orch.stats(id).unwrap().restarts, 1);
    // At most one instance lives at a time: the old one went first.
    assert_eq!(plan.live.load(Ordering::SeqCst), 1);
    let report = orch.shutdown(T).await;
    assert_eq!(report.agents_drained, 1);
    assert_eq!(plan.live.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_panicking_constructor_is_a_spawn_error() {
    let orch = Orchestrator::new();
    let e = orch
        .spawn(AgentSpec::new(|| -> common::Echo { panic!("no agent today") }))
        .unwrap_err();
    assert!(
        matches!(&e, SpawnError::Init(AgentError::Fault { kind: FaultKind::Panic, detail }) if detail == "no agent today"),
        "{e:?}"
    );
    assert_eq!(orch.agent_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_releases_the_faulted_instance_before_building_the_next() {
    // A factory that, like a full instance pool, refuses a second live
    // instance.
    let live = Arc::new(AtomicUsize::new(0));
    let l = live.clone();
    struct Slot(Arc<AtomicUsize>);
    impl Agent for Slot {
        fn handle(&mut self, _: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
            if &msg.payload[..] == b"panic" {
                panic!("boom");
            }
            Ok(())
        }
    }
    impl Drop for Slot {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let orch = Orchestrator::new();
    let id = orch
        .spawn(AgentSpec::try_new(move || {
            if l.fetch_add(1, Ordering::SeqCst) != 0 {
                l.fetch_sub(1, Ordering::SeqCst);
                return Err(AgentError::handler("pool full"));
            }
            Ok(Slot(l.clone()))
        }))
        .unwrap();
    orch.send(Message::inform(id, "panic")).await.unwrap();
    orch.send(Message::inform(id, "x")).await.unwrap();
    eventually(|| orch.stats(id).is_some_and(|s| s.messages_handled == 2)).await;
    assert!(orch.failures().is_empty(), "{:?}", orch.failures());
    assert_eq!(orch.stats(id).unwrap().restarts, 1);
    orch.shutdown(T).await;
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawn_that_finishes_after_shutdown_began_is_closed() {
    let orch = Orchestrator::new();
    let building = Arc::new(std::sync::Barrier::new(2));
    let finish = Arc::new(std::sync::Barrier::new(2));
    let (b, f) = (building.clone(), finish.clone());
    let o = orch.clone();
    let spawner = std::thread::spawn(move || {
        o.spawn(AgentSpec::new(move || {
            b.wait();
            f.wait();
            common::Echo
        }))
    });
    building.wait();
    // Shutdown runs while the agent is being built, so it cannot see it.
    let report = orch.shutdown(Duration::from_millis(10)).await;
    assert_eq!(report.agents, 0);
    finish.wait();
    let spawned = spawner.join().unwrap();
    assert!(matches!(spawned, Err(SpawnError::ShuttingDown)), "{spawned:?}");
    tokio::time::timeout(T, orch.wait_idle())
        .await
        .expect("the late agent exits");
    assert_eq!(orch.agent_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_orchestrator_closes_every_agent() {
    let plan = Plan::default();
    let orch = Orchestrator::new();
    let ids = orch.spawn_many(&plan.spec(), 10).unwrap();
    for id in &ids {
        orch.try_send(Message::inform(*id, "x")).unwrap();
    }
    let handle = orch.clone();
    drop(orch);
    assert_eq!(plan.live.load(Ordering::SeqCst), 10, "a clone keeps them alive");
    drop(handle);
    eventually(|| plan.live.load(Ordering::SeqCst) == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_times_out_waiting_for_space_is_counted_and_says_so() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch.spawn(plan.spec().mailbox_capacity(2)).unwrap();
    orch.send(Message::inform(id, "block")).await.unwrap();
    orch.send(Message::inform(id, "x")).await.unwrap();
    // "block" in hand and "x" behind it fill the mailbox.
    let r = orch
        .request(Message::request(id, "count"), Duration::from_millis(20))
        .await;
    assert!(matches!(r, Err(RequestError::Timeout { accepted: false, .. })), "{r:?}");
    assert_eq!(by_reason(&orch).get("mailbox_full"), Some(&1));
    plan.release.store(true, Ordering::SeqCst);
    orch.shutdown(T).await;
    assert_eq!(orch.dead_letter_counts().total, 1, "the others were handled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_request_that_times_out_says_so() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch.spawn(plan.spec()).unwrap();
    let r = orch
        .request(Message::request(id, "block"), Duration::from_millis(20))
        .await;
    assert!(matches!(r, Err(RequestError::Timeout { accepted: true, .. })), "{r:?}");
    plan.release.store(true, Ordering::SeqCst);
    orch.shutdown(T).await;
    assert_eq!(orch.dead_letter_counts().total, 0, "accepted and handled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_counts_only_what_the_stuck_agent_has_not_finished() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let seen = Arc::new(AtomicU64::new(0));
    /// Counts each message as it enters the handler; `wait` waits on the
    /// gate, `block` spins until released.
    struct Stuck {
        gate: Arc<std::sync::Barrier>,
        seen: Arc<AtomicU64>,
        release: Arc<AtomicBool>,
    }
    impl Agent for Stuck {
        fn handle(&mut self, _: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
            self.seen.fetch_add(1, Ordering::SeqCst);
            match &msg.payload[..] {
                b"wait" => {
                    self.gate.wait();
                }
                b"block" => {
                    while !self.release.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                _ => {}
            }
            Ok(())
        }
    }
    let (g, s, r) = (gate.clone(), seen.clone(), plan.release.clone());
    let id = orch
        .spawn(
            AgentSpec::new(move || Stuck {
                gate: g.clone(),
                seen: s.clone(),
                release: r.clone(),
            })
            .mailbox_capacity(16),
        )
        .unwrap();
    orch.send(Message::inform(id, "wait")).await.unwrap();
    eventually(|| seen.load(Ordering::SeqCst) == 1).await;
    // These queue up behind "wait" and arrive as one batch.
    orch.send(Message::inform(id, "x")).await.unwrap();
    orch.send(Message::inform(id, "block")).await.unwrap();
    orch.send(Message::inform(id, "y")).await.unwrap();
    gate.wait();
    // "x" is done, the agent is stuck in "block", "y" waits behind it.
    eventually(|| seen.load(Ordering::SeqCst) == 3).await;
    let report = orch.shutdown(Duration::from_millis(20)).await;
    assert_eq!(report.agents_drained, 0);
    assert!(report.undelivered.is_empty());
    assert_eq!(report.in_progress, 2, "\"block\" and \"y\"");
    plan.release.store(true, Ordering::SeqCst);
    orch.wait_idle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_refused_to_its_sender() {
    let orch = Orchestrator::with_config(OrchestratorConfig {
        max_message_bytes: 1024,
        ..Default::default()
    });
    let plan = Plan::default();
    let id = orch.spawn(plan.spec()).unwrap();
    let small = orch.spawn(plan.spec().max_message_bytes(8)).unwrap();
    let e = orch.try_send(Message::inform(id, vec![0u8; 1025])).unwrap_err();
    assert_eq!(
        e.kind,
        SendErrorKind::MessageTooLarge {
            agent: id,
            size: 1025,
            limit: 1024
        }
    );
    assert_eq!(e.into_message().payload.len(), 1025, "handed back");
    let e = orch.send(Message::inform(small, vec![0u8; 9])).await.unwrap_err();
    assert!(matches!(e.kind, SendErrorKind::MessageTooLarge { limit: 8, .. }));
    let r = orch.request(Message::request(small, vec![0u8; 9]), T).await;
    assert!(matches!(&r, Err(RequestError::Send(e)) if matches!(e.kind, SendErrorKind::MessageTooLarge { .. })));
    orch.send(Message::inform(id, vec![0u8; 1024])).await.unwrap();
    assert_eq!(by_reason(&orch).get("message_too_large"), Some(&3));
    assert_eq!(orch.stats(small).unwrap().dead_letters, 2);
    let reply = orch.request(Message::request(id, "count"), T).await.unwrap();
    assert_eq!(as_u64(&reply), 1, "only the one within the limit arrived");
    assert_eq!(orch.stats(id).unwrap().restarts, 0);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_an_endless_deadline_does_not_panic() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    orch.spawn(plan.spec()).unwrap();
    let report = orch.shutdown(Duration::MAX).await;
    assert_eq!(report.agents_drained, 1);
    let plan2 = Plan::default();
    let orch = Orchestrator::new();
    let id = orch.spawn(plan2.spec()).unwrap();
    let r = orch
        .request(Message::request(id, "count"), Duration::MAX)
        .await
        .unwrap();
    assert_eq!(as_u64(&r), 0);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_restart_window_limits_restarts_over_the_agents_life() {
    let orch = Orchestrator::new();
    let plan = Plan::default();
    let id = orch
        .spawn(plan.spec().restart_policy(RestartPolicy {
            max_restarts: 2,
            window: Duration::ZERO,
        }))
        .unwrap();
    for _ in 0..5 {
        let _ = orch.try_send(Message::inform(id, "panic"));
    }
    assert_failed_properly(&orch, id).await;
    assert_eq!(orch.failures()[0].restarts, 2);
}
