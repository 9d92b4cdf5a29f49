//! Slow consumers and a hot spot; see docs/scenarios.md ("Slow consumers and hot spots").

fn main() -> std::process::ExitCode {
    caxton_scenarios::hotspot::main()
}
