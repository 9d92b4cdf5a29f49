//! Peers, interleaved: every member of every peers workload (the same
//! definitions as the criterion bench, `caxton_benches::peers`) measured
//! round-robin in one process, so the machine's drift from minute to minute
//! hits every runtime alike. Each round runs each member for the workload's
//! fixed number of iterations (timed with `Instant`), the members in an
//! order rotated by one each round; a member's figure in a round is its time
//! ÷ raw tokio's time in the same round. Printed per workload and runtime:
//! the median time per iteration, the median of the per-round ratios and
//! their min–max over the rounds.
//!
//! `cargo bench -p caxton-benches --bench peers_rounds` (7 rounds after a
//! warm-up round); `-- --rounds N`, `-- --only GROUP_SUBSTRING`; `-- --test`
//! runs one round of one iteration (what CI's `cargo bench -- --test` does).

use std::time::Duration;

use caxton_benches::peers::{Host, MEMBERS, Member, RAW, WORKLOADS};

struct Args {
    rounds: usize,
    only: Option<String>,
    test: bool,
}

fn args() -> Args {
    let mut out = Args {
        rounds: 7,
        only: None,
        test: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rounds" => out.rounds = it.next().and_then(|n| n.parse().ok()).expect("--rounds N"),
            "--only" => out.only = Some(it.next().expect("--only GROUP_SUBSTRING")),
            "--test" => out.test = true,
            // `cargo bench` passes `--bench`; criterion-style flags do not apply.
            _ => {}
        }
    }
    if out.test {
        out.rounds = 1;
    }
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn main() {
    let args = args();
    let host = Host::new();
    println!(
        "# Peers, interleaved: {} rounds, members in rotated order each round; figures are time ÷ raw tokio of the same round\n",
        args.rounds
    );
    println!("| workload | runtime | median time / iter | median ÷ raw tokio | min–max ÷ raw tokio |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let raw = MEMBERS.iter().position(|&m| m == RAW).expect("a raw tokio member");
    for workload in WORKLOADS {
        if args.only.as_deref().is_some_and(|only| !workload.group.contains(only)) {
            continue;
        }
        let iters = if args.test { 1 } else { workload.round_iters };
        let mut members: Vec<Member> = MEMBERS.iter().map(|name| (workload.make)(&host, name)).collect();
        if !args.test {
            // Warm-up: one round, not recorded.
            for member in &mut members {
                member.measure(&host, iters);
            }
        }
        // per_iter[member][round], nanoseconds.
        let mut per_iter = vec![Vec::with_capacity(args.rounds); members.len()];
        for round in 0..args.rounds {
            for k in 0..members.len() {
                let m = (k + round) % members.len();
                let elapsed: Duration = members[m].measure(&host, iters);
                per_iter[m].push(elapsed.as_nanos() as f64 / iters as f64);
            }
        }
        for member in members {
            member.stop(&host);
        }
        for (m, name) in MEMBERS.iter().enumerate() {
            let mut ratios: Vec<f64> = (0..args.rounds).map(|r| per_iter[m][r] / per_iter[raw][r]).collect();
            let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ratios.iter().copied().fold(0.0, f64::max);
            let ratio = median(&mut ratios);
            let time = median(&mut per_iter[m].clone());
            println!(
                "| {} | {name} | {} | {ratio:.2} | {lo:.2}–{hi:.2} |",
                workload.group,
                format_ns(time)
            );
        }
    }
    println!(
        "\n{} iterations per member per round: {}",
        if args.test { "test mode, 1" } else { "fixed" },
        WORKLOADS
            .iter()
            .map(|w| format!(
                "{} {} ({})",
                w.group,
                if args.test { 1 } else { w.round_iters },
                w.about
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
}
