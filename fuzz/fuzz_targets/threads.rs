//! threads: one open handle driven by two threads at once, as .NET drives it — a send thread
//! (WebSocketSend, then GetAction(SEND) / CompleteAction until the operation's
//! INDICATE_SEND_COMPLETE, with full, short and 0-byte writes) and a receive thread
//! (WebSocketReceive into the handle's area or its own buffer, then GetAction(RECEIVE) /
//! CompleteAction, feeding frames built from the input and raw bytes through
//! RECEIVE_FROM_NETWORK) — while two more threads create, handshake and delete other handles,
//! call the exports on the handles they deleted, and may abort the shared handle.
//!
//! Checked (under AddressSanitizer, so a buffer touched after the library gave it back, or a
//! handle's memory freed under another thread, is a crash): every call returns an HRESULT the
//! spec allows for the state; every returned buffer lies in the handle's region or in the
//! payload / receive buffer of the operation in progress; every send is indicated complete,
//! once, with its own context; queues return only their own kinds of action (automatic pongs
//! aside); a deleted handle's value is never accepted again (E_INVALIDARG) and deleting it
//! again never touches a live handle; the shared handle still answers at the end; every loop is
//! bounded.
#![no_main]

use std::sync::{mpsc, Mutex, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use websocket::ffi::*;
use websocket_fuzz::*;

const RBS: [u32; 4] = [256, 300, 1024, 4096];
const SBS: [u32; 4] = [16, 17, 100, 4096];

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Write {
    Full,
    Short(u16),
    Zero,
}

#[derive(Arbitrary, Debug)]
enum SendOp {
    Text(Vec<u8>, bool),
    Binary(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Frame {
    /// FIN, opcode (low 4 bits), payload: masked with a fixed key, as a client sends.
    Masked(bool, u8, Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Churn {
    Create { client: bool, handshake: bool },
    Delete(u8),
    UseStale(u8),
    AbortShared,
}

#[derive(Arbitrary, Debug)]
struct Input {
    rbs: u8,
    sbs: u8,
    allocated: bool,
    sends: Vec<(SendOp, Vec<Write>, u8)>,
    frames: Vec<Frame>,
    reads: Vec<u16>,
    own_buffer: Option<u16>,
    churn: [Vec<Churn>; 2],
}

/// A handle value that may cross threads (handles are plain values; every export may be called
/// from any thread).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct H(WEB_SOCKET_HANDLE);
// SAFETY: see above.
unsafe impl Send for H {}
// SAFETY: see above.
unsafe impl Sync for H {}

fn open(client: bool, props: &[WEB_SOCKET_PROPERTY]) -> H {
    let (hr, h) = create(client, props);
    assert_eq!(hr, 0, "create");
    if client {
        seed_mask_keys(h, 5);
        open_client(h);
    } else {
        open_server(h);
    }
    H(h)
}

/// The send thread: one operation at a time, driven to its INDICATE_SEND_COMPLETE.
fn send_loop(h: H, region: RegionInfo, ops: Vec<(SendOp, Vec<Write>, u8)>) {
    for (i, (op, writes, cap)) in ops.into_iter().take(24).enumerate() {
        let ctx = 0x1000 + i;
        let (ty, payload, status) = match op {
            SendOp::Text(p, fin) => (if fin { UTF8_MESSAGE } else { UTF8_FRAGMENT }, p, 0),
            SendOp::Binary(p, fin) => (if fin { BINARY_MESSAGE } else { BINARY_FRAGMENT }, p, 0),
            SendOp::Ping(p) => (PING_PONG, p, 0),
            SendOp::Pong(p) => (UNSOLICITED_PONG, p, 0),
            SendOp::Close(s, p) => (CLOSE, p, s),
        };
        let payload: Box<[u8]> = payload.into_iter().take(3000).collect();
        let mut b = if ty == CLOSE {
            WEB_SOCKET_BUFFER::close(payload.as_ptr() as *mut u8, payload.len() as u32, status)
        } else {
            WEB_SOCKET_BUFFER::data(payload.as_ptr() as *mut u8, payload.len() as u32)
        };
        // SAFETY: `b` and the payload stay valid until this operation's INDICATE (below).
        let hr = unsafe { WebSocketSend(h.0, ty, &mut b, ctx as PVOID) };
        if hr != 0 {
            // Refused in this state (aborted or failed by the other threads, close already
            // queued, a broken stream, a text/binary switch), or an over-long control payload.
            let control = ty == CLOSE || ty == PING_PONG || ty == UNSOLICITED_PONG;
            let allowed = hr == E_INVALID_PROTOCOL_OPERATION || (control && hr == E_INVALIDARG);
            assert!(allowed, "Send: {hr:#x}");
            continue;
        }
        let mut writes = writes.into_iter();
        let mut done = false;
        for _ in 0..200_000 {
            let a = get_action(h.0, SEND, 1 + cap as u32 % 2);
            assert_eq!(a.hr, 0, "GetAction(SEND)");
            match a.action {
                NO_ACTION => std::thread::yield_now(),
                SEND_TO_NETWORK => {
                    let mut total = 0u32;
                    for k in 0..a.buffers.len() {
                        let (p, n) = a.data(k);
                        assert!(region.in_native(p, n) || in_slice(&payload, p, n), "send buffer {p:?}+{n}");
                        let _ = a.bytes(k); // readable until CompleteAction
                        total += n;
                    }
                    let n = match writes.next().unwrap_or(Write::Full) {
                        Write::Full => total,
                        Write::Short(k) => (k as u32).min(total),
                        Write::Zero => 0,
                    };
                    complete(h.0, a.token, n);
                }
                INDICATE_SEND_COMPLETE => {
                    assert_eq!(a.app, ctx, "INDICATE for another operation");
                    complete(h.0, a.token, 0);
                    done = true;
                    break;
                }
                other => panic!("action {other} on the send queue"),
            }
        }
        assert!(done, "send never completed");
    }
}

/// The receive thread: feeds the frames (and reads of arbitrary sizes) until they run out.
fn receive_loop(h: H, region: RegionInfo, wire: Vec<u8>, reads: Vec<u16>, own: Option<u16>) {
    let mut at = 0;
    let mut reads = reads.into_iter().cycle();
    let mut buffer: Box<[u8]> = vec![0u8; own.map_or(0, |n| 1 + n as usize % 2000)].into_boxed_slice();
    for op in 0..64usize {
        let ctx = 0x2000 + op;
        let mut b = WEB_SOCKET_BUFFER::data(buffer.as_mut_ptr(), buffer.len() as u32);
        let pb = if buffer.is_empty() { std::ptr::null_mut() } else { &mut b as *mut WEB_SOCKET_BUFFER };
        // SAFETY: `b` and `buffer` outlive the operation (until its INDICATE, below).
        let hr = unsafe { WebSocketReceive(h.0, pb, ctx as PVOID) };
        if hr != 0 {
            assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "Receive");
            return;
        }
        let mut done = false;
        let mut exhausted = false;
        for _ in 0..200_000 {
            let a = get_action(h.0, RECEIVE, 1);
            if a.hr != 0 {
                assert!(a.hr == E_INVALID_PROTOCOL_FORMAT || a.hr == E_INVALID_PROTOCOL_OPERATION, "{:#x}", a.hr);
                continue; // the handle now drains as aborted
            }
            match a.action {
                NO_ACTION => std::thread::yield_now(),
                RECEIVE_FROM_NETWORK => {
                    let (p, n) = a.data(0);
                    assert!(region.in_r(p, n) && n > 0, "read buffer");
                    let k = (n as usize).min(wire.len() - at).min(1 + reads.next().unwrap_or(0) as usize);
                    // SAFETY: the library lends [p, p + n) until CompleteAction; k <= n.
                    unsafe { std::ptr::copy_nonoverlapping(wire.as_ptr().add(at), p, k) };
                    at += k;
                    exhausted = k == 0; // a cancelled read: the operation ends as aborted
                    complete(h.0, a.token, k as u32);
                }
                SEND_TO_NETWORK => {
                    assert_eq!(a.ty, PING_PONG, "only automatic pongs on the receive queue");
                    assert!(region.in_c(a.data(0).0, a.data(0).1));
                    complete(h.0, a.token, a.all_bytes().len() as u32);
                }
                INDICATE_RECEIVE_COMPLETE => {
                    assert_eq!(a.app, ctx, "INDICATE for another operation");
                    let (p, n) = a.data(0);
                    let ok = p.is_null() || region.in_r(p, n) || in_slice(&buffer, p, n);
                    assert!(ok, "indicated buffer {p:?}+{n}");
                    let _ = a.bytes(0);
                    complete(h.0, a.token, 0);
                    done = true;
                    break;
                }
                other => panic!("action {other} on the receive queue"),
            }
        }
        assert!(done, "receive never completed");
        if exhausted {
            return;
        }
    }
}

/// Creates and deletes other handles; every deleted value must stay dead.
fn churn_loop(shared: H, ops: Vec<Churn>) {
    let mut live: Vec<H> = Vec::new();
    let mut dead: Vec<H> = Vec::new();
    for op in ops.into_iter().take(48) {
        match op {
            Churn::Create { client, handshake } => {
                if live.len() < 8 {
                    let h = if handshake {
                        open(client, &[])
                    } else {
                        let (hr, h) = create(client, &[]);
                        assert_eq!(hr, 0);
                        H(h)
                    };
                    assert_ne!(h, shared, "a new handle equals a live one");
                    assert!(!dead.contains(&h), "a deleted handle's value was reused");
                    live.push(h);
                }
            }
            Churn::Delete(k) => {
                if !live.is_empty() {
                    let h = live.swap_remove(k as usize % live.len());
                    // SAFETY: handle values are never dereferenced.
                    unsafe { WebSocketDeleteHandle(h.0) };
                    dead.push(h);
                }
            }
            Churn::UseStale(k) => {
                if let Some(h) = dead.get(k as usize % dead.len().max(1)).copied() {
                    let a = get_action(h.0, ALL, 2);
                    assert_eq!(a.hr, E_INVALIDARG, "GetAction on a deleted handle");
                    // SAFETY: as above; deleting a stale value must do nothing.
                    unsafe { WebSocketDeleteHandle(h.0) };
                    unsafe { WebSocketAbortHandle(h.0) };
                }
            }
            Churn::AbortShared => {
                // SAFETY: as above.
                unsafe { WebSocketAbortHandle(shared.0) };
            }
        }
    }
    for h in live {
        // SAFETY: as above.
        unsafe { WebSocketDeleteHandle(h.0) };
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Four worker threads, started once and reused for every input (threads started per input
/// would leave glibc's per-thread bookkeeping for LeakSanitizer to report).
struct Pool {
    jobs: Vec<mpsc::Sender<Job>>,
    done: mpsc::Receiver<()>,
}

static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();

/// Runs the jobs at the same time, one per worker, and waits for all of them.
fn run_together(jobs: Vec<Job>) {
    let pool = POOL.get_or_init(|| {
        let (done_tx, done) = mpsc::channel();
        let jobs = (0..4)
            .map(|_| {
                let (tx, rx) = mpsc::channel::<Job>();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                        let _ = done_tx.send(());
                    }
                });
                tx
            })
            .collect();
        Mutex::new(Pool { jobs, done })
    });
    let pool = pool.lock().unwrap();
    let n = jobs.len();
    for (worker, job) in pool.jobs.iter().zip(jobs) {
        worker.send(job).unwrap();
    }
    for _ in 0..n {
        pool.done.recv().unwrap();
    }
}

fn wire(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    let key = [0x11, 0x22, 0x33, 0x44];
    for f in frames.iter().take(32) {
        match f {
            Frame::Masked(fin, opcode, payload) => {
                let payload = &payload[..payload.len().min(3000)];
                out.push(if *fin { 0x80 } else { 0 } | (opcode & 0x0F));
                match payload.len() {
                    n if n < 126 => out.push(0x80 | n as u8),
                    n => {
                        out.push(0x80 | 126);
                        out.extend_from_slice(&(n as u16).to_be_bytes());
                    }
                }
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            Frame::Raw(bytes) => out.extend_from_slice(&bytes[..bytes.len().min(64)]),
        }
    }
    out
}

fuzz_target!(|input: Input| {
    let rbs = RBS[input.rbs as usize % RBS.len()];
    let sbs = SBS[input.sbs as usize % SBS.len()];
    let size = (rbs + sbs + 144) as usize;
    let mut memory = vec![0u8; size];
    let base: *mut u8 = memory.as_mut_ptr();
    let mut props = vec![prop(0, &rbs), prop(1, &sbs)];
    if input.allocated {
        props.push(WEB_SOCKET_PROPERTY {
            Type: 3,
            pvValue: (&base as *const *mut u8) as PVOID,
            ulValueSize: size as u32,
        });
    }
    // The shared handle is a server: the frames built from the input are masked, as a
    // client's are.
    let h = open(false, &props);
    let region = RegionInfo::of(h.0).unwrap();
    let wire = wire(&input.frames);
    let [c0, c1] = input.churn;
    let (sends, reads, own) = (input.sends, input.reads, input.own_buffer);
    run_together(vec![
        Box::new(move || send_loop(h, region, sends)),
        Box::new(move || receive_loop(h, region, wire, reads, own)),
        Box::new(move || churn_loop(h, c0)),
        Box::new(move || churn_loop(h, c1)),
    ]);
    // The shared handle survived every stale delete.
    let a = get_action(h.0, ALL, 2);
    assert_eq!(a.hr, 0, "the shared handle is still live");
    if a.action != NO_ACTION {
        complete(h.0, a.token, 0);
    }
    // SAFETY: no thread uses the handle any more.
    unsafe { WebSocketDeleteHandle(h.0) };
    drop(memory);
});
