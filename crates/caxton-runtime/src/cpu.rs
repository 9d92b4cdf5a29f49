//! Clocks for per-agent handler accounting.
//!
//! Every batch an agent drains is timed, and the sum is the agent's
//! [`crate::AgentStats::handler_cpu`]. What a batch adds depends on the
//! [`CpuClock`]; the default, [`CpuClock::Sampled`], keeps the figure an
//! upper bound of the thread CPU time at a fraction of its cost.

use std::cell::Cell;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A batch at least this long (wall time) is a *long* batch:
/// [`CpuClock::Sampled`] reads the thread CPU clock for it and for the
/// agent's next batch. Two thread-clock reads (about 1.1 µs here) are then
/// at most ~2 % of the batch.
pub const LONG_BATCH: Duration = Duration::from_micros(50);

/// A batch of at least this many messages is timed on the thread CPU clock
/// by [`CpuClock::Sampled`] whatever its predecessor: two reads are then at
/// most ~17 ns a message.
pub const BIG_BATCH: usize = 64;

/// [`CpuClock::Sampled`] also times every this-many-th batch of a worker
/// thread on the thread CPU clock, so the thread's last CPU reading (what
/// bounds an unforeseen long batch) stays recent.
pub const SAMPLE_EVERY: u32 = 64;

/// The clock read around each batch to sum an agent's handler time
/// ([`crate::AgentStats::handler_cpu`]).
///
/// On Linux the thread CPU clock is a system call, not a vDSO read: about
/// 0.56 µs a read on the project's 2-core VM. Read twice per batch
/// ([`CpuClock::Thread`]), at one message per batch that is most of a
/// request/reply round trip. The default, [`CpuClock::Sampled`], times
/// batches on the agent task's wall clock (the CPU's time-stamp counter
/// where it is invariant, about 11 ns a read here, else the monotonic
/// clock; its start is the read the agent takes per message anyway) and
/// reads the thread clock only where its cost disappears in the batch.
/// `CAXTON_CPU_CLOCK=sampled|thread|wall|off` picks one where a binary
/// reads it with [`CpuClock::from_env`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuClock {
    /// The default. Each batch adds:
    ///
    /// * its **thread CPU time**, exactly, when the thread clock was read
    ///   around it: when the agent's previous batch was long
    ///   ([`LONG_BATCH`]), when it holds [`BIG_BATCH`] messages or more,
    ///   and on the worker thread's sampling schedule (one batch in
    ///   [`SAMPLE_EVERY`]);
    /// * otherwise its **wall time** `w`; if `w` came out long, the
    ///   smaller of `w` and the CPU time the worker thread used since its
    ///   last thread-clock reading (one read, at the batch's end).
    ///
    /// So a batch never adds less than its own thread CPU time `c` (from
    /// its first message's start to its end): `c <= added <= w`. The
    /// excess is time the worker spent preempted or blocked inside the
    /// batch, below [`LONG_BATCH`] for a short batch; for an unforeseen long
    /// one (few messages, after a short batch) it is at most the CPU the
    /// thread spent elsewhere since its last reading (other agents'
    /// batches, at most [`SAMPLE_EVERY`] of them, and non-agent tasks such
    /// as a load generator on the same worker), so at worst its wall time.
    /// A CPU-bound agent (long or big batches) is thus measured exactly but
    /// for the first batch of each run of long ones; a mostly-waiting one
    /// (short batches) is overstated by the clock read that ends each
    /// batch, tens of nanoseconds, plus any preemption inside its batches.
    /// ([`CpuClock::Thread`]'s own figure also counts part of its two
    /// system calls, so on one-message batches it reads higher than this.)
    /// Measured against the thread clock: `cargo run --release -p
    /// caxton-runtime --example cpu_estimate` (docs/profiling.md).
    #[default]
    Sampled,
    /// The worker thread's CPU clock around every batch: CPU time only,
    /// never time spent preempted. Exact, at two system calls per batch.
    Thread,
    /// The wall time of every batch (the agent task's clock, about 11 ns a
    /// read where the time-stamp counter serves): also counts time the
    /// worker thread spent preempted or blocked in the middle of a batch,
    /// so it overstates CPU on a busy machine.
    Wall,
    /// No handler time: `handler_cpu` stays zero.
    Off,
}

impl CpuClock {
    /// The clock's current reading; `None` for [`CpuClock::Off`].
    /// [`CpuClock::Sampled`] and [`CpuClock::Wall`] read the monotonic
    /// clock (what their batches' wall times advance with).
    pub fn now(self) -> Option<Duration> {
        match self {
            CpuClock::Thread => Some(thread_cpu_time()),
            CpuClock::Wall | CpuClock::Sampled => Some(read_clock(libc::CLOCK_MONOTONIC)),
            CpuClock::Off => None,
        }
    }

    /// The clock named by `CAXTON_CPU_CLOCK` (`sampled`, `thread`, `wall`
    /// or `off`); `None` when it is unset or names none of them.
    pub fn from_env() -> Option<Self> {
        std::env::var("CAXTON_CPU_CLOCK").ok()?.parse().ok()
    }

    /// The name `CAXTON_CPU_CLOCK` and the config files use.
    pub fn name(self) -> &'static str {
        match self {
            CpuClock::Sampled => "sampled",
            CpuClock::Thread => "thread",
            CpuClock::Wall => "wall",
            CpuClock::Off => "off",
        }
    }
}

impl FromStr for CpuClock {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sampled" => Ok(CpuClock::Sampled),
            "thread" => Ok(CpuClock::Thread),
            "wall" => Ok(CpuClock::Wall),
            "off" => Ok(CpuClock::Off),
            other => Err(format!("unknown CPU clock {other:?} (sampled, thread, wall or off)")),
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
    Duration::from_nanos(read_clock_ns(clock))
}

/// Reads `clock` in nanoseconds; zero if the system refuses.
#[inline]
fn read_clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // and CLOCK_MONOTONIC are supported on every Linux and macOS version
    // Rust targets.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The clock [`Mono`] reads: the CPU's time-stamp counter where it runs at
/// a constant rate and through sleep states (an x86 "invariant TSC"),
/// calibrated once per process against the monotonic clock, else the
/// monotonic clock itself (`quanta`). On the project's VM a counter read
/// is about 11 ns, a monotonic read (vDSO) about 27 ns; two reads and
/// their difference take 22 ns against 56 for two `Instant`s.
fn clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A raw reading of [`clock`]: what the agent task takes when each message
/// starts and when a batch ends (for handler time and recovery times).
/// Only differences of two readings mean anything; they are nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mono(u64);

impl Mono {
    /// The clock now.
    #[inline]
    pub(crate) fn now() -> Self {
        Mono(clock().raw())
    }

    /// Nanoseconds from `earlier` to `self`; zero if `earlier` is later.
    #[inline]
    pub(crate) fn nanos_since(self, earlier: Mono) -> u64 {
        clock().delta_as_nanos(earlier.0, self.0)
    }

    /// The time from `self` to now.
    pub(crate) fn elapsed(self) -> Duration {
        Duration::from_nanos(Mono::now().nanos_since(self))
    }
}

thread_local! {
    /// Batches this worker thread timed under [`CpuClock::Sampled`], for
    /// its sampling schedule.
    static SAMPLED_BATCHES: Cell<u32> = const { Cell::new(0) };
    /// This thread's last thread-CPU reading, in nanoseconds (0: none yet).
    static LAST_THREAD_CPU: Cell<u64> = const { Cell::new(0) };
}

/// Reads the thread CPU clock (nanoseconds) and remembers the reading as
/// the thread's last.
fn thread_cpu_anchored() -> u64 {
    let now = read_clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    LAST_THREAD_CPU.with(|c| c.set(now));
    now
}

/// [`LONG_BATCH`] in nanoseconds.
const LONG_BATCH_NS: u64 = LONG_BATCH.as_nanos() as u64;

/// What a batch's start left for its end to finish timing it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BatchStart {
    /// Nothing read at the start (wall-time-only batch, or no clock).
    Untimed,
    /// The thread CPU clock's reading at the start, in nanoseconds.
    Cpu(u64),
}

/// One agent's batch timer: the clock and whether its last batch was long
/// (two bytes in the agent's task).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchTimer {
    clock: CpuClock,
    last_long: bool,
}

impl BatchTimer {
    pub(crate) fn new(clock: CpuClock) -> Self {
        // Calibrates the counter (under a millisecond, once per process)
        // here rather than in an agent's first batch.
        let _ = self::clock();
        Self {
            clock,
            last_long: false,
        }
    }

    /// Whether the batch's end is timed at all (a [`Mono`] read).
    #[inline]
    pub(crate) fn timed(self) -> bool {
        self.clock != CpuClock::Off
    }

    /// Called before a batch of `messages` messages.
    #[inline]
    pub(crate) fn start(&self, messages: usize) -> BatchStart {
        let read_cpu = match self.clock {
            CpuClock::Thread => true,
            CpuClock::Sampled => {
                self.last_long
                    || messages >= BIG_BATCH
                    || SAMPLED_BATCHES.with(|n| {
                        let v = n.get().wrapping_add(1);
                        n.set(v);
                        v % SAMPLE_EVERY == 0
                    })
            }
            CpuClock::Wall | CpuClock::Off => false,
        };
        if read_cpu {
            BatchStart::Cpu(thread_cpu_anchored())
        } else {
            BatchStart::Untimed
        }
    }

    /// Called after a batch: `first` is when its first message started
    /// being handled and `end` a [`Mono`] reading after its last (`None`
    /// when nothing was handled or the clock is off). Returns what the
    /// batch adds to the agent's handler time, in nanoseconds.
    #[inline]
    pub(crate) fn finish(&mut self, start: BatchStart, first: Option<Mono>, end: Option<Mono>) -> u64 {
        let wall = match (first, end) {
            (Some(first), Some(end)) => end.nanos_since(first),
            _ => 0,
        };
        match self.clock {
            CpuClock::Off => 0,
            CpuClock::Wall => wall,
            CpuClock::Thread => match start {
                BatchStart::Cpu(c0) => read_clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).saturating_sub(c0),
                BatchStart::Untimed => 0,
            },
            CpuClock::Sampled => {
                let long = wall >= LONG_BATCH_NS;
                self.last_long = long;
                match start {
                    BatchStart::Cpu(c0) => thread_cpu_anchored().saturating_sub(c0),
                    BatchStart::Untimed if long => {
                        let last = LAST_THREAD_CPU.with(Cell::get);
                        let now = thread_cpu_anchored();
                        if last == 0 {
                            wall
                        } else {
                            wall.min(now.saturating_sub(last))
                        }
                    }
                    BatchStart::Untimed => wall,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin_cpu(d: Duration) {
        let start = thread_cpu_time();
        while thread_cpu_time().saturating_sub(start) < d {
            std::hint::spin_loop();
        }
    }

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
        assert!(CpuClock::Sampled.now().unwrap() >= a + Duration::from_millis(2));
        assert_eq!(CpuClock::Off.now(), None);
    }

    #[test]
    fn names_parse_back() {
        for c in [CpuClock::Sampled, CpuClock::Thread, CpuClock::Wall, CpuClock::Off] {
            assert_eq!(c.name().parse::<CpuClock>(), Ok(c));
        }
        assert_eq!(" Thread ".parse::<CpuClock>(), Ok(CpuClock::Thread));
        assert!("cpu".parse::<CpuClock>().is_err());
        assert_eq!(CpuClock::default(), CpuClock::Sampled);
    }

    /// What one timed batch of `work` on `timer` adds.
    fn batch(timer: &mut BatchTimer, work: impl FnOnce()) -> Duration {
        let start = timer.start(1);
        let first = Mono::now();
        work();
        let end = Mono::now();
        Duration::from_nanos(timer.finish(start, Some(first), Some(end)))
    }

    /// The sampled clock never adds less than the batch's CPU time (up to
    /// the clocks' granularity): not a timing assertion, a bound that holds
    /// by construction, whatever the machine's load.
    #[test]
    fn sampled_never_understates_a_batch() {
        let mut timer = BatchTimer::new(CpuClock::Sampled);
        for i in 0..300u32 {
            let work = if i % 50 == 0 {
                Duration::from_micros(400)
            } else {
                Duration::ZERO
            };
            let added = batch(&mut timer, || spin_cpu(work));
            assert!(
                added + Duration::from_micros(1) >= work,
                "batch {i}: {added:?} < {work:?}"
            );
        }
    }

    /// A long batch makes the next one exact: it adds its thread CPU time,
    /// not its (longer) wall time, even when it blocks.
    #[test]
    fn after_a_long_batch_the_thread_clock_is_read() {
        let mut timer = BatchTimer::new(CpuClock::Sampled);
        batch(&mut timer, || spin_cpu(Duration::from_micros(200)));
        assert!(timer.last_long);
        let added = batch(&mut timer, || std::thread::sleep(Duration::from_millis(20)));
        // Sleeping costs (almost) no CPU: far below the 20 ms of wall time.
        assert!(added < Duration::from_millis(10), "{added:?}");
        assert!(timer.last_long, "a long wall time keeps the thread clock on");
    }

    #[test]
    fn wall_and_off() {
        let mut wall = BatchTimer::new(CpuClock::Wall);
        let added = batch(&mut wall, || std::thread::sleep(Duration::from_millis(2)));
        assert!(added >= Duration::from_millis(2));
        let mut off = BatchTimer::new(CpuClock::Off);
        assert!(!off.timed());
        assert_eq!(batch(&mut off, || spin_cpu(Duration::from_micros(50))), Duration::ZERO);
    }
}
