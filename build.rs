//! Link settings of the shared library, by target:
//!
//! - Windows (GNU toolchain): passes `websocket.def` to the linker, so that the DLL exports the 13
//!   undecorated names on every Windows target (on i686 Rust would otherwise export `_Name@N`);
//!   the file has no `LIBRARY` line, because cargo 1.65 also hands the argument to test
//!   executables. Also compiles a VERSIONINFO resource (FileVersion, ProductVersion, ProductName,
//!   FileDescription, OriginalFilename `websocket.dll`, from the crate version) with mingw's
//!   `windres` and links it into the DLL, as every system DLL carries one. `WINDRES` names another
//!   resource compiler.
//! - Linux: gives `libwebsocket.so` the soname `libwebsocket.so.MAJOR`, so that a program linked
//!   against the build tree records the same name as one linked against the installed library
//!   (`scripts/install.sh`), and keeps working after installation. For such a program to run
//!   from the build tree too (rpath or LD_LIBRARY_PATH pointing at `target/release`), the
//!   profile directory gets the symlink `libwebsocket.so.MAJOR -> libwebsocket.so`, as an
//!   installed library has.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=websocket.def");
    println!("cargo:rerun-if-env-changed=WINDRES");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    if os == "windows" && target_env == "gnu" {
        let def = dir.join("websocket.def");
        println!("cargo:rustc-cdylib-link-arg={}", def.display());
        let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        let object = version_resource(&out);
        println!("cargo:rustc-cdylib-link-arg={}", object.display());
    } else if os == "linux" {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
        let soname = format!("libwebsocket.so.{}", major);
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{}", soname);
        let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        soname_link(&out, &soname);
    }
}

/// Creates `<soname> -> libwebsocket.so` where cargo puts the library: the profile directory and
/// its `deps/` (where test binaries find it). OUT_DIR is `<profile dir>/build/<package>-<hash>/out`.
#[cfg(unix)]
fn soname_link(out: &Path, soname: &str) {
    let build = out.parent().and_then(Path::parent);
    let profile = match build {
        Some(b) if b.file_name().map_or(false, |n| n == "build") => b.parent(),
        _ => None,
    };
    if let Some(dir) = profile {
        for dir in [dir.to_path_buf(), dir.join("deps")] {
            let link = dir.join(soname);
            if fs::symlink_metadata(&link).is_err() {
                // A failure leaves only the convenience link out; the library is unaffected.
                let _ = fs::create_dir_all(&dir);
                let _ = std::os::unix::fs::symlink("libwebsocket.so", &link);
            }
        }
    }
}

#[cfg(not(unix))]
fn soname_link(_out: &Path, _soname: &str) {}

/// Writes `websocket.rc` into `out` and compiles it to a COFF object; returns the object's path.
fn version_resource(out: &Path) -> PathBuf {
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let part = |name: &str| env::var(name).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    let numeric = format!(
        "{},{},{},0",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH")
    );
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let bits = if arch == "x86" { "32-bit" } else { "64-bit" };
    let license = env::var("CARGO_PKG_LICENSE").unwrap_or_default();
    // FILEOS 0x40004 = VOS_NT_WINDOWS32, FILETYPE 2 = VFT_DLL; language 0x0409 (U.S. English),
    // code page 1200 (Unicode), as Windows' own DLLs declare.
    let rc = format!(
        r#"1 VERSIONINFO
FILEVERSION {numeric}
PRODUCTVERSION {numeric}
FILEFLAGSMASK 0x3f
FILEFLAGS 0x0
FILEOS 0x40004
FILETYPE 0x2
FILESUBTYPE 0x0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "websocket project"
      VALUE "FileDescription", "WebSocket Protocol Component API ({bits})"
      VALUE "FileVersion", "{version}"
      VALUE "InternalName", "websocket"
      VALUE "LegalCopyright", "License: {license}"
      VALUE "OriginalFilename", "websocket.dll"
      VALUE "ProductName", "websocket"
      VALUE "ProductVersion", "{version}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#,
        numeric = numeric,
        version = version,
        bits = bits,
        license = license,
    );
    let rc_path = out.join("websocket.rc");
    let object = out.join("websocket-version.o");
    fs::write(&rc_path, rc).expect("write websocket.rc");
    let windres = env::var("WINDRES").unwrap_or_else(|_| {
        let prefix = if arch == "x86" { "i686" } else { "x86_64" };
        format!("{}-w64-mingw32-windres", prefix)
    });
    // windres runs the rc file through mingw's C preprocessor; the object it writes holds only
    // the resource data (no paths, no time stamp), so the DLL stays reproducible.
    let status = Command::new(&windres)
        .arg("--input-format=rc")
        .arg("--output-format=coff")
        .arg("-i")
        .arg(&rc_path)
        .arg("-o")
        .arg(&object)
        .status();
    match status {
        Ok(s) if s.success() => object,
        Ok(s) => panic!("{} failed ({}) on {}", windres, s, rc_path.display()),
        Err(e) => panic!(
            "cannot run {} ({}): the DLL's VERSIONINFO resource needs mingw-w64's windres \
             (Debian: binutils-mingw-w64), or set WINDRES",
            windres, e
        ),
    }
}
