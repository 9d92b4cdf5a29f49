//! A throwaway PostgreSQL cluster for tests: `initdb` in a temp dir (as
//! the `postgres` user when running as root, since `initdb` refuses root),
//! `pg_ctl start` on a free loopback port, and a [`Drop`] that stops it by
//! its PID and removes the directory, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where PostgreSQL's server binaries are: `$PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` with `initdb`, else `initdb` on `PATH`.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

/// A running throwaway cluster.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    pid: Option<u32>,
    as_postgres: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl PgCluster {
    /// Starts a cluster with the binaries in `bin` (see [`bin_dir`]).
    pub fn start(bin: &Path) -> Result<Self, String> {
        let as_postgres = is_root();
        // As root the server runs as `postgres`, which must reach the
        // directory: /tmp, not a $TMPDIR that may sit under /root.
        let base = if as_postgres {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "caxton-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut cluster = Self {
            dir,
            bin: bin.to_owned(),
            port: 0,
            pid: None,
            as_postgres,
        };
        if as_postgres {
            cluster.run(
                "chown",
                &["-R", "postgres:postgres", &cluster.dir.display().to_string()],
                false,
            )?;
        }
        let data = cluster.dir.join("data").display().to_string();
        cluster.run(
            &bin.join("initdb").display().to_string(),
            &["-A", "trust", "-U", "caxton", "--no-sync", "-D", &data],
            true,
        )?;
        let mut last = String::new();
        for _ in 0..3 {
            cluster.port = free_port().map_err(|e| e.to_string())?;
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                cluster.port,
                cluster.dir.display()
            );
            let log = cluster.dir.join("log").display().to_string();
            match cluster.run(
                &bin.join("pg_ctl").display().to_string(),
                &["-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "30", "start"],
                true,
            ) {
                Ok(()) => {
                    let pid = std::fs::read_to_string(cluster.dir.join("data/postmaster.pid"))
                        .ok()
                        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()));
                    cluster.pid = pid;
                    return Ok(cluster);
                }
                Err(e) => last = format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
            }
        }
        Err(format!("pg_ctl start failed: {last}"))
    }

    fn run(&self, program: &str, args: &[&str], as_postgres: bool) -> Result<(), String> {
        let mut cmd = if as_postgres && self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        let out = cmd.args(args).output().map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?}: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A URL for the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://caxton@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a fresh database and returns its URL.
    pub fn database(&self, name: &str) -> Result<String, String> {
        let mut c = postgres::Client::connect(&self.url(), postgres::NoTls).map_err(|e| e.to_string())?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| e.to_string())?;
        Ok(format!("postgres://caxton@127.0.0.1:{}/{name}", self.port))
    }

    /// Stops the server (fast shutdown, then SIGKILL by PID if it is still
    /// there) and removes its directory.
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let data = self.dir.join("data").display().to_string();
            let pg_ctl = self.bin.join("pg_ctl").display().to_string();
            if self
                .run(&pg_ctl, &["-D", &data, "-m", "fast", "-w", "-t", "10", "stop"], true)
                .is_err()
            {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cluster for a test, or `None` (with a message on stderr) when
/// PostgreSQL is not installed. Under `CI=true` a missing PostgreSQL is a
/// failure, not a skip: CI installs it (`.ci/run`).
pub fn require_postgres(test: &str) -> Option<PgCluster> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let Some(bin) = bin_dir() else {
        assert!(
            !ci,
            "{test}: PostgreSQL is not installed (no initdb); CI must have it: apt-get install -y postgresql"
        );
        eprintln!(
            "SKIPPED {test}: PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or PATH; apt-get install -y postgresql)"
        );
        return None;
    };
    match PgCluster::start(&bin) {
        Ok(c) => Some(c),
        Err(e) => panic!("{test}: could not start a throwaway PostgreSQL cluster: {e}"),
    }
}
