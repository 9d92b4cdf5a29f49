//! Misbehaving guest for fault tests. Commands (the payload; spelled once,
//! in `caxton_abi::guests::misbehave`): `loop` spins forever, `grow`
//! allocates without bound, `unreachable` traps, `oob` reads far outside
//! linear memory, `stack` recurses until the native stack overflows, `fail`
//! returns a handler error, `flood` replies 1024 times with 256 KiB each
//! (past any sane outbox limit), `chatter` replies twice (the second has
//! nowhere to go when the caller is not an agent), `trap-snapshot` makes
//! the next snapshot trap; anything else replies `ok`. Restoring the state
//! `trap` traps.
use core::hint::black_box;

use caxton_abi::guests::misbehave::{
    CHATTER, CHATTER_FIRST, FAIL, FAIL_STATUS, FLOOD, GROW, LOOP, OK, OOB, STACK, TRAP_RESTORE, TRAP_SNAPSHOT,
    UNREACHABLE,
};
use caxton_guest::{Agent, Incoming, performative, reply};

#[derive(Default)]
struct Misbehave {
    hoard: Vec<Vec<u8>>,
    trap_snapshot: bool,
}

/// Recurses until the native WebAssembly stack is exhausted. Everything
/// stays in wasm locals (no linear-memory shadow stack), and rotating the
/// result before combining it keeps the compiler from turning the
/// recursion into a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).rotate_left(7) ^ depth
}

impl Agent for Misbehave {
    fn handle(&mut self, msg: &Incoming<'_>) -> Result<(), u32> {
        match msg.payload {
            LOOP => {
                let mut i = 0u64;
                while black_box(i) != u64::MAX {
                    i = black_box(i.wrapping_add(1) % 7);
                }
            }
            GROW => loop {
                let mut chunk = vec![0u8; 1 << 20];
                chunk[black_box(0)] = 1;
                self.hoard.push(chunk);
            },
            UNREACHABLE => core::arch::wasm32::unreachable(),
            OOB => {
                let addr = black_box(u32::MAX as usize - 16) as *const u64;
                // SAFETY: deliberately invalid; the host traps the access.
                let v = unsafe { core::ptr::read_volatile(addr) };
                black_box(v);
            }
            STACK => {
                black_box(recurse(black_box(0)));
            }
            FAIL => return Err(FAIL_STATUS),
            FLOOD => {
                let big = vec![7u8; 256 << 10];
                for _ in 0..1024 {
                    reply(performative::INFORM, &big);
                }
            }
            CHATTER => reply(performative::INFORM, CHATTER_FIRST),
            TRAP_SNAPSHOT => self.trap_snapshot = true,
            _ => {}
        }
        reply(performative::INFORM, OK);
        Ok(())
    }

    fn snapshot(&mut self) -> Option<Vec<u8>> {
        if self.trap_snapshot {
            core::arch::wasm32::unreachable();
        }
        None
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), u32> {
        if state == TRAP_RESTORE {
            core::arch::wasm32::unreachable();
        }
        Ok(())
    }
}

caxton_guest::export_agent!(Misbehave);
