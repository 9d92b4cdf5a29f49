//! The test `nats-server` harness itself.

use caxton_cluster::testing::{INSTALL_HINT, NatsServer, NatsServerError};

#[test]
fn a_missing_binary_is_an_error_naming_it_and_the_install_command() {
    let err = NatsServer::start_binary("nats-server-that-is-not-installed").unwrap_err();
    assert!(matches!(err, NatsServerError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("nats-server-that-is-not-installed") && text.contains(INSTALL_HINT),
        "{text}"
    );
}

#[test]
fn the_server_is_healthy_on_loopback_and_killed_on_drop() {
    let server = NatsServer::start().unwrap_or_else(|e| panic!("these tests need a real nats-server: {e}"));
    assert!(server.url().starts_with("nats://127.0.0.1:"));
    assert_ne!(server.port(), server.monitor_port());
    let (pid, store) = (server.pid(), server.store_dir().to_owned());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(store.is_dir());
    drop(server);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still alive"
    );
    assert!(!store.exists());
}

#[test]
fn a_panicking_test_still_stops_its_server() {
    let pid = std::sync::Arc::new(std::sync::Mutex::new(0));
    let seen = pid.clone();
    let result = std::thread::spawn(move || {
        let server = NatsServer::start().unwrap();
        *seen.lock().unwrap() = server.pid();
        panic!("a failing test");
    })
    .join();
    assert!(result.is_err());
    let pid = *pid.lock().unwrap();
    assert!(pid != 0 && !std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_server_cluster_shares_jetstream_state() {
    let cluster = caxton_cluster::testing::NatsCluster::start(3).unwrap_or_else(|e| panic!("{e}"));
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    // Nodes on different servers of the cluster see one lattice: the
    // second claiming the first's name is refused.
    let config = caxton_runtime::OrchestratorConfig::default;
    let a = caxton_cluster::Node::connect(&urls[0], "c3", "n", config())
        .await
        .unwrap();
    let e = caxton_cluster::Node::connect(&urls[2], "c3", "n", config())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, caxton_cluster::NodeError::DuplicateNodeName { .. }), "{e}");
    a.shutdown(std::time::Duration::from_secs(5)).await;
}
