//! CPU-bound kernels shared by the `compute` WASM guest and its native twin,
//! so the WASM-overhead ratio compares exactly the same source code.
//!
//! One kernel measures one instruction mix, and a single mix says more about
//! one code-generation decision than about WASM overhead (the Collatz loop's
//! cost is a three-instruction dependency chain). So there are four, each
//! typical of work an agent does, none of them vectorizable (the guest is
//! built without SIMD): [`Kernel::ALL`]. The overhead figure is their
//! geometric mean, with each kernel's own ratio reported beside it.
#![no_std]
#![warn(missing_docs)]

/// Size of a compute request: the kernel's code (1 byte), an 8-byte seed
/// and a 4-byte round count, both little-endian.
pub const REQUEST_LEN: usize = 13;

/// The kernels a compute request can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kernel {
    /// [`collatz_mix`]: integer arithmetic and data-dependent branches.
    Collatz = 0,
    /// [`sort_mix`]: `sort_unstable` of pseudo-random integers (compares,
    /// swaps, memory traffic).
    Sort = 1,
    /// [`crc32_mix`]: table-driven CRC-32 over a buffer (byte loads and
    /// table lookups).
    Crc32 = 2,
    /// [`parse_mix`]: parsing comma-separated decimal numbers (byte
    /// scanning, as in decoding a text message).
    Parse = 3,
}

impl Kernel {
    /// Every kernel, in code order.
    pub const ALL: [Kernel; 4] = [Kernel::Collatz, Kernel::Sort, Kernel::Crc32, Kernel::Parse];

    /// The kernel's name, as reports show it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Collatz => "collatz",
            Kernel::Sort => "sort",
            Kernel::Crc32 => "crc32",
            Kernel::Parse => "parse",
        }
    }

    /// The kernel with this code, if any.
    pub fn from_code(code: u8) -> Option<Kernel> {
        Kernel::ALL.get(usize::from(code)).copied()
    }

    /// Runs the kernel: `rounds` rounds on input derived from `seed`.
    pub fn run(self, seed: u64, rounds: u32) -> u64 {
        match self {
            Kernel::Collatz => collatz_mix(seed, rounds),
            Kernel::Sort => sort_mix(seed, rounds),
            Kernel::Crc32 => crc32_mix(seed, rounds),
            Kernel::Parse => parse_mix(seed, rounds),
        }
    }
}

/// Builds a compute request payload.
pub fn encode_request(kernel: Kernel, seed: u64, rounds: u32) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    out[0] = kernel as u8;
    out[1..9].copy_from_slice(&seed.to_le_bytes());
    out[9..].copy_from_slice(&rounds.to_le_bytes());
    out
}

/// Parses a request payload into `(kernel, seed, rounds)`; `None` if
/// malformed or naming no kernel.
pub fn decode_request(payload: &[u8]) -> Option<(Kernel, u64, u32)> {
    if payload.len() != REQUEST_LEN {
        return None;
    }
    let kernel = Kernel::from_code(payload[0])?;
    let seed = u64::from_le_bytes(payload[1..9].try_into().ok()?);
    let rounds = u32::from_le_bytes(payload[9..].try_into().ok()?);
    Some((kernel, seed, rounds))
}

/// Handles one request payload: runs the named kernel and returns the
/// 8-byte little-endian result, or `None` for a malformed request.
pub fn handle_request(payload: &[u8]) -> Option<[u8; 8]> {
    let (kernel, seed, rounds) = decode_request(payload)?;
    Some(kernel.run(seed, rounds).to_le_bytes())
}

/// One xorshift64 step: the kernels' input generator.
#[inline]
fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// A branchy, data-dependent integer kernel (xorshift PRNG feeding Collatz
/// sequences): each round one sequence of up to a few hundred steps.
pub fn collatz_mix(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    let mut acc = 0u64;
    for _ in 0..rounds {
        x = xorshift(x);
        let mut n = (x % 1_000_000) + 1;
        let mut steps = 0u64;
        while n != 1 {
            n = if n.is_multiple_of(2) { n / 2 } else { 3 * n + 1 };
            steps += 1;
        }
        acc = acc.wrapping_mul(31).wrapping_add(steps);
    }
    acc
}

/// Integers sorted per round by [`sort_mix`].
const SORT_LEN: usize = 512;

/// Each round fills an array of 512 pseudo-random `u32`s and sorts it with
/// `sort_unstable`; the result folds a few sorted positions.
pub fn sort_mix(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    let mut acc = 0u64;
    let mut items = [0u32; SORT_LEN];
    for _ in 0..rounds {
        for item in items.iter_mut() {
            x = xorshift(x);
            *item = x as u32;
        }
        items.sort_unstable();
        let probe = items[0] ^ items[SORT_LEN / 2] ^ items[SORT_LEN - 1];
        acc = acc.wrapping_mul(31).wrapping_add(u64::from(probe));
    }
    acc
}

/// CRC-32 (IEEE, reflected) lookup table, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Bytes checksummed per round by [`crc32_mix`].
const CRC_LEN: usize = 1024;

/// CRC-32 of `bytes`, one byte and one table lookup at a time.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

/// Each round computes the CRC-32 of a 1 KiB pseudo-random buffer whose
/// first bytes the previous round's result changed.
pub fn crc32_mix(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    let mut buf = [0u8; CRC_LEN];
    for chunk in buf.as_chunks_mut::<8>().0 {
        x = xorshift(x);
        *chunk = x.to_le_bytes();
    }
    let mut acc = 0u64;
    for _ in 0..rounds {
        let crc = crc32(&buf);
        buf[..4].copy_from_slice(&crc.to_le_bytes());
        acc = acc.wrapping_mul(31).wrapping_add(u64::from(crc));
    }
    acc
}

/// Numbers per text parsed by [`parse_mix`].
const PARSE_NUMBERS: usize = 128;
/// Room for the text: up to 10 digits and a comma per number.
const PARSE_CAP: usize = PARSE_NUMBERS * 11;

/// Sums the comma-separated decimal numbers in `text`; `None` at a byte
/// that is neither a digit nor a comma, or on overflow.
pub fn parse_sum(text: &[u8]) -> Option<u64> {
    let mut sum = 0u64;
    let mut current = 0u64;
    for &b in text {
        match b {
            b'0'..=b'9' => current = current.checked_mul(10)?.checked_add(u64::from(b - b'0'))?,
            b',' => {
                sum = sum.checked_add(current)?;
                current = 0;
            }
            _ => return None,
        }
    }
    sum.checked_add(current)
}

/// Writes `n` in decimal at `out[at..]`; returns the position after it.
fn write_decimal(out: &mut [u8], at: usize, mut n: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..len].iter().rev().enumerate() {
        out[at + i] = *d;
    }
    at + len
}

/// Each round parses a text of 128 comma-separated pseudo-random numbers
/// and sums them; the previous round's sum changes the text's first digit.
pub fn parse_mix(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    let mut text = [0u8; PARSE_CAP];
    let mut len = 0;
    for i in 0..PARSE_NUMBERS {
        if i > 0 {
            text[len] = b',';
            len += 1;
        }
        x = xorshift(x);
        len = write_decimal(&mut text, len, x as u32);
    }
    let text = &mut text[..len];
    let mut acc = 0u64;
    for _ in 0..rounds {
        let sum = parse_sum(text).unwrap_or(0);
        text[0] = b'1' + (sum % 9) as u8;
        acc = acc.wrapping_mul(31).wrapping_add(sum);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips() {
        for kernel in Kernel::ALL {
            assert_eq!(decode_request(&encode_request(kernel, 7, 9)), Some((kernel, 7, 9)));
        }
        assert_eq!(decode_request(b"short"), None);
        let mut unknown = encode_request(Kernel::Parse, 7, 9);
        unknown[0] = 4;
        assert_eq!(decode_request(&unknown), None);
    }

    #[test]
    fn kernels_are_deterministic_and_seeded() {
        for kernel in Kernel::ALL {
            assert_eq!(kernel.run(42, 20), kernel.run(42, 20), "{}", kernel.name());
            assert_ne!(kernel.run(41, 20), kernel.run(45, 20), "{}", kernel.name());
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn parse_sum_reads_decimal_lists() {
        assert_eq!(parse_sum(b"1,22,333"), Some(356));
        assert_eq!(parse_sum(b"4294967295,1"), Some(4_294_967_296));
        assert_eq!(parse_sum(b"1,x"), None);
    }

    #[test]
    fn write_decimal_writes_every_digit() {
        let mut out = [0u8; 12];
        let end = write_decimal(&mut out, 1, 4_294_967_295);
        assert_eq!(&out[1..end], b"4294967295");
        assert_eq!(write_decimal(&mut out, 0, 0), 1);
        assert_eq!(out[0], b'0');
    }

    #[test]
    fn sort_mix_sorts() {
        // One round of the generator, sorted by hand, gives the same fold.
        let mut x = 5u64 | 1;
        let mut items = [0u32; SORT_LEN];
        for item in items.iter_mut() {
            x = xorshift(x);
            *item = x as u32;
        }
        items.sort();
        let probe = items[0] ^ items[SORT_LEN / 2] ^ items[SORT_LEN - 1];
        assert_eq!(sort_mix(5, 1), u64::from(probe));
    }
}
