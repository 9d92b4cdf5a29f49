//! Pacing: when each request is meant to leave.
//!
//! Tokio's timer ticks in milliseconds, far too coarse for 10 000 req/s.
//! The pacer is a dedicated OS thread: it sleeps until shortly before each
//! intended send time `t0 + i / R`, spins to the exact instant and hands
//! the *intended* time to the connection workers through a bounded
//! channel. Workers measure latency from that intended time, so a request
//! that waited for a busy connection is charged for the wait (no
//! coordinated omission).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::record::{ErrorKind, Recorder};

/// An exact open-loop schedule: request `i` is due `i / rate` seconds
/// after the start, in integer nanoseconds (no drift from adding up
/// rounded intervals).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    rate: u64,
}

impl Schedule {
    /// A schedule of `rate` requests per second (`rate` > 0).
    pub fn new(rate: u64) -> Self {
        assert!(rate > 0, "an open-loop schedule needs a rate above zero");
        Self { rate }
    }

    /// Requests per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// When request `i` is due, after the start: `floor(i * 1e9 / rate)` ns.
    pub fn offset(&self, i: u64) -> Duration {
        Duration::from_nanos((u128::from(i) * 1_000_000_000 / u128::from(self.rate)) as u64)
    }

    /// When request `i` is due, for a schedule started at `t0`.
    pub fn intended(&self, t0: Instant, i: u64) -> Instant {
        t0 + self.offset(i)
    }
}

/// The phases of a run: warmup from `start`, measured from `measure_from`
/// until `end`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// When the first request is due.
    pub start: Instant,
    /// End of the warmup: requests due from here on are recorded.
    pub measure_from: Instant,
    /// No request is due at or after this.
    pub end: Instant,
}

impl Window {
    /// A window starting at `start`: `warmup`, then `duration` measured.
    pub fn new(start: Instant, warmup: Duration, duration: Duration) -> Self {
        let measure_from = start + warmup;
        Self {
            start,
            measure_from,
            end: measure_from + duration,
        }
    }

    /// Whether a request due at `t` is recorded (not warmup).
    pub fn records(&self, t: Instant) -> bool {
        t >= self.measure_from
    }
}

/// One request to send: when it was meant to leave, and whether it counts.
#[derive(Clone, Copy, Debug)]
pub struct Tick {
    /// The intended send time; latency is measured from here.
    pub intended: Instant,
    /// False during warmup.
    pub record: bool,
}

/// Where a worker gets its next request from.
pub enum TickSource {
    /// Open loop: ticks from the pacer thread, shared by all workers (the
    /// first free worker takes the oldest tick).
    Open(Arc<tokio::sync::Mutex<mpsc::Receiver<Tick>>>),
    /// Closed loop: a worker sends as soon as its previous reply came, so
    /// the tick is "now", until the window ends.
    Closed(Window, Arc<Recorder>),
}

impl TickSource {
    /// The next request, or `None` when the run is over.
    pub async fn next(&self) -> Option<Tick> {
        match self {
            TickSource::Open(rx) => rx.lock().await.recv().await,
            TickSource::Closed(window, rec) => closed_tick(window, rec),
        }
    }
}

/// A closed-loop tick now, counted as sent; `None` past the window's end.
pub fn closed_tick(window: &Window, rec: &Recorder) -> Option<Tick> {
    let now = Instant::now();
    if now >= window.end {
        return None;
    }
    let record = window.records(now);
    if record {
        rec.sent(now);
    }
    Some(Tick { intended: now, record })
}

/// What the pacer thread saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct PacerStats {
    /// Ticks issued (including those dropped because the backlog was full).
    pub issued: u64,
    /// Ticks dropped because the backlog was full.
    pub dropped: u64,
    /// The latest the pacer handed a tick over, after its intended time, in
    /// microseconds (how well the machine let it keep time).
    pub max_lag_us: u64,
    /// The 99th percentile of that lateness, in microseconds.
    pub p99_lag_us: u64,
}

/// Starts the pacer thread for `schedule` over `window`, sending ticks to
/// `tx`. When `tx` is full (the backlog of queued requests is at its
/// bound), the tick is counted as a `dropped` error instead of queued.
/// Sleeps until `spin` before each tick, then spins. The thread ends (and
/// drops `tx`) at the window's end.
pub fn spawn_pacer(
    schedule: Schedule,
    window: Window,
    tx: mpsc::Sender<Tick>,
    rec: Arc<Recorder>,
    spin: Duration,
) -> thread::JoinHandle<PacerStats> {
    thread::Builder::new()
        .name("caxton-load-pacer".to_owned())
        .spawn(move || {
            fine_timer_slack();
            let mut stats = PacerStats::default();
            let mut lags =
                hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds");
            for i in 0.. {
                let intended = schedule.intended(window.start, i);
                if intended >= window.end {
                    break;
                }
                wait_until(intended, spin);
                let lag = Instant::now().saturating_duration_since(intended).as_micros() as u64;
                let record = window.records(intended);
                if record {
                    stats.max_lag_us = stats.max_lag_us.max(lag);
                    lags.saturating_record(lag.max(1));
                }
                if record {
                    rec.sent(intended);
                }
                stats.issued += 1;
                match tx.try_send(Tick { intended, record }) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        stats.dropped += 1;
                        if record {
                            rec.error(ErrorKind::Dropped, Instant::now());
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            if !lags.is_empty() {
                stats.p99_lag_us = lags.value_at_quantile(0.99);
            }
            stats
        })
        .expect("spawn the pacer thread")
}

/// Asks the kernel to wake this thread's sleeps within a nanosecond of
/// their deadline instead of its default 50 µs slack, so the pacer can
/// sleep close to each send time and spin only briefly (a spinning pacer
/// takes a core from the server it measures on a small machine).
fn fine_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only
    // the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Blocks until `target`: sleeps while more than `spin` is left, then
/// spins (yielding the core to others while it waits).
pub fn wait_until(target: Instant, spin: Duration) {
    loop {
        let now = Instant::now();
        if now >= target {
            return;
        }
        let left = target - now;
        if left > spin {
            thread::sleep(left - spin);
        } else if left > Duration::from_micros(20) {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}
