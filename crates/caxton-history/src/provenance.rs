//! What a run is recorded with: its commit, the machine, the toolchain,
//! when it ran and how it was configured.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// The kind of run a record holds.
pub const KIND_SUITE: &str = "suite";
/// A criterion baseline imported with `history import --criterion`.
pub const KIND_CRITERION: &str = "criterion";
/// A scenario binary's result file.
pub const KIND_SCENARIO: &str = "scenario";
/// A suite result file imported with `history import`.
pub const KIND_IMPORT: &str = "import";

/// The environment variable that names the machine instead of its
/// fingerprint (e.g. a CI runner class), so runs on identical machines
/// share one history.
pub const MACHINE_ENV: &str = "CAXTON_MACHINE";

/// The commit a run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Git {
    /// `git rev-parse HEAD`.
    pub commit: Option<String>,
    /// The committer date of the commit (ISO 8601, UTC): the commit order.
    pub commit_time: Option<String>,
    /// The branch checked out (`None` when detached).
    pub branch: Option<String>,
    /// Uncommitted changes to tracked files.
    pub dirty: bool,
}

impl Git {
    /// The checkout in the working directory; all `None` outside a git
    /// checkout or without git.
    pub fn current() -> Self {
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git").args(args).output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let Some(head) = git(&["log", "-1", "--format=%H %ct"]) else {
            return Self::default();
        };
        let mut parts = head.split_whitespace();
        let commit = parts.next().map(str::to_owned);
        let commit_time = parts.next().and_then(|t| t.parse::<u64>().ok()).map(iso8601);
        let branch = git(&["symbolic-ref", "--short", "-q", "HEAD"])
            .filter(|b| !b.is_empty())
            .or_else(|| std::env::var("GITHUB_HEAD_REF").ok().filter(|b| !b.is_empty()))
            .or_else(|| std::env::var("GITHUB_REF_NAME").ok().filter(|b| !b.is_empty()));
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        Self {
            commit,
            commit_time,
            branch,
            dirty,
        }
    }
}

/// The machine a run measured on. Runs are compared only with runs of the
/// same [`MachineInfo::fingerprint`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// A short hash of the fields below (or [`MACHINE_ENV`] when set).
    pub fingerprint: String,
    /// CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// Logical CPUs.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// OS and architecture.
    pub os: String,
    /// Memory, GiB (rounded).
    pub memory_gib: u64,
    /// The noise regime where known: the CPU frequency governor.
    pub governor: Option<String>,
}

impl MachineInfo {
    /// This machine.
    pub fn current() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
        let cpu = read("/proc/cpuinfo")
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name") || l.starts_with("Model") || l.starts_with("cpu model"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_gib = read("/proc/meminfo")
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or(0, |kb| (kb as f64 / 1024.0 / 1024.0).round() as u64);
        let mut m = Self {
            fingerprint: String::new(),
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: read("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".to_owned()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            memory_gib,
            governor: read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        };
        m.fingerprint = std::env::var(MACHINE_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| m.hash());
        m
    }

    /// FNV-1a (64 bit) of the machine's facts, as 16 hex digits: stable
    /// across runs and builds (unlike `std`'s hasher).
    pub fn hash(&self) -> String {
        let text = format!(
            "{}|{}|{}|{}|{}|{}",
            self.cpu,
            self.cores,
            self.kernel,
            self.os,
            self.memory_gib,
            self.governor.as_deref().unwrap_or("")
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// The facts for a report's environment line.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("cpu".to_owned(), self.cpu.clone()),
            ("kernel".to_owned(), self.kernel.clone()),
            ("memory".to_owned(), format!("{} GiB", self.memory_gib)),
        ];
        if let Some(g) = &self.governor {
            env.push(("governor".to_owned(), g.clone()));
        }
        env.push(("machine".to_owned(), self.fingerprint.clone()));
        env
    }
}

/// The toolchain that built this binary.
pub fn toolchain() -> String {
    env!("CAXTON_RUSTC_VERSION").to_owned()
}

/// Seconds since the Unix epoch as ISO 8601 (UTC).
pub fn iso8601(unix: u64) -> String {
    caxton_report::report::iso8601(unix)
}

/// Now, as seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Everything a run is recorded with besides its measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// [`KIND_SUITE`], [`KIND_CRITERION`], [`KIND_SCENARIO`] or [`KIND_IMPORT`].
    pub kind: String,
    /// What produced it (the result set's `source`).
    pub source: String,
    /// When it started (ISO 8601, UTC).
    pub started_at: String,
    /// When it finished (ISO 8601, UTC).
    pub finished_at: String,
    /// The commit measured.
    pub git: Git,
    /// The machine.
    pub machine: MachineInfo,
    /// The toolchain.
    pub toolchain: String,
    /// The run's configuration (flags, mode, file names), as JSON.
    pub config: serde_json::Value,
    /// The run was interrupted.
    pub partial: bool,
}

impl RunInfo {
    /// A run of `kind` here and now: this checkout, this machine, this
    /// binary's toolchain; `started_at_unix` when it began.
    pub fn current(
        kind: &str,
        source: &str,
        started_at_unix: u64,
        finished_at_unix: u64,
        config: serde_json::Value,
    ) -> Self {
        Self {
            kind: kind.to_owned(),
            source: source.to_owned(),
            started_at: iso8601(started_at_unix),
            finished_at: iso8601(finished_at_unix),
            git: Git::current(),
            machine: MachineInfo::current(),
            toolchain: toolchain(),
            config,
            partial: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_depends_on_the_facts() {
        let m = MachineInfo::current();
        assert_eq!(m.hash(), m.hash());
        assert_eq!(m.hash().len(), 16);
        let other = MachineInfo {
            cores: m.cores + 1,
            ..m.clone()
        };
        assert_ne!(m.hash(), other.hash());
        assert!(toolchain().starts_with("rustc"), "{}", toolchain());
    }
}
