//! Backpressure, supervision, checkpoints, stats and shutdown.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caxton_runtime::{
    AgentSpec, AgentStatus, CheckpointError, CheckpointPolicy, CpuClock, DeadLetterReason, FaultKind, Message,
    Orchestrator, OrchestratorConfig, RequestError, RestartPolicy, SendErrorKind,
};
use common::{Counter, Gated, as_u64, eventually};

const T: Duration = Duration::from_secs(5);

fn gated(orch: &Orchestrator, capacity: usize) -> (caxton_runtime::AgentId, Arc<std::sync::Barrier>, Arc<AtomicU64>) {
    let gate = Arc::new(std::sync::Barrier::new(2));
    let seen = Arc::new(AtomicU64::new(0));
    let (g, s) = (gate.clone(), seen.clone());
    let id = orch
        .spawn(
            AgentSpec::new(move || Gated {
                gate: g.clone(),
                seen: s.clone(),
            })
            .mailbox_capacity(capacity),
        )
        .unwrap();
    (id, gate, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mailbox_fails_fast_with_try_send() {
    let orch = Orchestrator::new();
    let (id, gate, seen) = gated(&orch, 4);
    orch.try_send(Message::request(id, "wait")).unwrap();
    // Wait until the agent is inside its handler holding the first message.
    eventually(|| seen.load(Ordering::SeqCst) == 1).await;
    for _ in 0..3 {
        orch.try_send(Message::request(id, "x")).unwrap();
    }
    let e = orch.try_send(Message::request(id, "over")).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::MailboxFull { agent: id, capacity: 4 });
    assert_eq!(&e.message.payload[..], b"over");
    let stats = orch.stats(id).unwrap();
    assert_eq!(stats.mailbox_depth, 4);
    assert_eq!(stats.mailbox_high_water, 4);
    assert_eq!(stats.dead_letters, 1);
    gate.wait();
    orch.shutdown(T).await;
    assert_eq!(seen.load(Ordering::SeqCst), 4, "every accepted message was handled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mailbox_makes_send_wait_for_space() {
    let orch = Orchestrator::new();
    let (id, gate, seen) = gated(&orch, 2);
    orch.send(Message::request(id, "wait")).await.unwrap();
    orch.send(Message::request(id, "x")).await.unwrap();
    let o = orch.clone();
    let waiting = tokio::spawn(async move { o.send(Message::request(id, "late")).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "send must wait while the mailbox is full");
    assert_eq!(orch.stats(id).unwrap().mailbox_depth, 2);
    gate.wait();
    waiting.await.unwrap().unwrap();
    orch.shutdown(T).await;
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert_eq!(orch.dead_letter_counts().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_agent_restarts_and_keeps_its_queue() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let (id, gate, _) = {
        // Block the agent first so the panic and the messages behind it queue up together.
        let gate = Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        struct GateThenCount {
            gate: Arc<std::sync::Barrier>,
            inner: Counter,
        }
        impl caxton_runtime::Agent for GateThenCount {
            fn handle(
                &mut self,
                ctx: &mut caxton_runtime::Context<'_>,
                msg: &Message,
            ) -> Result<(), caxton_runtime::AgentError> {
                if &msg.payload[..] == b"wait" {
                    self.gate.wait();
                    return Ok(());
                }
                self.inner.handle(ctx, msg)
            }
            fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, caxton_runtime::AgentError> {
                self.inner.snapshot()
            }
            fn restore(&mut self, state: &[u8]) -> Result<(), caxton_runtime::AgentError> {
                self.inner.restore(state)
            }
        }
        let id = orch
            .spawn(AgentSpec::new(move || GateThenCount {
                gate: g.clone(),
                inner: Counter::new(s.clone()),
            }))
            .unwrap();
        (id, gate, ())
    };
    for _ in 0..3 {
        orch.send(Message::inform(id, "tick")).await.unwrap();
    }
    let cp = orch.checkpoint(id).await.unwrap();
    assert_eq!(cp.sequence, 1);
    assert_eq!(caxton_runtime::checkpoint::decode::<u64>(&cp.state).unwrap(), 3);
    orch.send(Message::request(id, "wait")).await.unwrap();
    orch.send(Message::inform(id, "panic")).await.unwrap();
    for _ in 0..5 {
        orch.send(Message::inform(id, "tick")).await.unwrap();
    }
    gate.wait();
    let reply = orch.request(Message::request(id, "count"), T).await.unwrap();
    // Restored to 3 from the checkpoint, then the 5 queued ticks.
    assert_eq!(as_u64(&reply), 8);
    assert_eq!(seen.load(Ordering::SeqCst), 8);
    let stats = orch.stats(id).unwrap();
    assert_eq!(stats.restarts, 1);
    assert_eq!(stats.recovery_times.len(), 1);
    assert_eq!(stats.status, AgentStatus::Running);
    let dead = orch.recent_dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(&dead[0].message.payload[..], b"panic");
    assert!(
        matches!(&dead[0].reason, DeadLetterReason::Fault { kind: FaultKind::Panic, detail } if detail == "asked to panic"),
        "{:?}",
        dead[0].reason
    );
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policy_stops_an_agent_that_keeps_failing() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let policy = RestartPolicy {
        max_restarts: 2,
        window: Duration::from_secs(60),
    };
    let id = orch
        .spawn(
            AgentSpec::new(move || Counter::new(s.clone()))
                .restart_policy(policy)
                .name("fragile"),
        )
        .unwrap();
    for _ in 0..2 {
        let r = orch.request(Message::request(id, "panic"), T).await;
        assert!(matches!(r, Err(RequestError::Failed { .. })), "{r:?}");
    }
    assert_eq!(orch.stats(id).unwrap().restarts, 2);
    // The third fault exceeds the policy: the agent is stopped and reported.
    let r = orch.request(Message::request(id, "panic"), T).await;
    assert!(matches!(r, Err(RequestError::Failed { .. })), "{r:?}");
    eventually(|| orch.stats(id).is_none()).await;
    let failures = orch.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].agent, id);
    assert_eq!(failures[0].restarts, 2);
    assert!(failures[0].reason.contains("restart limit"), "{}", failures[0].reason);
    let e = orch.try_send(Message::request(id, "x")).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::AgentStopped(id));
    assert_eq!(orch.lookup("fragile"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_are_dead_letters_without_restart() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let id = orch.spawn(AgentSpec::new(move || Counter::new(s.clone()))).unwrap();
    let r = orch.request(Message::request(id, "fail"), T).await;
    assert!(
        matches!(r, Err(RequestError::Failed { ref reason, .. }) if reason.contains("asked to fail")),
        "{r:?}"
    );
    orch.send(Message::inform(id, "tick")).await.unwrap();
    let count = orch.request(Message::request(id, "count"), T).await.unwrap();
    assert_eq!(as_u64(&count), 1);
    // Counters are published at the end of each batch.
    eventually(|| orch.stats(id).unwrap().messages_handled == 3).await;
    let stats = orch.stats(id).unwrap();
    assert_eq!(stats.restarts, 0);
    assert_eq!(stats.dead_letters, 1);
    assert_eq!(stats.messages_handled, 3);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_restore_and_start_agents() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let spec = AgentSpec::new(move || Counter::new(s.clone()));
    let a = orch.spawn(spec.clone()).unwrap();
    for _ in 0..7 {
        orch.send(Message::inform(a, "tick")).await.unwrap();
    }
    let cp = orch.checkpoint(a).await.unwrap();
    // A new agent started from that checkpoint continues the count.
    let b = orch.spawn(spec.clone().restore_from(cp.clone())).unwrap();
    orch.send(Message::inform(b, "tick")).await.unwrap();
    assert_eq!(as_u64(&orch.request(Message::request(b, "count"), T).await.unwrap()), 8);
    // Restoring into a running agent rewinds it.
    orch.send(Message::inform(a, "tick")).await.unwrap();
    orch.restore(a, cp).await.unwrap();
    assert_eq!(as_u64(&orch.request(Message::request(a, "count"), T).await.unwrap()), 7);
    // Serde round trip of the checkpoint itself.
    let cp2 = orch.checkpoint(a).await.unwrap();
    let json = serde_json::to_string(&cp2).unwrap();
    assert_eq!(serde_json::from_str::<caxton_runtime::Checkpoint>(&json).unwrap(), cp2);
    // Stateless agents say so.
    let e = orch.spawn(AgentSpec::new(|| common::Echo)).unwrap();
    assert!(matches!(orch.checkpoint(e).await, Err(CheckpointError::Unsupported(x)) if x == e));
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_checkpoints_bound_what_a_restart_loses() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let id = orch
        .spawn(AgentSpec::new(move || Counter::new(s.clone())).checkpoint_policy(CheckpointPolicy::EveryMessages(1)))
        .unwrap();
    for _ in 0..10 {
        orch.send(Message::inform(id, "tick")).await.unwrap();
    }
    let _ = orch.request(Message::request(id, "panic"), T).await;
    assert_eq!(
        as_u64(&orch.request(Message::request(id, "count"), T).await.unwrap()),
        10
    );
    assert!(orch.stats(id).unwrap().checkpoints >= 1);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_messages_cpu_and_batches() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let id = orch
        .spawn(AgentSpec::new(move || Counter::new(s.clone())).name("c"))
        .unwrap();
    for _ in 0..1000 {
        orch.send(Message::inform(id, "tick")).await.unwrap();
    }
    let _ = orch.request(Message::request(id, "count"), T).await.unwrap();
    // Counters are published at the end of each batch.
    eventually(|| orch.stats(id).unwrap().messages_handled == 1001).await;
    let st = orch.stats(id).unwrap();
    assert!(st.batches >= 1 && st.batches <= 1001);
    assert_eq!(st.name.as_deref(), Some("c"));
    assert_eq!(st.mailbox_capacity, 1024);
    assert!(st.mailbox_high_water >= 1);
    assert_eq!(st.memory_bytes, None);
    assert_eq!(orch.all_stats().len(), 1);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_every_accepted_message() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let ids = orch
        .spawn_many(&AgentSpec::new(move || Counter::new(s.clone())), 100)
        .unwrap();
    let mut accepted = 0u64;
    for round in 0..100 {
        for id in &ids {
            if orch.try_send(Message::inform(*id, format!("{round}"))).is_ok() {
                accepted += 1;
            }
        }
    }
    let report = orch.shutdown(T).await;
    assert_eq!(report.agents, 100);
    assert_eq!(report.agents_drained, 100);
    assert!(report.undelivered.is_empty());
    assert_eq!(seen.load(Ordering::SeqCst), accepted);
    assert_eq!(orch.agent_count(), 0);
    let e = orch.try_send(Message::inform(ids[0], "late")).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::ShuttingDown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_many_stops_at_a_failing_constructor_and_keeps_the_agents_before_it() {
    let orch = Orchestrator::new();
    let built = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let (b, s) = (built.clone(), seen.clone());
    let spec = AgentSpec::try_new(move || {
        if b.fetch_add(1, Ordering::SeqCst) == 3 {
            return Err(caxton_runtime::AgentError::fault(
                FaultKind::Other,
                "fourth constructor fails",
            ));
        }
        Ok(Counter::new(s.clone()))
    });
    let e = orch.spawn_many(&spec, 10).unwrap_err();
    assert!(matches!(e, caxton_runtime::SpawnError::Init(_)), "{e:?}");
    assert_eq!(
        built.load(Ordering::SeqCst),
        4,
        "no constructor runs after the failing one"
    );
    assert_eq!(orch.agent_count(), 3);
    let ids: Vec<_> = orch.all_stats().iter().map(|s| s.id).collect();
    for id in &ids {
        orch.send(Message::inform(*id, "1")).await.unwrap();
    }
    eventually(|| seen.load(Ordering::SeqCst) == 3).await;
    let report = orch.shutdown(T).await;
    assert_eq!(report.agents, 3);
    assert!(report.undelivered.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reports_what_a_stuck_agent_could_not_handle() {
    let orch = Orchestrator::new();
    let (id, gate, seen) = gated(&orch, 16);
    orch.send(Message::request(id, "wait")).await.unwrap();
    // Let the agent take "wait" alone and block on it.
    eventually(|| seen.load(Ordering::SeqCst) == 1).await;
    for i in 0..5 {
        orch.send(Message::request(id, format!("q{i}"))).await.unwrap();
    }
    let report = orch.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.agents_drained, 0);
    assert_eq!(report.undelivered.len(), 5);
    assert_eq!(report.in_progress, 1, "the message in the stuck handler");
    assert!(report.undelivered.iter().all(|d| d.agent == Some(id)));
    let by: std::collections::HashMap<_, _> = orch.dead_letter_counts().by_reason.into_iter().collect();
    assert_eq!(by["undelivered"], 5);
    gate.wait();
    orch.wait_idle().await;
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

/// Spins in its handler until its thread has used the given CPU time, then
/// replies: a handler whose CPU time is known in advance.
struct Busy(Duration);

impl caxton_runtime::Agent for Busy {
    fn handle(
        &mut self,
        ctx: &mut caxton_runtime::Context<'_>,
        msg: &Message,
    ) -> Result<(), caxton_runtime::AgentError> {
        let start = caxton_runtime::cpu::thread_cpu_time();
        while caxton_runtime::cpu::thread_cpu_time().saturating_sub(start) < self.0 {
            std::hint::spin_loop();
        }
        ctx.reply(caxton_runtime::Performative::Inform, msg.payload.clone())
            .map_err(|e| caxton_runtime::AgentError::handler(e.to_string()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_time_follows_the_configured_clock() {
    let spin = Duration::from_millis(3);
    for clock in [CpuClock::Sampled, CpuClock::Thread, CpuClock::Wall, CpuClock::Off] {
        let orch = Orchestrator::with_config(OrchestratorConfig {
            cpu_clock: clock,
            ..OrchestratorConfig::default()
        });
        let id = orch.spawn(AgentSpec::new(move || Busy(spin))).unwrap();
        orch.request(Message::request(id, "go"), T).await.unwrap();
        // Stats are published when the batch ends, just after the reply.
        match clock {
            // Every clock advances at least as far as the thread's CPU clock.
            CpuClock::Sampled | CpuClock::Thread | CpuClock::Wall => {
                eventually(|| orch.stats(id).unwrap().handler_cpu >= spin).await;
            }
            CpuClock::Off => {
                eventually(|| orch.stats(id).unwrap().batches >= 1).await;
                assert_eq!(orch.stats(id).unwrap().handler_cpu, Duration::ZERO);
            }
        }
        orch.shutdown(T).await;
    }
}

/// Spins a varying amount of thread CPU per message (none, 20 µs or
/// 300 µs) and sums what its handler took on the thread clock.
struct MeasuredSpin {
    n: u64,
    truth: Arc<AtomicU64>,
}

impl caxton_runtime::Agent for MeasuredSpin {
    fn handle(&mut self, ctx: &mut caxton_runtime::Context<'_>, _: &Message) -> Result<(), caxton_runtime::AgentError> {
        let start = caxton_runtime::cpu::thread_cpu_time();
        self.n += 1;
        let spin = match self.n % 7 {
            0 => Duration::from_micros(300),
            1 | 2 => Duration::from_micros(20),
            _ => Duration::ZERO,
        };
        while caxton_runtime::cpu::thread_cpu_time().saturating_sub(start) < spin {
            std::hint::spin_loop();
        }
        if ctx.reply_expected() {
            ctx.reply(caxton_runtime::Performative::Inform, "done")
                .map_err(|e| caxton_runtime::AgentError::handler(e.to_string()))?;
        }
        let took = caxton_runtime::cpu::thread_cpu_time().saturating_sub(start);
        self.truth.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The sampled clock's bound, which holds by construction whatever the
/// machine's load: an agent's handler time is at least the thread CPU its
/// handlers took (up to the clocks' rate difference) and at most the wall
/// time its batches spanned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_handler_time_is_bounded_by_thread_cpu_and_wall_time() {
    let orch = Orchestrator::with_config(OrchestratorConfig {
        cpu_clock: CpuClock::Sampled,
        ..OrchestratorConfig::default()
    });
    let truth = Arc::new(AtomicU64::new(0));
    let t = truth.clone();
    let id = orch
        .spawn(AgentSpec::new(move || MeasuredSpin { n: 0, truth: t.clone() }))
        .unwrap();
    let began = std::time::Instant::now();
    for i in 0..700u64 {
        if i % 3 == 0 {
            orch.request(Message::request(id, "go"), T).await.unwrap();
        } else {
            orch.send(Message::inform(id, "go")).await.unwrap();
        }
    }
    let truth = || Duration::from_nanos(truth.load(Ordering::Relaxed));
    // The batch's time is published just after its messages are counted.
    eventually(|| {
        let st = orch.stats(id).unwrap();
        st.messages_handled == 700 && st.handler_cpu.as_secs_f64() >= truth().as_secs_f64() * 0.99
    })
    .await;
    let cpu = orch.stats(id).unwrap().handler_cpu;
    let elapsed = began.elapsed();
    assert!(cpu <= elapsed, "{cpu:?} > {elapsed:?}");
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_hook_sees_every_checkpoint_and_a_panicking_hook_is_contained() {
    let orch = Orchestrator::new();
    let seen = Arc::new(AtomicU64::new(0));
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (s, k) = (seen.clone(), kept.clone());
    let spec = AgentSpec::new(move || Counter::new(s.clone()))
        .checkpoint_policy(CheckpointPolicy::EveryMessages(2))
        .on_checkpoint(move |cp| k.lock().unwrap().push((cp.sequence, cp.messages_handled)));
    let a = orch.spawn(spec).unwrap();
    for _ in 0..4 {
        orch.send(Message::inform(a, "tick")).await.unwrap();
    }
    let manual = orch.checkpoint(a).await.unwrap();
    assert_eq!(manual.sequence, 3);
    assert_eq!(*kept.lock().unwrap(), vec![(1, 2), (2, 4), (3, 4)]);
    // A hook that panics leaves the checkpoint and the agent as they were.
    let s = seen.clone();
    let b = orch
        .spawn(AgentSpec::new(move || Counter::new(s.clone())).on_checkpoint(|_| panic!("hook")))
        .unwrap();
    orch.send(Message::inform(b, "tick")).await.unwrap();
    assert_eq!(orch.checkpoint(b).await.unwrap().sequence, 1);
    assert_eq!(as_u64(&orch.request(Message::request(b, "count"), T).await.unwrap()), 1);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_spawned_with_an_id_keeps_it_and_a_taken_id_is_refused() {
    let orch = Orchestrator::with_config(OrchestratorConfig {
        first_agent_id: 100,
        ..Default::default()
    });
    let moved = caxton_runtime::AgentId::new(7).unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let spec = AgentSpec::new(move || Counter::new(s.clone()));
    assert_eq!(orch.spawn(spec.clone().with_id(moved)).unwrap(), moved);
    orch.send(Message::inform(moved, "tick")).await.unwrap();
    assert_eq!(
        as_u64(&orch.request(Message::request(moved, "count"), T).await.unwrap()),
        1
    );
    // Live here, or handed out here: refused, and nothing is registered.
    let named = spec.clone().name("twin").with_id(moved);
    assert!(matches!(orch.spawn(named), Err(caxton_runtime::SpawnError::IdTaken(x)) if x == moved));
    assert!(orch.lookup("twin").is_none());
    let own = orch.spawn(spec.clone()).unwrap();
    assert_eq!(own.get(), 100);
    orch.stop(own).await.unwrap();
    assert!(matches!(orch.spawn(spec.clone().with_id(own)), Err(caxton_runtime::SpawnError::IdTaken(x)) if x == own));
    orch.shutdown(T).await;
}
