//! The peers workloads on [actix](https://docs.rs/actix) 0.13 with actix-rt.
//!
//! # Hosting
//!
//! actix runs each actor on a single-threaded event loop: an `Arbiter` (one
//! OS thread with its own current-thread tokio runtime) inside an actix-rt
//! `System`. [`ActixHost`] runs the way a multi-core actix program does: the
//! `System` on a thread of its own (it only supervises its arbiters), and one
//! `Arbiter` per core (`std::thread::available_parallelism`), actor `i` of a
//! batch started on arbiter `i % arbiters` with `Actor::start_in_arbiter`. So
//! actix gets one actor thread per core, like the tokio runtime every other
//! member runs on, and the driver stays on the host's block_on thread as for
//! every member; an actor never moves between arbiters (no work stealing).
//! The background load of `peers_request_under_load` runs on the first
//! arbiter, beside the actors, as an actix program would spawn it.
//!
//! Messages are sent with `Addr::do_send` (fire-and-forget; it ignores the
//! mailbox bound, like ractor's unbounded `cast`), requests with
//! `Addr::send(..).await`. `peers_spawn` counts an actor ready when it has
//! handled its one message; tear-down drops every `Addr` and waits until
//! every actor's `stopped` hook ran.

use std::sync::Arc;
use std::time::Duration;

use ::actix::{Actor, Addr, Arbiter, ArbiterHandle, Context, Handler, MessageResult};
use bytes::Bytes;
use caxton_runtime::{AgentId, Message, Performative};
use caxton_workloads::agents::{Completion, Tally};
use caxton_workloads::fanout::{FanoutConfig, drive};

use super::{Echo, Fanout, Host, LoadFuture, Peer, envelope, payloads, receivers, time_ready};

/// The actix system and its arbiters, one per core.
pub struct ActixHost {
    system: actix_rt::System,
    arbiters: Vec<Arbiter>,
    handles: Vec<ArbiterHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ActixHost {
    /// Starts the system thread and one arbiter per core.
    pub fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("actix-system".into())
            .spawn(move || {
                let runner = actix_rt::System::new();
                let arbiters: Vec<Arbiter> = (0..cores).map(|_| Arbiter::new()).collect();
                tx.send((actix_rt::System::current(), arbiters))
                    .expect("the host waits for the system");
                runner.run().expect("actix system");
            })
            .expect("actix system thread");
        let (system, arbiters) = rx.recv().expect("the actix system starts");
        let handles = arbiters.iter().map(Arbiter::handle).collect();
        Self {
            system,
            arbiters,
            handles,
            thread: Some(thread),
        }
    }

    /// The arbiter actor `i` of a batch is started on.
    pub fn arbiter(&self, i: usize) -> &ArbiterHandle {
        &self.handles[i % self.handles.len()]
    }
}

impl Drop for ActixHost {
    fn drop(&mut self) {
        for arbiter in self.arbiters.drain(..) {
            arbiter.stop();
            let _ = arbiter.join();
        }
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// actix as a [`Peer`].
pub struct Actix;

/// A fan-out message (actix wants its own message types).
pub struct Envelope(pub Message);

impl ::actix::Message for Envelope {
    type Result = ();
}

/// An actix actor that counts the messages it receives and reports its
/// exit.
pub struct CountingSink {
    tally: Tally,
    exited: Arc<Completion>,
}

impl Actor for CountingSink {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.exited.done(1);
    }
}

impl Handler<Envelope> for CountingSink {
    type Result = ();

    fn handle(&mut self, Envelope(msg): Envelope, _ctx: &mut Context<Self>) {
        self.tally.count(&msg.payload);
    }
}

/// Started actors and the count of their exits.
struct Spawned {
    actors: Vec<Addr<CountingSink>>,
    exited: Arc<Completion>,
}

/// Starts `n` counting actors spread over the arbiters.
fn start_sinks(host: &Host, n: usize, capacity: Option<usize>, completion: &Arc<Completion>) -> Spawned {
    let exited = Completion::new();
    exited.arm(n as u64);
    let actors = (0..n)
        .map(|i| {
            let tally = Tally::new(completion.clone());
            let exited = exited.clone();
            CountingSink::start_in_arbiter(host.actix.arbiter(i), move |ctx| {
                if let Some(capacity) = capacity {
                    ctx.set_mailbox_capacity(capacity);
                }
                CountingSink { tally, exited }
            })
        })
        .collect();
    Spawned { actors, exited }
}

/// Drops every address and waits until every actor has stopped.
async fn stop_sinks(spawned: Spawned) {
    drop(spawned.actors);
    spawned.exited.wait().await;
}

/// Fan-out receivers.
pub struct Sinks {
    spawned: Spawned,
    completion: Arc<Completion>,
}

impl Fanout for Sinks {
    async fn run(&self, messages: u64) -> Duration {
        let actors = &self.spawned.actors;
        let run = drive(actors.len(), messages, payloads(), &self.completion, |i, payload| {
            actors[i].do_send(Envelope(envelope(i, payload)));
            std::future::ready(Ok::<(), ()>(()))
        });
        run.await.expect("sends never fail").elapsed
    }

    fn stop(self, host: &Host) {
        host.rt.block_on(stop_sinks(self.spawned));
    }
}

/// A request for the echo actor.
pub struct EchoRequest(pub Message);

impl ::actix::Message for EchoRequest {
    type Result = Message;
}

/// An actix actor that replies with the payload it got.
pub struct EchoActor;

impl Actor for EchoActor {
    type Context = Context<Self>;
}

impl Handler<EchoRequest> for EchoActor {
    type Result = MessageResult<EchoRequest>;

    fn handle(&mut self, EchoRequest(msg): EchoRequest, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(msg.reply(Performative::Inform, msg.payload.clone()))
    }
}

/// The echo actor, on the first arbiter.
pub struct ActixEcho(Addr<EchoActor>);

impl Echo for ActixEcho {
    async fn round_trips(&self, n: u64, payload: Bytes) {
        let to = AgentId::new(1).expect("non-zero");
        for _ in 0..n {
            let reply = self
                .0
                .send(EchoRequest(Message::request(to, payload.clone())))
                .await
                .expect("echo actor is running");
            std::hint::black_box(reply);
        }
    }

    fn stop(self, _host: &Host) {
        drop(self);
    }
}

impl Peer for Actix {
    type Sinks = Sinks;
    type Echo = ActixEcho;
    type Broadcast = Sinks;

    fn sinks(&self, host: &Host, cfg: &FanoutConfig) -> Sinks {
        let completion = Completion::new();
        let spawned = start_sinks(host, cfg.agents, Some(cfg.mailbox_capacity), &completion);
        Sinks { spawned, completion }
    }

    fn echo(&self, host: &Host) -> ActixEcho {
        ActixEcho(EchoActor::start_in_arbiter(host.actix.arbiter(0), |ctx| {
            ctx.set_mailbox_capacity(1024);
            EchoActor
        }))
    }

    fn broadcast(&self, host: &Host, n: usize) -> Sinks {
        self.sinks(host, &receivers(n))
    }

    fn spawn_ready(&self, host: &Host, n: usize) -> Duration {
        time_ready(
            host,
            n,
            |completion| async move {
                let spawned = start_sinks(host, n, None, &completion);
                for (i, actor) in spawned.actors.iter().enumerate() {
                    actor.do_send(Envelope(envelope(i, payloads().last.clone())));
                }
                spawned
            },
            stop_sinks,
        )
    }

    fn spawn_load(&self, host: &Host, load: LoadFuture) {
        host.actix.arbiter(0).spawn(load);
    }
}
