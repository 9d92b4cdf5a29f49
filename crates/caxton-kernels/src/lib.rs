//! CPU-bound kernels shared by the `compute` WASM guest and its native twin,
//! so the WASM-overhead ratio compares exactly the same source code.
#![no_std]
#![warn(missing_docs)]

/// Size of a compute request: an 8-byte seed then a 4-byte round count,
/// both little-endian.
pub const REQUEST_LEN: usize = 12;

/// Builds a compute request payload.
pub fn encode_request(seed: u64, rounds: u32) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    out[..8].copy_from_slice(&seed.to_le_bytes());
    out[8..].copy_from_slice(&rounds.to_le_bytes());
    out
}

/// Parses a request payload into `(seed, rounds)`; `None` if malformed.
pub fn decode_request(payload: &[u8]) -> Option<(u64, u32)> {
    if payload.len() != REQUEST_LEN {
        return None;
    }
    let seed = u64::from_le_bytes(payload[..8].try_into().ok()?);
    let rounds = u32::from_le_bytes(payload[8..].try_into().ok()?);
    Some((seed, rounds))
}

/// Handles one request payload: runs [`collatz_mix`] and returns the
/// 8-byte little-endian result, or `None` for a malformed request.
pub fn handle_request(payload: &[u8]) -> Option<[u8; 8]> {
    let (seed, rounds) = decode_request(payload)?;
    Some(collatz_mix(seed, rounds).to_le_bytes())
}

/// A branchy, data-dependent integer kernel (xorshift PRNG feeding Collatz
/// sequences) that compilers cannot vectorize, so it measures code
/// generation and sandbox overhead rather than SIMD support.
pub fn collatz_mix(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    let mut acc = 0u64;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips() {
        assert_eq!(decode_request(&encode_request(7, 9)), Some((7, 9)));
        assert_eq!(decode_request(b"short"), None);
    }

    #[test]
    fn kernel_is_deterministic() {
        assert_eq!(collatz_mix(42, 100), collatz_mix(42, 100));
        assert_ne!(collatz_mix(41, 100), collatz_mix(45, 100));
    }
}
