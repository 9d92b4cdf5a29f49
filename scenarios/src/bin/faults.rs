//! The faults scenario; see `scenarios/faults.toml` and docs/scenarios.md.

fn main() -> std::process::ExitCode {
    caxton_scenarios::cli::main(caxton_scenarios::Scenario::Faults)
}
