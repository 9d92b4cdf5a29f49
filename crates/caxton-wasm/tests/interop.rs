//! Native and WASM agents exchange messages both ways, and WASM agents
//! report their linear memory in stats. (The guests against their native
//! twins: `caxton-workloads`' `wasm_twins` test.)

mod common;

use std::sync::{Arc, Mutex};

use caxton_runtime::{Agent, AgentError, AgentId, AgentSpec, Context, Message, Orchestrator, Performative};
use caxton_wasm::guests;
use caxton_wasm::guests::echo::FORWARD;
use common::{Recorder, Seen, T, eventually, limits};

/// On `go`, sends `ping` to the WASM agent; records what comes back.
struct Pinger {
    target: AgentId,
    got: Seen,
}

impl Agent for Pinger {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        if &msg.payload[..] == b"go" {
            ctx.send(Message::new(self.target, Performative::Request, "ping"))
                .map_err(|e| AgentError::handler(e.to_string()))
        } else {
            self.got.lock().unwrap().push((msg.sender, msg.payload.clone()));
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_to_wasm_and_back() {
    let host = common::host();
    let orch = Orchestrator::new();
    let wasm = orch.spawn(host.load(guests::ECHO).unwrap().spec(limits())).unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let pinger = orch
        .spawn(AgentSpec::new(move || Pinger {
            target: wasm,
            got: g.clone(),
        }))
        .unwrap();
    orch.send(Message::inform(pinger, "go")).await.unwrap();
    assert!(eventually(|| !got.lock().unwrap().is_empty()).await);
    let first = got.lock().unwrap()[0].clone();
    assert_eq!(first.0, Some(wasm));
    assert_eq!(&first.1[..], b"ping");
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_sends_to_a_native_agent() {
    let host = common::host();
    let orch = Orchestrator::new();
    let wasm = orch.spawn(host.load(guests::ECHO).unwrap().spec(limits())).unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let native = orch.spawn(AgentSpec::new(move || Recorder(g.clone()))).unwrap();
    let mut payload = FORWARD.to_vec();
    payload.extend_from_slice(&native.get().to_le_bytes());
    payload.extend_from_slice(b"hello native");
    orch.send(Message::inform(wasm, payload)).await.unwrap();
    assert!(eventually(|| !got.lock().unwrap().is_empty()).await);
    let first = got.lock().unwrap()[0].clone();
    assert_eq!(first.0, Some(wasm));
    assert_eq!(&first.1[..], b"hello native");
    orch.shutdown(T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_report_linear_memory() {
    let host = common::host();
    let orch = Orchestrator::new();
    let wasm = orch.spawn(host.load(guests::ECHO).unwrap().spec(limits())).unwrap();
    orch.request(Message::request(wasm, "x"), T).await.unwrap();
    let bytes = orch.stats(wasm).unwrap().memory_bytes.expect("memory_bytes");
    assert!(bytes > 0 && bytes.is_multiple_of(65536), "{bytes}");
    orch.shutdown(T).await;
}

#[test]
fn direct_calls_count_outgoing_messages() {
    let host = common::host();
    let mut agent = host.load(guests::ECHO).unwrap().instantiate(limits()).unwrap();
    assert_eq!(agent.call(Performative::Request, b"abc").unwrap(), 1);
    // An inform gets no answer.
    assert_eq!(agent.call(Performative::Inform, b"abc").unwrap(), 0);
    // A payload bigger than the inbox so far grows it.
    assert_eq!(agent.call(Performative::Request, &[1u8; 100_000]).unwrap(), 1);
    assert!(agent.linear_memory_bytes() >= 100_000);
}
