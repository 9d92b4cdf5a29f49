//! The peers workloads: Caxton beside raw tokio (the floor) and other Rust
//! actor runtimes (ractor, kameo, actix), each workload defined once here and
//! driven both by the criterion bench (`benches/peers.rs`) and by the
//! interleaved rounds runner (`benches/peers_rounds.rs`).
//!
//! # Workloads ([`WORKLOADS`])
//!
//! * `peers_fanout`: one producer sends [`FANOUT_MESSAGES`] 64-byte envelopes
//!   round-robin to 1000 receivers (whole rounds, the last one marked) and
//!   waits until every one was handled.
//! * `peers_pingpong`: one request in flight at a time to an echo actor; time
//!   per round trip.
//! * `peers_spawn`: spawn [`SPAWN_ACTORS`] actors and send each one message;
//!   time until every actor has handled it (spawn to ready). Tear-down is
//!   outside the timed region and complete before the next iteration.
//! * `peers_broadcast`: one message to each of [`BROADCAST_ACTORS`] live
//!   actors; time until all have handled it. Caxton uses its own broadcast
//!   (`Orchestrator::broadcast` by capability); raw tokio and the peers, which
//!   have no broadcast in their core crates, send in a loop.
//! * `peers_request_under_load`: the ping-pong round trip while a fan-out
//!   stream keeps 1000 other actors of the same runtime busy (runs of
//!   [`LOAD_MESSAGES`] back to back, driven by a task inside the runtime);
//!   time per round trip. The load starts before and stops after each
//!   measured batch, outside the timed region.
//!
//! # Where each runtime runs
//!
//! The driver (producer, requester, spawner) always runs on the thread that
//! calls `Runtime::block_on` on the [`Host`]'s tokio runtime (an external
//! client). Raw tokio tasks, Caxton agents, ractor and kameo actors run on
//! that runtime's workers: one per core, tokio's default. actix runs its
//! actors on its own single-threaded event loops: the [`actix::ActixHost`]
//! starts an actix `System` on a thread of its own (it only supervises) and
//! one `Arbiter` (one thread, one single-threaded runtime) per core, and
//! starts actor `i` on arbiter `i % cores`, the way a multi-core actix
//! program spreads its actors. So every runtime gets one actor thread per
//! core plus the driving thread. actix messages are sent with `do_send`
//! (fire-and-forget, unbounded like ractor's `cast`) and requests with
//! `Addr::send`.
//!
//! Mailboxes: Caxton, raw tokio and kameo are bounded (1024 in the fan-out,
//! broadcast and load sinks; each runtime's default in `peers_spawn`:
//! Caxton's 1024, kameo's 64, raw tokio 1024); ractor's are unbounded and
//! actix's `do_send` ignores its bound, so their producers never wait.

pub mod actix;
pub mod kameo;
pub mod ractor;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_runtime::{
    Address, AgentId, AgentSpec, CpuClock, Executor, Message, Orchestrator, OrchestratorConfig, Performative,
};
use caxton_workloads::agents::{Completion, Sink, Tally, counted};
use caxton_workloads::fanout::{CaxtonFanout, FanoutConfig, RawFanout};
use caxton_workloads::payload::Payloads;
use caxton_workloads::pingpong::{RawEcho, caxton_round_trips, spawn_echo};
use caxton_workloads::spawn::stop_many;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use crate::{Budget, FANOUT_MESSAGES, sum_iters, time_block};

/// The reference member of every group: time ÷ this member's time is the
/// figure reported.
pub const RAW: &str = "raw_tokio";

/// Every member of every group, in the order they are benched: raw tokio,
/// Caxton in its default configuration (agents on the bench's tokio
/// runtime), Caxton with handler time on the wall clock (the closer match
/// to peers that keep no per-actor time), Caxton with its agents on
/// threads of its own, one per core (`Executor::PerCore`, actix's model),
/// then the peers.
pub const MEMBERS: [&str; 7] = [
    RAW,
    "caxton",
    "caxton_wall_clock",
    "caxton_per_core",
    "ractor",
    "kameo",
    "actix",
];

/// Actors spawned per `peers_spawn` iteration.
pub const SPAWN_ACTORS: usize = 10_000;

/// Receivers of a `peers_broadcast` message.
pub const BROADCAST_ACTORS: usize = 1_000;

/// Messages per fan-out run of the background load in
/// `peers_request_under_load` (5 per receiver).
pub const LOAD_MESSAGES: u64 = 5_000;

/// One workload: a criterion group and how the rounds runner sizes a round.
#[derive(Clone, Copy)]
pub struct Workload {
    /// Criterion group name.
    pub group: &'static str,
    /// One line on what an iteration is.
    pub about: &'static str,
    /// Criterion budget.
    pub budget: Budget,
    /// Elements per iteration (criterion throughput), if any.
    pub elements: Option<u64>,
    /// Iterations per member per round in the rounds runner.
    pub round_iters: u64,
    /// Sets up one member (a name from [`MEMBERS`]).
    pub make: fn(&Host, &str) -> Member,
}

/// Builds the member `$name` of a workload with the generic function `$f`.
macro_rules! peer {
    ($host:expr, $name:expr, $f:ident) => {
        match $name {
            RAW => $f(RawTokio, $host),
            "caxton" => $f(Caxton::new($host, OrchestratorConfig::default()), $host),
            "caxton_wall_clock" => $f(
                Caxton::new(
                    $host,
                    OrchestratorConfig {
                        cpu_clock: CpuClock::Wall,
                        ..OrchestratorConfig::default()
                    },
                ),
                $host,
            ),
            "caxton_per_core" => $f(
                Caxton::new(
                    $host,
                    OrchestratorConfig {
                        executor: Executor::PerCore { threads: 0 },
                        ..OrchestratorConfig::default()
                    },
                ),
                $host,
            ),
            "ractor" => $f(ractor::Ractor, $host),
            "kameo" => $f(kameo::Kameo, $host),
            "actix" => $f(actix::Actix, $host),
            other => panic!("no peers member named {other}"),
        }
    };
}

/// The workloads, in the order they are benched.
pub const WORKLOADS: [Workload; 5] = [
    Workload {
        group: "peers_fanout",
        about: "20 000 x 64 B round-robin to 1000 actors, until all handled",
        budget: Budget::SLOW,
        elements: Some(FANOUT_MESSAGES),
        round_iters: 10,
        make: |host, name| peer!(host, name, fanout),
    },
    Workload {
        group: "peers_pingpong",
        about: "request/reply round trip, one in flight",
        budget: Budget::FAST,
        elements: None,
        round_iters: 2_000,
        make: |host, name| peer!(host, name, pingpong),
    },
    Workload {
        group: "peers_spawn",
        about: "spawn 10 000 actors until each handled one message",
        budget: Budget::HEAVY,
        elements: Some(SPAWN_ACTORS as u64),
        round_iters: 2,
        make: |host, name| peer!(host, name, spawn),
    },
    Workload {
        group: "peers_broadcast",
        about: "one message to each of 1000 actors, until all handled",
        budget: Budget::SLOW,
        elements: Some(BROADCAST_ACTORS as u64),
        round_iters: 100,
        make: |host, name| peer!(host, name, broadcast),
    },
    Workload {
        group: "peers_request_under_load",
        about: "request/reply round trip while 1000 other actors take a fan-out stream",
        budget: Budget::FAST,
        elements: None,
        round_iters: 1_000,
        make: |host, name| peer!(host, name, under_load),
    },
];

/// What every member runs on: the tokio runtime (one worker per core) and
/// the actix system with one arbiter per core.
pub struct Host {
    /// The multi-threaded tokio runtime ([`crate::runtime`]).
    pub rt: Runtime,
    /// actix's system and arbiters.
    pub actix: actix::ActixHost,
}

impl Host {
    /// Starts both.
    pub fn new() -> Self {
        Self {
            rt: crate::runtime(),
            actix: actix::ActixHost::start(),
        }
    }
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

/// One set-up member of a workload: measures batches of iterations until
/// stopped.
pub struct Member(Box<dyn Measured>);

trait Measured {
    fn measure(&mut self, host: &Host, iters: u64) -> Duration;
    fn stop(self: Box<Self>, host: &Host);
}

struct With<T, M, S> {
    state: T,
    measure: M,
    stop: S,
}

impl<T, M, S> Measured for With<T, M, S>
where
    M: FnMut(&mut T, &Host, u64) -> Duration,
    S: FnOnce(T, &Host),
{
    fn measure(&mut self, host: &Host, iters: u64) -> Duration {
        (self.measure)(&mut self.state, host, iters)
    }

    fn stop(self: Box<Self>, host: &Host) {
        let this = *self;
        (this.stop)(this.state, host)
    }
}

impl Member {
    fn new<T: 'static>(
        state: T,
        measure: impl FnMut(&mut T, &Host, u64) -> Duration + 'static,
        stop: impl FnOnce(T, &Host) + 'static,
    ) -> Self {
        Self(Box::new(With { state, measure, stop }))
    }

    /// Runs `iters` iterations and returns the time they took (what
    /// criterion's `iter_custom` wants); set-up and tear-down are outside.
    pub fn measure(&mut self, host: &Host, iters: u64) -> Duration {
        self.0.measure(host, iters)
    }

    /// Stops what the member spawned.
    pub fn stop(self, host: &Host) {
        self.0.stop(host)
    }
}

/// Receivers that count a fan-out run of messages until all were handled.
pub trait Fanout: Send + Sync + 'static {
    /// Sends about `messages` (whole rounds over the receivers, each
    /// receiver's last one marked) and returns when all were handled.
    fn run(&self, messages: u64) -> impl Future<Output = Duration> + Send;
    /// Stops the receivers and waits until they are gone.
    fn stop(self, host: &Host);
}

/// An echo actor answering one request at a time.
pub trait Echo: 'static {
    /// `n` sequential round trips.
    fn round_trips(&self, n: u64, payload: Bytes) -> impl Future<Output = ()>;
    /// Stops the echo.
    fn stop(self, host: &Host);
}

/// A future a background load runs.
pub type LoadFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One runtime under test: how it builds each workload's actors.
pub trait Peer: Sized + 'static {
    /// Fan-out receivers.
    type Sinks: Fanout;
    /// The request/reply target.
    type Echo: Echo;
    /// What a broadcast goes to (receivers whose run of `n` messages to `n`
    /// receivers is one message each).
    type Broadcast: Fanout;
    /// Spawns fan-out receivers.
    fn sinks(&self, host: &Host, cfg: &FanoutConfig) -> Self::Sinks;
    /// Spawns an echo.
    fn echo(&self, host: &Host) -> Self::Echo;
    /// Spawns `n` broadcast receivers.
    fn broadcast(&self, host: &Host, n: usize) -> Self::Broadcast;
    /// Spawns `n` actors, sends each one message, and returns the time until
    /// all were handled; stops them all before returning (not timed).
    fn spawn_ready(&self, host: &Host, n: usize) -> Duration;
    /// Runs a background load where this runtime's own tasks run.
    fn spawn_load(&self, host: &Host, load: LoadFuture) {
        host.rt.spawn(load);
    }
    /// Releases what the peer holds (Caxton's orchestrator).
    fn close(self, _host: &Host) {}
}

fn fanout<P: Peer>(peer: P, host: &Host) -> Member {
    let sinks = peer.sinks(host, &FanoutConfig::default());
    Member::new(
        (peer, sinks),
        |(_, sinks), host, iters| sum_iters(&host.rt, iters, || sinks.run(FANOUT_MESSAGES)),
        |(peer, sinks), host| {
            sinks.stop(host);
            peer.close(host);
        },
    )
}

fn pingpong<P: Peer>(peer: P, host: &Host) -> Member {
    let echo = peer.echo(host);
    Member::new(
        (peer, echo),
        |(_, echo), host, iters| time_block(&host.rt, echo.round_trips(iters, echo_payload())),
        |(peer, echo), host| {
            echo.stop(host);
            peer.close(host);
        },
    )
}

fn spawn<P: Peer>(peer: P, _host: &Host) -> Member {
    Member::new(
        peer,
        |peer, host, iters| (0..iters).map(|_| peer.spawn_ready(host, SPAWN_ACTORS)).sum(),
        |peer, host| peer.close(host),
    )
}

fn broadcast<P: Peer>(peer: P, host: &Host) -> Member {
    let receivers = peer.broadcast(host, BROADCAST_ACTORS);
    Member::new(
        (peer, receivers),
        |(_, receivers), host, iters| sum_iters(&host.rt, iters, || receivers.run(BROADCAST_ACTORS as u64)),
        |(peer, receivers), host| {
            receivers.stop(host);
            peer.close(host);
        },
    )
}

fn under_load<P: Peer>(peer: P, host: &Host) -> Member {
    let sinks = Arc::new(peer.sinks(host, &FanoutConfig::default()));
    let echo = peer.echo(host);
    Member::new(
        (peer, sinks, echo),
        |(peer, sinks, echo), host, iters| {
            let load = Load::start(peer, host, sinks.clone());
            let elapsed = time_block(&host.rt, echo.round_trips(iters, echo_payload()));
            load.stop(host);
            elapsed
        },
        |(peer, sinks, echo), host| {
            echo.stop(host);
            let sinks = Arc::into_inner(sinks).expect("the load has stopped");
            sinks.stop(host);
            peer.close(host);
        },
    )
}

/// A fan-out stream running in the background until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    done: oneshot::Receiver<()>,
}

impl Load {
    /// Starts fan-out runs of [`LOAD_MESSAGES`] back to back where `peer`
    /// runs its tasks, and returns once the first run has begun.
    fn start<P: Peer, F: Fanout>(peer: &P, host: &Host, sinks: Arc<F>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (started_tx, started) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let flag = stop.clone();
        peer.spawn_load(
            host,
            Box::pin(async move {
                let _ = started_tx.send(());
                while !flag.load(Ordering::Relaxed) {
                    sinks.run(LOAD_MESSAGES).await;
                }
                drop(sinks);
                let _ = done_tx.send(());
            }),
        );
        host.rt.block_on(started).expect("the load starts");
        Self { stop, done }
    }

    /// Stops the stream after its current run and waits for it.
    fn stop(self, host: &Host) {
        self.stop.store(true, Ordering::Relaxed);
        host.rt.block_on(self.done).expect("the load ends");
    }
}

/// The 64-byte payload of every request.
fn echo_payload() -> Bytes {
    Bytes::from_static(&[7u8; 64])
}

/// The 64-byte payloads of every fan-out, broadcast and spawn message.
/// The fan-out shape with `n` receivers, the default otherwise: a
/// broadcast's receivers on runtimes without a broadcast of their own.
pub(crate) fn receivers(n: usize) -> FanoutConfig {
    FanoutConfig {
        agents: n,
        ..FanoutConfig::default()
    }
}

pub(crate) fn payloads() -> &'static Payloads {
    static PAYLOADS: OnceLock<Payloads> = OnceLock::new();
    PAYLOADS.get_or_init(|| Payloads::new(64))
}

/// The envelope sent to receiver `i` by shapes without agent ids (raw tokio,
/// peers), addressed to a stand-in id so every shape moves the same
/// envelope as Caxton's.
pub(crate) fn envelope(i: usize, payload: Bytes) -> Message {
    let to = AgentId::new(i as u64 + 1).expect("non-zero");
    Message::new(Address::Id(to), Performative::Inform, payload)
}

/// Runs one spawn-to-ready iteration on the block_on thread: `spawn_and_send`
/// spawns and sends (timed, with the wait for every message handled),
/// `stop` tears down (not timed).
pub(crate) fn time_ready<T, Fs, Ft>(
    host: &Host,
    n: usize,
    spawn_and_send: impl FnOnce(Arc<Completion>) -> Fs,
    stop: impl FnOnce(T) -> Ft,
) -> Duration
where
    Fs: Future<Output = T>,
    Ft: Future<Output = ()>,
{
    host.rt.block_on(async {
        let completion = Completion::new();
        completion.arm(n as u64);
        let start = Instant::now();
        let spawned = spawn_and_send(completion.clone()).await;
        completion.wait().await;
        let elapsed = start.elapsed();
        stop(spawned).await;
        elapsed
    })
}

// ---- raw tokio ------------------------------------------------------------

/// Raw tokio: one task per actor, owning the receiver of a bounded mpsc
/// channel (1024); request/reply over mpsc + oneshot.
pub struct RawTokio;

impl Fanout for RawFanout {
    async fn run(&self, messages: u64) -> Duration {
        RawFanout::run(self, messages).await.elapsed
    }

    fn stop(self, _host: &Host) {
        drop(self);
    }
}

impl Echo for RawEcho {
    async fn round_trips(&self, n: u64, payload: Bytes) {
        RawEcho::round_trips(self, n, payload, |_| {}).await
    }

    fn stop(self, _host: &Host) {
        drop(self);
    }
}

impl Peer for RawTokio {
    type Sinks = RawFanout;
    type Echo = RawEcho;
    type Broadcast = RawFanout;

    fn sinks(&self, host: &Host, cfg: &FanoutConfig) -> RawFanout {
        let _rt = host.rt.enter();
        RawFanout::spawn(cfg)
    }

    fn echo(&self, host: &Host) -> RawEcho {
        let _rt = host.rt.enter();
        RawEcho::spawn()
    }

    fn broadcast(&self, host: &Host, n: usize) -> RawFanout {
        self.sinks(host, &receivers(n))
    }

    fn spawn_ready(&self, host: &Host, n: usize) -> Duration {
        let capacity = FanoutConfig::default().mailbox_capacity;
        time_ready(
            host,
            n,
            |completion| async move {
                let mut tasks = Vec::with_capacity(n);
                let mut senders = Vec::with_capacity(n);
                for _ in 0..n {
                    let (tx, mut rx) = mpsc::channel::<Message>(capacity);
                    let mut tally = Tally::new(completion.clone());
                    tasks.push(tokio::spawn(async move {
                        while let Some(msg) = rx.recv().await {
                            tally.count(&msg.payload);
                        }
                    }));
                    senders.push(tx);
                }
                for (i, tx) in senders.iter().enumerate() {
                    tx.send(envelope(i, payloads().last.clone()))
                        .await
                        .expect("task is running");
                }
                (senders, tasks)
            },
            |(senders, tasks)| async move {
                drop(senders);
                for task in tasks {
                    let _ = task.await;
                }
            },
        )
    }
}

// ---- Caxton ---------------------------------------------------------------

/// Caxton: one orchestrator per member on the host's tokio runtime.
pub struct Caxton {
    orch: Orchestrator,
}

impl Caxton {
    fn new(host: &Host, config: OrchestratorConfig) -> Self {
        Self {
            orch: Orchestrator::on_runtime(config, host.rt.handle().clone()),
        }
    }
}

/// Caxton fan-out receivers (native sink agents).
pub struct CaxtonSinks(CaxtonFanout);

impl Fanout for CaxtonSinks {
    async fn run(&self, messages: u64) -> Duration {
        self.0.run(messages).await.expect("fan-out").elapsed
    }

    fn stop(self, host: &Host) {
        host.rt.block_on(self.0.stop());
    }
}

/// A native Caxton echo agent.
pub struct CaxtonEcho {
    orch: Orchestrator,
    id: AgentId,
}

impl Echo for CaxtonEcho {
    async fn round_trips(&self, n: u64, payload: Bytes) {
        caxton_round_trips(&self.orch, self.id, n, payload, |_| {})
            .await
            .expect("request/reply");
    }

    fn stop(self, host: &Host) {
        let _ = host.rt.block_on(self.orch.stop(self.id));
    }
}

/// Capability every Caxton broadcast receiver declares.
const BROADCAST_CAPABILITY: &str = "peers-broadcast";

/// Caxton broadcast receivers: native sink agents sharing a capability,
/// reached with `Orchestrator::broadcast`.
pub struct CaxtonBroadcast {
    orch: Orchestrator,
    ids: Vec<AgentId>,
    completion: Arc<Completion>,
}

impl Fanout for CaxtonBroadcast {
    /// One broadcast (each receiver gets one message, whatever `messages`).
    async fn run(&self, _messages: u64) -> Duration {
        self.completion.arm(self.ids.len() as u64);
        let start = Instant::now();
        let msg = Message::new(
            Address::Capability(BROADCAST_CAPABILITY.into()),
            Performative::Inform,
            payloads().last.clone(),
        );
        let sent = self.orch.broadcast(BROADCAST_CAPABILITY, msg).expect("receivers");
        assert!(sent.failed.is_empty(), "every receiver takes the broadcast");
        self.completion.wait().await;
        start.elapsed()
    }

    fn stop(self, host: &Host) {
        host.rt.block_on(stop_many(&self.orch, self.ids));
    }
}

impl Peer for Caxton {
    type Sinks = CaxtonSinks;
    type Echo = CaxtonEcho;
    type Broadcast = CaxtonBroadcast;

    fn sinks(&self, _host: &Host, cfg: &FanoutConfig) -> CaxtonSinks {
        CaxtonSinks(CaxtonFanout::native(&self.orch, cfg).expect("spawn sinks"))
    }

    fn echo(&self, _host: &Host) -> CaxtonEcho {
        CaxtonEcho {
            orch: self.orch.clone(),
            id: spawn_echo(&self.orch).expect("spawn echo"),
        }
    }

    fn broadcast(&self, _host: &Host, n: usize) -> CaxtonBroadcast {
        let completion = Completion::new();
        let c = completion.clone();
        let spec = AgentSpec::new(move || counted(Sink, c.clone()))
            .capability(BROADCAST_CAPABILITY)
            .mailbox_capacity(FanoutConfig::default().mailbox_capacity);
        CaxtonBroadcast {
            orch: self.orch.clone(),
            ids: self.orch.spawn_many(&spec, n).expect("spawn receivers"),
            completion,
        }
    }

    fn spawn_ready(&self, host: &Host, n: usize) -> Duration {
        time_ready(
            host,
            n,
            |completion| async move {
                let spec = AgentSpec::new(move || counted(Sink, completion.clone()));
                let ids = self.orch.spawn_many(&spec, n).expect("spawn agents");
                for &id in &ids {
                    let msg = Message::new(Address::Id(id), Performative::Inform, payloads().last.clone());
                    self.orch.send(msg).await.expect("agent is running");
                }
                ids
            },
            |ids| stop_many(&self.orch, ids),
        )
    }

    fn close(self, host: &Host) {
        host.rt.block_on(self.orch.shutdown(Duration::from_secs(5)));
    }
}
