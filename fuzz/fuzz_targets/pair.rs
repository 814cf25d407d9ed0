//! pair: a client handle and a server handle connected in memory through the C ABI, carrying
//! arbitrary messages (text generated as valid UTF-8 and cut at arbitrary byte positions into
//! fragments), pings (also between fragments), unsolicited pongs and a close handshake, through
//! an arbitrary interleaving of GetAction calls on the SEND / RECEIVE / ALL queues with 1- and
//! 2-slot arrays, arbitrary read sizes (including cancelled reads) and full writes.
//!
//! Checked: every message arrives intact, whole and in order, with its text/binary type; every
//! unsolicited pong arrives in order; automatic pongs answer the receiver's pings in order (a
//! ping may be superseded by a later one, but the last one is answered); close status and reason
//! arrive (NULL reason for an empty close); every returned buffer lies in the handle's region or
//! in the payload of the send in progress (buffer 0 of a two-buffer send in the region); counts
//! never exceed the capacity; queues only return their own kinds of action (automatic pongs may
//! come on any queue, a documented departure from §9.2 rule 5); no NO_ACTION while a
//! receive is pending (§9.2 rule 6); contexts and buffer types belong to the right operation;
//! every send is indicated complete exactly once, in FIFO order; the exchange terminates.
#![no_main]

use std::collections::VecDeque;
use std::ptr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use websocket::ffi::*;
use websocket_fuzz::*;

const RBS: [u32; 6] = [256, 300, 1024, 4096, 16384, 65536];
const SBS: [u32; 6] = [16, 17, 100, 256, 4096, 65536];

#[derive(Arbitrary, Debug)]
enum Item {
    Text { text: String, cuts: Vec<u8>, ping_after: Option<(u8, Vec<u8>)> },
    Binary { data: Vec<u8>, cuts: Vec<u8>, ping_after: Option<(u8, Vec<u8>)> },
    Big { byte: u8, len: u16, extra: u8 },
    Empty { text: bool, null_buffer: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct SideCfg {
    items: Vec<Item>,
    rbs: u8,
    sbs: u8,
    allocated: bool,
    disable_masking: bool,
    all_queue: bool,
    send_cap2: bool,
    recv_cap2: bool,
    close: Option<(Option<u16>, String)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    client: SideCfg,
    server: SideCfg,
    schedule: Vec<u8>,
    reads: Vec<u16>,
}

#[derive(Debug, Clone)]
enum Op {
    Data { ty: u32, payload: Vec<u8>, null_buffer: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Close {
    Got(u16, Option<Vec<u8>>),
}

/// What a side sends, and what the peer must see.
#[derive(Default)]
struct Script {
    ops: VecDeque<Op>,
    messages: Vec<(bool, Vec<u8>)>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
}

fn tagged(tag: u8, seq: usize, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag, (seq >> 8) as u8, seq as u8];
    v.extend_from_slice(&body[..body.len().min(122)]);
    v
}

fn script(items: &[Item]) -> Script {
    let mut s = Script::default();
    let mut budget: usize = 300_000;
    let push_message =
        |s: &mut Script, text: bool, data: Vec<u8>, cuts: &[u8], ping: &Option<(u8, Vec<u8>)>| {
            let (frag, msg) =
                if text { (UTF8_FRAGMENT, UTF8_MESSAGE) } else { (BINARY_FRAGMENT, BINARY_MESSAGE) };
            let mut at = 0;
            let mut pieces = Vec::new();
            for c in cuts.iter().take(64) {
                let end = (at + *c as usize).min(data.len());
                pieces.push(data[at..end].to_vec());
                at = end;
            }
            pieces.push(data[at..].to_vec());
            let last = pieces.len() - 1;
            for (i, p) in pieces.into_iter().enumerate() {
                s.ops.push_back(Op::Data {
                    ty: if i == last { msg } else { frag },
                    payload: p,
                    null_buffer: false,
                });
                if let Some((k, body)) = ping {
                    if *k as usize == i && i != last {
                        let payload = tagged(b'P', s.pings.len(), body);
                        s.pings.push(payload.clone());
                        s.ops.push_back(Op::Ping(payload));
                    }
                }
            }
            s.messages.push((text, data));
        };
    for item in items.iter().take(40) {
        match item {
            Item::Text { text, cuts, ping_after } => {
                let data = text.as_bytes().to_vec();
                budget = budget.saturating_sub(data.len());
                push_message(&mut s, true, data, cuts, ping_after);
            }
            Item::Binary { data, cuts, ping_after } => {
                budget = budget.saturating_sub(data.len());
                push_message(&mut s, false, data.clone(), cuts, ping_after);
            }
            Item::Big { byte, len, extra } => {
                // Mostly a few KiB (crossing the 126 and SBS boundaries); rarely past 65535 (the
                // 64-bit length form), which costs thousands of actions with a 16-byte SBS.
                let n = if *extra >= 250 {
                    65_000 + *len as usize % 5_000
                } else {
                    *len as usize % 2_048 + 8 * *extra as usize
                };
                let n = n.min(budget);
                budget -= n;
                let data: Vec<u8> = (0..n).map(|i| byte.wrapping_add((i / 7) as u8)).collect();
                push_message(&mut s, false, data, &[], &None);
            }
            Item::Empty { text, null_buffer } => {
                let ty = if *text { UTF8_MESSAGE } else { BINARY_MESSAGE };
                s.ops.push_back(Op::Data { ty, payload: Vec::new(), null_buffer: *null_buffer });
                s.messages.push((*text, Vec::new()));
            }
            Item::Ping(body) => {
                let payload = tagged(b'P', s.pings.len(), body);
                s.pings.push(payload.clone());
                s.ops.push_back(Op::Ping(payload));
            }
            Item::Pong(body) => {
                let payload = tagged(b'U', s.pongs.len(), body);
                s.pongs.push(payload.clone());
                s.ops.push_back(Op::Pong(payload));
            }
        }
    }
    s
}

struct Inflight {
    ctx: usize,
    ty: u32,
    payload: Box<[u8]>,
}

struct Side {
    name: &'static str,
    h: WEB_SOCKET_HANDLE,
    region: RegionInfo,
    _mem: Vec<u8>,
    all_queue: bool,
    send_cap: u32,
    recv_cap: u32,
    ops: VecDeque<Op>,
    inflight: VecDeque<Inflight>,
    next_ctx: usize,
    read: Option<(usize, *mut u8, u32)>,
    recv_ctx: Option<usize>,
    cancelled: bool,
    partial: Option<(bool, Vec<u8>)>,
    messages: Vec<(bool, Vec<u8>)>,
    answers: Vec<Vec<u8>>,
    unsolicited: Vec<Vec<u8>>,
    close: Option<Close>,
    /// Counts real progress: bytes written or read, operations queued or completed, events.
    moves: usize,
}

impl Side {
    fn new(name: &'static str, client: bool, cfg: &SideCfg) -> Side {
        let rbs = RBS[cfg.rbs as usize % RBS.len()];
        let sbs = SBS[cfg.sbs as usize % SBS.len()];
        let masking = cfg.disable_masking as u32;
        let size = (rbs + sbs + 144) as usize;
        let mut mem = vec![0u8; if cfg.allocated { size + 1 } else { 0 }];
        let addr = mem.as_mut_ptr() as usize + 1;
        let mut props = vec![prop(0, &rbs), prop(1, &sbs), prop(2, &masking)];
        if cfg.allocated {
            props.push(WEB_SOCKET_PROPERTY {
                Type: 3,
                pvValue: &addr as *const usize as PVOID,
                ulValueSize: size as u32,
            });
        }
        let (hr, h) = create(client, &props);
        assert_eq!(hr, 0, "create");
        if client {
            websocket_fuzz::seed_mask_keys(h, 3);
        }
        let region = RegionInfo::of(h).unwrap();
        Side {
            name,
            h,
            region,
            _mem: mem,
            all_queue: cfg.all_queue,
            send_cap: 1 + cfg.send_cap2 as u32,
            recv_cap: 1 + cfg.recv_cap2 as u32,
            ops: VecDeque::new(),
            inflight: VecDeque::new(),
            next_ctx: if client { 0x1000 } else { 0x2000 },
            read: None,
            recv_ctx: None,
            cancelled: false,
            partial: None,
            messages: Vec::new(),
            answers: Vec::new(),
            unsolicited: Vec::new(),
            close: None,
            moves: 0,
        }
    }

    /// WebSocketSend of the next scripted operation.
    fn queue_send(&mut self) -> bool {
        let Some(op) = self.ops.pop_front() else { return false };
        self.next_ctx += 1;
        let ctx = self.next_ctx;
        let (ty, payload, mut buf, null) = match op {
            Op::Data { ty, payload, null_buffer } => {
                let p = payload.into_boxed_slice();
                let b = WEB_SOCKET_BUFFER::data(p.as_ptr() as *mut u8, p.len() as u32);
                (ty, p, b, null_buffer)
            }
            Op::Ping(p) | Op::Pong(p) => {
                let ty = if p[0] == b'P' { PING_PONG } else { UNSOLICITED_PONG };
                let p = p.into_boxed_slice();
                let b = WEB_SOCKET_BUFFER::data(p.as_ptr() as *mut u8, p.len() as u32);
                (ty, p, b, false)
            }
            Op::Close(status, reason) => {
                let p = reason.into_boxed_slice();
                let b = WEB_SOCKET_BUFFER::close(p.as_ptr() as *mut u8, p.len() as u32, status.unwrap_or(0));
                (CLOSE, p, b, status.is_none())
            }
        };
        let pb = if null { ptr::null_mut() } else { &mut buf as *mut WEB_SOCKET_BUFFER };
        // SAFETY: the payload stays alive in `inflight` until its INDICATE_SEND_COMPLETE.
        let hr = unsafe { WebSocketSend(self.h, ty, pb, ctx as PVOID) };
        assert_eq!(hr, 0, "{}: WebSocketSend({ty:#x})", self.name);
        self.inflight.push_back(Inflight { ctx, ty, payload });
        self.moves += 1;
        true
    }

    fn ensure_receive(&mut self) {
        if self.recv_ctx.is_none() && self.close.is_none() {
            self.next_ctx += 1;
            let hr = unsafe { WebSocketReceive(self.h, ptr::null_mut(), self.next_ctx as PVOID) };
            assert_eq!(hr, 0, "{}: WebSocketReceive", self.name);
            self.recv_ctx = Some(self.next_ctx);
        }
    }

    /// One GetAction; returns (action, bytes written to the peer's wire).
    fn poll(&mut self, queue: i32, cap: u32, wire: &mut VecDeque<u8>) -> (i32, usize) {
        let a = get_action(self.h, queue, cap);
        let name = self.name;
        assert_eq!(a.hr, 0, "{name}: GetAction({queue}) failed");
        assert!(a.count <= cap, "{name}: count {} > capacity {cap}", a.count);
        assert!(a.untouched_tail, "{name}: wrote past the count");
        match a.action {
            NO_ACTION => {
                assert_eq!((a.count, a.token), (0, 0));
                if queue != SEND {
                    assert!(
                        !(self.recv_ctx.is_some() && self.read.is_none()),
                        "{name}: NO_ACTION while a receive is pending (spec §9.2 rule 6)"
                    );
                }
                (NO_ACTION, 0)
            }
            SEND_TO_NETWORK => {
                assert!(a.count >= 1);
                let bytes = a.all_bytes();
                if a.app == APP_SENTINEL {
                    // Automatic pong (on any queue: README "Known differences").
                    assert_eq!((a.count, a.ty), (1, PING_PONG), "{name}: automatic pong shape");
                    let (p, n) = a.data(0);
                    assert!(self.region.in_c(p, n), "{name}: pong outside C");
                } else {
                    assert_ne!(queue, RECEIVE, "{name}: user frame on the RECEIVE queue");
                    let head = self.inflight.front().expect("SEND_TO_NETWORK without a send");
                    assert_eq!((a.app, a.ty), (head.ctx, head.ty), "{name}: context/type of SEND_TO_NETWORK");
                    for i in 0..a.buffers.len() {
                        let (p, n) = a.data(i);
                        let native = self.region.in_native(p, n);
                        assert!(
                            native || in_slice(&head.payload, p, n),
                            "{name}: buffer {i} {p:?}+{n} outside the region and the payload"
                        );
                        if a.count == 2 && i == 0 {
                            assert!(native, "{name}: buffer 0 of a two-buffer send is not native (§9.3)");
                        }
                    }
                }
                wire.extend(bytes.iter());
                self.moves += 1;
                complete(self.h, a.token, bytes.len() as u32);
                (SEND_TO_NETWORK, bytes.len())
            }
            INDICATE_SEND_COMPLETE => {
                assert_ne!(queue, RECEIVE, "{name}: INDICATE_SEND_COMPLETE on the RECEIVE queue");
                assert_eq!(a.count, 0);
                let head = self.inflight.pop_front().expect("INDICATE_SEND_COMPLETE without a send");
                assert_eq!(
                    (a.app, a.ty),
                    (head.ctx, head.ty),
                    "{name}: context/type of INDICATE_SEND_COMPLETE"
                );
                drop(head); // the payload is freed: the library must not touch it again
                self.moves += 1;
                complete(self.h, a.token, 0);
                (INDICATE_SEND_COMPLETE, 0)
            }
            RECEIVE_FROM_NETWORK => {
                assert_ne!(queue, SEND, "{name}: RECEIVE_FROM_NETWORK on the SEND queue");
                assert_eq!(a.count, 1);
                assert_eq!(Some(a.app), self.recv_ctx, "{name}: context of RECEIVE_FROM_NETWORK");
                let (p, n) = a.data(0);
                assert!(n >= 1 && self.region.in_r(p, n), "{name}: read buffer outside R");
                assert!(self.read.is_none());
                self.read = Some((a.token, p, n));
                (RECEIVE_FROM_NETWORK, 0)
            }
            INDICATE_RECEIVE_COMPLETE => {
                assert_ne!(queue, SEND, "{name}: INDICATE_RECEIVE_COMPLETE on the SEND queue");
                assert_eq!(a.count, 1);
                assert_eq!(Some(a.app), self.recv_ctx, "{name}: context of INDICATE_RECEIVE_COMPLETE");
                self.recv_ctx = None;
                if !self.cancelled {
                    self.moves += 1;
                }
                let (p, n) = a.data(0);
                match a.ty {
                    CLOSE => {
                        let status = a.status();
                        if self.cancelled {
                            self.cancelled = false;
                            assert_eq!(
                                (p, n, status),
                                (ptr::null_mut(), 0, 1006),
                                "{name}: cancelled receive"
                            );
                        } else {
                            let reason = if p.is_null() {
                                assert_eq!(n, 0);
                                None
                            } else {
                                assert!(self.region.in_r(p, n), "{name}: close reason outside R");
                                Some(a.bytes(0))
                            };
                            assert!(self.close.is_none(), "{name}: two closes");
                            self.close = Some(Close::Got(status, reason));
                        }
                    }
                    PING_PONG => {
                        assert!(!self.cancelled);
                        assert!(self.region.in_r(p, n));
                        let b = a.bytes(0);
                        assert!(!b.is_empty(), "{name}: pong payloads carry a tag");
                        if b[0] == b'P' {
                            self.answers.push(b);
                        } else {
                            self.unsolicited.push(b);
                        }
                    }
                    UTF8_MESSAGE | UTF8_FRAGMENT | BINARY_MESSAGE | BINARY_FRAGMENT => {
                        assert!(!self.cancelled);
                        assert!(
                            self.region.in_r(p, n) && n as usize <= self.region.rbs,
                            "{name}: data outside R"
                        );
                        let text = matches!(a.ty, UTF8_MESSAGE | UTF8_FRAGMENT);
                        let ends = matches!(a.ty, UTF8_MESSAGE | BINARY_MESSAGE);
                        assert!(ends || n > 0, "{name}: empty non-final chunk");
                        let m = self.partial.get_or_insert((text, Vec::new()));
                        assert_eq!(m.0, text, "{name}: type changed inside a message");
                        m.1.extend_from_slice(&a.bytes(0));
                        if ends {
                            self.messages.push(self.partial.take().unwrap());
                        }
                    }
                    other => panic!("{name}: buffer type {other:#x}"),
                }
                complete(self.h, a.token, n ^ 0x55);
                (INDICATE_RECEIVE_COMPLETE, 0)
            }
            other => panic!("{name}: action {other}"),
        }
    }

    fn poll_send(&mut self, cap2: bool, wire: &mut VecDeque<u8>) -> (i32, usize) {
        let q = if self.all_queue { ALL } else { SEND };
        let cap = if cap2 { 2 } else { self.send_cap };
        self.poll(q, cap, wire)
    }

    fn poll_recv(&mut self, wire: &mut VecDeque<u8>) -> (i32, usize) {
        self.ensure_receive();
        let q = if self.all_queue { ALL } else { RECEIVE };
        let cap = self.recv_cap;
        self.poll(q, cap, wire)
    }

    /// Completes the outstanding read with up to `want` bytes from `wire` (0 = cancel).
    fn feed(&mut self, wire: &mut VecDeque<u8>, want: Option<usize>) -> bool {
        let Some((token, p, n)) = self.read else { return false };
        if want == Some(0) {
            self.read = None;
            self.cancelled = true;
            complete(self.h, token, 0);
            return true;
        }
        if wire.is_empty() {
            return false;
        }
        let k = wire.len().min(n as usize).min(want.unwrap_or(usize::MAX));
        for i in 0..k {
            // SAFETY: the read buffer is writable for n >= k bytes until CompleteAction.
            unsafe { *p.add(i) = wire.pop_front().unwrap() };
        }
        self.read = None;
        self.moves += 1;
        complete(self.h, token, k as u32);
        true
    }
}

/// Drives both sides until nothing moves any more.
fn flush(c: &mut Side, s: &mut Side, c2s: &mut VecDeque<u8>, s2c: &mut VecDeque<u8>) {
    let mut cancel_round = false;
    for _round in 0..100_000 {
        let before = c.moves + s.moves;
        for which in 0..2 {
            let (x, out, inp) =
                if which == 0 { (&mut *c, &mut *c2s, &mut *s2c) } else { (&mut *s, &mut *s2c, &mut *c2s) };
            while x.queue_send() {}
            for i in 0.. {
                assert!(i < 10_000_000, "{}: send loop does not end", x.name);
                if x.poll_send(false, out).0 == NO_ACTION {
                    break;
                }
            }
            for i in 0.. {
                assert!(i < 10_000_000, "{}: receive loop does not end", x.name);
                if x.read.is_some() {
                    if !x.feed(inp, None) {
                        break;
                    }
                    continue;
                }
                if x.close.is_some() && x.recv_ctx.is_none() {
                    // Nothing to receive any more; let a deferred pong out.
                    if x.poll(if x.all_queue { ALL } else { RECEIVE }, x.recv_cap, out).0 == NO_ACTION {
                        break;
                    }
                    continue;
                }
                x.poll_recv(out);
            }
        }
        if c.moves + s.moves != before {
            cancel_round = false;
            continue;
        }
        if cancel_round {
            let quiet =
                c.ops.is_empty() && s.ops.is_empty() && c.inflight.is_empty() && s.inflight.is_empty();
            assert!(
                quiet,
                "sends stuck: client {} + {}, server {} + {}",
                c.ops.len(),
                c.inflight.len(),
                s.ops.len(),
                s.inflight.len()
            );
            assert!(c2s.is_empty() && s2c.is_empty(), "bytes stuck on the wire");
            return;
        }
        // Cancel outstanding reads so that automatic pongs deferred behind them can go out.
        for x in [&mut *c, &mut *s] {
            x.feed(&mut VecDeque::new(), Some(0));
        }
        cancel_round = true;
    }
    panic!("the exchange does not terminate");
}

fn check_arrivals(receiver: &Side, sender: &Script, own: &Script) {
    let name = receiver.name;
    assert!(receiver.partial.is_none(), "{name}: a message is unfinished");
    assert_eq!(receiver.messages, sender.messages, "{name}: messages");
    assert_eq!(receiver.unsolicited, sender.pongs, "{name}: unsolicited pongs");
    let mut it = own.pings.iter();
    for a in &receiver.answers {
        assert!(it.any(|p| p == a), "{name}: pong {a:x?} answers none of the pings in order");
    }
    assert_eq!(receiver.answers.last(), own.pings.last(), "{name}: the last ping was not answered");
}

fn close_op(close: &Option<(Option<u16>, String)>) -> Option<(Op, Close)> {
    let (status, reason) = close.as_ref()?;
    let mut r = reason.clone();
    while r.len() > 123 {
        r.pop();
    }
    Some(match status {
        None | Some(1005) => (Op::Close(None, Vec::new()), Close::Got(1005, None)),
        Some(st) => {
            // Statuses a receiver must reject (README "Known differences") become 1000.
            let st = if matches!(st, 1000..=1003 | 1007..=1014 | 3000..=4999) { *st } else { 1000 };
            (Op::Close(Some(st), r.clone().into_bytes()), Close::Got(st, Some(r.into_bytes())))
        }
    })
}

fuzz_target!(|input: Input| {
    let mut c = Side::new("client", true, &input.client);
    let mut s = Side::new("server", false, &input.server);
    handshake_pair(c.h, s.h);
    let cs = script(&input.client.items);
    let ss = script(&input.server.items);
    c.ops = cs.ops.clone();
    s.ops = ss.ops.clone();
    let mut c2s = VecDeque::new();
    let mut s2c = VecDeque::new();
    let mut reads = input.reads.iter();

    for b in input.schedule.iter().take(4096) {
        let client = b & 1 == 0;
        let (x, out, inp) = if client { (&mut c, &mut c2s, &mut s2c) } else { (&mut s, &mut s2c, &mut c2s) };
        match (b >> 1) & 3 {
            0 => {
                x.queue_send();
            }
            1 => {
                x.poll_send(b & 8 != 0, out);
            }
            2 => {
                if x.read.is_none() && !(x.close.is_some() && x.recv_ctx.is_none()) {
                    x.poll_recv(out);
                }
            }
            _ => {
                let want = reads.next().map(|r| *r as usize);
                // A read of 0 cancels; keep cancellations rare so that data keeps moving.
                let want = match want {
                    Some(0) if b & 0x30 != 0x30 => Some(1),
                    w => w,
                };
                x.feed(inp, want);
            }
        }
    }
    flush(&mut c, &mut s, &mut c2s, &mut s2c);
    check_arrivals(&s, &cs, &ss);
    check_arrivals(&c, &ss, &cs);

    // Close handshake: the client (if it closes) first, then the server.
    if let Some((op, want)) = close_op(&input.client.close) {
        c.ops.push_back(op);
        flush(&mut c, &mut s, &mut c2s, &mut s2c);
        assert_eq!(s.close.as_ref(), Some(&want), "server: close received");
        let hr = unsafe { WebSocketReceive(s.h, ptr::null_mut(), ptr::null_mut()) };
        assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "Receive after the close was indicated");
        let mut b = WEB_SOCKET_BUFFER::data(ptr::null_mut(), 0);
        let hr = unsafe { WebSocketSend(c.h, BINARY_MESSAGE, &mut b, ptr::null_mut()) };
        assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "data Send after the close was queued");
    }
    if let Some((op, want)) = close_op(&input.server.close) {
        s.ops.push_back(op);
        flush(&mut c, &mut s, &mut c2s, &mut s2c);
        assert_eq!(c.close.as_ref(), Some(&want), "client: close received");
    }
    assert!(c2s.is_empty() && s2c.is_empty(), "bytes left on the wire");
    unsafe {
        WebSocketDeleteHandle(c.h);
        WebSocketDeleteHandle(s.h);
    }
});
