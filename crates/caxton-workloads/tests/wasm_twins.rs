//! The WASM guests against their native twins
//! (`caxton_workloads::wasm::native`): the same answers to the same
//! requests.

use std::time::Duration;

use caxton_runtime::{AgentSpec, Message, Orchestrator};
use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use caxton_workloads::wasm::{native, overhead};

/// Timeout for requests (generous: behaviour, not speed).
const T: Duration = Duration::from_secs(10);

fn host() -> WasmHost {
    WasmHost::new(HostConfig::pooling(16, 32 << 20)).expect("host")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_guest_matches_its_native_twin() {
    let host = host();
    let orch = Orchestrator::new();
    let module = host.load(guests::COMPUTE).unwrap();
    let wasm = orch.spawn(module.spec(AgentLimits::default().cpu_time(None))).unwrap();
    let twin = orch.spawn(AgentSpec::new(|| native::Compute)).unwrap();
    for kernel in caxton_kernels::Kernel::ALL {
        let req = caxton_kernels::encode_request(kernel, 12345, 5);
        let a = orch.request(Message::request(wasm, req.to_vec()), T).await.unwrap();
        let b = orch.request(Message::request(twin, req.to_vec()), T).await.unwrap();
        assert_eq!(a.payload, b.payload, "{}", kernel.name());
        assert_eq!(&a.payload[..], &kernel.run(12345, 5).to_le_bytes(), "{}", kernel.name());
    }
    // A request naming no kernel is refused by both, as a handler error.
    let mut bad = caxton_kernels::encode_request(caxton_kernels::Kernel::Collatz, 1, 1);
    bad[0] = 0xff;
    assert!(orch.request(Message::request(wasm, bad.to_vec()), T).await.is_err());
    assert!(orch.request(Message::request(twin, bad.to_vec()), T).await.is_err());
    orch.shutdown(T).await;
}

#[test]
fn overhead_measures_every_kernel() {
    let host = host();
    let mut agent = host
        .load(guests::COMPUTE)
        .unwrap()
        .instantiate(AgentLimits::default().cpu_time(None))
        .unwrap();
    for kernel in caxton_kernels::Kernel::ALL {
        let k = overhead::measure(&mut agent, kernel, 2).unwrap();
        assert_eq!(k.kernel, kernel);
        assert!(k.ratio > 0.0, "{}: {}", kernel.name(), k.ratio);
    }
}
