//! Scenario configuration: the TOML files in `scenarios/`, the `--quick`
//! overrides they carry, command-line overrides, and validation before a run.
//!
//! Every table refuses unknown fields, and every check names the field it
//! refused, so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this scenario (unknown or missing
    /// field, wrong type); toml's message names the field and the line.
    #[error("{origin}: {source}")]
    Parse {
        /// The file, or the built-in defaults.
        origin: String,
        /// toml's error.
        source: Box<toml::de::Error>,
    },
    /// A field has a value the scenario cannot run with.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field, as `table.field`.
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The agents would not fit in the memory available.
    #[error(
        "invalid `load.agents`: {agents} agents need an estimated {needed_mib} MiB \
         ({per_agent} bytes each: load.agent_budget_bytes, a full mailbox and, for WASM, \
         the guest's memory), \
         but only {available_mib} MiB of memory is available"
    )]
    TooManyAgents {
        /// Agents asked for.
        agents: usize,
        /// Estimated bytes per agent.
        per_agent: u64,
        /// Estimated total, MiB.
        needed_mib: u64,
        /// Available memory, MiB.
        available_mib: u64,
    },
}

/// Which agents handle the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// Native Rust agents.
    Native,
    /// WASM guest agents (the counter guest) on the wasmtime host.
    Wasm,
    /// Native and WASM agents alternating, half each.
    Mixed,
}

impl AgentKind {
    /// The name used in files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Wasm => "wasm",
            Self::Mixed => "mixed",
        }
    }
}

/// The `[load]` table: what every scenario sends, and to how many agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Length of the run, seconds.
    pub duration_s: u64,
    /// Messages per second asked of the open-loop generator (the baseline
    /// rate of the burst scenario).
    pub rate: f64,
    /// Agents the load is spread over (round-robin).
    pub agents: usize,
    /// Payload size, bytes.
    pub message_size: usize,
    /// Which agents handle the load.
    pub agent_kind: AgentKind,
    /// Mailbox capacity per agent; a send to a full mailbox is refused
    /// (counted, never dropped silently).
    pub mailbox_capacity: usize,
    /// Tokio worker threads; 0 for one per available core.
    pub workers: usize,
    /// Memory budgeted per agent besides its mailbox, bytes; with the
    /// mailbox at capacity it is the estimate checked against available
    /// memory before the run.
    pub agent_budget_bytes: u64,
}

/// The `[quick]` table: what `--quick` changes (a CI-sized run, under a
/// minute). Each field overrides the one of the same name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quick {
    /// Overrides `load.duration_s`.
    pub duration_s: Option<u64>,
    /// Overrides `load.rate`.
    pub rate: Option<f64>,
    /// Overrides `load.agents`.
    pub agents: Option<usize>,
    /// Overrides `burst.start_s`.
    pub burst_start_s: Option<u64>,
    /// Overrides `burst.duration_s`.
    pub burst_duration_s: Option<u64>,
    /// Overrides `checks.warmup_s` (sustained).
    pub warmup_s: Option<u64>,
    /// Overrides `checks.window_intervals` (sustained).
    pub window_intervals: Option<usize>,
    /// Overrides `checks.latency_noise_floor_ms` (sustained).
    pub latency_noise_floor_ms: Option<f64>,
}

/// `[checks]` of the peak scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeakChecks {
    /// Least share of sent messages handled successfully (0..1).
    pub min_success_rate: f64,
    /// Largest acceptable p99 send -> handled latency over the run, ms.
    pub max_p99_ms: f64,
}

/// `[checks]` of the sustained scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SustainedChecks {
    /// Intervals before this second are left out of the leak fit and the
    /// "first" window (start-up allocations are not a leak).
    pub warmup_s: u64,
    /// RSS growth above this, bytes per minute (least-squares slope over
    /// the per-second RSS after warm-up), is a leak.
    pub leak_threshold_bytes_per_min: f64,
    /// Largest acceptable degradation between the first and last window
    /// (0.05 = 5 %), for throughput and for latency.
    pub max_degradation: f64,
    /// Intervals in the first and in the last window (each compared by its
    /// median); fewer when the run is short (a third of it each).
    pub window_intervals: usize,
    /// A rise of the median latency smaller than this, ms, is noise,
    /// whatever its ratio.
    pub latency_noise_floor_ms: f64,
}

/// `[checks]` of the burst scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstChecks {
    /// Latest acceptable recovery after the burst ends, seconds.
    pub recovery_limit_s: f64,
    /// Recovered when an interval's p99 is at most this times the
    /// baseline p99 (the median interval p99 before the burst)...
    pub recovery_p99_factor: f64,
    /// ...or at most this many ms, whichever is larger.
    pub recovery_p99_floor_ms: f64,
    /// ...for this many consecutive intervals.
    pub recovery_stable_intervals: usize,
}

/// `[checks]` of the fault-injection scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultChecks {
    /// Longest acceptable recovery time of any restart, seconds.
    pub recovery_limit_s: f64,
}

/// `[burst]`: the burst laid over the baseline `load.rate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstShape {
    /// When the burst starts, seconds from the run's start.
    pub start_s: u64,
    /// How long it lasts, seconds.
    pub duration_s: u64,
    /// Messages per second during the burst.
    pub rate: f64,
}

/// `[faults]`: the crashes injected under load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultShape {
    /// Injected crashes per second, spread over the agents in turn.
    pub crash_rate: f64,
    /// Restarts an agent's supervisor allows within `restart_window_s`.
    pub max_restarts: u32,
    /// The restart-counting window, seconds: at least 1 (a zero window
    /// would count no restart at all, so an agent crashing in a loop would
    /// be restarted forever) and at most [`MAX_DURATION_S`].
    pub restart_window_s: u64,
    /// Automatic checkpoint after this many messages per agent (0: none);
    /// a restarted agent resumes from its last checkpoint.
    pub checkpoint_every: u64,
}

/// What is scenario-specific in a configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Peak load.
    Peak {
        /// Its checks.
        checks: PeakChecks,
    },
    /// Sustained load.
    Sustained {
        /// Its checks.
        checks: SustainedChecks,
    },
    /// Burst load.
    Burst {
        /// The burst.
        burst: BurstShape,
        /// Its checks.
        checks: BurstChecks,
    },
    /// Fault injection.
    Faults {
        /// The faults.
        faults: FaultShape,
        /// Its checks.
        checks: FaultChecks,
    },
}

/// A complete, validated configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// The load.
    pub load: Load,
    /// The scenario's own tables.
    pub plan: Plan,
    /// Whether `--quick` was applied.
    pub quick: bool,
    /// Where the configuration came from.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeakFile {
    load: Load,
    #[serde(default)]
    quick: Quick,
    checks: PeakChecks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SustainedFile {
    load: Load,
    #[serde(default)]
    quick: Quick,
    checks: SustainedChecks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstFile {
    load: Load,
    #[serde(default)]
    quick: Quick,
    burst: BurstShape,
    checks: BurstChecks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    load: Load,
    #[serde(default)]
    quick: Quick,
    faults: FaultShape,
    checks: FaultChecks,
}

/// Values given on the command line, applied over the file (and `--quick`).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--duration`, seconds.
    pub duration_s: Option<u64>,
    /// `--rate`.
    pub rate: Option<f64>,
    /// `--agents`.
    pub agents: Option<usize>,
    /// `--message-size`.
    pub message_size: Option<usize>,
    /// `--agent-kind`.
    pub agent_kind: Option<AgentKind>,
}

/// Parses a scenario's TOML text, `origin` naming it in errors.
pub fn parse(scenario: Scenario, text: &str, origin: &str) -> Result<(Load, Quick, Plan), ConfigError> {
    let err = |e: toml::de::Error| ConfigError::Parse {
        origin: origin.to_owned(),
        source: Box::new(e),
    };
    Ok(match scenario {
        Scenario::Peak => {
            let f: PeakFile = toml::from_str(text).map_err(err)?;
            (f.load, f.quick, Plan::Peak { checks: f.checks })
        }
        Scenario::Sustained => {
            let f: SustainedFile = toml::from_str(text).map_err(err)?;
            (f.load, f.quick, Plan::Sustained { checks: f.checks })
        }
        Scenario::Burst => {
            let f: BurstFile = toml::from_str(text).map_err(err)?;
            (
                f.load,
                f.quick,
                Plan::Burst {
                    burst: f.burst,
                    checks: f.checks,
                },
            )
        }
        Scenario::Faults => {
            let f: FaultsFile = toml::from_str(text).map_err(err)?;
            (
                f.load,
                f.quick,
                Plan::Faults {
                    faults: f.faults,
                    checks: f.checks,
                },
            )
        }
    })
}

impl Config {
    /// Loads the scenario's configuration from `path` (or its built-in
    /// defaults, the file shipped in `scenarios/`), applies `--quick` and
    /// the overrides, and validates the result.
    pub fn load(
        scenario: Scenario,
        path: Option<&Path>,
        quick: bool,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let (text, source) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (
                scenario.default_toml().to_owned(),
                format!("built-in scenarios/{}.toml", scenario.name()),
            ),
        };
        let (load, q, plan) = parse(scenario, &text, &source)?;
        let mut cfg = Config {
            load,
            plan,
            quick,
            source,
        };
        if quick {
            cfg.apply_quick(&q)?;
        }
        cfg.apply(overrides);
        cfg.validate()?;
        cfg.check_memory(available_memory())?;
        Ok(cfg)
    }

    /// Applies the `[quick]` table; its durations are checked against
    /// [`MAX_DURATION_S`] here, so an error names the `quick.` field.
    fn apply_quick(&mut self, q: &Quick) -> Result<(), ConfigError> {
        for (field, v) in [
            ("quick.duration_s", q.duration_s),
            ("quick.burst_start_s", q.burst_start_s),
            ("quick.burst_duration_s", q.burst_duration_s),
            ("quick.warmup_s", q.warmup_s),
        ] {
            check_max_duration(field, v.unwrap_or(0))?;
        }
        let l = &mut self.load;
        if let Some(v) = q.duration_s {
            l.duration_s = v;
        }
        if let Some(v) = q.rate {
            l.rate = v;
        }
        if let Some(v) = q.agents {
            l.agents = v;
        }
        match &mut self.plan {
            Plan::Burst { burst, .. } => {
                if let Some(v) = q.burst_start_s {
                    burst.start_s = v;
                }
                if let Some(v) = q.burst_duration_s {
                    burst.duration_s = v;
                }
            }
            Plan::Sustained { checks } => {
                if let Some(v) = q.warmup_s {
                    checks.warmup_s = v;
                }
                if let Some(v) = q.window_intervals {
                    checks.window_intervals = v;
                }
                if let Some(v) = q.latency_noise_floor_ms {
                    checks.latency_noise_floor_ms = v;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies command-line overrides.
    pub fn apply(&mut self, o: &Overrides) {
        let l = &mut self.load;
        if let Some(v) = o.duration_s {
            l.duration_s = v;
        }
        if let Some(v) = o.rate {
            l.rate = v;
        }
        if let Some(v) = o.agents {
            l.agents = v;
        }
        if let Some(v) = o.message_size {
            l.message_size = v;
        }
        if let Some(v) = o.agent_kind {
            l.agent_kind = v;
        }
    }

    /// Checks every value the run depends on; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.load;
        let bad = |field, reason: String| Err(ConfigError::Invalid { field, reason });
        if l.duration_s == 0 {
            return bad("load.duration_s", "must be at least 1 second".into());
        }
        // Every duration is capped first, so the sums and the `Instant`
        // arithmetic below and in the run cannot overflow.
        check_max_duration("load.duration_s", l.duration_s)?;
        match &self.plan {
            Plan::Sustained { checks } => check_max_duration("checks.warmup_s", checks.warmup_s)?,
            Plan::Burst { burst, .. } => {
                check_max_duration("burst.start_s", burst.start_s)?;
                check_max_duration("burst.duration_s", burst.duration_s)?;
            }
            Plan::Faults { faults, .. } => {
                if faults.restart_window_s == 0 {
                    return bad(
                        "faults.restart_window_s",
                        "must be at least 1 second: a zero window counts no restart, so \
                         max_restarts would never stop an agent that keeps crashing"
                            .into(),
                    );
                }
                check_max_duration("faults.restart_window_s", faults.restart_window_s)?;
            }
            Plan::Peak { .. } => {}
        }
        if !(l.rate.is_finite() && l.rate > 0.0) {
            return bad("load.rate", format!("must be above 0 msg/s, got {}", l.rate));
        }
        if l.agents == 0 {
            return bad("load.agents", "must be at least 1".into());
        }
        if l.message_size == 0 || l.message_size > 64 << 20 {
            return bad(
                "load.message_size",
                format!("must be 1 byte to 64 MiB, got {}", l.message_size),
            );
        }
        if l.mailbox_capacity == 0 {
            return bad("load.mailbox_capacity", "must be at least 1".into());
        }
        let fraction = |field, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                bad(field, format!("must be between 0 and 1, got {v}"))
            }
        };
        let positive = |field, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                bad(field, format!("must be above 0, got {v}"))
            }
        };
        match &self.plan {
            Plan::Peak { checks } => {
                fraction("checks.min_success_rate", checks.min_success_rate)?;
                positive("checks.max_p99_ms", checks.max_p99_ms)?;
            }
            Plan::Sustained { checks } => {
                fraction("checks.max_degradation", checks.max_degradation)?;
                positive(
                    "checks.leak_threshold_bytes_per_min",
                    checks.leak_threshold_bytes_per_min,
                )?;
                if checks.window_intervals == 0 {
                    return bad("checks.window_intervals", "must be at least 1".into());
                }
                if checks.warmup_s.saturating_add(6) > l.duration_s {
                    return bad(
                        "checks.warmup_s",
                        format!(
                            "{} s of warm-up leaves too little of a {} s run to compare \
                             (at least 6 s needed after it)",
                            checks.warmup_s, l.duration_s
                        ),
                    );
                }
            }
            Plan::Burst { burst, checks } => {
                if !(burst.rate.is_finite() && burst.rate > 0.0) {
                    return bad("burst.rate", format!("must be above 0 msg/s, got {}", burst.rate));
                }
                if burst.duration_s == 0 {
                    return bad("burst.duration_s", "must be at least 1 second".into());
                }
                if burst.start_s < 2 {
                    return bad(
                        "burst.start_s",
                        "must leave at least 2 s of baseline before the burst".into(),
                    );
                }
                if burst.start_s.saturating_add(burst.duration_s) >= l.duration_s {
                    return bad(
                        "burst.duration_s",
                        format!(
                            "the burst ({} s from {} s) must end before the run does ({} s)",
                            burst.duration_s, burst.start_s, l.duration_s
                        ),
                    );
                }
                positive("checks.recovery_limit_s", checks.recovery_limit_s)?;
                positive("checks.recovery_p99_factor", checks.recovery_p99_factor)?;
                if checks.recovery_stable_intervals == 0 {
                    return bad("checks.recovery_stable_intervals", "must be at least 1".into());
                }
            }
            Plan::Faults { faults, checks } => {
                if !(faults.crash_rate.is_finite() && faults.crash_rate > 0.0) {
                    return bad(
                        "faults.crash_rate",
                        format!("must be above 0 crashes/s, got {}", faults.crash_rate),
                    );
                }
                if faults.crash_rate > l.rate / 2.0 {
                    return bad(
                        "faults.crash_rate",
                        format!(
                            "{} crashes/s is more than half of load.rate ({} msg/s)",
                            faults.crash_rate, l.rate
                        ),
                    );
                }
                positive("checks.recovery_limit_s", checks.recovery_limit_s)?;
            }
        }
        Ok(())
    }

    /// Estimated bytes per agent: its budget plus a full mailbox, plus for
    /// WASM agents their guest's linear memory.
    pub fn bytes_per_agent(&self) -> u64 {
        // A queued envelope: the message plus its reply slot.
        let envelope = std::mem::size_of::<caxton_runtime::Message>() as u64 + 16;
        let base = self.load.agent_budget_bytes + self.load.mailbox_capacity as u64 * envelope;
        match self.load.agent_kind {
            AgentKind::Native => base,
            AgentKind::Wasm => base + WASM_GUEST_BYTES,
            AgentKind::Mixed => base + WASM_GUEST_BYTES / 2,
        }
    }

    /// Refuses more agents than `available` bytes of memory hold (90 % of
    /// it, leaving the rest to the process and the system). `None` (memory
    /// unknown) passes.
    pub fn check_memory(&self, available: Option<u64>) -> Result<(), ConfigError> {
        let Some(available) = available else {
            return Ok(());
        };
        let per_agent = self.bytes_per_agent();
        let needed = per_agent.saturating_mul(self.load.agents as u64);
        if needed > available / 10 * 9 {
            return Err(ConfigError::TooManyAgents {
                agents: self.load.agents,
                per_agent,
                needed_mib: needed >> 20,
                available_mib: available >> 20,
            });
        }
        Ok(())
    }
}

/// Linear memory a Rust guest starts with (1 MiB of stack plus its data
/// and heap pages), counted in full although copy-on-write images make
/// less of it resident.
pub const WASM_GUEST_BYTES: u64 = 5 << 18;

/// `MemAvailable` from `/proc/meminfo`, in bytes; `None` where unknown.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The longest duration any field or flag accepts: 365 days, in seconds.
/// Longer runs are not a soak test but a typo, and past this cap
/// `Instant + Duration` arithmetic could overflow (and panic).
pub const MAX_DURATION_S: u64 = 365 * 24 * 3600;

/// Refuses `seconds` above [`MAX_DURATION_S`], naming `field`.
fn check_max_duration(field: &'static str, seconds: u64) -> Result<(), ConfigError> {
    if seconds > MAX_DURATION_S {
        return Err(ConfigError::Invalid {
            field,
            reason: too_long(&format!("{seconds} s")),
        });
    }
    Ok(())
}

fn too_long(what: &str) -> String {
    format!("{what} is longer than the longest run allowed, 365 days ({MAX_DURATION_S} s)")
}

/// Parses a duration (the `--duration` flag): seconds (`300`), or numbers
/// each with a unit, `s`, `m`, `h` or `d` (`90s`, `10m`, `24h`, `1h30m`,
/// `2d 12h`). Refuses anything over [`MAX_DURATION_S`]; the arithmetic is
/// checked, so no input overflows.
pub fn parse_duration_s(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let not_a_duration = || format!("`{s}` is not a duration (try 300, 90s, 10m, 24h or 1h30m)");
    let too_long = || too_long(&format!("`{s}`"));
    let number = |digits: &str| {
        digits.parse::<u64>().map_err(|e| match e.kind() {
            std::num::IntErrorKind::PosOverflow => too_long(),
            _ => not_a_duration(),
        })
    };
    if s.is_empty() {
        return Err(not_a_duration());
    }
    let total = if s.bytes().all(|b| b.is_ascii_digit()) {
        number(s)?
    } else {
        let mut total = 0u64;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(not_a_duration());
            }
            let n = number(&rest[..digits])?;
            rest = rest[digits..].trim_start();
            let unit = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let mult = match &rest[..unit] {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(not_a_duration()),
            };
            rest = rest[unit..].trim_start();
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(too_long)?;
        }
        total
    };
    if total > MAX_DURATION_S {
        return Err(too_long());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(s: Scenario, quick: bool, o: &Overrides) -> Result<Config, ConfigError> {
        let (load, q, plan) = parse(s, s.default_toml(), "test")?;
        let mut cfg = Config {
            load,
            plan,
            quick,
            source: "test".into(),
        };
        if quick {
            cfg.apply_quick(&q)?;
        }
        cfg.apply(o);
        cfg.validate()?;
        Ok(cfg)
    }

    #[test]
    fn shipped_files_parse_and_validate_in_both_modes() {
        for s in Scenario::ALL {
            load(s, false, &Overrides::default()).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            load(s, true, &Overrides::default()).unwrap_or_else(|e| panic!("{s:?} quick: {e}"));
        }
    }

    #[test]
    fn guide_defaults_are_in_the_files() {
        let peak = load(Scenario::Peak, false, &Overrides::default()).unwrap();
        assert_eq!(
            (
                peak.load.agents,
                peak.load.rate,
                peak.load.duration_s,
                peak.load.message_size
            ),
            (1000, 100_000.0, 300, 1024)
        );
        let sus = load(Scenario::Sustained, false, &Overrides::default()).unwrap();
        assert_eq!(
            (sus.load.agents, sus.load.rate, sus.load.message_size),
            (100, 10_000.0, 512)
        );
        let burst = load(Scenario::Burst, false, &Overrides::default()).unwrap();
        let Plan::Burst { burst: b, checks } = burst.plan else {
            panic!()
        };
        assert_eq!((burst.load.rate, b.rate, b.duration_s), (1000.0, 50_000.0, 10));
        assert_eq!(checks.recovery_limit_s, 30.0);
    }

    #[test]
    fn unknown_field_is_refused_by_name() {
        let text = Scenario::Peak.default_toml().replace("[load]", "[load]\nrat = 5");
        let e = parse(Scenario::Peak, &text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("unknown field `rat`"), "{e}");
    }

    #[test]
    fn zero_rate_is_refused_by_name() {
        let e = load(
            Scenario::Sustained,
            false,
            &Overrides {
                rate: Some(0.0),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`load.rate`"), "{e}");
    }

    #[test]
    fn wasm_agents_are_budgeted_their_guest_memory() {
        let native = load(Scenario::Peak, false, &Overrides::default()).unwrap();
        let wasm = load(
            Scenario::Peak,
            false,
            &Overrides {
                agent_kind: Some(AgentKind::Wasm),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(wasm.bytes_per_agent(), native.bytes_per_agent() + WASM_GUEST_BYTES);
    }

    #[test]
    fn an_unknown_agent_kind_is_refused() {
        let text = Scenario::Peak
            .default_toml()
            .replace("agent_kind = \"native\"", "agent_kind = \"python\"");
        let e = parse(Scenario::Peak, &text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("unknown variant `python`"), "{e}");
    }

    #[test]
    fn more_agents_than_memory_holds_are_refused() {
        let cfg = load(Scenario::Peak, false, &Overrides::default()).unwrap();
        // 1000 agents fit in 8 GiB...
        cfg.check_memory(Some(8 << 30)).unwrap();
        // ...but not in 64 MiB.
        let e = cfg.check_memory(Some(64 << 20)).unwrap_err().to_string();
        assert!(e.contains("`load.agents`"), "{e}");
    }

    #[test]
    fn burst_must_end_before_the_run() {
        let e = load(
            Scenario::Burst,
            false,
            &Overrides {
                duration_s: Some(25),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`burst.duration_s`"), "{e}");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration_s("300"), Ok(300));
        assert_eq!(parse_duration_s("90s"), Ok(90));
        assert_eq!(parse_duration_s("10m"), Ok(600));
        assert_eq!(parse_duration_s(" 10 m "), Ok(600));
        assert_eq!(parse_duration_s("24h"), Ok(86_400));
        assert_eq!(parse_duration_s("1h30m"), Ok(5400));
        assert_eq!(parse_duration_s("2d 12h"), Ok(216_000));
        assert_eq!(parse_duration_s("365d"), Ok(MAX_DURATION_S));
        for bad in ["soon", "", "-5", "10x", "1h30", "h", "1.5h"] {
            let e = parse_duration_s(bad).unwrap_err();
            assert!(e.contains("is not a duration"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn huge_durations_are_refused_not_overflowed() {
        for huge in [
            "366d",
            "31536001",
            "99999999999999999999",
            "18446744073709551615",
            "5124095576030432h",
            "18446744073709551615s",
            "307445734561825861m",
            "9999999999999999d",
            "1h18446744073709551615s",
        ] {
            let e = parse_duration_s(huge).unwrap_err();
            assert!(e.contains("365 days"), "{huge}: {e}");
        }
    }

    fn refused(s: Scenario, quick: bool, edit: impl Fn(&str) -> String, o: &Overrides) -> String {
        let (load, q, plan) = parse(s, &edit(s.default_toml()), "test").unwrap();
        let mut cfg = Config {
            load,
            plan,
            quick,
            source: "test".into(),
        };
        let r = if quick { cfg.apply_quick(&q) } else { Ok(()) };
        r.and_then(|()| {
            cfg.apply(o);
            cfg.validate()
        })
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn durations_over_a_year_are_refused_by_field() {
        let huge = |d: u64| Overrides {
            duration_s: Some(d),
            ..Default::default()
        };
        for s in Scenario::ALL {
            let e = refused(s, false, str::to_owned, &huge(u64::MAX));
            assert!(e.contains("`load.duration_s`") && e.contains("365 days"), "{e}");
            let e = refused(s, false, str::to_owned, &huge(MAX_DURATION_S + 1));
            assert!(e.contains("`load.duration_s`"), "{e}");
        }
        let e = refused(
            Scenario::Peak,
            true,
            |t| {
                t.replace(
                    "[quick]\nduration_s = 10",
                    &format!("[quick]\nduration_s = {}", i64::MAX),
                )
            },
            &Overrides::default(),
        );
        assert!(e.contains("`quick.duration_s`"), "{e}");
        // Sums of fields that used to overflow (a panic in debug builds).
        let e = refused(
            Scenario::Burst,
            false,
            |t| t.replace("start_s = 20", &format!("start_s = {}", i64::MAX)),
            &Overrides::default(),
        );
        assert!(e.contains("`burst.start_s`"), "{e}");
        let e = refused(
            Scenario::Burst,
            false,
            |t| t.replace("start_s = 20\nduration_s = 10", "start_s = 20\nduration_s = 31536000"),
            &Overrides::default(),
        );
        assert!(e.contains("`burst.duration_s`"), "{e}");
        let e = refused(
            Scenario::Sustained,
            false,
            |t| t.replacen("warmup_s = 10", &format!("warmup_s = {}", i64::MAX), 1),
            &Overrides::default(),
        );
        assert!(e.contains("`checks.warmup_s`") && e.contains("365 days"), "{e}");
        let e = refused(
            Scenario::Faults,
            false,
            |t| t.replace("restart_window_s = 10", &format!("restart_window_s = {}", i64::MAX)),
            &Overrides::default(),
        );
        assert!(e.contains("`faults.restart_window_s`") && e.contains("365 days"), "{e}");
    }

    #[test]
    fn a_zero_restart_window_is_refused_by_name() {
        let e = refused(
            Scenario::Faults,
            false,
            |t| t.replace("restart_window_s = 10", "restart_window_s = 0"),
            &Overrides::default(),
        );
        assert!(e.contains("`faults.restart_window_s`"), "{e}");
        assert!(e.contains("at least 1 second"), "{e}");
    }
}
