//! One load run, from configuration to summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use tokio::sync::mpsc;

use crate::config::LoadConfig;
use crate::error::LoadError;
use crate::http::{self, HttpRequestSpec};
use crate::pace::{self, PacerStats, Schedule, TickSource, Window};
use crate::record::{self, Recorder, Totals};
use crate::results::{RunSummary, SessionStats};
use crate::target::Mode;
use crate::ws::{self, Feed};

/// The payload: `n` bytes of a fixed, non-constant pattern.
pub fn payload(n: usize) -> Bytes {
    (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

/// Most requests queued (waiting for a free connection) at once: a
/// `timeout`'s worth at the rate, so a stalled target costs bounded
/// memory and the rest are counted as dropped.
fn backlog(rate: u64, timeout: Duration, workers: usize) -> usize {
    let by_rate = (rate as f64 * timeout.as_secs_f64()).ceil() as usize;
    by_rate.clamp(workers.max(1), 1_000_000)
}

/// Runs the load described by `cfg` and summarises it. Errors only when
/// the run cannot start: bad settings, or a target that cannot be reached
/// at all; failures during the run are counted, not returned.
pub async fn run(cfg: &LoadConfig) -> Result<RunSummary, LoadError> {
    validate(cfg)?;
    let _ = crate::fdlimit::raise_nofile_limit();
    let payload = payload(cfg.payload_bytes);
    match cfg.mode {
        Mode::Http => run_http(cfg, payload).await,
        Mode::Ws => run_ws(cfg, payload).await,
    }
}

fn validate(cfg: &LoadConfig) -> Result<(), LoadError> {
    let bad = |m: &str| Err(LoadError::BadArgs(m.to_owned()));
    if cfg.duration.is_zero() {
        return bad("--duration must be above zero");
    }
    if cfg.timeout.is_zero() {
        return bad("--timeout must be above zero");
    }
    match cfg.mode {
        Mode::Http if cfg.connections == 0 => bad("--connections must be at least 1"),
        Mode::Ws if cfg.sessions == 0 => bad("--sessions must be at least 1"),
        _ => Ok(()),
    }
}

fn headers(cfg: &LoadConfig) -> Result<(HeaderValue, Vec<(HeaderName, HeaderValue)>), LoadError> {
    let content_type = HeaderValue::from_str(&cfg.content_type)
        .map_err(|e| LoadError::BadArgs(format!("invalid --content-type {:?}: {e}", cfg.content_type)))?;
    let mut out = Vec::new();
    for (k, v) in &cfg.headers {
        let name = HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|e| LoadError::BadArgs(format!("invalid header name {k:?}: {e}")))?;
        let value = HeaderValue::from_str(v.trim())
            .map_err(|e| LoadError::BadArgs(format!("invalid value of header {k:?}: {e}")))?;
        out.push((name, value));
    }
    Ok((content_type, out))
}

/// Starts the pacer (open loop) or returns `None` (closed loop).
fn start_pacer(
    cfg: &LoadConfig,
    window: Window,
    rec: &Arc<Recorder>,
    workers: usize,
) -> Option<(mpsc::Receiver<pace::Tick>, std::thread::JoinHandle<PacerStats>)> {
    if cfg.rate == 0 {
        return None;
    }
    let (tx, rx) = mpsc::channel(backlog(cfg.rate, cfg.timeout, workers));
    let pacer = pace::spawn_pacer(Schedule::new(cfg.rate), window, tx, rec.clone(), cfg.spin);
    Some((rx, pacer))
}

/// The per-second progress lines on stderr, while a run goes.
struct Progress {
    task: tokio::task::JoinHandle<()>,
    printed: Arc<AtomicU64>,
    label: String,
}

impl Progress {
    fn start(cfg: &LoadConfig, rec: &Arc<Recorder>, window: Window) -> Option<Self> {
        cfg.progress.then(|| {
            let label = format!("{} {}", cfg.mode.name(), cfg.label);
            let printed = Arc::new(AtomicU64::new(0));
            let task = tokio::spawn(record::progress(
                rec.clone(),
                window.measure_from,
                label.clone(),
                printed.clone(),
            ));
            Self { task, printed, label }
        })
    }

    /// Stops the ticker and prints the seconds it had not printed yet.
    fn finish(progress: Option<Self>, totals: &Totals) {
        if let Some(p) = progress {
            p.task.abort();
            let from = p.printed.load(Ordering::Relaxed) as usize;
            for i in totals.intervals.iter().skip(from) {
                eprintln!("{}", record::progress_line(&p.label, i));
            }
        }
    }
}

async fn finish_pacer(pacer: Option<std::thread::JoinHandle<PacerStats>>) -> PacerStats {
    match pacer {
        Some(p) => tokio::task::spawn_blocking(move || p.join().unwrap_or_default())
            .await
            .unwrap_or_default(),
        None => PacerStats::default(),
    }
}

async fn run_http(cfg: &LoadConfig, payload: Bytes) -> Result<RunSummary, LoadError> {
    let (content_type, headers) = headers(cfg)?;
    // Reachable at all? A refused connect here is exit code 1, not a run
    // full of connect errors.
    match tokio::time::timeout(cfg.timeout, tokio::net::TcpStream::connect(cfg.target.addr)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(LoadError::Unreachable(format!(
                "cannot reach {} ({}): {e}",
                cfg.target.url, cfg.target.addr
            )));
        }
        Err(_) => {
            return Err(LoadError::Unreachable(format!(
                "cannot reach {} ({}): no connection within {:?}",
                cfg.target.url, cfg.target.addr, cfg.timeout
            )));
        }
    }
    let spec = Arc::new(HttpRequestSpec {
        target: cfg.target.clone(),
        payload,
        content_type,
        headers,
        timeout: cfg.timeout,
        new_connection_per_request: cfg.new_connection_per_request,
    });
    let window = Window::new(Instant::now() + Duration::from_millis(20), cfg.warmup, cfg.duration);
    let rec = Arc::new(Recorder::new(window.measure_from, window.end));
    let (source, pacer) = match start_pacer(cfg, window, &rec, cfg.connections) {
        Some((rx, pacer)) => (TickSource::Open(Arc::new(tokio::sync::Mutex::new(rx))), Some(pacer)),
        None => {
            wait_for(window.start).await;
            (TickSource::Closed(window, rec.clone()), None)
        }
    };
    let source = Arc::new(source);
    let progress = Progress::start(cfg, &rec, window);
    let workers: Vec<_> = (0..cfg.connections)
        .map(|_| tokio::spawn(http::worker(spec.clone(), source.clone(), rec.clone())))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let pacer = finish_pacer(pacer).await;
    let totals = rec.totals();
    Progress::finish(progress, &totals);
    Ok(RunSummary::new(cfg, &totals, pacer, None))
}

async fn run_ws(cfg: &LoadConfig, payload: Bytes) -> Result<RunSummary, LoadError> {
    let opening = Instant::now();
    let (sessions, failed) = ws::open_sessions(&cfg.target, cfg.sessions, cfg.open_concurrency, cfg.timeout).await;
    if sessions.is_empty() {
        return Err(LoadError::Unreachable(format!(
            "cannot open any WebSocket session to {}: {}",
            cfg.target.url,
            failed.first().map_or("no attempt", String::as_str)
        )));
    }
    if cfg.progress {
        eprintln!(
            "[ws {}] opened {} of {} sessions in {:.2}s{}",
            cfg.label,
            sessions.len(),
            cfg.sessions,
            opening.elapsed().as_secs_f64(),
            failed
                .first()
                .map_or(String::new(), |e| format!(" (first failure: {e})"))
        );
    }
    let opened = sessions.len();
    let mut tasks = Vec::with_capacity(opened);
    let spawn = |s, feed, rec: &Arc<Recorder>| {
        tokio::spawn(ws::run_session(s, feed, rec.clone(), payload.clone(), cfg.timeout))
    };
    // Spawning thousands of session tasks takes a while: start the clock
    // after it, so it does not eat into the warmup.
    let lead = Duration::from_millis(20) + Duration::from_micros(50) * opened as u32;
    let (window, rec, pacer, dispatcher) = if cfg.rate > 0 {
        let mut senders = Vec::with_capacity(opened);
        let mut feeds = Vec::with_capacity(opened);
        for _ in 0..opened {
            let (tx, feed) = mpsc::channel(64);
            senders.push(tx);
            feeds.push(feed);
        }
        let window = Window::new(Instant::now() + lead, cfg.warmup, cfg.duration);
        let rec = Arc::new(Recorder::new(window.measure_from, window.end));
        for (s, feed) in sessions.into_iter().zip(feeds) {
            tasks.push(spawn(s, Feed::Open(feed), &rec));
        }
        let (rx, pacer) = start_pacer(cfg, window, &rec, opened).expect("open loop");
        let dispatcher = tokio::spawn(ws::dispatch(rx, senders, rec.clone()));
        (window, rec, Some(pacer), Some(dispatcher))
    } else {
        let window = Window::new(Instant::now() + lead, cfg.warmup, cfg.duration);
        let rec = Arc::new(Recorder::new(window.measure_from, window.end));
        for s in sessions {
            tasks.push(spawn(s, Feed::Closed(window), &rec));
        }
        (window, rec, None, None)
    };
    let progress = Progress::start(cfg, &rec, window);
    if let Some(d) = dispatcher {
        let _ = d.await;
    }
    let mut open_at_end = 0;
    for t in tasks {
        if let Ok(true) = t.await {
            open_at_end += 1;
        }
    }
    let pacer = finish_pacer(pacer).await;
    let totals = rec.totals();
    Progress::finish(progress, &totals);
    let stats = SessionStats {
        requested: cfg.sessions as u64,
        opened: opened as u64,
        failed_to_open: failed.len() as u64,
        open_at_end,
    };
    Ok(RunSummary::new(cfg, &totals, pacer, Some(stats)))
}

async fn wait_for(t: Instant) {
    tokio::time::sleep_until(t.into()).await;
}
