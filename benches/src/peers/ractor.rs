//! The peers workloads on [ractor](https://docs.rs/ractor): actors are tokio
//! tasks on the host runtime's workers; mailboxes are unbounded (`cast`
//! never waits); `Actor::spawn` returns once the actor's `pre_start` ran;
//! requests use `call` with an `RpcReplyPort`.

use std::sync::Arc;
use std::time::Duration;

use ::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bytes::Bytes;
use caxton_runtime::{AgentId, Message, Performative};
use caxton_workloads::agents::{Completion, Tally};
use caxton_workloads::fanout::{FanoutConfig, drive};
use tokio::task::JoinHandle;

use super::{Echo, Fanout, Host, Peer, envelope, payloads, receivers, time_ready};

/// ractor as a [`Peer`].
pub struct Ractor;

/// A ractor actor that counts the messages it receives.
pub struct CountingSink;

impl Actor for CountingSink {
    type Msg = Message;
    type State = Tally;
    type Arguments = Arc<Completion>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Message>,
        completion: Arc<Completion>,
    ) -> Result<Tally, ActorProcessingErr> {
        Ok(Tally::new(completion))
    }

    async fn handle(
        &self,
        _myself: ActorRef<Message>,
        msg: Message,
        tally: &mut Tally,
    ) -> Result<(), ActorProcessingErr> {
        tally.count(&msg.payload);
        Ok(())
    }
}

type Spawned = Vec<(ActorRef<Message>, JoinHandle<()>)>;

/// Spawns `n` counting actors reporting to `completion`.
async fn spawn_sinks(n: usize, completion: &Arc<Completion>) -> Spawned {
    let mut actors = Vec::with_capacity(n);
    for _ in 0..n {
        let spawned = Actor::spawn(None, CountingSink, completion.clone())
            .await
            .expect("spawn ractor actor");
        actors.push(spawned);
    }
    actors
}

/// Stops every actor, then waits for all of them to exit.
async fn stop_sinks(actors: Spawned) {
    for (actor, _) in &actors {
        actor.stop(None);
    }
    for (_, join) in actors {
        let _ = join.await;
    }
}

/// Fan-out receivers.
pub struct Sinks {
    actors: Spawned,
    completion: Arc<Completion>,
}

impl Fanout for Sinks {
    async fn run(&self, messages: u64) -> Duration {
        let payloads = payloads();
        let run = drive(self.actors.len(), messages, payloads, &self.completion, |i, payload| {
            std::future::ready(self.actors[i].0.cast(envelope(i, payload)))
        });
        run.await.expect("actors outlive the run").elapsed
    }

    fn stop(self, host: &Host) {
        host.rt.block_on(stop_sinks(self.actors));
    }
}

/// A request for the echo actor: the message and where to reply.
pub struct EchoRequest(pub Message, pub RpcReplyPort<Message>);

/// A ractor actor that replies with the payload it got.
pub struct EchoActor;

impl Actor for EchoActor {
    type Msg = EchoRequest;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<EchoRequest>, _args: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<EchoRequest>,
        EchoRequest(msg, reply): EchoRequest,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(msg.reply(Performative::Inform, msg.payload.clone()));
        Ok(())
    }
}

/// The echo actor.
pub struct RactorEcho {
    actor: ActorRef<EchoRequest>,
    join: JoinHandle<()>,
}

impl Echo for RactorEcho {
    async fn round_trips(&self, n: u64, payload: Bytes) {
        let to = AgentId::new(1).expect("non-zero");
        for _ in 0..n {
            let req = Message::request(to, payload.clone());
            let reply = self
                .actor
                .call(|port| EchoRequest(req, port), None)
                .await
                .expect("echo actor is running");
            std::hint::black_box(reply.success_or("echo replies").expect("echo replies"));
        }
    }

    fn stop(self, host: &Host) {
        self.actor.stop(None);
        let _ = host.rt.block_on(self.join);
    }
}

impl Peer for Ractor {
    type Sinks = Sinks;
    type Echo = RactorEcho;
    type Broadcast = Sinks;

    fn sinks(&self, host: &Host, cfg: &FanoutConfig) -> Sinks {
        let completion = Completion::new();
        let actors = host.rt.block_on(spawn_sinks(cfg.agents, &completion));
        Sinks { actors, completion }
    }

    fn echo(&self, host: &Host) -> RactorEcho {
        let (actor, join) = host
            .rt
            .block_on(Actor::spawn(None, EchoActor, ()))
            .expect("spawn echo actor");
        RactorEcho { actor, join }
    }

    fn broadcast(&self, host: &Host, n: usize) -> Sinks {
        self.sinks(host, &receivers(n))
    }

    fn spawn_ready(&self, host: &Host, n: usize) -> Duration {
        time_ready(
            host,
            n,
            |completion| async move {
                let actors = spawn_sinks(n, &completion).await;
                for (i, (actor, _)) in actors.iter().enumerate() {
                    actor
                        .cast(envelope(i, payloads().last.clone()))
                        .expect("actor is running");
                }
                actors
            },
            stop_sinks,
        )
    }
}
