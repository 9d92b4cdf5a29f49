//! What is laid over a scenario file: its `[quick]` table (with `--quick`),
//! then the command-line flags. Both are a [`Layer`] (its fields are in
//! [`super::schema`], written once); one helper here applies it.

use super::duration::check_max_duration;
use super::error::ConfigError;
use super::schema::{Config, Layer, Overrides, Plan, Quick};

/// Sets `field` to the layer's value, if it has one.
fn set<T: Clone>(field: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        field.clone_from(v);
    }
}

impl Layer {
    /// Refuses a duration of this layer over [`super::MAX_DURATION_S`],
    /// naming the field as `table.field` (`quick.duration_s`).
    pub fn check_durations(&self, table: &str) -> Result<(), ConfigError> {
        for (field, v) in [
            ("duration_s", self.duration_s),
            ("burst_start_s", self.burst_start_s),
            ("burst_duration_s", self.burst_duration_s),
            ("warmup_s", self.warmup_s),
        ] {
            check_max_duration(format!("{table}.{field}"), v.unwrap_or(0))?;
        }
        Ok(())
    }

    /// Lays this layer over `cfg`: each value it has replaces the field of
    /// the same name (the result is for [`Config::validate`] to check).
    pub fn lay_over(&self, cfg: &mut Config) {
        let l = &mut cfg.load;
        set(&mut l.duration_s, &self.duration_s);
        set(&mut l.rate, &self.rate);
        set(&mut l.agents, &self.agents);
        set(&mut l.message_size, &self.message_size);
        set(&mut l.agent_kind, &self.agent_kind);
        set(&mut l.mailbox_capacity, &self.mailbox_capacity);
        set(&mut l.policy, &self.policy);
        set(&mut l.handler_us, &self.handler_us);
        match &mut cfg.plan {
            Plan::Burst { burst, checks } => {
                set(&mut burst.start_s, &self.burst_start_s);
                set(&mut burst.duration_s, &self.burst_duration_s);
                set(&mut burst.rate, &self.burst_rate);
                set(&mut checks.require_overload, &self.require_overload);
                set(&mut checks.recovery_p99_floor_ms, &self.recovery_p99_floor_ms);
            }
            Plan::Sustained { checks } => {
                set(&mut checks.warmup_s, &self.warmup_s);
                set(&mut checks.window_intervals, &self.window_intervals);
                set(&mut checks.latency_noise_floor_ms, &self.latency_noise_floor_ms);
            }
            Plan::Peak { .. } | Plan::Faults { .. } => {}
        }
    }
}

impl Config {
    /// Applies the `[quick]` table; its durations are checked against
    /// [`super::MAX_DURATION_S`] here, so an error names the `quick.` field.
    pub fn apply_quick(&mut self, q: &Quick) -> Result<(), ConfigError> {
        q.check_durations("quick")?;
        q.lay_over(self);
        Ok(())
    }

    /// Applies command-line overrides (checked by [`Config::validate`]).
    pub fn apply(&mut self, o: &Overrides) {
        o.lay_over(self);
    }
}
