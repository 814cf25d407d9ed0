//! `wsbench instructions`: the per-message and per-call cost in instructions (callgrind, exact
//! and repeatable), for ours and the peers, with every export of ours shown against the floor
//! of one exported call. Writes `results/instructions.md` (also printed).
//!
//! - Per message, whole program: (Ir of a run with N messages - Ir of the same run with 0) / N,
//!   the caller's loop and copies included, for ours, tungstenite, fastwebsockets and wslay.
//! - Per export (ours): from the same two runs, callgrind's call records give each export's
//!   calls and inclusive Ir (N run minus 0 run), so Ir per call and calls per message.
//! - The floor: a valid open client handle and an export that finds nothing to do, called N
//!   times: `WebSocketCompleteAction` with a foreign token and `WebSocketGetAction(SEND)`
//!   answering NO_ACTION. Every export pays at least this per call.
//! - Where each export's instructions go: its exclusive Ir per call by the source file they come
//!   from after inlining (`lib ffi/table.rs` = handle decode and checks, `std sync/poison.rs`
//!   and `std futex.rs` = the handle's lock, `lib session/recv.rs` = protocol work, ...).
use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command;

use crate::extra::{wsbench_measured, RESULTS};
use crate::ours::{self, FloorCall};
use crate::wire::{Dir, Kind, Size};
use crate::{make, Cfg, Imp, Runner};

const EXPORTS: [&str; 4] = ["WebSocketSend", "WebSocketReceive", "WebSocketGetAction", "WebSocketCompleteAction"];

/// One measured case and its bound (instructions per message, whole program).
struct Case {
    dir: Dir,
    kind: Kind,
    size: usize,
    n: u64,
    bound: Option<f64>,
    /// Why this bound.
    why: &'static str,
}

/// The cases of issue 14's targets. "No worse than before" bounds are the figures of the
/// previous round (`BENCHMARKS.md` history), measured the same way.
fn cases() -> Vec<Case> {
    let c = |dir, kind, size, n, bound: Option<f64>, why| Case { dir, kind, size, n, bound, why };
    vec![
        c(Dir::Send, Kind::Binary, 16, 10_000, Some(500.0), "<= 500"),
        c(Dir::Send, Kind::Ascii, 16, 10_000, None, ""),
        c(Dir::Send, Kind::Binary, 125, 10_000, Some(550.0), "<= 550"),
        c(Dir::Recv, Kind::Binary, 16, 10_000, Some(450.0), "<= 450"),
        c(Dir::Recv, Kind::Ascii, 16, 10_000, Some(450.0), "<= 450"),
        c(Dir::Recv, Kind::Binary, 125, 10_000, Some(550.0), "<= 550"),
        c(Dir::Recv, Kind::Ascii, 125, 10_000, Some(550.0), "<= 550"),
        c(Dir::Recv, Kind::Binary, 65536, 200, Some(27_000.0), "<= 27 000"),
        c(Dir::Recv, Kind::Ascii, 65536, 200, Some(38_658.0), "no worse than before (38 658)"),
        c(Dir::Recv, Kind::Multi, 65536, 100, Some(81_000.0), "<= 81 000"),
        c(Dir::Send, Kind::Binary, 65536, 200, Some(74_759.0), "no worse than before (74 759)"),
    ]
}

fn parse_dir(s: &str) -> Dir {
    if s == "send" {
        Dir::Send
    } else {
        Dir::Recv
    }
}

fn parse_kind(s: &str) -> Kind {
    Kind::ALL.into_iter().find(|k| k.name() == s).expect("KIND is binary, ascii or utf8-multi")
}

fn parse_imp(s: &str) -> Imp {
    Imp::all().into_iter().find(|i| i.name() == s).expect("IMP is ours or a peer's name")
}

/// `wsbench instr-of IMP DIR KIND SIZE N` (any implementation) and `wsbench instr-floor
/// complete|noaction N`: warm up, then N messages (or calls) inside `wsbench_measured`; prints
/// how many were processed (wslay's receive may process a few more than asked).
pub fn child(mode: &str, args: &[String], cfg: &Cfg) {
    let (mut r, n, warm): (Box<dyn Runner>, u64, u64) = if mode == "instr-floor" {
        let call = if args[0] == "complete" { FloorCall::Complete } else { FloorCall::NoAction };
        (Box::new(ours::Floor::new(call, &cfg.props())), args[1].parse().unwrap(), 2000)
    } else {
        let size: usize = args[3].parse().unwrap();
        let r = make(parse_imp(&args[0]), parse_dir(&args[1]), parse_kind(&args[2]), size, cfg);
        (r, args[4].parse().unwrap(), if size <= 1024 { 2000 } else { 20 })
    };
    r.run(warm);
    let done = std::hint::black_box(wsbench_measured(r.as_mut(), n));
    println!("processed {done}");
}

/// What one callgrind run recorded.
#[derive(Default)]
struct Profile {
    total: f64,
    processed: u64,
    /// Function -> (calls, inclusive Ir), over every call site.
    calls: HashMap<String, (u64, u64)>,
    /// (caller, callee) -> (calls, inclusive Ir).
    edges: HashMap<(String, String), (u64, u64)>,
    /// (function, source file after inlining) -> exclusive Ir.
    excl: HashMap<(String, String), u64>,
}

fn run(out: &str, region: bool, args: &[String]) -> Option<Profile> {
    // Without `region`, the whole program is counted (start-up and warm-up included): callers
    // take the difference of an N run and a 0 run.
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind").arg(format!("--callgrind-out-file={out}"));
    if region {
        c.arg("--collect-atstart=no").arg("--toggle-collect=wsbench_measured");
    }
    c.arg(exe).args(args).env_remove("BENCH_QUICK").current_dir("/");
    let o = c.output().ok()?;
    if !o.status.success() {
        eprintln!("callgrind failed: {}", String::from_utf8_lossy(&o.stderr));
        return None;
    }
    let processed = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("processed ").and_then(|x| x.trim().parse().ok()))?;
    let mut p = parse(&std::fs::read_to_string(out).ok()?);
    p.processed = processed;
    Some(p)
}

/// Reads a callgrind output file (one event, Ir): totals, call records, exclusive cost per
/// (function, inlined source file). Names may be compressed as `(id) name` / `(id)`.
fn parse(text: &str) -> Profile {
    let mut p = Profile::default();
    let mut fns: HashMap<String, String> = HashMap::new();
    let mut files: HashMap<String, String> = HashMap::new();
    let name = |table: &mut HashMap<String, String>, v: &str| -> String {
        let v = v.trim();
        if let Some(rest) = v.strip_prefix('(') {
            let (id, tail) = rest.split_once(')').unwrap_or((rest, ""));
            let tail = tail.trim();
            if tail.is_empty() {
                table.get(id).cloned().unwrap_or_default()
            } else {
                table.insert(id.to_string(), tail.to_string());
                tail.to_string()
            }
        } else {
            v.to_string()
        }
    };
    let (mut func, mut fl, mut file) = (String::new(), String::new(), String::new());
    let mut callee: Option<(String, u64)> = None;
    let mut pending_cfn = String::new();
    for line in text.lines() {
        if let Some((key, v)) = line.split_once('=') {
            match key {
                "fn" => {
                    func = name(&mut fns, v);
                    file = fl.clone();
                }
                "cfn" => pending_cfn = name(&mut fns, v),
                "fl" => {
                    fl = name(&mut files, v);
                    file = fl.clone();
                }
                "fi" | "fe" => file = name(&mut files, v),
                "cfi" | "cfl" => {
                    name(&mut files, v);
                }
                "calls" => {
                    let count = v.split_whitespace().next().and_then(|x| x.parse().ok()).unwrap_or(0);
                    callee = Some((pending_cfn.clone(), count));
                }
                _ => {}
            }
            continue;
        }
        if let Some(v) = line.strip_prefix("summary:").or_else(|| line.strip_prefix("totals:")) {
            p.total = v.split_whitespace().next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
            continue;
        }
        let first = line.as_bytes().first().copied().unwrap_or(b' ');
        if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'*') {
            continue;
        }
        let ir: u64 = line.split_whitespace().last().and_then(|x| x.parse().ok()).unwrap_or(0);
        match callee.take() {
            Some((f, count)) => {
                let e = p.edges.entry((func.clone(), f.clone())).or_insert((0, 0));
                e.0 += count;
                e.1 += ir;
                let e = p.calls.entry(f).or_insert((0, 0));
                e.0 += count;
                e.1 += ir;
            }
            None => *p.excl.entry((func.clone(), file.clone())).or_insert(0) += ir,
        }
    }
    p
}

/// `a - b`: what N messages cost beyond the same run with 0 (start-up and warm-up cancel out,
/// call counts included).
fn minus(a: &Profile, b: &Profile) -> Profile {
    let sub = |x: &HashMap<String, (u64, u64)>, y: &HashMap<String, (u64, u64)>| {
        x.iter()
            .map(|(k, v)| {
                let w = y.get(k).copied().unwrap_or((0, 0));
                (k.clone(), (v.0.saturating_sub(w.0), v.1.saturating_sub(w.1)))
            })
            .collect()
    };
    Profile {
        total: a.total - b.total,
        processed: a.processed.saturating_sub(b.processed),
        calls: sub(&a.calls, &b.calls),
        edges: a
            .edges
            .iter()
            .map(|(k, v)| {
                let w = b.edges.get(k).copied().unwrap_or((0, 0));
                (k.clone(), (v.0.saturating_sub(w.0), v.1.saturating_sub(w.1)))
            })
            .collect(),
        excl: a.excl.iter().map(|(k, v)| (k.clone(), v.saturating_sub(b.excl.get(k).copied().unwrap_or(0)))).collect(),
    }
}

/// The functions `func` calls (not inlined), inclusive Ir per call of `func`, largest first.
fn callees(p: &Profile, func: &str, calls: u64) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = p
        .edges
        .iter()
        .filter(|((caller, _), c)| caller == func && c.1 > 0)
        .map(|((_, callee), c)| (short_fn(callee), c.1 as f64 / calls as f64))
        .filter(|x| x.1 >= 0.5)
        .collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    v
}

/// The last path segment of a (Rust) function name, with its type if it is a method.
fn short_fn(name: &str) -> String {
    let name = name.split(" [").next().unwrap_or(name);
    let parts: Vec<&str> = name.rsplitn(2, "::").collect();
    match parts.as_slice() {
        [f, _] => (*f).to_string(),
        _ => name.to_string(),
    }
}

/// A short label for a source file: `lib session/recv.rs`, `std sync/poison.rs`, `crate simdutf8`.
fn file_label(path: &str) -> String {
    let comps: Vec<&str> = path.split('/').collect();
    let tail = |n: usize| comps[comps.len().saturating_sub(n)..].join("/");
    let lib_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let lib_src = format!("{}/src/", lib_root.display());
    if path.contains("/rustc/") || path.contains("/library/") {
        format!("std {}", tail(2))
    } else if let Some(rest) = path.strip_prefix(lib_src.as_str()) {
        format!("lib {rest}")
    } else if let Some(rest) = path.strip_prefix("src/") {
        format!("lib {rest}")
    } else if path.contains("/.cargo/registry/") {
        let i = comps.iter().position(|c| c.starts_with("index.crates.io")).map_or(0, |i| i + 1);
        format!("crate {}", comps.get(i).unwrap_or(&"?"))
    } else if path == "???" || path.is_empty() {
        "(no debug info)".into()
    } else {
        format!("libc {}", tail(1))
    }
}

/// Exclusive Ir of `func` per call, by source file, largest first (files under 0.5 Ir/call
/// are summed as "other").
fn by_file(p: &Profile, func: &str, calls: u64) -> Vec<(String, f64)> {
    let mut m: HashMap<String, f64> = HashMap::new();
    for ((f, file), ir) in &p.excl {
        if f == func {
            *m.entry(file_label(file)).or_insert(0.0) += *ir as f64 / calls as f64;
        }
    }
    let mut v: Vec<(String, f64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    let other: f64 = v.iter().filter(|x| x.1 < 0.5).map(|x| x.1).sum();
    v.retain(|x| x.1 >= 0.5);
    if other > 0.0 {
        v.push(("other".into(), other));
    }
    v
}

fn fmt_files(v: &[(String, f64)]) -> String {
    v.iter().map(|(f, ir)| format!("{f} {ir:.0}")).collect::<Vec<_>>().join(", ")
}

fn group(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && s.len() > 4 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Runs everything and returns the markdown.
pub fn instructions(cfg: &Cfg) -> String {
    let _ = cfg;
    std::fs::create_dir_all(RESULTS).unwrap();
    let out = |tag: &str| format!("{RESULTS}/callgrind.i.{tag}.out");
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Instructions per message and per call (callgrind)\n\nLibrary commit {} · {} · {} · `scripts/bench.sh instr`\n",
        env!("WSBENCH_LIB_REV"),
        crate::report::sh("rustc", &["-V"]),
        crate::report::sh("valgrind", &["--version"])
    );

    // The floor.
    let mut floor: HashMap<&str, (f64, Vec<(String, f64)>)> = HashMap::new();
    for (arg, export) in [("complete", "WebSocketCompleteAction"), ("noaction", "WebSocketGetAction")] {
        let n = 10_000u64;
        eprintln!("instructions: floor, {export}");
        let a = |n: u64| -> Vec<String> { vec!["instr-floor".into(), arg.into(), n.to_string()] };
        let p = match (run(&out(&format!("floor-{arg}")), false, &a(n)), run(&out(&format!("floor-{arg}-n0")), false, &a(0))) {
            (Some(p1), Some(p0)) => minus(&p1, &p0),
            _ => continue,
        };
        if let Some(&(calls, incl)) = p.calls.get(export) {
            floor.insert(export, (incl as f64 / calls as f64, by_file(&p, export, calls)));
        }
    }
    let floor_of = |e: &str| {
        floor.get(if e == "WebSocketGetAction" { e } else { "WebSocketCompleteAction" }).map(|f| f.0)
    };
    let _ = writeln!(md, "## The floor of one exported call\n\nA valid, open client handle and an export that finds nothing to do, called 10 000 times; inclusive Ir per call, and its exclusive Ir per call by source file (after inlining).\n\n| call | Ir/call | where (Ir/call by source file) |\n| --- | ---: | --- |");
    for (label, export) in [
        ("`WebSocketCompleteAction`, foreign token (ignored)", "WebSocketCompleteAction"),
        ("`WebSocketGetAction(SEND)`, NO_ACTION (all outputs written)", "WebSocketGetAction"),
    ] {
        if let Some((ir, files)) = floor.get(export) {
            let _ = writeln!(md, "| {label} | {ir:.0} | {} |", fmt_files(files));
        }
    }

    // Per message, whole program, ours and the peers.
    let mut peers = vec![Imp::Tungstenite, Imp::Fastwebsockets];
    if cfg!(have_wslay) {
        peers.push(Imp::Wslay);
    }
    let _ = writeln!(md, "\n## Per message, whole program\n\n(Ir of N messages - Ir of 0) / N, the caller's loop and copies included.\n");
    let mut head = "| case | ours | bound | status |".to_string();
    let mut rule = "| --- | ---: | --- | --- |".to_string();
    for p in &peers {
        head += &format!(" {} |", p.name());
        rule += " ---: |";
    }
    let _ = writeln!(md, "{head}\n{rule}");
    let mut exports_md = String::new();
    for c in cases() {
        let label = format!("{} {} {} B", c.dir.name(), c.kind.name(), Size(c.size));
        let tag = format!("{}-{}-{}", c.dir.name(), c.kind.name(), c.size);
        let args = |imp: Imp, n: u64| -> Vec<String> {
            vec![
                "instr-of".into(),
                imp.name().into(),
                c.dir.name().into(),
                c.kind.name().into(),
                c.size.to_string(),
                n.to_string(),
            ]
        };
        let profile = |imp: Imp| -> Option<Profile> {
            eprintln!("instructions: {label}, {}", imp.name());
            let p0 = run(&out(&format!("{tag}-{}-n0", imp.name())), false, &args(imp, 0))?;
            let p1 = run(&out(&format!("{tag}-{}", imp.name())), false, &args(imp, c.n))?;
            Some(minus(&p1, &p0))
        };
        let per_msg = |p: &Profile| p.total / p.processed.max(1) as f64;
        let ours_p = profile(Imp::Ours);
        let ours = ours_p.as_ref().map(per_msg);
        let status = match (ours, c.bound) {
            (Some(v), Some(b)) if v <= b => "met",
            (Some(_), Some(_)) => "MISSED",
            _ => "",
        };
        let mut row = format!(
            "| {label} | {} | {} | {status} |",
            ours.map(group).unwrap_or_else(|| "-".into()),
            if c.why.is_empty() { "-" } else { c.why }
        );
        for &p in &peers {
            row += &format!(" {} |", profile(p).as_ref().map(per_msg).map(group).unwrap_or_else(|| "-".into()));
        }
        let _ = writeln!(md, "{row}");

        // Per export, ours.
        let p = match ours_p {
            Some(p) => p,
            None => continue,
        };
        let n = p.processed.max(1) as f64;
        let _ = writeln!(
            exports_md,
            "\n### {label}: {:.0} Ir/msg\n\n| export | calls/msg | Ir/call | floor | above floor | Ir/msg | where (exclusive Ir/call by source file; then functions it calls, inclusive Ir/call) |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            p.total / n
        );
        let mut lib = 0.0;
        for e in EXPORTS {
            if let Some(&(calls, incl)) = p.calls.get(e) {
                if calls == 0 {
                    continue;
                }
                let per_call = incl as f64 / calls as f64;
                lib += incl as f64 / n;
                let fl = floor_of(e);
                let _ = writeln!(
                    exports_md,
                    "| {e} | {:.3} | {per_call:.0} | {} | {} | {:.0} | {} |",
                    calls as f64 / n,
                    fl.map(|f| format!("{f:.0}")).unwrap_or_default(),
                    fl.map(|f| format!("{:+.0}", per_call - f)).unwrap_or_default(),
                    incl as f64 / n,
                    {
                        let mut w = fmt_files(&by_file(&p, e, calls));
                        let called = callees(&p, e, calls);
                        if !called.is_empty() {
                            w += &format!("; calls: {}", fmt_files(&called));
                        }
                        w
                    }
                );
            }
        }
        let _ = writeln!(exports_md, "| library (four exports) | | | | | {lib:.0} | |\n| caller (loop, reads, copies) | | | | | {:.0} | |", p.total / n - lib);
    }
    md += "\n## Per export (ours)\n\nInclusive Ir per call in the steady state (N run minus 0 run), calls per message, the floor of one exported call (the GetAction row against GetAction's NO_ACTION floor, the others against CompleteAction's), and the export's own instructions per call by source file.\n";
    md += &exports_md;
    let path = format!("{RESULTS}/instructions.md");
    std::fs::write(&path, &md).unwrap();
    eprintln!("wrote {path}");
    md
}
