//! Test helpers: the real `caxton-bare-echo` binary on a free port,
//! stopped by PID when the guard drops (also when a test fails).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `caxton-bare-echo`.
pub struct EchoServer {
    child: Child,
    _stdout: Option<BufReader<ChildStdout>>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl EchoServer {
    /// Starts the binary on 127.0.0.1:0 and reads the bound address from
    /// its first stdout line.
    pub fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-bare-echo"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start caxton-bare-echo");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let r = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send((r, reader));
        });
        // The guard owns the child from here: a failure below kills it.
        let mut server = Self {
            child,
            _stdout: None,
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        let (line, reader) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("caxton-bare-echo printed nothing within 30 s");
        let line = line.expect("read caxton-bare-echo's stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        server.addr = addr.parse().expect("an address");
        server._stdout = Some(reader);
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to 10 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: signalling our own child by its PID.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            assert!(Instant::now() < deadline, "caxton-bare-echo ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Kills this PID only.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
