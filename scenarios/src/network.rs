//! The multi-process network scenarios (`http`, `payload`, `websocket`):
//! the front door, the bare echo floor and the load generator as separate
//! processes (see `caxton_netbench`). This is their command line and their
//! result file, in the same shape as the in-process scenarios'.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caxton_netbench::ClusterConfig;
use caxton_netbench::scenarios::{HttpConfig, PayloadConfig, WebSocketConfig};
use caxton_netbench::{Binaries, NetResult};
use caxton_report::results::Reference;
use clap::Parser;

use crate::assess::Assertion;
use crate::cli::{EXIT_ERROR, EXIT_FAILED};
use crate::result::{Metric, ScenarioResult};

/// The network scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetScenario {
    /// Request/reply and send through the front door beside the floor.
    Http,
    /// 1 KiB, 64 KiB and 1 MiB payloads.
    Payload,
    /// Thousands of WebSocket sessions held for the run.
    WebSocket,
    /// Three nodes on a three-server NATS cluster; one killed with SIGKILL.
    Cluster,
}

impl NetScenario {
    /// The binary's name.
    pub fn name(self) -> &'static str {
        match self {
            NetScenario::Http => "http",
            NetScenario::Payload => "payload",
            NetScenario::WebSocket => "websocket",
            NetScenario::Cluster => "cluster",
        }
    }
}

/// Flags of the network scenario binaries.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "A Caxton network scenario: front door, bare floor and load generator as separate processes (see docs/scenarios.md)"
)]
pub struct NetArgs {
    /// The CI-sized run (seconds, not minutes).
    #[arg(long)]
    pub quick: bool,
    /// Drive a front door that is already running at HOST:PORT instead of
    /// starting one (the bare floor is still started here).
    #[arg(long, value_parser = parse_target, value_name = "http://HOST:PORT")]
    pub target: Option<SocketAddr>,
    /// Measured time of each load run (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Open-loop rate (http: the latency runs; websocket: round trips/s;
    /// cluster: messages/s over all nodes).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Keep-alive connections (http, payload).
    #[arg(long)]
    pub connections: Option<usize>,
    /// Sessions held open (websocket).
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Skip the oha cross-check (http).
    #[arg(long)]
    pub no_oha: bool,
    /// Folder for the result JSON.
    #[arg(long, value_name = "DIR", default_value = "results/scenarios")]
    pub out: PathBuf,
    /// Do not record the result in the results history.
    #[arg(long)]
    pub no_history: bool,
    /// Accepted for symmetry with the other scenarios (these show no live
    /// display).
    #[arg(long)]
    pub no_progress: bool,
}

/// The front door to drive: a loopback `http://HOST:PORT` (the same rule
/// as the in-process scenarios' `--target`).
fn parse_target(text: &str) -> Result<SocketAddr, String> {
    crate::remote::parse_target(text).map(|t| t.addr)
}

/// Runs `scenario` from the command line; 0 when every check held.
pub fn main(scenario: NetScenario) -> ExitCode {
    let args = NetArgs::parse();
    let bins = match Binaries::locate() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", scenario.name());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    eprintln!(
        "{}: {}",
        scenario.name(),
        if args.quick { "quick run" } else { "full run" }
    );
    let outcome = match scenario {
        NetScenario::Http => {
            let mut cfg = if args.quick {
                HttpConfig::quick()
            } else {
                HttpConfig::full()
            };
            apply(&mut cfg.common, &args);
            cfg.rate = args.rate.unwrap_or(cfg.rate);
            cfg.connections = args.connections.unwrap_or(cfg.connections);
            cfg.oha &= !args.no_oha;
            caxton_netbench::scenarios::http(&bins, &cfg)
        }
        NetScenario::Payload => {
            let mut cfg = if args.quick {
                PayloadConfig::quick()
            } else {
                PayloadConfig::full()
            };
            apply(&mut cfg.common, &args);
            cfg.connections = args.connections.unwrap_or(cfg.connections);
            caxton_netbench::scenarios::payload(&bins, &cfg)
        }
        NetScenario::WebSocket => {
            let mut cfg = if args.quick {
                WebSocketConfig::quick()
            } else {
                WebSocketConfig::full()
            };
            apply(&mut cfg.common, &args);
            cfg.rate = args.rate.unwrap_or(cfg.rate);
            cfg.sessions = args.sessions.unwrap_or(cfg.sessions);
            caxton_netbench::scenarios::websocket(&bins, &cfg)
        }
        NetScenario::Cluster => {
            let mut cfg = if args.quick {
                ClusterConfig::quick()
            } else {
                ClusterConfig::full()
            };
            if let Some(d) = args.duration {
                cfg.duration = d;
                cfg.kill_at = d / 3;
            }
            cfg.rate = args.rate.unwrap_or(cfg.rate);
            caxton_netbench::cluster::cluster(&bins, &cfg)
        }
    };
    let net = match outcome {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{}: run failed: {e}", scenario.name());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = scenario_result(net, started_at);
    print!("{}", result.summary());
    let path = args.out.join(format!("{}.json", scenario.name()));
    if let Err(e) = std::fs::create_dir_all(&args.out).and_then(|()| result.write(&path)) {
        eprintln!("{}: cannot write {}: {e}", scenario.name(), path.display());
        return ExitCode::from(EXIT_ERROR);
    }
    println!("  result: {}", path.display());
    crate::history::record(&path, args.no_history);
    if result.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

fn apply(common: &mut caxton_netbench::scenarios::Common, args: &NetArgs) {
    common.target = args.target;
    if let Some(d) = args.duration {
        common.duration = d;
    }
}

/// The result file of a network scenario: its figures with their
/// variants and same-run references, its checks as assertions.
pub fn scenario_result(net: NetResult, started_at_unix_s: u64) -> ScenarioResult {
    let passed = net.passed();
    ScenarioResult {
        scenario: net.scenario,
        config: net.config,
        metrics: net
            .figures
            .into_iter()
            .map(|f| Metric {
                name: f.name,
                value: f.value,
                unit: f.unit,
                variant: Some(f.variant),
                reference: f.reference.map(|(name, value)| Reference { name, value }),
                informational: f.informational,
            })
            .collect(),
        assertions: net
            .checks
            .into_iter()
            .map(|c| Assertion {
                name: c.name,
                passed: c.passed,
                detail: c.detail,
            })
            .collect(),
        intervals_file: String::new(),
        partial: false,
        passed,
        started_at_unix_s,
        elapsed_s: net.elapsed_s,
    }
}
