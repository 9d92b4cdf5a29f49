//! The `caxton-load` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::LoadConfig;
use crate::error::LoadError;
use crate::size::parse_size;
use crate::target::Mode;
use crate::target::Target;

/// Open-loop load generator for the Caxton front door (or any server that
/// answers POST): paced with microsecond resolution, latency from the
/// intended send time in an HDR histogram.
#[derive(Debug, Parser)]
#[command(name = "caxton-load", version)]
pub struct Cli {
    /// What to drive.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// POST a payload over HTTP/1.1 keep-alive connections.
    Http(HttpArgs),
    /// Send binary request frames (8-byte LE ref + payload) over
    /// WebSocket sessions.
    Ws(WsArgs),
}

/// Flags of `http` mode.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Target URL; without a path, Caxton's raw request route to echo-0.
    #[arg(long, default_value = "http://127.0.0.1:8080/v1/raw/request/name:echo-0")]
    pub url: String,
    /// Keep-alive connections (requests in flight at most).
    #[arg(long, short = 'c', default_value_t = 8)]
    pub connections: usize,
    /// Open a new connection for every request.
    #[arg(long)]
    pub new_connection_per_request: bool,
    /// The request's Content-Type.
    #[arg(long, default_value = "application/octet-stream")]
    pub content_type: String,
    /// A further request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Flags of every mode.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags of `ws` mode.
#[derive(Debug, Args)]
pub struct WsArgs {
    /// Session URL; without a path, Caxton's `/v1/ws?to=name:echo-0`.
    #[arg(long, default_value = "ws://127.0.0.1:8080/v1/ws?to=name:echo-0")]
    pub url: String,
    /// Sessions held open for the run; requests are spread across them.
    #[arg(long, short = 's', default_value_t = 8)]
    pub sessions: usize,
    /// Session handshakes in flight at once while opening.
    #[arg(long, default_value_t = 64)]
    pub open_concurrency: usize,
    /// Flags of every mode.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags of every mode.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Requests per second in total (open loop); 0 for a closed loop.
    #[arg(long, short = 'r', default_value_t = 1000)]
    pub rate: u64,
    /// Closed loop: each connection or session sends as soon as its last
    /// reply came (same as --rate 0).
    #[arg(long)]
    pub closed: bool,
    /// Measured time, e.g. 10s, 1m.
    #[arg(long, short = 'd', default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Load before the measured time, not recorded.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Payload size: 1024, 1KiB, 64KiB, 1MiB.
    #[arg(long, short = 'p', default_value = "1KiB", value_parser = parse_size)]
    pub payload_bytes: usize,
    /// Per-request timeout, counted from the intended send time.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Names the target in the results, e.g. front-door or bare-echo.
    #[arg(long, default_value = "target")]
    pub label: String,
    /// No progress lines on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Write the result set (what `caxton-perf report` reads) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON line with the summary on stdout (the human summary
    /// goes to stderr instead).
    #[arg(long)]
    pub json_summary: bool,
    /// Allow targets that are not on a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Microseconds before each send time the pacer stops sleeping and
    /// spins.
    #[arg(long, default_value_t = 30)]
    pub spin_us: u64,
}

/// Where the outcome goes.
#[derive(Clone, Debug)]
pub struct Output {
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--json-summary`.
    pub json_summary: bool,
}

/// Parses `Name: value` (or `Name:value`).
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once(':')
        .ok_or_else(|| format!("invalid header {text:?}: expected Name: value"))?;
    if k.trim().is_empty() {
        return Err(format!("invalid header {text:?}: empty name"));
    }
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

impl Cli {
    /// The run's configuration and output settings; resolves the target
    /// (refusing non-loopback ones unless `--allow-remote`).
    pub fn into_config(self) -> Result<(LoadConfig, Output), LoadError> {
        let (mode, url, common) = match &self.command {
            Command::Http(a) => (Mode::Http, &a.url, &a.common),
            Command::Ws(a) => (Mode::Ws, &a.url, &a.common),
        };
        let target = Target::parse(url, mode, common.allow_remote)?;
        let mut cfg = LoadConfig::new(mode, target);
        cfg.rate = if common.closed { 0 } else { common.rate };
        cfg.duration = common.duration;
        cfg.warmup = common.warmup;
        cfg.payload_bytes = common.payload_bytes;
        cfg.timeout = common.timeout;
        cfg.label = common.label.clone();
        cfg.progress = !common.quiet;
        cfg.spin = Duration::from_micros(common.spin_us);
        let output = Output {
            out: common.out.clone(),
            json_summary: common.json_summary,
        };
        match self.command {
            Command::Http(a) => {
                cfg.connections = a.connections;
                cfg.new_connection_per_request = a.new_connection_per_request;
                cfg.content_type = a.content_type;
                cfg.headers = a.headers;
            }
            Command::Ws(a) => {
                cfg.sessions = a.sessions;
                cfg.open_concurrency = a.open_concurrency;
            }
        }
        Ok((cfg, output))
    }
}
