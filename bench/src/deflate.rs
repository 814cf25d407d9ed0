//! `wsbench deflate`: permessage-deflate (an opt-in extension of the library) measured through
//! the C ABI. For JSON-like text and multilingual UTF-8 corpora, messages of 16 B .. 64 KiB
//! taken cyclically from a 1 MiB corpus (so that consecutive messages differ):
//!
//! - compressed size: wire bytes / payload bytes with the default settings (context takeover,
//!   32 KiB windows, zlib level 6);
//! - send throughput: a client handle compressing, masking and framing (WebSocketSend + the
//!   SEND actions), MB of payload per second;
//! - receive throughput: a server handle inflating, validating and delivering pre-recorded
//!   compressed frames (4 KiB socket reads), MB of payload per second;
//! - zlib alone at the same level and window on the same messages (the bound for both);
//! - per-message cost, compressed vs uncompressed, of a 16 B and a 1 KiB message sent by a
//!   client and received by a server (ns per message, median of 5 runs).
//!
//! Prints a Markdown report; `BENCH_QUICK=1` shortens it.
use std::ptr::{self, null_mut};
use std::time::Instant;

use websocket::ffi::*;
use websocket::sys::zlib::{Deflater, Inflater};

use crate::ours::{
    BINARY_MESSAGE, INDICATE_RECEIVE_COMPLETE, RECEIVE_FROM_NETWORK, RECV_Q, SEND_Q, UTF8_MESSAGE,
};

const CORPUS: usize = 1 << 20;

fn json_corpus() -> Vec<u8> {
    let mut rng = crate::wire::Rng::new(7);
    let names = ["Ann", "Bob", "Carla", "Dmitri", "Eve", "Fatima", "Guo", "Hana"];
    let tags = ["alpha", "beta", "gamma", "delta", "prod", "test", "eu-west", "us-east"];
    let mut s = String::with_capacity(CORPUS + 256);
    let mut i = 0u64;
    while s.len() < CORPUS {
        let r = rng.next();
        s.push_str(&format!(
            "{{\"id\":{},\"user\":\"{}\",\"active\":{},\"balance\":{}.{:02},\"tags\":[\"{}\",\"{}\"],\"ts\":{}}},",
            i,
            names[(r % 8) as usize],
            r & 1 == 0,
            (r >> 8) % 10_000,
            (r >> 24) % 100,
            tags[((r >> 32) % 8) as usize],
            tags[((r >> 40) % 8) as usize],
            1_700_000_000 + (r >> 48)
        ));
        i += 1;
    }
    s.truncate(CORPUS);
    s.into_bytes()
}

fn multilingual_corpus() -> Vec<u8> {
    let words = [
        "Grüße",
        "naïve",
        "façade",
        "Ελληνικά",
        "λόγος",
        "русский",
        "язык",
        "日本語",
        "テキスト",
        "中文",
        "文本",
        "한국어",
        "العربية",
        "עברית",
        "हिन्दी",
        "emoji",
        "😀",
        "🚀",
        "déjà",
        "vu",
        "the",
        "and",
    ];
    let mut rng = crate::wire::Rng::new(11);
    let mut s = String::with_capacity(CORPUS + 64);
    while s.len() < CORPUS {
        s.push_str(words[(rng.next() % words.len() as u64) as usize]);
        s.push(if rng.next() % 9 == 0 { '\n' } else { ' ' }); // one line in nine
    }
    while s.len() > CORPUS {
        s.pop();
    }
    s.into_bytes()
}

/// The `count` messages of `size` bytes cut cyclically from `corpus`, each valid UTF-8.
fn messages(corpus: &[u8], size: usize, count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(count);
    let mut at = 0usize;
    for _ in 0..count {
        if at + size > corpus.len() {
            at = 0;
        }
        let mut start = at;
        while start < corpus.len() && corpus[start] & 0xC0 == 0x80 {
            start += 1;
        }
        let mut end = (start + size).min(corpus.len());
        while end > start && end < corpus.len() && corpus[end] & 0xC0 == 0x80 {
            end -= 1;
        }
        let mut m = corpus[start..end].to_vec();
        m.resize(size, b' ');
        out.push(m);
        at = start + size;
    }
    out
}

struct H(WEB_SOCKET_HANDLE);
impl Drop for H {
    fn drop(&mut self) {
        unsafe { WebSocketDeleteHandle(self.0) };
    }
}

/// A client and a server handle, through both handshakes, with or without permessage-deflate.
fn pair(deflate: bool) -> (H, H) {
    let settings = WEB_SOCKET_DEFLATE_SETTINGS::default();
    let prop = WEB_SOCKET_PROPERTY {
        Type: WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE,
        pvValue: &settings as *const _ as PVOID,
        ulValueSize: std::mem::size_of::<WEB_SOCKET_DEFLATE_SETTINGS>() as u32,
    };
    let n = if deflate { 1 } else { 0 };
    let (mut c, mut s) = (null_mut(), null_mut());
    unsafe {
        assert_eq!(WebSocketCreateClientHandle(&prop, n, &mut c), 0);
        assert_eq!(WebSocketCreateServerHandle(&prop, n, &mut s), 0);
        let (mut req, mut nreq) = (null_mut(), 0);
        assert_eq!(
            WebSocketBeginClientHandshake(
                c,
                null_mut(),
                0,
                null_mut(),
                0,
                ptr::null(),
                0,
                &mut req,
                &mut nreq
            ),
            0
        );
        let (mut resp, mut nresp) = (null_mut(), 0);
        assert_eq!(
            WebSocketBeginServerHandshake(s, ptr::null(), null_mut(), 0, req, nreq, &mut resp, &mut nresp),
            0
        );
        let mut sel = [0u32; 2];
        let mut nsel = 2u32;
        assert_eq!(WebSocketEndClientHandshake(c, resp, nresp, sel.as_mut_ptr(), &mut nsel, null_mut()), 0);
        assert_eq!(nsel, if deflate { 1 } else { 0 }, "negotiated as configured");
        assert_eq!(WebSocketEndServerHandshake(s), 0);
    }
    (H(c), H(s))
}

fn get(h: WEB_SOCKET_HANDLE, q: i32, bufs: &mut [WEB_SOCKET_BUFFER; 2]) -> (i32, u32, PVOID) {
    let mut count = 2u32;
    let (mut action, mut ty) = (0i32, 0u32);
    let (mut app, mut ctx) = (null_mut(), null_mut());
    let hr = unsafe {
        WebSocketGetAction(h, q, bufs.as_mut_ptr(), &mut count, &mut action, &mut ty, &mut app, &mut ctx)
    };
    assert_eq!(hr, 0, "GetAction");
    (action, count, ctx)
}

/// One message sent by `h`; its wire bytes appended to `wire`.
fn send(h: WEB_SOCKET_HANDLE, ty: u32, payload: &[u8], wire: &mut Vec<u8>) {
    let mut b = WEB_SOCKET_BUFFER {
        Data: WEB_SOCKET_BUFFER_DATA {
            pbBuffer: payload.as_ptr() as *mut u8,
            ulBufferLength: payload.len() as u32,
        },
    };
    assert_eq!(unsafe { WebSocketSend(h, ty, &mut b, null_mut()) }, 0);
    let mut bufs =
        [WEB_SOCKET_BUFFER { Data: WEB_SOCKET_BUFFER_DATA { pbBuffer: null_mut(), ulBufferLength: 0 } }; 2];
    loop {
        let (action, count, ctx) = get(h, SEND_Q, &mut bufs);
        match action {
            0 => return,
            1 => {
                let mut moved = 0;
                for b in &bufs[..count as usize] {
                    let d = unsafe { b.Data };
                    wire.extend_from_slice(unsafe {
                        std::slice::from_raw_parts(d.pbBuffer, d.ulBufferLength as usize)
                    });
                    moved += d.ulBufferLength;
                }
                unsafe { WebSocketCompleteAction(h, ctx, moved) };
            }
            _ => {
                unsafe { WebSocketCompleteAction(h, ctx, 0) };
            }
        }
    }
}

/// One indication received by `h` from `wire[*at..]` in reads of at most 4 KiB; returns its
/// length (a piece of a message larger than the receive buffer).
fn recv(h: WEB_SOCKET_HANDLE, wire: &[u8], at: &mut usize) -> usize {
    let mut bufs =
        [WEB_SOCKET_BUFFER { Data: WEB_SOCKET_BUFFER_DATA { pbBuffer: null_mut(), ulBufferLength: 0 } }; 2];
    let mut total = 0;
    assert_eq!(unsafe { WebSocketReceive(h, null_mut(), null_mut()) }, 0);
    {
        loop {
            let (action, _, ctx) = get(h, RECV_Q, &mut bufs);
            let d = unsafe { bufs[0].Data };
            if action == RECEIVE_FROM_NETWORK {
                let n = (wire.len() - *at).min(d.ulBufferLength as usize).min(4096);
                assert!(n > 0, "the wire ran dry");
                unsafe { ptr::copy_nonoverlapping(wire[*at..].as_ptr(), d.pbBuffer, n) };
                *at += n;
                unsafe { WebSocketCompleteAction(h, ctx, n as u32) };
                continue;
            }
            assert_eq!(action, INDICATE_RECEIVE_COMPLETE);
            total += d.ulBufferLength as usize;
            unsafe { WebSocketCompleteAction(h, ctx, 0) };
            return total;
        }
    }
}

struct Row {
    corpus: &'static str,
    size: usize,
    ratio: f64,
    send_mbs: f64,
    recv_mbs: f64,
    zlib_deflate_mbs: f64,
    zlib_inflate_mbs: f64,
}

fn mbs(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn measure(corpus_name: &'static str, corpus: &[u8], size: usize, quick: bool) -> Row {
    let total_target = if quick { 8 << 20 } else { 64 << 20 };
    let count = (total_target / size).clamp(200, 200_000);
    let msgs = messages(corpus, size, count);
    let payload_bytes: usize = msgs.iter().map(Vec::len).sum();
    let ty = UTF8_MESSAGE;

    // Send: a client compresses, masks and frames every message.
    let (c, s) = pair(true);
    let mut wire = Vec::with_capacity(payload_bytes);
    let t = Instant::now();
    for m in &msgs {
        send(c.0, ty, m, &mut wire);
    }
    let send_secs = t.elapsed().as_secs_f64();
    // Receive: the server inflates what the client sent (recorded above).
    let mut at = 0;
    let t = Instant::now();
    let mut got = 0;
    for m in &msgs {
        let n = recv_whole(s.0, &wire, &mut at, m.len());
        got += n;
    }
    let recv_secs = t.elapsed().as_secs_f64();
    assert_eq!(got, payload_bytes);
    let ratio = wire.len() as f64 / payload_bytes as f64;

    // zlib alone, same level and window, one stream with a sync flush per message.
    let mut d = Deflater::new(15, 6).expect("deflater");
    let mut out = vec![0u8; size * 2 + 1024];
    let mut compressed = Vec::with_capacity(msgs.len());
    let t = Instant::now();
    for m in &msgs {
        let p = d.compress(m, &mut out, true).expect("deflate");
        compressed.push(out[..p.produced].to_vec());
    }
    let zd = t.elapsed().as_secs_f64();
    let mut i = Inflater::new().expect("inflater");
    let mut back = vec![0u8; size + 1024];
    let t = Instant::now();
    for z in &compressed {
        let p = i.inflate(z, &mut back).expect("inflate");
        assert_eq!(p.produced, size);
    }
    let zi = t.elapsed().as_secs_f64();
    Row {
        corpus: corpus_name,
        size,
        ratio,
        send_mbs: mbs(payload_bytes, send_secs),
        recv_mbs: mbs(payload_bytes, recv_secs),
        zlib_deflate_mbs: mbs(payload_bytes, zd),
        zlib_inflate_mbs: mbs(payload_bytes, zi),
    }
}

/// Receives messages until `want` payload bytes of one message arrived (pieces add up).
fn recv_whole(h: WEB_SOCKET_HANDLE, wire: &[u8], at: &mut usize, want: usize) -> usize {
    let mut got = 0;
    while got < want {
        got += recv(h, wire, at);
    }
    got
}

/// ns per message sent by a client and received by a server, median of 5 runs.
fn per_message(deflate: bool, corpus: &[u8], size: usize, n: usize) -> f64 {
    let msgs = messages(corpus, size, 256);
    let mut runs = Vec::new();
    for _ in 0..5 {
        let (c, s) = pair(deflate);
        let mut wire = Vec::with_capacity(size * 2 + 64);
        let t = Instant::now();
        for k in 0..n {
            wire.clear();
            let m = &msgs[k % msgs.len()];
            send(c.0, BINARY_MESSAGE, m, &mut wire);
            let mut at = 0;
            let got = recv_whole(s.0, &wire, &mut at, m.len());
            debug_assert_eq!(got, m.len());
        }
        runs.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    runs[2]
}

pub fn run() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let corpora: [(&'static str, Vec<u8>); 2] =
        [("JSON-like", json_corpus()), ("multilingual", multilingual_corpus())];
    let mut md = String::from("# permessage-deflate\n\n");
    md.push_str(
        "Default settings (context takeover, 32 KiB windows, zlib level 6). Messages cut cyclically \
         from a 1 MiB corpus. Send = client (compress + mask + frame); receive = server (inflate + \
         UTF-8 check + deliver, 4 KiB reads, 4 KiB receive buffer). zlib = the same compression \
         alone. MB/s of uncompressed payload.\n\n",
    );
    md.push_str("| corpus | message | wire/payload | send MB/s | receive MB/s | zlib deflate MB/s | zlib inflate MB/s |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for (name, corpus) in &corpora {
        for size in [16usize, 1024, 16 * 1024, 64 * 1024] {
            let r = measure(name, corpus, size, quick);
            md.push_str(&format!(
                "| {} | {} B | {:.3} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                r.corpus, r.size, r.ratio, r.send_mbs, r.recv_mbs, r.zlib_deflate_mbs, r.zlib_inflate_mbs
            ));
        }
    }
    md.push_str("\n## Cost per message (client send + server receive, ns, median of 5)\n\n");
    md.push_str("| message | uncompressed | compressed | ratio |\n|---|---:|---:|---:|\n");
    let n = if quick { 20_000 } else { 200_000 };
    for size in [16usize, 1024] {
        let plain = per_message(false, &corpora[0].1, size, n);
        let comp = per_message(true, &corpora[0].1, size, n / 4);
        md.push_str(&format!(
            "| {} B JSON-like | {:.0} | {:.0} | {:.1}x |\n",
            size,
            plain,
            comp,
            comp / plain
        ));
    }
    println!("{md}");
}
