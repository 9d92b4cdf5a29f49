//! Open-loop load: messages sent on a fixed schedule, whatever the system
//! under test is doing.
//!
//! A closed-loop sender waits for the system before it sends the next
//! message, so when the system stalls the sender stalls too and the slow
//! period is hardly sampled ("coordinated omission"). An open-loop sender
//! computes every send time from the *start* of the run, never from the
//! previous send: message `n` is due at [`RateProfile::intended`]`(n)`. When
//! the generator falls behind (a slow consumer, a descheduled thread) it
//! sends the backlog as soon as it can, each message still carrying its
//! intended time, so a latency measured against that time includes the
//! stall.
//!
//! * [`RateProfile`]: a piecewise-constant rate (e.g. 1000 msg/s, then
//!   50 000 msg/s for 10 s, then 1000 msg/s again): which message is due when.
//! * [`OpenLoop`]: drives a [`LoadSink`] along a profile on tokio's clock and
//!   reports scheduled vs sent.
//!
//! ```
//! use std::time::Duration;
//! use caxton_workloads::open_loop::{Due, LoadSink, OpenLoop, RateProfile};
//!
//! struct Count(u64);
//! impl LoadSink for Count {
//!     fn send(&mut self, _due: Due) -> impl std::future::Future<Output = ()> + Send {
//!         self.0 += 1;
//!         std::future::ready(())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let profile = RateProfile::constant(1000.0, Duration::from_secs(2)).unwrap();
//! let mut sink = Count(0);
//! let report = OpenLoop::new(profile).run(&mut sink, &Default::default()).await;
//! assert_eq!(report.sent, 2000);
//! assert_eq!(sink.0, 2000);
//! # });
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Why a rate profile was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OpenLoopError {
    /// A phase's rate is negative or not a number.
    #[error("phase {phase}: rate must be a finite number >= 0 msg/s, got {rate}")]
    BadRate {
        /// Index of the phase.
        phase: usize,
        /// The rate given.
        rate: f64,
    },
    /// A phase lasts no time.
    #[error("phase {phase}: duration must be longer than zero")]
    EmptyPhase {
        /// Index of the phase.
        phase: usize,
    },
    /// The profile schedules no message at all.
    #[error("the profile schedules no message (no phase has a rate above zero)")]
    NothingScheduled,
}

/// One phase of a [`RateProfile`]: `rate` messages per second for `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// How long the phase lasts.
    pub duration: Duration,
    /// Messages per second during the phase (0 for a pause).
    pub rate: f64,
}

/// A phase with its position on the run's time line.
#[derive(Clone, Copy, Debug)]
struct Placed {
    start_s: f64,
    end_s: f64,
    rate: f64,
    /// Messages scheduled before this phase (the rate's integral), fractional.
    before: f64,
}

/// A piecewise-constant send rate: when each message of a run is due.
///
/// Message `n` (from 0) is due at the time the integral of the rate from the
/// start reaches `n`; so at a constant rate `r` message `n` is due at `n / r`
/// seconds. Times are offsets from the run's start.
#[derive(Clone, Debug)]
pub struct RateProfile {
    phases: Vec<Placed>,
    total_s: f64,
    total_messages: u64,
}

impl RateProfile {
    /// `rate` messages per second for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Result<Self, OpenLoopError> {
        Self::new(&[Phase { duration, rate }])
    }

    /// The phases, in order.
    pub fn new(phases: &[Phase]) -> Result<Self, OpenLoopError> {
        let mut placed = Vec::with_capacity(phases.len());
        let (mut t, mut integral) = (0.0f64, 0.0f64);
        for (i, p) in phases.iter().enumerate() {
            if !(p.rate.is_finite() && p.rate >= 0.0) {
                return Err(OpenLoopError::BadRate { phase: i, rate: p.rate });
            }
            if p.duration.is_zero() {
                return Err(OpenLoopError::EmptyPhase { phase: i });
            }
            let d = p.duration.as_secs_f64();
            placed.push(Placed {
                start_s: t,
                end_s: t + d,
                rate: p.rate,
                before: integral,
            });
            t += d;
            integral += p.rate * d;
        }
        // Message n is in the run when its due time is before the end, i.e.
        // when n < integral over the whole run.
        let total_messages = integral.ceil() as u64;
        if total_messages == 0 {
            return Err(OpenLoopError::NothingScheduled);
        }
        Ok(Self {
            phases: placed,
            total_s: t,
            total_messages,
        })
    }

    /// How long the whole profile lasts.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.total_s)
    }

    /// Messages the whole profile schedules.
    pub fn total_messages(&self) -> u64 {
        self.total_messages
    }

    /// The asked rate at `elapsed` (0 past the end).
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let t = elapsed.as_secs_f64();
        self.phases
            .iter()
            .find(|p| t >= p.start_s && t < p.end_s)
            .map_or(0.0, |p| p.rate)
    }

    /// Messages scheduled from the start up to `elapsed` (inclusive): how
    /// many a generator keeping its schedule has sent by then.
    pub fn due(&self, elapsed: Duration) -> u64 {
        let t = elapsed.as_secs_f64();
        if t >= self.total_s {
            return self.total_messages;
        }
        let integral = self
            .phases
            .iter()
            .find(|p| t < p.end_s)
            .map_or(0.0, |p| p.before + p.rate * (t - p.start_s));
        // Messages 0..=floor(integral) are due; settle floating-point
        // rounding against `intended`, so the two always agree.
        let mut k = ((integral.floor() as u64) + 1).min(self.total_messages);
        while k < self.total_messages && self.intended(k).is_some_and(|d| d <= elapsed) {
            k += 1;
        }
        while k > 0 && self.intended(k - 1).is_some_and(|d| d > elapsed) {
            k -= 1;
        }
        k
    }

    /// When message `n` is due, as an offset from the start; `None` past
    /// the end of the profile.
    pub fn intended(&self, n: u64) -> Option<Duration> {
        if n >= self.total_messages {
            return None;
        }
        let n = n as f64;
        let p = self
            .phases
            .iter()
            .find(|p| p.rate > 0.0 && n < p.before + p.rate * (p.end_s - p.start_s))?;
        let t = p.start_s + (n - p.before) / p.rate;
        // Whole nanoseconds, rounded up: never before the exact time.
        Some(Duration::from_nanos((t.max(0.0) * 1e9).ceil() as u64))
    }
}

/// One message the schedule says is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// Its index in the run, from 0.
    pub index: u64,
    /// When it was due, as an offset from the run's start. Record latency
    /// against this, not against the actual send time.
    pub intended: Duration,
}

/// Where an [`OpenLoop`] sends: typically an orchestrator `try_send` that
/// counts acceptances and refusals. A sink that awaits (a blocking send, a
/// slow consumer) delays later sends, but not their intended times.
pub trait LoadSink {
    /// Sends the message `due`.
    fn send(&mut self, due: Due) -> impl Future<Output = ()> + Send;
}

/// What a generator run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenLoopReport {
    /// Messages the profile had due by the time the run ended.
    pub scheduled: u64,
    /// Messages handed to the sink.
    pub sent: u64,
    /// How late the latest send was against its intended time.
    pub max_lag: Duration,
    /// Start to the last send (or to the stop).
    pub elapsed: Duration,
    /// Whether the run was stopped before the profile ended.
    pub stopped: bool,
}

impl OpenLoopReport {
    /// Achieved send rate over the run, in messages per second.
    pub fn achieved_rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.sent as f64 / s } else { 0.0 }
    }
}

/// A flag that stops a running [`OpenLoop`] at its next wake-up.
#[derive(Debug, Default)]
pub struct StopFlag(AtomicBool);

impl StopFlag {
    /// Asks the generator to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Drives a [`LoadSink`] along a [`RateProfile`] on tokio's clock.
///
/// It sleeps until the next message is due (tokio timers have a 1 ms
/// resolution, so at high rates one wake-up sends the ~rate/1000 messages
/// that fell due meanwhile), sends everything due, and yields to other
/// tasks every [`OpenLoop::yield_every`] messages of a backlog.
#[derive(Clone, Debug)]
pub struct OpenLoop {
    profile: RateProfile,
    yield_every: u64,
    max_sleep: Duration,
}

impl OpenLoop {
    /// A generator for `profile`.
    pub fn new(profile: RateProfile) -> Self {
        Self {
            profile,
            yield_every: 512,
            max_sleep: Duration::from_millis(50),
        }
    }

    /// Yields to other tasks after this many consecutive sends (default 512).
    pub fn yield_every(mut self, n: u64) -> Self {
        self.yield_every = n.max(1);
        self
    }

    /// The profile it follows.
    pub fn profile(&self) -> &RateProfile {
        &self.profile
    }

    /// Runs from now until the profile ends or `stop` is set.
    pub async fn run(&self, sink: &mut impl LoadSink, stop: &StopFlag) -> OpenLoopReport {
        self.run_from(Instant::now(), sink, stop).await
    }

    /// Runs with `start` as time zero of the schedule.
    pub async fn run_from(&self, start: Instant, sink: &mut impl LoadSink, stop: &StopFlag) -> OpenLoopReport {
        let mut pacing = TimerPacing {
            max_sleep: self.max_sleep,
            yield_every: self.yield_every,
            since_yield: 0,
        };
        walk(&self.profile, start, sink, stop, &mut pacing).await
    }
}

/// How an open-loop generator waits for due times and what it does after
/// each send: the part in which generators differ ([`OpenLoop`] on tokio's
/// timer; the scenarios' pacer sleeping a thread, then spinning). The
/// schedule itself is walked by [`walk`], the same for all.
pub trait Pacing {
    /// Called when the next message is due at `due`, later than `now`:
    /// waits towards it. `true` when the due time has been reached and the
    /// message is to go at once; `false` to have the walk check for a stop
    /// and read the clock again (a wait may end early).
    fn wait(&mut self, due: Instant, now: Instant) -> impl Future<Output = bool> + Send;

    /// Called after each send, `late` behind its intended time.
    fn sent(&mut self, late: Duration) -> impl Future<Output = ()> + Send;
}

/// [`OpenLoop`]'s pacing: tokio's timer, and a yield every so many sends of
/// a backlog.
struct TimerPacing {
    max_sleep: Duration,
    yield_every: u64,
    since_yield: u64,
}

impl Pacing for TimerPacing {
    async fn wait(&mut self, due: Instant, now: Instant) -> bool {
        // Sleep until the next message is due, but wake now and then to
        // notice a stop.
        self.since_yield = 0;
        tokio::time::sleep_until(due.min(now + self.max_sleep)).await;
        false
    }

    async fn sent(&mut self, _late: Duration) {
        self.since_yield += 1;
        if self.since_yield >= self.yield_every {
            self.since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
}

/// Walks `profile` from `start` (time zero of the schedule) until it ends
/// or `stop` is set: message `n` goes to `sink` at its intended time
/// ([`RateProfile::intended`]), waited for by `pacing`; a backlog goes at
/// once, each message still carrying its intended time. Every open-loop
/// generator of the workspace is this walk with its own [`Pacing`].
pub async fn walk(
    profile: &RateProfile,
    start: Instant,
    sink: &mut impl LoadSink,
    stop: &StopFlag,
    pacing: &mut impl Pacing,
) -> OpenLoopReport {
    let mut report = OpenLoopReport::default();
    let mut next = 0u64;
    loop {
        if stop.is_stopped() {
            report.stopped = true;
            break;
        }
        let Some(intended) = profile.intended(next) else {
            break;
        };
        let Some(due_at) = start.checked_add(intended) else {
            break;
        };
        let now = Instant::now();
        if due_at > now && !pacing.wait(due_at, now).await {
            continue;
        }
        let late = Instant::now().saturating_duration_since(due_at);
        report.max_lag = report.max_lag.max(late);
        sink.send(Due { index: next, intended }).await;
        next += 1;
        pacing.sent(late).await;
    }
    report.sent = next;
    report.elapsed = start.elapsed();
    report.scheduled = profile.due(report.elapsed).max(next);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_rate_schedule_is_computed_from_the_start() {
        let p = RateProfile::constant(1000.0, secs(3.0)).unwrap();
        assert_eq!(p.total_messages(), 3000);
        assert_eq!(p.intended(0), Some(Duration::ZERO));
        assert_eq!(p.intended(1500), Some(secs(1.5)));
        assert_eq!(p.intended(3000), None);
        assert_eq!(p.due(Duration::ZERO), 1);
        assert_eq!(p.due(secs(1.0)), 1001);
        assert_eq!(p.due(secs(10.0)), 3000);
    }

    #[test]
    fn piecewise_profile_places_the_burst() {
        // 1000/s for 2 s, 50 000/s for 1 s, 1000/s for 2 s.
        let p = RateProfile::new(&[
            Phase {
                duration: secs(2.0),
                rate: 1000.0,
            },
            Phase {
                duration: secs(1.0),
                rate: 50_000.0,
            },
            Phase {
                duration: secs(2.0),
                rate: 1000.0,
            },
        ])
        .unwrap();
        assert_eq!(p.total_messages(), 2000 + 50_000 + 2000);
        assert_eq!(p.intended(2000), Some(secs(2.0)));
        assert_eq!(p.intended(2000 + 25_000), Some(secs(2.5)));
        assert_eq!(p.intended(52_000), Some(secs(3.0)));
        assert_eq!(p.rate_at(secs(2.5)), 50_000.0);
        assert_eq!(p.rate_at(secs(4.0)), 1000.0);
        assert_eq!(p.rate_at(secs(6.0)), 0.0);
        // Every intended time agrees with `due`.
        for n in (0..p.total_messages()).step_by(997) {
            let t = p.intended(n).unwrap();
            assert!(p.due(t) > n, "message {n} at {t:?} not counted as due");
        }
    }

    #[test]
    fn a_pause_phase_schedules_nothing() {
        let p = RateProfile::new(&[
            Phase {
                duration: secs(1.0),
                rate: 10.0,
            },
            Phase {
                duration: secs(5.0),
                rate: 0.0,
            },
            Phase {
                duration: secs(1.0),
                rate: 10.0,
            },
        ])
        .unwrap();
        assert_eq!(p.total_messages(), 20);
        assert_eq!(p.intended(10), Some(secs(6.0)));
    }

    #[test]
    fn bad_profiles_are_refused() {
        assert_eq!(
            RateProfile::constant(0.0, secs(1.0)).unwrap_err(),
            OpenLoopError::NothingScheduled
        );
        assert!(matches!(
            RateProfile::constant(f64::NAN, secs(1.0)),
            Err(OpenLoopError::BadRate { phase: 0, .. })
        ));
        assert_eq!(
            RateProfile::constant(5.0, Duration::ZERO).unwrap_err(),
            OpenLoopError::EmptyPhase { phase: 0 }
        );
    }

    /// A sink that records each send's lag against its intended time and,
    /// like a slow consumer behind a blocking send, stalls on some messages.
    struct SlowSink {
        start: Instant,
        stall_every: u64,
        stall: Duration,
        intended: Vec<Duration>,
        lags: Vec<Duration>,
    }

    impl LoadSink for SlowSink {
        fn send(&mut self, due: Due) -> impl Future<Output = ()> + Send {
            let sent_at = Instant::now() - self.start;
            self.intended.push(due.intended);
            self.lags.push(sent_at.saturating_sub(due.intended));
            let stall = (due.index % self.stall_every == self.stall_every - 1).then_some(self.stall);
            async move {
                if let Some(d) = stall {
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_is_kept_under_a_slow_consumer() {
        // 1000 msg/s for 10 s; every 500th send stalls for 200 ms: a closed
        // loop would lose 20 stalls x 200 ms = 4 s of sends (4000 messages).
        let profile = RateProfile::constant(1000.0, secs(10.0)).unwrap();
        let start = Instant::now();
        let mut sink = SlowSink {
            start,
            stall_every: 500,
            stall: Duration::from_millis(200),
            intended: Vec::new(),
            lags: Vec::new(),
        };
        let report = OpenLoop::new(profile.clone())
            .run_from(start, &mut sink, &StopFlag::default())
            .await;
        // Every scheduled message was sent...
        assert_eq!(report.sent, 10_000);
        assert_eq!(report.scheduled, 10_000);
        assert!(!report.stopped);
        // ...stamped with its own slot, not with when it got out.
        for (n, t) in sink.intended.iter().enumerate() {
            assert_eq!(Some(*t), profile.intended(n as u64));
        }
        // The stalls show up as lag on the messages behind them (the
        // backlog), which a latency against the intended time includes.
        let late = sink.lags.iter().filter(|l| **l >= Duration::from_millis(100)).count();
        assert!(late >= 19 * 90, "only {late} sends were late");
        assert!(report.max_lag >= Duration::from_millis(150), "{report:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_run_early_and_counts_what_was_due() {
        let profile = RateProfile::constant(100.0, secs(60.0)).unwrap();
        let stop = std::sync::Arc::new(StopFlag::default());
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            s.stop();
        });
        struct Null;
        impl LoadSink for Null {
            fn send(&mut self, _due: Due) -> impl Future<Output = ()> + Send {
                std::future::ready(())
            }
        }
        let report = OpenLoop::new(profile).run(&mut Null, &stop).await;
        assert!(report.stopped);
        assert!(report.sent >= 500 && report.sent <= 502, "{report:?}");
        assert!(report.scheduled.abs_diff(report.sent) <= 1, "{report:?}");
    }
}
