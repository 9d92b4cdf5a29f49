//! Every trap becomes a typed fault; the supervisor restarts the agent and
//! the orchestrator keeps serving everyone else.

mod common;

use caxton_runtime::agents::Echo;
use caxton_runtime::{AgentSpec, DeadLetterReason, FaultKind, Message, Orchestrator, RequestError, RestartPolicy};
use caxton_wasm::guests::misbehave::{FAIL, GROW, LOOP, OK, OOB, STACK, UNREACHABLE};
use caxton_wasm::{CpuMode, HostConfig, WasmHost, guests};
use common::{T, limits};

async fn assert_fault(host: &WasmHost, command: &'static [u8], kind: FaultKind) {
    let name = String::from_utf8_lossy(command);
    let orch = Orchestrator::new();
    let module = host.load(guests::MISBEHAVE).expect("load misbehave");
    let bad = orch.spawn(module.spec(limits())).unwrap();
    let echo = orch.spawn(host.load(guests::ECHO).unwrap().spec(limits())).unwrap();
    let twin = orch.spawn(AgentSpec::new(|| Echo)).unwrap();

    let err = orch
        .request(Message::request(bad, command), T)
        .await
        .expect_err("the command must fault");
    assert!(
        matches!(err, RequestError::Failed { agent, .. } if agent == bad),
        "{name}: {err:?}"
    );

    // The dead letter is recorded just after the caller hears of the failure.
    let is_ours = |d: &caxton_runtime::DeadLetter| &d.message.payload[..] == command;
    assert!(common::eventually(|| orch.recent_dead_letters().iter().any(is_ours)).await);
    let dead = orch.recent_dead_letters();
    let faulted = dead
        .iter()
        .find(|d| &d.message.payload[..] == command)
        .unwrap_or_else(|| panic!("{name}: no dead letter in {dead:?}"));
    assert!(
        matches!(&faulted.reason, DeadLetterReason::Fault { kind: k, .. } if *k == kind),
        "{name}: {:?}",
        faulted.reason
    );
    // The detail names the cause: the trap, or the limit that was hit.
    let DeadLetterReason::Fault { detail, .. } = &faulted.reason else {
        unreachable!()
    };
    assert!(
        detail.contains("wasm trap") || detail.contains("limit"),
        "{name}: {detail}"
    );

    // The agent was restarted and serves again; so do the others.
    let ok = orch.request(Message::request(bad, "hello"), T).await.unwrap();
    assert_eq!(&ok.payload[..], OK);
    // Stats are published per batch, so they may trail the reply a little.
    let restarted = common::eventually(|| {
        orch.stats(bad)
            .is_some_and(|s| s.restarts == 1 && s.recovery_times.len() == 1)
    })
    .await;
    assert!(restarted, "{name}: {:?}", orch.stats(bad));
    for id in [echo, twin] {
        let reply = orch.request(Message::request(id, "still here"), T).await.unwrap();
        assert_eq!(&reply.payload[..], b"still here");
    }
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_hits_the_epoch_cpu_limit() {
    assert_fault(&common::host(), LOOP, FaultKind::CpuLimit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_runs_out_of_fuel() {
    let host = WasmHost::new(HostConfig {
        cpu: CpuMode::Fuel,
        ..common::config()
    })
    .unwrap();
    assert_fault(&host, LOOP, FaultKind::CpuLimit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_growth_hits_the_memory_limit() {
    assert_fault(&common::host(), GROW, FaultKind::MemoryLimit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_traps() {
    assert_fault(&common::host(), UNREACHABLE, FaultKind::Unreachable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_bounds_access_traps() {
    assert_fault(&common::host(), OOB, FaultKind::MemoryOutOfBounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_overflow_traps() {
    assert_fault(&common::host(), STACK, FaultKind::StackOverflow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_handler_errors_are_dead_letters_without_restart() {
    let host = common::host();
    let orch = Orchestrator::new();
    let bad = orch
        .spawn(host.load(guests::MISBEHAVE).unwrap().spec(limits()))
        .unwrap();
    let err = orch.request(Message::request(bad, FAIL), T).await.unwrap_err();
    assert!(matches!(err, RequestError::Failed { .. }), "{err:?}");
    assert!(common::eventually(|| !orch.recent_dead_letters().is_empty()).await);
    let dead = orch.recent_dead_letters();
    assert!(matches!(&dead[0].reason, DeadLetterReason::HandlerError(_)), "{dead:?}");
    assert_eq!(orch.stats(bad).unwrap().restarts, 0);
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_faults_exhaust_the_restart_policy() {
    let host = common::host();
    let orch = Orchestrator::new();
    let spec = host
        .load(guests::MISBEHAVE)
        .unwrap()
        .spec(limits())
        .restart_policy(RestartPolicy {
            max_restarts: 1,
            window: std::time::Duration::from_secs(60),
        });
    let bad = orch.spawn(spec).unwrap();
    for _ in 0..2 {
        let _ = orch.request(Message::request(bad, UNREACHABLE), T).await;
    }
    assert!(common::eventually(|| orch.failures().iter().any(|f| f.agent == bad)).await);
    orch.shutdown(T).await;
}
