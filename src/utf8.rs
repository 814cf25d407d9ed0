//! Streaming UTF-8 validation (RFC 3629) that survives any split of a message into chunks.
//!
//! Whole runs are checked by `simdutf8` (SIMD picked at run time, with a scalar fallback; the same
//! answers as the standard library's validator, several times faster on non-ASCII text); only a
//! code point cut by a chunk boundary is carried over (at most 3 bytes, and only if it is a valid
//! start) and finished with the standard library's validator. Overlong forms, surrogates
//! (U+D800-U+DFFF) and values above U+10FFFF are rejected, as is a message that ends inside a
//! code point.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};

/// Validator state for one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// Bytes of a code point started in an earlier chunk.
    partial: [u8; 4],
    /// How many bytes of `partial` are in use (0 when between code points).
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Utf8Validator {
        Utf8Validator::default()
    }

    /// Checks the next chunk of the message. On error the validator is left unchanged.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let mut rest = chunk;
        let mut partial = self.partial;
        let mut partial_len = self.partial_len as usize;
        if partial_len > 0 {
            // Complete the code point carried over: add bytes one at a time until the standard
            // validator accepts it, reports it invalid, or the chunk runs out.
            loop {
                let (first, tail) = match rest.split_first() {
                    Some(x) => x,
                    None => {
                        self.partial = partial;
                        self.partial_len = partial_len as u8;
                        return Ok(());
                    }
                };
                partial[partial_len] = *first;
                partial_len += 1;
                rest = tail;
                match core::str::from_utf8(&partial[..partial_len]) {
                    Ok(_) => break,
                    Err(e) if e.error_len().is_some() => return Err(Error::InvalidUtf8),
                    Err(_) if partial_len == 4 => return Err(Error::InvalidUtf8),
                    Err(_) => {}
                }
            }
            partial_len = 0;
        }
        // A code point cut by the end of the chunk is set aside first, so the body is checked
        // in one pass that either succeeds or fails (no search for an error position).
        let (body, tail) = rest.split_at(rest.len() - cut_tail_len(rest));
        // Short ASCII runs (typical small text messages) need no more than a word test.
        let ascii = body.len() <= 64 && body.is_ascii();
        if !ascii && simdutf8::basic::from_utf8(body).is_err() {
            return Err(Error::InvalidUtf8);
        }
        if !tail.is_empty() {
            // Carried over only if it can still become a valid code point.
            match core::str::from_utf8(tail) {
                Err(e) if e.error_len().is_none() => {}
                _ => return Err(Error::InvalidUtf8),
            }
            partial[..tail.len()].copy_from_slice(tail);
            partial_len = tail.len();
        }
        self.partial = partial;
        self.partial_len = partial_len as u8;
        Ok(())
    }

    /// Whether no code point is cut open (an all-ASCII chunk may then skip `feed`).
    pub fn between_code_points(&self) -> bool {
        self.partial_len == 0
    }

    /// Checks that the message does not end inside a code point, and resets for the next one.
    pub fn finish(&mut self) -> Result<()> {
        let incomplete = self.partial_len != 0;
        *self = Utf8Validator::new();
        if incomplete {
            Err(Error::InvalidUtf8)
        } else {
            Ok(())
        }
    }

    /// Validates one complete message.
    pub fn validate(bytes: &[u8]) -> Result<()> {
        let mut v = Utf8Validator::new();
        v.feed(bytes)?;
        v.finish()
    }
}

/// How many bytes at the end of `bytes` belong to a code point whose lead byte announces more
/// bytes than follow it (0 to 3). Anything else, valid or not, is left to the validator.
fn cut_tail_len(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(4) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for its lead byte
        }
        let needed = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if needed > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_every_split(bytes: &[u8]) -> bool {
        let expect = core::str::from_utf8(bytes).is_ok();
        assert_eq!(Utf8Validator::validate(bytes).is_ok(), expect, "{bytes:x?}");
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&bytes[..a]).is_ok()
                    && v.feed(&bytes[a..b]).is_ok()
                    && v.feed(&bytes[b..]).is_ok()
                    && v.finish().is_ok();
                assert_eq!(ok, expect, "{bytes:x?} split at {a},{b}");
            }
        }
        let mut v = Utf8Validator::new();
        let ok = bytes.iter().all(|b| v.feed(&[*b]).is_ok()) && v.finish().is_ok();
        assert_eq!(ok, expect, "{bytes:x?} byte by byte");
        expect
    }

    #[test]
    fn accepts_valid_text_split_anywhere() {
        assert!(check_every_split("Hello-µ@ßöäüàá-UTF-8!!".as_bytes()));
        assert!(check_every_split("κόσμε".as_bytes()));
        assert!(check_every_split("\u{10FFFF}\u{FFFF}\u{E000}\u{D7FF}\u{80}\u{7FF}\u{800}".as_bytes()));
        assert!(check_every_split(b""));
    }

    #[test]
    fn rejects_invalid_sequences() {
        for bad in [
            &b"\xc3\x28"[..],    // bad continuation
            b"\xc0\xaf",         // overlong '/'
            b"\xe0\x80\xaf",     // overlong
            b"\xf0\x80\x80\xaf", // overlong
            b"\xed\xa0\x80",     // surrogate U+D800
            b"\xed\xbf\xbf",     // surrogate U+DFFF
            b"\xf4\x90\x80\x80", // > U+10FFFF
            b"\xf5\x80\x80\x80", // invalid lead byte
            b"\xff",             // invalid byte
            b"\x80",             // lone continuation
            b"\xce\xba\xe1\xbd", // truncated at the end of the message
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        ] {
            assert!(!check_every_split(bad));
        }
    }

    #[test]
    fn sets_aside_only_a_cut_code_point() {
        assert_eq!(cut_tail_len(b""), 0);
        assert_eq!(cut_tail_len(b"abc"), 0);
        assert_eq!(cut_tail_len("aé".as_bytes()), 0);
        assert_eq!(cut_tail_len(b"a\xc3"), 1);
        assert_eq!(cut_tail_len(b"a\xe2\x82"), 2);
        assert_eq!(cut_tail_len(b"\xf0\x9f\x98"), 3);
        assert_eq!(cut_tail_len("😀".as_bytes()), 0);
        assert_eq!(cut_tail_len(b"\x80\x80\x80\x80"), 0, "no lead byte: left to the validator");
        assert_eq!(cut_tail_len(b"\xff"), 0);
    }

    #[test]
    fn fails_fast_on_a_bad_continuation() {
        let mut v = Utf8Validator::new();
        v.feed(b"ab\xe0").unwrap();
        assert_eq!(v.feed(b"\x80"), Err(Error::InvalidUtf8));
        let mut v = Utf8Validator::new();
        v.feed(b"\xf4").unwrap();
        assert_eq!(v.feed(b"\x90"), Err(Error::InvalidUtf8));
    }
}
