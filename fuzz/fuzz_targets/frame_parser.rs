//! frame_parser: arbitrary network bytes, read in arbitrary splits, fed through the C ABI to a
//! server handle and to a client handle, compared with a reference decoder. The harness lives in
//! `fuzz/src/frame_parser.rs` (also replayed by `tests/fuzz_regressions.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| websocket_fuzz::frame_parser::run_input(data));
