//! wsbench: the benchmark suite of the `websocket` crate (see bench/README.md).
//!
//! Usage: wsbench [all|throughput|validate|chunk|alloc|scale|threads|callgrind|instructions] [FILTER]
//! (internal: `instr DIR KIND SIZE N`, `instr-of IMP DIR KIND SIZE N`, `instr-floor CALL N`,
//! `scale-child N`). `all` is the default.
//! Environment: BENCH_MS (min ms per run, 200), BENCH_RUNS (runs per case, 7), BENCH_QUICK=1
//! (60 ms x 3 runs, scale up to 10 000), BENCH_RBS/BENCH_SBS (our buffer sizes, 16384 each).

mod alloc;
mod cost;
mod deflate;
mod extra;
mod ours;
mod peers;
mod report;
mod wire;
#[cfg(have_wslay)]
mod wslay;

use std::collections::BTreeMap;
use std::time::Instant;

use wire::{Dir, Kind, Size, SIZES};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// One "socket read": what the caller copies into a RECEIVE_FROM_NETWORK buffer at a time.
pub const READ_CHUNK: usize = 4096;

pub trait Runner {
    /// Processes about `n` messages (exactly `n` except for wslay's receive, see there);
    /// returns the number processed.
    fn run(&mut self, n: u64) -> u64;
    /// Validation: the last message received, or everything sent, was right.
    fn check(&mut self) -> Result<(), String>;
}

pub fn check_recv(got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("received {} bytes that differ from the {}-byte payload", got.len(), want.len()))
    }
}

pub fn check_send(rec: Option<&wire::Record>, kind: Kind, payload: &[u8]) -> Result<(), String> {
    let rec = rec.ok_or("sink was not recording")?;
    let frames = wire::check_client_stream(&rec.borrow(), kind.opcode(), payload)?;
    if frames == 0 {
        return Err("nothing was sent".into());
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Imp {
    Ours,
    Tungstenite,
    Fastwebsockets,
    Wslay,
    Memcpy,
}

impl Imp {
    pub fn all() -> Vec<Imp> {
        let mut v = vec![Imp::Ours, Imp::Tungstenite, Imp::Fastwebsockets];
        if cfg!(have_wslay) {
            v.push(Imp::Wslay);
        }
        v.push(Imp::Memcpy);
        v
    }
    pub fn peers() -> Vec<Imp> {
        Imp::all().into_iter().filter(|i| !matches!(i, Imp::Ours | Imp::Memcpy)).collect()
    }
    pub fn name(self) -> &'static str {
        match self {
            Imp::Ours => "ours",
            Imp::Tungstenite => "tungstenite",
            Imp::Fastwebsockets => "fastwebsockets",
            Imp::Wslay => "wslay",
            Imp::Memcpy => "memcpy",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cfg {
    pub ms: f64,
    pub runs: usize,
    pub rbs: u32,
    pub sbs: u32,
    pub quick: bool,
}

impl Cfg {
    fn from_env() -> Cfg {
        let quick = std::env::var("BENCH_QUICK").map(|v| v == "1").unwrap_or(false);
        let num = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
        Cfg {
            ms: num("BENCH_MS", if quick { 60.0 } else { 200.0 }),
            runs: num("BENCH_RUNS", if quick { 3.0 } else { 7.0 }) as usize,
            rbs: num("BENCH_RBS", 16384.0) as u32,
            sbs: num("BENCH_SBS", 16384.0) as u32,
            quick,
        }
    }
    pub fn props(&self) -> ours::Props {
        ours::Props { rbs: Some(self.rbs), sbs: Some(self.sbs), allocated: false }
    }
}

pub fn make(imp: Imp, dir: Dir, kind: Kind, size: usize, cfg: &Cfg) -> Box<dyn Runner> {
    match (imp, dir) {
        (Imp::Ours, Dir::Recv) => Box::new(ours::Recv::new(kind, size, &cfg.props(), READ_CHUNK)),
        (Imp::Ours, Dir::Send) => Box::new(ours::Send::new(kind, size, &cfg.props())),
        (Imp::Tungstenite, Dir::Recv) => Box::new(peers::tung::Recv::new(kind, size)),
        (Imp::Tungstenite, Dir::Send) => Box::new(peers::tung::Send::new(kind, size)),
        (Imp::Fastwebsockets, Dir::Recv) => Box::new(peers::fws::Recv::new(kind, size)),
        (Imp::Fastwebsockets, Dir::Send) => Box::new(peers::fws::Send::new(kind, size)),
        #[cfg(have_wslay)]
        (Imp::Wslay, Dir::Recv) => Box::new(wslay::Recv::new(kind, size)),
        #[cfg(have_wslay)]
        (Imp::Wslay, Dir::Send) => Box::new(wslay::Send::new(kind, size)),
        (Imp::Memcpy, Dir::Recv) => Box::new(peers::memcpy::Recv::new(kind, size)),
        (Imp::Memcpy, Dir::Send) => Box::new(peers::memcpy::Send::new(kind, size)),
        #[allow(unreachable_patterns)]
        _ => panic!("{} is not built in", imp.name()),
    }
}

/// Batch size for one timed run of about `cfg.ms`, found by doubling from 1 (also the warm-up).
fn calibrate(r: &mut dyn Runner, cfg: &Cfg) -> u64 {
    let target = cfg.ms / 1000.0;
    let mut n: u64 = 1;
    loop {
        let t = Instant::now();
        let done = r.run(n);
        let e = t.elapsed().as_secs_f64();
        if e >= target * 0.3 {
            return ((done as f64 / e) * target * 1.05).ceil().max(1.0) as u64;
        }
        let grow = if e > 0.0 { (target * 0.4 / e).min(100.0) } else { 100.0 };
        n = ((n as f64 * grow).ceil() as u64).max(n * 2);
    }
}

/// Measures several runners of the same case, interleaved: each is calibrated (batch of about
/// `cfg.ms`), then `cfg.runs` rounds time one batch of each in turn, so a burst of load from
/// elsewhere hits every implementation alike. Per runner: median messages/s, relative spread
/// (max-min)/median, best messages/s.
pub fn measure_many(rs: &mut [Box<dyn Runner>], cfg: &Cfg) -> Vec<Stat> {
    let batches: Vec<u64> = rs.iter_mut().map(|r| calibrate(r.as_mut(), cfg)).collect();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); rs.len()];
    for _ in 0..cfg.runs.max(1) {
        for (i, r) in rs.iter_mut().enumerate() {
            let t = Instant::now();
            let done = r.run(batches[i]);
            rates[i].push(done as f64 / t.elapsed().as_secs_f64());
        }
    }
    rates
        .into_iter()
        .map(|mut v| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let med = median(&v);
            Stat { msgs: med, spread: (v[v.len() - 1] - v[0]) / med, best: v[v.len() - 1] }
        })
        .collect()
}

pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Stat {
    /// Median messages/s.
    pub msgs: f64,
    pub spread: f64,
    /// Best run's messages/s.
    pub best: f64,
}

pub type Key = (Dir, Kind, usize, Imp);

#[derive(Default)]
pub struct Results {
    pub cfg: Option<Cfg>,
    pub tput: BTreeMap<(u8, u8, usize, Imp), Stat>,
    /// (kind, size) -> (chunked msgs/s, whole msgs/s)
    pub chunk: BTreeMap<(u8, usize), (f64, f64)>,
    /// (kind, size) -> (chunked Ir/msg, whole Ir/msg), callgrind
    pub chunk_instr: BTreeMap<(u8, usize), (f64, f64)>,
    pub instr: Vec<extra::Instr>,
    pub profiles: Vec<(String, String)>,
    pub alloc: Option<extra::AllocResults>,
    pub scale: Vec<extra::ScalePoint>,
    pub threads: Option<extra::Threads>,
    pub notes: Vec<String>,
}

pub fn dkey(d: Dir) -> u8 {
    d as u8
}
pub fn kkey(k: Kind) -> u8 {
    k as u8
}

impl Results {
    pub fn get(&self, d: Dir, k: Kind, s: usize, i: Imp) -> Option<Stat> {
        self.tput.get(&(dkey(d), kkey(k), s, i)).copied()
    }
}

fn cases(filter: &str) -> Vec<(Dir, Kind, usize)> {
    let mut v = Vec::new();
    for d in [Dir::Recv, Dir::Send] {
        for k in Kind::ALL {
            for s in SIZES {
                let id = format!("{}/{}/{}", d.name(), k.name(), Size(s));
                if filter.is_empty() || id.contains(filter) {
                    v.push((d, k, s));
                }
            }
        }
    }
    v
}

fn throughput(res: &mut Results, cfg: &Cfg, filter: &str) {
    for (d, k, s) in cases(filter) {
        let mut line = format!("{:>4} {:<10} {:>5}:", d.name(), k.name(), Size(s).to_string());
        let imps = Imp::all();
        let mut rs: Vec<Box<dyn Runner>> = imps.iter().map(|&i| make(i, d, k, s, cfg)).collect();
        let stats = measure_many(&mut rs, cfg);
        drop(rs);
        for (imp, st) in imps.into_iter().zip(stats) {
            res.tput.insert((dkey(d), kkey(k), s, imp), st);
            line += &format!(" {} {:.0} MB/s", imp.name(), st.msgs * s as f64 / 1e6);
        }
        eprintln!("{line}");
    }
}

/// Our text receive with RBS 4096 and 4 KiB reads (validation resumes across chunks) vs RBS
/// 65536 and reads of up to 64 KiB (whole messages up to 64 KiB validated in one piece).
fn chunk(res: &mut Results, cfg: &Cfg, filter: &str) {
    for k in Kind::ALL {
        for s in [16 << 10, 64 << 10, 1 << 20] {
            let id = format!("chunk/{}/{}", k.name(), Size(s));
            if !filter.is_empty() && !id.contains(filter) {
                continue;
            }
            let p4 = ours::Props { rbs: Some(4096), sbs: Some(cfg.sbs), allocated: false };
            let p64 = ours::Props { rbs: Some(65536), sbs: Some(cfg.sbs), allocated: false };
            let mut rs: Vec<Box<dyn Runner>> = vec![
                Box::new(ours::Recv::new(k, s, &p4, 4096)),
                Box::new(ours::Recv::new(k, s, &p64, 65536)),
            ];
            let st = measure_many(&mut rs, cfg);
            let (c, w) = (st[0].msgs, st[1].msgs);
            eprintln!("{id}: chunked {:.0} MB/s, whole {:.0} MB/s", c * s as f64 / 1e6, w * s as f64 / 1e6);
            res.chunk.insert((kkey(k), s), (c, w));
        }
    }
}

fn validate(cfg: &Cfg) -> bool {
    wire::RECORD.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut ok = true;
    for (d, k, s) in cases("") {
        for imp in Imp::all() {
            let mut r = make(imp, d, k, s, cfg);
            let n = if s >= 1 << 20 { 3 } else { 40 };
            let done = r.run(n);
            let res = if done == 0 { Err("processed no message".to_string()) } else { r.check() };
            if let Err(e) = res {
                ok = false;
                eprintln!("FAIL {}/{}/{} {}: {e}", d.name(), k.name(), Size(s), imp.name());
            }
        }
    }
    for k in Kind::ALL {
        for (rbs, chunk) in [(4096u32, 4096usize), (65536, 65536), (256, 4096)] {
            let p = ours::Props { rbs: Some(rbs), sbs: Some(cfg.sbs), allocated: false };
            let mut r = ours::Recv::new(k, 1 << 20, &p, chunk);
            r.run(2);
            if let Err(e) = r.check() {
                ok = false;
                eprintln!("FAIL ours recv rbs {rbs} reads {chunk} {}: {e}", k.name());
            }
        }
        let p = ours::Props { rbs: Some(4096), sbs: Some(16), allocated: true };
        let mut r = ours::Send::new(k, 100_000, &p);
        r.run(3);
        if let Err(e) = r.check() {
            ok = false;
            eprintln!("FAIL ours send sbs 16 allocated {}: {e}", k.name());
        }
    }
    wire::RECORD.store(false, std::sync::atomic::Ordering::Relaxed);
    eprintln!("validate: {}", if ok { "all implementations deliver the right bytes" } else { "FAILED" });
    ok
}

/// /proc/loadavg when the run started (the report shows it next to the one at the end).
pub static LOAD_START: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn main() {
    let _ = LOAD_START.set(
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = Cfg::from_env();
    let known = [
        "all",
        "throughput",
        "validate",
        "chunk",
        "alloc",
        "scale",
        "threads",
        "callgrind",
        "instr",
        "instr-of",
        "instr-floor",
        "instructions",
        "scale-child",
        "deflate",
    ];
    let (mode, rest) = match args.first() {
        Some(m) if known.contains(&m.as_str()) => (m.as_str(), &args[1..]),
        _ => ("all", &args[..]),
    };
    let filter = rest.first().cloned().unwrap_or_default();
    match mode {
        "instr" => return extra::instr_child(rest, &cfg),
        "deflate" => return deflate::run(),
        "instr-of" | "instr-floor" => return cost::child(mode, rest, &cfg),
        "instructions" => {
            println!("{}", cost::instructions(&cfg));
            return;
        }
        "scale-child" => return extra::scale_child(rest),
        "validate" => std::process::exit(if validate(&cfg) { 0 } else { 1 }),
        _ => {}
    }
    let mut res = Results { cfg: Some(cfg.clone()), ..Default::default() };
    let all = mode == "all";
    if all && !validate(&cfg) {
        eprintln!("validation failed: not measuring");
        std::process::exit(1);
    }
    if all || mode == "throughput" {
        throughput(&mut res, &cfg, &filter);
    }
    if all || mode == "chunk" {
        chunk(&mut res, &cfg, if mode == "chunk" { &filter } else { "" });
    }
    if all || mode == "callgrind" {
        extra::callgrind(&mut res, &cfg);
    }
    if all || mode == "alloc" {
        res.alloc = Some(extra::alloc(&cfg));
    }
    if all || mode == "scale" {
        res.scale = extra::scale(&cfg);
    }
    if all || mode == "threads" {
        res.threads = Some(extra::threads(&cfg));
    }
    let md = report::markdown(&res);
    println!("{md}");
    if all {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/results");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(format!("{dir}/latest.md"), &md).unwrap();
        std::fs::write(format!("{dir}/latest.csv"), report::csv(&res)).unwrap();
        eprintln!("wrote {dir}/latest.md and {dir}/latest.csv");
    }
}
