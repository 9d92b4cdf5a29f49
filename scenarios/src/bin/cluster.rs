//! The cluster scenario: a three-server NATS cluster and three Caxton
//! nodes as separate processes, load across all of them, one node killed
//! with SIGKILL; recovery time and exact accounting. See docs/scenarios.md.

fn main() -> std::process::ExitCode {
    caxton_scenarios::network::main(caxton_scenarios::network::NetScenario::Cluster)
}
