//! RFC 6455 §5.2 frame headers: decoding, encoding and masking.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::sys::simd;

/// Below this length the portable loops mask word by word; from it on, in 32-byte blocks.
/// (Up to `simd::SMALL_MAX` bytes the SSE2 kernels come first where the target has them.)
const WORDS_LIMIT: usize = 64;

/// Largest frame header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;
/// The RSV1 bit of a frame's first byte (permessage-deflate: "compressed message").
pub const RSV1: u8 = 0x40;
/// Largest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Frame opcodes defined by RFC 6455.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: continuation of a fragmented message.
    Continuation,
    /// 0x1: text.
    Text,
    /// 0x2: binary.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Parses a wire value; reserved opcodes are a protocol error.
    pub fn from_bits(bits: u8) -> Result<OpCode> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(Error::ReservedOpcode(other)),
        })
    }

    /// Close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: OpCode,
    /// Masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
    /// Bytes the header occupies on the wire.
    pub header_len: usize,
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`. Returns `Ok(None)` when `buf` is too short to
    /// hold the whole header (nothing is consumed), and an error for the violations of spec §9.7
    /// that the header alone reveals. Non-minimal length encodings are accepted.
    pub fn decode(buf: &[u8]) -> Result<Option<FrameHeader>> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        if b0 & 0x70 != 0 {
            return Err(Error::ReservedBits);
        }
        let fin = b0 & 0x80 != 0;
        let opcode = OpCode::from_bits(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(Error::FragmentedControl);
            }
            if len7 as usize > MAX_CONTROL_PAYLOAD {
                return Err(Error::ControlFrameTooLong);
            }
        }
        let (payload_len, mut at) = match len7 {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    let n = u64::from_be_bytes(be);
                    if n >> 63 != 0 {
                        return Err(Error::LengthTopBit);
                    }
                    (n, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            match buf.get(at..at + 4) {
                Some(k) => {
                    at += 4;
                    Some([k[0], k[1], k[2], k[3]])
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some(FrameHeader { fin, opcode, mask, payload_len, header_len: at }))
    }

    /// [`decode`](FrameHeader::decode) for a connection that negotiated permessage-deflate:
    /// RSV1 is allowed on the first frame of a text or binary message (RFC 7692 §6) and
    /// reported as the second value; on continuation and control frames it stays an error, as
    /// do RSV2 and RSV3.
    pub fn decode_rsv1(buf: &[u8]) -> Result<Option<(FrameHeader, bool)>> {
        let b0 = match buf.first() {
            Some(b) => *b,
            None => return Ok(None),
        };
        if b0 & 0x40 == 0 {
            return Ok(FrameHeader::decode(buf)?.map(|h| (h, false)));
        }
        if b0 & 0x30 != 0 || !matches!(b0 & 0x0F, 0x1 | 0x2) {
            return Err(Error::ReservedBits);
        }
        let mut copy = [0u8; MAX_HEADER_LEN];
        let n = buf.len().min(MAX_HEADER_LEN);
        copy[..n].copy_from_slice(&buf[..n]);
        copy[0] &= !0x40;
        Ok(FrameHeader::decode(&copy[..n])?.map(|h| (h, true)))
    }

    /// Encodes the header with the shortest length form into `out`, returning its length
    /// (2, 4 or 10 bytes, plus 4 when masked). RSV bits are always 0.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (if self.fin { 0x80 } else { 0 }) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = if self.payload_len <= 125 {
            out[1] = mask_bit | self.payload_len as u8;
            2
        } else if self.payload_len <= 0xFFFF {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            4
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }

    /// The encoded size of a header for this payload length.
    pub fn encoded_len(payload_len: u64, masked: bool) -> usize {
        let base = if payload_len <= 125 {
            2
        } else if payload_len <= 0xFFFF {
            4
        } else {
            10
        };
        base + if masked { 4 } else { 0 }
    }
}

/// XORs `buf` in place with `key`, where `buf[0]` is payload byte number `offset` of the frame
/// (so the key position continues across chunks).
#[inline(always)]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: u64) {
    let key = rotate_key(key, offset);
    // Small payloads (most control frames and chat-sized messages): SSE2 vectors where the
    // target has them, else words, then bytes.
    if buf.len() <= simd::SMALL_MAX && simd::xor_small::<false>(buf, key).is_some() {
        return;
    }
    if buf.len() < WORDS_LIMIT {
        xor_words(buf, mask_word(key), key);
    } else {
        apply_mask_blocks::<false>(buf, key);
    }
}

/// `unmask_ascii` for text that will be validated (`text`), else `apply_mask` and false.
#[inline(always)]
pub fn unmask(buf: &mut [u8], key: [u8; 4], offset: u64, text: bool) -> bool {
    if text {
        unmask_ascii(buf, key, offset)
    } else {
        apply_mask(buf, key, offset);
        false
    }
}

/// `apply_mask` that also returns whether every unmasked byte is ASCII (below 0x80), found on
/// the way at the cost of one OR per word, so that ASCII text needs no separate validation pass.
#[inline(always)]
pub fn unmask_ascii(buf: &mut [u8], key: [u8; 4], offset: u64) -> bool {
    let key = rotate_key(key, offset);
    if buf.len() <= simd::SMALL_MAX {
        if let Some(ascii) = simd::xor_small::<true>(buf, key) {
            return ascii;
        }
    }
    if buf.len() < WORDS_LIMIT {
        xor_words(buf, mask_word(key), key) & HIGH_BITS == 0
    } else {
        apply_mask_blocks::<true>(buf, key)
    }
}

/// The top bit of every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

#[inline(never)]
fn apply_mask_blocks<const ASCII: bool>(buf: &mut [u8], key: [u8; 4]) -> bool {
    let word = mask_word(key);
    // Whole 64-byte blocks with AVX2 when the CPU has it. The rest (or all of it) in 32-byte
    // blocks of four 64-bit lanes, which the compiler turns into SSE2 XORs; then words, bytes.
    let (done, ascii) = crate::sys::simd::xor_blocks::<ASCII>(buf, word);
    let buf = &mut buf[done..];
    let mut seen = 0u64;
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for lane in block.chunks_exact_mut(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(lane);
            let x = u64::from_ne_bytes(b) ^ word;
            if ASCII {
                seen |= x;
            }
            lane.copy_from_slice(&x.to_ne_bytes());
        }
    }
    seen |= xor_words(blocks.into_remainder(), word, key);
    ascii && seen & HIGH_BITS == 0
}

/// XORs `buf` with the mask: 8-byte words, then the last bytes (`buf` starts at a key phase of 0
/// for `key`, and `word` is `key` twice). Returns the OR of everything written (for the ASCII
/// test: only the top bit of each byte matters).
#[inline(always)]
fn xor_words(buf: &mut [u8], word: u64, key: [u8; 4]) -> u64 {
    let mut seen = 0u64;
    let mut words = buf.chunks_exact_mut(8);
    for lane in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(lane);
        let x = u64::from_ne_bytes(b) ^ word;
        seen |= x;
        lane.copy_from_slice(&x.to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
        seen |= u64::from(*b);
    }
    seen
}

/// Writes `src` XOR `key` into `dst` (same length), `src[0]` being payload byte `offset`.
#[inline(always)]
pub fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: u64) {
    debug_assert_eq!(dst.len(), src.len());
    let key = rotate_key(key, offset);
    if dst.len() <= simd::SMALL_MAX && simd::xor_copy_small(dst, src, key) {
        return;
    }
    if dst.len() < WORDS_LIMIT {
        xor_copy_words(dst, src, mask_word(key), key);
    } else {
        mask_copy_blocks(dst, src, key);
    }
}

#[inline(never)]
fn mask_copy_blocks(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = mask_word(key);
    // Whole 64-byte blocks with AVX2 when the CPU has it, the rest below.
    let done = crate::sys::simd::xor_copy_blocks(dst, src, word);
    let (dst, src) = (&mut dst[done..], &src[done.min(src.len())..]);
    let mut d = dst.chunks_exact_mut(32);
    let mut s = src.chunks_exact(32);
    for (db, sb) in (&mut d).zip(&mut s) {
        for (dl, sl) in db.chunks_exact_mut(8).zip(sb.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(sl);
            dl.copy_from_slice(&(u64::from_ne_bytes(b) ^ word).to_ne_bytes());
        }
    }
    xor_copy_words(d.into_remainder(), s.remainder(), word, key);
}

/// Writes `src` XOR the mask into `dst`: 8-byte words, then the last bytes (phase 0 for `key`;
/// `word` is `key` twice).
#[inline(always)]
fn xor_copy_words(dst: &mut [u8], src: &[u8], word: u64, key: [u8; 4]) {
    let mut dw = dst.chunks_exact_mut(8);
    let mut sw = src.chunks_exact(8);
    for (dl, sl) in (&mut dw).zip(&mut sw) {
        let mut b = [0u8; 8];
        b.copy_from_slice(sl);
        dl.copy_from_slice(&(u64::from_ne_bytes(b) ^ word).to_ne_bytes());
    }
    for (i, (db, sb)) in dw.into_remainder().iter_mut().zip(sw.remainder()).enumerate() {
        *db = *sb ^ key[i & 3];
    }
}

fn mask_word(key: [u8; 4]) -> u64 {
    let k = u64::from(u32::from_ne_bytes(key));
    k << 32 | k
}

/// The key as seen from payload byte `offset`: byte `offset % 4` of the key comes first.
fn rotate_key(key: [u8; 4], offset: u64) -> [u8; 4] {
    let shift = ((offset & 3) * 8) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all_splits(bytes: &[u8]) -> FrameHeader {
        for cut in 0..bytes.len() {
            if let Some(h) = FrameHeader::decode(&bytes[..cut]).unwrap() {
                assert!(h.header_len <= cut);
            }
        }
        FrameHeader::decode(bytes).unwrap().unwrap()
    }

    #[test]
    fn rfc6455_5_7_unmasked_text() {
        let h = decode_all_splits(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            h,
            FrameHeader { fin: true, opcode: OpCode::Text, mask: None, payload_len: 5, header_len: 2 }
        );
    }

    #[test]
    fn rfc6455_5_7_masked_text() {
        let mut frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let h = decode_all_splits(&frame);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        apply_mask(&mut frame[6..], h.mask.unwrap(), 0);
        assert_eq!(&frame[6..], b"Hello");
    }

    #[test]
    fn rfc6455_5_7_lengths() {
        let h = decode_all_splits(&[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!((h.payload_len, h.header_len), (256, 4));
        let h = decode_all_splits(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, h.header_len), (65_536, 10));
        let h = decode_all_splits(&[0x01, 0x03]);
        assert!(!h.fin);
        assert_eq!(h.opcode, OpCode::Text);
        let h = decode_all_splits(&[0x80, 0x02]);
        assert_eq!(h.opcode, OpCode::Continuation);
        let h = decode_all_splits(&[0x89, 0x05]);
        assert_eq!(h.opcode, OpCode::Ping);
    }

    #[test]
    fn rejects_violations() {
        assert_eq!(FrameHeader::decode(&[0xC1, 0x00]), Err(Error::ReservedBits));
        assert_eq!(FrameHeader::decode(&[0x91, 0x00]), Err(Error::ReservedBits));
        assert_eq!(FrameHeader::decode(&[0xA1, 0x00]), Err(Error::ReservedBits));
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(FrameHeader::decode(&[0x80 | op, 0x00]), Err(Error::ReservedOpcode(op)));
        }
        assert_eq!(FrameHeader::decode(&[0x09, 0x00]), Err(Error::FragmentedControl));
        assert_eq!(FrameHeader::decode(&[0x89, 0x7e]), Err(Error::ControlFrameTooLong));
        assert_eq!(FrameHeader::decode(&[0x88, 126]), Err(Error::ControlFrameTooLong));
        let top = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::decode(&top), Err(Error::LengthTopBit));
        let max = [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(FrameHeader::decode(&max).unwrap().unwrap().payload_len, (1 << 63) - 1);
    }

    #[test]
    fn encode_uses_shortest_form() {
        let mut out = [0u8; MAX_HEADER_LEN];
        for (len, expect) in [
            (0u64, vec![0x82, 0x00]),
            (125, vec![0x82, 125]),
            (126, vec![0x82, 126, 0, 126]),
            (200, vec![0x82, 0x7e, 0x00, 0xc8]),
            (65_535, vec![0x82, 126, 0xff, 0xff]),
            (65_536, vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let h = FrameHeader {
                fin: true,
                opcode: OpCode::Binary,
                mask: None,
                payload_len: len,
                header_len: 0,
            };
            let n = h.encode(&mut out);
            assert_eq!(&out[..n], &expect[..], "length {len}");
            assert_eq!(FrameHeader::encoded_len(len, false), n);
        }
        let h = FrameHeader {
            fin: true,
            opcode: OpCode::Text,
            mask: Some([0x37, 0xfa, 0x21, 0x3d]),
            payload_len: 5,
            header_len: 0,
        };
        let n = h.encode(&mut out);
        assert_eq!(&out[..n], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
    }

    #[test]
    fn masking_continues_across_chunks() {
        let key = [1, 2, 3, 4];
        let src: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut whole = src.clone();
        apply_mask(&mut whole, key, 0);
        for split in [1usize, 3, 7, 8, 9, 100, 999] {
            let mut parts = src.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split as u64);
            assert_eq!(parts, whole);
            let mut copy = vec![0u8; 1000];
            let (ca, cb) = copy.split_at_mut(split);
            mask_copy(ca, &src[..split], key, 0);
            mask_copy(cb, &src[split..], key, split as u64);
            assert_eq!(copy, whole);
        }
    }
}
