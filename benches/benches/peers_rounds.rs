//! Peers, interleaved: every member of every peers workload (the same
//! definitions as the criterion bench, `caxton_benches::peers`) measured
//! round-robin in one process, so the machine's drift from minute to minute
//! hits every runtime alike. Each round runs each member for the workload's
//! fixed number of iterations (timed with `Instant`), the members in an
//! order rotated by one each round; a member's figure in a round is its time
//! ÷ raw tokio's time in the same round. Printed per workload and runtime:
//! the median time per iteration, the median of the per-round ratios and
//! their min–max over the rounds; beside them the process's CPU time
//! (user + system, every thread, `getrusage`) per iteration, median over the
//! rounds and ÷ raw tokio's: work done rather than time taken, so it
//! barely moves when other processes crowd the cores.
//!
//! `cargo bench -p caxton-benches --bench peers_rounds` (21 rounds after a
//! warm-up round: many short rounds, so a burst of load from elsewhere on
//! the machine spoils a few rounds rather than a member's whole figure); `-- --rounds N`, `-- --only GROUP_SUBSTRING`; `-- --test`
//! runs one round of one iteration (what CI's `cargo bench -- --test` does).
//! For profiling one runtime (callgrind, perf): `-- --only peers_fanout
//! --members caxton --iters 20 --rounds 1` (without `raw_tokio` among the
//! members the ratio columns read `–`).

use std::time::Duration;

use caxton_benches::peers::{Host, MEMBERS, Member, RAW, WORKLOADS};

struct Args {
    rounds: usize,
    only: Option<String>,
    members: Option<Vec<String>>,
    iters: Option<u64>,
    test: bool,
}

fn args() -> Args {
    let mut out = Args {
        rounds: 21,
        only: None,
        members: None,
        iters: None,
        test: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rounds" => out.rounds = it.next().and_then(|n| n.parse().ok()).expect("--rounds N"),
            "--only" => out.only = Some(it.next().expect("--only GROUP_SUBSTRING")),
            "--members" => {
                let list = it.next().expect("--members NAME,NAME");
                out.members = Some(list.split(',').map(str::to_owned).collect());
            }
            "--iters" => out.iters = Some(it.next().and_then(|n| n.parse().ok()).expect("--iters N")),
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

/// CPU time this process has used so far, every thread, user + system.
fn process_cpu() -> Duration {
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF always exists.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
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
    println!(
        "| workload | runtime | median time / iter | median ÷ raw tokio | min–max ÷ raw tokio | CPU / iter | CPU ÷ raw tokio |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let names: Vec<&str> = MEMBERS
        .iter()
        .copied()
        .filter(|m| args.members.as_ref().is_none_or(|list| list.iter().any(|l| l == m)))
        .collect();
    let raw = names.iter().position(|&m| m == RAW);
    for workload in WORKLOADS {
        if args.only.as_deref().is_some_and(|only| !workload.group.contains(only)) {
            continue;
        }
        let iters = if args.test {
            1
        } else {
            args.iters.unwrap_or(workload.round_iters)
        };
        let mut members: Vec<Member> = names.iter().map(|name| (workload.make)(&host, name)).collect();
        if !args.test {
            // Warm-up: one round, not recorded.
            for member in &mut members {
                member.measure(&host, iters);
            }
        }
        // per_iter[member][round], nanoseconds.
        let mut per_iter = vec![Vec::with_capacity(args.rounds); members.len()];
        let mut cpu_per_iter = vec![Vec::with_capacity(args.rounds); members.len()];
        for round in 0..args.rounds {
            for k in 0..members.len() {
                let m = (k + round) % members.len();
                let cpu = process_cpu();
                let elapsed: Duration = members[m].measure(&host, iters);
                let cpu = process_cpu().saturating_sub(cpu);
                per_iter[m].push(elapsed.as_nanos() as f64 / iters as f64);
                cpu_per_iter[m].push(cpu.as_nanos() as f64 / iters as f64);
            }
        }
        for member in members {
            member.stop(&host);
        }
        for (m, name) in names.iter().enumerate() {
            let time = format_ns(median(&mut per_iter[m].clone()));
            let cpu = median(&mut cpu_per_iter[m].clone());
            let (ratio, spread, cpu_ratio) = match raw {
                Some(raw) => {
                    let mut ratios: Vec<f64> = (0..args.rounds).map(|r| per_iter[m][r] / per_iter[raw][r]).collect();
                    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = ratios.iter().copied().fold(0.0, f64::max);
                    let raw_cpu = median(&mut cpu_per_iter[raw].clone());
                    (
                        format!("{:.2}", median(&mut ratios)),
                        format!("{lo:.2}–{hi:.2}"),
                        format!("{:.2}", cpu / raw_cpu),
                    )
                }
                None => ("–".to_owned(), "–".to_owned(), "–".to_owned()),
            };
            println!(
                "| {} | {name} | {time} | {ratio} | {spread} | {} | {cpu_ratio} |",
                workload.group,
                format_ns(cpu)
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
