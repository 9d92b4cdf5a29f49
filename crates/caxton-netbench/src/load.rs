//! Runs the load generator as its own process and reads its summary.

use std::process::{Command, Stdio};
use std::time::Duration;

use caxton_load::results::RunSummary;

use crate::bins::Binaries;
use crate::error::NetbenchError;

/// One `caxton-load` run.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// `http` or `ws`.
    pub mode: &'static str,
    /// The URL.
    pub url: String,
    /// Requests per second; 0 for a closed loop.
    pub rate: u64,
    /// Connections (http) or sessions (ws).
    pub width: usize,
    /// Measured time.
    pub duration: Duration,
    /// Unrecorded time before it.
    pub warmup: Duration,
    /// Payload bytes.
    pub payload_bytes: usize,
    /// The target's label in the results.
    pub label: String,
}

impl LoadSpec {
    /// The command-line arguments.
    pub fn args(&self) -> Vec<String> {
        let width_flag = if self.mode == "ws" {
            "--sessions"
        } else {
            "--connections"
        };
        vec![
            self.mode.to_owned(),
            "--url".into(),
            self.url.clone(),
            "--rate".into(),
            self.rate.to_string(),
            width_flag.into(),
            self.width.to_string(),
            "--duration".into(),
            format!("{}ms", self.duration.as_millis()),
            "--warmup".into(),
            format!("{}ms", self.warmup.as_millis()),
            "--payload-bytes".into(),
            self.payload_bytes.to_string(),
            "--label".into(),
            self.label.clone(),
            "--quiet".into(),
            "--json-summary".into(),
        ]
    }

    /// Runs it and returns its summary.
    pub fn run(&self, bins: &Binaries) -> Result<RunSummary, NetbenchError> {
        let args = self.args();
        let fail = |why: String| NetbenchError::Load {
            args: args.join(" "),
            why,
        };
        let out = Command::new(&bins.load)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", bins.load.display())))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{'));
        match line {
            Some(l) => serde_json::from_str(l).map_err(|e| fail(format!("unreadable summary ({e}): {l}"))),
            None => Err(fail(format!(
                "no summary ({}); stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}
