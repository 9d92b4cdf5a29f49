//! Regression tests: a guest cannot make the host hold unbounded memory, an
//! oversized message is refused at the door, a restart needs no second pool
//! slot, a trap in snapshot/restore never leaves a half-restored instance
//! serving, and a guest's extra sends are accounted once.

mod common;

use caxton_runtime::{
    AgentError, Checkpoint, CheckpointError, DeadLetterReason, FaultKind, Message, Orchestrator, RequestError,
    SendErrorKind,
};
use caxton_wasm::guests::{counter, misbehave};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use common::{T, limits};

fn by_reason(orch: &Orchestrator) -> std::collections::HashMap<String, u64> {
    orch.dead_letter_counts().by_reason.into_iter().collect()
}

async fn serves(orch: &Orchestrator, id: caxton_runtime::AgentId) {
    let ok = orch.request(Message::request(id, "hello"), T).await.unwrap();
    assert_eq!(&ok.payload[..], misbehave::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_replies_is_an_outbox_fault_not_host_memory() {
    let host = common::host();
    let orch = Orchestrator::new();
    let module = host.load(guests::MISBEHAVE).unwrap();
    // 1024 replies of 256 KiB would be 256 MiB held by the host.
    let id = orch.spawn(module.spec(limits().fuel(Some(100_000_000)))).unwrap();
    let err = orch
        .request(Message::request(id, misbehave::FLOOD), T)
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Failed { .. }), "{err:?}");
    assert!(common::eventually(|| !orch.recent_dead_letters().is_empty()).await);
    let dead = orch.recent_dead_letters();
    assert!(
        matches!(&dead[0].reason, DeadLetterReason::Fault { kind: FaultKind::OutboxLimit, detail } if detail.contains("outbox limit")),
        "{:?}",
        dead[0].reason
    );
    serves(&orch, id).await;
    assert_eq!(orch.stats(id).unwrap().restarts, 1);
    orch.shutdown(T).await;
}

#[tokio::test]
async fn the_outbox_limit_counts_messages_and_bytes() {
    let host = common::host();
    let module = host.load(guests::MISBEHAVE).unwrap();
    // `chatter` queues two small replies.
    let mut two = module.instantiate(limits().outbox(2, 1 << 20)).unwrap();
    assert_eq!(
        two.call(caxton_runtime::Performative::Request, misbehave::CHATTER)
            .unwrap(),
        2
    );
    let mut one = module.instantiate(limits().outbox(1, 1 << 20)).unwrap();
    let e = one
        .call(caxton_runtime::Performative::Request, misbehave::CHATTER)
        .unwrap_err();
    assert!(
        matches!(
            e,
            AgentError::Fault {
                kind: FaultKind::OutboxLimit,
                ..
            }
        ),
        "{e:?}"
    );
    let mut few_bytes = module.instantiate(limits().outbox(10, 6)).unwrap();
    let e = few_bytes
        .call(caxton_runtime::Performative::Request, misbehave::CHATTER)
        .unwrap_err();
    assert!(
        matches!(
            e,
            AgentError::Fault {
                kind: FaultKind::OutboxLimit,
                ..
            }
        ),
        "{e:?}"
    );
    // A trapped instance never runs guest code again.
    assert!(few_bytes.is_poisoned());
    let e = few_bytes
        .call(caxton_runtime::Performative::Request, b"hello")
        .unwrap_err();
    assert!(matches!(e, AgentError::Fault { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_to_its_sender_without_a_trap() {
    let host = common::host();
    let orch = Orchestrator::new();
    let module = host.load(guests::ECHO).unwrap();
    let id = orch.spawn(module.spec(limits().max_message_bytes(1024))).unwrap();
    let r = orch.request(Message::request(id, vec![1u8; 1025]), T).await;
    assert!(
        matches!(&r, Err(RequestError::Send(e)) if matches!(e.kind, SendErrorKind::MessageTooLarge { size: 1025, limit: 1024, .. })),
        "{r:?}"
    );
    // Larger than the guest's memory could hold: refused too, whatever
    // `max_message_bytes` says (at most half the memory limit).
    let big = orch
        .spawn(module.spec(limits().max_memory(4 << 20).max_message_bytes(64 << 20)))
        .unwrap();
    let e = orch.try_send(Message::inform(big, vec![0u8; 3 << 20])).unwrap_err();
    assert!(
        matches!(e.kind, SendErrorKind::MessageTooLarge { limit, .. } if limit == 2 << 20),
        "{e:?}"
    );
    let reply = orch.request(Message::request(id, vec![2u8; 1024]), T).await.unwrap();
    assert_eq!(reply.payload.len(), 1024);
    assert_eq!(orch.stats(id).unwrap().restarts, 0);
    assert_eq!(orch.stats(big).unwrap().restarts, 0);
    assert_eq!(by_reason(&orch).get("message_too_large"), Some(&2));
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_restarts_the_agent_in_a_full_pool() {
    let host = WasmHost::new(HostConfig::pooling(1, 32 << 20)).unwrap();
    let orch = Orchestrator::new();
    let id = orch
        .spawn(host.load(guests::MISBEHAVE).unwrap().spec(limits()))
        .unwrap();
    for _ in 0..3 {
        let _ = orch.request(Message::request(id, misbehave::UNREACHABLE), T).await;
        serves(&orch, id).await;
    }
    assert!(orch.failures().is_empty(), "{:?}", orch.failures());
    assert_eq!(orch.stats(id).unwrap().restarts, 3);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_reply_that_fails_is_its_own_dead_letter_only() {
    let host = common::host();
    let orch = Orchestrator::new();
    let id = orch
        .spawn(host.load(guests::MISBEHAVE).unwrap().spec(limits()))
        .unwrap();
    let reply = orch.request(Message::request(id, misbehave::CHATTER), T).await.unwrap();
    assert_eq!(&reply.payload[..], misbehave::CHATTER_FIRST);
    assert!(common::eventually(|| orch.dead_letter_counts().total >= 1).await);
    serves(&orch, id).await;
    let by = by_reason(&orch);
    assert_eq!(by.get("no_reply_target"), Some(&1), "{by:?}");
    assert_eq!(orch.dead_letter_counts().total, 1, "{by:?}");
    assert_eq!(orch.stats(id).unwrap().dead_letters, 1);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_in_snapshot_restarts_the_agent() {
    let host = common::host();
    let orch = Orchestrator::new();
    let id = orch
        .spawn(host.load(guests::MISBEHAVE).unwrap().spec(limits()))
        .unwrap();
    orch.send(Message::inform(id, misbehave::TRAP_SNAPSHOT)).await.unwrap();
    let e = orch.checkpoint(id).await.unwrap_err();
    assert!(
        matches!(
            &e,
            CheckpointError::Agent {
                error: AgentError::Fault {
                    kind: FaultKind::Unreachable,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
    serves(&orch, id).await;
    assert_eq!(orch.stats(id).unwrap().restarts, 1);
    // The fresh instance snapshots normally again (no state: unsupported).
    assert!(matches!(
        orch.checkpoint(id).await,
        Err(CheckpointError::Unsupported(_))
    ));
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_in_restore_never_leaves_a_half_restored_instance_serving() {
    let host = common::host();
    let orch = Orchestrator::new();
    let counter = orch.spawn(host.load(guests::COUNTER).unwrap().spec(limits())).unwrap();
    for _ in 0..3 {
        orch.send(Message::inform(counter, "tick")).await.unwrap();
    }
    let good = orch.checkpoint(counter).await.unwrap();
    let bad_id = orch
        .spawn(host.load(guests::MISBEHAVE).unwrap().spec(limits()))
        .unwrap();
    let trap = Checkpoint {
        state: bytes::Bytes::from_static(misbehave::TRAP_RESTORE),
        ..good.clone()
    };
    let e = orch.restore(bad_id, trap).await.unwrap_err();
    assert!(
        matches!(
            &e,
            CheckpointError::Agent {
                error: AgentError::Fault { .. },
                ..
            }
        ),
        "{e:?}"
    );
    serves(&orch, bad_id).await;
    assert_eq!(orch.stats(bad_id).unwrap().restarts, 1);
    // A counter whose restore traps goes back to its last good checkpoint.
    let short = Checkpoint {
        state: bytes::Bytes::from_static(b"x"),
        ..good
    };
    // The counter refuses a short state without trapping: not a fault.
    assert!(orch.restore(counter, short).await.is_err());
    let count = orch
        .request(Message::request(counter, counter::COUNT), T)
        .await
        .unwrap();
    assert_eq!(u64::from_le_bytes(count.payload[..8].try_into().unwrap()), 3);
    assert_eq!(orch.stats(counter).unwrap().restarts, 0);
    orch.shutdown(T).await;
}

#[test]
fn default_limits_bound_the_outbox() {
    let l = AgentLimits::default();
    assert!(l.max_outbox_messages > 0 && l.max_outbox_bytes > 0);
    assert!(l.effective_max_message_bytes() <= l.max_memory / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_orchestrator_releases_its_pool_slots() {
    let host = WasmHost::new(HostConfig::pooling(1, 32 << 20)).unwrap();
    let module = host.load(guests::ECHO).unwrap();
    let orch = Orchestrator::new();
    let id = orch.spawn(module.spec(limits())).unwrap();
    let reply = orch.request(Message::request(id, "hi"), T).await.unwrap();
    assert_eq!(&reply.payload[..], b"hi");
    assert!(module.instantiate(limits()).is_err(), "the pool's one slot is taken");
    drop(orch);
    // No shutdown: the agent still exits and gives its slot back.
    assert!(common::eventually(|| module.instantiate(limits()).is_ok()).await);
}

#[test]
fn a_thread_with_less_stack_than_max_wasm_stack_is_refused_not_crashed() {
    let host = common::host();
    let module = host.load(guests::MISBEHAVE).unwrap();
    // 256 KiB of thread stack, less than wasmtime's default 512 KiB
    // `max_wasm_stack`: recursing guest code would overflow the host's stack.
    let result = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let mut agent = module.instantiate(limits()).unwrap();
            agent.call(caxton_runtime::Performative::Request, misbehave::STACK)
        })
        .unwrap()
        .join()
        .expect("the host thread survives");
    assert!(
        matches!(&result, Err(AgentError::Fault { kind: FaultKind::StackOverflow, detail }) if detail.contains("max_wasm_stack")),
        "{result:?}"
    );
}
