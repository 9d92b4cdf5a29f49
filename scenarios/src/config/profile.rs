//! The send-rate profile a configuration asks for, and the phase each
//! second of a run belongs to.

use std::time::Duration;

use caxton_workloads::open_loop::{OpenLoopError, Phase, RateProfile};

use super::schema::{Config, Plan};

impl Config {
    /// The send-rate profile this configuration asks for.
    pub fn rate_profile(&self) -> Result<RateProfile, OpenLoopError> {
        let total = self.load.duration_s;
        match &self.plan {
            Plan::Burst { burst, .. } => {
                let end = burst.start_s + burst.duration_s;
                RateProfile::new(&[
                    Phase {
                        duration: Duration::from_secs(burst.start_s),
                        rate: self.load.rate,
                    },
                    Phase {
                        duration: Duration::from_secs(burst.duration_s),
                        rate: burst.rate,
                    },
                    Phase {
                        duration: Duration::from_secs(total - end),
                        rate: self.load.rate,
                    },
                ])
            }
            _ => RateProfile::constant(self.load.rate, Duration::from_secs(total)),
        }
    }

    /// The phase an interval ending at second `t_s` belongs to.
    pub fn phase_of(&self, t_s: u64) -> &'static str {
        match &self.plan {
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
}
