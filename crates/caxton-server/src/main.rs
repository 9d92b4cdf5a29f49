//! `caxton-server`: the front door as a process. See docs/server-api.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caxton_cluster::Node;
use caxton_runtime::agents::Echo;
use caxton_runtime::{AgentSpec, Orchestrator, OrchestratorConfig};
use caxton_server::kinds::Kind;
use caxton_server::{AppState, Server, ServerConfig};
use clap::Parser;

/// Caxton's network front door: HTTP and WebSocket in front of one
/// orchestrator, with Prometheus metrics at /metrics.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the first line of
    /// output says which).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A TOML file with any of the settings below (flags win).
    #[arg(long)]
    config: Option<PathBuf>,
    /// File with the bearer token every mutating route then requires
    /// (one line, mode 600).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Largest request body or WebSocket message, bytes.
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Most HTTP connections at once; more get 503.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most WebSocket sessions at once; more get 503.
    #[arg(long)]
    max_sessions: Option<usize>,
    /// Time a client has to send a request's headers (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    header_read_timeout: Option<Duration>,
    /// How long SIGTERM / Ctrl-C waits for requests and agents to drain.
    #[arg(long, value_parser = humantime::parse_duration)]
    drain_timeout: Option<Duration>,
    /// Timeout of requests that name none.
    #[arg(long, value_parser = humantime::parse_duration)]
    request_timeout: Option<Duration>,
    /// Most live agents.
    #[arg(long)]
    max_agents: Option<usize>,
    /// Mailbox capacity of agents spawned without one.
    #[arg(long)]
    mailbox_capacity: Option<usize>,
    /// Requests one WebSocket session may have in flight.
    #[arg(long)]
    ws_max_in_flight: Option<usize>,
    /// Frames queued for one WebSocket client before it is closed.
    #[arg(long)]
    ws_outbox_frames: Option<usize>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Spawns N echo agents named echo-0 .. echo-(N-1) at start, so load
    /// can begin without a spawn call.
    #[arg(long, default_value_t = 0)]
    spawn_echo: usize,
    /// NATS URL of a lattice to join as a node (needs --node), e.g.
    /// nats://127.0.0.1:4222: the servers of one lattice answer for each
    /// other's agents.
    #[arg(long)]
    cluster: Option<String>,
    /// This server's node name in the lattice (needs --cluster).
    #[arg(long)]
    node: Option<String>,
    /// The lattice to join (default: default).
    #[arg(long)]
    lattice: Option<String>,
}

impl Args {
    fn config(&self) -> Result<ServerConfig, caxton_server::ConfigError> {
        let mut c = match &self.config {
            Some(path) => ServerConfig::from_file(path)?,
            None => ServerConfig::default(),
        };
        macro_rules! set {
            ($($field:ident => $target:ident),* $(,)?) => {
                $(if let Some(v) = self.$field.clone() { c.$target = v; })*
            };
        }
        set!(
            listen => listen,
            max_body_bytes => max_body_bytes,
            max_connections => max_connections,
            max_sessions => max_sessions,
            header_read_timeout => header_read_timeout,
            drain_timeout => drain_timeout,
            request_timeout => default_request_timeout,
            max_agents => max_agents,
            mailbox_capacity => mailbox_capacity,
            ws_max_in_flight => ws_max_in_flight,
            ws_outbox_frames => ws_outbox_frames,
            workers => workers,
        );
        if let Some(url) = &self.cluster {
            c.cluster = Some(url.clone());
        }
        if let Some(node) = &self.node {
            c.node = Some(node.clone());
        }
        if let Some(lattice) = &self.lattice {
            c.lattice = lattice.clone();
        }
        if let Some(t) = &self.token_file {
            c.token_file = Some(t.clone());
        }
        c.validate()?;
        Ok(c)
    }
}

/// Raises the open-file limit to the hard limit: each connection and
/// session is a descriptor, and 10 000 sessions pass the usual 1024.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A future that completes on Ctrl-C or SIGTERM. The handlers are
/// installed here, at once (not on first poll), so a signal that arrives
/// as soon as the server listens is a drain, never the default kill.
fn signalled() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("caxton-server: {e}");
            return ExitCode::from(2);
        }
    };
    let token = match config.token() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("caxton-server: {e}");
            return ExitCode::from(2);
        }
    };
    raise_fd_limit();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if config.workers > 0 {
        builder.worker_threads(config.workers);
    }
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("caxton-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let state = match (config.cluster.clone(), config.node.clone()) {
            (Some(url), Some(name)) => {
                match Node::connect(&url, &config.lattice, &name, OrchestratorConfig::default()).await {
                    Ok(node) => AppState::with_node(node, config, token),
                    Err(e) => {
                        eprintln!("caxton-server: cannot join lattice {:?} as node {name:?}: {e}", config.lattice);
                        return ExitCode::FAILURE;
                    }
                }
            }
            _ => AppState::new(Orchestrator::new(), config, token),
        };
        for i in 0..args.spawn_echo {
            let spec = AgentSpec::new(|| Echo).name(format!("echo-{i}")).mailbox_capacity(state.config.mailbox_capacity);
            let spawned = match &state.node {
                Some(node) => node.spawn(spec).await.map_err(|e| e.to_string()),
                None => state.orch.spawn(spec).map_err(|e| e.to_string()),
            };
            match spawned {
                Ok(id) => state.kinds.insert(id, Kind::Echo),
                Err(e) => {
                    eprintln!("caxton-server: spawning echo-{i} failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let shutdown = match signalled() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("caxton-server: cannot install the SIGTERM/Ctrl-C handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        let server = match Server::bind(state).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("caxton-server: cannot listen on {}: {e}", args.listen.map_or_else(|| "the configured address".into(), |a| a.to_string()));
                return ExitCode::FAILURE;
            }
        };
        match server.local_addr() {
            Ok(addr) => println!("listening on {addr}"),
            Err(e) => eprintln!("caxton-server: {e}"),
        }
        let report = server.run(shutdown).await;
        println!(
            "shutdown: {} agents, {} drained, {} messages handled while draining, {} undelivered (dead letters), {} still in handlers",
            report.agents,
            report.agents_drained,
            report.messages_drained,
            report.undelivered.len(),
            report.in_progress
        );
        ExitCode::SUCCESS
    })
}
