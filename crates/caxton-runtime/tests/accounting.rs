//! Property: over any interleaving of sends, requests with timeouts,
//! panicking, trapping (a hosted agent's fault) and failing handlers, panicking snapshots, checkpoints, stops
//! and a final shutdown, every message a caller handed to the orchestrator
//! ends exactly once: handled, or dead-lettered (which also covers a send
//! refused back to its caller). Dead-letter counts match the log exactly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caxton_runtime::{
    Agent, AgentError, AgentId, AgentSpec, CheckpointPolicy, Context, FaultKind, Message, Orchestrator,
    OrchestratorConfig, Performative, RestartPolicy,
};
use proptest::prelude::*;

/// What a message asks its handler to do.
#[derive(Clone, Copy, Debug)]
enum Work {
    Ok,
    Panic,
    /// Returns a fault, as a hosted agent does when its guest traps.
    Trap,
    Fail,
    Slow,
    /// Handled, and the next snapshot of this instance panics.
    ArmSnapshotPanic,
}

#[derive(Clone, Debug)]
enum Op {
    TrySend(usize, Work),
    Send(usize, Work),
    Request(usize, Work, u64),
    Checkpoint(usize),
    Stop(usize),
}

fn work() -> impl Strategy<Value = Work> {
    prop_oneof![
        6 => Just(Work::Ok),
        2 => Just(Work::Panic),
        1 => Just(Work::Trap),
        1 => Just(Work::Fail),
        2 => Just(Work::Slow),
        1 => Just(Work::ArmSnapshotPanic),
    ]
}

fn op(agents: usize) -> impl Strategy<Value = Op> {
    let a = 0..agents;
    prop_oneof![
        6 => (a.clone(), work()).prop_map(|(i, w)| Op::TrySend(i, w)),
        4 => (a.clone(), work()).prop_map(|(i, w)| Op::Send(i, w)),
        4 => (a.clone(), work(), 0u64..6).prop_map(|(i, w, t)| Op::Request(i, w, t)),
        1 => a.clone().prop_map(Op::Checkpoint),
        1 => a.prop_map(Op::Stop),
    ]
}

type Handled = Arc<Mutex<Vec<u64>>>;

struct Probe {
    handled: Handled,
    snapshot_panics: AtomicBool,
}

fn payload(id: u64, w: Work) -> Vec<u8> {
    let tag: u8 = match w {
        Work::Ok => b'o',
        Work::Panic => b'p',
        Work::Trap => b't',
        Work::Fail => b'f',
        Work::Slow => b's',
        Work::ArmSnapshotPanic => b'a',
    };
    let mut v = vec![tag];
    v.extend_from_slice(&id.to_le_bytes());
    v
}

fn id_of(payload: &[u8]) -> u64 {
    u64::from_le_bytes(payload[1..9].try_into().unwrap())
}

impl Agent for Probe {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        match msg.payload[0] {
            b'p' => panic!("asked to panic"),
            b't' => return Err(AgentError::fault(FaultKind::Unreachable, "wasm trap: unreachable")),
            b'f' => return Err(AgentError::handler("asked to fail")),
            b's' => std::thread::sleep(Duration::from_millis(2)),
            b'a' => self.snapshot_panics.store(true, Ordering::SeqCst),
            _ => {}
        }
        self.handled.lock().unwrap().push(id_of(&msg.payload));
        if ctx.reply_expected() {
            let _ = ctx.reply(Performative::Inform, "done");
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        if self.snapshot_panics.swap(false, Ordering::SeqCst) {
            panic!("snapshot asked to panic");
        }
        Ok(Some(bytes::Bytes::from_static(b"state")))
    }
}

fn run_case(ops: Vec<Op>, capacity: usize, max_restarts: u32, every: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let orch = Orchestrator::with_config(OrchestratorConfig {
            dead_letter_log: 1 << 20,
            ..Default::default()
        });
        let handled: Handled = Arc::default();
        let h = handled.clone();
        let spec = AgentSpec::new(move || Probe {
            handled: h.clone(),
            snapshot_panics: AtomicBool::new(false),
        })
        .mailbox_capacity(capacity)
        .restart_policy(RestartPolicy {
            max_restarts,
            window: Duration::from_secs(60),
        })
        .checkpoint_policy(if every == 0 {
            CheckpointPolicy::Manual
        } else {
            CheckpointPolicy::EveryMessages(every)
        });
        let agents: Vec<AgentId> = orch.spawn_many(&spec, 3).unwrap();
        let mut sent = 0u64;
        let mut background = Vec::new();
        for op in ops {
            match op {
                Op::TrySend(i, w) => {
                    sent += 1;
                    let _ = orch.try_send(Message::inform(agents[i], payload(sent, w)));
                }
                Op::Send(i, w) => {
                    sent += 1;
                    let o = orch.clone();
                    let m = Message::inform(agents[i], payload(sent, w));
                    background.push(tokio::spawn(async move {
                        let _ = o.send(m).await;
                    }));
                }
                Op::Request(i, w, ms) => {
                    sent += 1;
                    let o = orch.clone();
                    let m = Message::request(agents[i], payload(sent, w));
                    background.push(tokio::spawn(async move {
                        let _ = o.request(m, Duration::from_millis(ms)).await;
                    }));
                }
                Op::Checkpoint(i) => {
                    let o = orch.clone();
                    let id = agents[i];
                    background.push(tokio::spawn(async move {
                        let _ = o.checkpoint(id).await;
                    }));
                }
                Op::Stop(i) => {
                    let o = orch.clone();
                    let id = agents[i];
                    background.push(tokio::spawn(async move {
                        let _ = o.stop(id).await;
                    }));
                }
            }
            tokio::task::yield_now().await;
        }
        // Every call returns: nothing hangs.
        let all = async {
            for task in background {
                task.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("every call returned");
        let report = orch.shutdown(Duration::from_secs(30)).await;
        tokio::time::timeout(Duration::from_secs(30), orch.wait_idle())
            .await
            .expect("every agent exited");
        assert_eq!(report.in_progress, 0);

        let mut outcomes: HashMap<u64, Vec<String>> = HashMap::new();
        for id in handled.lock().unwrap().iter() {
            outcomes.entry(*id).or_default().push("handled".into());
        }
        let dead = orch.recent_dead_letters();
        assert_eq!(
            orch.dead_letter_counts().total,
            dead.len() as u64,
            "each dead letter counted once"
        );
        for d in &dead {
            outcomes
                .entry(id_of(&d.message.payload))
                .or_default()
                .push(format!("{:?}", d.reason));
        }
        for id in 1..=sent {
            let ends = outcomes.get(&id).map_or(&[][..], |v| &v[..]);
            assert_eq!(ends.len(), 1, "message {id} ended {ends:?}");
        }
        assert_eq!(outcomes.len() as u64, sent, "no outcome for an unknown message");
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_message_ends_exactly_once(
        ops in prop::collection::vec(op(3), 1..60),
        capacity in 1usize..4,
        max_restarts in 0u32..4,
        every in 0u64..3,
    ) {
        run_case(ops, capacity, max_restarts, every);
    }
}

/// An agent whose restart policy gives up still counts the batch it failed
/// in: every message that entered its handler is in the orchestrator's
/// handled total, and the faulting one is also a dead letter.
#[test]
fn a_failing_agent_counts_its_last_batch_as_handled() {
    use caxton_runtime::{Agent, AgentError, Context, DeadLetterKind, Message, Orchestrator, RestartPolicy};
    struct Crash;
    impl Agent for Crash {
        fn handle(&mut self, _ctx: &mut Context<'_>, _msg: &Message) -> Result<(), AgentError> {
            panic!("always")
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let orch = Orchestrator::new();
        let id = orch
            .spawn(AgentSpec::new(|| Crash).restart_policy(RestartPolicy::never()))
            .unwrap();
        orch.send(Message::inform(id, "boom")).await.unwrap();
        // Deregistered once it failed (a generous bound, not a timing check).
        for _ in 0..10_000 {
            if orch.stats(id).is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(orch.stats(id).is_none(), "the agent never failed");
        assert_eq!(orch.messages_handled_total(), 1);
        assert_eq!(orch.dead_letter_counts().get(DeadLetterKind::Fault), 1);
        orch.shutdown(std::time::Duration::from_secs(5)).await;
    });
}
