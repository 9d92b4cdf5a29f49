//! The outcome of a run: a summary, the `caxton-report` result set made
//! from it, a human summary and a one-line JSON summary.

use std::collections::BTreeMap;
use std::path::Path;

use caxton_report::results::{Measurement, ResultSet};
use serde::{Deserialize, Serialize};

use crate::config::LoadConfig;
use crate::pace::PacerStats;
use crate::record::{Interval, Totals};
use crate::size::format_size;
use crate::target::Mode;

/// Latency percentiles of successful replies, in microseconds from the
/// intended send time; NaN when nothing succeeded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    #[serde(with = "caxton_report::figure::one")]
    pub p50: f64,
    /// 90th percentile.
    #[serde(with = "caxton_report::figure::one")]
    pub p90: f64,
    /// 95th percentile.
    #[serde(with = "caxton_report::figure::one")]
    pub p95: f64,
    /// 99th percentile.
    #[serde(with = "caxton_report::figure::one")]
    pub p99: f64,
    /// 99.9th percentile.
    #[serde(with = "caxton_report::figure::one")]
    pub p999: f64,
    /// Largest.
    #[serde(with = "caxton_report::figure::one")]
    pub max: f64,
    /// Mean.
    #[serde(with = "caxton_report::figure::one")]
    pub mean: f64,
}

/// WebSocket session counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionStats {
    /// Sessions asked for (`--sessions`).
    pub requested: u64,
    /// Sessions that opened (upgrade and welcome).
    pub opened: u64,
    /// Sessions that failed to open.
    pub failed_to_open: u64,
    /// Sessions still open when the run ended.
    pub open_at_end: u64,
}

impl SessionStats {
    /// Percent of the requested sessions that opened and stayed open the
    /// whole run.
    pub fn stability_pct(&self) -> f64 {
        if self.requested == 0 {
            return f64::NAN;
        }
        100.0 * self.open_at_end as f64 / self.requested as f64
    }
}

/// Everything a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `http` or `ws`.
    pub mode: String,
    /// The target's label (`--label`).
    pub label: String,
    /// The URL driven.
    pub url: String,
    /// The result variant: mode, rate, connections or sessions, payload,
    /// label.
    pub variant: String,
    /// Offered rate in requests per second; 0 for a closed loop.
    pub rate: u64,
    /// HTTP connections (http mode).
    pub connections: usize,
    /// Sessions asked for (ws mode).
    pub sessions: usize,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// The measured window, in seconds.
    pub duration_s: f64,
    /// The warmup, in seconds.
    pub warmup_s: f64,
    /// Seconds from the end of the warmup to the last recorded completion
    /// (replies to requests due late in the window arrive after it).
    pub elapsed_s: f64,
    /// Requests issued in the measured window, including dropped ones.
    pub sent: u64,
    /// Successful replies.
    pub ok: u64,
    /// Failures (`sent == ok + errors`).
    pub errors: u64,
    /// Failures by kind: `status_NNN`, `connect`, `io`, `timeout`,
    /// `dropped`, `closed`, `protocol`, `server_<kind>`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Successful replies that arrived within the measured window, per
    /// second of it: the achieved throughput.
    #[serde(with = "caxton_report::figure::one")]
    pub requests_per_s: f64,
    /// `errors / sent`, in percent.
    #[serde(with = "caxton_report::figure::one")]
    pub error_rate_pct: f64,
    /// Latency of successful replies.
    pub latency_us: Latency,
    /// Reply payload bytes received.
    pub bytes_received: u64,
    /// The pacer's largest lateness handing a tick over, in µs: when high,
    /// the client machine was too busy to keep time, and the latencies
    /// include that (open loop only).
    pub pacer_max_lag_us: u64,
    /// The 99th percentile of the pacer's lateness, in µs.
    pub pacer_p99_lag_us: u64,
    /// WebSocket session counts (ws mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_sessions: Option<SessionStats>,
    /// Per-second intervals of the measured window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<Interval>,
}

/// The result file: a `caxton-report` result set (what `caxton-perf
/// report` reads) with the full summary beside it under `load`.
#[derive(Serialize)]
struct ResultFile<'a> {
    #[serde(flatten)]
    set: &'a ResultSet,
    load: &'a RunSummary,
}

impl RunSummary {
    /// Summarises a finished run.
    pub fn new(cfg: &LoadConfig, t: &Totals, pacer: PacerStats, ws_sessions: Option<SessionStats>) -> Self {
        let duration_s = cfg.duration.as_secs_f64();
        let elapsed_s = t.elapsed_s;
        let q = |q: f64| {
            if t.ok == 0 {
                f64::NAN
            } else {
                t.latency.value_at_quantile(q) as f64
            }
        };
        let latency_us = Latency {
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: if t.ok == 0 { f64::NAN } else { t.latency.max() as f64 },
            mean: if t.ok == 0 { f64::NAN } else { t.latency.mean() },
        };
        let who = match cfg.mode {
            Mode::Http if cfg.new_connection_per_request => format!("{} new-conn", cfg.connections),
            Mode::Http => format!("{} conns", cfg.connections),
            Mode::Ws => format!("{} sessions", cfg.sessions),
        };
        let rate = if cfg.rate == 0 {
            "closed".to_owned()
        } else {
            format!("{}/s", cfg.rate)
        };
        Self {
            mode: cfg.mode.name().to_owned(),
            label: cfg.label.clone(),
            url: cfg.target.url.clone(),
            variant: format!(
                "{} {rate} {who} {} {}",
                cfg.mode.name(),
                format_size(cfg.payload_bytes),
                cfg.label
            ),
            rate: cfg.rate,
            connections: cfg.connections,
            sessions: cfg.sessions,
            payload_bytes: cfg.payload_bytes,
            duration_s,
            warmup_s: cfg.warmup.as_secs_f64(),
            elapsed_s,
            sent: t.sent,
            ok: t.ok,
            errors: t.errors,
            errors_by_kind: t.errors_by_kind.clone(),
            requests_per_s: t.ok_in_window as f64 / duration_s,
            error_rate_pct: if t.sent == 0 {
                0.0
            } else {
                100.0 * t.errors as f64 / t.sent as f64
            },
            latency_us,
            bytes_received: t.bytes_received,
            pacer_max_lag_us: pacer.max_lag_us,
            pacer_p99_lag_us: pacer.p99_lag_us,
            ws_sessions,
            intervals: t.intervals.clone(),
        }
    }

    /// True when nothing got through and every failure was a failed
    /// connect: the target could not be reached at all.
    pub fn unreachable(&self) -> bool {
        self.ok == 0 && self.errors > 0 && self.errors_by_kind.keys().all(|k| k == "connect")
    }

    /// The metric name prefix: `http` or `ws`.
    fn prefix(&self) -> &'static str {
        if self.mode == "ws" { "ws" } else { "http" }
    }

    /// The measurements for `caxton-perf report`: throughput
    /// (`http_requests_per_s` / `ws_round_trips_per_s`, with the full
    /// seconds' rates as samples), latency percentiles (`…_latency_p50`,
    /// `_p95`, `_p99`, `_max`), `error_rate`, and for ws
    /// `websocket_sessions` and `websocket_stability`.
    pub fn measurements(&self) -> Vec<Measurement> {
        let v = self.variant.as_str();
        let p = self.prefix();
        let throughput = if p == "ws" {
            "ws_round_trips_per_s"
        } else {
            "http_requests_per_s"
        };
        // Full seconds of the measured window only: the last may be partial.
        let per_second: Vec<f64> = self
            .intervals
            .iter()
            .take(self.duration_s.floor() as usize)
            .map(|i| i.ok as f64)
            .collect();
        let mut tput = Measurement {
            value: self.requests_per_s,
            ..Measurement::from_samples(throughput, v, "req/s", per_second)
        };
        // Details share the unit: the counts live in the `load` summary.
        if self.rate > 0 {
            tput = tput.with_detail("offered", self.rate as f64);
        }
        let l = &self.latency_us;
        let mut out = vec![
            tput,
            Measurement::single(&format!("{p}_latency_p50"), v, "us", l.p50).with_detail("mean", l.mean),
            Measurement::single(&format!("{p}_latency_p95"), v, "us", l.p95).with_detail("p90", l.p90),
            Measurement::single(&format!("{p}_latency_p99"), v, "us", l.p99).with_detail("p99.9", l.p999),
            Measurement::single(&format!("{p}_latency_max"), v, "us", l.max).informational(),
        ];
        let mut errors = Measurement::single("error_rate", v, "%", self.error_rate_pct);
        for (kind, n) in &self.errors_by_kind {
            let pct = if self.sent == 0 {
                0.0
            } else {
                100.0 * *n as f64 / self.sent as f64
            };
            errors = errors.with_detail(kind, pct);
        }
        out.push(errors);
        if self.rate > 0 {
            out.push(
                Measurement::single(&format!("{p}_pacer_lag_p99"), v, "us", self.pacer_p99_lag_us as f64)
                    .with_detail("max", self.pacer_max_lag_us as f64)
                    .informational(),
            );
        }
        if let Some(s) = &self.ws_sessions {
            out.push(
                Measurement::single("websocket_sessions", v, "count", s.open_at_end as f64)
                    .with_detail("requested", s.requested as f64)
                    .with_detail("opened", s.opened as f64)
                    .with_detail("failed_to_open", s.failed_to_open as f64),
            );
            out.push(Measurement::single("websocket_stability", v, "%", s.stability_pct()));
        }
        out
    }

    /// A result set holding [`RunSummary::measurements`].
    pub fn result_set(&self) -> ResultSet {
        let mut set = ResultSet::new(&format!("caxton-load {} {}", self.mode, self.label));
        set.measurements = self.measurements();
        set
    }

    /// Writes the result file: the result set, plus this summary (with
    /// its intervals) under `load`. `ResultSet::load` reads it.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let set = self.result_set();
        let file = ResultFile { set: &set, load: self };
        std::fs::write(
            path,
            serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?,
        )
    }

    /// One JSON line with the summary's numbers (without the intervals).
    pub fn json_line(&self) -> String {
        let mut short = self.clone();
        short.intervals.clear();
        serde_json::to_string(&short).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A human summary, several lines.
    pub fn human(&self) -> String {
        let l = &self.latency_us;
        let load = if self.rate == 0 {
            "closed loop".to_owned()
        } else {
            format!("open loop at {} req/s", self.rate)
        };
        let who = match &self.ws_sessions {
            Some(s) => format!(
                "{} sessions ({} opened, {} failed to open, {} open at the end: {:.2} % stable)",
                s.requested,
                s.opened,
                s.failed_to_open,
                s.open_at_end,
                s.stability_pct()
            ),
            None => format!("{} connections", self.connections),
        };
        let kinds: Vec<String> = self.errors_by_kind.iter().map(|(k, n)| format!("{k}={n}")).collect();
        format!(
            "caxton-load {mode} -> {url} [{label}]\n  \
             {load}, {who}, payload {payload}, {dur:.1}s measured after {warm:.1}s warmup\n  \
             sent {sent}  ok {ok}  errors {errors}{kinds} ({rate_pct:.3} %)\n  \
             achieved {rps:.1} ok/s in the window (last reply at {elapsed:.2}s)\n  \
             latency from intended send (us): p50 {p50:.0}  p90 {p90:.0}  p95 {p95:.0}  p99 {p99:.0}  p99.9 {p999:.0}  max {max:.0}  mean {mean:.1}\n  \
             {pacer}\n  \
             variant \"{variant}\"",
            mode = self.mode,
            url = self.url,
            label = self.label,
            payload = format_size(self.payload_bytes),
            dur = self.duration_s,
            warm = self.warmup_s,
            sent = self.sent,
            ok = self.ok,
            errors = self.errors,
            kinds = if kinds.is_empty() {
                String::new()
            } else {
                format!(" [{}]", kinds.join(" "))
            },
            rate_pct = self.error_rate_pct,
            rps = self.requests_per_s,
            elapsed = self.elapsed_s,
            p50 = l.p50,
            p90 = l.p90,
            p95 = l.p95,
            p99 = l.p99,
            p999 = l.p999,
            max = l.max,
            mean = l.mean,
            pacer = if self.rate == 0 {
                "closed loop: no pacer".to_owned()
            } else {
                format!(
                    "pacer lateness (us): p99 {}  max {}{}",
                    self.pacer_p99_lag_us,
                    self.pacer_max_lag_us,
                    if self.pacer_max_lag_us > 1000 {
                        " (the client machine was busy; latencies include it)"
                    } else {
                        ""
                    }
                )
            },
            variant = self.variant,
        )
    }
}
