//! The frame_parser fuzz target: arbitrary network bytes, read in arbitrary splits, fed through
//! the C ABI to a server handle and to a client handle (RECEIVE_FROM_NETWORK / INDICATE loop), and
//! compared with a reference decoder written from RFC 6455 and spec §9.6-§9.7.
//!
//! Input layout: `[flags] [sizes] [n] [n split bytes] [wire bytes...]`
//! * flags: bit1 DISABLE_MASKING, bit2 DISABLE_UTF8_VERIFICATION, bit3 ALL queue (else RECEIVE),
//!   bit4 capacity 2 (else 1), bit5 ALLOCATED_BUFFER, bit6 caller receive buffer,
//!   bit7 over-report some read counts (must be clamped).
//! * sizes: bits 0-2 select the receive buffer size, bits 3-6 the caller buffer size, bit7 keeps
//!   two receive operations queued.
//! * split byte v: 0 = complete the read with 0 bytes (cancels the receive), 255 = everything
//!   available, else read at most v bytes. After the list, reads take everything available.
//!
//! Checked: no crash; returned buffers inside the handle's region (or the caller's receive
//! buffer); INDICATE lengths <= RBS; count <= capacity and later entries untouched; no NO_ACTION
//! while a receive is pending (§9.2 rule 6); an error HRESULT at most once, then the aborted-shape
//! indication and no more network actions; the delivered messages, pongs, close and error equal
//! the reference's; every ping answered (last one included) unless the handle failed; the loop
//! terminates within a bound linear in the input size.
use super::*;
use websocket::ffi::*;

const RBS_CHOICES: [u32; 8] = [256, 257, 300, 512, 1024, 4096, 16384, 65536];

#[derive(Debug, Clone, Copy)]
struct Cfg {
    disable_masking: bool,
    no_utf8: bool,
    queue: i32,
    cap: u32,
    allocated: bool,
    caller_buf: Option<usize>,
    overreport: bool,
    rbs: u32,
    double_receive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Message(bool, Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Option<Vec<u8>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Eof,
    Closed,
    Error(i32),
}

struct Reference {
    events: Vec<Ev>,
    pings: Vec<Vec<u8>>,
    end: End,
    /// The unfinished message's bytes (all available payload) at the end.
    partial: Option<(bool, Vec<u8>)>,
}

/// What the spec says the bytes mean (§9.6, §9.7), decided frame by frame.
fn reference(wire: &[u8], server: bool, cfg: &Cfg) -> Reference {
    let verify = !cfg.no_utf8;
    let mut r = Reference { events: Vec::new(), pings: Vec::new(), end: End::Eof, partial: None };
    let mut pos = 0;
    let mut msg: Option<(bool, Vec<u8>)> = None;
    let fail = |r: &mut Reference, msg: Option<(bool, Vec<u8>)>, hr: i32| {
        r.end = End::Error(hr);
        r.partial = msg;
    };
    loop {
        let rest = &wire[pos..];
        if rest.len() < 2 {
            r.partial = msg;
            return r;
        }
        let (b0, b1) = (rest[0], rest[1]);
        let opcode = b0 & 0xF;
        let control = opcode >= 8;
        if b0 & 0x70 != 0
            || matches!(opcode, 3..=7 | 0xB..=0xF)
            || (control && (b0 & 0x80 == 0 || (b1 & 0x7F) > 125))
            || (b1 & 0x7F == 127 && rest.len() >= 10 && rest[2] & 0x80 != 0)
        {
            fail(&mut r, msg, E_INVALID_PROTOCOL_FORMAT);
            return r;
        }
        let f = match decode_frame(rest) {
            Some(f) => f,
            None => {
                r.partial = msg;
                return r;
            }
        };
        let masking_error = match (server, f.mask) {
            (true, None) => !cfg.disable_masking,
            (false, Some(_)) => true,
            _ => false,
        };
        if masking_error {
            fail(&mut r, msg, E_INVALID_PROTOCOL_FORMAT);
            return r;
        }
        let avail = ((rest.len() - f.header_len) as u64).min(f.len) as usize;
        let mut payload = rest[f.header_len..f.header_len + avail].to_vec();
        if let Some(k) = f.mask {
            unmask(&mut payload, k, 0);
        }
        if control {
            if avail < f.len as usize {
                r.partial = msg;
                return r;
            }
            match opcode {
                8 => {
                    let ev = match payload.len() {
                        0 => Ev::Close(1005, None),
                        1 => {
                            fail(&mut r, msg, E_INVALID_PROTOCOL_FORMAT);
                            return r;
                        }
                        _ => {
                            let status = u16::from_be_bytes([payload[0], payload[1]]);
                            let reason = payload[2..].to_vec();
                            // Spec §9.6.5 rejects 0-999, 1005, 1006, 1015; the project also
                            // rejects 1004, 1016-2999 and 5000-65535 (RFC 6455 §7.4; README
                            // "Known differences").
                            let allowed = matches!(status, 1000..=1003 | 1007..=1014 | 3000..=4999);
                            if !allowed || (verify && std::str::from_utf8(&reason).is_err()) {
                                fail(&mut r, msg, E_INVALID_PROTOCOL_FORMAT);
                                return r;
                            }
                            Ev::Close(status, Some(reason))
                        }
                    };
                    r.events.push(ev);
                    r.end = End::Closed;
                    r.partial = msg;
                    return r;
                }
                9 => r.pings.push(payload),
                _ => r.events.push(Ev::Pong(payload)),
            }
            pos += f.header_len + avail;
            continue;
        }
        let text = match (opcode, &msg) {
            (0, Some((t, _))) => *t,
            (0, None) | (_, Some(_)) => {
                fail(&mut r, msg, E_INVALID_PROTOCOL_OPERATION);
                return r;
            }
            (1, None) => true,
            _ => false,
        };
        let mut m = msg.take().unwrap_or((text, Vec::new()));
        m.1.extend_from_slice(&payload);
        if verify && text {
            if let Err(e) = std::str::from_utf8(&m.1) {
                let finished = avail as u64 == f.len && f.fin;
                if e.error_len().is_some() || finished {
                    fail(&mut r, Some(m), E_INVALID_PROTOCOL_FORMAT);
                    return r;
                }
            }
        }
        if (avail as u64) < f.len {
            r.partial = Some(m);
            return r;
        }
        if f.fin {
            r.events.push(Ev::Message(m.0, m.1));
        } else {
            msg = Some(m);
        }
        pos += f.header_len + avail;
    }
}

struct Splits<'a> {
    list: &'a [u8],
    at: usize,
}

impl Splits<'_> {
    /// Some(0) = cancel, Some(n) = at most n bytes, None = everything.
    fn next(&mut self) -> Option<usize> {
        let v = *self.list.get(self.at)?;
        self.at += 1;
        match v {
            255 => None,
            v => Some(v as usize),
        }
    }
}

fn run(wire: &[u8], splits: &[u8], cfg: &Cfg, server: bool) {
    let expect = reference(wire, server, cfg);

    let rbs = cfg.rbs;
    let sbs = 16u32;
    let masking = cfg.disable_masking as u32;
    let no_utf8 = cfg.no_utf8 as u32;
    let mut region_mem = vec![0u8; (rbs + sbs + 144) as usize + 7];
    let region_addr = region_mem.as_mut_ptr() as usize + 3; // deliberately unaligned
    let mut props = vec![prop(0, &rbs), prop(1, &sbs), prop(2, &masking), prop(4, &no_utf8)];
    if cfg.allocated {
        props.push(WEB_SOCKET_PROPERTY {
            Type: 3,
            pvValue: &region_addr as *const usize as PVOID,
            ulValueSize: rbs + sbs + 144,
        });
    }
    let (hr, h) = create(!server, &props);
    assert_eq!(hr, 0, "create");
    if server {
        open_server(h);
    } else {
        super::seed_mask_keys(h, 7);
        open_client(h);
    }
    let region = RegionInfo::of(h).unwrap();
    if cfg.allocated {
        assert_eq!(region.base, region_addr, "region is not the ALLOCATED_BUFFER");
    }
    let mut caller_bufs: Vec<Vec<u8>> = Vec::new();

    let mut input = wire;
    let mut splits = Splits { list: splits, at: 0 };
    let mut events: Vec<Ev> = Vec::new();
    let mut partial: Option<(bool, Vec<u8>)> = None;
    let mut pongs: Vec<Vec<u8>> = Vec::new();
    let mut errored: Option<i32> = None;
    let mut pending: std::collections::VecDeque<usize> = Default::default(); // contexts
    let mut next_ctx = 0x100usize;
    let mut cancelled = 0usize; // receives cancelled and not yet indicated
    let mut closed: Option<Ev> = None;
    let mut eof = false;
    let mut reads = 0usize;

    let mut queue_receive = |pending: &mut std::collections::VecDeque<usize>,
                             caller_bufs: &mut Vec<Vec<u8>>| {
        next_ctx += 1;
        let hr = match cfg.caller_buf {
            None => unsafe { WebSocketReceive(h, std::ptr::null_mut(), next_ctx as PVOID) },
            Some(n) => {
                let mut b = vec![0u8; n];
                let mut wb = WEB_SOCKET_BUFFER::data(b.as_mut_ptr(), n as u32);
                let hr = unsafe { WebSocketReceive(h, &mut wb, next_ctx as PVOID) };
                caller_bufs.push(b);
                hr
            }
        };
        assert_eq!(hr, 0, "WebSocketReceive");
        pending.push_back(next_ctx);
    };
    queue_receive(&mut pending, &mut caller_bufs);
    if cfg.double_receive {
        queue_receive(&mut pending, &mut caller_bufs);
    }

    let bound = 64 + 8 * (wire.len() + splits.list.len());
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < bound, "the receive loop does not terminate");
        let a = get_action(h, cfg.queue, cfg.cap);
        assert!(a.count <= cfg.cap, "count {} > capacity {}", a.count, cfg.cap);
        assert!(a.untouched_tail, "GetAction wrote past the reported count");
        if a.hr != 0 {
            assert!(errored.is_none(), "GetAction reported an error twice: {:#x}", a.hr);
            assert!(
                a.hr == E_INVALID_PROTOCOL_FORMAT || a.hr == E_INVALID_PROTOCOL_OPERATION,
                "unexpected HRESULT {:#x}",
                a.hr
            );
            assert_eq!((a.action, a.count, a.token), (NO_ACTION, 0, 0), "outputs after a failed GetAction");
            errored = Some(a.hr);
            continue;
        }
        match a.action {
            NO_ACTION => {
                assert_eq!((a.count, a.token), (0, 0));
                assert!(pending.is_empty(), "NO_ACTION while a receive is pending (spec §9.2 rule 6)");
                break;
            }
            RECEIVE_FROM_NETWORK => {
                assert!(errored.is_none(), "RECEIVE_FROM_NETWORK after a protocol error");
                assert!(closed.is_none(), "RECEIVE_FROM_NETWORK after the close was indicated");
                assert_eq!(a.count, 1);
                assert_eq!(a.app, *pending.front().unwrap(), "context of RECEIVE_FROM_NETWORK");
                let (p, n) = a.data(0);
                assert!(n >= 1 && region.in_r(p, n), "RECEIVE_FROM_NETWORK buffer {p:?}+{n} outside R");
                reads += 1;
                let want = if input.is_empty() {
                    eof = true;
                    Some(0)
                } else {
                    splits.next()
                };
                if want == Some(0) {
                    cancelled += 1;
                    complete(h, a.token, 0);
                    continue;
                }
                let k = input.len().min(n as usize).min(want.unwrap_or(usize::MAX));
                // SAFETY: the buffer is writable for n >= k bytes until CompleteAction.
                unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), p, k) };
                input = &input[k..];
                let reported = if cfg.overreport && k == n as usize && reads % 2 == 0 {
                    k as u32 + 1 + reads as u32
                } else {
                    k as u32
                };
                complete(h, a.token, reported);
            }
            SEND_TO_NETWORK => {
                assert!(errored.is_none(), "SEND_TO_NETWORK after a protocol error");
                assert_eq!(a.count, 1, "automatic pong must be one buffer");
                assert_eq!(a.ty, PING_PONG, "automatic pong type");
                assert_eq!(a.app, APP_SENTINEL, "automatic pong must not write the application context");
                let (p, n) = a.data(0);
                assert!(region.in_c(p, n), "pong outside the control area");
                let b = a.all_bytes();
                let f = decode_frame(&b).expect("pong frame incomplete");
                assert_eq!((f.fin, f.rsv, f.opcode), (true, 0, 0xA), "pong header {b:x?}");
                assert_eq!(f.mask.is_some(), !server, "pong masking");
                assert_eq!(f.header_len + f.len as usize, b.len(), "pong length");
                let mut payload = b[f.header_len..].to_vec();
                if let Some(k) = f.mask {
                    unmask(&mut payload, k, 0);
                }
                pongs.push(payload);
                complete(h, a.token, n);
            }
            INDICATE_RECEIVE_COMPLETE => {
                assert_eq!(a.count, 1);
                let ctx = pending.pop_front().expect("INDICATE_RECEIVE_COMPLETE without a receive");
                assert_eq!(a.app, ctx, "context of INDICATE_RECEIVE_COMPLETE");
                let (p, n) = a.data(0);
                if a.ty == CLOSE {
                    let (reason, len) = (p, n);
                    let status = a.status();
                    if errored.is_some() || cancelled > 0 {
                        assert_eq!(
                            (reason, len, status),
                            (std::ptr::null_mut(), 0, 1006),
                            "aborted-shape indication"
                        );
                        cancelled = cancelled.saturating_sub(1);
                    } else {
                        let ev = if reason.is_null() {
                            assert_eq!(len, 0);
                            Ev::Close(status, None)
                        } else {
                            assert!(region.in_r(reason, len) && len <= 123, "close reason outside R");
                            Ev::Close(status, Some(a.bytes(0)))
                        };
                        match &closed {
                            Some(first) => assert_eq!(first, &ev, "queued receive after close"),
                            None => {
                                events.push(ev.clone());
                                closed = Some(ev);
                            }
                        }
                    }
                } else {
                    assert!(errored.is_none() && cancelled == 0, "data indicated after error/cancel");
                    assert!(n as usize <= rbs as usize, "INDICATE length {n} > RBS {rbs}");
                    let inside = region.in_r(p, n)
                        || (matches!(a.ty, UTF8_MESSAGE | UTF8_FRAGMENT | BINARY_MESSAGE | BINARY_FRAGMENT)
                            && caller_bufs.iter().any(|b| in_slice(b, p, n)));
                    assert!(inside, "INDICATE buffer {p:?}+{n} outside R and the caller's buffer");
                    if let Some(cb) = cfg.caller_buf {
                        if a.ty != PING_PONG {
                            assert!(n as usize <= cb, "more than the caller's receive buffer");
                        }
                    }
                    let bytes = a.bytes(0);
                    match a.ty {
                        PING_PONG => {
                            assert!(n <= 125);
                            events.push(Ev::Pong(bytes));
                        }
                        UTF8_MESSAGE | UTF8_FRAGMENT | BINARY_MESSAGE | BINARY_FRAGMENT => {
                            let text = matches!(a.ty, UTF8_MESSAGE | UTF8_FRAGMENT);
                            let ends = matches!(a.ty, UTF8_MESSAGE | BINARY_MESSAGE);
                            assert!(ends || n > 0, "empty non-final chunk delivered");
                            let m = partial.get_or_insert((text, Vec::new()));
                            assert_eq!(m.0, text, "buffer type changed inside a message");
                            m.1.extend_from_slice(&bytes);
                            if ends {
                                let (t, b) = partial.take().unwrap();
                                events.push(Ev::Message(t, b));
                            }
                        }
                        other => panic!("unexpected buffer type {other:#x}"),
                    }
                }
                complete(h, a.token, 0xFFFF_FFFF);
                if errored.is_some() || closed.is_some() {
                    let hr = unsafe { WebSocketReceive(h, std::ptr::null_mut(), std::ptr::null_mut()) };
                    assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "Receive after close/failure");
                } else if !eof && pending.len() < 1 + cfg.double_receive as usize {
                    queue_receive(&mut pending, &mut caller_bufs);
                }
            }
            other => panic!("unexpected action {other} on the receive side"),
        }
    }

    // Compare with the reference.
    match &expect.end {
        End::Error(hr) => {
            assert_eq!(errored, Some(*hr), "error expected by the reference");
            assert_eq!(events, expect.events, "events before the error");
            let got = partial.map(|p| p.1).unwrap_or_default();
            let want = expect.partial.map(|p| p.1).unwrap_or_default();
            assert!(want.starts_with(&got), "delivered part of the failing message is not a prefix");
        }
        End::Eof | End::Closed => {
            assert_eq!(errored, None, "unexpected error");
            assert_eq!(events, expect.events, "events");
            assert_eq!(
                partial.map(|p| p.1).unwrap_or_default(),
                expect.partial.map(|p| p.1).unwrap_or_default(),
                "unfinished message"
            );
            if expect.end == End::Closed {
                assert!(closed.is_some());
            }
        }
    }
    // Pongs: each answers a ping, in order; the last ping is answered unless the handle failed.
    let mut it = expect.pings.iter();
    for p in &pongs {
        assert!(it.any(|x| x == p), "pong {p:x?} answers no ping (pings {:x?})", expect.pings);
    }
    if errored.is_none() {
        assert_eq!(pongs.last(), expect.pings.last(), "the last ping was not answered");
    }
    // SAFETY: the handle is live; the region memory outlives it.
    unsafe { WebSocketDeleteHandle(h) };
    drop(region_mem);
}

/// Runs one fuzz input (see the module documentation for its layout).
pub fn run_input(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let (flags, sizes, n) = (data[0], data[1], data[2] as usize);
    let rest = &data[3..];
    let n = n.min(rest.len());
    let (splits, wire) = rest.split_at(n);
    let cfg = Cfg {
        disable_masking: flags & 2 != 0,
        no_utf8: flags & 4 != 0,
        queue: if flags & 8 != 0 { ALL } else { RECEIVE },
        cap: if flags & 16 != 0 { 2 } else { 1 },
        allocated: flags & 32 != 0,
        caller_buf: if flags & 64 != 0 {
            Some(
                [1, 2, 3, 7, 16, 125, 126, 200, 256, 300, 1000, 4096, 5, 13, 64, 65536]
                    [((sizes >> 3) & 15) as usize],
            )
        } else {
            None
        },
        overreport: flags & 128 != 0,
        rbs: RBS_CHOICES[(sizes & 7) as usize],
        double_receive: sizes & 128 != 0,
    };
    run(wire, splits, &cfg, true);
    run(wire, splits, &cfg, false);
}
