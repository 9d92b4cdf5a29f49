//! The tables of a scenario file, and parsing one. Every table refuses
//! unknown fields.

use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use crate::scenario::Scenario;

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

/// What the generator does when an agent's mailbox is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MailboxPolicy {
    /// Shedding: `try_send`, a full mailbox refuses the message with
    /// `MailboxFull` (handed back, counted once as a refusal and a dead letter).
    #[default]
    Shed,
    /// Backpressure: `send`, the generator waits for room (each send that
    /// had to wait counted); nothing is refused for being full.
    Backpressure,
}

impl MailboxPolicy {
    /// The name used in files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Self::Shed => "shed",
            Self::Backpressure => "backpressure",
        }
    }
}

/// The capacity a run's relative rates (`--rate 0.7x`) are multiples of.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CapacityBasis {
    /// The capacity, msg/s.
    pub msg_per_s: f64,
    /// `given` (`--capacity`) or `measured` (a quick capacity search in
    /// this invocation, before the run).
    pub source: String,
    /// `--rate` as a multiple of the capacity, if given so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_factor: Option<f64>,
    /// `--burst-rate` as a multiple of the capacity, if given so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_factor: Option<f64>,
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
    /// What a full mailbox does to the generator (default `shed`).
    #[serde(default)]
    pub policy: MailboxPolicy,
    /// CPU each native agent spins per message, µs (0: none): a known
    /// handler cost, so capacity and overload do not depend on how fast
    /// the empty handler is. WASM agents run their guest as is.
    #[serde(default)]
    pub handler_us: f64,
    /// The capacity relative rates were resolved against (set by the
    /// command line, never read from a file).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityBasis>,
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
    /// Fail as "did not reach overload" unless the burst overloaded
    /// something: a refusal, a sender that waited, or a mailbox at its
    /// bound (on by itself for `--burst-rate Nx` with N >= 1).
    #[serde(default)]
    pub require_overload: bool,
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
    /// be restarted forever) and at most [`super::MAX_DURATION_S`].
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

/// Values laid over a configuration, each `None` where the layer leaves
/// the field alone: the `[quick]` table (a CI-sized run, under a minute)
/// or the command-line flags. Each field overrides the one of the same
/// name in `[load]`, `[burst]` (`burst_` prefixed) or the sustained
/// scenario's `[checks]`; one a scenario does not have is ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Overrides `load.duration_s` (`--duration`).
    pub duration_s: Option<u64>,
    /// Overrides `load.rate` (`--rate`).
    pub rate: Option<f64>,
    /// Overrides `load.agents` (`--agents`).
    pub agents: Option<usize>,
    /// Overrides `load.message_size` (`--message-size`).
    pub message_size: Option<usize>,
    /// Overrides `load.agent_kind` (`--agent-kind`).
    pub agent_kind: Option<AgentKind>,
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
    /// Overrides `load.mailbox_capacity` (`--mailbox-capacity`).
    pub mailbox_capacity: Option<usize>,
    /// Overrides `load.policy` (`--policy`).
    pub policy: Option<MailboxPolicy>,
    /// Overrides `load.handler_us` (`--handler-us`).
    pub handler_us: Option<f64>,
    /// Overrides `burst.rate` (`--burst-rate`).
    pub burst_rate: Option<f64>,
    /// Overrides `checks.require_overload` (burst; `--require-overload`).
    pub require_overload: Option<bool>,
    /// Overrides `checks.recovery_p99_floor_ms` (burst).
    pub recovery_p99_floor_ms: Option<f64>,
}

/// The `[quick]` table: what `--quick` changes.
pub type Quick = Layer;

/// Values given on the command line, applied over the file (and `--quick`).
pub type Overrides = Layer;

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
