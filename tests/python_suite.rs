//! Runs the ctypes test suite `tests/python/test_ctypes.py` (standard library only) against the
//! `libwebsocket.so` that cargo built for this test run, and expects it to pass.
//!
//! `cargo test` leaves the fresh cdylib next to the test binary (`target/debug/deps`); it reaches
//! `target/debug` only on `cargo build`, so it is looked up next to the test binary first.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `libwebsocket.so` built together with this test binary.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().map(Path::to_path_buf);
    let profile = exe.parent().and_then(Path::parent).map(Path::to_path_buf);
    for dir in [deps, profile].into_iter().flatten() {
        let lib = dir.join("libwebsocket.so");
        if lib.is_file() {
            return lib;
        }
    }
    let fallback = root().join("target").join("debug").join("libwebsocket.so");
    assert!(fallback.is_file(), "libwebsocket.so not found next to {} (run `cargo build`)", exe.display());
    fallback
}

#[test]
fn python_ctypes_suite() {
    let lib = library();
    let output = Command::new("python3")
        .args(["-m", "unittest", "-v", "tests/python/test_ctypes.py"])
        .current_dir(root())
        .env("WEBSOCKET_LIB", &lib)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 (scripts/setup.sh installs it): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python3 -m unittest tests/python/test_ctypes.py failed with {} (WEBSOCKET_LIB={})\n--- stdout\n{stdout}--- stderr\n{stderr}",
        output.status,
        lib.display()
    );
    // unittest reports on stderr; an empty run would also exit 0.
    assert!(stderr.contains("\nOK"), "no OK line from unittest:\n{stderr}");
    assert!(!stderr.contains("Ran 0 tests"), "unittest ran no test:\n{stderr}");
}
