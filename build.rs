//! Passes `websocket.def` to the linker of the Windows GNU DLL, so that the DLL exports the 13
//! undecorated names on every Windows target (on i686 Rust would otherwise export `_Name@N`).
//! The file has no `LIBRARY` line: cargo 1.65 also hands the argument to test executables.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=websocket.def");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "windows" && target_env == "gnu" {
        let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let def = Path::new(&dir).join("websocket.def");
        println!("cargo:rustc-cdylib-link-arg={}", def.display());
    }
}
