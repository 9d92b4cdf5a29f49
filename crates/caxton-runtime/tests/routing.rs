//! Addressing agents by id, name and capability; request/reply; errors.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caxton_runtime::{
    Address, AgentSpec, DeadLetterReason, Message, Orchestrator, RequestError, Selection, SendErrorKind, SpawnError,
};
use common::{Counter, Echo, as_u64};

const T: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_agents_by_id_name_and_capability() {
    let orch = Orchestrator::new();
    let mut ids = Vec::new();
    for i in 0..1000 {
        let id = orch
            .spawn(AgentSpec::new(|| Echo).name(format!("echo-{i}")).capability("echo"))
            .unwrap();
        ids.push(id);
    }
    assert_eq!(orch.agent_count(), 1000);
    for (i, id) in ids.iter().enumerate() {
        let by_id = orch.request(Message::request(*id, format!("id{i}")), T).await.unwrap();
        assert_eq!(by_id.payload, format!("id{i}").as_bytes());
        assert_eq!(by_id.sender, Some(*id));
        let name = format!("echo-{i}");
        assert_eq!(orch.lookup(&name), Some(*id));
        let by_name = orch
            .request(Message::request(Address::name(name), "n"), T)
            .await
            .unwrap();
        assert_eq!(by_name.sender, Some(*id));
    }
    // Round-robin over the capability reaches every agent exactly once per lap.
    let mut hit = HashSet::new();
    for _ in 0..1000 {
        let r = orch
            .request(Message::request(Address::capability("echo"), "c"), T)
            .await
            .unwrap();
        hit.insert(r.sender.unwrap());
    }
    assert_eq!(hit.len(), 1000);
    assert_eq!(orch.with_capability("echo").len(), 1000);
    for id in &ids {
        // Counters are published at the end of each batch.
        common::eventually(|| orch.stats(*id).unwrap().messages_handled == 3).await;
    }
    let report = orch.shutdown(T).await;
    assert_eq!(report.agents, 1000);
    assert!(report.undelivered.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_loaded_picks_the_emptiest_mailbox() {
    let orch = Orchestrator::new();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let seen = Arc::new(AtomicU64::new(0));
    let (g, s) = (gate.clone(), seen.clone());
    let busy = orch
        .spawn(
            AgentSpec::new(move || common::Gated {
                gate: g.clone(),
                seen: s.clone(),
            })
            .capability("work"),
        )
        .unwrap();
    let idle_seen = Arc::new(AtomicU64::new(0));
    let s2 = idle_seen.clone();
    let idle = orch
        .spawn(AgentSpec::new(move || Counter::new(s2.clone())).capability("work"))
        .unwrap();
    // Park `busy` inside its handler, then queue work behind it.
    orch.send(Message::request(busy, "wait")).await.unwrap();
    for _ in 0..5 {
        orch.send(Message::request(busy, "x")).await.unwrap();
    }
    for _ in 0..10 {
        let pick = orch
            .resolve(&Address::capability("work"), Selection::LeastLoaded)
            .unwrap();
        assert_eq!(pick, idle);
    }
    gate.wait();
    orch.shutdown(T).await;
    assert_eq!(seen.load(Ordering::SeqCst), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_loaded_shares_ties_in_turn() {
    // Every mailbox empty: each member gets picked once per lap, not the
    // first one registered every time.
    let orch = Orchestrator::new();
    let ids: HashSet<_> = (0..4)
        .map(|_| orch.spawn(AgentSpec::new(|| Echo).capability("tie")).unwrap())
        .collect();
    let picks: HashSet<_> = (0..4)
        .map(|_| {
            orch.resolve(&Address::capability("tie"), Selection::LeastLoaded)
                .unwrap()
        })
        .collect();
    assert_eq!(picks, ids);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_every_capable_agent() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let spec = AgentSpec::new(move || Counter::new(s.clone())).capability("listen");
    orch.spawn_many(&spec, 50).unwrap();
    let b = orch
        .broadcast("listen", Message::inform(Address::capability("listen"), "hi"))
        .unwrap();
    assert_eq!(b.delivered.len(), 50);
    assert!(b.failed.is_empty());
    let err = orch
        .broadcast("nobody", Message::inform(Address::capability("nobody"), "hi"))
        .unwrap_err();
    assert!(matches!(err.kind, SendErrorKind::NoCapableAgent(_)));
    orch.shutdown(T).await;
    assert_eq!(seen.load(Ordering::SeqCst), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_stopped_agents_are_typed_errors_and_dead_letters() {
    let orch = Orchestrator::new();
    let id = orch.spawn(AgentSpec::new(|| Echo)).unwrap();
    let never = caxton_runtime::AgentId::new(9_999_999).unwrap();
    let e = orch.try_send(Message::request(never, "x")).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::UnknownAgent(Address::Id(never)));
    assert_eq!(&e.into_message().payload[..], b"x", "the message is handed back");

    let e = orch
        .send(Message::request(Address::name("ghost"), "x"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind, SendErrorKind::UnknownAgent(Address::Name(_))));

    orch.stop(id).await.unwrap();
    let e = orch.try_send(Message::request(id, "x")).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::AgentStopped(id));
    // A request to a dead agent is an error, never a hang.
    let r = orch.request(Message::request(id, "x"), Duration::from_secs(3600)).await;
    assert!(
        matches!(r, Err(RequestError::Send(ref s)) if s.kind == SendErrorKind::AgentStopped(id)),
        "{r:?}"
    );

    let counts = orch.dead_letter_counts();
    assert_eq!(counts.total, 4);
    let by: std::collections::HashMap<_, _> = counts.by_reason.into_iter().collect();
    assert_eq!(by["unknown_agent"], 2);
    assert_eq!(by["agent_stopped"], 2);
    let recent = orch.recent_dead_letters();
    assert_eq!(recent.len(), 4);
    assert_eq!(recent[0].reason, DeadLetterReason::UnknownAgent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_times_out_when_no_reply_comes_in_time() {
    let orch = Orchestrator::new();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let seen = Arc::new(AtomicU64::new(0));
    let (g, s) = (gate.clone(), seen.clone());
    let id = orch
        .spawn(AgentSpec::new(move || common::Gated {
            gate: g.clone(),
            seen: s.clone(),
        }))
        .unwrap();
    orch.send(Message::request(id, "wait")).await.unwrap();
    let r = orch.request(Message::request(id, "x"), Duration::from_millis(50)).await;
    assert!(matches!(r, Err(RequestError::Timeout { accepted: true, .. })), "{r:?}");
    gate.wait();
    // An agent that handles a request without replying yields NoReply.
    let r = orch.request(Message::request(id, "x"), T).await;
    assert!(matches!(r, Err(RequestError::NoReply(a)) if a == id), "{r:?}");
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_are_refused_and_freed_on_stop() {
    let orch = Orchestrator::new();
    let a = orch.spawn(AgentSpec::new(|| Echo).name("solo")).unwrap();
    let e = orch.spawn(AgentSpec::new(|| Echo).name("solo")).unwrap_err();
    assert!(matches!(e, SpawnError::DuplicateName(ref n) if &**n == "solo"), "{e}");
    assert!(matches!(
        orch.spawn(AgentSpec::new(|| Echo).mailbox_capacity(0)),
        Err(SpawnError::ZeroCapacity)
    ));
    orch.stop(a).await.unwrap();
    assert_eq!(orch.lookup("solo"), None);
    let b = orch.spawn(AgentSpec::new(|| Echo).name("solo")).unwrap();
    assert_ne!(a, b);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_message_each_other_and_reply_to_agents() {
    // A pinger asks the counter for its count; the reply comes back as a message.
    use caxton_runtime::{Agent, AgentError, Context, Performative};
    struct Asker {
        target: caxton_runtime::AgentId,
        got: Arc<AtomicU64>,
    }
    impl Agent for Asker {
        fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
            if msg.in_reply_to.is_some() {
                self.got.store(as_u64(msg) + 1000, Ordering::SeqCst);
                return Ok(());
            }
            ctx.send(Message::request(self.target, "count"))
                .map_err(|e| AgentError::handler(e.to_string()))
        }
    }
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let counter = orch.spawn(AgentSpec::new(move || Counter::new(s.clone()))).unwrap();
    for _ in 0..3 {
        orch.send(Message::inform(counter, "tick")).await.unwrap();
    }
    let got = Arc::new(AtomicU64::new(0));
    let g = got.clone();
    let asker = orch
        .spawn(AgentSpec::new(move || Asker {
            target: counter,
            got: g.clone(),
        }))
        .unwrap();
    orch.send(Message::new(asker, Performative::Request, "go"))
        .await
        .unwrap();
    for _ in 0..500 {
        if got.load(Ordering::SeqCst) != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(got.load(Ordering::SeqCst), 1003);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_request_refuses_a_full_mailbox_at_once_and_counts_it() {
    use common::Gated;
    let orch = Orchestrator::new();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let seen = Arc::new(AtomicU64::new(0));
    let (g, s) = (gate.clone(), seen.clone());
    let id = orch
        .spawn(
            AgentSpec::new(move || Gated {
                gate: g.clone(),
                seen: s.clone(),
            })
            .mailbox_capacity(2),
        )
        .unwrap();
    // A message counts against the capacity until handled: the one in the
    // handler and one queued fill a mailbox of 2.
    orch.try_send(Message::inform(id, "wait")).unwrap();
    common::eventually(|| seen.load(Ordering::SeqCst) == 1).await;
    orch.try_send(Message::inform(id, "queued")).unwrap();
    // A full mailbox: `try_request` does not wait for space, whatever the timeout.
    let e = orch
        .try_request(Message::request(id, "x"), Duration::from_secs(3600))
        .await
        .unwrap_err();
    match e {
        RequestError::Send(e) => assert!(matches!(e.kind, SendErrorKind::MailboxFull { .. }), "{e}"),
        other => panic!("expected MailboxFull, got {other}"),
    }
    assert_eq!(
        orch.dead_letter_counts()
            .get(caxton_runtime::DeadLetterKind::MailboxFull),
        1
    );
    let mut depth = None;
    orch.glance_all(|g| depth = Some((g.id, g.mailbox_depth)));
    assert_eq!(depth, Some((id, 2)));
    gate.wait();
    // The orchestrator's total counts both handled messages, and stays
    // after the agent is gone.
    common::eventually(|| orch.messages_handled_total() == 2).await;
    orch.stop(id).await.unwrap();
    assert_eq!(orch.messages_handled_total(), 2);
    assert_eq!(orch.restarts_total(), 0);
    // A message that left the runtime and was then lost is counted once.
    orch.record_dead_letter(Message::inform(id, "gone"), Some(id), DeadLetterReason::Undelivered);
    assert_eq!(
        orch.dead_letter_counts()
            .get(caxton_runtime::DeadLetterKind::Undelivered),
        1
    );
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_start_at_the_configured_first_id_and_spec_declarations_are_readable() {
    let base = 7 << 40;
    let orch = Orchestrator::with_config(caxton_runtime::OrchestratorConfig {
        first_agent_id: base,
        ..Default::default()
    });
    let spec = AgentSpec::new(|| Echo).name("first").capability("echo");
    assert_eq!(spec.declared_name(), Some("first"));
    assert_eq!(&*spec.declared_capabilities()[0], "echo");
    let a = orch.spawn(spec).unwrap();
    let b = orch.spawn(AgentSpec::new(|| Echo)).unwrap();
    assert_eq!((a.get(), b.get()), (base, base + 1));
    // An id below the range was never issued here: unknown, not stopped.
    let below = caxton_runtime::AgentId::new(3).unwrap();
    let err = orch.try_send(Message::inform(below, "x")).unwrap_err();
    assert!(matches!(err.kind, SendErrorKind::UnknownAgent(_)), "{err}");
    orch.stop(a).await.unwrap();
    let err = orch.try_send(Message::inform(a, "x")).unwrap_err();
    assert!(matches!(err.kind, SendErrorKind::AgentStopped(_)), "{err}");
    orch.shutdown(T).await;
}

/// A task that sends in a loop yields to the other tasks of its worker
/// every so often (tokio's cooperative budget, as tokio's own channels),
/// through `Orchestrator::send` and `AgentRef::send` alike, so it cannot
/// hold a worker, and the timers, I/O and requests queued behind it, for
/// the whole loop. On a current-thread runtime the observer task runs only
/// when the sender yields.
#[test]
fn a_task_sending_in_a_loop_lets_the_other_tasks_of_its_worker_run() {
    const SENDS: u64 = 10_000;
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let orch = Orchestrator::new();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        let id = orch
            .spawn(AgentSpec::new(move || Counter::new(counter.clone())).mailbox_capacity(2 * SENDS as usize))
            .unwrap();
        let agent = orch.agent_ref(id).unwrap();
        for by_ref in [false, true] {
            let sent = Arc::new(AtomicU64::new(0));
            let (o, a, s) = (orch.clone(), agent.clone(), sent.clone());
            let sender = tokio::spawn(async move {
                for i in 0..SENDS {
                    let msg = Message::new(
                        Address::Id(id),
                        caxton_runtime::Performative::Inform,
                        i.to_le_bytes().to_vec(),
                    );
                    if by_ref { a.send(msg).await } else { o.send(msg).await }.unwrap();
                    s.fetch_add(1, Ordering::Relaxed);
                }
            });
            let s = sent.clone();
            let observer = tokio::spawn(async move { s.load(Ordering::Relaxed) });
            sender.await.unwrap();
            let when_observed = observer.await.unwrap();
            assert!(
                when_observed < SENDS,
                "the observer ran only after all {SENDS} sends (AgentRef: {by_ref})"
            );
        }
        drop(agent);
        let report = orch.shutdown(Duration::from_secs(30)).await;
        assert!(report.undelivered.is_empty() && report.in_progress == 0);
        assert_eq!(seen.load(Ordering::Relaxed), 2 * SENDS, "every message handled");
    });
}

/// Sends itself a message for every one it handles, until `left` runs out:
/// a busy agent whose batches keep coming.
struct Relay {
    left: Arc<AtomicU64>,
    handled: Arc<AtomicU64>,
}

impl caxton_runtime::Agent for Relay {
    fn handle(&mut self, ctx: &mut caxton_runtime::Context<'_>, _: &Message) -> Result<(), caxton_runtime::AgentError> {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if self
            .left
            .try_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            let again = Message::new(Address::Id(ctx.id()), caxton_runtime::Performative::Inform, "again");
            ctx.send(again)
                .map_err(|e| caxton_runtime::AgentError::handler(e.to_string()))?;
        }
        Ok(())
    }
}

/// A busy agent takes one unit of tokio's cooperative budget per message,
/// as a tokio channel's receiver does, so it yields its worker every 128
/// messages or so, however its messages are batched (here 64 a batch: one
/// unit per batch would hold the worker for 128 batches, 8192 messages).
#[test]
fn a_busy_agent_lets_the_other_tasks_of_its_worker_run() {
    const BATCH: u64 = 64;
    const MESSAGES: u64 = 100_000;
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let orch = Orchestrator::new();
        let left = Arc::new(AtomicU64::new(MESSAGES - BATCH));
        let handled = Arc::new(AtomicU64::new(0));
        let (l, h) = (left.clone(), handled.clone());
        let id = orch
            .spawn(AgentSpec::new(move || Relay {
                left: l.clone(),
                handled: h.clone(),
            }))
            .unwrap();
        for _ in 0..BATCH {
            orch.try_send(Message::new(
                Address::Id(id),
                caxton_runtime::Performative::Inform,
                "go",
            ))
            .unwrap();
        }
        // Spawned after the agent was woken: it runs when the agent yields.
        let h = handled.clone();
        let when_observed = tokio::spawn(async move { h.load(Ordering::Relaxed) }).await.unwrap();
        assert!(
            when_observed <= 4 * 128,
            "the agent held its worker for {when_observed} messages"
        );
        // The relay runs to its end (shutdown would refuse its sends).
        for _ in 0..MESSAGES {
            if handled.load(Ordering::Relaxed) == MESSAGES {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(handled.load(Ordering::Relaxed), MESSAGES, "every message handled");
        let report = orch.shutdown(Duration::from_secs(30)).await;
        assert!(report.undelivered.is_empty() && report.in_progress == 0);
    });
}
