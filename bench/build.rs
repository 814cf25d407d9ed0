//! Links the system wslay (Debian's libwslay-dev, installed by `scripts/setup.sh bench`).
//! Without it the wslay peer is left out (cfg `have_wslay` unset) and the report says so.
use std::path::Path;

fn git(args: &[&str]) -> String {
    std::process::Command::new("git")
        .args(["-C", ".."])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(have_wslay)");
    println!("cargo:rerun-if-changed=build.rs");
    // The library revision measured: captured when the bench (and so the library) is built.
    for p in ["../src", "../Cargo.toml", "../.git/HEAD", "../.git/refs/heads"] {
        println!("cargo:rerun-if-changed={p}");
    }
    let rev = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--", "src", "Cargo.toml"]).is_empty();
    println!("cargo:rustc-env=WSBENCH_LIB_REV={}{}", if rev.is_empty() { "unknown" } else { &rev }, if dirty { " + uncommitted changes in src/" } else { "" });
    println!("cargo:rerun-if-env-changed=WSLAY_LIB_DIR");
    let dirs = [
        std::env::var("WSLAY_LIB_DIR").unwrap_or_default(),
        "/usr/lib/x86_64-linux-gnu".to_string(),
        "/usr/lib/aarch64-linux-gnu".to_string(),
        "/usr/lib".to_string(),
        "/usr/local/lib".to_string(),
    ];
    for d in dirs.iter().filter(|d| !d.is_empty()) {
        if Path::new(d).join("libwslay.so").exists() || Path::new(d).join("libwslay.a").exists() {
            println!("cargo:rustc-link-search=native={d}");
            println!("cargo:rustc-link-lib=wslay");
            println!("cargo:rustc-cfg=have_wslay");
            return;
        }
    }
    println!("cargo:warning=libwslay not found (run scripts/setup.sh bench): the wslay peer is skipped");
}
