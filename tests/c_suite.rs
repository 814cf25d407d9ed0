//! The C test programs of `tests/c/`, each built twice — with `gcc -std=c11` and with `g++ -x c++`,
//! warnings as errors — against `include/websocket.h` alone and linked against the
//! `libwebsocket.so` that cargo built for this test run; then run, expecting exit status 0.
//! Also checks the dynamic symbol table of that library: exactly the 13 exports of spec §1.1.
//!
//! `cargo test` compiles the cdylib into the test binary's own directory (`target/debug/deps`)
//! but copies it up to `target/debug` only on `cargo build`, so the library is looked up next to
//! the test binary first.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The 13 exports of websocket.dll (spec §1.1).
const EXPORTS: [&str; 13] = [
    "WebSocketAbortHandle",
    "WebSocketBeginClientHandshake",
    "WebSocketBeginServerHandshake",
    "WebSocketCompleteAction",
    "WebSocketCreateClientHandle",
    "WebSocketCreateServerHandle",
    "WebSocketDeleteHandle",
    "WebSocketEndClientHandshake",
    "WebSocketEndServerHandshake",
    "WebSocketGetAction",
    "WebSocketGetGlobalProperty",
    "WebSocketReceive",
    "WebSocketSend",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of the `libwebsocket.so` built together with this test binary.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().map(Path::to_path_buf);
    let profile = exe.parent().and_then(Path::parent).map(Path::to_path_buf);
    for dir in [deps, profile].into_iter().flatten() {
        if dir.join("libwebsocket.so").is_file() {
            return dir;
        }
    }
    let fallback = root().join("target").join("debug");
    assert!(
        fallback.join("libwebsocket.so").is_file(),
        "libwebsocket.so not found next to {} nor in {} (run `cargo build`)",
        exe.display(),
        fallback.display()
    );
    fallback
}

#[derive(Clone, Copy, Debug)]
enum Compiler {
    Gcc,
    Gxx,
}

impl Compiler {
    fn command(self) -> &'static str {
        match self {
            Compiler::Gcc => "gcc",
            Compiler::Gxx => "g++",
        }
    }

    /// Flags before the source file.
    fn flags(self) -> &'static [&'static str] {
        match self {
            Compiler::Gcc => &["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"],
            Compiler::Gxx => &["-Wall", "-Wextra", "-Werror", "-g", "-x", "c++"],
        }
    }
}

/// Compiles `tests/c/<program>.c` and returns the executable's path.
fn build(compiler: Compiler, program: &str) -> PathBuf {
    let lib = lib_dir();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c").join(compiler.command());
    fs::create_dir_all(&out_dir).expect("create the output directory");
    let exe = out_dir.join(program);
    let source = root().join("tests").join("c").join(format!("{program}.c"));
    let output = Command::new(compiler.command())
        .args(compiler.flags())
        .arg("-I")
        .arg(root().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg("-lwebsocket")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (scripts/setup.sh installs it): {e}", compiler.command()));
    assert!(
        output.status.success(),
        "{} failed to compile {}:\n{}{}",
        compiler.command(),
        source.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Builds and runs one program; it must exit with status 0.
fn run(compiler: Compiler, program: &str) {
    let exe = build(compiler, program);
    // cargo's LD_LIBRARY_PATH (searched before the program's run path) also lists the profile
    // directory, where an older `cargo build` may have left an older libwebsocket.so.1: point
    // the loader at the library built for this test run only.
    let output = Command::new(&exe)
        .current_dir(root())
        .env("LD_LIBRARY_PATH", lib_dir())
        .env_remove("WS_TEST_QUICK")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} ({:?} build) exited with {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        exe.display(),
        compiler,
        output.status
    );
    // A program whose tests were all skipped would also exit 0; make sure it ran some.
    assert!(stdout.contains(" passed, 0 failed"), "{program}: no summary line\n{stdout}");
}

macro_rules! c_programs {
    ($($gcc:ident, $gxx:ident => $program:literal;)*) => {
        $(
            #[test]
            fn $gcc() {
                run(Compiler::Gcc, $program);
            }

            #[test]
            fn $gxx() {
                run(Compiler::Gxx, $program);
            }
        )*

        /// Every program that has a test above.
        const PROGRAMS: &[&str] = &[$($program),*];
    };
}

c_programs! {
    gcc_layout, gxx_layout => "layout";
    gcc_handshake, gxx_handshake => "handshake";
    gcc_misuse, gxx_misuse => "misuse";
    gcc_frames, gxx_frames => "frames";
    gcc_pair, gxx_pair => "pair";
    gcc_deflate, gxx_deflate => "deflate";
}

#[test]
fn every_c_program_has_a_test() {
    let on_disk: BTreeSet<String> = fs::read_dir(root().join("tests").join("c"))
        .expect("read tests/c")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().map_or(false, |x| x == "c"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let registered: BTreeSet<String> = PROGRAMS.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, registered, "tests/c/*.c and the c_programs! list differ");
}

/// `nm -D --defined-only` of the library: (symbol type, name) pairs.
fn dynamic_symbols() -> Vec<(String, String)> {
    let lib = lib_dir().join("libwebsocket.so");
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nm (binutils): {e}"));
    assert!(output.status.success(), "nm failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().rev();
            let name = fields.next()?;
            let kind = fields.next()?;
            Some((kind.to_string(), name.to_string()))
        })
        .collect()
}

#[test]
fn exports_are_exactly_the_13_functions() {
    let symbols = dynamic_symbols();
    let expected: BTreeSet<String> = EXPORTS.iter().map(|s| s.to_string()).collect();

    let functions: BTreeSet<String> =
        symbols.iter().filter(|(kind, _)| kind == "T").map(|(_, name)| name.clone()).collect();
    assert_eq!(functions, expected, "global function symbols (T) of libwebsocket.so");

    let websocket_names: BTreeSet<String> =
        symbols.iter().filter(|(_, name)| name.starts_with("WebSocket")).map(|(_, n)| n.clone()).collect();
    assert_eq!(websocket_names, expected, "exported names starting with WebSocket");

    // Strictly: nothing else is exported at all (no Rust-level API, no data symbols).
    let others: Vec<&(String, String)> =
        symbols.iter().filter(|(_, name)| !expected.contains(name)).collect();
    assert!(others.is_empty(), "unexpected exported symbols: {others:?}");
    assert_eq!(symbols.len(), 13, "each export appears once: {symbols:?}");
}

#[test]
fn websocket_def_lists_the_same_13_exports() {
    let def = fs::read_to_string(root().join("websocket.def")).expect("read websocket.def");
    let names: BTreeSet<String> = def
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "EXPORTS" && !l.starts_with(';'))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    let expected: BTreeSet<String> = EXPORTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, expected);
}
