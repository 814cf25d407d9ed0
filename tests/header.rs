//! The committed `include/websocket.h` must be what the generator produces from the sources.
//! The generator (tools/gen-header) uses cbindgen, which needs a newer Rust than the library;
//! this test runs it with the ambient cargo and fails when the header is stale.

use std::process::Command;

#[test]
fn committed_header_matches_generator() {
    let root = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--quiet", "--manifest-path", "tools/gen-header/Cargo.toml", "--", "--check"])
        .current_dir(root)
        .output()
        .expect("run tools/gen-header");
    assert!(
        out.status.success(),
        "include/websocket.h is stale or the generator failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
