//! Masking keys for client frames: a ChaCha12 keystream seeded from the operating system's
//! random source on first use, so a key costs a few dozen instructions instead of a system call.
//! Tests and fuzzers seed it explicitly to get byte-exact frames.
#![forbid(unsafe_code)]

use crate::error::Result;

const ROUNDS: usize = 12;

/// A per-handle source of 32-bit masking keys.
#[derive(Clone)]
pub struct MaskKeys {
    state: Option<Box<ChaCha>>,
}

impl core::fmt::Debug for MaskKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MaskKeys { .. }")
    }
}

#[derive(Clone)]
struct ChaCha {
    key: [u32; 8],
    counter: u64,
    block: [u32; 16],
    next: usize,
}

impl MaskKeys {
    /// A source that seeds itself from the OS on first use.
    pub fn from_os() -> MaskKeys {
        MaskKeys { state: None }
    }

    /// A deterministic source (tests, fuzzing, benchmarks).
    pub fn from_seed(seed: [u8; 32]) -> MaskKeys {
        MaskKeys { state: Some(Box::new(ChaCha::new(seed))) }
    }

    /// The next masking key.
    #[inline(always)]
    pub fn next_key(&mut self) -> Result<[u8; 4]> {
        if let Some(c) = self.state.as_mut() {
            if c.next < 16 {
                let w = c.block[c.next];
                c.next += 1;
                return Ok(w.to_le_bytes());
            }
        }
        self.next_key_slow()
    }

    /// `next_key` when the buffered block is used up or the source is not seeded yet.
    #[inline(never)]
    fn next_key_slow(&mut self) -> Result<[u8; 4]> {
        if self.state.is_none() {
            let mut seed = [0u8; 32];
            crate::sys::os::random_bytes(&mut seed)?;
            self.state = Some(Box::new(ChaCha::new(seed)));
        }
        match self.state.as_mut() {
            Some(c) => Ok(c.next_word().to_le_bytes()),
            None => Err(crate::error::Error::Internal),
        }
    }
}

impl ChaCha {
    fn new(seed: [u8; 32]) -> ChaCha {
        let mut key = [0u32; 8];
        for (k, c) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        ChaCha { key, counter: 0, block: [0; 16], next: 16 }
    }

    fn next_word(&mut self) -> u32 {
        if self.next == 16 {
            self.refill();
        }
        let w = self.block[self.next];
        self.next += 1;
        w
    }

    fn refill(&mut self) {
        let s = [
            0x6170_7865,
            0x3320_646e,
            0x7962_2d32,
            0x6b20_6574,
            self.key[0],
            self.key[1],
            self.key[2],
            self.key[3],
            self.key[4],
            self.key[5],
            self.key[6],
            self.key[7],
            self.counter as u32,
            (self.counter >> 32) as u32,
            0,
            0,
        ];
        self.block = match crate::sys::simd::chacha_block(&s, ROUNDS) {
            Some(block) => block,
            None => block_scalar(s, ROUNDS),
        };
        self.counter = self.counter.wrapping_add(1);
        self.next = 0;
    }
}

/// The ChaCha block function (RFC 7539 §2.3) with `rounds` rounds, one word at a time (where
/// `sys::simd` has no vector version, and as the tests' reference).
fn block_scalar(input: [u32; 16], rounds: usize) -> [u32; 16] {
    let mut s = input;
    for _ in 0..rounds / 2 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    for (o, i) in s.iter_mut().zip(input.iter()) {
        *o = o.wrapping_add(*i);
    }
    s
}

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_round_matches_rfc7539_2_1_1() {
        let mut s = [0u32; 16];
        s[0] = 0x1111_1111;
        s[1] = 0x0102_0304;
        s[2] = 0x9b8d_6f43;
        s[3] = 0x0123_4567;
        quarter(&mut s, 0, 1, 2, 3);
        assert_eq!(&s[..4], &[0xea2a_92f4, 0xcb1c_f8ce, 0x4581_472e, 0x5881_c4bb]);
    }

    /// RFC 7539 §2.3.2: the block function's test vector (20 rounds).
    const RFC7539_INPUT: [u32; 16] = [
        0x6170_7865,
        0x3320_646e,
        0x7962_2d32,
        0x6b20_6574,
        0x0302_0100,
        0x0706_0504,
        0x0b0a_0908,
        0x0f0e_0d0c,
        0x1312_1110,
        0x1716_1514,
        0x1b1a_1918,
        0x1f1e_1d1c,
        0x0000_0001,
        0x0900_0000,
        0x4a00_0000,
        0x0000_0000,
    ];
    const RFC7539_OUTPUT: [u32; 16] = [
        0xe4e7_f110,
        0x1559_3bd1,
        0x1fdd_0f50,
        0xc471_20a3,
        0xc7f4_d1c7,
        0x0368_c033,
        0x9aaa_2204,
        0x4e6c_d4c3,
        0x4664_82d2,
        0x09aa_9f07,
        0x05d7_c214,
        0xa202_8bd9,
        0xd19c_12b5,
        0xb94e_16de,
        0xe883_d0cb,
        0x4e3c_50a2,
    ];

    #[test]
    fn block_function_matches_rfc7539_2_3_2() {
        assert_eq!(block_scalar(RFC7539_INPUT, 20), RFC7539_OUTPUT);
        if let Some(block) = crate::sys::simd::chacha_block(&RFC7539_INPUT, 20) {
            assert_eq!(block, RFC7539_OUTPUT);
        }
    }

    #[test]
    fn vector_block_equals_the_scalar_one() {
        // 12 rounds (the keystream's) and others, over states that vary every word.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for n in 0..200 {
            let mut input = [0u32; 16];
            for w in input.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *w = x as u32;
            }
            for rounds in [2, 8, 12, 20] {
                if let Some(block) = crate::sys::simd::chacha_block(&input, rounds) {
                    assert_eq!(block, block_scalar(input, rounds), "state {n}, {rounds} rounds");
                }
            }
        }
    }

    #[test]
    fn seeded_keys_are_deterministic_and_vary() {
        let mut a = MaskKeys::from_seed([7; 32]);
        let mut b = MaskKeys::from_seed([7; 32]);
        let ka: Vec<[u8; 4]> = (0..40).map(|_| a.next_key().unwrap()).collect();
        let kb: Vec<[u8; 4]> = (0..40).map(|_| b.next_key().unwrap()).collect();
        assert_eq!(ka, kb);
        let distinct: std::collections::HashSet<_> = ka.iter().collect();
        assert_eq!(distinct.len(), 40);
    }

    #[test]
    fn os_seeded_sources_differ() {
        let mut a = MaskKeys::from_os();
        let mut b = MaskKeys::from_os();
        let ka: Vec<[u8; 4]> = (0..4).map(|_| a.next_key().unwrap()).collect();
        let kb: Vec<[u8; 4]> = (0..4).map(|_| b.next_key().unwrap()).collect();
        assert_ne!(ka, kb);
    }
}
