//! The cross-check against a tool users trust: oha, open loop at the same
//! rate with latency correction, against the same server in the same run.
//! Install it with `cargo install oha --version 1.16.0 --locked`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::NetbenchError;

/// oha's figures for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct OhaSummary {
    /// Successful requests per second.
    pub requests_per_s: f64,
    /// Share of requests that succeeded, 0..1.
    pub success_rate: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 95th percentile, µs.
    pub p95_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
}

/// Where oha is: `$OHA`, `PATH`, or cargo's bin folder.
pub fn locate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OHA") {
        return Some(PathBuf::from(p));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join("oha")).find(|p| p.is_file())
}

/// Runs `oha -q RATE --latency-correction` with `connections` for
/// `duration`, POSTing `payload_bytes` of octet-stream to `url`.
pub fn run(
    oha: &PathBuf,
    url: &str,
    rate: u64,
    connections: usize,
    duration: Duration,
    payload_bytes: usize,
) -> Result<OhaSummary, NetbenchError> {
    let body = "x".repeat(payload_bytes);
    let args: Vec<String> = vec![
        "--no-tui".into(),
        "--output-format".into(),
        "json".into(),
        "-q".into(),
        rate.to_string(),
        "--latency-correction".into(),
        "-c".into(),
        connections.to_string(),
        "-z".into(),
        format!("{}ms", duration.as_millis()),
        "-m".into(),
        "POST".into(),
        "-T".into(),
        "application/octet-stream".into(),
        "-d".into(),
        body,
        url.into(),
    ];
    let fail = |why: String| NetbenchError::Load {
        args: format!("oha -q {rate} --latency-correction -c {connections} {url}"),
        why,
    };
    let out = Command::new(oha)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", oha.display())))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse(&out.stdout).map_err(fail)
}

/// Reads oha's JSON output (latencies in seconds).
pub fn parse(json: &[u8]) -> Result<OhaSummary, String> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| format!("oha printed no JSON: {e}"))?;
    let num = |path: &[&str]| -> Result<f64, String> {
        let mut cur = &v;
        for p in path {
            cur = cur
                .get(p)
                .ok_or_else(|| format!("oha JSON has no {}", path.join(".")))?;
        }
        cur.as_f64()
            .ok_or_else(|| format!("oha JSON {} is not a number", path.join(".")))
    };
    Ok(OhaSummary {
        requests_per_s: num(&["summary", "requestsPerSec"])?,
        success_rate: num(&["summary", "successRate"])?,
        p50_us: num(&["latencyPercentiles", "p50"])? * 1e6,
        p95_us: num(&["latencyPercentiles", "p95"])? * 1e6,
        p99_us: num(&["latencyPercentiles", "p99"])? * 1e6,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn oha_json_is_read_in_microseconds() {
        let json = br#"{"summary":{"successRate":1.0,"requestsPerSec":999.5},
            "latencyPercentiles":{"p50":0.0002,"p95":0.0005,"p99":0.001}}"#;
        let s = super::parse(json).unwrap();
        assert_eq!(s.requests_per_s, 999.5);
        assert!((s.p50_us - 200.0).abs() < 1e-9 && (s.p99_us - 1000.0).abs() < 1e-9);
        assert!(super::parse(b"{}").unwrap_err().contains("requestsPerSec"));
    }
}
