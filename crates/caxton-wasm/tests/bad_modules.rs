//! Bad modules are refused at load with an error that says why, and
//! nothing else is affected.

mod common;

use caxton_runtime::{Message, Orchestrator};
use caxton_wasm::{LoadError, guests};
use common::{T, limits};

const HEADER: &[u8] = b"\0asm\x01\0\0\0";

fn module(sections: &[&[u8]]) -> Vec<u8> {
    let mut m = HEADER.to_vec();
    for s in sections {
        m.extend_from_slice(s);
    }
    m
}

/// Type section: one `() -> ()` function type.
const TYPE_VOID: &[u8] = &[0x01, 0x04, 0x01, 0x60, 0x00, 0x00];
/// Memory section: one memory of one page.
const MEMORY_1: &[u8] = &[0x05, 0x03, 0x01, 0x00, 0x01];
/// Export section: that memory as `memory`.
const EXPORT_MEMORY: &[u8] = &[0x07, 0x0a, 0x01, 0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00];

/// Import section: one function `module::name` of type 0.
fn import(module: &str, name: &str) -> Vec<u8> {
    let mut body = vec![0x01, module.len() as u8];
    body.extend_from_slice(module.as_bytes());
    body.push(name.len() as u8);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(&[0x00, 0x00]);
    let mut s = vec![0x02, body.len() as u8];
    s.extend(body);
    s
}

#[test]
fn malformed_bytes_are_refused() {
    let host = common::host();
    let err = host.load(b"definitely not wasm").unwrap_err();
    assert!(matches!(err, LoadError::Malformed(_)), "{err}");
    // A truncated real module too.
    let err = host.load(&guests::ECHO[..guests::ECHO.len() / 2]).unwrap_err();
    assert!(matches!(err, LoadError::Malformed(_)), "{err}");
}

#[test]
fn missing_exports_are_named() {
    let host = common::host();
    let err = host.load(HEADER).unwrap_err();
    assert!(matches!(err, LoadError::MissingExport("memory")), "{err}");
    let err = host.load(&module(&[MEMORY_1, EXPORT_MEMORY])).unwrap_err();
    assert!(matches!(err, LoadError::MissingExport("caxton_inbox")), "{err}");
    assert!(err.to_string().contains("caxton_inbox"));
}

#[test]
fn unknown_imports_are_named() {
    let host = common::host();
    let err = host
        .load(&module(&[TYPE_VOID, &import("env", "clock"), MEMORY_1, EXPORT_MEMORY]))
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::UnknownImport { module, name } if module == "env" && name == "clock"),
        "{err}"
    );
    assert!(err.to_string().contains("env::clock"));
}

#[test]
fn host_imports_with_the_wrong_type_are_refused() {
    let host = common::host();
    let err = host
        .load(&module(&[
            TYPE_VOID,
            &import("caxton", "reply"),
            MEMORY_1,
            EXPORT_MEMORY,
        ]))
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::ImportType { name, .. } if name == "reply"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_module_affects_nothing_else() {
    let host = common::host();
    let orch = Orchestrator::new();
    let echo = orch.spawn(host.load(guests::ECHO).unwrap().spec(limits())).unwrap();
    assert!(host.load(b"garbage").is_err());
    assert!(host.load(HEADER).is_err());
    let reply = orch.request(Message::request(echo, "fine"), T).await.unwrap();
    assert_eq!(&reply.payload[..], b"fine");
    // The host still loads good modules.
    assert!(host.load(guests::COUNTER).is_ok());
    orch.shutdown(T).await;
}
