//! The schedule's arithmetic: request i is due exactly t0 + i / R.

use std::time::{Duration, Instant};

use caxton_load::pace::{Schedule, Window};

#[test]
fn intended_times_are_exactly_t0_plus_i_over_rate() {
    for rate in [1u64, 3, 7, 1000, 2000, 3333, 10_000, 1_000_000] {
        let s = Schedule::new(rate);
        let t0 = Instant::now();
        for i in [0u64, 1, 2, 3, 10, 999, 1000, 12_345, 10_000_000] {
            let nanos = (u128::from(i) * 1_000_000_000 / u128::from(rate)) as u64;
            assert_eq!(s.offset(i), Duration::from_nanos(nanos), "rate {rate}, i {i}");
            assert_eq!(s.intended(t0, i), t0 + Duration::from_nanos(nanos));
        }
        // No drift: after R requests exactly one second, after k*R exactly k.
        for k in [1u64, 10, 3600] {
            assert_eq!(s.offset(k * rate), Duration::from_secs(k), "rate {rate}");
        }
    }
}

#[test]
fn intervals_are_even_when_the_rate_divides_a_second() {
    let s = Schedule::new(2000);
    for i in 0..10_000u64 {
        assert_eq!(s.offset(i + 1) - s.offset(i), Duration::from_micros(500));
    }
}

#[test]
fn offsets_never_go_backwards_for_awkward_rates() {
    let s = Schedule::new(7);
    let mut last = Duration::ZERO;
    for i in 0..10_000u64 {
        let o = s.offset(i);
        assert!(o >= last);
        // Each step is 1e9/7 ns rounded down or up.
        if i > 0 {
            let step = (o - last).as_nanos();
            assert!(step == 142_857_142 || step == 142_857_143, "step {step}");
        }
        last = o;
    }
}

#[test]
fn the_window_records_from_the_end_of_the_warmup() {
    let t0 = Instant::now();
    let w = Window::new(t0, Duration::from_secs(1), Duration::from_secs(10));
    assert_eq!(w.measure_from, t0 + Duration::from_secs(1));
    assert_eq!(w.end, t0 + Duration::from_secs(11));
    assert!(!w.records(t0));
    assert!(!w.records(t0 + Duration::from_millis(999)));
    assert!(w.records(t0 + Duration::from_secs(1)));
    // With R = 200 and 1 s warmup, requests 200.. are the recorded ones.
    let s = Schedule::new(200);
    let recorded = (0u64..)
        .map(|i| s.intended(t0, i))
        .take_while(|t| *t < w.end)
        .filter(|t| w.records(*t))
        .count();
    assert_eq!(recorded, 2000);
}
