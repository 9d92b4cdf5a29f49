//! What Cranelift's and wasmtime's code-generation options do to the
//! WASM/native ratio of the four compute kernels (`caxton_kernels`, the
//! suite's `wasm-overhead` step), interleaved in one process.
//!
//! Every option gets its own engine and compute-guest instance. Each round
//! visits every option in turn; per option and kernel it times 9 short
//! pairs (2 calls into the guest, then 2 calls of the same Rust code
//! natively) and keeps the median of the pairs' ratios, as the suite does.
//! The table shows, per option, the median over rounds of the kernels'
//! geometric mean with the fastest and slowest round, and each kernel's
//! median ratio. Guest calls go straight to `caxton_handle` (the request
//! copied into the guest's inbox first, the reply import a no-op).
//!
//! Run with `cargo run --release -p caxton-wasm --example compute_options
//! [ROUNDS]` (default 15); with `CAXTON_WASM_PERFMAP=1` under `perf record`
//! the guest's functions have names in `perf report`; `CAXTON_COMPUTE_WASM=FILE`
//! measures another build of the compute guest (the native side stays this
//! build's kernels).

use std::hint::black_box;
use std::time::Instant;

use caxton_kernels::{Kernel, encode_request, handle_request};
use caxton_wasm::guests;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Linker, Memory, Module, OptLevel, PoolingAllocationConfig, Store,
    TypedFunc,
};

/// How the guest's CPU time is bounded.
#[derive(Clone, Copy, PartialEq)]
enum Bound {
    Epoch,
    Fuel,
    Off,
}

/// One engine configuration.
#[derive(Clone, Copy)]
struct Opt {
    name: &'static str,
    opt_level: OptLevel,
    bound: Bound,
    /// Linear-memory reservation; under 4 GiB every load and store gets
    /// an explicit bounds check.
    reservation: Option<u64>,
    nan_canonicalization: bool,
}

const BASE: Opt = Opt {
    name: "",
    opt_level: OptLevel::Speed,
    bound: Bound::Epoch,
    reservation: None,
    nan_canonicalization: false,
};

const OPTIONS: [Opt; 7] = [
    Opt {
        name: "speed, epoch, 4 GiB reservation (default)",
        ..BASE
    },
    Opt {
        name: "speed, fuel",
        bound: Bound::Fuel,
        ..BASE
    },
    Opt {
        name: "speed, no CPU bound",
        bound: Bound::Off,
        ..BASE
    },
    Opt {
        name: "speed_and_size, epoch",
        opt_level: OptLevel::SpeedAndSize,
        ..BASE
    },
    Opt {
        name: "opt_level none, epoch",
        opt_level: OptLevel::None,
        ..BASE
    },
    Opt {
        name: "speed, epoch, 4 MiB reservation (bounds checks)",
        reservation: Some(4 << 20),
        ..BASE
    },
    Opt {
        name: "speed, epoch, nan canonicalization on",
        nan_canonicalization: true,
        ..BASE
    },
];

/// Rounds per kernel call: one native call takes about 100-300 us here
/// (`caxton_workloads::wasm::overhead::rounds`).
fn rounds(kernel: Kernel) -> u32 {
    match kernel {
        Kernel::Collatz => 1_000,
        Kernel::Sort => 20,
        Kernel::Crc32 => 150,
        Kernel::Parse => 300,
    }
}

/// A compute-guest instance under one option.
struct Guest {
    store: Store<()>,
    memory: Memory,
    handle: TypedFunc<(u32, u64, u32), u32>,
    inbox: u32,
    bound: Bound,
}

impl Guest {
    fn new(opt: &Opt) -> wasmtime::Result<Self> {
        let mut cfg = Config::new();
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(4)
            .total_memories(4)
            .total_tables(4)
            .max_memory_size(4 << 20);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .wasm_wide_arithmetic(true)
            .cranelift_opt_level(opt.opt_level)
            .cranelift_nan_canonicalization(opt.nan_canonicalization)
            .epoch_interruption(opt.bound == Bound::Epoch)
            .consume_fuel(opt.bound == Bound::Fuel);
        if std::env::var_os("CAXTON_WASM_PERFMAP").is_some() {
            // `perf report` / `perf annotate` then name guest functions.
            cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(bytes) = opt.reservation {
            cfg.memory_reservation(bytes)
                .memory_guard_size(0)
                .memory_reservation_for_growth(0);
        }
        let engine = Engine::new(&cfg)?;
        let module = match std::env::var_os("CAXTON_COMPUTE_WASM") {
            Some(path) => Module::new(&engine, std::fs::read(path)?)?,
            None => Module::new(&engine, guests::COMPUTE)?,
        };
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker.define_unknown_imports_as_default_values(&mut store, &module)?;
        let instance = linker.instantiate(&mut store, &module)?;
        let memory = instance.get_memory(&mut store, "memory").expect("memory export");
        let inbox_fn = instance.get_typed_func::<u32, u32>(&mut store, "caxton_inbox")?;
        let handle = instance.get_typed_func(&mut store, "caxton_handle")?;
        let mut guest = Self {
            store,
            memory,
            handle,
            inbox: 0,
            bound: opt.bound,
        };
        guest.arm();
        guest.inbox = inbox_fn.call(&mut guest.store, caxton_kernels::REQUEST_LEN as u32)?;
        Ok(guest)
    }

    /// The per-call budget Caxton arms: a far deadline, or plenty of fuel.
    fn arm(&mut self) {
        match self.bound {
            Bound::Epoch => self.store.set_epoch_deadline(1 << 40),
            Bound::Fuel => self.store.set_fuel(u64::MAX).expect("fuel enabled"),
            Bound::Off => {}
        }
    }

    fn call(&mut self, req: &[u8]) -> wasmtime::Result<u32> {
        let at = self.inbox as usize;
        self.memory.data_mut(&mut self.store)[at..at + req.len()].copy_from_slice(req);
        self.arm();
        self.handle.call(&mut self.store, (1, 0, req.len() as u32))
    }
}

/// Median of the WASM/native ratios of `pairs` interleaved pairs.
fn kernel_ratio(guest: &mut Guest, kernel: Kernel, pairs: usize) -> wasmtime::Result<f64> {
    let req = encode_request(kernel, 0x9e37_79b9_7f4a_7c15, rounds(kernel));
    let mut ratios = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let start = Instant::now();
        for _ in 0..2 {
            guest.call(black_box(&req))?;
        }
        let wasm = start.elapsed();
        let start = Instant::now();
        for _ in 0..2 {
            black_box(handle_request(black_box(&req)));
        }
        ratios.push(wasm.as_secs_f64() / start.elapsed().as_secs_f64());
    }
    Ok(median(&mut ratios))
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

fn main() -> wasmtime::Result<()> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(15), |a| a.parse())?;
    let mut guests = OPTIONS.iter().map(Guest::new).collect::<wasmtime::Result<Vec<_>>>()?;
    // Per option: geometric means per round, and per kernel the ratios.
    let mut means = vec![Vec::new(); OPTIONS.len()];
    let mut per_kernel = vec![vec![Vec::new(); Kernel::ALL.len()]; OPTIONS.len()];
    for round in 0..=rounds {
        for (i, guest) in guests.iter_mut().enumerate() {
            let ratios = Kernel::ALL
                .iter()
                .map(|&k| kernel_ratio(guest, k, 9))
                .collect::<wasmtime::Result<Vec<_>>>()?;
            // Round 0 warms caches and frequency up; it is not kept.
            if round > 0 {
                means[i].push(geomean(&ratios));
                for (samples, r) in per_kernel[i].iter_mut().zip(ratios) {
                    samples.push(r);
                }
            }
        }
    }
    println!("WASM time / native time, {rounds} rounds, median [min-max] of the geometric mean, then per kernel");
    print!("{:<48} {:>20}", "option", "geomean");
    for k in Kernel::ALL {
        print!(" {:>8}", k.name());
    }
    println!();
    for ((opt, m), ks) in OPTIONS.iter().zip(&mut means).zip(&mut per_kernel) {
        let med = median(m);
        print!("{:<48} {med:>6.3} [{:.3}-{:.3}]", opt.name, m[0], m[m.len() - 1]);
        for k in ks.iter_mut() {
            print!(" {:>8.3}", median(k));
        }
        println!();
    }
    Ok(())
}
