//! Clocks for per-agent handler accounting.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The clock read around each batch to sum an agent's handler time
/// ([`crate::AgentStats::handler_cpu`]).
///
/// On Linux the thread CPU clock is a system call, not a vDSO read: about
/// 0.57 µs a read on the project's 2-core VM, two reads per batch. At light
/// load, with one message per batch, that is most of a request/reply round
/// trip: p50 2.3 µs on this clock against 0.7 µs on [`CpuClock::Wall`] or
/// [`CpuClock::Off`] (`CAXTON_CPU_CLOCK=thread|wall|off cargo run --release
/// -p caxton-workloads --bin runtime-figures`; the suite measures both).
/// Under load, batches grow and the cost spreads over their messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuClock {
    /// The worker thread's CPU clock: CPU time only, never time spent
    /// preempted. Exact, and what CPU-per-agent figures need.
    #[default]
    Thread,
    /// The monotonic clock (about 25 ns a read): also counts time the worker
    /// thread spent preempted in the middle of a batch, so it overstates
    /// CPU on a busy machine.
    Wall,
    /// No handler time: `handler_cpu` stays zero.
    Off,
}

impl CpuClock {
    /// The clock's current reading; `None` for [`CpuClock::Off`].
    pub fn now(self) -> Option<Duration> {
        match self {
            CpuClock::Thread => Some(thread_cpu_time()),
            CpuClock::Wall => Some(read_clock(libc::CLOCK_MONOTONIC)),
            CpuClock::Off => None,
        }
    }
}

/// CPU time consumed so far by the calling thread.
///
/// Handlers are synchronous, so a batch runs on one thread from start to end
/// and the difference of two readings is the batch's CPU time, unlike wall
/// time, which also counts time spent preempted.
pub fn thread_cpu_time() -> Duration {
    read_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Reads `clock`; zero if the system refuses.
fn read_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // and CLOCK_MONOTONIC are supported on every Linux and macOS version
    // Rust targets.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_time() > before);
    }

    #[test]
    fn clocks_read_or_not() {
        assert!(CpuClock::Thread.now().is_some());
        let a = CpuClock::Wall.now().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        assert!(CpuClock::Wall.now().unwrap() >= a + Duration::from_millis(2));
        assert_eq!(CpuClock::Off.now(), None);
    }
}
