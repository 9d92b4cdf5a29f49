//! The network scenarios, written once: `http` (request/reply and send
//! through the front door beside the bare echo floor, open-loop latency,
//! the oha cross-check, `/metrics` with many agents), `payload` (1 KiB,
//! 64 KiB, 1 MiB) and `websocket` (thousands of sessions held for the run).
//! Every figure of the front door comes with the bare floor's, measured
//! in the same run, interleaved where there are rounds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use caxton_load::results::RunSummary;
use serde::Serialize;
use serde_json::json;

use crate::bins::Binaries;
use crate::client;
use crate::error::NetbenchError;
use crate::figures::{Check, Figure, NetResult};
use crate::load::LoadSpec;
use crate::oha;
use crate::process::Service;

/// How long a started server has to print its address.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long a server has to drain and exit after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// Settings every network scenario shares.
#[derive(Clone, Debug, Serialize)]
pub struct Common {
    /// Measured time of each load run.
    pub duration: Duration,
    /// Unrecorded time before each.
    pub warmup: Duration,
    /// A front door that is already running (`HOST:PORT`), instead of
    /// starting one.
    pub target: Option<SocketAddr>,
}

impl Common {
    /// The documented runs: 10 s measured after 1 s of warm-up.
    pub fn full() -> Self {
        Self {
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            target: None,
        }
    }

    /// The CI-sized runs: `duration` measured after half a second.
    pub fn quick(duration: Duration) -> Self {
        Self {
            duration,
            warmup: Duration::from_millis(500),
            target: None,
        }
    }
}

/// The `http` scenario.
#[derive(Clone, Debug, Serialize)]
pub struct HttpConfig {
    /// Shared settings.
    pub common: Common,
    /// Keep-alive connections of the load generator.
    pub connections: usize,
    /// Open-loop rate of the latency runs, requests/s.
    pub rate: u64,
    /// Payload bytes.
    pub payload_bytes: usize,
    /// Closed-loop throughput runs per target, interleaved.
    pub rounds: usize,
    /// Agents live while `/metrics` is scraped.
    pub metrics_agents: usize,
    /// Cross-check with oha when it is installed.
    pub oha: bool,
}

impl HttpConfig {
    /// The documented run.
    pub fn full() -> Self {
        Self {
            common: Common::full(),
            connections: 32,
            rate: 5000,
            payload_bytes: 1024,
            rounds: 2,
            metrics_agents: 10_000,
            oha: true,
        }
    }

    /// The CI-sized run.
    pub fn quick() -> Self {
        Self {
            common: Common::quick(Duration::from_secs(2)),
            connections: 16,
            rate: 1000,
            payload_bytes: 1024,
            rounds: 1,
            metrics_agents: 1000,
            oha: true,
        }
    }
}

/// The `payload` scenario.
#[derive(Clone, Debug, Serialize)]
pub struct PayloadConfig {
    /// Shared settings.
    pub common: Common,
    /// Keep-alive connections.
    pub connections: usize,
    /// Payload sizes, bytes.
    pub sizes: Vec<usize>,
}

impl PayloadConfig {
    /// The documented run.
    pub fn full() -> Self {
        Self {
            common: Common::full(),
            connections: 8,
            sizes: vec![1024, 64 * 1024, 1024 * 1024],
        }
    }

    /// The CI-sized run.
    pub fn quick() -> Self {
        Self {
            common: Common::quick(Duration::from_secs(2)),
            ..Self::full()
        }
    }
}

/// The `websocket` scenario.
#[derive(Clone, Debug, Serialize)]
pub struct WebSocketConfig {
    /// Shared settings.
    pub common: Common,
    /// Sessions held open for the run.
    pub sessions: usize,
    /// Round trips per second across them.
    pub rate: u64,
    /// Payload bytes.
    pub payload_bytes: usize,
}

impl WebSocketConfig {
    /// The documented run.
    pub fn full() -> Self {
        Self {
            common: Common::full(),
            sessions: 10_000,
            rate: 2000,
            payload_bytes: 1024,
        }
    }

    /// The CI-sized run.
    pub fn quick() -> Self {
        Self {
            common: Common::quick(Duration::from_secs(3)),
            sessions: 1000,
            rate: 500,
            payload_bytes: 1024,
        }
    }
}

/// The front door under test: started here, or already running.
struct FrontDoor {
    service: Option<Service>,
    addr: SocketAddr,
}

impl FrontDoor {
    fn open(bins: &Binaries, target: Option<SocketAddr>) -> Result<Self, NetbenchError> {
        let (service, addr) = match target {
            Some(addr) => (None, addr),
            None => {
                let s = Service::start(
                    "caxton-server",
                    &bins.server,
                    &["--listen".into(), "127.0.0.1:0".into()],
                    READY_WITHIN,
                )?;
                let addr = s.addr();
                (Some(s), addr)
            }
        };
        let door = Self { service, addr };
        door.ensure("echo", "echo-0")?;
        door.ensure("sink", "sink-0")?;
        Ok(door)
    }

    /// Spawns `kind` named `name` unless one is there (409).
    fn ensure(&self, kind: &str, name: &str) -> Result<(), NetbenchError> {
        let body = json!({ "kind": kind, "name": name }).to_string();
        let r = client::call(
            self.addr,
            "POST",
            "/v1/agents",
            Some("application/json"),
            body.as_bytes(),
        )?;
        if r.status == 201 || r.status == 409 {
            return Ok(());
        }
        Err(NetbenchError::Setup {
            what: format!("spawn {name}"),
            why: format!("status {}: {}", r.status, String::from_utf8_lossy(&r.body)),
        })
    }

    fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops a server started here; the check that it drained and exited
    /// 0 with its shutdown report.
    fn stop(self) -> Option<Check> {
        let service = self.service?;
        let stopped = service.stop(STOP_WITHIN);
        let report = stopped.stdout.iter().find(|l| l.starts_with("shutdown:")).cloned();
        let ok = stopped.status.is_some_and(|s| s.success()) && report.is_some();
        Some(Check::new(
            "front door drains on SIGTERM and exits 0 with its shutdown report",
            ok,
            format!(
                "exit {:?}; {}",
                stopped.status.and_then(|s| s.code()),
                report.unwrap_or_else(|| "no shutdown report".into())
            ),
        ))
    }
}

fn start_bare(bins: &Binaries) -> Result<Service, NetbenchError> {
    Service::start(
        "caxton-bare-echo",
        &bins.bare_echo,
        &["--listen".into(), "127.0.0.1:0".into()],
        READY_WITHIN,
    )
}

fn spec(
    common: &Common,
    mode: &'static str,
    url: String,
    rate: u64,
    width: usize,
    payload_bytes: usize,
    label: &str,
) -> LoadSpec {
    LoadSpec {
        mode,
        url,
        rate,
        width,
        duration: common.duration,
        warmup: common.warmup,
        payload_bytes,
        label: label.to_owned(),
    }
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    caxton_stats::median(&values.into_iter().collect::<Vec<_>>()).unwrap_or(f64::NAN)
}

fn size_name(bytes: usize) -> String {
    caxton_load::size::format_size(bytes)
}

fn no_errors(name: &str, runs: &[&RunSummary]) -> Check {
    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    let sent: u64 = runs.iter().map(|r| r.sent).sum();
    let kinds: Vec<String> = runs
        .iter()
        .flat_map(|r| r.errors_by_kind.iter().map(|(k, n)| format!("{k}: {n}")))
        .collect();
    Check::new(
        name,
        errors == 0 && sent > 0,
        format!(
            "{sent} sent, {errors} failed{}",
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        ),
    )
}

/// Stops both servers (the front door's drain is checked) and puts the
/// result together.
fn finish(
    scenario: &str,
    cfg: &impl Serialize,
    figures: Vec<Figure>,
    mut checks: Vec<Check>,
    door: FrontDoor,
    bare: Service,
    started: Instant,
) -> NetResult {
    checks.extend(door.stop());
    drop(bare);
    NetResult {
        scenario: scenario.into(),
        config: serde_json::to_value(cfg).unwrap_or_default(),
        figures,
        checks,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

/// At most 1 % of what `run` sent failed.
fn error_rate_check(what: &str, run: &RunSummary) -> Check {
    Check::new(
        &format!("{what} error rate at most 1 %"),
        run.error_rate_pct <= 1.0,
        format!("{:.3} % of {} sent", run.error_rate_pct, run.sent),
    )
}

/// Request/reply and send through the front door beside the bare floor.
pub fn http(bins: &Binaries, cfg: &HttpConfig) -> Result<NetResult, NetbenchError> {
    let started = Instant::now();
    let c = &cfg.common;
    let bare = start_bare(bins)?;
    let door = FrontDoor::open(bins, c.target)?;
    let size = size_name(cfg.payload_bytes);
    let bare_url = format!("{}/echo", bare.http_base());
    let door_url = door.http("/v1/raw/request/name:echo-0");
    let mut figures = Vec::new();
    let mut checks = Vec::new();

    // Closed-loop throughput, interleaved rounds.
    let (mut bare_runs, mut door_runs) = (Vec::new(), Vec::new());
    for _ in 0..cfg.rounds.max(1) {
        bare_runs.push(
            spec(
                c,
                "http",
                bare_url.clone(),
                0,
                cfg.connections,
                cfg.payload_bytes,
                "bare-echo",
            )
            .run(bins)?,
        );
        door_runs.push(
            spec(
                c,
                "http",
                door_url.clone(),
                0,
                cfg.connections,
                cfg.payload_bytes,
                "front-door",
            )
            .run(bins)?,
        );
    }
    let bare_tput = median(bare_runs.iter().map(|r| r.requests_per_s));
    let door_tput = median(door_runs.iter().map(|r| r.requests_per_s));
    figures.push(
        Figure::new(
            "http_requests_per_s",
            &format!(
                "front door request/reply, raw route to an echo agent, closed loop, {} conns, {size}",
                cfg.connections
            ),
            "req/s",
            door_tput,
        )
        .against("bare echo server, same run", bare_tput),
    );
    figures.push(
        Figure::new(
            "http_latency_p99",
            &format!(
                "front door request/reply, closed loop at full speed, {} conns, {size}",
                cfg.connections
            ),
            "us",
            median(door_runs.iter().map(|r| r.latency_us.p99)),
        )
        .against(
            "bare echo server, same run",
            median(bare_runs.iter().map(|r| r.latency_us.p99)),
        )
        .informational(),
    );

    // Send (202) to a sink agent, closed loop.
    let send = spec(
        c,
        "http",
        door.http("/v1/raw/send/name:sink-0"),
        0,
        cfg.connections,
        cfg.payload_bytes,
        "front-door-send",
    )
    .run(bins)?;
    figures.push(
        Figure::new(
            "http_requests_per_s",
            &format!(
                "front door send (202), raw route to a sink agent, closed loop, {} conns, {size}",
                cfg.connections
            ),
            "req/s",
            send.requests_per_s,
        )
        .against("bare echo server request/reply, same run", bare_tput),
    );

    // Open-loop latency at a fixed rate, from the intended send time.
    let bare_lat = spec(
        c,
        "http",
        bare_url.clone(),
        cfg.rate,
        cfg.connections,
        cfg.payload_bytes,
        "bare-echo",
    )
    .run(bins)?;
    let door_lat = spec(
        c,
        "http",
        door_url.clone(),
        cfg.rate,
        cfg.connections,
        cfg.payload_bytes,
        "front-door",
    )
    .run(bins)?;
    let variant = format!(
        "front door request/reply, open loop at {}/s, {} conns, {size}",
        cfg.rate, cfg.connections
    );
    for (name, door_v, bare_v) in [
        ("http_latency_p50", door_lat.latency_us.p50, bare_lat.latency_us.p50),
        ("http_latency_p95", door_lat.latency_us.p95, bare_lat.latency_us.p95),
        ("http_latency_p99", door_lat.latency_us.p99, bare_lat.latency_us.p99),
    ] {
        figures.push(Figure::new(name, &variant, "us", door_v).against("bare echo server, same run", bare_v));
    }
    figures.push(Figure::new("error_rate", &variant, "%", door_lat.error_rate_pct));
    // The generator's own lateness, beside the latency it reports: what
    // of the tail is the client machine, not the server.
    figures.push(
        Figure::new(
            "load_pacer_lag_p99",
            &format!("caxton-load pacer lateness (hand-over minus intended send time), {variant}"),
            "us",
            door_lat.pacer_p99_lag_us as f64,
        )
        .against("same, bare echo run", bare_lat.pacer_p99_lag_us as f64)
        .informational(),
    );

    // The cross-check: oha at the same rate against the same route.
    if cfg.oha {
        match oha::locate() {
            Some(path) => {
                // The same comparison against both servers: a gap that is
                // the same on the floor is the tools', not the server's.
                for (who, url, ours) in [
                    ("front door", &door_url, &door_lat),
                    ("bare echo server", &bare_url, &bare_lat),
                ] {
                    let o = oha::run(&path, url, cfg.rate, cfg.connections, c.duration, cfg.payload_bytes)?;
                    let ov = format!(
                        "oha -q {} --latency-correction, {} conns, {size}, {who}",
                        cfg.rate, cfg.connections
                    );
                    figures.push(
                        Figure::new("oha_latency_p50", &ov, "us", o.p50_us)
                            .against("caxton-load p50, same rate", ours.latency_us.p50)
                            .informational(),
                    );
                    figures.push(
                        Figure::new("oha_latency_p99", &ov, "us", o.p99_us)
                            .against("caxton-load p99, same rate", ours.latency_us.p99)
                            .informational(),
                    );
                    figures.push(
                        Figure::new("oha_requests_per_s", &ov, "req/s", o.requests_per_s)
                            .against("caxton-load, same rate", ours.requests_per_s)
                            .informational(),
                    );
                }
            }
            None => checks.push(Check::new(
                "oha cross-check",
                true,
                "skipped: oha is not installed (cargo install oha --version 1.16.0 --locked)".into(),
            )),
        }
    }

    // /metrics with many agents.
    let scrape = scrape_with_agents(&door, cfg.metrics_agents)?;
    figures.push(Figure::new(
        "metrics_scrape_time",
        &format!(
            "GET /metrics with {} live agents, median of {} scrapes, client side over loopback",
            scrape.agents, scrape.samples
        ),
        "ms",
        scrape.median_ms,
    ));
    checks.push(Check::new(
        "/metrics counts every live agent",
        scrape.counted >= scrape.agents as u64,
        format!(
            "caxton_agents sums to {} with {} spawned",
            scrape.counted, scrape.agents
        ),
    ));

    checks.push(no_errors(
        "closed-loop request/reply through the front door: every request answered",
        &door_runs.iter().collect::<Vec<_>>(),
    ));
    checks.push(no_errors(
        "send through the front door: every message accepted",
        &[&send],
    ));
    checks.push(error_rate_check("open-loop request/reply", &door_lat));
    Ok(finish("http", cfg, figures, checks, door, bare, started))
}

struct Scrape {
    agents: usize,
    samples: usize,
    median_ms: f64,
    counted: u64,
}

/// Spawns `n` echo agents and times `/metrics` (client side, over
/// loopback, one connection per scrape).
fn scrape_with_agents(door: &FrontDoor, n: usize) -> Result<Scrape, NetbenchError> {
    let mut left = n;
    while left > 0 {
        let batch = left.min(10_000);
        client::post_json(door.addr, "/v1/agents", &json!({ "kind": "echo", "count": batch }), 201)?;
        left -= batch;
    }
    let samples = 20;
    let mut times = Vec::with_capacity(samples);
    let mut counted = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let r = client::call(door.addr, "GET", "/metrics", None, b"")?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if r.status != 200 {
            return Err(NetbenchError::Setup {
                what: "GET /metrics".into(),
                why: format!("status {}", r.status),
            });
        }
        counted = String::from_utf8_lossy(&r.body)
            .lines()
            .filter(|l| l.starts_with("caxton_agents{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
    }
    Ok(Scrape {
        agents: n,
        samples,
        median_ms: median(times),
        counted,
    })
}

/// Request/reply with 1 KiB, 64 KiB and 1 MiB payloads, front door beside
/// the bare floor.
pub fn payload(bins: &Binaries, cfg: &PayloadConfig) -> Result<NetResult, NetbenchError> {
    let started = Instant::now();
    let c = &cfg.common;
    let bare = start_bare(bins)?;
    let door = FrontDoor::open(bins, c.target)?;
    let mut figures = Vec::new();
    let mut runs = Vec::new();
    for &size in &cfg.sizes {
        let bare_run = spec(
            c,
            "http",
            format!("{}/echo", bare.http_base()),
            0,
            cfg.connections,
            size,
            "bare-echo",
        )
        .run(bins)?;
        let door_run = spec(
            c,
            "http",
            door.http("/v1/raw/request/name:echo-0"),
            0,
            cfg.connections,
            size,
            "front-door",
        )
        .run(bins)?;
        let variant = format!(
            "front door request/reply, closed loop, {} conns, {}",
            cfg.connections,
            size_name(size)
        );
        // The targets (requests/s, p95/p99) are for small messages: larger
        // payloads get their own names, shown beside their floor, ungraded.
        let (tput_name, p99_name) = if size > 1024 {
            ("http_payload_requests_per_s", "http_payload_latency_p99")
        } else {
            ("http_requests_per_s", "http_latency_p99")
        };
        figures.push(
            Figure::new(tput_name, &variant, "req/s", door_run.requests_per_s)
                .against("bare echo server, same run", bare_run.requests_per_s),
        );
        figures.push(
            Figure::new(p99_name, &variant, "us", door_run.latency_us.p99)
                .against("bare echo server, same run", bare_run.latency_us.p99)
                .informational(),
        );
        figures.push(
            Figure::new(
                "http_bytes_per_s",
                &variant,
                "MiB/s",
                door_run.requests_per_s * size as f64 / (1 << 20) as f64,
            )
            .against(
                "bare echo server, same run",
                bare_run.requests_per_s * size as f64 / (1 << 20) as f64,
            )
            .informational(),
        );
        runs.push(door_run);
    }
    let checks = vec![no_errors(
        "every payload size: every request answered",
        &runs.iter().collect::<Vec<_>>(),
    )];
    Ok(finish("payload", cfg, figures, checks, door, bare, started))
}

/// Samples a process's RSS while `f` runs; returns `f`'s result and the
/// peak.
fn with_peak_rss<T>(pid: Option<u32>, f: impl FnOnce() -> T) -> (T, u64) {
    let Some(pid) = pid else {
        return (f(), 0);
    };
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(rss) = caxton_profiling::rss_bytes_of(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out = f();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    (out, peak.load(Ordering::Relaxed))
}

/// Thousands of WebSocket sessions held for the run, round trips across
/// them; RSS per session on the front door and on the bare floor.
pub fn websocket(bins: &Binaries, cfg: &WebSocketConfig) -> Result<NetResult, NetbenchError> {
    let started = Instant::now();
    let c = &cfg.common;
    let bare = start_bare(bins)?;
    let door = FrontDoor::open(bins, c.target)?;
    let door_pid = door.service.as_ref().map(Service::pid);
    let door_idle = door.service.as_ref().and_then(Service::rss_bytes).unwrap_or(0);
    let bare_idle = bare.rss_bytes().unwrap_or(0);
    let door_url = format!("ws://{}/v1/ws?to=name:echo-0", door.addr);
    let bare_url = format!("{}/v1/ws", bare.ws_base());
    let (door_run, door_peak) = with_peak_rss(door_pid, || {
        spec(
            c,
            "ws",
            door_url,
            cfg.rate,
            cfg.sessions,
            cfg.payload_bytes,
            "front-door",
        )
        .run(bins)
    });
    let door_run = door_run?;
    let (bare_run, bare_peak) = with_peak_rss(Some(bare.pid()), || {
        spec(
            c,
            "ws",
            bare_url,
            cfg.rate,
            cfg.sessions,
            cfg.payload_bytes,
            "bare-echo",
        )
        .run(bins)
    });
    let bare_run = bare_run?;
    let sessions = |r: &RunSummary| r.ws_sessions.as_ref().map_or(0, |s| s.opened);
    let per_session =
        |peak: u64, idle: u64, r: &RunSummary| peak.saturating_sub(idle) as f64 / sessions(r).max(1) as f64;
    let variant = format!(
        "{} sessions held for {:?}, {}/s round trips across them, {}",
        cfg.sessions,
        c.duration,
        cfg.rate,
        size_name(cfg.payload_bytes)
    );
    let mut figures = vec![
        Figure::new(
            "websocket_sessions",
            &variant,
            "count",
            door_run.ws_sessions.as_ref().map_or(0, |s| s.open_at_end) as f64,
        )
        .against(
            "bare echo server, same run",
            bare_run.ws_sessions.as_ref().map_or(0, |s| s.open_at_end) as f64,
        ),
        Figure::new(
            "websocket_stability",
            &variant,
            "%",
            door_run.ws_sessions.as_ref().map_or(f64::NAN, |s| s.stability_pct()),
        ),
        Figure::new("ws_latency_p50", &variant, "us", door_run.latency_us.p50)
            .against("bare echo server, same run", bare_run.latency_us.p50),
        Figure::new("ws_latency_p99", &variant, "us", door_run.latency_us.p99)
            .against("bare echo server, same run", bare_run.latency_us.p99),
        Figure::new("ws_round_trips_per_s", &variant, "req/s", door_run.requests_per_s)
            .against("bare echo server, same run", bare_run.requests_per_s),
        Figure::new(
            "error_rate",
            &format!("{variant}, WebSocket"),
            "%",
            door_run.error_rate_pct,
        ),
    ];
    if door_pid.is_some() {
        figures.push(
            Figure::new(
                "websocket_rss_per_session",
                &format!("{variant}: server peak RSS during the run minus idle RSS, per session opened"),
                "B",
                per_session(door_peak, door_idle, &door_run),
            )
            .against(
                "bare echo server, same run",
                per_session(bare_peak, bare_idle, &bare_run),
            ),
        );
    }
    let stability = door_run.ws_sessions.as_ref().map_or(0.0, |s| s.stability_pct());
    let checks = vec![
        Check::new(
            "more than 99 % of the sessions open for the whole run",
            stability > 99.0,
            format!("{stability:.2} % of {} sessions", cfg.sessions),
        ),
        error_rate_check("WebSocket round-trip", &door_run),
    ];
    Ok(finish("websocket", cfg, figures, checks, door, bare, started))
}
