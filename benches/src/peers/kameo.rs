//! The peers workloads on [kameo](https://docs.rs/kameo): actors are tokio
//! tasks on the host runtime's workers, with bounded mailboxes (1024 for the
//! fan-out, broadcast and load receivers, kameo's default of 64 in
//! `peers_spawn`); `tell(..).await` waits for room; requests use `ask`.
//! Kameo boxes each message on send.

use std::sync::Arc;
use std::time::Duration;

use ::kameo::Actor;
use ::kameo::actor::{ActorRef, Spawn};
use ::kameo::error::Infallible;
use ::kameo::mailbox;
use ::kameo::message::{Context, Message as KameoMessage};
use bytes::Bytes;
use caxton_runtime::{AgentId, Message, Performative};
use caxton_workloads::agents::{Completion, Tally};
use caxton_workloads::fanout::{FanoutConfig, drive};

use super::{Echo, Fanout, Host, Peer, envelope, payloads, receivers, time_ready};

/// kameo as a [`Peer`].
pub struct Kameo;

/// A kameo actor that counts the messages it receives.
#[derive(Actor)]
pub struct CountingSink {
    tally: Tally,
}

impl KameoMessage<Message> for CountingSink {
    type Reply = ();

    async fn handle(&mut self, msg: Message, _ctx: &mut Context<Self, Self::Reply>) {
        self.tally.count(&msg.payload);
    }
}

/// Stops every actor, then waits for all of them to exit.
async fn stop_sinks(actors: Vec<ActorRef<CountingSink>>) {
    for actor in &actors {
        let _ = actor.stop_gracefully().await;
    }
    for actor in &actors {
        actor.wait_for_shutdown().await;
    }
}

/// Fan-out receivers.
pub struct Sinks {
    actors: Vec<ActorRef<CountingSink>>,
    completion: Arc<Completion>,
}

impl Fanout for Sinks {
    async fn run(&self, messages: u64) -> Duration {
        let payloads = payloads();
        let run = drive(self.actors.len(), messages, payloads, &self.completion, |i, payload| {
            std::future::IntoFuture::into_future(self.actors[i].tell(envelope(i, payload)))
        });
        run.await.expect("actors outlive the run").elapsed
    }

    fn stop(self, host: &Host) {
        host.rt.block_on(stop_sinks(self.actors));
    }
}

/// A kameo actor that replies with the payload it got.
#[derive(Actor)]
pub struct EchoActor;

impl KameoMessage<Message> for EchoActor {
    type Reply = Result<Message, Infallible>;

    async fn handle(&mut self, msg: Message, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(msg.reply(Performative::Inform, msg.payload.clone()))
    }
}

/// The echo actor.
pub struct KameoEcho(ActorRef<EchoActor>);

impl Echo for KameoEcho {
    async fn round_trips(&self, n: u64, payload: Bytes) {
        let to = AgentId::new(1).expect("non-zero");
        for _ in 0..n {
            let reply = self
                .0
                .ask(Message::request(to, payload.clone()))
                .await
                .expect("echo actor is running");
            std::hint::black_box(reply);
        }
    }

    fn stop(self, host: &Host) {
        host.rt.block_on(async {
            let _ = self.0.stop_gracefully().await;
            self.0.wait_for_shutdown().await;
        });
    }
}

impl Peer for Kameo {
    type Sinks = Sinks;
    type Echo = KameoEcho;
    type Broadcast = Sinks;

    fn sinks(&self, host: &Host, cfg: &FanoutConfig) -> Sinks {
        let completion = Completion::new();
        let actors = host.rt.block_on(async {
            let mut actors = Vec::with_capacity(cfg.agents);
            for _ in 0..cfg.agents {
                let sink = CountingSink {
                    tally: Tally::new(completion.clone()),
                };
                let actor = CountingSink::spawn_with_mailbox(sink, mailbox::bounded(cfg.mailbox_capacity));
                actor.wait_for_startup().await;
                actors.push(actor);
            }
            actors
        });
        Sinks { actors, completion }
    }

    fn echo(&self, host: &Host) -> KameoEcho {
        host.rt.block_on(async {
            let actor = EchoActor::spawn_with_mailbox(EchoActor, mailbox::bounded(1024));
            actor.wait_for_startup().await;
            KameoEcho(actor)
        })
    }

    fn broadcast(&self, host: &Host, n: usize) -> Sinks {
        self.sinks(host, &receivers(n))
    }

    fn spawn_ready(&self, host: &Host, n: usize) -> Duration {
        time_ready(
            host,
            n,
            |completion| async move {
                let mut actors = Vec::with_capacity(n);
                for _ in 0..n {
                    let sink = CountingSink {
                        tally: Tally::new(completion.clone()),
                    };
                    actors.push(CountingSink::spawn(sink));
                }
                for (i, actor) in actors.iter().enumerate() {
                    actor
                        .tell(envelope(i, payloads().last.clone()))
                        .await
                        .expect("actor is running");
                }
                actors
            },
            stop_sinks,
        )
    }
}
