//! Where agents run (`Executor`): the orchestrator's own threads, one per
//! core, or the runtime it was made on. Its own test binary, so the
//! threads it counts are only its own.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caxton_runtime::{
    Agent, AgentError, AgentId, AgentSpec, Context, Executor, Message, Orchestrator, OrchestratorConfig, RestartPolicy,
};
use common::Counter;

const T: Duration = Duration::from_secs(5);

/// Records the name of the thread each of its messages was handled on.
struct WhereAmI(Arc<Mutex<HashMap<AgentId, HashSet<String>>>>);

impl Agent for WhereAmI {
    fn handle(&mut self, ctx: &mut Context<'_>, _msg: &Message) -> Result<(), AgentError> {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        self.0.lock().unwrap().entry(ctx.id()).or_default().insert(name);
        ctx.reply(caxton_runtime::Performative::Inform, Vec::new())
            .map_err(|e| AgentError::handler(e.to_string()))
    }
}

/// Names of this process's live threads that start with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with(prefix))
        .count()
}

/// Held by each test that counts threads, so no other test starts or ends
/// an orchestrator's threads meanwhile.
static COUNTING: Mutex<()> = Mutex::new(());

/// Waits until exactly `n` of the executor's threads are live (a new
/// thread names itself once it runs, an ending one goes once it exits).
fn expect_core_threads(n: usize, what: &str) {
    let deadline = Instant::now() + T;
    loop {
        let live = threads_named("caxton-core-");
        if live == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {live} executor threads, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn per_core(threads: usize) -> OrchestratorConfig {
    OrchestratorConfig {
        executor: Executor::PerCore { threads },
        ..OrchestratorConfig::default()
    }
}

#[test]
fn per_core_pins_each_agent_to_one_thread_needs_no_runtime_and_its_threads_end_with_it() {
    let _counting = COUNTING.lock().unwrap_or_else(|p| p.into_inner());
    let seen = Arc::new(Mutex::new(HashMap::new()));
    // Made and driven from a plain thread: no tokio runtime anywhere here.
    let orch = Orchestrator::with_config(per_core(3));
    expect_core_threads(3, "started");
    let ids = orch
        .spawn_many(
            &AgentSpec::new({
                let seen = seen.clone();
                move || WhereAmI(seen.clone())
            }),
            30,
        )
        .unwrap();
    // Requests keep their own deadlines: no tokio timers needed.
    let client = tokio::runtime::Builder::new_current_thread().build().unwrap();
    client.block_on(async {
        for _ in 0..5 {
            for &id in &ids {
                orch.request(Message::request(id, "where"), T).await.unwrap();
            }
        }
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 30);
    for (id, threads) in seen.iter() {
        // One thread for the agent's whole life, chosen by its id.
        let expected = format!("caxton-core-{}", id.get() % 3);
        assert_eq!(threads, &HashSet::from([expected]), "{id}");
    }
    drop(seen);
    drop(client);
    drop(orch);
    // The agents exit on their threads; the last one out drops the
    // orchestrator there, and the threads then end on their own.
    expect_core_threads(0, "after the orchestrator and its agents are gone");
}

#[test]
fn shared_runs_agents_on_the_runtime_the_orchestrator_was_made_on() {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("the-users-runtime")
        .build()
        .unwrap();
    let config = OrchestratorConfig {
        executor: Executor::Shared,
        ..OrchestratorConfig::default()
    };
    let orch = Orchestrator::on_runtime(config, rt.handle().clone());
    let id = orch
        .spawn(AgentSpec::new({
            let seen = seen.clone();
            move || WhereAmI(seen.clone())
        }))
        .unwrap();
    rt.block_on(async {
        for _ in 0..10 {
            orch.request(Message::request(id, "where"), T).await.unwrap();
        }
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen[&id], HashSet::from(["the-users-runtime".to_owned()]));
}

#[test]
fn per_core_with_zero_threads_starts_one_per_available_core() {
    let _counting = COUNTING.lock().unwrap_or_else(|p| p.into_inner());
    let cores = std::thread::available_parallelism().unwrap().get();
    expect_core_threads(0, "before");
    let orch = Orchestrator::with_config(per_core(0));
    expect_core_threads(cores, "started");
    drop(orch);
    // No agent holds it and no runtime is current here: the threads are
    // joined before `drop` returns. A joined thread can still be listed in
    // /proc for a moment (the kernel wakes the joiner before it has
    // finished tearing the thread down), so wait for the listing.
    expect_core_threads(0, "after the drop");
}

#[test]
fn the_executor_is_read_from_config() {
    let shared: OrchestratorConfig = serde_json::from_str(r#"{"executor": "shared"}"#).unwrap();
    assert_eq!(shared.executor, Executor::Shared);
    let per_core: OrchestratorConfig = serde_json::from_str(r#"{"executor": {"per_core": {"threads": 4}}}"#).unwrap();
    assert_eq!(per_core.executor, Executor::PerCore { threads: 4 });
    let one_per_core: OrchestratorConfig = serde_json::from_str(r#"{"executor": {"per_core": {}}}"#).unwrap();
    assert_eq!(one_per_core.executor, Executor::PerCore { threads: 0 });
    assert_eq!(OrchestratorConfig::default().executor, Executor::Shared);
    let negative =
        serde_json::from_str::<OrchestratorConfig>(r#"{"executor": {"per_core": {"threads": -1}}}"#).unwrap_err();
    assert!(negative.to_string().contains("-1"), "{negative}");
    let bad = serde_json::from_str::<OrchestratorConfig>(r#"{"executor": "work_stealing"}"#).unwrap_err();
    assert!(bad.to_string().contains("work_stealing"), "{bad}");
}

#[test]
fn per_core_loses_nothing_through_panics_restarts_and_shutdown() {
    let _counting = COUNTING.lock().unwrap_or_else(|p| p.into_inner());
    let orch = Orchestrator::with_config(per_core(2));
    let seen = Arc::new(AtomicU64::new(0));
    let ids = orch
        .spawn_many(
            &AgentSpec::new({
                let seen = seen.clone();
                move || Counter::new(seen.clone())
            })
            .restart_policy(RestartPolicy {
                max_restarts: 1000,
                window: Duration::ZERO,
            }),
            50,
        )
        .unwrap();
    let (mut accepted, mut panics) = (0u64, 0u64);
    for round in 0..200u32 {
        for (i, id) in ids.iter().enumerate() {
            let payload = if (round as usize + i).is_multiple_of(37) {
                "panic".to_owned()
            } else {
                round.to_string()
            };
            if orch.try_send(Message::inform(*id, payload.clone())).is_ok() {
                accepted += 1;
                panics += u64::from(payload == "panic");
            }
        }
    }
    // A bare executor (no tokio timers): shutdown keeps its own deadline.
    let client = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let report = client.block_on(orch.shutdown(T));
    assert_eq!(report.agents, 50);
    assert_eq!(report.agents_drained, 50);
    assert!(report.undelivered.is_empty());
    // Every accepted message was handled or is one dead letter (a panic).
    assert!(panics > 0);
    assert_eq!(orch.dead_letter_counts().total, panics);
    assert_eq!(seen.load(Ordering::SeqCst) + panics, accepted);
    assert_eq!(orch.agent_count(), 0);
}
