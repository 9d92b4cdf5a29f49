//! Open-loop pacing with microsecond resolution, and the generator's own
//! lateness.
//!
//! [`caxton_workloads::open_loop::OpenLoop`] waits on tokio's timer, whose
//! tick is 1 ms: a message due inside a millisecond waits for the next tick,
//! and a latency measured from the intended send time is then mostly that
//! wait (0.69 ms p50 at 1000 msg/s for a hop that costs a few µs). A
//! [`Pacer`] keeps the same schedule ([`RateProfile`], walked by
//! [`caxton_workloads::open_loop::walk`] like every generator) on a thread of its
//! own instead: it sleeps the thread until a short margin before the next
//! message is due (the kernel's timer, accurate to tens of µs), then spins
//! on the monotonic clock to the due time, and sends.
//!
//! It measures itself: for every message, *actual send - intended send*
//! goes into a histogram ([`Paced::lateness`]), so a run reports how far its
//! own schedule slipped beside the latency it measured, and a reader can
//! tell the runtime's latency from the generator's.
//!
//! A pacer blocks its thread while it waits: run it with
//! [`Pacer::spawn`] (a blocking-pool thread driving the sink's futures with
//! [`tokio::runtime::Handle::block_on`]), never on a runtime worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caxton_profiling::LatencyRecorder;
use caxton_workloads::open_loop::{LoadSink, OpenLoopReport, Pacing, RateProfile, StopFlag, walk};

/// How long before a message is due the pacer stops sleeping and spins.
///
/// Linux wakes a sleeping thread up to ~50 µs late (the default timer
/// slack) plus scheduling delay; 200 µs covers that on a busy 2-core
/// machine. At 1000 msg/s the spin costs about a fifth of a core.
pub const DEFAULT_SPIN_MARGIN: Duration = Duration::from_micros(200);

/// The longest single sleep, so a stop is noticed promptly.
const MAX_SLEEP: Duration = Duration::from_millis(20);

/// An open-loop generator that keeps its schedule to the microsecond.
#[derive(Clone, Debug)]
pub struct Pacer {
    profile: RateProfile,
    spin_margin: Duration,
}

/// What a paced run did: the generator's report, and its lateness.
#[derive(Debug)]
pub struct Paced {
    /// Scheduled vs sent, achieved rate, the largest lag.
    pub report: OpenLoopReport,
    /// Actual send - intended send of every message sent, in a histogram.
    pub lateness: LatencyRecorder,
}

impl Pacer {
    /// A pacer for `profile`, spinning the last [`DEFAULT_SPIN_MARGIN`].
    pub fn new(profile: RateProfile) -> Self {
        Self {
            profile,
            spin_margin: DEFAULT_SPIN_MARGIN,
        }
    }

    /// Spins (rather than sleeps) this long before each due time.
    pub fn spin_margin(mut self, margin: Duration) -> Self {
        self.spin_margin = margin;
        self
    }

    /// The profile it follows.
    pub fn profile(&self) -> &RateProfile {
        &self.profile
    }

    /// Runs on a blocking-pool thread of the current runtime, `start` as
    /// time zero, until the profile ends or `stop` is set; hands back the
    /// outcome and the sink. (To await the sink afterwards on the same
    /// thread, e.g. a flush, do what this does: `spawn_blocking`, then
    /// `Handle::block_on` of [`Pacer::run_from`] and the flush.)
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub fn spawn<S>(self, start: Instant, mut sink: S, stop: Arc<StopFlag>) -> tokio::task::JoinHandle<(Paced, S)>
    where
        S: LoadSink + Send + 'static,
    {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                let paced = self.run_from(start, &mut sink, &stop).await;
                (paced, sink)
            })
        })
    }

    /// Runs with `start` as time zero of the schedule. Blocks the calling
    /// thread between sends: poll it only on a thread of its own (see
    /// [`Pacer::spawn`]).
    pub async fn run_from(&self, start: Instant, sink: &mut impl LoadSink, stop: &StopFlag) -> Paced {
        let mut pacing = SpinPacing {
            spin_margin: self.spin_margin,
            lateness: LatencyRecorder::new(),
        };
        let report = walk(&self.profile, start.into(), sink, stop, &mut pacing).await;
        Paced {
            report,
            lateness: pacing.lateness,
        }
    }
}

/// The pacer's [`Pacing`]: sleep the thread to within the spin margin, spin
/// to the due time; record every send's lateness.
struct SpinPacing {
    spin_margin: Duration,
    lateness: LatencyRecorder,
}

impl Pacing for SpinPacing {
    async fn wait(&mut self, due: tokio::time::Instant, now: tokio::time::Instant) -> bool {
        let wait = due - now;
        if wait > self.spin_margin {
            std::thread::sleep((wait - self.spin_margin).min(MAX_SLEEP));
            return false;
        }
        let due = due.into_std();
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        true
    }

    async fn sent(&mut self, late: Duration) {
        self.lateness.record(late);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use caxton_workloads::open_loop::Due;

    use super::*;

    struct Count(Arc<AtomicU64>, Vec<u64>);

    impl LoadSink for Count {
        fn send(&mut self, due: Due) -> impl Future<Output = ()> + Send {
            self.0.fetch_add(1, Ordering::Relaxed);
            self.1.push(due.index);
            std::future::ready(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_the_whole_schedule_in_order_and_reports_its_lateness() {
        let profile = RateProfile::constant(2000.0, Duration::from_millis(100)).unwrap();
        let counted = Arc::new(AtomicU64::new(0));
        let sink = Count(counted.clone(), Vec::new());
        let (paced, sink) = Pacer::new(profile)
            .spawn(Instant::now(), sink, Arc::default())
            .await
            .unwrap();
        assert_eq!(paced.report.sent, 200);
        assert_eq!(paced.report.scheduled, 200);
        assert!(!paced.report.stopped);
        assert_eq!(sink.1, (0..200).collect::<Vec<_>>());
        // One lateness sample per message sent; the largest is the max lag.
        assert_eq!(paced.lateness.count(), 200);
        let max = paced.lateness.summary().max_us;
        let lag_us = paced.report.max_lag.as_secs_f64() * 1e6;
        assert!((max - lag_us).abs() <= lag_us * 0.01 + 1.0, "{max} vs {lag_us}");
        assert_eq!(counted.load(Ordering::Relaxed), 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_ends_the_run() {
        let profile = RateProfile::constant(10.0, Duration::from_secs(600)).unwrap();
        let stop = Arc::new(StopFlag::default());
        stop.stop();
        let sink = Count(Arc::default(), Vec::new());
        let (paced, _) = Pacer::new(profile).spawn(Instant::now(), sink, stop).await.unwrap();
        assert!(paced.report.stopped);
        assert_eq!(paced.report.sent, 0);
        assert_eq!(paced.lateness.count(), 0);
    }
}
