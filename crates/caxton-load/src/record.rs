//! Recording outcomes: an HDR histogram of latencies in microseconds for
//! the whole run, plus per-second intervals for progress and stability.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency the histograms hold, in microseconds (one hour);
/// anything above is recorded as this.
const MAX_US: u64 = 3_600_000_000;

/// Why a request did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// A non-2xx HTTP status.
    Status(u16),
    /// The TCP connection (or the HTTP / WebSocket handshake) failed.
    Connect,
    /// The connection failed while sending or receiving.
    Io,
    /// No reply within `--timeout`.
    Timeout,
    /// The backlog of queued requests was full: never sent.
    Dropped,
    /// The server answered a WebSocket request with an `error` frame of
    /// this kind.
    Server(String),
    /// The WebSocket session closed with the request unanswered.
    Closed,
    /// A reply that does not fit the protocol (e.g. an unknown ref).
    Protocol,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Status(code) => write!(f, "status_{code}"),
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Io => f.write_str("io"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Dropped => f.write_str("dropped"),
            ErrorKind::Server(kind) => write!(f, "server_{kind}"),
            ErrorKind::Closed => f.write_str("closed"),
            ErrorKind::Protocol => f.write_str("protocol"),
        }
    }
}

/// One second of the measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Seconds since the end of the warmup.
    pub second: u64,
    /// Requests due in this second (by intended send time).
    pub sent: u64,
    /// Successful replies that arrived in this second.
    pub ok: u64,
    /// Failures that happened in this second.
    pub errors: u64,
    /// `errors` by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Median latency of this second's successful replies (µs; 0 if none).
    pub p50_us: u64,
    /// 99th percentile latency of this second's successful replies (µs).
    pub p99_us: u64,
}

/// Totals of a run.
#[derive(Clone, Debug)]
pub struct Totals {
    /// Requests issued by the schedule in the measured window (including
    /// those dropped from a full backlog).
    pub sent: u64,
    /// Successful replies.
    pub ok: u64,
    /// Successful replies that arrived before the measured window ended.
    pub ok_in_window: u64,
    /// Failures of every kind (`sent == ok + errors` once all are done).
    pub errors: u64,
    /// `errors` by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Reply bytes received with successful replies.
    pub bytes_received: u64,
    /// Latency of successful replies, µs from the intended send time.
    pub latency: Histogram<u64>,
    /// Seconds from the end of the warmup to the last recorded completion
    /// (reply or failure); 0 when nothing completed.
    pub elapsed_s: f64,
    /// Per-second intervals.
    pub intervals: Vec<Interval>,
}

struct Acc {
    sent: u64,
    ok: u64,
    errors: u64,
    errors_by_kind: BTreeMap<String, u64>,
    latency: Histogram<u64>,
}

impl Acc {
    fn new(sigfig: u8) -> Self {
        Self {
            sent: 0,
            ok: 0,
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, MAX_US, sigfig).expect("valid histogram bounds"),
        }
    }

    fn interval(&self, second: u64) -> Interval {
        let q = |q: f64| {
            if self.ok == 0 {
                0
            } else {
                self.latency.value_at_quantile(q)
            }
        };
        Interval {
            second,
            sent: self.sent,
            ok: self.ok,
            errors: self.errors,
            errors_by_kind: self.errors_by_kind.clone(),
            p50_us: q(0.5),
            p99_us: q(0.99),
        }
    }
}

struct Inner {
    total: Acc,
    ok_in_window: u64,
    bytes: u64,
    last_done: Option<Instant>,
    seconds: Vec<Acc>,
}

/// Shared by the pacer and all workers: counts and latencies of recorded
/// (non-warmup) requests. A mutex around plain counters: one lock per
/// request is cheap next to a network round trip.
pub struct Recorder {
    measure_from: Instant,
    end: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    /// A recorder for a measured window from `measure_from` (the end of
    /// the warmup, where intervals count from) to `end`.
    pub fn new(measure_from: Instant, end: Instant) -> Self {
        Self {
            measure_from,
            end,
            inner: Mutex::new(Inner {
                total: Acc::new(3),
                ok_in_window: 0,
                bytes: 0,
                last_done: None,
                seconds: Vec::new(),
            }),
        }
    }

    fn with_second<R>(&self, at: Instant, f: impl FnOnce(&mut Inner, usize) -> R) -> R {
        let second = at.saturating_duration_since(self.measure_from).as_secs() as usize;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while inner.seconds.len() <= second {
            inner.seconds.push(Acc::new(2));
        }
        f(&mut inner, second)
    }

    /// A request due at `intended` was issued.
    pub fn sent(&self, intended: Instant) {
        self.with_second(intended, |inner, s| {
            inner.total.sent += 1;
            inner.seconds[s].sent += 1;
        });
    }

    /// A request due at `intended` got a successful reply of `bytes` at
    /// `done`.
    pub fn ok(&self, intended: Instant, done: Instant, bytes: usize) {
        let us = done
            .saturating_duration_since(intended)
            .as_micros()
            .min(u128::from(MAX_US)) as u64;
        self.with_second(done, |inner, s| {
            inner.total.ok += 1;
            if done < self.end {
                inner.ok_in_window += 1;
            }
            inner.total.latency.saturating_record(us.max(1));
            inner.bytes += bytes as u64;
            inner.last_done = Some(inner.last_done.map_or(done, |l| l.max(done)));
            let sec = &mut inner.seconds[s];
            sec.ok += 1;
            sec.latency.saturating_record(us.max(1));
        });
    }

    /// A request failed with `kind` at `done`.
    pub fn error(&self, kind: ErrorKind, done: Instant) {
        let key = kind.to_string();
        self.with_second(done, |inner, s| {
            inner.total.errors += 1;
            *inner.total.errors_by_kind.entry(key.clone()).or_default() += 1;
            inner.last_done = Some(inner.last_done.map_or(done, |l| l.max(done)));
            let sec = &mut inner.seconds[s];
            sec.errors += 1;
            *sec.errors_by_kind.entry(key).or_default() += 1;
        });
    }

    /// Second `second` of the measured window as recorded so far.
    pub fn interval(&self, second: u64) -> Interval {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.seconds.get(second as usize).map_or_else(
            || Interval {
                second,
                ..Interval::default()
            },
            |acc| acc.interval(second),
        )
    }

    /// Requests recorded so far: (sent, ok, errors).
    pub fn counts(&self) -> (u64, u64, u64) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.total.sent, inner.total.ok, inner.total.errors)
    }

    /// The totals and intervals (call once every request is done).
    pub fn totals(&self) -> Totals {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Totals {
            sent: inner.total.sent,
            ok: inner.total.ok,
            ok_in_window: inner.ok_in_window,
            errors: inner.total.errors,
            errors_by_kind: inner.total.errors_by_kind.clone(),
            bytes_received: inner.bytes,
            latency: inner.total.latency.clone(),
            elapsed_s: inner
                .last_done
                .map_or(0.0, |l| l.saturating_duration_since(self.measure_from).as_secs_f64()),
            intervals: inner
                .seconds
                .iter()
                .enumerate()
                .map(|(i, acc)| acc.interval(i as u64))
                .collect(),
        }
    }
}

/// The progress line of one interval.
pub fn progress_line(label: &str, i: &Interval) -> String {
    let kinds: Vec<String> = i.errors_by_kind.iter().map(|(k, n)| format!("{k}={n}")).collect();
    format!(
        "[{label}] {:>4}s  sent {:>7}  ok {:>7}  errors {:>5}{}  p50 {:>7} us  p99 {:>7} us",
        i.second + 1,
        i.sent,
        i.ok,
        i.errors,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(" "))
        },
        i.p50_us,
        i.p99_us,
    )
}

/// Prints one progress line per second of the measured window to stderr,
/// until aborted, counting the lines in `printed`. Lines come a little
/// after each second ends, so most of its replies are in.
pub async fn progress(rec: Arc<Recorder>, measure_from: Instant, label: String, printed: Arc<AtomicU64>) {
    let now = Instant::now();
    if now < measure_from {
        eprintln!("[{label}] warming up for {:.1}s", (measure_from - now).as_secs_f64());
    }
    // Until aborted: a u64 of seconds never runs out.
    for second in 0..u64::MAX {
        let due = measure_from + Duration::from_secs(second + 1) + Duration::from_millis(100);
        tokio::time::sleep_until(due.into()).await;
        eprintln!("{}", progress_line(&label, &rec.interval(second)));
        printed.store(second + 1, Ordering::Relaxed);
    }
}
