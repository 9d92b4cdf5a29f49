//! What each of wasmtime's pooling-allocator options does to instantiation
//! time: a fresh pool slot's first use and a reused slot, per option,
//! interleaved in one process.
//!
//! Each round builds, for every option in turn, a fresh engine (a fresh
//! pool of `2N` slots) with the echo guest, instantiates it `N` times
//! keeping every instance (each takes a slot never used before), drops them
//! all, and instantiates `N` times again (each slot reused, with the same
//! module's image). The figures are per instance (`Store::new` plus
//! `InstancePre::instantiate`), median over the rounds with the
//! fastest and slowest round beside it; "drop" is what dropping the `N`
//! reused instances costs per instance (the reset work an option moves
//! from spawn to drop shows there). The last row is Caxton's own spawn
//! path (`WasmModule::instantiate`: store, limiter, instance, ABI exports)
//! on `HostConfig`'s defaults.
//!
//! Run with `cargo run --release -p caxton-wasm --example spawn_options
//! [N] [ROUNDS] [OPTIONS]` (default 1000 slots, 7 rounds, every option;
//! OPTIONS: row numbers from 0, comma-separated). `CAXTON_ECHO_WASM=FILE`
//! measures another build of the echo guest in the wasmtime rows.

use std::time::{Duration, Instant};

use caxton_wasm::{AgentLimits, HostConfig, WasmHost, guests};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store,
};

/// The guest memory limit the suite uses (`caxton-perf`'s spawn step).
const MEMORY: usize = 4 << 20;

/// One combination of pooling options.
#[derive(Clone, Copy)]
struct Opt {
    name: &'static str,
    cow: bool,
    /// Bytes of linear memory (and of table) reset by hand on drop and
    /// kept resident, instead of `madvise`d away.
    keep_resident: usize,
    pagemap_scan: bool,
    decommit_batch: usize,
}

const BASE: Opt = Opt {
    name: "",
    cow: true,
    keep_resident: 0,
    pagemap_scan: false,
    decommit_batch: 1,
};

const OPTIONS: [Opt; 11] = [
    Opt {
        name: "copy-on-write image (wasmtime's default)",
        ..BASE
    },
    Opt {
        name: "memory_init_cow(false)",
        cow: false,
        ..BASE
    },
    Opt {
        name: "cow + keep_resident 128 KiB",
        keep_resident: 128 << 10,
        ..BASE
    },
    Opt {
        name: "no cow + keep_resident 128 KiB",
        cow: false,
        keep_resident: 128 << 10,
        ..BASE
    },
    Opt {
        name: "cow + keep_resident 1 MiB + pagemap_scan",
        keep_resident: 1 << 20,
        pagemap_scan: true,
        ..BASE
    },
    Opt {
        name: "no cow + keep_resident 1 MiB + pagemap_scan",
        cow: false,
        keep_resident: 1 << 20,
        pagemap_scan: true,
        ..BASE
    },
    Opt {
        name: "cow + decommit_batch_size 16",
        decommit_batch: 16,
        ..BASE
    },
    Opt {
        name: "cow + decommit_batch_size 64",
        decommit_batch: 64,
        ..BASE
    },
    Opt {
        name: "cow + decommit_batch_size 256",
        decommit_batch: 256,
        ..BASE
    },
    Opt {
        name: "no cow + decommit_batch_size 64",
        cow: false,
        decommit_batch: 64,
        ..BASE
    },
    Opt {
        name: "cow + batch 64 + keep_resident 1 MiB + pagemap",
        keep_resident: 1 << 20,
        pagemap_scan: true,
        decommit_batch: 64,
        ..BASE
    },
];

/// The engine configuration Caxton's host builds, with `opt` applied.
fn config(opt: &Opt, slots: u32) -> Config {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .max_memory_size(MEMORY)
        .max_unused_warm_slots(slots)
        .linear_memory_keep_resident(opt.keep_resident)
        .table_keep_resident(opt.keep_resident)
        .decommit_batch_size(opt.decommit_batch)
        .pagemap_scan(if opt.pagemap_scan {
            wasmtime::Enabled::Yes
        } else {
            wasmtime::Enabled::No
        });
    let mut cfg = Config::new();
    cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .wasm_wide_arithmetic(true)
        .epoch_interruption(true)
        .memory_init_cow(opt.cow);
    cfg
}

/// Instantiates `n` times, keeping every store; returns them and the time
/// per instance in microseconds.
fn batch(engine: &Engine, pre: &InstancePre<()>, n: usize) -> (Vec<Store<()>>, f64) {
    let mut stores = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let mut store = Store::new(engine, ());
        store.set_epoch_deadline(1 << 40);
        pre.instantiate(&mut store).expect("instantiate");
        stores.push(store);
    }
    (stores, per(start.elapsed(), n))
}

fn per(took: Duration, n: usize) -> f64 {
    took.as_secs_f64() * 1e6 / n as f64
}

/// Fresh, reused and drop figures of one option in one round.
fn round(opt: &Opt, artifact: &[u8], n: usize) -> wasmtime::Result<[f64; 3]> {
    // Twice the slots the batch needs, as in a real host: a slot still
    // waiting for its (batched) decommit is not reused, another is taken.
    let engine = Engine::new(&config(opt, 2 * n as u32))?;
    // SAFETY: the artifact was compiled just now by an engine of the same
    // configuration in this process.
    let module = unsafe { Module::deserialize(&engine, artifact)? };
    let mut linker = Linker::new(&engine);
    // Instantiation calls no import: stubs stand in for the host's.
    linker.define_unknown_imports_as_traps(&module)?;
    let pre = linker.instantiate_pre(&module)?;
    let (stores, fresh) = batch(&engine, &pre, n);
    drop(stores);
    let (stores, reused) = batch(&engine, &pre, n);
    let start = Instant::now();
    drop(stores);
    Ok([fresh, reused, per(start.elapsed(), n)])
}

/// Caxton's spawn path on its default engine settings, same protocol.
fn caxton_round(n: usize) -> Result<[f64; 3], Box<dyn std::error::Error>> {
    let host = WasmHost::new(HostConfig {
        no_disk_cache: true,
        ..HostConfig::pooling(2 * n as u32, MEMORY)
    })?;
    let module = host.load(guests::ECHO)?;
    let limits = AgentLimits::default().max_memory(MEMORY);
    let spawn = |n: usize| -> Result<_, Box<dyn std::error::Error>> {
        let start = Instant::now();
        let agents = (0..n)
            .map(|_| module.instantiate(limits))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((agents, per(start.elapsed(), n)))
    };
    let (agents, fresh) = spawn(n)?;
    drop(agents);
    let (agents, reused) = spawn(n)?;
    let start = Instant::now();
    drop(agents);
    let times = [fresh, reused, per(start.elapsed(), n)];
    Ok(times)
}

/// `median [min-max]` of `xs`.
fn summary(xs: &mut [f64]) -> String {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    let median = if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    };
    format!("{median:6.2} [{:.2}-{:.2}]", xs[0], xs[xs.len() - 1])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(7), |a| a.parse())?;
    // Only the options whose number (0-based, in table order) is listed.
    let only: Option<Vec<usize>> = args
        .next()
        .map(|a| a.split(',').map(str::parse).collect())
        .transpose()?;
    let wanted = |i: usize| only.as_ref().is_none_or(|o| o.contains(&i));
    // wasmtime's `memory_protection_keys` needs the CPU's `pku` (and the
    // crate feature of that name, off here).
    let pku = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.split_whitespace().any(|w| w == "pku"));
    println!(
        "memory protection keys (cpu flag pku): {}",
        if pku { "yes" } else { "no" }
    );
    // Another build of the echo guest (a smaller stack, say) when given.
    let echo = match std::env::var_os("CAXTON_ECHO_WASM") {
        Some(path) => std::fs::read(path)?,
        None => guests::ECHO.to_vec(),
    };
    let artifacts = OPTIONS
        .iter()
        .map(|o| Engine::new(&config(o, 1))?.precompile_module(&echo))
        .collect::<wasmtime::Result<Vec<_>>>()?;
    let rows = OPTIONS.len() + 1;
    let mut samples = vec![[Vec::new(), Vec::new(), Vec::new()]; rows];
    for _ in 0..rounds {
        for (i, (opt, artifact)) in OPTIONS.iter().zip(&artifacts).enumerate().filter(|(i, _)| wanted(*i)) {
            for (s, v) in samples[i].iter_mut().zip(round(opt, artifact, n)?) {
                s.push(v);
            }
        }
        if wanted(rows - 1) {
            for (s, v) in samples[rows - 1].iter_mut().zip(caxton_round(n)?) {
                s.push(v);
            }
        }
    }
    println!(
        "echo guest, batches of {n} in a pool of {} slots of {} MiB, {rounds} rounds; us per instance, median [min-max]",
        2 * n,
        MEMORY >> 20
    );
    println!(
        "{:<46} {:>22} {:>22} {:>22}",
        "option", "fresh slot", "reused slot", "drop"
    );
    let names = OPTIONS
        .iter()
        .map(|o| o.name)
        .chain(["caxton WasmModule::instantiate, HostConfig defaults"]);
    for (name, s) in names.zip(&mut samples).filter(|(_, s)| !s[0].is_empty()) {
        let [f, r, d] = s;
        println!("{name:<46} {:>22} {:>22} {:>22}", summary(f), summary(r), summary(d));
    }
    Ok(())
}
