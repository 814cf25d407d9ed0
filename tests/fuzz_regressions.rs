//! Fuzz inputs replayed as ordinary tests, through the fuzz harnesses' own code (fuzz/src/, the
//! same functions the cargo-fuzz targets call), so `cargo test` checks them without cargo-fuzz or
//! nightly features:
//!
//! * every file of `fuzz/corpus/frame_parser/` and `fuzz/corpus/utf8/` (hand-written seeds and
//!   the minimised inputs the fuzzers found to add coverage), each checked against the
//!   harness's reference decoder / `std::str::from_utf8` oracle;
//! * every file of `fuzz/regressions/<target>/`, where an input that once made a target fail is
//!   kept after the bug is fixed (none so far).
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
