//! The sustained scenario; see `scenarios/sustained.toml` and docs/scenarios.md.

fn main() -> std::process::ExitCode {
    caxton_scenarios::cli::main(caxton_scenarios::Scenario::Sustained)
}
