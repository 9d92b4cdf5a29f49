//! The scenarios' pass/fail logic, as pure functions over interval data
//! and counts, so it is tested on synthetic data.

use serde::{Deserialize, Serialize};

use crate::interval::Interval;
use caxton_profiling::{LeakCheck, LeakReport, LeakVerdict};

/// One checked claim about a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assertion {
    /// What is claimed, e.g. `success_rate`.
    pub name: String,
    /// Whether the run bears it out.
    pub passed: bool,
    /// The measured values and the limit, in words.
    pub detail: String,
}

impl Assertion {
    fn new(name: &str, passed: bool, detail: String) -> Self {
        Self {
            name: name.to_owned(),
            passed,
            detail,
        }
    }
}

/// The median ([`caxton_stats::median`]: the mean of the middle two for an
/// even count) of the finite `values`; `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    caxton_stats::median(&v).ok()
}

/// Every message the generator sent, and where each one ended up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// Handed to `try_send`.
    pub sent: u64,
    /// Accepted into a mailbox.
    pub accepted: u64,
    /// Refused with an error returned to the generator.
    pub refused: u64,
    /// Dead letters recorded for refused sends (full mailbox, stopped agent...).
    pub dead_refused: u64,
    /// Handled successfully (latency recorded).
    pub handled: u64,
    /// Accepted, then recorded as dead letters: faults, handler errors,
    /// agents that failed for good, undelivered at shutdown.
    pub dead_accepted: u64,
    /// Accepted and still inside a handler when shutdown's deadline passed.
    pub in_progress: u64,
}

/// Nothing silent: every send was accepted or refused with an error (and
/// each refusal is a dead letter), and every accepted message was handled
/// or recorded as a dead letter (or was still in progress at shutdown).
pub fn accounting(a: &Accounting) -> Vec<Assertion> {
    let outcome = a.handled + a.dead_accepted + a.in_progress;
    vec![
        Assertion::new(
            "sends_accounted",
            a.sent == a.accepted + a.refused && a.refused == a.dead_refused,
            format!(
                "sent {} = accepted {} + refused {} (refusals recorded as dead letters: {})",
                a.sent, a.accepted, a.refused, a.dead_refused
            ),
        ),
        Assertion::new(
            "accepted_accounted",
            a.accepted == outcome,
            format!(
                "accepted {} vs handled {} + dead letters {} + in progress {} = {}",
                a.accepted, a.handled, a.dead_accepted, a.in_progress, outcome
            ),
        ),
    ]
}

/// Share of sent messages handled successfully must be at least `min`.
pub fn success_rate(a: &Accounting, min: f64) -> (f64, Assertion) {
    let rate = if a.sent == 0 {
        0.0
    } else {
        a.handled as f64 / a.sent as f64
    };
    let passed = a.sent > 0 && rate >= min;
    (
        rate,
        Assertion::new(
            "success_rate",
            passed,
            format!(
                "{:.3} % of {} sent handled (need >= {:.3} %)",
                rate * 100.0,
                a.sent,
                min * 100.0
            ),
        ),
    )
}

/// A value must stay at or under a limit (e.g. p99 latency in ms).
pub fn at_most(name: &str, value: f64, limit: f64, unit: &str) -> Assertion {
    Assertion::new(
        name,
        value <= limit,
        format!("{value:.3} {unit} (limit {limit} {unit})"),
    )
}

/// The first and the last window of full intervals after `warmup_s`, each
/// `n` long, or a third of what is left each when that is shorter.
pub fn windows(intervals: &[Interval], warmup_s: f64, n: usize) -> (&[Interval], &[Interval]) {
    let start = intervals
        .iter()
        .position(|i| i.t_s - i.length_s >= warmup_s)
        .unwrap_or(intervals.len());
    let full = intervals[start..]
        .iter()
        .rposition(|i| i.length_s >= 0.999)
        .map_or(0, |p| p + 1);
    let usable = &intervals[start..start + full];
    let n = n.min(usable.len() / 3);
    (&usable[..n], &usable[usable.len() - n..])
}

/// The change of a per-interval value from the first window to the last,
/// each window summarized by its median.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// Median over the first window.
    pub first: f64,
    /// Median over the last window.
    pub last: f64,
    /// How much worse the last window is, as a fraction of the first
    /// (0.05 = 5 % worse; negative = better).
    pub worse_by: f64,
}

/// Degradation of `value` from `first` to `last`; `higher_is_better` says
/// which way is worse. `None` with an empty window.
pub fn degradation(
    first: &[Interval],
    last: &[Interval],
    value: impl Fn(&Interval) -> f64,
    higher_is_better: bool,
) -> Option<Degradation> {
    let f = median(first.iter().map(&value))?;
    let l = median(last.iter().map(&value))?;
    let worse_by = if f == 0.0 {
        0.0
    } else if higher_is_better {
        (f - l) / f
    } else {
        (l - f) / f
    };
    Some(Degradation {
        first: f,
        last: l,
        worse_by,
    })
}

/// Passes when `d` is no more than `max` worse, or when the absolute change
/// is within `noise_floor` (in the value's unit).
pub fn degradation_check(name: &str, d: Option<Degradation>, max: f64, noise_floor: f64, unit: &str) -> Assertion {
    match d {
        None => Assertion::new(name, false, "not enough intervals to compare".into()),
        Some(d) => {
            let within_noise = (d.last - d.first).abs() <= noise_floor;
            let passed = d.worse_by <= max || within_noise;
            Assertion::new(
                name,
                passed,
                format!(
                    "median {:.3} {unit} first window -> {:.3} {unit} last window: {:+.2} % \
                     (limit {:.1} %{})",
                    d.first,
                    d.last,
                    d.worse_by * 100.0,
                    max * 100.0,
                    if noise_floor > 0.0 {
                        format!(", changes within {noise_floor} {unit} are noise")
                    } else {
                        String::new()
                    }
                ),
            )
        }
    }
}

/// RSS growth over the run, fitted after warm-up.
pub fn leak(intervals: &[Interval], check: &LeakCheck) -> (LeakReport, Assertion) {
    let points: Vec<(f64, f64)> = intervals.iter().map(|i| (i.t_s, i.rss_bytes as f64)).collect();
    let report = check.evaluate(&points);
    let passed = report.verdict == LeakVerdict::NoLeak;
    let detail = match report.verdict {
        LeakVerdict::InsufficientData => format!("only {} RSS samples after warm-up", report.samples),
        _ => format!(
            "RSS slope {:.0} bytes/min over {} samples (limit {:.0} bytes/min)",
            report.slope_bytes_per_minute, report.samples, report.threshold_bytes_per_minute
        ),
    };
    (report, Assertion::new("no_memory_leak", passed, detail))
}

/// What a burst did to the mailboxes, for [`overload`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overload<'a> {
    /// Sends refused (shedding: `MailboxFull`).
    pub refused: u64,
    /// Sends that waited for room (backpressure).
    pub waited: u64,
    /// Agents whose mailbox depth reached its capacity at some point.
    pub mailboxes_at_bound: u64,
    /// Agents looked at.
    pub agents: u64,
    /// The policy run (`shed` or `backpressure`).
    pub policy: &'a str,
}

/// Whether the burst overloaded anything: a refusal, a waiting sender, or
/// a mailbox at its bound. When `required`, none of them fails the run as
/// "did not reach overload" (rather than passing vacuously); otherwise the
/// assertion only reports.
pub fn overload(o: &Overload<'_>, required: bool) -> Assertion {
    let reached = o.refused > 0 || o.waited > 0 || o.mailboxes_at_bound > 0;
    let what = format!(
        "policy {}: {} refused, {} senders waited, {} of {} mailboxes reached their bound",
        o.policy, o.refused, o.waited, o.mailboxes_at_bound, o.agents
    );
    let detail = match (reached, required) {
        (true, _) => format!("overloaded: {what}"),
        (false, true) => format!("did not reach overload: {what}"),
        (false, false) => format!("not overloaded (not required): {what}"),
    };
    Assertion::new("reached_overload", reached || !required, detail)
}

/// Median interval p99 (ms) of the intervals that end by `until_s`.
pub fn baseline_p99_ms(intervals: &[Interval], until_s: f64) -> Option<f64> {
    median(
        intervals
            .iter()
            .filter(|i| i.t_s <= until_s && i.latency.count > 0)
            .map(Interval::p99_ms),
    )
}

/// Seconds from `burst_end_s` to the end of the first interval of `stable`
/// consecutive intervals whose p99 is within `threshold_ms` (interval
/// resolution: 1 s). `None` when latency never settled in the data.
pub fn recovery_time_s(intervals: &[Interval], burst_end_s: f64, threshold_ms: f64, stable: usize) -> Option<f64> {
    let after: Vec<&Interval> = intervals.iter().filter(|i| i.t_s - i.length_s >= burst_end_s).collect();
    let ok = |i: &Interval| i.latency.count > 0 && i.p99_ms() <= threshold_ms;
    (0..after.len())
        .find(|&k| after.len() - k >= stable && after[k..k + stable].iter().all(|i| ok(i)))
        .map(|k| after[k].t_s - burst_end_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use caxton_profiling::LatencySummary;

    fn iv(t: u64, handled: u64, p99_ms: f64, rss: u64) -> Interval {
        Interval {
            t_s: t as f64,
            length_s: 1.0,
            phase: "steady".into(),
            handled,
            latency: LatencySummary {
                count: handled,
                p99_us: p99_ms * 1000.0,
                ..Default::default()
            },
            rss_bytes: rss,
            ..Default::default()
        }
    }

    const MIB: u64 = 1 << 20;

    fn check() -> LeakCheck {
        LeakCheck {
            threshold_bytes_per_minute: 512.0 * 1024.0,
            warmup_s: 10.0,
            min_samples: 10,
        }
    }

    #[test]
    fn flat_noisy_rss_is_no_leak() {
        // 50 MiB +- 1 MiB of noise, no trend, plus a start-up ramp in warm-up.
        let data: Vec<Interval> = (1..=300)
            .map(|t| {
                let noise = if t % 2 == 0 { MIB } else { 0 };
                let ramp = if t < 10 { t * 4 * MIB } else { 40 * MIB };
                iv(t, 10_000, 0.1, 10 * MIB + ramp + noise)
            })
            .collect();
        let (report, a) = leak(&data, &check());
        assert!(a.passed, "{a:?}");
        assert_eq!(report.verdict, LeakVerdict::NoLeak);
    }

    #[test]
    fn steady_growth_is_a_leak() {
        // 1 MiB per minute of growth.
        let data: Vec<Interval> = (1..=300).map(|t| iv(t, 10_000, 0.1, 50 * MIB + t * MIB / 60)).collect();
        let (report, a) = leak(&data, &check());
        assert!(!a.passed, "{a:?}");
        assert!(
            (report.slope_bytes_per_minute - MIB as f64).abs() < 1024.0,
            "{report:?}"
        );
    }

    #[test]
    fn too_short_a_run_gives_no_leak_verdict() {
        let data: Vec<Interval> = (1..=12).map(|t| iv(t, 1, 0.1, MIB)).collect();
        let (_, a) = leak(&data, &check());
        assert!(!a.passed);
        assert!(a.detail.contains("only 3"), "{}", a.detail);
    }

    #[test]
    fn windows_skip_warmup_and_a_short_last_interval() {
        let mut data: Vec<Interval> = (1..=100).map(|t| iv(t, 100, 0.1, 0)).collect();
        data.push(Interval {
            t_s: 100.4,
            length_s: 0.4,
            ..iv(100, 1, 9.0, 0)
        });
        let (first, last) = windows(&data, 10.0, 20);
        assert_eq!(first.first().unwrap().t_s, 11.0);
        assert_eq!(first.len(), 20);
        assert_eq!(last.last().unwrap().t_s, 100.0);
        // Short runs shrink the windows to a third each.
        let (first, last) = windows(&data[..19], 10.0, 20);
        assert_eq!((first.len(), last.len()), (3, 3));
    }

    #[test]
    fn throughput_drop_over_five_percent_fails_and_a_few_outliers_do_not() {
        // First 30 s at 10 000/s, last 30 s at 9 000/s: 10 % worse.
        let data: Vec<Interval> = (1..=90)
            .map(|t| iv(t, if t > 60 { 9_000 } else { 10_000 }, 0.1, 0))
            .collect();
        let (f, l) = windows(&data, 0.0, 30);
        let d = degradation(f, l, Interval::handled_rate, true);
        let a = degradation_check("throughput_degradation", d, 0.05, 0.0, "msg/s");
        assert!(!a.passed, "{a:?}");
        assert!((d.unwrap().worse_by - 0.10).abs() < 1e-9);

        // Steady, but 5 of the last 30 intervals stall: the median ignores them.
        let data: Vec<Interval> = (1..=90)
            .map(|t| iv(t, if t % 6 == 0 && t > 60 { 2_000 } else { 10_000 }, 0.1, 0))
            .collect();
        let (f, l) = windows(&data, 0.0, 30);
        let a = degradation_check(
            "throughput_degradation",
            degradation(f, l, Interval::handled_rate, true),
            0.05,
            0.0,
            "msg/s",
        );
        assert!(a.passed, "{a:?}");
    }

    #[test]
    fn latency_rise_fails_unless_within_the_noise_floor() {
        // p99 from 10 ms to 12 ms: 20 % and 2 ms worse.
        let data: Vec<Interval> = (1..=60)
            .map(|t| iv(t, 100, if t > 30 { 12.0 } else { 10.0 }, 0))
            .collect();
        let (f, l) = windows(&data, 0.0, 20);
        let d = degradation(f, l, Interval::p99_ms, false);
        assert!(!degradation_check("latency_degradation", d, 0.05, 1.0, "ms").passed);
        // p99 from 0.02 ms to 0.03 ms: 50 % worse, but 10 us is noise.
        let data: Vec<Interval> = (1..=60)
            .map(|t| iv(t, 100, if t > 30 { 0.03 } else { 0.02 }, 0))
            .collect();
        let (f, l) = windows(&data, 0.0, 20);
        let d = degradation(f, l, Interval::p99_ms, false);
        assert!(degradation_check("latency_degradation", d, 0.05, 1.0, "ms").passed);
        // No data: no pass.
        assert!(!degradation_check("latency_degradation", None, 0.05, 1.0, "ms").passed);
    }

    #[test]
    fn recovery_time_is_the_first_stable_interval_after_the_burst() {
        // Baseline 0.2 ms to 20 s, burst 20..30 s at 80 ms, then a tail
        // that decays and one relapse at 36 s; settled from 38 s.
        let p99 = |t: u64| match t {
            0..=20 => 0.2,
            21..=30 => 80.0,
            31..=34 => 40.0,
            35 => 0.3,
            36 => 5.0,
            37 => 0.3,
            _ => 0.25,
        };
        let data: Vec<Interval> = (1..=70).map(|t| iv(t, 1000, p99(t), 0)).collect();
        let base = baseline_p99_ms(&data, 20.0).unwrap();
        assert!((base - 0.2).abs() < 1e-9);
        let threshold = (base * 2.0).max(1.0);
        // 35 s alone is not stable (36 s relapses); 37..39 s are.
        assert_eq!(recovery_time_s(&data, 30.0, threshold, 3), Some(7.0));
        // A single good interval counts with stable = 1.
        assert_eq!(recovery_time_s(&data, 30.0, threshold, 1), Some(5.0));
        // Never settles: no recovery.
        let bad: Vec<Interval> = (1..=70)
            .map(|t| iv(t, 1000, if t > 20 { 50.0 } else { 0.2 }, 0))
            .collect();
        assert_eq!(recovery_time_s(&bad, 30.0, threshold, 3), None);
    }

    #[test]
    fn accounting_balances_exactly_or_fails() {
        let good = Accounting {
            sent: 1000,
            accepted: 990,
            refused: 10,
            dead_refused: 10,
            handled: 980,
            dead_accepted: 9,
            in_progress: 1,
        };
        assert!(accounting(&good).iter().all(|a| a.passed));
        // One accepted message unaccounted for.
        let lost = Accounting { handled: 979, ..good };
        let r = accounting(&lost);
        assert!(r[0].passed && !r[1].passed, "{r:?}");
        // A refusal without its dead letter.
        let silent = Accounting {
            dead_refused: 9,
            ..good
        };
        assert!(!accounting(&silent)[0].passed);
    }

    #[test]
    fn success_rate_threshold() {
        let a = Accounting {
            sent: 1000,
            handled: 995,
            ..Default::default()
        };
        assert!(success_rate(&a, 0.99).1.passed);
        let a = Accounting { handled: 980, ..a };
        let (rate, check) = success_rate(&a, 0.99);
        assert!(!check.passed);
        assert!((rate - 0.98).abs() < 1e-12);
        assert!(!success_rate(&Accounting::default(), 0.99).1.passed);
    }

    #[test]
    fn an_overload_that_did_not_happen_fails_when_required() {
        let none = Overload {
            agents: 10,
            policy: "shed",
            ..Default::default()
        };
        let a = overload(&none, true);
        assert!(!a.passed);
        assert!(a.detail.starts_with("did not reach overload"), "{}", a.detail);
        assert!(overload(&none, false).passed);
        for o in [
            Overload { refused: 1, ..none },
            Overload { waited: 1, ..none },
            Overload {
                mailboxes_at_bound: 1,
                ..none
            },
        ] {
            let a = overload(&o, true);
            assert!(a.passed && a.detail.starts_with("overloaded"), "{a:?}");
        }
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
        assert_eq!(median([f64::NAN, 2.0, f64::INFINITY]), Some(2.0));
    }
}
