//! The capacity search; see docs/scenarios.md ("Capacity search").

fn main() -> std::process::ExitCode {
    caxton_scenarios::capacity_cli::main()
}
