//! Measures what the process sampler itself costs: process CPU time spent
//! while the main thread sleeps and only the sampler runs.
//!
//! Run with `cargo run --release -p caxton-profiling --example sampler_overhead -- 5`
//! (the argument is the number of seconds, default 5).

use std::time::Duration;

use caxton_profiling::process::process_cpu_time;
use caxton_profiling::sampler::ProcessSampler;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let interval = Duration::from_secs(1);

    let idle_before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(secs));
    let idle = process_cpu_time() - idle_before;

    let before = process_cpu_time();
    let sampler = ProcessSampler::start(interval)?;
    std::thread::sleep(Duration::from_secs(secs) + Duration::from_millis(100));
    let series = sampler.stop();
    let sampling = process_cpu_time() - before;

    let n = series.samples.len().max(1) as f64;
    let cost = sampling.saturating_sub(idle);
    println!("idle process CPU over {secs} s: {:.1} us", idle.as_secs_f64() * 1e6);
    println!(
        "with a 1 s sampler over {secs} s: {:.1} us ({} samples, about {:.1} us of CPU per sample, {:.4} % of one core)",
        sampling.as_secs_f64() * 1e6,
        series.samples.len(),
        cost.as_secs_f64() * 1e6 / n,
        cost.as_secs_f64() / (secs as f64) * 100.0
    );
    if let Some(last) = series.samples.last() {
        println!(
            "last sample: rss {} bytes, cpu {:.2} %",
            last.rss_bytes, last.cpu_percent
        );
    }
    Ok(())
}
