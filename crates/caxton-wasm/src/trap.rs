//! Maps wasmtime errors from calls into a guest to typed agent faults.

use caxton_runtime::{AgentError, FaultKind};
use wasmtime::Trap;

use crate::limits::{MemoryLimitExceeded, OutboxLimitExceeded};

/// The fault kind for a wasmtime trap code.
pub fn fault_kind(trap: Trap) -> FaultKind {
    match trap {
        Trap::StackOverflow => FaultKind::StackOverflow,
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned => FaultKind::MemoryOutOfBounds,
        Trap::UnreachableCodeReached => FaultKind::Unreachable,
        Trap::Interrupt | Trap::OutOfFuel => FaultKind::CpuLimit,
        Trap::AllocationTooLarge => FaultKind::MemoryLimit,
        _ => FaultKind::Other,
    }
}

/// Classifies an error returned by a call into a guest. `memory_limit_hit`
/// says whether the instance's limiter refused a growth during the call,
/// which takes precedence (a guest allocator may turn the refusal into
/// its own trap).
pub fn fault(err: &wasmtime::Error, memory_limit_hit: bool) -> AgentError {
    let kind = if err.is::<OutboxLimitExceeded>() {
        FaultKind::OutboxLimit
    } else if memory_limit_hit || err.is::<MemoryLimitExceeded>() {
        FaultKind::MemoryLimit
    } else if let Some(trap) = err.downcast_ref::<Trap>() {
        fault_kind(*trap)
    } else {
        FaultKind::Other
    };
    AgentError::fault(kind, describe(err))
}

/// The root cause (e.g. "wasm trap: interrupt") first, then the outer
/// context (wasmtime's guest backtrace), on one line.
fn describe(err: &wasmtime::Error) -> String {
    let root = err.root_cause().to_string();
    let outer = err.to_string();
    if root == outer {
        root
    } else {
        format!("{root} ({})", outer.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_map_to_fault_kinds() {
        assert_eq!(fault_kind(Trap::Interrupt), FaultKind::CpuLimit);
        assert_eq!(fault_kind(Trap::OutOfFuel), FaultKind::CpuLimit);
        assert_eq!(fault_kind(Trap::StackOverflow), FaultKind::StackOverflow);
        assert_eq!(fault_kind(Trap::MemoryOutOfBounds), FaultKind::MemoryOutOfBounds);
        assert_eq!(fault_kind(Trap::UnreachableCodeReached), FaultKind::Unreachable);
        assert_eq!(fault_kind(Trap::IntegerDivisionByZero), FaultKind::Other);
    }

    #[test]
    fn limiter_error_is_a_memory_fault() {
        let err = wasmtime::Error::new(MemoryLimitExceeded { desired: 2, limit: 1 });
        assert!(matches!(
            fault(&err, false),
            AgentError::Fault {
                kind: FaultKind::MemoryLimit,
                ..
            }
        ));
    }
}
