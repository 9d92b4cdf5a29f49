//! The websocket network scenario: front door, bare floor and load generator as
//! separate processes; see docs/scenarios.md.

fn main() -> std::process::ExitCode {
    caxton_scenarios::network::main(caxton_scenarios::network::NetScenario::WebSocket)
}
