//! Handler work of a known cost: CPU spun per message, fixed
//! ([`Spin`]) or drawn from a heavy-tailed distribution ([`Pareto`]), so a
//! scenario can say how much each message costs instead of relying on how
//! fast an empty handler happens to be.

use std::time::{Duration, Instant};

use caxton_runtime::{Agent, AgentError, Context, Message};

/// Busy-waits `d` on the monotonic clock (CPU work that holds its thread,
/// as a compute-bound handler does).
pub fn spin_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// A Pareto distribution of handler times: `P(X > x) = (min / x)^alpha` for
/// `x >= min`, drawn by inverse transform, capped at `cap` (a draw over it
/// is `cap`). With `alpha` <= 2 its variance is infinite: a few messages
/// cost far more than the median, as slow consumers do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pareto {
    /// The smallest value (the scale), µs.
    pub min_us: f64,
    /// The tail index (shape); smaller is heavier.
    pub alpha: f64,
    /// The largest value drawn, µs.
    pub cap_us: f64,
}

impl Pareto {
    /// The value at uniform draw `u` in (0, 1], µs.
    pub fn at(&self, u: f64) -> f64 {
        let u = u.clamp(f64::MIN_POSITIVE, 1.0);
        (self.min_us / u.powf(1.0 / self.alpha)).min(self.cap_us)
    }

    /// The uncapped mean, µs (infinite for `alpha` <= 1).
    pub fn mean_us(&self) -> f64 {
        if self.alpha > 1.0 {
            self.alpha * self.min_us / (self.alpha - 1.0)
        } else {
            f64::INFINITY
        }
    }
}

/// A small deterministic generator (SplitMix64): reproducible draws
/// without a dependency.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A uniform draw in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// SplitMix64's finalizer: a stateless hash of `x`.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How long a [`Spin`] agent works on each message.
#[derive(Clone, Debug)]
pub enum Cost {
    /// The same every message.
    Fixed(Duration),
    /// Drawn per message.
    Pareto(Pareto, SplitMix),
}

impl Cost {
    fn next(&mut self) -> Duration {
        match self {
            Self::Fixed(d) => *d,
            Self::Pareto(p, rng) => Duration::from_secs_f64(p.at(rng.unit()) / 1e6),
        }
    }
}

/// Wraps an agent: spins its [`Cost`] before handing each message on.
pub struct Spin<A> {
    inner: A,
    cost: Cost,
}

impl<A> Spin<A> {
    /// `inner`, costing `cost` per message.
    pub fn new(inner: A, cost: Cost) -> Self {
        Self { inner, cost }
    }
}

impl<A: Agent> Agent for Spin<A> {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: &Message) -> Result<(), AgentError> {
        let d = self.cost.next();
        if !d.is_zero() {
            spin_for(d);
        }
        self.inner.handle(ctx, msg)
    }

    fn snapshot(&mut self) -> Result<Option<bytes::Bytes>, AgentError> {
        self.inner.snapshot()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), AgentError> {
        self.inner.restore(state)
    }

    fn memory_bytes(&self) -> Option<u64> {
        self.inner.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_draws_follow_the_tail_and_the_cap() {
        let p = Pareto {
            min_us: 50.0,
            alpha: 1.5,
            cap_us: 20_000.0,
        };
        assert_eq!(p.at(1.0), 50.0);
        // P(X > x) = (50 / x)^1.5: the draw at u is the x with that tail.
        let x = p.at(0.01);
        assert!((x - 50.0 * 100f64.powf(1.0 / 1.5)).abs() < 1e-9, "{x}");
        assert_eq!(p.at(1e-12), 20_000.0);
        assert!((p.mean_us() - 150.0).abs() < 1e-9);
        // The empirical tail of many draws.
        let mut rng = SplitMix::new(7);
        let n = 200_000;
        let over = (0..n).filter(|_| p.at(rng.unit()) > 500.0).count() as f64 / n as f64;
        let expected = (50.0f64 / 500.0).powf(1.5);
        assert!((over - expected).abs() < 0.005, "{over} vs {expected}");
    }

    #[test]
    fn unit_draws_are_in_range() {
        let mut rng = SplitMix::new(1);
        for _ in 0..10_000 {
            let u = rng.unit();
            assert!(u > 0.0 && u <= 1.0);
        }
    }
}
