//! Fixtures for the instruction-count benches of Caxton's hot paths.
//!
//! Each fixture builds, outside the measured region, a single-threaded
//! runtime with an orchestrator and whatever agents the path needs, so the
//! bench measures one operation and its instruction count repeats exactly
//! from run to run (callgrind counts instructions, not time).
//!
//! Run with `cargo bench -p caxton-hotpaths` (needs valgrind and
//! `cargo install gungraun-runner --version 0.20.0`).

use bytes::Bytes;
use caxton_runtime::{AgentId, AgentSpec, CheckpointPolicy, Message, Orchestrator};
use caxton_workloads::agents::{Fragile, Sink};

/// A single-threaded runtime with an orchestrator and one idle agent.
pub struct Fixture {
    /// The runtime the agents run on (entered while the fixture lives).
    pub runtime: tokio::runtime::Runtime,
    /// The orchestrator.
    pub orch: Orchestrator,
    /// The agent under test.
    pub agent: AgentId,
}

impl Fixture {
    fn with_spec<A: caxton_runtime::Agent>(spec: AgentSpec<A>) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let orch = runtime.block_on(async { Orchestrator::new() });
        let agent = {
            let _guard = runtime.enter();
            orch.spawn(spec).expect("spawn")
        };
        // Let the agent task start and park on its empty mailbox.
        runtime.block_on(tokio::task::yield_now());
        Self { runtime, orch, agent }
    }

    /// One idle sink agent whose mailbox has handled traffic before, so
    /// its buffers are allocated: the steady state a send meets.
    pub fn sink() -> Self {
        let f = Self::with_spec(AgentSpec::new(|| Sink));
        for _ in 0..2 {
            f.orch.try_send(f.message()).expect("warm-up send");
            f.runtime.block_on(tokio::task::yield_now());
        }
        f
    }

    /// One idle stateful agent whose state is checkpointable.
    pub fn stateful() -> Self {
        Self::with_spec(AgentSpec::new(Fragile::default).checkpoint_policy(CheckpointPolicy::Manual))
    }

    /// A 64-byte message for the agent.
    pub fn message(&self) -> Message {
        Message::inform(self.agent, Bytes::from_static(&[0u8; 64]))
    }
}

/// The floor for [`Fixture::sink`]: a raw tokio task parked on an mpsc
/// channel that has carried traffic before.
pub struct RawFixture {
    /// The runtime the task runs on.
    pub runtime: tokio::runtime::Runtime,
    /// The task's channel.
    pub tx: tokio::sync::mpsc::Sender<Message>,
    to: AgentId,
}

impl RawFixture {
    /// One idle consumer task.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(1024);
        runtime.spawn(async move { while rx.recv().await.is_some() {} });
        let f = Self {
            runtime,
            tx,
            to: AgentId::new(1).expect("non-zero"),
        };
        for _ in 0..2 {
            f.tx.try_send(f.message()).expect("warm-up send");
            f.runtime.block_on(tokio::task::yield_now());
        }
        f
    }

    /// The same 64-byte message [`Fixture::message`] builds.
    pub fn message(&self) -> Message {
        Message::inform(self.to, Bytes::from_static(&[0u8; 64]))
    }
}

impl Default for RawFixture {
    fn default() -> Self {
        Self::new()
    }
}
