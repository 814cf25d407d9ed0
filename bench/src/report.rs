//! The markdown report (stdout + results/latest.md), the CSV, and the goal check.
use std::fmt::Write;
use std::process::Command;

use crate::wire::{Dir, Kind, Size, SIZES};
use crate::{Imp, Results};

pub fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> String {
    let lscpu = sh("lscpu", &[]);
    let model = lscpu
        .lines()
        .find(|l| l.starts_with("Model name:"))
        .map(|l| l[11..].trim().to_string())
        .unwrap_or_default();
    let cores = sh("nproc", &[]);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0) / 1048576.0)
        })
        .unwrap_or(0.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rustc = sh("rustc", &["-V"]);
    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let valgrind = sh("valgrind", &["--version"]);
    format!(
        "- date: {date}\n- CPU: {model}, {cores} cores (nproc), {mem:.0} GiB RAM; load average (1/5/15 min) at the start: {}, at the end: {}\n- rustc: {rustc}; valgrind: {valgrind}\n- library: commit {} (when built); bench crate profile: release, lto, codegen-units 1, debug info; no target-cpu\n",
        crate::LOAD_START.get().map(|s| s.as_str()).unwrap_or("?"),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        env!("WSBENCH_LIB_REV"),
    )
}

fn mb(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn count(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Best peer's messages/s and its name.
fn best_peer(res: &Results, d: Dir, k: Kind, s: usize) -> Option<(f64, Imp)> {
    Imp::peers()
        .into_iter()
        .filter_map(|i| res.get(d, k, s, i).map(|st| (st.msgs, i)))
        .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap())
}

fn ratio(res: &Results, d: Dir, k: Kind, s: usize, other: Imp) -> Option<f64> {
    Some(res.get(d, k, s, Imp::Ours)?.msgs / res.get(d, k, s, other)?.msgs)
}

fn ratio_best(res: &Results, d: Dir, k: Kind, s: usize) -> Option<f64> {
    Some(res.get(d, k, s, Imp::Ours)?.msgs / best_peer(res, d, k, s)?.0)
}

pub fn csv(res: &Results) -> String {
    let mut o = String::from("section,dir,kind,size,impl,mb_per_s,msgs_per_s,spread_pct,best_msgs_per_s\n");
    for (&(d, k, s, imp), st) in &res.tput {
        let dn = if d == Dir::Recv as u8 { "recv" } else { "send" };
        let kn = Kind::ALL[k as usize].name();
        let _ = writeln!(
            o,
            "throughput,{dn},{kn},{s},{},{:.3},{:.1},{:.1},{:.1}",
            imp.name(),
            st.msgs * s as f64 / 1e6,
            st.msgs,
            st.spread * 100.0,
            st.best
        );
    }
    for (&(k, s), &(c, w)) in &res.chunk {
        let kn = Kind::ALL[k as usize].name();
        let _ = writeln!(o, "chunk,recv,{kn},{s},ours-rbs4k-reads4k,{:.3},{:.1},,", c * s as f64 / 1e6, c);
        let _ = writeln!(o, "chunk,recv,{kn},{s},ours-rbs64k-reads64k,{:.3},{:.1},,", w * s as f64 / 1e6, w);
    }
    o
}

struct Goal {
    name: String,
    value: Option<f64>,
    shown: String,
    target: String,
    met: Option<bool>,
}

fn min_opt(it: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = it.collect::<Option<Vec<f64>>>()?;
    v.into_iter().reduce(f64::min)
}

fn max_opt(it: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = it.collect::<Option<Vec<f64>>>()?;
    v.into_iter().reduce(f64::max)
}

const BIG: [usize; 3] = [16 << 10, 64 << 10, 1 << 20];

fn goals(res: &Results) -> Vec<Goal> {
    let mut g = Vec::new();
    let mut push = |name: &str,
                    value: Option<f64>,
                    fmt: &dyn Fn(f64) -> String,
                    target: &str,
                    ok: &dyn Fn(f64) -> bool| {
        g.push(Goal {
            name: name.into(),
            value,
            shown: value.map(fmt).unwrap_or_else(|| "n/a".into()),
            target: target.into(),
            met: value.map(ok),
        });
    };
    let pct = |x: f64| format!("{:.0}% (worst size)", x * 100.0);
    let times = |x: f64| format!("{x:.2}x (worst case)");
    let big = |d: Dir, k: Kind, f: &dyn Fn(Dir, Kind, usize) -> Option<f64>| {
        min_opt(BIG.iter().map(|&s| f(d, k, s)))
    };
    let vs_mem = |d, k, s| ratio(res, d, k, s, Imp::Memcpy);
    let vs_best = |d, k, s| ratio_best(res, d, k, s);
    push(
        "binary receive 16 KiB-1 MiB vs memcpy",
        big(Dir::Recv, Kind::Binary, &vs_mem),
        &pct,
        ">= 70%",
        &|x| x >= 0.70,
    );
    push(
        "binary receive 16 KiB-1 MiB vs best peer",
        big(Dir::Recv, Kind::Binary, &vs_best),
        &times,
        ">= 1.2x",
        &|x| x >= 1.2,
    );
    push(
        "ASCII text receive 16 KiB-1 MiB vs memcpy",
        big(Dir::Recv, Kind::Ascii, &vs_mem),
        &pct,
        ">= 55%",
        &|x| x >= 0.55,
    );
    push(
        "multilingual text receive 16 KiB-1 MiB vs fastwebsockets",
        big(Dir::Recv, Kind::Multi, &|d, k, s| ratio(res, d, k, s, Imp::Fastwebsockets)),
        &times,
        ">= 1.3x",
        &|x| x >= 1.3,
    );
    push(
        "multilingual text receive 16 KiB-1 MiB vs tungstenite",
        big(Dir::Recv, Kind::Multi, &|d, k, s| ratio(res, d, k, s, Imp::Tungstenite)),
        &times,
        ">= 10x",
        &|x| x >= 10.0,
    );
    let chunk_over = max_opt(
        [Kind::Ascii, Kind::Multi]
            .iter()
            .flat_map(|&k| BIG.iter().map(move |&s| (k, s)))
            .map(|(k, s)| res.chunk.get(&(k as u8, s)).map(|&(c, w)| w / c - 1.0)),
    );
    push(
        "text validation in 4 KiB chunks vs whole messages (extra time)",
        chunk_over,
        &|x| format!("{:+.1}% (worst)", x * 100.0),
        "<= +15%",
        &|x| x <= 0.15,
    );
    let chunk_ir = max_opt(
        [Kind::Ascii, Kind::Multi]
            .iter()
            .flat_map(|&k| [16usize << 10, 64 << 10].into_iter().map(move |s| (k, s)))
            .map(|(k, s)| validation_extra(res, k, s)),
    );
    push(
        "text validation in 4 KiB chunks vs whole messages (extra validation instructions, callgrind)",
        chunk_ir,
        &|x| format!("{:+.1}% (worst)", x * 100.0),
        "<= +15%",
        &|x| x <= 0.15,
    );
    let small = min_opt(
        [Dir::Recv, Dir::Send]
            .iter()
            .flat_map(|&d| {
                Kind::ALL.iter().flat_map(move |&k| [16usize, 125].into_iter().map(move |s| (d, k, s)))
            })
            .map(|(d, k, s)| ratio_best(res, d, k, s)),
    );
    push(
        "16 B and 125 B messages/s vs best peer (recv and send, all kinds)",
        small,
        &times,
        ">= 1x",
        &|x| x >= 1.0,
    );
    let instr = |l: &str| res.instr.iter().find(|i| i.label == l).map(|i| i.diff);
    push(
        "instructions per 16 B receive",
        instr("recv binary 16 B"),
        &|x| format!("{x:.0}"),
        "<= 450",
        &|x| x <= 450.0,
    );
    push(
        "instructions per 16 B client send",
        instr("send binary 16 B"),
        &|x| format!("{x:.0}"),
        "<= 500",
        &|x| x <= 500.0,
    );
    let send_all = |f: &dyn Fn(Dir, Kind, usize) -> Option<f64>| {
        min_opt(Kind::ALL.iter().map(|&k| big(Dir::Send, k, f)))
    };
    push("client send 16 KiB-1 MiB vs memcpy (all kinds)", send_all(&vs_mem), &pct, ">= 50%", &|x| x >= 0.50);
    push("client send 16 KiB-1 MiB vs best peer (all kinds)", send_all(&vs_best), &times, ">= 1.4x", &|x| {
        x >= 1.4
    });
    if let Some(a) = &res.alloc {
        let over = a.handles.iter().filter(|h| h.limit > 512.0).map(|h| h.live - h.limit).reduce(f64::max);
        push(
            "heap per handle minus (RBS+SBS+144+512), defaults",
            over,
            &|x| format!("{x:+.0} B (worst)"),
            "<= 0",
            &|x| x <= 0.0,
        );
        let ab = a.handles.iter().filter(|h| h.limit == 512.0).map(|h| h.live).reduce(f64::max);
        push(
            "heap per handle with ALLOCATED_BUFFER (no buffer allocation)",
            ab,
            &|x| format!("{x:.0} B (worst)"),
            "<= 512 B",
            &|x| x <= 512.0,
        );
        let per_msg = a.msgs.iter().filter(|m| m.imp == Imp::Ours).map(|m| m.allocs).reduce(f64::max);
        push("heap allocations per message, steady state", per_msg, &|x| format!("{x:.3}"), "0", &|x| {
            x == 0.0
        });
    }
    let sc = |n: usize| res.scale.iter().find(|p| p.n == n).cloned();
    // Reference: the better of 1k and 10k (a noisy 1k point must not make 100k look flat).
    let flat = match (sc(1000), sc(10_000), sc(100_000)) {
        (Some(a), Some(m), Some(b)) => {
            Some((b.create_ns / a.create_ns.min(m.create_ns)).max(b.rss / a.rss.min(m.rss)))
        }
        _ => None,
    };
    push(
        "per-handle time and RSS at 100k handles vs the better of 1k/10k",
        flat,
        &|x| format!("{x:.2}x (worse of time, RSS)"),
        "<= 1.5x (flat)",
        &|x| x <= 1.5,
    );
    let thr = res
        .threads
        .as_ref()
        .and_then(|t| t.rows.iter().filter(|r| r.0.starts_with("ours")).map(|r| r.2 / r.1).reduce(f64::min));
    let control = res.threads.as_ref().and_then(|t| {
        t.rows.iter().filter(|r| r.0.starts_with("memcpy")).map(|r| r.2 / r.1).reduce(f64::min)
    });
    let ctl = control
        .map(|c| {
            format!(
                " (machine control, memcpy: {c:.2}x{})",
                if c < 1.6 { ": machine busy, not meaningful" } else { "" }
            )
        })
        .unwrap_or_default();
    push(
        "two threads vs one thread (independent handles)",
        thr,
        &|x| format!("{x:.2}x (worst){ctl}"),
        ">= 1.8x",
        &|x| x >= 1.8,
    );
    g
}

pub fn markdown(res: &Results) -> String {
    let mut o = String::new();
    let cfg = res.cfg.clone().unwrap();
    let _ = writeln!(o, "# websocket benchmark results\n");
    o += &machine();
    let _ = writeln!(
        o,
        "- method: in memory, 4 KiB socket reads; median of {} runs of >= {:.0} ms after warm-up/calibration, the implementations of a case timed in interleaved rounds; MB = 10^6 bytes; our handles use RBS {} / SBS {} (client; the server keeps SBS 16 unless set){}\n",
        cfg.runs,
        cfg.ms,
        cfg.rbs,
        cfg.sbs,
        if cfg.quick { "; QUICK mode (preliminary)" } else { "" }
    );
    for n in &res.notes {
        let _ = writeln!(o, "> note: {n}\n");
    }

    let gs = goals(res);
    if gs.iter().any(|g| g.value.is_some()) {
        let _ = writeln!(o, "## Goals\n\n| goal | measured | target | status |\n| --- | ---: | ---: | --- |");
        for g in &gs {
            let st = match g.met {
                Some(true) => "MET",
                Some(false) => "MISSED",
                None => "not measured",
            };
            let _ = g.value;
            let _ = writeln!(o, "| {} | {} | {} | {} |", g.name, g.shown, g.target, st);
        }
        o += "\n";
    }

    for d in [Dir::Recv, Dir::Send] {
        if !res.tput.keys().any(|k| k.0 == d as u8) {
            continue;
        }
        let title = match d {
            Dir::Recv => "Server receive of client-masked frames",
            Dir::Send => "Client send (frame + mask)",
        };
        let peers = Imp::peers();
        let _ = write!(
            o,
            "## {title} (MB/s; ours also in messages/s)\n\n| kind | size | ours MB/s | ours msg/s |"
        );
        for p in &peers {
            let _ = write!(o, " {} |", p.name());
        }
        let _ = writeln!(o, " memcpy | ours / memcpy | ours / best peer |");
        let _ = write!(o, "| --- | ---: | ---: | ---: |");
        for _ in &peers {
            o += " ---: |";
        }
        o += " ---: | ---: | --- |\n";
        for k in Kind::ALL {
            for s in SIZES {
                let Some(us) = res.get(d, k, s, Imp::Ours) else { continue };
                let mbps = |m: f64| m * s as f64 / 1e6;
                let _ =
                    write!(o, "| {} | {} | {} | {} |", k.name(), Size(s), mb(mbps(us.msgs)), count(us.msgs));
                for p in &peers {
                    let v = res.get(d, k, s, *p).map(|x| mb(mbps(x.msgs))).unwrap_or_else(|| "-".into());
                    let _ = write!(o, " {v} |");
                }
                let mem = res.get(d, k, s, Imp::Memcpy);
                let _ = write!(o, " {} |", mem.map(|x| mb(mbps(x.msgs))).unwrap_or_default());
                let _ = write!(
                    o,
                    " {} |",
                    mem.map(|m| format!("{:.0}%", 100.0 * us.msgs / m.msgs)).unwrap_or_default()
                );
                let bp = best_peer(res, d, k, s)
                    .map(|(m, i)| format!("{:.2}x ({})", us.msgs / m, i.name()))
                    .unwrap_or_default();
                let _ = writeln!(o, " {bp} |");
            }
        }
        let _ = writeln!(o, "\nmessages/s, all implementations:\n");
        let _ = write!(o, "| kind | size |");
        for i in Imp::all() {
            let _ = write!(o, " {} |", i.name());
        }
        o += "\n| --- | ---: |";
        for _ in Imp::all() {
            o += " ---: |";
        }
        o += "\n";
        for k in Kind::ALL {
            for s in [16usize, 125, 1024] {
                if res.get(d, k, s, Imp::Ours).is_none() {
                    continue;
                }
                let _ = write!(o, "| {} | {} |", k.name(), Size(s));
                for i in Imp::all() {
                    let _ =
                        write!(o, " {} |", res.get(d, k, s, i).map(|x| count(x.msgs)).unwrap_or_default());
                }
                o += "\n";
            }
        }
        let spread =
            res.tput.iter().filter(|(k, _)| k.0 == d as u8).map(|(_, v)| v.spread).fold(0.0, f64::max);
        let _ = writeln!(
            o,
            "\n(largest run-to-run spread (max-min)/median in this table: {:.0}%)\n",
            spread * 100.0
        );
    }

    if !res.chunk.is_empty() {
        let _ = writeln!(o, "## Receive in 4 KiB chunks vs whole messages (ours)\n\nRBS 4096 with 4 KiB reads (validation resumes across chunk boundaries) vs RBS 65536 with reads of up to 64 KiB.\n\n| kind | size | 4 KiB MB/s | 64 KiB MB/s | extra time in 4 KiB chunks |\n| --- | ---: | ---: | ---: | ---: |");
        for (&(k, s), &(c, w)) in &res.chunk {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {:+.1}% |",
                Kind::ALL[k as usize].name(),
                Size(s),
                mb(c * s as f64 / 1e6),
                mb(w * s as f64 / 1e6),
                (w / c - 1.0) * 100.0
            );
        }
        o += "\n";
    }

    if !res.chunk_instr.is_empty() {
        let _ = writeln!(o, "## Receive in 4 KiB chunks vs whole messages, instructions (callgrind)\n\nThe same comparison counted exactly: Ir inside the four exports, (Ir(N) - Ir(0)) / N (the caller's copies are left out: glibc copies 64 KiB reads with `rep movsb`, which callgrind counts per byte). Every 4 KiB piece is one more RECEIVE_FROM_NETWORK / INDICATE cycle, so binary shows the per-piece protocol cost and text adds what resuming validation across pieces costs.\n\n| kind | size | library Ir/msg in 4 KiB pieces | library Ir/msg whole | extra instructions in 4 KiB pieces | extra for validation across pieces |\n| --- | ---: | ---: | ---: | ---: | ---: |");
        for (&(k, s), &(c, w)) in &res.chunk_instr {
            let kind = Kind::ALL[k as usize];
            let extra = match kind {
                Kind::Binary => "-".to_string(),
                _ => validation_extra(res, kind, s).map_or("".into(), |x| format!("{:+.1}%", x * 100.0)),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.0} | {:+.1}% | {extra} |",
                kind.name(),
                Size(s),
                c,
                w,
                (c / w - 1.0) * 100.0
            );
        }
        o += "\nValidation across pieces (the goal's figure) = what text costs beyond binary in pieces minus what it costs beyond binary whole, as a share of the whole text message: ((text_pieces - binary_pieces) - (text_whole - binary_whole)) / text_whole.\n\n";
    }

    if !res.instr.is_empty() {
        let _ = writeln!(o, "## Instructions per message (callgrind)\n\n`diff` = (Ir of a run with N messages - Ir of the same run with 0) / N, whole program (the brief's method); `region` = Ir collected only inside `wsbench_measured` (`--collect-atstart=no --toggle-collect=wsbench_measured`) / N: our exports plus the caller's loop and copies; `library` = Ir collected only inside the exports (`--toggle-collect=WebSocketReceive` etc., N run minus 0 run) / N: the library's own cost. The goals use `diff`.\n\n| case | N | diff | region | library |\n| --- | ---: | ---: | ---: | ---: |");
        for i in &res.instr {
            let _ = writeln!(o, "| {} | {} | {:.1} | {:.1} | {:.1} |", i.label, i.n, i.diff, i.region, i.lib);
        }
        o += "\n";
        for (t, p) in &res.profiles {
            let _ = writeln!(o, "### Profile: {t}\n\n{p}");
        }
    }

    if let Some(a) = &res.alloc {
        let _ = writeln!(o, "## Heap (counting global allocator)\n\nPer handle: 1000 handles created and handshaken (after a warm-up that creates and deletes 9192 handles, so the handle table's chunks and free list already exist and the measured handles reuse freed slots: the table's own memory, 64 B per slot allocated 1024 slots at a time, is not counted), live bytes and allocation calls per handle while all are alive; `retained` = live bytes per handle still allocated after deleting them all (e.g. the handle table's free list).\n\n| handle | live B/handle | allocs/handle | largest alloc | limit | retained after delete, B/handle |\n| --- | ---: | ---: | ---: | ---: | ---: |");
        for h in &a.handles {
            let _ = writeln!(
                o,
                "| {} | {:.0} | {:.1} | {} | {:.0} | {:.1} |",
                h.label, h.live, h.allocs, h.max_alloc, h.limit, h.leak
            );
        }
        let _ = writeln!(o, "\nSteady state, per message (after warm-up):\n\n| case | impl | allocs/msg | bytes/msg |\n| --- | --- | ---: | ---: |");
        for m in &a.msgs {
            let _ = writeln!(o, "| {} | {} | {:.4} | {:.1} |", m.label, m.imp.name(), m.allocs, m.bytes);
        }
        o += "\n";
    }

    if !res.scale.is_empty() {
        let _ = writeln!(o, "## Scale (one process per count, median of 3)\n\nServer handles with default properties: create, .NET handshake, receive one 16 B message, all alive at once; then delete all. Per handle:\n\n| handles | create+handshake+message | RSS while alive | delete |\n| ---: | ---: | ---: | ---: |");
        for p in &res.scale {
            let _ =
                writeln!(o, "| {} | {:.0} ns | {:.0} B | {:.0} ns |", p.n, p.create_ns, p.rss, p.delete_ns);
        }
        o += "\n";
    }

    if let Some(t) = &res.threads {
        let _ = writeln!(o, "## Two threads vs one (independent handles, our receive)\n\nEach thread drives its own handle (or, for the memcpy rows, its own baseline loop: the machine's own scaling, a control for noisy neighbours).\n\n| case | 1 thread msg/s | 2 threads msg/s (total) | ratio |\n| --- | ---: | ---: | ---: |");
        for (l, one, two) in &t.rows {
            let _ = writeln!(o, "| {l} | {} | {} | {:.2}x |", count(*one), count(*two), two / one);
        }
        o += "\n";
    }
    o
}

/// The extra instructions that validating text across 4 KiB pieces costs, beyond the per-piece
/// protocol cost that binary pays too, as a share of receiving the whole text message.
fn validation_extra(res: &Results, k: Kind, s: usize) -> Option<f64> {
    let &(tc, tw) = res.chunk_instr.get(&(k as u8, s))?;
    let &(bc, bw) = res.chunk_instr.get(&(Kind::Binary as u8, s))?;
    Some(((tc - bc) - (tw - bw)) / tw)
}
