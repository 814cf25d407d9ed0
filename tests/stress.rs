//! Concurrency stress (spec §11): many client/server pairs connected in memory, driven by many
//! threads at once. Each handle has a send loop and a receive loop ("roles"); any thread may
//! step any role, so GetAction and CompleteAction of one handle run on different threads, the
//! send and receive loops of one handle run concurrently, and CompleteAction often runs on
//! another thread than the GetAction it answers. Meanwhile other threads abort and delete random
//! handles (WebSocketAbortHandle / WebSocketDeleteHandle racing everything else).
//!
//! Every message carries its pair, direction and sequence number. Checked: no crash; every
//! message that completes is the next one in sequence and intact (on every pair); on pairs that
//! were never aborted or deleted every message sent arrives; calls fail only on handles that
//! were aborted or deleted; no NO_ACTION while a receive is pending (§9.2 rule 6).
//!
//! The memory the library hands out (the ALLOCATED_BUFFER) and the send payloads belong to the
//! test and outlive every handle, so touching a buffer after a racing DeleteHandle is safe.
//!
//! Size: `WS_STRESS_ITERATIONS` steps per thread (default 20000), `WS_STRESS_THREADS` (8),
//! `WS_STRESS_PAIRS` (64), `WS_STRESS_SEED`.

mod common;

use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use common::*;
use websocket::ffi::*;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A message: text `"{pair}:{dir}:{seq}:"` + letters, or binary 12-byte header + pattern.
fn message(pair: usize, dir: usize, seq: usize, len: usize, text: bool) -> (u32, Vec<u8>) {
    if text {
        let mut m = format!("{pair}:{dir}:{seq}:").into_bytes();
        m.extend((0..len).map(|i| b'a' + ((seq + i) % 26) as u8));
        (UTF8_MESSAGE, m)
    } else {
        let mut m = Vec::with_capacity(12 + len);
        m.extend_from_slice(&(pair as u32).to_le_bytes());
        m.extend_from_slice(&(dir as u32).to_le_bytes());
        m.extend_from_slice(&(seq as u32).to_le_bytes());
        m.extend((0..len).map(|i| (seq.wrapping_mul(31) + i) as u8));
        (BINARY_MESSAGE, m)
    }
}

/// Checks a received message and returns its sequence number.
fn parse(pair: usize, dir: usize, ty: u32, m: &[u8]) -> usize {
    let seq;
    let body_len;
    if ty == UTF8_MESSAGE {
        let s = std::str::from_utf8(m).expect("text message is UTF-8");
        let mut parts = s.splitn(4, ':');
        let p: usize = parts.next().unwrap().parse().unwrap();
        let d: usize = parts.next().unwrap().parse().unwrap();
        seq = parts.next().unwrap().parse().unwrap();
        let body = parts.next().unwrap().as_bytes();
        assert_eq!((p, d), (pair, dir), "message delivered to the wrong pair");
        body_len = body.len();
        assert!(body.iter().enumerate().all(|(i, b)| *b == b'a' + ((seq + i) % 26) as u8), "text corrupted");
    } else {
        assert_eq!(ty, BINARY_MESSAGE);
        let word = |i: usize| u32::from_le_bytes(m[i..i + 4].try_into().unwrap()) as usize;
        assert!(m.len() >= 12);
        assert_eq!((word(0), word(4)), (pair, dir), "message delivered to the wrong pair");
        seq = word(8);
        body_len = m.len() - 12;
        assert!(
            m[12..].iter().enumerate().all(|(i, b)| *b == (seq.wrapping_mul(31) + i) as u8),
            "binary corrupted"
        );
    }
    let _ = body_len;
    seq
}

type Pipe = Mutex<VecDeque<u8>>;

struct Sender {
    inflight: VecDeque<(usize, Box<[u8]>)>,
    /// Payloads whose INDICATE was seen, kept until the end (a racing Delete must not free them
    /// under the library, and the test owns them anyway).
    retired: Vec<Box<[u8]>>,
    out: Option<usize>,
    next_seq: usize,
}

struct Receiver {
    pending: bool,
    read: Option<(usize, usize, u32)>,
    partial: Vec<u8>,
    next_seq: usize,
    stopped: bool,
}

struct End {
    h: WEB_SOCKET_HANDLE,
    sender: Mutex<Sender>,
    receiver: Mutex<Receiver>,
}

// SAFETY: handles are plain values usable from any thread (spec §11); the rest is Sync.
unsafe impl Sync for End {}
// SAFETY: as above.
unsafe impl Send for End {}

struct Pair {
    id: usize,
    ends: [End; 2],
    /// pipes[i]: bytes written by end i, read by end 1 - i.
    pipes: [Pipe; 2],
    /// Set (before the call) when a handle of this pair is aborted or deleted.
    chaos: AtomicBool,
    _regions: Vec<Box<[u8]>>,
    sent: [AtomicUsize; 2],
}

const QUOTA: usize = 1_000_000;

impl Pair {
    fn new(id: usize, rng: &mut Rng) -> Pair {
        let mut regions = Vec::new();
        let mut props_for = |client: bool, rng: &mut Rng| {
            let rbs = [256u32, 300, 1024, 4096][rng.below(4)];
            let sbs = if client { [16u32, 100, 4096][rng.below(3)] } else { 16 };
            let len = (rbs + sbs + 144) as usize;
            let region = vec![0u8; len].into_boxed_slice();
            let addr = Box::new(region.as_ptr() as usize);
            regions.push(region);
            (Box::new([rbs, sbs]), addr, len as u32)
        };
        let (cv, ca, cl) = props_for(true, rng);
        let (sv, sa, sl) = props_for(false, rng);
        let props = |v: &[u32; 2], a: &usize, l: u32| {
            vec![
                prop(0, &v[0]),
                prop(1, &v[1]),
                WEB_SOCKET_PROPERTY { Type: 3, pvValue: a as *const usize as PVOID, ulValueSize: l },
            ]
        };
        let (c, s) = open_pair(&props(&cv, &ca, cl), &props(&sv, &sa, sl));
        let end = |h: Handle| {
            let raw = h.0;
            std::mem::forget(h); // deleted explicitly at the end (or by chaos)
            End {
                h: raw,
                sender: Mutex::new(Sender {
                    inflight: VecDeque::new(),
                    retired: Vec::new(),
                    out: None,
                    next_seq: 0,
                }),
                receiver: Mutex::new(Receiver {
                    pending: false,
                    read: None,
                    partial: Vec::new(),
                    next_seq: 0,
                    stopped: false,
                }),
            }
        };
        Pair {
            id,
            ends: [end(c), end(s)],
            pipes: [Mutex::new(VecDeque::new()), Mutex::new(VecDeque::new())],
            chaos: AtomicBool::new(false),
            _regions: regions,
            sent: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    fn healthy(&self) -> bool {
        !self.chaos.load(SeqCst)
    }

    /// `ok` must hold unless this pair's handles were aborted or deleted.
    fn expect(&self, ok: bool, what: &str) {
        assert!(ok || !self.healthy(), "pair {}: {what}", self.id);
    }

    /// One step of end `e`'s send loop. Returns whether anything happened.
    fn step_send(&self, e: usize, rng: &mut Rng, quota: usize) -> bool {
        let end = &self.ends[e];
        let mut st = match end.sender.try_lock() {
            Ok(st) => st,
            Err(_) => return false,
        };
        if let Some(token) = st.out.take() {
            // Complete an action handed out earlier, possibly on another thread.
            unsafe { WebSocketCompleteAction(end.h, token as PVOID, u32::MAX) };
            return true;
        }
        if st.inflight.len() < 3 && st.next_seq < quota && rng.below(3) == 0 {
            let seq = st.next_seq;
            let len = [0usize, 5, 200, 3000][rng.below(4)];
            let (ty, m) = message(self.id, e, seq, len, rng.below(2) == 0);
            let m = m.into_boxed_slice();
            let mut b = WEB_SOCKET_BUFFER::data(m.as_ptr() as *mut u8, m.len() as u32);
            let hr = unsafe { WebSocketSend(end.h, ty, &mut b, seq as PVOID) };
            self.expect(hr == 0, "WebSocketSend failed");
            if hr == 0 {
                st.inflight.push_back((seq, m));
                st.next_seq += 1;
                self.sent[e].fetch_add(1, SeqCst);
            }
            if rng.below(8) == 0 {
                let hr = unsafe { WebSocketSend(end.h, PING_PONG, ptr::null_mut(), usize::MAX as PVOID) };
                self.expect(hr == 0, "ping failed");
            }
            return true;
        }
        let cap = 1 + rng.below(2);
        let mut bufs = [WEB_SOCKET_BUFFER::data(ptr::null_mut(), 0); 2];
        let mut count = cap as u32;
        let (mut action, mut ty, mut app, mut ctx) = (0, 0, ptr::null_mut(), ptr::null_mut());
        let hr = unsafe {
            WebSocketGetAction(
                end.h,
                SEND,
                bufs.as_mut_ptr(),
                &mut count,
                &mut action,
                &mut ty,
                &mut app,
                &mut ctx,
            )
        };
        self.expect(hr == 0, "GetAction(SEND) failed");
        if hr != 0 {
            return false;
        }
        assert!(count as usize <= cap);
        match action {
            NO_ACTION => false,
            SEND_TO_NETWORK => {
                {
                    let mut pipe = self.pipes[e].lock().unwrap();
                    for b in &bufs[..count as usize] {
                        let (p, n) = b.bytes();
                        if n > 0 {
                            // SAFETY: readable until CompleteAction; the memory is the test's.
                            pipe.extend(unsafe { std::slice::from_raw_parts(p, n as usize) });
                        }
                    }
                }
                if rng.below(2) == 0 {
                    st.out = Some(ctx as usize); // complete later, maybe on another thread
                } else {
                    unsafe { WebSocketCompleteAction(end.h, ctx, u32::MAX) };
                }
                true
            }
            INDICATE_SEND_COMPLETE => {
                if app as usize != usize::MAX {
                    let (seq, m) = st.inflight.pop_front().expect("INDICATE_SEND_COMPLETE without a send");
                    assert_eq!(seq, app as usize, "pair {}: sends completed out of order", self.id);
                    st.retired.push(m);
                }
                unsafe { WebSocketCompleteAction(end.h, ctx, 0) };
                true
            }
            other => panic!("pair {}: action {other} on the send queue", self.id),
        }
    }

    /// One step of end `e`'s receive loop.
    fn step_receive(&self, e: usize, rng: &mut Rng) -> bool {
        let end = &self.ends[e];
        let mut st = match end.receiver.try_lock() {
            Ok(st) => st,
            Err(_) => return false,
        };
        if st.stopped {
            return false;
        }
        if let Some((token, p, n)) = st.read {
            let mut pipe = self.pipes[1 - e].lock().unwrap();
            if pipe.is_empty() {
                return false;
            }
            let k = pipe.len().min(n as usize).min(1 + rng.below(4000));
            for i in 0..k {
                // SAFETY: the read buffer lies in the test's region, writable until completion.
                unsafe { *(p as *mut u8).add(i) = pipe.pop_front().unwrap() };
            }
            drop(pipe);
            st.read = None;
            unsafe { WebSocketCompleteAction(end.h, token as PVOID, k as u32) };
            return true;
        }
        if !st.pending {
            let hr = unsafe { WebSocketReceive(end.h, ptr::null_mut(), 0x77 as PVOID) };
            self.expect(hr == 0, "WebSocketReceive failed");
            if hr != 0 {
                st.stopped = true;
                return false;
            }
            st.pending = true;
        }
        let mut buf = [WEB_SOCKET_BUFFER::data(ptr::null_mut(), 0)];
        let mut count = 1;
        let (mut action, mut ty, mut app, mut ctx) = (0, 0, ptr::null_mut(), ptr::null_mut());
        let hr = unsafe {
            WebSocketGetAction(
                end.h,
                RECEIVE,
                buf.as_mut_ptr(),
                &mut count,
                &mut action,
                &mut ty,
                &mut app,
                &mut ctx,
            )
        };
        self.expect(hr == 0, "GetAction(RECEIVE) failed");
        if hr != 0 {
            return false;
        }
        match action {
            NO_ACTION => {
                self.expect(false, "NO_ACTION while a receive is pending (§9.2 rule 6)");
                false
            }
            RECEIVE_FROM_NETWORK => {
                let (p, n) = buf[0].bytes();
                assert!(n > 0);
                st.read = Some((ctx as usize, p as usize, n));
                true
            }
            SEND_TO_NETWORK => {
                assert_eq!(ty, PING_PONG, "automatic pong type");
                {
                    let (p, n) = buf[0].bytes();
                    let mut pipe = self.pipes[e].lock().unwrap();
                    // SAFETY: readable until CompleteAction; the memory is the test's.
                    pipe.extend(unsafe { std::slice::from_raw_parts(p, n as usize) });
                }
                unsafe { WebSocketCompleteAction(end.h, ctx, u32::MAX) };
                true
            }
            INDICATE_RECEIVE_COMPLETE => {
                let (p, n) = buf[0].bytes();
                st.pending = false;
                match ty {
                    UTF8_FRAGMENT | BINARY_FRAGMENT | UTF8_MESSAGE | BINARY_MESSAGE => {
                        if n > 0 {
                            // SAFETY: readable until CompleteAction.
                            let chunk = unsafe { std::slice::from_raw_parts(p, n as usize) };
                            st.partial.extend_from_slice(chunk);
                        }
                        if ty == UTF8_MESSAGE || ty == BINARY_MESSAGE {
                            let m = std::mem::take(&mut st.partial);
                            let seq = parse(self.id, 1 - e, ty, &m);
                            assert_eq!(seq, st.next_seq, "pair {}: message lost or duplicated", self.id);
                            st.next_seq += 1;
                        }
                    }
                    PING_PONG => {}
                    CLOSE => {
                        self.expect(false, "receive cancelled or closed");
                        st.stopped = true;
                    }
                    other => panic!("buffer type {other:#x}"),
                }
                unsafe { WebSocketCompleteAction(end.h, ctx, n) };
                true
            }
            other => panic!("pair {}: action {other} on the receive queue", self.id),
        }
    }

    fn chaos(&self, rng: &mut Rng) {
        let e = rng.below(2);
        self.chaos.store(true, SeqCst);
        if rng.below(2) == 0 {
            unsafe { WebSocketAbortHandle(self.ends[e].h) };
        } else {
            unsafe { WebSocketDeleteHandle(self.ends[e].h) };
        }
    }
}

#[test]
fn many_threads_many_handles_abort_and_delete_racing() {
    let iterations = env("WS_STRESS_ITERATIONS", 20_000);
    let threads = env("WS_STRESS_THREADS", 8);
    let npairs = env("WS_STRESS_PAIRS", 64);
    let seed = env("WS_STRESS_SEED", 0x5EED) as u64;
    let mut rng = Rng(seed | 1);
    let pairs: Arc<Vec<Pair>> = Arc::new((0..npairs).map(|i| Pair::new(i, &mut rng)).collect());
    let chaos_count = Arc::new(AtomicUsize::new(0));
    // About a quarter of the pairs get aborted or deleted, spread over the whole run.
    let chaos_every = (threads * iterations / (npairs / 4 + 1)).max(1);

    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let pairs = Arc::clone(&pairs);
            let chaos_count = Arc::clone(&chaos_count);
            std::thread::spawn(move || {
                let chaos_every = chaos_every;
                let mut rng = Rng((seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                for _ in 0..iterations {
                    let p = &pairs[rng.below(pairs.len())];
                    if rng.below(chaos_every) == 0 && chaos_count.load(SeqCst) < pairs.len() / 4 {
                        if p.healthy() {
                            chaos_count.fetch_add(1, SeqCst);
                        }
                        p.chaos(&mut rng);
                        continue;
                    }
                    match rng.below(2) {
                        0 => {
                            p.step_send(rng.below(2), &mut rng, QUOTA);
                        }
                        _ => {
                            p.step_receive(rng.below(2), &mut rng);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }

    // Drain the healthy pairs on this thread: every message sent must arrive.
    let mut rng = Rng(seed ^ 0xABCDEF);
    let mut healthy = 0;
    let mut messages = 0;
    for p in pairs.iter().filter(|p| p.healthy()) {
        healthy += 1;
        let mut idle = 0;
        for _ in 0..10_000_000 {
            let mut moved = false;
            for e in 0..2 {
                moved |= p.step_send(e, &mut rng, 0);
                moved |= p.step_receive(e, &mut rng);
            }
            let done = (0..2).all(|e| {
                p.ends[e].sender.lock().unwrap().inflight.is_empty()
                    && p.ends[1 - e].receiver.lock().unwrap().next_seq == p.sent[e].load(SeqCst)
            });
            if done {
                break;
            }
            idle = if moved { 0 } else { idle + 1 };
            assert!(idle < 1000, "pair {}: stuck", p.id);
        }
        for e in 0..2 {
            let got = p.ends[1 - e].receiver.lock().unwrap().next_seq;
            assert_eq!(got, p.sent[e].load(SeqCst), "pair {}: messages lost", p.id);
            messages += got;
        }
    }
    for p in pairs.iter() {
        for end in &p.ends {
            unsafe { WebSocketDeleteHandle(end.h) };
        }
    }
    eprintln!(
        "stress: {threads} threads x {iterations} steps, {npairs} pairs, {} aborted/deleted, \
         {healthy} healthy pairs delivered {messages} messages",
        chaos_count.load(SeqCst)
    );
    assert!(healthy > 0);
}
