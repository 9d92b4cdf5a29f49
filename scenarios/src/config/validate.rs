//! The checks a configuration passes before a run; every error names the
//! field it refused.

use super::duration::check_max_duration;
use super::error::ConfigError;
use super::schema::{Config, Plan};

impl Config {
    /// Checks every value the run depends on; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.load;
        let bad = |field: &'static str, reason: String| {
            Err(ConfigError::Invalid {
                field: field.into(),
                reason,
            })
        };
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
        if !(l.handler_us.is_finite() && (0.0..=1e6).contains(&l.handler_us)) {
            return bad(
                "load.handler_us",
                format!("must be 0 to 1 000 000 µs, got {}", l.handler_us),
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
                let floor = checks.recovery_p99_floor_ms;
                if !(floor.is_finite() && floor >= 0.0) {
                    return bad(
                        "checks.recovery_p99_floor_ms",
                        format!("must be 0 ms or more, got {floor}"),
                    );
                }
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
}
