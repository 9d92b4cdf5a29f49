//! Scenario configuration: the TOML files in `scenarios/`, the `--quick`
//! overrides they carry, command-line overrides, and validation before a run.
//!
//! Every table refuses unknown fields, and every check names the field it
//! refused, so a typo never silently falls back to a default.
//!
//! * [`schema`]: the tables of a file, and parsing one;
//! * [`layering`]: what `--quick` and the flags lay over a file (one
//!   field set, one helper for both);
//! * [`validate`]: the checks before a run;
//! * [`duration`]: durations (`--duration 1h30m`) and their cap;
//! * [`memory`]: the memory estimate checked against available memory;
//! * [`profile`]: the send-rate profile and phases a configuration asks for.
//!
//! Dependencies point one way (`.ci/acyclic`): `error` <- `duration`,
//! `schema` (every type, the override [`Layer`] among them) <- `layering`,
//! `validate`, `memory`, `profile` (what they add to [`Config`] and
//! [`Layer`]) <- this module (re-exports and [`Config::load`]); `schema`
//! uses [`Scenario`], which uses nothing of the configuration.

use std::path::Path;

use crate::scenario::Scenario;

pub mod duration;
pub mod error;
pub mod layering;
pub mod memory;
pub mod profile;
pub mod schema;
pub mod validate;

pub use duration::{MAX_DURATION_S, parse_duration_s};
pub use error::ConfigError;
pub use memory::{WASM_GUEST_BYTES, available_memory};
pub use schema::{
    AgentKind, BurstChecks, BurstShape, CapacityBasis, Config, FaultChecks, FaultShape, Layer, Load, MailboxPolicy,
    Overrides, PeakChecks, Plan, Quick, SustainedChecks, parse,
};

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
    fn quick_burst_takes_its_recovery_floor_and_a_negative_one_is_refused() {
        let quick = load(Scenario::Burst, true, &Overrides::default()).unwrap();
        let Plan::Burst { checks, .. } = &quick.plan else {
            panic!("a burst plan")
        };
        assert_eq!(checks.recovery_p99_floor_ms, 5.0);
        let e = load(
            Scenario::Burst,
            false,
            &Overrides {
                recovery_p99_floor_ms: Some(-1.0),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`checks.recovery_p99_floor_ms`"), "{e}");
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
    fn quick_and_flags_are_one_layer() {
        // A flag can set what `[quick]` sets, and `[quick]` what a flag sets.
        let o = Overrides {
            warmup_s: Some(7),
            ..Default::default()
        };
        let sus = load(Scenario::Sustained, true, &o).unwrap();
        let Plan::Sustained { checks } = &sus.plan else {
            panic!()
        };
        assert_eq!((checks.warmup_s, checks.window_intervals), (7, 5));
        let text = Scenario::Peak
            .default_toml()
            .replace("[quick]", "[quick]\nmessage_size = 64");
        let (load, q, plan) = parse(Scenario::Peak, &text, "x.toml").unwrap();
        let mut cfg = Config {
            load,
            plan,
            quick: true,
            source: "x.toml".into(),
        };
        cfg.apply_quick(&q).unwrap();
        assert_eq!((cfg.load.message_size, cfg.load.duration_s), (64, 10));
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
