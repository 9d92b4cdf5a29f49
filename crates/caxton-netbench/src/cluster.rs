//! The `cluster` scenario: a three-server NATS cluster and three Caxton
//! nodes (`caxton-server --cluster`) as separate processes on loopback,
//! open-loop load from this process across all nodes, one node killed
//! with SIGKILL mid-run.
//!
//! Each node hosts durable counters (JetStream delivery), core counters
//! (at most once, checkpointed every message) and one echo probe. The
//! load sends to every counter through every live node's front door;
//! `202 Accepted` counts as accepted. After the run every counter is
//! asked for its count through a survivor:
//!
//! * durable: accepted = handled + dead-lettered, exactly (lost must be 0);
//! * core: handled <= accepted (at most once); the difference (messages
//!   in the dead node's mailboxes, or published while no node served the
//!   agent) is reported, not judged;
//! * recovery time: from the SIGKILL to the first reply from the dead
//!   node's probe, restarted on a survivor (a request every 5 ms through
//!   a survivor).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use caxton_cluster::testing::NatsCluster;
use serde::Serialize;
use serde_json::json;

use crate::bins::Binaries;
use crate::client;
use crate::error::NetbenchError;
use crate::figures::{Check, Figure, NetResult};
use crate::process::Service;

/// The `cluster` scenario's settings.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterConfig {
    /// Caxton nodes (and NATS servers), at least 2.
    pub nodes: usize,
    /// Durable counters per node (and as many core counters).
    pub counters_per_node: usize,
    /// Offered messages per second, over all nodes.
    pub rate: u64,
    /// Load time.
    pub duration: Duration,
    /// When the last node is killed, from the start of the load.
    pub kill_at: Duration,
}

impl ClusterConfig {
    /// The documented run: 3 nodes, 4 + 4 counters each, 1000 msg/s for 30 s, kill at 10 s.
    pub fn full() -> Self {
        Self {
            nodes: 3,
            counters_per_node: 4,
            rate: 1000,
            duration: Duration::from_secs(30),
            kill_at: Duration::from_secs(10),
        }
    }

    /// The CI-sized run: 3 nodes, 2 + 2 counters each, 300 msg/s for 8 s, kill at 3 s.
    pub fn quick() -> Self {
        Self {
            nodes: 3,
            counters_per_node: 2,
            rate: 300,
            duration: Duration::from_secs(8),
            kill_at: Duration::from_secs(3),
        }
    }
}

/// One counter and what was accepted for it.
struct Counter {
    name: String,
    durable: bool,
    accepted: AtomicU64,
}

fn setup(what: &str, why: impl std::fmt::Display) -> NetbenchError {
    NetbenchError::Setup {
        what: what.to_owned(),
        why: why.to_string(),
    }
}

/// The count of counter `name`, asked through `addr`.
fn count(addr: SocketAddr, name: &str) -> Option<u64> {
    let path = format!("/v1/raw/request/name:{name}");
    let r = client::call_within(
        addr,
        "POST",
        &path,
        Some("application/octet-stream"),
        b"count",
        Duration::from_secs(2),
    )
    .ok()?;
    (r.status == 200).then_some(())?;
    Some(u64::from_le_bytes(r.body.as_slice().try_into().ok()?))
}

/// A metric's value summed over its series in a Prometheus text page.
fn metric_sum(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn metrics(addr: SocketAddr) -> String {
    client::call_within(addr, "GET", "/metrics", None, b"", Duration::from_secs(5))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap_or_default()
}

/// Runs the scenario.
pub fn cluster(bins: &Binaries, cfg: &ClusterConfig) -> Result<NetResult, NetbenchError> {
    let started = Instant::now();
    let n = cfg.nodes.max(2);
    let nats = NatsCluster::start(n).map_err(|e| setup("the NATS cluster", e))?;
    let urls = nats.urls();
    let mut nodes: Vec<Option<Service>> = Vec::with_capacity(n);
    for (i, url) in urls.iter().enumerate() {
        let args: Vec<String> = [
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--cluster",
            url,
            "--node",
            &format!("n{}", i + 1),
            "--lattice",
            "scenario",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let name = format!("caxton-server n{}", i + 1);
        nodes.push(Some(Service::start(
            &name,
            &bins.server,
            &args,
            Duration::from_secs(30),
        )?));
    }
    let addrs: Vec<SocketAddr> = nodes.iter().flatten().map(Service::addr).collect();
    // The agents, spawned on each node through its own front door.
    let mut counters = Vec::new();
    for (i, &addr) in addrs.iter().enumerate() {
        for j in 0..cfg.counters_per_node {
            for durable in [true, false] {
                let name = format!("{}-n{}-{j}", if durable { "d" } else { "c" }, i + 1);
                let body = if durable {
                    json!({ "kind": "counter", "name": name, "durable": true })
                } else {
                    json!({ "kind": "counter", "name": name, "checkpoint_every": 1 })
                };
                client::post_json(addr, "/v1/agents", &body, 201)?;
                counters.push(Counter {
                    name,
                    durable,
                    accepted: AtomicU64::new(0),
                });
            }
        }
        client::post_json(
            addr,
            "/v1/agents",
            &json!({ "kind": "echo", "name": format!("probe-n{}", i + 1) }),
            201,
        )?;
    }
    let total_agents = (counters.len() + n) as f64;
    let ready = Instant::now();
    while addrs
        .iter()
        .any(|&a| metric_sum(&metrics(a), "caxton_cluster_registry_agents") < total_agents)
    {
        if ready.elapsed() > Duration::from_secs(30) {
            let seen: Vec<f64> = addrs
                .iter()
                .map(|&a| metric_sum(&metrics(a), "caxton_cluster_registry_agents"))
                .collect();
            return Err(setup(
                "the registry",
                format!("the nodes did not all see the {total_agents} agents within 30 s (they see {seen:?})"),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let counters = Arc::new(counters);
    let victim = n - 1;
    let dead = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    // Open-loop senders: each owns every k-th slot of the schedule.
    let senders = 4usize;
    let interval = Duration::from_secs_f64(senders as f64 / cfg.rate.max(1) as f64);
    let load_start = Instant::now();
    let mut threads = Vec::new();
    for s in 0..senders {
        let (counters, dead, stop, refused, addrs) = (
            counters.clone(),
            dead.clone(),
            stop.clone(),
            refused.clone(),
            addrs.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut k = 0u64;
            let mut due = load_start + interval.mul_f64(s as f64 / senders as f64);
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                due += interval;
                let slot = k as usize * senders + s;
                k += 1;
                let c = &counters[slot % counters.len()];
                // Entry nodes round-robin over the live ones.
                let live: Vec<SocketAddr> = addrs
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| !(dead.load(Ordering::Relaxed) && i == victim))
                    .map(|(_, a)| *a)
                    .collect();
                let entry = live[(slot / counters.len()) % live.len()];
                let body = json!({ "to": { "name": c.name }, "payload": format!("{slot}") }).to_string();
                match client::call_within(
                    entry,
                    "POST",
                    "/v1/messages",
                    Some("application/json"),
                    body.as_bytes(),
                    Duration::from_secs(5),
                ) {
                    Ok(r) if r.status == 202 => {
                        c.accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // The probe: a request to the victim's echo every 5 ms through a survivor.
    let probe_entry = addrs[0];
    let probe_name = format!("probe-n{}", victim + 1);
    std::thread::sleep(cfg.kill_at.saturating_sub(load_start.elapsed()));
    let victim_service = nodes[victim].take().expect("victim running");
    // SAFETY: kill(2) on our own child's PID.
    unsafe {
        libc::kill(victim_service.pid() as libc::pid_t, libc::SIGKILL);
    }
    let killed_at = Instant::now();
    dead.store(true, Ordering::Relaxed);
    drop(victim_service);
    let mut recovery = None;
    while killed_at.elapsed() < Duration::from_secs(30) {
        let r = client::call_within(
            probe_entry,
            "POST",
            &format!("/v1/raw/request/name:{probe_name}"),
            Some("application/octet-stream"),
            b"ping",
            Duration::from_millis(500),
        );
        if r.is_ok_and(|r| r.status == 200) {
            recovery = Some(killed_at.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(cfg.duration.saturating_sub(load_start.elapsed()));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let load_time = load_start.elapsed();
    // Every durable counter catches up to what was accepted for it.
    let survivors: Vec<SocketAddr> = nodes.iter().flatten().map(Service::addr).collect();
    let ask = survivors[0];
    let settle = Instant::now();
    let mut counts: Vec<Option<u64>>;
    loop {
        counts = counters.iter().map(|c| count(ask, &c.name)).collect();
        let caught_up = counters
            .iter()
            .zip(&counts)
            .all(|(c, n)| !c.durable || n.is_some_and(|n| n >= c.accepted.load(Ordering::Relaxed)));
        if caught_up || settle.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pages: Vec<String> = survivors.iter().map(|&a| metrics(a)).collect();
    let sum = |name: &str| pages.iter().map(|p| metric_sum(p, name)).sum::<f64>();
    let adopted = sum("caxton_cluster_agents_adopted_total");
    let adoption_failures = sum("caxton_cluster_adoption_failures_total");
    let dead_letters = sum("caxton_dead_letters_total");
    let tally = |durable: bool| -> (u64, u64, usize) {
        let mut accepted = 0;
        let mut handled = 0;
        let mut unanswered = 0;
        for (c, n) in counters.iter().zip(&counts) {
            if c.durable == durable {
                accepted += c.accepted.load(Ordering::Relaxed);
                match n {
                    Some(n) => handled += n,
                    None => unanswered += 1,
                }
            }
        }
        (accepted, handled, unanswered)
    };
    let (d_accepted, d_handled, d_unanswered) = tally(true);
    let (c_accepted, c_handled, c_unanswered) = tally(false);
    let d_lost = d_accepted as i64 - d_handled as i64 - dead_letters as i64;
    // Which durable counters fell short, to tell a failure's shape.
    let short: Vec<String> = counters
        .iter()
        .zip(&counts)
        .filter(|(c, n)| c.durable && n.is_none_or(|n| n < c.accepted.load(Ordering::Relaxed)))
        .map(|(c, n)| {
            let got = n.map_or("no answer".to_owned(), |n| n.to_string());
            format!("{} {got} of {}", c.name, c.accepted.load(Ordering::Relaxed))
        })
        .collect();
    if d_lost != 0 || d_unanswered != 0 {
        for s in nodes.iter().flatten() {
            eprintln!("cluster: {} stderr (tail):\n{}", s.name(), s.stderr_tail());
        }
    }
    for s in nodes.into_iter().flatten() {
        s.stop(Duration::from_secs(30));
    }
    drop(nats);

    let victim_agents = (2 * cfg.counters_per_node + 1) as f64;
    let recovery_ms = recovery.map(|d| d.as_secs_f64() * 1e3);
    let mut figures = vec![
        Figure::new(
            "cluster_recovery_time",
            "SIGKILL -> first reply from the dead node's agent restarted on a survivor, default 1 s lease",
            "ms",
            recovery_ms.unwrap_or(f64::NAN),
        ),
        Figure::new(
            "cluster_accepted",
            "durable messages accepted (202: stored by JetStream)",
            "count",
            d_accepted as f64,
        ),
        Figure::new("cluster_handled", "durable messages handled", "count", d_handled as f64),
        Figure::new(
            "cluster_dead_lettered",
            "dead letters on the survivors",
            "count",
            dead_letters,
        ),
        Figure::new(
            "cluster_durable_lost",
            "acknowledged durable messages lost (accepted - handled - dead-lettered)",
            "count",
            d_lost as f64,
        ),
        Figure::new(
            "cluster_core_lost",
            "core (at most once) messages accepted but not in any count: in the dead node's mailboxes or published while no node served the agent",
            "count",
            c_accepted.saturating_sub(c_handled) as f64,
        )
        .informational(),
        Figure::new(
            "cluster_throughput",
            "messages accepted per second over all nodes (offered open loop)",
            "msg/s",
            (d_accepted + c_accepted) as f64 / load_time.as_secs_f64(),
        )
        .informational(),
    ];
    figures.retain(|f| f.value.is_finite());
    let checks = vec![
        Check::new(
            "recovered",
            recovery.is_some(),
            match recovery_ms {
                Some(ms) => format!("the dead node's probe answered from a survivor {ms:.0} ms after the SIGKILL"),
                None => "the dead node's probe never answered again within 30 s".into(),
            },
        ),
        Check::new(
            "every agent of the dead node restarted once",
            adopted == victim_agents && adoption_failures == 0.0,
            format!("{adopted} adopted of {victim_agents}, {adoption_failures} failures"),
        ),
        Check::new(
            "no acknowledged durable message lost",
            d_lost == 0 && d_unanswered == 0,
            format!(
                "{d_accepted} accepted, {d_handled} handled, {dead_letters} dead-lettered, {d_unanswered} counters unanswered{}",
                if short.is_empty() {
                    String::new()
                } else {
                    format!("; short: {}", short.join(", "))
                }
            ),
        ),
        Check::new(
            "no message handled twice",
            d_handled <= d_accepted && c_handled <= c_accepted && c_unanswered == 0,
            format!("durable {d_handled} <= {d_accepted}; core {c_handled} <= {c_accepted}"),
        ),
        Check::new(
            "load was accepted",
            d_accepted > 0 && c_accepted > 0,
            format!(
                "{d_accepted} durable and {c_accepted} core accepted, {} refused",
                refused.load(Ordering::Relaxed)
            ),
        ),
    ];
    Ok(NetResult {
        scenario: "cluster".into(),
        config: serde_json::to_value(cfg).unwrap_or_default(),
        figures,
        checks,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}
