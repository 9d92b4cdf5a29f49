//! Instruction counts of the hot paths: route one message, spawn an agent,
//! take a checkpoint. Deterministic, so the PR gate can fail on a small
//! regression (`--callgrind-limits='ir=1%'`) where wall time cannot.

use std::hint::black_box;

use caxton_hotpaths::{Fixture, RawFixture};
use caxton_runtime::AgentSpec;
use caxton_workloads::agents::Sink;
use gungraun::{library_benchmark, library_benchmark_group, main};

fn routed() -> (Fixture, caxton_runtime::Message) {
    let f = Fixture::sink();
    let m = f.message();
    (f, m)
}

// Routes one message by id into an idle agent's mailbox (lookup, push,
// wake-up): the sender's whole cost.
#[library_benchmark]
#[bench::idle_agent(setup = routed)]
fn route_one_message(input: (Fixture, caxton_runtime::Message)) -> Fixture {
    let (f, m) = input;
    black_box(f.orch.try_send(m)).expect("routed");
    f
}

fn raw_routed() -> (RawFixture, caxton_runtime::Message) {
    let f = RawFixture::new();
    let m = f.message();
    (f, m)
}

// The floor for `route_one_message`: the same envelope into a raw tokio
// channel whose consumer task is parked.
#[library_benchmark]
#[bench::idle_task(setup = raw_routed)]
fn raw_tokio_send(input: (RawFixture, caxton_runtime::Message)) -> RawFixture {
    let (f, m) = input;
    black_box(f.tx.try_send(m)).expect("sent");
    f
}

// Spawns one native agent (spawn call to ready).
#[library_benchmark]
#[bench::native(setup = Fixture::sink)]
fn spawn_agent(f: Fixture) -> Fixture {
    let _guard = f.runtime.enter();
    black_box(f.orch.spawn(AgentSpec::new(|| Sink))).expect("spawned");
    drop(_guard);
    f
}

// Checkpoints a stateful agent (control message, snapshot, serde).
#[library_benchmark]
#[bench::stateful(setup = Fixture::stateful)]
fn checkpoint(f: Fixture) -> Fixture {
    let cp = f.runtime.block_on(f.orch.checkpoint(f.agent));
    black_box(cp).expect("checkpoint");
    f
}

library_benchmark_group!(
    name = hot_paths;
    benchmarks = route_one_message, raw_tokio_send, spawn_agent, checkpoint
);

main!(library_benchmark_groups = hot_paths);
