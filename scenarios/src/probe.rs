//! Send -> handled latency, measured by the handling agent.
//!
//! The generator stamps each message's `sent_at` with its *intended* send
//! time (its slot in the open-loop schedule). The handling agent, wrapped in
//! [`Timed`], records `now - intended` when its handler returns `Ok`, so a
//! stall anywhere (generator, mailbox, scheduler) shows up in the latency
//! instead of being hidden by coordinated omission.
//!
//! Both ends read one monotonic clock: `sent_at` carries the intended time
//! as an offset from the probe's anchor (plus the wall-clock value of that
//! anchor, so the stamp still reads as a time), and the agent measures its
//! own offset from the same anchor.
//!
//! Agents on different worker threads record into different shards (an
//! uncontended lock each); the sampler harvests all shards once a second.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use caxton_runtime::{AgentError, Message, Timestamp};
use caxton_workloads::agents::{Observed, Observer};

use caxton_profiling::LatencyRecorder;

const SHARDS: usize = 8;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// The shared latency probe of one run.
pub struct Probe {
    anchor: Instant,
    wall_anchor_ns: u64,
    shards: Box<[Mutex<LatencyRecorder>]>,
}

impl Probe {
    /// A probe whose time zero is `anchor` (the schedule's start).
    pub fn new(anchor: Instant) -> Arc<Self> {
        let wall_now = Timestamp::now().0;
        let since = anchor.elapsed().as_nanos() as u64;
        Arc::new(Self {
            anchor,
            wall_anchor_ns: wall_now.saturating_sub(since),
            shards: (0..SHARDS).map(|_| Mutex::new(LatencyRecorder::new())).collect(),
        })
    }

    /// A probe on the same clock (anchors shared, so either stamps for the
    /// other) with recorders of its own: latencies of two groups of agents
    /// kept apart.
    pub fn sibling(&self) -> Arc<Self> {
        Arc::new(Self {
            anchor: self.anchor,
            wall_anchor_ns: self.wall_anchor_ns,
            shards: (0..SHARDS).map(|_| Mutex::new(LatencyRecorder::new())).collect(),
        })
    }

    /// The stamp for a message intended to be sent at `at`.
    pub fn stamp(&self, at: Instant) -> Timestamp {
        Timestamp(self.wall_anchor_ns + at.saturating_duration_since(self.anchor).as_nanos() as u64)
    }

    /// Latency of a message stamped `sent_at`, handled now, in ns.
    pub fn latency_ns(&self, sent_at: Timestamp) -> u64 {
        let now = self.anchor.elapsed().as_nanos() as u64;
        now.saturating_sub(sent_at.0.saturating_sub(self.wall_anchor_ns))
    }

    /// Records that a message stamped `sent_at` was handled now.
    pub fn record(&self, sent_at: Timestamp) {
        let ns = self.latency_ns(sent_at);
        let shard = SHARD.with(|s| *s);
        self.shards[shard]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record_ns(ns);
    }

    /// Moves every sample recorded since the last harvest into `into`.
    pub fn harvest(&self, into: &mut LatencyRecorder) {
        for shard in self.shards.iter() {
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            // Every recorder here has the default bounds, so merging cannot fail.
            into.merge(&s).expect("latency recorders share their bounds");
            s.reset();
        }
    }
}

/// Records the send -> handled latency of every message an agent handles
/// successfully (faults and handler errors are dead letters, counted by the
/// runtime, not latencies).
pub struct Latencies(Arc<Probe>);

impl Observer for Latencies {
    fn handled(&mut self, msg: &Message, result: &Result<(), AgentError>) {
        if result.is_ok() {
            self.0.record(msg.sent_at);
        }
    }
}

/// An agent whose successfully handled messages a [`Probe`] times.
pub type Timed<A> = Observed<A, Latencies>;

/// Wraps `inner` so the probe times its messages.
pub fn timed<A>(inner: A, probe: Arc<Probe>) -> Timed<A> {
    Observed::new(inner, Latencies(probe))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn latency_counts_from_the_intended_time() {
        let anchor = Instant::now() - Duration::from_secs(2);
        let probe = Probe::new(anchor);
        // Intended 1 s after the anchor, handled about 2 s after it: ~1 s.
        let stamp = probe.stamp(anchor + Duration::from_secs(1));
        let ns = probe.latency_ns(stamp);
        assert!(ns >= 1_000_000_000, "{ns}");
        probe.record(stamp);
        let mut all = LatencyRecorder::new();
        probe.harvest(&mut all);
        assert_eq!(all.count(), 1);
        // A harvest empties the shards.
        let mut again = LatencyRecorder::new();
        probe.harvest(&mut again);
        assert_eq!(again.count(), 0);
    }
}
