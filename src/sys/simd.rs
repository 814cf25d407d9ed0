//! Run-time selected SIMD kernels (the unsafe intrinsics live here, with the rest of the
//! crate's unsafe code). The default x86-64 target only guarantees SSE2; AVX2 is used when the
//! CPU has it. Every kernel has a portable fallback in its caller, which is also what runs under
//! Miri (it cannot execute these intrinsics).

/// XORs every 8-byte word of the longest prefix of `buf` that is a multiple of 64 bytes with
/// `word`, using AVX2 when available. Returns the number of bytes processed (0 without AVX2)
/// and, with `ASCII`, whether every byte written is ASCII (below 0x80; always true without).
pub fn xor_blocks<const ASCII: bool>(buf: &mut [u8], word: u64) -> (usize, bool) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // Plain XOR below 256 bytes is as quick in the caller's 8-byte lanes; the ASCII test is
        // not, so text takes the AVX2 blocks from 64 bytes on.
        let least = if ASCII { 64 } else { 256 };
        if buf.len() >= least && std::is_x86_feature_detected!("avx2") {
            let blocks = buf.len() / 64;
            let p = buf.as_mut_ptr();
            // SAFETY: AVX2 is available (checked just above); in place on `buf`, which holds
            // the `blocks` whole blocks.
            return (blocks * 64, unsafe { xor_blocks_avx2::<ASCII>(p, p, blocks, word) });
        }
    }
    let _ = (buf, word);
    (0, true)
}

/// Writes `src` XOR `word` (per 8-byte word) into `dst` for the longest common prefix that is a
/// multiple of 64 bytes, using AVX2 when available. Returns the number of bytes written (0
/// without AVX2).
pub fn xor_copy_blocks(dst: &mut [u8], src: &[u8], word: u64) -> usize {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if dst.len().min(src.len()) >= 256 && std::is_x86_feature_detected!("avx2") {
            let blocks = dst.len().min(src.len()) / 64;
            // SAFETY: AVX2 is available (checked just above); both slices hold the `blocks`
            // whole blocks, and they are distinct borrows, so they do not overlap.
            unsafe { xor_blocks_avx2::<false>(dst.as_mut_ptr(), src.as_ptr(), blocks, word) };
            return blocks * 64;
        }
    }
    let _ = (dst, src, word);
    0
}

/// XORs `blocks` 64-byte blocks of `src` with `word` (per 8-byte word) into `dst`, which is
/// `src` (in place) or a distinct buffer. With `ASCII`, also returns whether every byte written
/// is below 0x80 (else true).
///
/// # Safety
/// AVX2 is available; `src` is readable and `dst` writable for `64 * blocks` bytes, and the two
/// are the same buffer or do not overlap.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[target_feature(enable = "avx2")]
unsafe fn xor_blocks_avx2<const ASCII: bool>(dst: *mut u8, src: *const u8, blocks: usize, word: u64) -> bool {
    use core::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi64x,
        _mm256_setzero_si256, _mm256_storeu_si256, _mm256_xor_si256,
    };
    // SAFETY: AVX2 is enabled for this function; the intrinsics only build register values
    // (safe fns on newer Rust, hence the allow; unsafe ones on Rust 1.63).
    #[allow(unused_unsafe)]
    let (key, mut seen) = unsafe { (_mm256_set1_epi64x(word as i64), _mm256_setzero_si256()) };
    // One 64-byte block: bytes [64 i, 64 i + 64) of both buffers.
    macro_rules! block {
        ($i:expr) => {
            // SAFETY: block $i < blocks covers bytes [64 i, 64 i + 64) of both buffers, in
            // bounds (this function's contract); both halves are loaded before either is
            // stored, so in place every byte is read before it is written; unaligned access is
            // allowed.
            unsafe {
                let sp = src.add($i * 64) as *const __m256i;
                let dp = dst.add($i * 64) as *mut __m256i;
                let a = _mm256_xor_si256(_mm256_loadu_si256(sp), key);
                let b = _mm256_xor_si256(_mm256_loadu_si256(sp.add(1)), key);
                _mm256_storeu_si256(dp, a);
                _mm256_storeu_si256(dp.add(1), b);
                if ASCII {
                    seen = _mm256_or_si256(seen, _mm256_or_si256(a, b));
                }
            }
        };
    }
    // Four blocks per turn of the loop (fewer loop instructions per byte), then the rest.
    let quads = blocks / 4;
    for q in 0..quads {
        block!(4 * q);
        block!(4 * q + 1);
        block!(4 * q + 2);
        block!(4 * q + 3);
    }
    for i in 4 * quads..blocks {
        block!(i);
    }
    // SAFETY: as above (register-only intrinsic).
    #[allow(unused_unsafe)]
    let high_bits = unsafe { _mm256_movemask_epi8(seen) };
    !ASCII || high_bits == 0
}

/// Payloads up to this length (and at least 16 bytes) are masked with [`xor_small`] and
/// [`xor_copy_small`]: 16-byte SSE2 vectors, the last one overlapping, so no word or byte tail.
pub const SMALL_MAX: usize = 255;

/// XORs `buf` (16 to [`SMALL_MAX`] bytes) in place with `key` repeated from `buf[0]`, in 16-byte
/// SSE2 vectors (part of every x86-64 CPU and of the i686 targets' baseline). Returns None,
/// having changed nothing, for other lengths or where SSE2 is not available (the caller has
/// the portable loop); else Some(whether every byte written is ASCII) with `ASCII`, Some(true)
/// without.
#[inline(always)]
pub fn xor_small<const ASCII: bool>(buf: &mut [u8], key: [u8; 4]) -> Option<bool> {
    #[cfg(all(any(target_arch = "x86_64", all(target_arch = "x86", target_feature = "sse2")), not(miri)))]
    {
        if (16..=SMALL_MAX).contains(&buf.len()) {
            let (p, len) = (buf.as_mut_ptr(), buf.len());
            // SAFETY: SSE2 is enabled for this target (x86-64 baseline, or the cfg above); in
            // place on `buf`, whose length was just checked.
            return Some(unsafe { xor_small_sse2::<ASCII>(p, p, len, key) });
        }
    }
    let _ = (buf, key);
    None
}

/// Writes `src` XOR `key` (repeated from `src[0]`) into `dst`, as [`xor_small`] does in place:
/// returns false, having written nothing, unless both are the same length of 16 to
/// [`SMALL_MAX`] bytes and SSE2 is available.
#[inline(always)]
pub fn xor_copy_small(dst: &mut [u8], src: &[u8], key: [u8; 4]) -> bool {
    #[cfg(all(any(target_arch = "x86_64", all(target_arch = "x86", target_feature = "sse2")), not(miri)))]
    {
        if dst.len() == src.len() && (16..=SMALL_MAX).contains(&src.len()) {
            // SAFETY: as in `xor_small`; the lengths were just checked, and `dst` and `src`
            // are distinct borrows, so they do not overlap.
            unsafe { xor_small_sse2::<false>(dst.as_mut_ptr(), src.as_ptr(), src.len(), key) };
            return true;
        }
    }
    let _ = (dst, src, key);
    false
}

/// The key as a 32-bit lane whose little-endian bytes are the mask of payload bytes
/// `at`, `at + 1`, `at + 2`, `at + 3` (`key[0]` masking byte 0).
#[cfg(all(any(target_arch = "x86_64", all(target_arch = "x86", target_feature = "sse2")), not(miri)))]
#[inline(always)]
fn key_lane(key: [u8; 4], at: usize) -> i32 {
    u32::from_le_bytes(key).rotate_right(8 * (at as u32 & 3)) as i32
}

/// Writes `len` bytes (16 to SMALL_MAX) of `src` XOR the key into `dst`; `dst` may be `src`
/// (in place), or a distinct buffer of the same length. Whole vectors from the start, then the
/// last 16 bytes as one vector computed from their original values (loaded before anything is
/// written), so the bytes it shares with the previous vector get the same value written twice.
/// With `ASCII`, returns whether every byte written is below 0x80 (else true).
///
/// # Safety
/// SSE2 is available; `src` is readable and `dst` writable for `len` bytes, and the two are the
/// same buffer or do not overlap.
#[cfg(all(any(target_arch = "x86_64", all(target_arch = "x86", target_feature = "sse2")), not(miri)))]
#[inline(always)]
unsafe fn xor_small_sse2<const ASCII: bool>(dst: *mut u8, src: *const u8, len: usize, key: [u8; 4]) -> bool {
    #[cfg(target_arch = "x86")]
    use core::arch::x86::{
        __m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi32, _mm_setzero_si128,
        _mm_storeu_si128, _mm_xor_si128,
    };
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi32, _mm_setzero_si128,
        _mm_storeu_si128, _mm_xor_si128,
    };
    let last = len - 16;
    // SAFETY: every vector accessed is 16 bytes at an offset i <= last = len - 16, so in bounds
    // of both buffers (this function's contract); each vector is loaded before it is stored, and
    // the overlapping last one was loaded first, so in place every byte is read before it is
    // written; unaligned loads and stores are allowed; the other intrinsics only compute
    // register values.
    #[allow(unused_unsafe)]
    unsafe {
        let tail = _mm_xor_si128(
            _mm_loadu_si128(src.add(last) as *const __m128i),
            _mm_set1_epi32(key_lane(key, last)),
        );
        let mut seen = _mm_setzero_si128();
        // Exactly 16 bytes: the last vector is the only one.
        if last > 0 {
            let k = _mm_set1_epi32(key_lane(key, 0));
            let mut i = 0;
            // Two vectors per turn while both start before `last`, then at most one more.
            while i + 16 < last {
                let a = _mm_xor_si128(_mm_loadu_si128(src.add(i) as *const __m128i), k);
                let b = _mm_xor_si128(_mm_loadu_si128(src.add(i + 16) as *const __m128i), k);
                _mm_storeu_si128(dst.add(i) as *mut __m128i, a);
                _mm_storeu_si128(dst.add(i + 16) as *mut __m128i, b);
                if ASCII {
                    seen = _mm_or_si128(seen, _mm_or_si128(a, b));
                }
                i += 32;
            }
            if i < last {
                let v = _mm_xor_si128(_mm_loadu_si128(src.add(i) as *const __m128i), k);
                _mm_storeu_si128(dst.add(i) as *mut __m128i, v);
                if ASCII {
                    seen = _mm_or_si128(seen, v);
                }
            }
        }
        _mm_storeu_si128(dst.add(last) as *mut __m128i, tail);
        !ASCII || _mm_movemask_epi8(_mm_or_si128(seen, tail)) == 0
    }
}

/// The ChaCha block function (RFC 7539 §2.3) with `rounds` rounds (even) on the 16-word
/// `input` state: the state after the rounds plus `input`. With SSE2 (every x86-64 CPU) the
/// four rows are four registers and the diagonal rounds rotate the lanes, about a third of the
/// instructions of the scalar function; None elsewhere (the caller has the scalar one).
pub fn chacha_block(input: &[u32; 16], rounds: usize) -> Option<[u32; 16]> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        Some(unsafe { chacha_block_sse2(input, rounds) })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (input, rounds);
        None
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn chacha_block_sse2(input: &[u32; 16], rounds: usize) -> [u32; 16] {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_loadu_si128, _mm_or_si128, _mm_shuffle_epi32, _mm_slli_epi32,
        _mm_srli_epi32, _mm_storeu_si128, _mm_xor_si128,
    };
    macro_rules! rotl {
        ($x:expr, $n:literal) => {
            _mm_or_si128(_mm_slli_epi32($x, $n), _mm_srli_epi32($x, 32 - $n))
        };
    }
    macro_rules! quarter {
        ($a:ident, $b:ident, $c:ident, $d:ident) => {
            $a = _mm_add_epi32($a, $b);
            $d = _mm_xor_si128($d, $a);
            $d = rotl!($d, 16);
            $c = _mm_add_epi32($c, $d);
            $b = _mm_xor_si128($b, $c);
            $b = rotl!($b, 12);
            $a = _mm_add_epi32($a, $b);
            $d = _mm_xor_si128($d, $a);
            $d = rotl!($d, 8);
            $c = _mm_add_epi32($c, $d);
            $b = _mm_xor_si128($b, $c);
            $b = rotl!($b, 7);
        };
    }
    let p = input.as_ptr() as *const __m128i;
    let mut out = [0u32; 16];
    let q = out.as_mut_ptr() as *mut __m128i;
    // SAFETY: `input` and `out` are 16 words = four unaligned 128-bit rows each; the other
    // intrinsics only compute register values.
    #[allow(unused_unsafe)]
    unsafe {
        let (a0, b0, c0, d0) = (
            _mm_loadu_si128(p),
            _mm_loadu_si128(p.add(1)),
            _mm_loadu_si128(p.add(2)),
            _mm_loadu_si128(p.add(3)),
        );
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for _ in 0..rounds / 2 {
            // Column round: lane i of each row is column i.
            quarter!(a, b, c, d);
            // Diagonal round: rotate rows 1-3 by 1-3 lanes so that the diagonals line up.
            b = _mm_shuffle_epi32(b, 0x39);
            c = _mm_shuffle_epi32(c, 0x4E);
            d = _mm_shuffle_epi32(d, 0x93);
            quarter!(a, b, c, d);
            b = _mm_shuffle_epi32(b, 0x93);
            c = _mm_shuffle_epi32(c, 0x4E);
            d = _mm_shuffle_epi32(d, 0x39);
        }
        _mm_storeu_si128(q, _mm_add_epi32(a, a0));
        _mm_storeu_si128(q.add(1), _mm_add_epi32(b, b0));
        _mm_storeu_si128(q.add(2), _mm_add_epi32(c, c0));
        _mm_storeu_si128(q.add(3), _mm_add_epi32(d, d0));
    }
    out
}

#[cfg(test)]
mod tests {
    /// Every length the small kernels take (and the ones around them), every key phase at the
    /// overlapping last vector, ASCII and not: the bytes of a byte-at-a-time XOR, and the right
    /// ASCII answer; lengths they do not take are left untouched.
    #[test]
    fn small_kernels_match_the_bytewise_xor() {
        let key = [0x11u8, 0x82, 0x33, 0x44];
        for len in 0..=super::SMALL_MAX + 2 {
            for high in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                let src: Vec<u8> = (0..len)
                    .map(|i| ((i * 37) as u8 & 0x7F) ^ key[i % 4] ^ if Some(i) == high { 0x80 } else { 0 })
                    .collect();
                let expect: Vec<u8> = src.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
                let sse2 =
                    cfg!(any(target_arch = "x86_64", all(target_arch = "x86", target_feature = "sse2")));
                let takes = (16..=super::SMALL_MAX).contains(&len) && sse2 && !cfg!(miri);
                let mut buf = src.clone();
                match super::xor_small::<true>(&mut buf, key) {
                    Some(ascii) => {
                        assert_eq!(buf, expect, "in place, len {len}");
                        assert_eq!(ascii, expect.is_ascii(), "ascii, len {len} high {high:?}");
                    }
                    None => assert_eq!(buf, src, "untouched, len {len}"),
                }
                let mut buf = src.clone();
                if let Some(ascii) = super::xor_small::<false>(&mut buf, key) {
                    assert!(ascii);
                    assert_eq!(buf, expect, "in place without the ASCII test, len {len}");
                }
                let mut dst = vec![0xEEu8; len];
                if super::xor_copy_small(&mut dst, &src, key) {
                    assert_eq!(dst, expect, "copy, len {len}");
                } else {
                    assert!(dst.iter().all(|b| *b == 0xEE), "copy untouched, len {len}");
                }
                assert_eq!(super::xor_small::<true>(&mut src.clone(), key).is_some(), takes, "len {len}");
            }
        }
    }

    #[test]
    fn matches_the_scalar_xor() {
        let word = 0x0102_0304_0506_0708u64;
        for len in [0usize, 63, 64, 65, 127, 128, 255, 256, 257, 319, 320, 383, 384, 1000, 4096] {
            let mut buf: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let (done, ascii) = super::xor_blocks::<true>(&mut buf, word);
            assert_eq!(done % 64, 0);
            assert_eq!(ascii, buf[..done].is_ascii(), "len {len}");
            for (i, b) in buf.iter().enumerate() {
                let expect = if i < done { (i as u8) ^ word.to_ne_bytes()[i % 8] } else { i as u8 };
                assert_eq!(*b, expect, "len {len} byte {i}");
            }
            let src: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut dst = vec![0xEEu8; len];
            let done = super::xor_copy_blocks(&mut dst, &src, word);
            assert_eq!(done, if done == 0 { 0 } else { len / 64 * 64 });
            for i in 0..len {
                let expect = if i < done { src[i] ^ word.to_ne_bytes()[i % 8] } else { 0xEE };
                assert_eq!(dst[i], expect, "copy len {len} byte {i}");
            }
        }
    }
}
