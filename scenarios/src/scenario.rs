//! The four scenarios and their shipped configuration files.

use std::time::Duration;

use caxton_workloads::open_loop::{OpenLoopError, Phase, RateProfile};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Plan};

/// One of the scenarios from the performance guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// 1000 agents, 100K msg/s, 300 s, 1 KiB: success rate and p99.
    Peak,
    /// 100 agents, 10K msg/s, up to 24 h, 512 B: no leak, no degradation.
    Sustained,
    /// 1000 -> 50 000 msg/s for 10 s and back: handled or shed, recovery.
    Burst,
    /// Agents crash under load: recovery times, nothing lost.
    Faults,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 4] = [Self::Peak, Self::Sustained, Self::Burst, Self::Faults];

    /// Its name: the binary, the TOML file and the result files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Peak => "peak",
            Self::Sustained => "sustained",
            Self::Burst => "burst",
            Self::Faults => "faults",
        }
    }

    /// The shipped `scenarios/<name>.toml`, built into the binary so it
    /// runs from anywhere; `--config PATH` reads another file instead.
    pub fn default_toml(self) -> &'static str {
        match self {
            Self::Peak => include_str!("../peak.toml"),
            Self::Sustained => include_str!("../sustained.toml"),
            Self::Burst => include_str!("../burst.toml"),
            Self::Faults => include_str!("../faults.toml"),
        }
    }
}

/// The send-rate profile a configuration asks for.
pub fn profile(cfg: &Config) -> Result<RateProfile, OpenLoopError> {
    let total = cfg.load.duration_s;
    match &cfg.plan {
        Plan::Burst { burst, .. } => {
            let end = burst.start_s + burst.duration_s;
            RateProfile::new(&[
                Phase {
                    duration: Duration::from_secs(burst.start_s),
                    rate: cfg.load.rate,
                },
                Phase {
                    duration: Duration::from_secs(burst.duration_s),
                    rate: burst.rate,
                },
                Phase {
                    duration: Duration::from_secs(total - end),
                    rate: cfg.load.rate,
                },
            ])
        }
        _ => RateProfile::constant(cfg.load.rate, Duration::from_secs(total)),
    }
}

/// The phase an interval ending at second `t_s` belongs to.
pub fn phase_of(cfg: &Config, t_s: u64) -> &'static str {
    match &cfg.plan {
        Plan::Burst { burst, .. } => {
            if t_s <= burst.start_s {
                "baseline"
            } else if t_s <= burst.start_s + burst.duration_s {
                "burst"
            } else {
                "after"
            }
        }
        _ => "steady",
    }
}
