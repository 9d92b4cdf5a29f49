//! Fan-out and ping-pong on [ractor](https://docs.rs/ractor).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr};
use bytes::Bytes;
use caxton_runtime::{AgentId, Message, Performative};

use crate::agents::{Completion, Tally};
use crate::fanout::{FanoutConfig, FanoutRun, drive, envelope};
use crate::payload::Payloads;

/// A ractor actor that counts the messages it receives (the fan-out sink).
pub struct CountingSink {
    completion: Arc<Completion>,
}

impl Actor for CountingSink {
    type Msg = Message;
    type State = Tally;
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<Message>, _args: ()) -> Result<Tally, ActorProcessingErr> {
        Ok(Tally::new(self.completion.clone()))
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

/// Fan-out from one producer to N ractor actors.
pub struct RactorFanout {
    actors: Vec<ActorRef<Message>>,
    completion: Arc<Completion>,
    payloads: Payloads,
}

impl RactorFanout {
    /// Spawns `cfg.agents` counting actors (ractor's mailboxes are unbounded,
    /// so `cfg.mailbox_capacity` does not apply).
    pub async fn spawn(cfg: &FanoutConfig) -> Result<Self, SpawnErr> {
        let completion = Completion::new();
        let mut actors = Vec::with_capacity(cfg.agents);
        for _ in 0..cfg.agents {
            let sink = CountingSink {
                completion: completion.clone(),
            };
            let (actor, _join) = Actor::spawn(None, sink, ()).await?;
            actors.push(actor);
        }
        Ok(Self {
            actors,
            completion,
            payloads: Payloads::new(cfg.payload_bytes),
        })
    }

    /// Sends about `messages` (whole rounds), returns when all were handled.
    pub async fn run(&self, messages: u64) -> FanoutRun {
        let result = drive(
            self.actors.len(),
            messages,
            &self.payloads,
            &self.completion,
            |i, payload| std::future::ready(self.actors[i].cast(envelope(i, payload))),
        )
        .await;
        result.expect("actors outlive the run")
    }

    /// Stops the actors and waits for them to exit.
    pub async fn stop(self) {
        for actor in self.actors {
            let _ = actor.stop_and_wait(None, None).await;
        }
    }
}

/// A request for the ractor echo actor: the message and where to reply.
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
        // The caller may have gone; that is its choice.
        let _ = reply.send(msg.reply(Performative::Inform, msg.payload.clone()));
        Ok(())
    }
}

/// Request/reply round trips against a ractor echo actor.
pub struct RactorEcho {
    actor: ActorRef<EchoRequest>,
}

impl RactorEcho {
    /// Spawns the echo actor.
    pub async fn spawn() -> Result<Self, SpawnErr> {
        let (actor, _join) = Actor::spawn(None, EchoActor, ()).await?;
        Ok(Self { actor })
    }

    /// `n` sequential round trips; `record` gets each.
    pub async fn round_trips(&self, n: u64, payload: Bytes, mut record: impl FnMut(Duration)) {
        let to = AgentId::new(1).expect("non-zero");
        for _ in 0..n {
            let start = Instant::now();
            let req = Message::request(to, payload.clone());
            let reply = self
                .actor
                .call(|port| EchoRequest(req, port), None)
                .await
                .expect("echo actor is running");
            record(start.elapsed());
            std::hint::black_box(reply.success_or("echo replies").expect("echo replies"));
        }
    }

    /// Stops the echo actor.
    pub async fn stop(self) {
        let _ = self.actor.stop_and_wait(None, None).await;
    }
}
