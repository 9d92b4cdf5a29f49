//! The peak scenario; see `scenarios/peak.toml` and docs/scenarios.md.

fn main() -> std::process::ExitCode {
    caxton_scenarios::cli::main(caxton_scenarios::Scenario::Peak)
}
