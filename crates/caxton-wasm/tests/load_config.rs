//! Configurations a host cannot run with are refused by `WasmHost::new`
//! with a typed error naming the field.

use std::time::Duration;

use caxton_wasm::{Allocator, CpuMode, HostConfig, HostError, WasmHost};

fn refused(config: HostConfig, field: &str) {
    let err = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..config
    })
    .unwrap_err();
    assert!(
        matches!(&err, HostError::InvalidConfig(msg) if msg.contains(field)),
        "{err}"
    );
}

fn small_pool() -> HostConfig {
    HostConfig {
        allocator: Allocator::Pooling {
            instances: 4,
            memory_per_instance: 1 << 20,
        },
        no_disk_cache: true,
        ..HostConfig::default()
    }
}

#[test]
fn an_epoch_tick_below_the_minimum_is_refused() {
    for tick in [Duration::ZERO, Duration::from_nanos(1), Duration::from_micros(99)] {
        refused(
            HostConfig {
                cpu: CpuMode::Epoch { tick },
                ..small_pool()
            },
            "tick",
        );
    }
    assert!(
        WasmHost::new(HostConfig {
            cpu: CpuMode::Epoch {
                tick: CpuMode::MIN_EPOCH_TICK
            },
            ..small_pool()
        })
        .is_ok()
    );
}

#[test]
fn a_zero_wasm_stack_is_refused() {
    refused(
        HostConfig {
            max_wasm_stack: Some(0),
            ..small_pool()
        },
        "max_wasm_stack",
    );
    assert!(
        WasmHost::new(HostConfig {
            max_wasm_stack: Some(256 << 10),
            ..small_pool()
        })
        .is_ok()
    );
}

#[test]
fn an_empty_pool_is_refused() {
    refused(
        HostConfig {
            allocator: Allocator::Pooling {
                instances: 0,
                memory_per_instance: 1 << 20,
            },
            ..HostConfig::default()
        },
        "instances",
    );
    refused(
        HostConfig {
            allocator: Allocator::Pooling {
                instances: 4,
                memory_per_instance: 0,
            },
            ..HostConfig::default()
        },
        "memory_per_instance",
    );
}
