//! The burst scenario; see `scenarios/burst.toml` and docs/scenarios.md.

fn main() -> std::process::ExitCode {
    caxton_scenarios::cli::main(caxton_scenarios::Scenario::Burst)
}
