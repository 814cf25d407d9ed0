//! Instruction counts (callgrind), heap accounting, scale and thread scaling.
use std::process::Command;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use websocket::ffi::*;

use crate::alloc;
use crate::ours::{self, Props};
use crate::wire::{self, ChunkReader, Dir, Kind, Size};
use crate::{make, Cfg, Imp, Results, Runner};

pub const RESULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/results");

// ------------------------------------------------------------------ callgrind

/// The measured region: callgrind collects only inside this function with
/// `--collect-atstart=no --toggle-collect=wsbench_measured`.
#[no_mangle]
#[inline(never)]
pub fn wsbench_measured(r: &mut dyn Runner, n: u64) -> u64 {
    r.run(n)
}

fn parse_dir(s: &str) -> Dir {
    match s {
        "recv" => Dir::Recv,
        "send" => Dir::Send,
        _ => panic!("DIR is recv or send"),
    }
}

fn parse_kind(s: &str) -> Kind {
    Kind::ALL.into_iter().find(|k| k.name() == s).expect("KIND is binary, ascii or utf8-multi")
}

/// `wsbench instr DIR KIND SIZE N`: builds our runner (main configuration), warms up, then runs
/// N messages inside `wsbench_measured`. Run under callgrind by `wsbench callgrind`.
pub fn instr_child(args: &[String], cfg: &Cfg) {
    let d = parse_dir(&args[0]);
    let k = parse_kind(&args[1]);
    let size: usize = args[2].parse().unwrap();
    let n: u64 = args[3].parse().unwrap();
    // Optional: RBS and socket read size of a receive (the chunked-vs-whole comparison).
    let mut r = match (args.get(4), args.get(5)) {
        (Some(rbs), Some(read)) => {
            let p =
                crate::ours::Props { rbs: Some(rbs.parse().unwrap()), sbs: Some(cfg.sbs), allocated: false };
            Box::new(crate::ours::Recv::new(k, size, &p, read.parse().unwrap()))
        }
        _ => make(Imp::Ours, d, k, size, cfg),
    };
    r.run(if size <= 1024 { 2000 } else { 20 });
    std::hint::black_box(wsbench_measured(r.as_mut(), n));
}

#[derive(Clone, Debug)]
pub struct Instr {
    pub label: String,
    pub n: u64,
    /// (Ir(N) - Ir(0)) / N, whole program.
    pub diff: f64,
    /// Ir inside wsbench_measured / N (our exports + the caller loop and its copies).
    pub region: f64,
    /// Inclusive Ir of the exports only / N.
    pub lib: f64,
}

fn callgrind_total(file: &str) -> Option<f64> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut total = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("summary:").or_else(|| line.strip_prefix("totals:")) {
            total = v.split_whitespace().next().and_then(|x| x.parse::<f64>().ok());
        }
    }
    total
}

fn run_callgrind(out: &str, toggles: &[&str], args: &[String]) -> bool {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind").arg(format!("--callgrind-out-file={out}"));
    if !toggles.is_empty() {
        c.arg("--collect-atstart=no");
        for t in toggles {
            c.arg(format!("--toggle-collect={t}"));
        }
    }
    c.arg(exe).args(args).env_remove("BENCH_QUICK").current_dir("/");
    match c.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("callgrind failed: {}", String::from_utf8_lossy(&o.stderr));
            false
        }
        Err(e) => {
            eprintln!("valgrind: {e}");
            false
        }
    }
}

fn annotate(file: &str, inclusive: bool) -> String {
    let mut c = Command::new("callgrind_annotate");
    if inclusive {
        c.arg("--inclusive=yes");
    }
    c.arg("--threshold=100").arg("--auto=no").arg(file);
    c.output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Lines of callgrind_annotate's function list: (Ir, function text).
fn function_lines(text: &str) -> Vec<(f64, String)> {
    let mut v = Vec::new();
    let mut started = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.contains("file:function") {
            started = true;
            continue;
        }
        if !started || t.is_empty() {
            continue;
        }
        if t.starts_with("--") {
            if v.is_empty() {
                continue;
            }
            break;
        }
        let mut parts = t.splitn(2, ' ');
        let num = parts.next().unwrap_or("").replace(',', "");
        if let (Ok(ir), Some(rest)) = (num.parse::<f64>(), parts.next()) {
            let rest = rest.trim_start();
            // Skip the "(12.34%)" column if present.
            let rest = if rest.starts_with('(') {
                rest.splitn(2, ')').nth(1).unwrap_or("").trim_start()
            } else {
                rest
            };
            v.push((ir, rest.to_string()));
        }
    }
    v
}

/// "file: function" out of "/path/file.rs:function [object]" (the file tells which source was
/// inlined into the function): `lib session/recv.rs`, `std vec_deque/mod.rs`, `bench ours.rs`,
/// `libc ...`.
fn func_name(s: &str) -> String {
    let s = s.split(" [").next().unwrap_or(s);
    for ext in [".rs:", ".c:", ".S:", ".h:"] {
        if let Some(i) = s.find(ext) {
            let path = &s[..i + ext.len() - 1];
            let func = &s[i + ext.len()..];
            let comps: Vec<&str> = path.split('/').collect();
            let tail = |n: usize| comps[comps.len().saturating_sub(n)..].join("/");
            // valgrind runs with cwd "/", so these paths are absolute (callgrind shortens paths
            // under its working directory).
            let bench_src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
            let lib_src = format!(
                "{}/src/",
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().display()
            );
            let lib_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            // Cargo names sources relative to the library's root: "src/..." for the library,
            // "bench/src/..." for this crate.
            let relative = !path.starts_with('/') && lib_dir.join(path).is_file();
            let file = if path.contains("/rustc/") || path.contains("/library/") {
                format!("std {}", tail(2))
            } else if relative && path.starts_with("bench/src/") {
                format!("bench {}", &path["bench/src/".len()..])
            } else if relative && path.starts_with("src/") {
                format!("lib {}", &path["src/".len()..])
            } else if let Some(rest) = path.strip_prefix(bench_src) {
                format!("bench {rest}")
            } else if let Some(rest) = path.strip_prefix(lib_src.as_str()) {
                format!("lib {rest}")
            } else if path.contains("/.cargo/registry/") {
                let krate = comps
                    .iter()
                    .position(|c| c.starts_with("index.crates.io"))
                    .and_then(|i| comps.get(i + 1))
                    .unwrap_or(&"crate");
                format!("crate {krate}")
            } else {
                format!("libc {}", tail(1))
            };
            return format!("{file}: {func}");
        }
    }
    s.rsplit_once("???:").map(|x| x.1.to_string()).unwrap_or_else(|| s.to_string())
}

const EXPORTS: [&str; 4] =
    ["WebSocketReceive", "WebSocketGetAction", "WebSocketCompleteAction", "WebSocketSend"];

pub fn callgrind(res: &mut Results, cfg: &Cfg) {
    if Command::new("valgrind").arg("--version").output().is_err() {
        res.notes
            .push("valgrind not found: no instruction counts (scripts/setup.sh base installs it)".into());
        return;
    }
    let _ = cfg;
    std::fs::create_dir_all(RESULTS).unwrap();
    let cases: [(Dir, Kind, usize, u64, &str); 6] = [
        (Dir::Recv, Kind::Binary, 16, 10_000, "recv16"),
        (Dir::Send, Kind::Binary, 16, 10_000, "send16"),
        (Dir::Recv, Kind::Ascii, 16, 10_000, "recv16-ascii"),
        (Dir::Recv, Kind::Binary, 65536, 300, "recv64k"),
        (Dir::Recv, Kind::Ascii, 65536, 300, "recv64k-ascii"),
        (Dir::Send, Kind::Binary, 65536, 300, "send64k"),
    ];
    for (d, k, s, n, tag) in cases {
        let label = format!("{} {} {} B", d.name(), k.name(), s);
        let a = |n: u64| {
            vec!["instr".to_string(), d.name().into(), k.name().into(), s.to_string(), n.to_string()]
        };
        let f0 = format!("{RESULTS}/callgrind.{tag}.n0.out");
        let fnn = format!("{RESULTS}/callgrind.{tag}.full.out");
        let ft = format!("{RESULTS}/callgrind.{tag}.out");
        let fl = format!("{RESULTS}/callgrind.{tag}.lib.out");
        let fl0 = format!("{RESULTS}/callgrind.{tag}.lib.n0.out");
        eprintln!("callgrind: {label} (N = {n})");
        if !(run_callgrind(&f0, &[], &a(0))
            && run_callgrind(&fnn, &[], &a(n))
            && run_callgrind(&ft, &["wsbench_measured"], &a(n))
            && run_callgrind(&fl, &EXPORTS, &a(n))
            && run_callgrind(&fl0, &EXPORTS, &a(0)))
        {
            res.notes.push(format!("callgrind run failed for {label}"));
            continue;
        }
        let (Some(t0), Some(tn), Some(tt), Some(l1), Some(l0)) = (
            callgrind_total(&f0),
            callgrind_total(&fnn),
            callgrind_total(&ft),
            callgrind_total(&fl),
            callgrind_total(&fl0),
        ) else {
            res.notes.push(format!("could not read callgrind totals for {label}"));
            continue;
        };
        // Collecting inside the exports also counts the warm-up: take the N - 0 difference.
        let lib = l1 - l0;
        let nf = n as f64;
        res.instr.push(Instr {
            label: label.clone(),
            n,
            diff: (tn - t0) / nf,
            region: tt / nf,
            lib: lib / nf,
        });
        let excl = function_lines(&annotate(&ft, false));
        let mut prof = String::new();
        prof += &format!("| Ir/msg | % | function |\n| ---: | ---: | --- |\n");
        for (ir, f) in excl.iter().take(15) {
            prof += &format!("| {:.1} | {:.1} | `{}` |\n", ir / nf, 100.0 * ir / tt, func_name(f));
        }
        // Exclusive Ir grouped by the source file the instructions come from (after inlining).
        let mut by_file: Vec<(String, f64)> = Vec::new();
        for (ir, f) in &excl {
            let n = func_name(f);
            let file = if n.contains(": ") {
                n.split(": ").next().unwrap().to_string()
            } else {
                "(no debug info)".into()
            };
            let file = if file.starts_with("libc") { "libc".into() } else { file };
            match by_file.iter_mut().find(|x| x.0 == file) {
                Some(x) => x.1 += ir,
                None => by_file.push((file, *ir)),
            }
        }
        by_file.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
        prof += "\nBy source file (exclusive Ir/msg): ";
        prof += &by_file
            .iter()
            .take(10)
            .map(|(f, ir)| format!("{f} {:.0}", ir / nf))
            .collect::<Vec<_>>()
            .join(", ");
        prof += "\n";
        res.profiles.push((format!("{label} (callgrind, exclusive, measured region, N = {n})"), prof));
    }
    // Receiving in 4 KiB pieces (RBS 4096, 4 KiB reads: the validator resumes across pieces) vs
    // whole (RBS 65536, reads of up to 64 KiB), counted exactly inside the exports (the caller's
    // copies are left out: glibc copies 64 KiB reads with `rep movsb`, which callgrind counts
    // per byte, so whole-program counts would compare memcpy strategies).
    for k in Kind::ALL {
        for (size, n) in [(16usize << 10, 400u64), (64 << 10, 100)] {
            let mut per = [0f64; 2];
            for (i, (rbs, read)) in [(4096u32, 4096usize), (65536, 65536)].into_iter().enumerate() {
                let a = |n: u64| {
                    [
                        "instr",
                        "recv",
                        k.name(),
                        &size.to_string(),
                        &n.to_string(),
                        &rbs.to_string(),
                        &read.to_string(),
                    ]
                    .map(String::from)
                    .to_vec()
                };
                let (f0, f1) =
                    (format!("{RESULTS}/callgrind.chunk.n0.out"), format!("{RESULTS}/callgrind.chunk.out"));
                eprintln!("callgrind: recv {} {size} B, RBS {rbs}, reads of {read} B (N = {n})", k.name());
                let (Some(t0), Some(t1)) = (
                    run_callgrind(&f0, &EXPORTS, &a(0)).then(|| callgrind_total(&f0)).flatten(),
                    run_callgrind(&f1, &EXPORTS, &a(n)).then(|| callgrind_total(&f1)).flatten(),
                ) else {
                    res.notes.push(format!("callgrind run failed for chunked receive {} {size}", k.name()));
                    continue;
                };
                per[i] = (t1 - t0) / n as f64;
            }
            res.chunk_instr.insert((crate::kkey(k), size), (per[0], per[1]));
        }
    }
}

// ------------------------------------------------------------------ heap

#[derive(Clone, Debug)]
pub struct HandleCost {
    pub label: String,
    pub live: f64,
    pub allocs: f64,
    pub max_alloc: usize,
    pub leak: f64,
    pub limit: f64,
}

#[derive(Clone, Debug)]
pub struct MsgAllocs {
    pub label: String,
    pub imp: Imp,
    pub allocs: f64,
    pub bytes: f64,
}

#[derive(Clone, Debug, Default)]
pub struct AllocResults {
    pub handles: Vec<HandleCost>,
    pub msgs: Vec<MsgAllocs>,
}

fn handle_cost(server: bool, p: Props, k: usize) -> HandleCost {
    // Warm-up: lazily-initialised globals exist afterwards, and so do the handle table's chunks
    // and free list for the handles measured: the table reuses a deleted handle's slot only once
    // 4096 slots are free, so `k` + 8192 handles created and deleted here leave enough free
    // slots that the `k` below reuse them. What is measured is then the handles' own memory,
    // not the table's growth (64 bytes per slot, allocated 1024 slots at a time).
    drop(ours::open(server, &p));
    let spare: Vec<WEB_SOCKET_HANDLE> =
        (0..k + 8192).map(|_| ours::create(server, &Props::DEFAULT, None)).collect();
    for h in spare {
        unsafe { WebSocketDeleteHandle(h) };
    }
    let rlen = ours::region_len(server, &p);
    let mut regions: Vec<Vec<u8>> =
        (0..k).map(|_| if p.allocated { vec![0u8; rlen] } else { Vec::new() }).collect();
    let mut hs: Vec<WEB_SOCKET_HANDLE> = Vec::with_capacity(k);
    alloc::reset_max();
    alloc::enable(true);
    let s0 = alloc::snap();
    for r in regions.iter_mut() {
        let h = ours::create(server, &p, if p.allocated { Some(r) } else { None });
        if server {
            ours::server_handshake(h);
        } else {
            ours::client_handshake(h, &mut |on| alloc::enable(on));
        }
        hs.push(h);
    }
    let s1 = alloc::snap();
    for h in hs.drain(..) {
        unsafe { WebSocketDeleteHandle(h) };
    }
    let s2 = alloc::snap();
    alloc::enable(false);
    drop(regions);
    let kf = k as f64;
    let rbs = p.rbs.unwrap_or(4096) as f64;
    let sbs = p.sbs.unwrap_or(if server { 16 } else { 4096 }) as f64;
    let label = format!(
        "{} RBS {} SBS {}{}",
        if server { "server (.NET handshake)" } else { "client (full handshake)" },
        rbs,
        sbs,
        if p.allocated { ", ALLOCATED_BUFFER" } else { "" }
    );
    HandleCost {
        label,
        live: (s1.live - s0.live) as f64 / kf,
        allocs: (s1.allocs - s0.allocs) as f64 / kf,
        max_alloc: s1.max,
        leak: (s2.live - s0.live) as f64 / kf,
        limit: if p.allocated { 512.0 } else { rbs + sbs + 144.0 + 512.0 },
    }
}

pub fn alloc(cfg: &Cfg) -> AllocResults {
    let mut out = AllocResults::default();
    let d = |rbs, sbs, allocated| Props { rbs, sbs, allocated };
    for (server, p) in [
        (true, d(None, None, false)),
        (true, d(None, None, true)),
        (false, d(None, None, false)),
        (false, d(None, None, true)),
        (true, d(Some(16384), Some(16), false)),
        (true, d(Some(16384), Some(16), true)),
    ] {
        let c = handle_cost(server, p, 1000);
        eprintln!("heap: {}: {:.0} B live/handle, {:.1} allocs/handle", c.label, c.live, c.allocs);
        out.handles.push(c);
    }
    for (d, k, s) in [
        (Dir::Recv, Kind::Binary, 16),
        (Dir::Recv, Kind::Ascii, 65536),
        (Dir::Send, Kind::Binary, 16),
        (Dir::Send, Kind::Binary, 65536),
    ] {
        for imp in Imp::all().into_iter().filter(|i| *i != Imp::Memcpy) {
            let mut r = make(imp, d, k, s, cfg);
            let n = if s <= 1024 { 5000 } else { 100 };
            r.run(n / 10 + 1);
            alloc::enable(true);
            let s0 = alloc::snap();
            let done = r.run(n);
            let s1 = alloc::snap();
            alloc::enable(false);
            out.msgs.push(MsgAllocs {
                label: format!("{} {} {}", d.name(), k.name(), Size(s)),
                imp,
                allocs: (s1.allocs - s0.allocs) as f64 / done as f64,
                bytes: (s1.bytes - s0.bytes) as f64 / done as f64,
            });
        }
    }
    out
}

// ------------------------------------------------------------------ scale

#[derive(Clone, Debug)]
pub struct ScalePoint {
    pub n: usize,
    pub create_ns: f64,
    pub rss: f64,
    pub delete_ns: f64,
}

fn vm_rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// `wsbench scale-child N` (a fresh process per N, so RSS starts clean): N server handles with
/// default properties, each created, handshaken (.NET style) and fed one 16-byte masked binary
/// message, all alive at once; then all deleted. Prints `SCALE N create_ns rss_bytes delete_ns`
/// (per handle).
pub fn scale_child(args: &[String]) {
    let n: usize = args[0].parse().unwrap();
    let payload = wire::payload(Kind::Binary, 16);
    let mut src = ChunkReader::new(wire::encode_frame(2, &payload, Some([9, 8, 7, 6])), 4096);
    let mut out = [0u8; 16];
    let mut hs: Vec<WEB_SOCKET_HANDLE> = vec![null_mut(); n];
    let rss0 = vm_rss();
    let t = Instant::now();
    for slot in hs.iter_mut() {
        let h = ours::create(true, &Props::DEFAULT, None);
        ours::server_handshake(h);
        assert_eq!(ours::recv_message(h, &mut src, &mut out), 16);
        *slot = h;
    }
    let tc = t.elapsed().as_nanos() as f64;
    let rss1 = vm_rss();
    let t = Instant::now();
    for h in hs.iter() {
        unsafe { WebSocketDeleteHandle(*h) };
    }
    let td = t.elapsed().as_nanos() as f64;
    assert_eq!(out, payload[..]);
    let nf = n as f64;
    println!("SCALE {n} {:.1} {:.1} {:.1}", tc / nf, (rss1.saturating_sub(rss0)) as f64 / nf, td / nf);
}

pub fn scale(cfg: &Cfg) -> Vec<ScalePoint> {
    let exe = std::env::current_exe().unwrap();
    let max = if cfg.quick { 10_000 } else { 100_000 };
    let mut v = Vec::new();
    for n in [1usize, 1000, 10_000, 100_000].into_iter().filter(|n| *n <= max) {
        // Median of 3 processes per count.
        let mut pts: Vec<ScalePoint> = (0..3)
            .filter_map(|_| {
                let o = Command::new(&exe).arg("scale-child").arg(n.to_string()).output().ok()?;
                let s = String::from_utf8_lossy(&o.stdout).into_owned();
                let f: Vec<f64> = s.split_whitespace().skip(2).filter_map(|x| x.parse().ok()).collect();
                (f.len() == 3).then(|| ScalePoint { n, create_ns: f[0], rss: f[1], delete_ns: f[2] })
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by(|a, b| a.create_ns.partial_cmp(&b.create_ns).unwrap());
        let p = pts[pts.len() / 2].clone();
        eprintln!("scale: {n} handles: {:.0} ns create+handshake+message, {:.0} B RSS, {:.0} ns delete (per handle)", p.create_ns, p.rss, p.delete_ns);
        v.push(p);
    }
    v
}

// ------------------------------------------------------------------ threads

#[derive(Clone, Debug)]
pub struct Threads {
    /// (label, one-thread msgs/s, two-thread total msgs/s)
    pub rows: Vec<(String, f64, f64)>,
}

fn thread_rate(imp: Imp, kind: Kind, size: usize, cfg: &Cfg, threads: usize, dur: Duration) -> f64 {
    let barrier = std::sync::Barrier::new(threads);
    let rates: Vec<f64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut r = make(imp, Dir::Recv, kind, size, cfg);
                    let batch = (1_000_000 / size.max(16)).clamp(2, 20_000) as u64;
                    r.run(batch);
                    barrier.wait();
                    let t = Instant::now();
                    let mut done = 0;
                    while t.elapsed() < dur {
                        done += r.run(batch);
                    }
                    done as f64 / t.elapsed().as_secs_f64()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    rates.iter().sum()
}

pub fn threads(cfg: &Cfg) -> Threads {
    let dur = Duration::from_millis(if cfg.quick { 300 } else { 1000 });
    let mut rows = Vec::new();
    for (imp, k, s) in [
        (Imp::Ours, Kind::Binary, 16usize),
        (Imp::Ours, Kind::Binary, 16 << 10),
        (Imp::Memcpy, Kind::Binary, 16),
        (Imp::Memcpy, Kind::Binary, 16 << 10),
    ] {
        let mut one = Vec::new();
        let mut two = Vec::new();
        for _ in 0..3 {
            one.push(thread_rate(imp, k, s, cfg, 1, dur));
            two.push(thread_rate(imp, k, s, cfg, 2, dur));
        }
        one.sort_by(|a, b| a.partial_cmp(b).unwrap());
        two.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (o, t) = (crate::median(&one), crate::median(&two));
        let label = format!("{} recv {} {}", imp.name(), k.name(), Size(s));
        eprintln!("threads: {label}: one {o:.0} msg/s, two {t:.0} msg/s ({:.2}x)", t / o);
        rows.push((label, o, t));
    }
    Threads { rows }
}
