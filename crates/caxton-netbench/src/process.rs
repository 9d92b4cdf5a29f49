//! A server started as a child process: it prints `listening on ADDR`
//! first; it is stopped by PID (SIGTERM, then SIGKILL), also when the
//! benchmark fails half way (on drop).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::error::NetbenchError;

/// Bytes of a child's stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

/// A running server process.
pub struct Service {
    name: String,
    child: Child,
    addr: SocketAddr,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

/// How a stopped service ended.
#[derive(Debug)]
pub struct Stopped {
    /// Its exit status (None if it had to be killed).
    pub status: Option<ExitStatus>,
    /// Everything it printed after the `listening on` line.
    pub stdout: Vec<String>,
}

impl Service {
    /// Starts `bin args...` and waits (up to `ready_within`) for its
    /// `listening on ADDR` line.
    pub fn start(name: &str, bin: &Path, args: &[String], ready_within: Duration) -> Result<Self, NetbenchError> {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NetbenchError::Start {
                name: name.to_owned(),
                why: format!("cannot run {}: {e}", bin.display()),
            })?;
        let (tx, stdout) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut err) = child.stderr.take() {
            let tail = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                    t.extend_from_slice(&buf[..n]);
                    let over = t.len().saturating_sub(STDERR_TAIL);
                    t.drain(..over);
                }
            });
        }
        let mut service = Self {
            name: name.to_owned(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + ready_within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match service.stdout.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        service.addr = addr
                            .trim()
                            .parse()
                            .map_err(|e| service.failed(format!("bad address {addr:?}: {e}")))?;
                        return Ok(service);
                    }
                }
                Err(_) => {
                    let why = match service.child.try_wait() {
                        Ok(Some(status)) => format!("exited ({status}) before listening"),
                        _ => format!("printed no `listening on` line within {ready_within:?}"),
                    };
                    return Err(service.failed(why));
                }
            }
        }
    }

    fn failed(&self, why: String) -> NetbenchError {
        // Give the stderr reader a moment to catch the last words.
        std::thread::sleep(Duration::from_millis(50));
        let tail = String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
        NetbenchError::Start {
            name: self.name.clone(),
            why: if tail.trim().is_empty() {
                why
            } else {
                format!("{why}; stderr: {}", tail.trim())
            },
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last bytes it wrote to stderr (for diagnosing a failed run).
    pub fn stderr_tail(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://ADDR`.
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident set size now, bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        caxton_profiling::rss_bytes_of(self.pid()).ok()
    }

    /// Sends SIGTERM and waits up to `within` for it to exit (then kills
    /// it); returns its status and what it printed.
    pub fn stop(mut self, within: Duration) -> Stopped {
        // SAFETY: kill(2) with our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + within;
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The reader thread ends with the pipe; take what it read.
        let mut stdout = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(200)) {
            stdout.push(line);
        }
        Stopped { status, stdout }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
