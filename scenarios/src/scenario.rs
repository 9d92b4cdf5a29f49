//! The four scenarios and their shipped configuration files.

use serde::{Deserialize, Serialize};

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
