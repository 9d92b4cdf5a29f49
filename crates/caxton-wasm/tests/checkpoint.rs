//! A WASM counter's state survives a trap-and-restart through its checkpoint.

mod common;

use caxton_runtime::{CheckpointPolicy, DeadLetterReason, FaultKind, Message, Orchestrator};
use caxton_wasm::guests;
use caxton_wasm::guests::counter::{COUNT, TRAP};
use common::{T, limits};

fn count(msg: &Message) -> u64 {
    u64::from_le_bytes(msg.payload[..8].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_state_survives_a_trap_via_its_checkpoint() {
    let host = common::host();
    let module = host.load(guests::COUNTER).unwrap();
    assert!(module.is_checkpointable());
    let orch = Orchestrator::new();
    let id = orch.spawn(module.spec(limits())).unwrap();
    for _ in 0..3 {
        orch.send(Message::inform(id, "tick")).await.unwrap();
    }
    let cp = orch.checkpoint(id).await.unwrap();
    assert_eq!(&cp.state[..], &3u64.to_le_bytes());
    orch.send(Message::inform(id, TRAP)).await.unwrap();
    for _ in 0..2 {
        orch.send(Message::inform(id, "tick")).await.unwrap();
    }
    // Restored to 3 from the checkpoint, then the 2 ticks queued behind the trap.
    let reply = orch.request(Message::request(id, COUNT), T).await.unwrap();
    assert_eq!(count(&reply), 5);
    let restarted = common::eventually(|| {
        orch.stats(id)
            .is_some_and(|s| s.restarts == 1 && s.recovery_times.len() == 1)
    })
    .await;
    assert!(restarted, "{:?}", orch.stats(id));
    assert!(common::eventually(|| orch.recent_dead_letters().len() == 1).await);
    let dead = orch.recent_dead_letters();
    assert_eq!(&dead[0].message.payload[..], TRAP);
    assert!(matches!(
        &dead[0].reason,
        DeadLetterReason::Fault {
            kind: FaultKind::Unreachable,
            ..
        }
    ));
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_checkpoints_and_restore_from() {
    let host = common::host();
    let module = host.load(guests::COUNTER).unwrap();
    let orch = Orchestrator::new();
    let spec = module
        .spec(limits())
        .checkpoint_policy(CheckpointPolicy::EveryMessages(1));
    let a = orch.spawn(spec.clone()).unwrap();
    for _ in 0..4 {
        orch.send(Message::inform(a, "tick")).await.unwrap();
    }
    orch.send(Message::inform(a, TRAP)).await.unwrap();
    assert_eq!(count(&orch.request(Message::request(a, COUNT), T).await.unwrap()), 4);

    // A new agent started from a checkpoint continues the count.
    let cp = orch.checkpoint(a).await.unwrap();
    let b = orch.spawn(module.spec(limits()).restore_from(cp)).unwrap();
    orch.send(Message::inform(b, "tick")).await.unwrap();
    assert_eq!(count(&orch.request(Message::request(b, COUNT), T).await.unwrap()), 5);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_guests_have_no_checkpoint_state() {
    let host = common::host();
    let orch = Orchestrator::new();
    let echo = orch.spawn(host.load(guests::ECHO).unwrap().spec(limits())).unwrap();
    let cp = orch.checkpoint(echo).await;
    assert!(cp.is_err(), "{cp:?}");
    orch.shutdown(T).await;
}
