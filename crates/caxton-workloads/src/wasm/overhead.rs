//! The WASM-overhead measurement, shared by the example, the suite and the
//! benches: each [`Kernel`] called in a compute guest (payload copied in,
//! handler run, reply copied out) against the same Rust code called
//! natively, in interleaved pairs so both sides see the same machine.
//! The kernels' ratios are summarized with `caxton_stats::geomean`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use caxton_kernels::{Kernel, encode_request, handle_request};
use caxton_runtime::{AgentError, Performative};
use caxton_wasm::WasmAgent;

/// Seed of every overhead measurement: the same input everywhere.
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Rounds per call of `kernel`, chosen so that one native call takes
/// roughly 100 to 300 µs here (long enough to dwarf the call itself).
pub fn rounds(kernel: Kernel) -> u32 {
    match kernel {
        Kernel::Collatz => 1_000,
        Kernel::Sort => 20,
        Kernel::Crc32 => 150,
        Kernel::Parse => 300,
    }
}

/// The request payload for `kernel` at its measurement size.
pub fn request(kernel: Kernel) -> [u8; caxton_kernels::REQUEST_LEN] {
    encode_request(kernel, SEED, rounds(kernel))
}

/// One interleaved pair: the same number of calls in WASM and natively.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// The kernel timed.
    pub kernel: Kernel,
    /// Time for the calls into the guest.
    pub wasm: Duration,
    /// Time for the same calls to the native code.
    pub native: Duration,
}

impl Pair {
    /// WASM time / native time.
    pub fn ratio(&self) -> f64 {
        self.wasm.as_secs_f64() / self.native.as_secs_f64()
    }
}

/// Times `calls` calls of `kernel` into `agent` (a compute guest), then
/// `calls` native calls of the same code.
pub fn time_pair(agent: &mut WasmAgent, kernel: Kernel, calls: u32) -> Result<Pair, AgentError> {
    let req = request(kernel);
    let start = Instant::now();
    for _ in 0..calls {
        agent.call(Performative::Request, black_box(&req))?;
    }
    let wasm = start.elapsed();
    let start = Instant::now();
    for _ in 0..calls {
        black_box(handle_request(black_box(&req)));
    }
    let native = start.elapsed();
    Ok(Pair { kernel, wasm, native })
}

/// A kernel's overhead from many short interleaved pairs: the median of
/// their ratios (short pairs and the median shed the machine's speed
/// shifts, which a single long pair would fold into the ratio).
#[derive(Clone, Copy, Debug)]
pub struct KernelOverhead {
    /// The kernel measured.
    pub kernel: Kernel,
    /// Median of the pairs' WASM / native ratios ([`caxton_stats::median`]:
    /// for an even count, the mean of the middle two).
    pub ratio: f64,
    /// Fastest WASM call seen.
    pub wasm_call: Duration,
    /// Fastest native call seen.
    pub native_call: Duration,
}

/// Calls per side in each of [`measure`]'s pairs.
const CALLS_PER_PAIR: u32 = 2;

/// Measures `kernel` in `pairs` interleaved pairs (at least one).
pub fn measure(agent: &mut WasmAgent, kernel: Kernel, pairs: usize) -> Result<KernelOverhead, AgentError> {
    let mut ratios = Vec::with_capacity(pairs.max(1));
    let (mut wasm_call, mut native_call) = (Duration::MAX, Duration::MAX);
    for _ in 0..pairs.max(1) {
        let pair = time_pair(agent, kernel, CALLS_PER_PAIR)?;
        ratios.push(pair.ratio());
        wasm_call = wasm_call.min(pair.wasm / CALLS_PER_PAIR);
        native_call = native_call.min(pair.native / CALLS_PER_PAIR);
    }
    Ok(KernelOverhead {
        kernel,
        // NaN only if a side took no measurable time.
        ratio: caxton_stats::median(&ratios).unwrap_or(f64::NAN),
        wasm_call,
        native_call,
    })
}
