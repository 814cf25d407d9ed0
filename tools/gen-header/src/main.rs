//! Generates `include/websocket.h` from the library's Rust sources with cbindgen.
//!
//! cbindgen only emits functions declared `extern "C"`, while the exports are `extern "system"`
//! (stdcall on 32-bit Windows, the C convention everywhere else). The generator therefore feeds
//! cbindgen a copy of the sources in which that one ABI string reads "C"; the calling convention
//! reaches the header through the `HRESULT_WINAPI` / `VOID_WINAPI` return types (see
//! cbindgen.toml). It then checks that all 13 exports made it into the header.
//!
//! Usage: `gen-header` (write the header) or `gen-header --check` (fail if it is stale).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXPORTS: [&str; 13] = [
    "WebSocketCreateClientHandle",
    "WebSocketCreateServerHandle",
    "WebSocketDeleteHandle",
    "WebSocketAbortHandle",
    "WebSocketBeginClientHandshake",
    "WebSocketEndClientHandshake",
    "WebSocketBeginServerHandshake",
    "WebSocketEndServerHandshake",
    "WebSocketSend",
    "WebSocketReceive",
    "WebSocketGetAction",
    "WebSocketCompleteAction",
    "WebSocketGetGlobalProperty",
];

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root");
    let header = match generate(&root) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("gen-header: {e}");
            return ExitCode::FAILURE;
        }
    };
    let path = root.join("include/websocket.h");
    if check {
        let current = fs::read_to_string(&path).unwrap_or_default();
        if current != header {
            eprintln!("gen-header: {} is stale; run `cargo run --manifest-path tools/gen-header/Cargo.toml`", path.display());
            return ExitCode::FAILURE;
        }
        println!("gen-header: {} is up to date", path.display());
    } else {
        fs::create_dir_all(path.parent().expect("include dir")).expect("create include/");
        fs::write(&path, header).expect("write header");
        println!("gen-header: wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

/// Generates the header text.
pub fn generate(root: &Path) -> Result<String, String> {
    let work = std::env::temp_dir().join(format!("gen-header-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let mut sources = Vec::new();
    copy_sources(&root.join("src"), &work, &mut sources)?;
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).map_err(|e| e.to_string())?;
    if sources.is_empty() {
        return Err("no sources found".into());
    }
    // The ABI is all in src/ffi; cbindgen follows its `mod` items.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(work.join("ffi").join("mod.rs"))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    let _ = fs::remove_dir_all(&work);
    let text = sdk_tags(&String::from_utf8(out).map_err(|e| e.to_string())?)?;
    for name in EXPORTS {
        let declared = text.contains(&format!("HRESULT WINAPI {name}(")) || text.contains(&format!("VOID WINAPI {name}("));
        if !declared {
            return Err(format!("{name} is missing from the generated header"));
        }
    }
    Ok(text)
}

/// The enums of the header, whose typedefs get the SDK's tag spelling.
const ENUMS: [&str; 5] = [
    "WEB_SOCKET_CLOSE_STATUS",
    "WEB_SOCKET_PROPERTY_TYPE",
    "WEB_SOCKET_ACTION_QUEUE",
    "WEB_SOCKET_BUFFER_TYPE",
    "WEB_SOCKET_ACTION",
];

/// Gives structs, unions and enums the tags of the Windows SDK (and Wine): `struct
/// _WEB_SOCKET_PROPERTY`, `union _WEB_SOCKET_BUFFER`, `enum _WEB_SOCKET_ACTION`, ... while the
/// typedef names stay `WEB_SOCKET_PROPERTY` etc. cbindgen names a tag after its Rust type; the
/// Rust names are the typedef names, so the tags are renamed here. In C++ cbindgen relies on the
/// enum's own name; with the tag renamed, the typedef is emitted for C++ as well.
fn sdk_tags(text: &str) -> Result<String, String> {
    let mut text = text
        .replace("struct WEB_SOCKET_", "struct _WEB_SOCKET_")
        .replace("union WEB_SOCKET_", "union _WEB_SOCKET_")
        .replace("enum WEB_SOCKET_", "enum _WEB_SOCKET_");
    for name in ENUMS {
        let mut done = false;
        for int in ["int32_t", "uint32_t"] {
            let generated = format!(
                "#ifndef __cplusplus\n#if __STDC_VERSION__ >= 202311L\ntypedef enum _{name} {name};\n#else\ntypedef {int} {name};\n#endif // __STDC_VERSION__ >= 202311L\n#endif // __cplusplus\n"
            );
            if text.contains(&generated) {
                let wanted = format!(
                    "#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L\ntypedef enum _{name} {name};\n#else\ntypedef {int} {name};\n#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n"
                );
                text = text.replace(&generated, &wanted);
                done = true;
            }
        }
        if !done {
            return Err(format!("the typedef of enum {name} is not in the expected form"));
        }
    }
    Ok(text)
}

fn copy_sources(dir: &Path, dest: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<_> = fs::read_dir(dir).map_err(|e| e.to_string())?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let target = dest.join(entry.file_name());
        if path.is_dir() {
            copy_sources(&path, &target, out)?;
        } else if path.extension().map_or(false, |e| e == "rs") {
            let text = fs::read_to_string(&path).map_err(|e| e.to_string())?;
            fs::create_dir_all(dest).map_err(|e| e.to_string())?;
            fs::write(&target, text.replace("extern \"system\" fn", "extern \"C\" fn")).map_err(|e| e.to_string())?;
            out.push(target);
        }
    }
    Ok(())
}
