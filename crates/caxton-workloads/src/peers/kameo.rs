//! Fan-out and ping-pong on [kameo](https://docs.rs/kameo).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::kameo::Actor;
use ::kameo::actor::{ActorRef, Spawn};
use ::kameo::error::Infallible;
use ::kameo::mailbox;
use ::kameo::message::{Context, Message as KameoMessage};
use bytes::Bytes;
use caxton_runtime::{AgentId, Message, Performative};

use crate::agents::{Completion, Tally};
use crate::fanout::{FanoutConfig, FanoutRun, drive, envelope};
use crate::payload::Payloads;

/// A kameo actor that counts the messages it receives (the fan-out sink).
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

/// Fan-out from one producer to N kameo actors.
pub struct KameoFanout {
    actors: Vec<ActorRef<CountingSink>>,
    completion: Arc<Completion>,
    payloads: Payloads,
}

impl KameoFanout {
    /// Spawns `cfg.agents` counting actors with bounded mailboxes of
    /// `cfg.mailbox_capacity`.
    pub async fn spawn(cfg: &FanoutConfig) -> Self {
        let completion = Completion::new();
        let mut actors = Vec::with_capacity(cfg.agents);
        for _ in 0..cfg.agents {
            let sink = CountingSink {
                tally: Tally::new(completion.clone()),
            };
            let actor = CountingSink::spawn_with_mailbox(sink, mailbox::bounded(cfg.mailbox_capacity));
            actor.wait_for_startup().await;
            actors.push(actor);
        }
        Self {
            actors,
            completion,
            payloads: Payloads::new(cfg.payload_bytes),
        }
    }

    /// Sends about `messages` (whole rounds), waiting on full mailboxes, and
    /// returns when all were handled.
    pub async fn run(&self, messages: u64) -> FanoutRun {
        let result = drive(
            self.actors.len(),
            messages,
            &self.payloads,
            &self.completion,
            |i, payload| std::future::IntoFuture::into_future(self.actors[i].tell(envelope(i, payload))),
        )
        .await;
        result.expect("actors outlive the run")
    }

    /// Stops the actors and waits for them to exit.
    pub async fn stop(self) {
        for actor in self.actors {
            let _ = actor.stop_gracefully().await;
            actor.wait_for_shutdown().await;
        }
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

/// Request/reply round trips against a kameo echo actor.
pub struct KameoEcho {
    actor: ActorRef<EchoActor>,
}

impl KameoEcho {
    /// Spawns the echo actor (bounded mailbox of 1024, like the raw echo).
    pub async fn spawn() -> Self {
        let actor = EchoActor::spawn_with_mailbox(EchoActor, mailbox::bounded(1024));
        actor.wait_for_startup().await;
        Self { actor }
    }

    /// `n` sequential round trips; `record` gets each.
    pub async fn round_trips(&self, n: u64, payload: Bytes, mut record: impl FnMut(Duration)) {
        let to = AgentId::new(1).expect("non-zero");
        for _ in 0..n {
            let start = Instant::now();
            let reply = self
                .actor
                .ask(Message::request(to, payload.clone()))
                .await
                .expect("echo actor is running");
            record(start.elapsed());
            std::hint::black_box(reply);
        }
    }

    /// Stops the echo actor.
    pub async fn stop(self) {
        let _ = self.actor.stop_gracefully().await;
        self.actor.wait_for_shutdown().await;
    }
}
