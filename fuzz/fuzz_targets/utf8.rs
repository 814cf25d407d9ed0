//! utf8: differential test of the streaming UTF-8 validator against `std::str::from_utf8`. The
//! harness lives in `fuzz/src/utf8.rs` (also replayed by `tests/fuzz_regressions.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| websocket_fuzz::utf8::run_input(data));
