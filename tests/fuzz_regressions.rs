//! Fuzz inputs replayed as ordinary tests, through the fuzz harnesses' own code (fuzz/src/, the
//! same functions the cargo-fuzz targets call), so `cargo test` checks them without cargo-fuzz or
//! nightly features:
//!
//! * every file of `fuzz/corpus/frame_parser/` and `fuzz/corpus/utf8/` (hand-written seeds and
//!   the minimised inputs the fuzzers found to add coverage), each checked against the
//!   harness's reference decoder / `std::str::from_utf8` oracle;
//! * every file of `fuzz/regressions/<target>/`, where an input that once made a target fail is
//!   kept after the bug is fixed (none so far);
//! * a differential check of the masking kernels (`frame::apply_mask` / `frame::mask_copy`,
//!   AVX2 included) against a bytewise reference.
//!
//! The structured targets (handshake, pair, api_sequence) decode their inputs with the
//! `arbitrary` crate, which the library does not depend on; they are replayed by
//! `scripts/fuzz.sh smoke` instead.

#[allow(dead_code, clippy::all)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        if let Ok(entries) = fs::read_dir(&dir) {
            files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for {target}");
    for f in &files {
        let data = fs::read(f).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
            std::panic::resume_unwind(Box::new(format!(
                "{target}: input {} failed: {}",
                f.display(),
                e.downcast_ref::<String>()
                    .map(String::as_str)
                    .or(e.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )));
        }
    }
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn frame_parser_corpus_and_regressions() {
    replay("frame_parser", harness::frame_parser::run_input);
}

#[test]
fn utf8_corpus_and_regressions() {
    replay("utf8", harness::utf8::run_input);
}

/// The masking kernels (portable and, on CPUs that have it, AVX2 for whole 64-byte blocks)
/// against a byte-at-a-time reference: every length up to 1100 bytes, every key phase, and
/// buffers starting at every alignment within 8 bytes — the cases the frame_parser and pair
/// fuzzers reach only by chance.
#[test]
fn masking_matches_a_bytewise_reference() {
    use websocket::frame::{apply_mask, mask_copy};
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let data: Vec<u8> = (0..1200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for len in 0..=1100usize {
        for offset in 0..4u64 {
            let align = (len + offset as usize) % 8;
            let src = &data[align..align + len];
            let want: Vec<u8> =
                src.iter().enumerate().map(|(i, b)| b ^ key[((offset + i as u64) % 4) as usize]).collect();
            let mut buf = vec![0u8; len + 8];
            buf[align..align + len].copy_from_slice(src);
            apply_mask(&mut buf[align..align + len], key, offset);
            assert_eq!(&buf[align..align + len], &want[..], "apply_mask len {len} offset {offset}");
            assert!(buf[..align].iter().chain(&buf[align + len..]).all(|b| *b == 0), "apply_mask overran");
            let mut out = vec![0u8; len + 8];
            mask_copy(&mut out[align..align + len], src, key, offset);
            assert_eq!(&out[align..align + len], &want[..], "mask_copy len {len} offset {offset}");
            assert!(out[..align].iter().chain(&out[align + len..]).all(|b| *b == 0), "mask_copy overran");
        }
    }
}

/// `unmask_ascii` also reports whether every unmasked byte is ASCII (the receive path then skips
/// UTF-8 validation of the chunk): true for all-ASCII results, false when any single byte of the
/// result has its top bit set — at every position for short buffers, in the AVX2 blocks, the
/// 32-byte blocks, the words and the tail bytes of longer ones, for every key phase.
#[test]
fn unmasking_reports_ascii_exactly() {
    use websocket::frame::unmask_ascii as apply_mask;
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let clear: Vec<u8> =
        (0..1200u32).map(|i| b' ' + (i.wrapping_mul(2_654_435_761) >> 13) as u8 % 95).collect();
    let masked = |want: &[u8], offset: u64| -> Vec<u8> {
        want.iter().enumerate().map(|(i, b)| b ^ key[((offset + i as u64) % 4) as usize]).collect()
    };
    for len in (0..=300usize).chain(1000..=1100) {
        for offset in 0..4u64 {
            let want = &clear[..len];
            let mut buf = masked(want, offset);
            assert!(apply_mask(&mut buf, key, offset), "ASCII, len {len} offset {offset}");
            assert_eq!(buf, want);
            let positions: Vec<usize> = if len <= 300 {
                (0..len).collect()
            } else {
                (0..len).step_by(7).chain(len - 70..len).collect()
            };
            for p in positions {
                let mut want = want.to_vec();
                want[p] |= 0x80;
                let mut buf = masked(&want, offset);
                assert!(!apply_mask(&mut buf, key, offset), "byte {p} of {len}, offset {offset}");
                assert_eq!(buf, want);
            }
        }
    }
}
