//! The native stack a call into a guest needs, checked against what the
//! calling thread has left.
//!
//! wasmtime runs guest code on the caller's stack and trusts that
//! `max_wasm_stack` bytes of it are there; a guest that recurses on a
//! thread with less (a small tokio worker stack, say) would overflow the
//! host's own stack and kill the process. Each call checks first and
//! refuses with a typed fault instead.

use std::cell::Cell;

use caxton_runtime::{AgentError, FaultKind};

/// wasmtime's `max_wasm_stack` when the host config sets none.
pub(crate) const WASMTIME_DEFAULT: usize = 512 << 10;

/// Stack kept free beyond `max_wasm_stack`: host functions the guest calls,
/// wasmtime's trampolines, and the frames of this call itself.
const HOST_MARGIN: usize = 128 << 10;

thread_local! {
    /// Lowest usable address of this thread's stack; 0 while unknown,
    /// `usize::MAX` where it cannot be found.
    static STACK_LOW: Cell<usize> = const { Cell::new(0) };
}

/// Bytes of native stack the current thread has left below this frame, or
/// `None` where the platform does not say.
pub(crate) fn remaining() -> Option<usize> {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let low = STACK_LOW.with(|cell| {
        if cell.get() == 0 {
            cell.set(stack_low().unwrap_or(usize::MAX));
        }
        cell.get()
    });
    (low != usize::MAX).then(|| here.saturating_sub(low))
}

/// `Err` (a [`FaultKind::StackOverflow`] fault) when the thread has less
/// stack left than a guest call may use plus the host's margin.
pub(crate) fn check(wasm_stack: usize) -> Result<(), AgentError> {
    let needed = wasm_stack.saturating_add(HOST_MARGIN);
    match remaining() {
        Some(left) if left < needed => Err(AgentError::fault(
            FaultKind::StackOverflow,
            format!(
                "this thread has {left} bytes of native stack left, less than the guest's max_wasm_stack \
                 ({wasm_stack}) plus {HOST_MARGIN} for the host: lower HostConfig::max_wasm_stack or give \
                 the runtime's worker threads larger stacks"
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(target_os = "linux")]
fn stack_low() -> Option<usize> {
    // SAFETY: plain queries of the calling thread's attributes, with the
    // attribute object initialised by pthread_getattr_np and destroyed here.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        // The guard page(s) sit at the low end; stay a page clear of them.
        (got == 0 && !addr.is_null()).then(|| addr as usize + 4096)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_low() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_thread_stack_is_refused_and_a_large_one_accepted() {
        let small = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| check(WASMTIME_DEFAULT))
            .unwrap()
            .join()
            .unwrap();
        assert!(
            matches!(
                &small,
                Err(AgentError::Fault {
                    kind: FaultKind::StackOverflow,
                    ..
                })
            ),
            "{small:?}"
        );
        let large = std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(|| (remaining(), check(WASMTIME_DEFAULT)))
            .unwrap()
            .join()
            .unwrap();
        assert!(large.0.is_some_and(|left| left > (3 << 20)), "{:?}", large.0);
        assert!(large.1.is_ok());
    }
}
