//! The load over HTTP: a [`LoadSink`] that hands each due message to one
//! of a fixed set of keep-alive connections (round-robin, a queue each, so
//! the generator never waits on the network), which POST it to the raw
//! send route of its agent. A 202 is an accepted message, timed from its
//! intended send time into the run's [`Probe`]; anything else is a refusal,
//! counted, never lost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use caxton_load::http::connect;
use caxton_load::record::ErrorKind;
use caxton_workloads::open_loop::{Due, LoadSink};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::probe::Probe;
use crate::run::{Counters, Flush};

/// Keep-alive connections a run holds open to the front door.
pub const CONNECTIONS: usize = 32;

/// A message not answered this long after its intended send time is given
/// up (counted as refused; sent or not, the server's counters say what
/// became of it).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Refusals by where they happened.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Refused by the orchestrator (429 mailbox full, 404 unknown or
    /// stopped agent, 413 too large): each is a dead letter on the server.
    pub by_orchestrator: AtomicU64,
    /// Answered by the front door before any mailbox (503 draining or
    /// over its connection limit, other statuses): no dead letter.
    pub by_front_door: AtomicU64,
    /// No answer: the connection failed or the request timed out.
    pub unanswered: AtomicU64,
}

/// What the connections share.
struct Shared {
    addr: SocketAddr,
    authority: String,
    probe: Arc<Probe>,
    counters: Arc<Counters>,
    refusals: Arc<Refusals>,
}

/// One message for a connection to send.
struct Job {
    intended: Instant,
    path: Arc<str>,
    payload: Bytes,
    crash: bool,
}

/// Every `every`-th message is the crash command, to the agents in turn.
#[derive(Clone, Debug)]
pub struct Crashes {
    /// Every how many messages.
    pub every: u64,
    /// The crash payload.
    pub payload: Bytes,
}

/// The HTTP load sink.
pub struct HttpSink {
    queues: Vec<mpsc::UnboundedSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    paths: Vec<Arc<str>>,
    payload: Bytes,
    crashes: Option<Crashes>,
    start: Instant,
    counters: Arc<Counters>,
    sent: u64,
    crashes_sent: u64,
}

impl HttpSink {
    /// A sink to the agents `ids` of the front door at `addr`, sending
    /// `payload` (and the crash command, with `crashes`), with intended
    /// times counted from `start`. Starts its connections' tasks (call it
    /// inside the run's tokio runtime).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        addr: SocketAddr,
        ids: &[u64],
        payload: Bytes,
        crashes: Option<Crashes>,
        start: Instant,
        probe: Arc<Probe>,
        counters: Arc<Counters>,
        refusals: Arc<Refusals>,
    ) -> Self {
        let shared = Arc::new(Shared {
            addr,
            authority: addr.to_string(),
            probe,
            counters: counters.clone(),
            refusals,
        });
        let (queues, workers) = (0..CONNECTIONS.min(ids.len().max(1)))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (tx, tokio::spawn(connection(shared.clone(), rx)))
            })
            .unzip();
        Self {
            queues,
            workers,
            paths: ids
                .iter()
                .map(|id| Arc::from(format!("/v1/raw/send/id:{id}")))
                .collect(),
            payload,
            crashes,
            start,
            counters,
            sent: 0,
            crashes_sent: 0,
        }
    }
}

impl LoadSink for HttpSink {
    fn send(&mut self, due: Due) -> impl Future<Output = ()> + Send {
        let n = self.paths.len() as u64;
        let (agent, payload, crash) = match &self.crashes {
            Some(c) if due.index % c.every == c.every - 1 => {
                self.crashes_sent += 1;
                ((self.crashes_sent - 1) % n, c.payload.clone(), true)
            }
            _ => (due.index % n, self.payload.clone(), false),
        };
        let job = Job {
            // Within the (validated, at most a year long) run.
            intended: self.start.checked_add(due.intended).unwrap_or_else(Instant::now),
            path: self.paths[agent as usize].clone(),
            payload,
            crash,
        };
        self.sent += 1;
        self.counters.sent.store(self.sent, Relaxed);
        let q = &self.queues[(due.index % self.queues.len() as u64) as usize];
        if q.send(job).is_err() {
            // The connection's task is gone (it cannot panic; defensive).
            self.counters.refused.fetch_add(1, Relaxed);
        }
        std::future::ready(())
    }
}

impl Flush for HttpSink {
    /// Closes the queues and waits until every queued message is answered
    /// or timed out.
    async fn flush(&mut self) {
        self.queues.clear();
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
    }
}

/// One connection's loop: sends its queue's messages in order.
async fn connection(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut conn = None;
    while let Some(job) = queue.recv().await {
        let deadline = job.intended + REQUEST_TIMEOUT;
        let outcome = if Instant::now() >= deadline {
            Err(ErrorKind::Timeout)
        } else {
            tokio::time::timeout_at(deadline.into(), post(&shared, &mut conn, &job))
                .await
                .unwrap_or(Err(ErrorKind::Timeout))
        };
        let (c, r) = (&shared.counters, &shared.refusals);
        match outcome {
            Ok(202) => {
                shared.probe.record(shared.probe.stamp(job.intended));
                c.accepted.fetch_add(1, Relaxed);
                if job.crash {
                    c.faults_injected.fetch_add(1, Relaxed);
                }
            }
            Ok(404 | 413 | 429) => {
                c.refused.fetch_add(1, Relaxed);
                r.by_orchestrator.fetch_add(1, Relaxed);
            }
            Ok(_) => {
                c.refused.fetch_add(1, Relaxed);
                r.by_front_door.fetch_add(1, Relaxed);
            }
            Err(_) => {
                conn = None;
                c.refused.fetch_add(1, Relaxed);
                r.unanswered.fetch_add(1, Relaxed);
            }
        }
    }
}

/// POSTs `job` on `conn` (connecting first where there is none or the
/// server closed it); the status. A request the closed connection did not
/// take is sent again once on a new one.
async fn post(shared: &Shared, conn: &mut Option<SendRequest<Full<Bytes>>>, job: &Job) -> Result<u16, ErrorKind> {
    let request = || {
        hyper::Request::post(&*job.path)
            .header(HOST, shared.authority.as_str())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(Full::new(job.payload.clone()))
            .map_err(|_| ErrorKind::Protocol)
    };
    for attempt in 0..2 {
        let sender = match conn {
            Some(s) if !s.is_closed() => s,
            _ => conn.insert(connect(shared.addr).await?),
        };
        if sender.ready().await.is_err() {
            *conn = None;
            continue;
        }
        match sender.try_send_request(request()?).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.into_body().collect().await.map_err(|_| ErrorKind::Io)?;
                return Ok(status);
            }
            // Not sent: the connection closed under it; once more.
            Err(e) if e.message().is_some() && attempt == 0 => *conn = None,
            Err(_) => return Err(ErrorKind::Io),
        }
    }
    Err(ErrorKind::Connect)
}
