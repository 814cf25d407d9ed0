//! api_sequence: arbitrary sequences of the 13 exports with arbitrary arguments — NULL
//! pointers, odd lengths, stale, forged, NULL and all-ones handles, wrong action contexts, wrong
//! states, abort and delete at any point, GetAction capacities 0-3, random CompleteAction byte
//! counts, bytes written into RECEIVE_FROM_NETWORK buffers.
//!
//! The harness only ever passes memory that is valid for what it claims (the library cannot be
//! asked to survive a caller lying about a length). It frees send payloads as soon as their
//! INDICATE_SEND_COMPLETE is returned, caller receive buffers as soon as their
//! INDICATE_RECEIVE_COMPLETE is returned, and ALLOCATED_BUFFERs right after DeleteHandle, so
//! that AddressSanitizer reports any later access by the library; leaks are reported by
//! LeakSanitizer (every handle is deleted at the end of an input).
//!
//! Oracle checks (spec §4-§11): forged/NULL/stale handles → E_INVALIDARG; after DeleteHandle
//! every HRESULT export fails with E_INVALIDARG; GetAction with capacity 0 or a bad queue fails;
//! count <= capacity and later entries untouched; Send/Receive before the handshake, after abort
//! or after failure fail; no SEND_TO_NETWORK / RECEIVE_FROM_NETWORK after abort or failure;
//! GetAction keeps succeeding after abort; a protocol error is reported at most once; returned
//! buffers lie in the handle's region or in a live send payload; returned header arrays stay
//! valid and ASCII until DeleteHandle; GetGlobalProperty's documented results.
#![no_main]

use std::collections::HashMap;
use std::ptr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use websocket::ffi::*;
use websocket_fuzz::*;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum H {
    Slot(u8),
    Null,
    AllOnes,
    Forged(u64),
}

#[derive(Arbitrary, Debug)]
struct PropSpec {
    ty: i8,
    value: u32,
    size: u8,
    null_value: bool,
    /// For type 3: the buffer size to allocate (added to the minimum), or a NULL address.
    buffer: Option<u16>,
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Null,
    NullWithLength(u16),
    EmptyNonNull,
    Bytes(Vec<u8>),
    Sized(u16, u8),
}

#[derive(Arbitrary, Debug)]
enum Call {
    Create {
        client: bool,
        props: Vec<PropSpec>,
        null_array: bool,
        null_out: bool,
    },
    BeginClient {
        h: H,
        subprotocols: Vec<String>,
        null_out: bool,
    },
    EndClient {
        h: H,
        correct: bool,
        junk: Vec<u8>,
    },
    BeginServer {
        h: H,
        valid: bool,
        version: u8,
        null_out: bool,
    },
    EndServer {
        h: H,
    },
    Send {
        h: H,
        ty: u8,
        raw_ty: Option<u32>,
        payload: Payload,
        status: u16,
    },
    Receive {
        h: H,
        buffer: Option<u16>,
        null_ptr: bool,
    },
    GetAction {
        h: H,
        queue: i8,
        cap: u8,
        null_mask: u8,
    },
    Complete {
        h: H,
        token: Tok,
        bytes: u32,
    },
    /// Writes bytes into the last RECEIVE_FROM_NETWORK buffer of a handle and completes it.
    Network {
        h: u8,
        data: Vec<u8>,
        report: Option<u32>,
    },
    /// Moves bytes one handle sent (SEND_TO_NETWORK) into another handle's outstanding read.
    Forward {
        from: u8,
        to: u8,
        max: u16,
    },
    Abort {
        h: H,
    },
    Delete {
        h: H,
    },
    Global {
        ty: i8,
        size: u8,
        null_value: bool,
        null_size: bool,
    },
    RecheckHeaders {
        h: u8,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Tok {
    Last(u8),
    Zero,
    Raw(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Handshaking,
    Open,
}

struct Live {
    h: WEB_SOCKET_HANDLE,
    client: bool,
    phase: Phase,
    aborted: bool,
    failed: bool,
    close_queued: bool,
    /// The outstanding SEND_TO_NETWORK of the close frame (a 0-byte completion withdraws it).
    close_frame: Option<usize>,
    close_received: bool,
    region: RegionInfo,
    /// Kept alive until DeleteHandle, freed right after it.
    _allocated: Option<Vec<u8>>,
    headers: Option<(*mut WEB_SOCKET_HTTP_HEADER, u32, Vec<(String, String)>)>,
    key: Option<String>,
    sends: HashMap<usize, Box<[u8]>>,
    recv_bufs: HashMap<usize, Box<[u8]>>,
    last_token: usize,
    /// Outstanding RECEIVE_FROM_NETWORK: token, buffer.
    read: Option<(usize, *mut u8, u32)>,
    /// Tokens of actions handed out and not yet completed.
    outstanding: Vec<usize>,
    /// Bytes of every SEND_TO_NETWORK handed out, in order (for Forward).
    outbox: std::collections::VecDeque<u8>,
}

struct World {
    slots: Vec<Option<Live>>,
    /// Handles deleted during this input (all stale).
    dead: Vec<WEB_SOCKET_HANDLE>,
    next_ctx: usize,
}

impl World {
    fn resolve(&self, h: H) -> (WEB_SOCKET_HANDLE, Option<usize>) {
        match h {
            H::Slot(i) => {
                let n = self.slots.len() + self.dead.len();
                if n == 0 {
                    return (ptr::null_mut(), None);
                }
                let i = i as usize % n;
                if i < self.slots.len() {
                    match &self.slots[i] {
                        Some(l) => (l.h, Some(i)),
                        None => (ptr::null_mut(), None),
                    }
                } else {
                    (self.dead[i - self.slots.len()], None)
                }
            }
            H::Null => (ptr::null_mut(), None),
            H::AllOnes => (usize::MAX as WEB_SOCKET_HANDLE, None),
            H::Forged(v) => {
                let v = v as usize as WEB_SOCKET_HANDLE;
                match self.slots.iter().position(|s| s.as_ref().map_or(false, |l| l.h == v)) {
                    Some(i) => (v, Some(i)),
                    None => (v, None),
                }
            }
        }
    }

    fn live(&mut self, i: Option<usize>) -> Option<&mut Live> {
        i.and_then(move |i| self.slots[i].as_mut())
    }
}

fn ctx(w: &mut World) -> usize {
    w.next_ctx += 1;
    w.next_ctx
}

fn check_headers(l: &Live) {
    if let Some((p, n, want)) = &l.headers {
        assert_eq!(&read_headers(*p, *n), want, "returned headers changed before DeleteHandle");
    }
}

fn call(w: &mut World, c: &Call) {
    match c {
        Call::Create { client, props, null_array, null_out } => {
            if w.slots.len() >= 8 {
                return;
            }
            let mut values: Vec<[u64; 2]> = Vec::new();
            let mut buffers: Vec<Vec<u8>> = Vec::new();
            let mut raw = Vec::new();
            for p in props.iter().take(8) {
                let ty = p.ty as i32 % 8;
                let mut v = [0u64; 2];
                if ty == 3 {
                    if let Some(extra) = p.buffer {
                        let len = 256 + 16 + 144 + extra as usize % 70_000;
                        let mut b = vec![0u8; len + 1];
                        v[0] = b.as_mut_ptr() as u64 + 1;
                        buffers.push(b);
                        raw.push((ty, len as u32, p.null_value));
                    } else {
                        raw.push((ty, p.value, p.null_value));
                    }
                } else {
                    v[0] = u64::from(p.value);
                    raw.push((ty, p.size as u32 % 12, p.null_value));
                }
                values.push(v);
            }
            let list: Vec<WEB_SOCKET_PROPERTY> = raw
                .iter()
                .zip(values.iter())
                .map(|((ty, size, null), v)| WEB_SOCKET_PROPERTY {
                    Type: *ty,
                    pvValue: if *null { ptr::null_mut() } else { v.as_ptr() as PVOID },
                    ulValueSize: *size,
                })
                .collect();
            let mut h: WEB_SOCKET_HANDLE = ptr::null_mut();
            let arr = if *null_array { ptr::null() } else { list.as_ptr() };
            let out = if *null_out { ptr::null_mut() } else { &mut h as *mut WEB_SOCKET_HANDLE };
            // SAFETY: values are 16 bytes (>= any ulValueSize <= 11 read as 4 or 8 bytes).
            let hr = unsafe {
                if *client {
                    WebSocketCreateClientHandle(arr, list.len() as u32, out)
                } else {
                    WebSocketCreateServerHandle(arr, list.len() as u32, out)
                }
            };
            if *null_out || (*null_array && !list.is_empty()) {
                assert_eq!(hr, E_INVALIDARG, "Create with NULL pointers");
                return;
            }
            if hr != 0 {
                assert_eq!(hr, E_INVALIDARG, "Create failure code");
                assert!(h.is_null(), "handle written on failure");
                return;
            }
            assert!(!h.is_null() && h as usize != usize::MAX, "invalid handle value");
            let region = RegionInfo::of(h).expect("new handle has a session");
            // Whichever ALLOCATED_BUFFER won (the last one) must be the region.
            let allocated = buffers.into_iter().find(|b| b.as_ptr() as usize + 1 == region.base);
            let (rbs, sbs) = (region.rbs, region.sbs);
            assert!((256..=65536).contains(&rbs) && (16..=65536).contains(&sbs));
            assert!(region.len >= rbs + sbs + 144);
            if props.iter().take(8).any(|p| p.ty as i32 % 8 == 3) {
                assert!(allocated.is_some(), "ALLOCATED_BUFFER not used as the region");
            }
            if *client {
                websocket_fuzz::seed_mask_keys(h, 9);
            }
            w.slots.push(Some(Live {
                h,
                client: *client,
                phase: Phase::Created,
                aborted: false,
                failed: false,
                close_queued: false,
                close_frame: None,
                close_received: false,
                region,
                _allocated: allocated,
                headers: None,
                key: None,
                sends: HashMap::new(),
                recv_bufs: HashMap::new(),
                last_token: 0,
                read: None,
                outstanding: Vec::new(),
                outbox: Default::default(),
            }));
        }
        Call::BeginClient { h, subprotocols, null_out } => {
            let (raw, i) = w.resolve(*h);
            let subs: Vec<std::ffi::CString> = subprotocols
                .iter()
                .take(4)
                .map(|s| std::ffi::CString::new(s.replace('\0', "")).unwrap())
                .collect();
            let mut ptrs: Vec<PCSTR> = subs.iter().map(|s| s.as_ptr()).collect();
            let tokens_ok = subs.iter().all(|s| {
                let b = s.as_bytes();
                !b.is_empty()
                    && b.iter().all(|c| (0x21..=0x7E).contains(c) && !b"()<>@,;:\\\"/[]?={}".contains(c))
            });
            let mut out = ptr::null_mut();
            let mut n = 0u32;
            let hr = unsafe {
                WebSocketBeginClientHandshake(
                    raw,
                    if ptrs.is_empty() { ptr::null_mut() } else { ptrs.as_mut_ptr() },
                    ptrs.len() as u32,
                    ptr::null_mut(),
                    0,
                    ptr::null(),
                    0,
                    if *null_out { ptr::null_mut() } else { &mut out },
                    &mut n,
                )
            };
            let Some(l) = w.live(i) else {
                assert_eq!(hr, E_INVALIDARG, "BeginClientHandshake on a dead handle");
                return;
            };
            if *null_out || !tokens_ok || !l.client {
                assert_eq!(hr, E_INVALIDARG);
                return;
            }
            if l.phase != Phase::Created {
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "BeginClientHandshake twice");
                return;
            }
            assert_eq!(hr, 0, "BeginClientHandshake");
            let list = read_headers(out, n);
            l.key = list.iter().find(|(k, _)| k == "Sec-WebSocket-Key").map(|(_, v)| v.clone());
            l.headers = Some((out, n, list));
            l.phase = Phase::Handshaking;
        }
        Call::EndClient { h, correct, junk } => {
            let (raw, i) = w.resolve(*h);
            let accept = w.live(i).and_then(|l| l.key.clone()).map(|k| expected_accept(k.as_bytes()));
            let accept = if *correct {
                accept.unwrap_or_default()
            } else {
                String::from_utf8_lossy(junk).into_owned()
            };
            let resp = [
                header(b"Connection", b"Upgrade"),
                header(b"Upgrade", b"websocket"),
                header(b"Sec-WebSocket-Accept", accept.as_bytes()),
            ];
            let hr = unsafe {
                WebSocketEndClientHandshake(
                    raw,
                    resp.as_ptr(),
                    3,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
            let Some(l) = w.live(i) else {
                assert_eq!(hr, E_INVALIDARG, "EndClientHandshake on a dead handle");
                return;
            };
            if !l.client {
                assert_eq!(hr, E_INVALIDARG);
            } else if l.phase != Phase::Handshaking {
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "EndClientHandshake in the wrong state");
            } else if l.key.as_deref().map(|k| expected_accept(k.as_bytes())) == Some(accept) {
                assert_eq!(hr, 0, "EndClientHandshake with the right accept");
                l.phase = Phase::Open;
            } else {
                assert_eq!(hr, E_INVALID_PROTOCOL_FORMAT, "EndClientHandshake with a wrong accept");
            }
        }
        Call::BeginServer { h, valid, version, null_out } => {
            let (raw, i) = w.resolve(*h);
            let v = if *version % 4 == 0 { "8".to_string() } else { "13".to_string() };
            let req = [
                header(b"Connection", b"Upgrade"),
                header(b"Upgrade", if *valid { b"websocket" } else { b"h2c" }),
                header(b"Sec-WebSocket-Version", v.as_bytes()),
                header(b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            ];
            let mut out = ptr::null_mut();
            let mut n = 0u32;
            let hr = unsafe {
                WebSocketBeginServerHandshake(
                    raw,
                    ptr::null(),
                    ptr::null_mut(),
                    0,
                    req.as_ptr(),
                    4,
                    if *null_out { ptr::null_mut() } else { &mut out },
                    &mut n,
                )
            };
            let Some(l) = w.live(i) else {
                assert_eq!(hr, E_INVALIDARG, "BeginServerHandshake on a dead handle");
                return;
            };
            if *null_out || l.client {
                assert_eq!(hr, E_INVALIDARG);
            } else if l.phase != Phase::Created {
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "BeginServerHandshake twice");
            } else if !*valid {
                assert_eq!(hr, E_INVALID_PROTOCOL_FORMAT);
            } else if *version % 4 == 0 {
                assert_eq!(hr, E_PROTOCOL_VERSION_NOT_SUPPORTED);
            } else {
                assert_eq!(hr, 0, "BeginServerHandshake");
                let list = read_headers(out, n);
                assert_eq!(list[2].1, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
                l.headers = Some((out, n, list));
                l.phase = Phase::Handshaking;
            }
        }
        Call::EndServer { h } => {
            let (raw, i) = w.resolve(*h);
            let hr = unsafe { WebSocketEndServerHandshake(raw) };
            let Some(l) = w.live(i) else {
                assert_eq!(hr, E_INVALIDARG, "EndServerHandshake on a dead handle");
                return;
            };
            if l.client {
                assert_eq!(hr, E_INVALIDARG);
            } else if l.phase == Phase::Created {
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION);
            } else {
                assert_eq!(hr, 0);
                l.phase = Phase::Open;
            }
        }
        Call::Send { h, ty, raw_ty, payload, status } => {
            let (raw, i) = w.resolve(*h);
            let id = ctx(w);
            let bt = raw_ty.unwrap_or(0x8000_0000 + u32::from(*ty % 7));
            let (mut storage, len, null_buffer): (Box<[u8]>, u32, bool) = match payload {
                Payload::Null => (Box::new([]), 0, true),
                Payload::NullWithLength(n) => (Box::new([]), u32::from(*n).max(1), false),
                Payload::EmptyNonNull => (vec![0u8; 1].into_boxed_slice(), 0, false),
                Payload::Bytes(b) => (b.clone().into_boxed_slice(), b.len() as u32, false),
                Payload::Sized(n, fill) => {
                    (vec![*fill; *n as usize].into_boxed_slice(), u32::from(*n), false)
                }
            };
            let p = if matches!(payload, Payload::NullWithLength(_)) {
                ptr::null_mut()
            } else {
                storage.as_mut_ptr()
            };
            let mut b = if bt == CLOSE {
                WEB_SOCKET_BUFFER::close(p, len, *status)
            } else {
                WEB_SOCKET_BUFFER::data(p, len)
            };
            let hr = unsafe {
                WebSocketSend(raw, bt, if null_buffer { ptr::null_mut() } else { &mut b }, id as PVOID)
            };
            let Some(l) = w.live(i) else {
                assert_eq!(hr, E_INVALIDARG, "Send on a dead handle");
                return;
            };
            // Argument checks made before the handle is looked at.
            let early_bad = !(0x8000_0000..=0x8000_0006).contains(&bt)
                || matches!(payload, Payload::NullWithLength(_))
                || (bt == CLOSE && !null_buffer && *status == 1005 && len > 0);
            if early_bad {
                assert_eq!(hr, E_INVALIDARG, "Send with bad arguments");
                return;
            }
            if !l.client && l.phase == Phase::Handshaking {
                l.phase = Phase::Open; // the first Send ends the server handshake (§5)
            }
            if l.phase != Phase::Open || l.aborted || l.failed {
                assert_eq!(
                    hr, E_INVALID_PROTOCOL_OPERATION,
                    "Send on a handle that is not open, or aborted/failed"
                );
                return;
            }
            let late_bad = (bt == CLOSE && !null_buffer && len > 123)
                || ((bt == PING_PONG || bt == UNSOLICITED_PONG) && len > 125);
            if late_bad {
                assert_eq!(hr, E_INVALIDARG, "Send with an over-long control payload");
                return;
            }
            if l.close_queued && !(bt == PING_PONG || bt == UNSOLICITED_PONG) {
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "data/close Send after the close was queued");
                return;
            }
            if hr == 0 {
                if bt == CLOSE {
                    l.close_queued = true;
                }
                l.sends.insert(id, storage);
            } else {
                // Mixing text and binary inside a fragmented message, or a broken stream.
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "Send failure code");
            }
        }
        Call::Receive { h, buffer, null_ptr } => {
            let (raw, i) = w.resolve(*h);
            let id = ctx(w);
            let mut storage: Box<[u8]> =
                vec![0u8; buffer.map_or(0, |n| n as usize % 5000)].into_boxed_slice();
            let len = storage.len() as u32;
            let mut b =
                WEB_SOCKET_BUFFER::data(if *null_ptr { ptr::null_mut() } else { storage.as_mut_ptr() }, len);
            let pb = if buffer.is_some() { &mut b as *mut WEB_SOCKET_BUFFER } else { ptr::null_mut() };
            let hr = unsafe { WebSocketReceive(raw, pb, id as PVOID) };
            let Some(l) = w.live(i) else {
                assert_eq!(hr, E_INVALIDARG, "Receive on a dead handle");
                return;
            };
            if buffer.is_some() && (len == 0 || *null_ptr) {
                assert_eq!(hr, E_INVALIDARG, "Receive with a bad buffer");
                return;
            }
            if !l.client && l.phase == Phase::Handshaking {
                l.phase = Phase::Open;
            }
            if l.phase != Phase::Open || l.aborted || l.failed || l.close_received {
                assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "Receive on a handle that cannot receive");
                return;
            }
            assert_eq!(hr, 0, "Receive");
            if buffer.is_some() {
                l.recv_bufs.insert(id, storage);
            }
        }
        Call::GetAction { h, queue, cap, null_mask } => {
            let (raw, i) = w.resolve(*h);
            let queue = match *queue % 5 {
                0 => 1,
                1 => 2,
                2 => 3,
                3 => *queue as i32,
                _ => 0,
            };
            let cap = u32::from(*cap % 4);
            let a = if *null_mask & 7 == 0 && *null_mask & 0xF8 != 0 {
                // Some required pointer NULL.
                let mut bufs = [WEB_SOCKET_BUFFER::data(ptr::null_mut(), 0); 4];
                let mut count = cap;
                let mut action = 0;
                let mut ty = 0;
                let mut actx = ptr::null_mut();
                let hr = unsafe {
                    WebSocketGetAction(
                        raw,
                        queue,
                        if null_mask & 16 != 0 { ptr::null_mut() } else { bufs.as_mut_ptr() },
                        if null_mask & 32 != 0 { ptr::null_mut() } else { &mut count },
                        if null_mask & 64 != 0 { ptr::null_mut() } else { &mut action },
                        if null_mask & 128 != 0 { ptr::null_mut() } else { &mut ty },
                        ptr::null_mut(),
                        if null_mask & 8 != 0 { ptr::null_mut() } else { &mut actx },
                    )
                };
                let _ = (action, ty, actx);
                assert_eq!(hr, E_INVALIDARG, "GetAction with a NULL required pointer");
                return;
            } else {
                get_action(raw, queue, cap)
            };
            let Some(l) = w.live(i) else {
                assert_eq!(a.hr, E_INVALIDARG, "GetAction on a dead handle");
                return;
            };
            if !(1..=3).contains(&queue) || cap == 0 {
                assert_eq!(a.hr, E_INVALIDARG, "GetAction with queue {queue} capacity {cap}");
                return;
            }
            if !l.client && l.phase == Phase::Handshaking {
                l.phase = Phase::Open;
            }
            if l.phase != Phase::Open {
                assert_eq!(a.hr, E_INVALID_PROTOCOL_OPERATION, "GetAction before the handshake");
                return;
            }
            if a.hr != 0 {
                assert!(!l.aborted && !l.failed, "GetAction failed after abort/failure: {:#x}", a.hr);
                assert!(
                    a.hr == E_INVALID_PROTOCOL_FORMAT || a.hr == E_INVALID_PROTOCOL_OPERATION,
                    "GetAction: {:#x}",
                    a.hr
                );
                assert_eq!((a.action, a.count, a.token), (NO_ACTION, 0, 0));
                l.failed = true;
                return;
            }
            assert!(a.count <= cap, "count > capacity");
            assert!(a.untouched_tail, "wrote past the count");
            if l.aborted || l.failed {
                assert!(
                    a.action != SEND_TO_NETWORK && a.action != RECEIVE_FROM_NETWORK,
                    "network action after abort/failure"
                );
            }
            if a.action == NO_ACTION {
                assert_eq!((a.count, a.token), (0, 0));
                return;
            }
            assert_ne!(a.token, 0, "NULL token for an action");
            for k in 0..a.buffers.len() {
                let (p, n) = a.data(k);
                if p.is_null() {
                    assert_eq!(n, 0);
                    continue;
                }
                let ok = l.region.in_native(p, n)
                    || l.sends.values().any(|s| in_slice(s, p, n))
                    || l.recv_bufs.values().any(|s| in_slice(s, p, n));
                assert!(ok, "buffer {p:?}+{n} outside the region and the caller's buffers");
                let _ = a.bytes(k); // readable
            }
            l.last_token = a.token;
            l.outstanding.push(a.token);
            match a.action {
                RECEIVE_FROM_NETWORK => {
                    let (p, n) = a.data(0);
                    assert!(l.region.in_r(p, n) && n > 0);
                    l.read = Some((a.token, p, n));
                }
                INDICATE_SEND_COMPLETE => {
                    assert!(l.sends.remove(&a.app).is_some(), "INDICATE_SEND_COMPLETE for an unknown send");
                }
                INDICATE_RECEIVE_COMPLETE => {
                    l.recv_bufs.remove(&a.app);
                    if a.ty == CLOSE && a.status() != 1006 {
                        l.close_received = true;
                    }
                }
                SEND_TO_NETWORK => {
                    if a.ty == CLOSE {
                        l.close_frame = Some(a.token);
                    }
                    let bytes = a.all_bytes();
                    l.outbox.extend(bytes);
                    l.outbox.truncate(1 << 20);
                }
                other => panic!("unknown action {other}"),
            }
        }
        Call::Complete { h, token, bytes } => {
            let (raw, i) = w.resolve(*h);
            let t = match token {
                Tok::Last(k) => w
                    .slots
                    .iter()
                    .flatten()
                    .nth(*k as usize % w.slots.len().max(1))
                    .map_or(0, |l| l.last_token),
                Tok::Zero => 0,
                Tok::Raw(v) => *v as usize,
            };
            if let Some(l) = w.live(i) {
                // A close frame withdrawn before anything of it was written is as if never
                // queued: a close may be sent again.
                if l.close_frame == Some(t) && l.outstanding.contains(&t) {
                    if *bytes == 0 && !l.aborted && !l.failed {
                        l.close_queued = false;
                    }
                    l.close_frame = None;
                }
                l.outstanding.retain(|x| *x != t);
                if l.read.map_or(false, |r| r.0 == t) {
                    l.read = None;
                }
            }
            unsafe { WebSocketCompleteAction(raw, t as PVOID, *bytes) };
        }
        Call::Network { h, data, report } => {
            let n = w.slots.len();
            if n == 0 {
                return;
            }
            let Some(l) = w.slots[*h as usize % n].as_mut() else { return };
            let Some((token, p, len)) = l.read.take() else { return };
            let k = data.len().min(len as usize);
            // SAFETY: the outstanding RECEIVE_FROM_NETWORK buffer is writable for `len` bytes.
            unsafe { ptr::copy_nonoverlapping(data.as_ptr(), p, k) };
            l.outstanding.retain(|x| *x != token);
            unsafe { WebSocketCompleteAction(l.h, token as PVOID, report.unwrap_or(k as u32)) };
        }
        Call::Forward { from, to, max } => {
            let n = w.slots.len();
            if n == 0 {
                return;
            }
            let (from, to) = (*from as usize % n, *to as usize % n);
            let bytes: Vec<u8> = match w.slots[from].as_mut() {
                Some(l) => {
                    let k = l.outbox.len().min(*max as usize + 1);
                    l.outbox.iter().take(k).copied().collect()
                }
                None => return,
            };
            let Some(dst) = w.slots[to].as_mut() else { return };
            let Some((token, p, len)) = dst.read.take() else { return };
            let k = bytes.len().min(len as usize);
            // SAFETY: the outstanding RECEIVE_FROM_NETWORK buffer is writable for `len` bytes.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p, k) };
            dst.outstanding.retain(|x| *x != token);
            let h = dst.h;
            if let Some(src) = w.slots[from].as_mut() {
                src.outbox.drain(..k);
            }
            unsafe { WebSocketCompleteAction(h, token as PVOID, k as u32) };
        }
        Call::Abort { h } => {
            let (raw, i) = w.resolve(*h);
            unsafe { WebSocketAbortHandle(raw) };
            if let Some(l) = w.live(i) {
                // A server between BeginServerHandshake and EndServerHandshake is aborted too.
                if l.phase == Phase::Open || (!l.client && l.phase == Phase::Handshaking) {
                    l.phase = Phase::Open;
                    l.aborted = true;
                }
            }
        }
        Call::Delete { h } => {
            let (raw, i) = w.resolve(*h);
            unsafe { WebSocketDeleteHandle(raw) };
            if let Some(i) = i {
                let l = w.slots[i].take().unwrap();
                check_after_delete(l.h);
                w.dead.push(l.h);
                drop(l); // frees the ALLOCATED_BUFFER and every payload
            }
        }
        Call::Global { ty, size, null_value, null_size } => {
            let ty = *ty as i32 % 8;
            let mut value = [0xEEu8; 16];
            let mut sz = u32::from(*size % 10);
            let hr = unsafe {
                WebSocketGetGlobalProperty(
                    ty,
                    if *null_value { ptr::null_mut() } else { value.as_mut_ptr() as PVOID },
                    if *null_size { ptr::null_mut() } else { &mut sz },
                )
            };
            let want_value = match ty {
                5 => 30_000u32,
                6 => 13,
                _ => {
                    assert_eq!(hr, E_INVALIDARG, "GetGlobalProperty({ty})");
                    return;
                }
            };
            if *null_size {
                assert_eq!(hr, E_INVALIDARG);
            } else if u32::from(*size % 10) < 4 {
                assert_eq!((hr, sz), (E_INSUFFICIENT_BUFFER, 4), "GetGlobalProperty with a small buffer");
            } else if *null_value {
                assert_eq!(hr, E_INVALIDARG);
            } else {
                assert_eq!((hr, sz), (0, 4));
                assert_eq!(u32::from_ne_bytes(value[..4].try_into().unwrap()), want_value);
                assert!(value[4..].iter().all(|b| *b == 0xEE), "wrote past 4 bytes");
            }
        }
        Call::RecheckHeaders { h } => {
            let n = w.slots.len();
            if n > 0 {
                if let Some(l) = &w.slots[*h as usize % n] {
                    check_headers(l);
                }
            }
        }
    }
}

/// After DeleteHandle every export fails (HRESULT ones with E_INVALIDARG) and nothing crashes.
fn check_after_delete(h: WEB_SOCKET_HANDLE) {
    unsafe {
        let mut out = ptr::null_mut();
        let mut n = 0;
        assert_eq!(WebSocketEndServerHandshake(h), E_INVALIDARG);
        assert_eq!(WebSocketSend(h, BINARY_MESSAGE, ptr::null_mut(), ptr::null_mut()), E_INVALIDARG);
        assert_eq!(WebSocketReceive(h, ptr::null_mut(), ptr::null_mut()), E_INVALIDARG);
        assert_eq!(get_action(h, ALL, 2).hr, E_INVALIDARG);
        assert_eq!(
            WebSocketBeginClientHandshake(
                h,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
                0,
                ptr::null(),
                0,
                &mut out,
                &mut n
            ),
            E_INVALIDARG
        );
        WebSocketCompleteAction(h, 1 as PVOID, 1);
        WebSocketAbortHandle(h);
        WebSocketDeleteHandle(h);
    }
}

fuzz_target!(|calls: Vec<Call>| {
    let mut w = World { slots: Vec::new(), dead: Vec::new(), next_ctx: 0x10_0000 };
    for c in calls.iter().take(256) {
        call(&mut w, c);
    }
    for l in w.slots.drain(..).flatten() {
        unsafe { WebSocketDeleteHandle(l.h) };
        check_after_delete(l.h);
    }
});
