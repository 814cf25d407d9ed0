//! .NET's use of websocket.dll (spec §12), replayed step by step: one test per hard requirement
//! of spec §12.9. The driver below checks every returned buffer the way .NET does (§9.3).

mod common;

use std::collections::VecDeque;
use std::ptr;

use common::*;
use websocket::ffi::*;

const RBS: u32 = 16_384;
const SBS: u32 = 16;
const NATIVE: usize = (RBS + SBS + 144) as usize;

/// A server handle set up as HttpListener does: one byte array holding the native region at an
/// odd offset, .NET's own cache, and the property values (also unaligned).
struct DotnetServer {
    h: Handle,
    /// Keeps the byte array alive (the handle uses its native region until deleted).
    _memory: Vec<u8>,
    base: usize,
    /// The payload range of the current WebSocketSend, as .NET tracks it.
    send_payload: Option<(usize, usize)>,
}

impl DotnetServer {
    fn new() -> DotnetServer {
        let mut memory = vec![0u8; 1 + NATIVE + RBS as usize + 24];
        let base = memory.as_mut_ptr() as usize + 1;
        let values = 1 + NATIVE + RBS as usize + 1;
        memory[values..values + 4].copy_from_slice(&RBS.to_ne_bytes());
        memory[values + 4..values + 8].copy_from_slice(&SBS.to_ne_bytes());
        let p = memory.as_mut_ptr();
        // The buffer's address goes into the property as a pointer (what .NET marshals).
        unsafe { (p.wrapping_add(values + 8) as *mut *mut u8).write_unaligned(p.wrapping_add(1)) };
        let props = [
            WEB_SOCKET_PROPERTY { Type: 0, pvValue: p.wrapping_add(values).cast(), ulValueSize: 4 },
            WEB_SOCKET_PROPERTY { Type: 1, pvValue: p.wrapping_add(values + 4).cast(), ulValueSize: 4 },
            WEB_SOCKET_PROPERTY {
                Type: 3,
                pvValue: p.wrapping_add(values + 8).cast(),
                ulValueSize: NATIVE as u32,
            },
        ];
        let h = open_server(&props);
        DotnetServer { h, _memory: memory, base, send_payload: None }
    }

    /// .NET's buffer validation after a successful GetAction (spec §9.3).
    fn validate(&self, a: &Act, capacity: usize) {
        assert!(a.buffers.len() <= capacity, "more buffers than offered");
        let max = RBS.max(SBS) as usize;
        for (i, b) in a.buffers.iter().enumerate() {
            let (p, n) = b.bytes();
            if p.is_null() {
                continue;
            }
            let (p, n) = (p as usize, n as usize);
            let native = p >= self.base && p + n <= self.base + NATIVE;
            let payload = self.send_payload.map_or(false, |(s, l)| p >= s && p + n <= s + l);
            assert!(native || payload, "buffer {i} outside the native region and the send payload");
            if a.action == SEND_TO_NETWORK {
                if i == 0 {
                    assert!(native, "buffer 0 of SEND_TO_NETWORK must be native");
                }
            } else {
                assert!(native, "only SEND_TO_NETWORK buffer 1 may be the payload");
            }
            assert!(n <= max || payload, "buffer longer than max(RBS, SBS)");
        }
    }

    /// One ReceiveAsync (spec §12.4). Returns the result and what the handle wrote (pongs).
    fn receive(&mut self, input: &mut VecDeque<u8>, wire: &mut Vec<u8>) -> Event {
        let mut result: Option<Event> = None;
        let mut message = Vec::new();
        assert_eq!(self.h.receive(0), 0);
        loop {
            let a = self.h.get(RECEIVE, 1);
            assert!(a.hr >= 0);
            self.validate(&a, 1);
            match a.action {
                RECEIVE_FROM_NETWORK => {
                    let (p, cap) = a.buffers[0].bytes();
                    let n = input.len().min(cap as usize);
                    assert!(n > 0, "test input ran dry");
                    for i in 0..n {
                        unsafe { *p.add(i) = input.pop_front().unwrap() };
                    }
                    self.h.complete(&a, n as u32);
                }
                SEND_TO_NETWORK => {
                    assert!(a.ty == PING_PONG || a.ty == UNSOLICITED_PONG);
                    let b = a.all_bytes();
                    wire.extend_from_slice(&b);
                    self.h.complete(&a, b.len() as u32);
                }
                INDICATE_RECEIVE_COMPLETE => {
                    let e = match a.ty {
                        PING_PONG => Event::Pong(a.bytes(0)),
                        CLOSE => {
                            let r = if a.reason_ptr().is_null() { None } else { Some(a.bytes(0)) };
                            Event::Close(a.status(), r)
                        }
                        UTF8_MESSAGE | BINARY_MESSAGE => {
                            message.extend(a.bytes(0));
                            Event::Message(a.ty, std::mem::take(&mut message))
                        }
                        UTF8_FRAGMENT | BINARY_FRAGMENT => Event::Message(a.ty, a.bytes(0)),
                        other => panic!(".NET's type switch throws on {other:#x}"),
                    };
                    // .NET reports the bytes it copied out (requirement 11: ignored).
                    let copied = a.bytes(0).len() as u32;
                    self.h.complete(&a, copied.wrapping_mul(3).wrapping_add(17));
                    result = Some(e);
                }
                NO_ACTION => match result.take() {
                    Some(Event::Pong(_)) => {
                        assert_eq!(self.h.receive(0), 0);
                    }
                    Some(e) => return e,
                    None => panic!("NO_ACTION before the receive finished (requirement 9)"),
                },
                other => panic!("unexpected action {other}"),
            }
        }
    }

    /// One SendAsync (spec §12.5) with an explicit buffer (or NULL).
    fn send(&mut self, ty: u32, buffer: Option<WEB_SOCKET_BUFFER>) -> Vec<u8> {
        let mut copy = buffer;
        let hr = unsafe {
            WebSocketSend(
                self.h.0,
                ty,
                copy.as_mut().map_or(ptr::null_mut(), |b| b as *mut _),
                ptr::null_mut(),
            )
        };
        assert_eq!(hr, 0);
        self.send_payload = buffer.map(|b| {
            let (p, n) = b.bytes();
            (p as usize, n as usize)
        });
        let mut wire = Vec::new();
        let mut done = false;
        for _ in 0..100_000 {
            let a = self.h.get(SEND, 2);
            assert!(a.hr >= 0);
            self.validate(&a, 2);
            match a.action {
                SEND_TO_NETWORK => {
                    let b = a.all_bytes();
                    wire.extend_from_slice(&b);
                    self.h.complete(&a, b.len() as u32);
                }
                INDICATE_SEND_COMPLETE => {
                    self.h.complete(&a, 0);
                    done = true;
                }
                NO_ACTION if done => {
                    self.send_payload = None;
                    return wire;
                }
                NO_ACTION => {}
                other => panic!("unexpected action {other}"),
            }
        }
        panic!("send did not finish");
    }

    /// Abort and drain (spec §12.8): one-slot arrays on both queues, no validation.
    fn abort_and_drain(&self) -> (usize, usize) {
        self.h.abort();
        let mut counts = (0, 0);
        for (queue, count) in [(SEND, &mut counts.0), (RECEIVE, &mut counts.1)] {
            for _ in 0..1000 {
                let a = self.h.get(queue, 1);
                assert_eq!(a.hr, 0, "GetAction fails after abort");
                if a.action == NO_ACTION {
                    break;
                }
                assert!(a.action == INDICATE_SEND_COMPLETE || a.action == INDICATE_RECEIVE_COMPLETE);
                *count += 1;
                self.h.complete(&a, 0);
            }
            assert_eq!(self.h.get(queue, 1).action, NO_ACTION, "the drain terminates");
        }
        counts
    }
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0xA1, 0xB2, 0xC3, 0xD4];
    let mut v = vec![first];
    match payload.len() {
        n if n < 126 => v.push(0x80 | n as u8),
        n if n < 65_536 => {
            v.push(0x80 | 126);
            v.extend((n as u16).to_be_bytes());
        }
        n => {
            v.push(0x80 | 127);
            v.extend((n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

#[test]
fn r01_version_probe_without_host() {
    let c = Handle::client(&[]);
    let initial = header_array(&[("Connection", "Upgrade"), ("Upgrade", "websocket")]);
    let mut hdrs = ptr::null_mut();
    let mut n = 0;
    let hr = unsafe {
        WebSocketBeginClientHandshake(
            c.0,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            initial.as_ptr(),
            2,
            &mut hdrs,
            &mut n,
        )
    };
    assert_eq!(hr, 0);
    let list = header_list(hdrs, n);
    let version = list.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-version")).unwrap();
    assert_eq!(version.1, "13");
    let key = list.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key")).unwrap();
    assert_eq!(key.1.len(), 24);
    assert!(key.1.ends_with("=="));
    // The .NET stride: four pointer sizes per entry, lengths at +ptr and +3*ptr.
    let bytes = hdrs as *const u8;
    let w = std::mem::size_of::<usize>();
    for (i, (name, value)) in list.iter().enumerate() {
        let entry = unsafe { bytes.add(i * 4 * w) };
        let name_len = unsafe { (entry.add(w) as *const u32).read_unaligned() };
        let value_len = unsafe { (entry.add(3 * w) as *const u32).read_unaligned() };
        assert_eq!((name_len as usize, value_len as usize), (name.len(), value.len()));
    }
}

#[test]
fn r02_delete_after_begin_without_end() {
    for _ in 0..100 {
        let c = Handle::client(&[]);
        let mut hdrs = ptr::null_mut();
        let mut n = 0;
        let hr = unsafe {
            WebSocketBeginClientHandshake(
                c.0,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
                0,
                ptr::null(),
                0,
                &mut hdrs,
                &mut n,
            )
        };
        assert_eq!(hr, 0);
        drop(c);
    }
}

#[test]
fn r03_r04_r05_allocated_buffer_sbs16_fake_request() {
    let mut s = DotnetServer::new();
    let mut wire = Vec::new();
    let mut input: VecDeque<u8> = masked(0x82, &[1, 2, 3]).into_iter().collect();
    assert_eq!(s.receive(&mut input, &mut wire), Event::Message(BINARY_MESSAGE, vec![1, 2, 3]));
    // SBS = 16 on a client too.
    let sbs = 16u32;
    let (_c, _s) = open_pair(&[prop(1, &sbs)], &[prop(1, &sbs)]);
    // One byte short of RBS + SBS + 144 is refused.
    let mut memory = vec![0u8; 8192];
    let base = memory.as_mut_ptr();
    let props = [WEB_SOCKET_PROPERTY {
        Type: 3,
        pvValue: (&base as *const *mut u8) as PVOID,
        ulValueSize: 4096 + 16 + 143,
    }];
    let mut h = ptr::null_mut();
    assert_eq!(unsafe { WebSocketCreateServerHandle(props.as_ptr(), 1, &mut h) }, E_INVALIDARG);
    assert!(h.is_null(), "the handle is written only on success");
}

#[test]
fn r06_framework_client_end_handshake() {
    let c = Handle::client(&[]);
    let mut hdrs = ptr::null_mut();
    let mut n = 0;
    let hr = unsafe {
        WebSocketBeginClientHandshake(
            c.0,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            ptr::null(),
            0,
            &mut hdrs,
            &mut n,
        )
    };
    assert_eq!(hr, 0);
    let key = header_list(hdrs, n).into_iter().find(|(k, _)| k == "Sec-WebSocket-Key").unwrap().1;
    let accept = websocket::handshake::accept_for_key(key.as_bytes());
    let resp = header_array(&[
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Accept", &accept),
    ]);
    let hr = unsafe {
        WebSocketEndClientHandshake(c.0, resp.as_ptr(), 3, ptr::null_mut(), ptr::null_mut(), ptr::null_mut())
    };
    assert_eq!(hr, 0);
}

#[test]
fn r07_every_buffer_is_native_or_the_send_payload() {
    let mut s = DotnetServer::new();
    let mut wire = Vec::new();
    for len in [0usize, 1, 125, 126, 16_383, 16_384, 16_385, 65_536, 200_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut input: VecDeque<u8> = masked(0x82, &payload).into_iter().collect();
        let mut got = Vec::new();
        loop {
            match s.receive(&mut input, &mut wire) {
                Event::Message(BINARY_FRAGMENT, b) => got.extend(b),
                Event::Message(BINARY_MESSAGE, b) => {
                    got.extend(b);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, payload);
        let mut p = payload.clone();
        let out = s.send(BINARY_MESSAGE, Some(WEB_SOCKET_BUFFER::data(p.as_mut_ptr(), len as u32)));
        assert_eq!(&out[out.len() - len..], &payload[..]);
    }
    // Close with a reason: the whole frame is native.
    let mut reason = b"done".to_vec();
    let out = s.send(CLOSE, Some(WEB_SOCKET_BUFFER::close(reason.as_mut_ptr(), 4, 1000)));
    assert_eq!(out, vec![0x88, 0x06, 0x03, 0xe8, b'd', b'o', b'n', b'e']);
}

#[test]
fn r08_r09_one_slot_receive_queue_and_pong_replies() {
    let mut s = DotnetServer::new();
    let mut wire = Vec::new();
    let mut bytes = masked(0x89, b"keep");
    bytes.extend(masked(0x89, b"alive"));
    bytes.extend(masked(0x81, b"text"));
    let mut input: VecDeque<u8> = bytes.into_iter().collect();
    assert_eq!(s.receive(&mut input, &mut wire), Event::Message(UTF8_MESSAGE, b"text".to_vec()));
    assert_eq!(wire, [&[0x8a, 0x04][..], b"keep", &[0x8a, 0x05], b"alive"].concat());
}

#[test]
fn r09_busy_channel_defers_the_pong_and_the_latest_ping_wins() {
    let s = open_server(&[]);
    // The send side holds the outgoing channel.
    let payload = [1u8; 10];
    assert_eq!(s.send(BINARY_MESSAGE, &payload, 0), 0);
    let write = s.get(SEND, 2);
    assert_eq!(write.action, SEND_TO_NETWORK);
    let mut bytes = masked(0x89, b"a");
    bytes.extend(masked(0x89, b"b"));
    bytes.extend(masked(0x82, b"data"));
    assert_eq!(s.receive(0), 0);
    let read = s.get(RECEIVE, 1);
    assert_eq!(read.action, RECEIVE_FROM_NETWORK);
    let (p, _) = read.buffers[0].bytes();
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    s.complete(&read, bytes.len() as u32);
    // The receive is not blocked by the pong that cannot go out yet.
    let ind = s.get(RECEIVE, 1);
    assert_eq!(
        (ind.action, ind.ty, ind.bytes(0)),
        (INDICATE_RECEIVE_COMPLETE, BINARY_MESSAGE, b"data".to_vec())
    );
    s.complete(&ind, 0);
    assert_eq!(s.get(RECEIVE, 1).action, NO_ACTION);
    s.complete(&write, 12);
    let pong = s.get(RECEIVE, 1);
    assert_eq!((pong.action, pong.all_bytes()), (SEND_TO_NETWORK, vec![0x8a, 0x01, b'b']));
    // While the pong is out, the send side waits for the channel.
    assert_eq!(s.get(SEND, 2).action, INDICATE_SEND_COMPLETE);
    assert_eq!(s.send(BINARY_MESSAGE, &payload, 0), 0);
    s.complete(&pong, 3);
    assert_eq!(s.get(RECEIVE, 1).action, NO_ACTION);
}

#[test]
fn r10_result_types() {
    let mut s = DotnetServer::new();
    let mut wire = Vec::new();
    let mut bytes = masked(0x8a, b"pong");
    bytes.extend(masked(0x81, "ünï".as_bytes()));
    bytes.extend(masked(0x88, &[0x03, 0xe9]));
    let mut input: VecDeque<u8> = bytes.into_iter().collect();
    // The pong is absorbed by the loop, which queues another receive.
    assert_eq!(s.receive(&mut input, &mut wire), Event::Message(UTF8_MESSAGE, "ünï".as_bytes().to_vec()));
    assert_eq!(s.receive(&mut input, &mut wire), Event::Close(1001, Some(vec![])));
    let mut s = DotnetServer::new();
    let mut input: VecDeque<u8> = masked(0x88, &[]).into_iter().collect();
    assert_eq!(s.receive(&mut input, &mut wire), Event::Close(1005, None));
}

#[test]
fn r11_bytes_transferred_ignored_for_indications() {
    // The receive driver above completes every INDICATE with a bogus count; here the send side.
    let s = open_server(&[]);
    assert_eq!(s.send(UTF8_MESSAGE, b"a", 1), 0);
    let a = s.get(SEND, 2);
    s.complete(&a, 3);
    let ind = s.get(SEND, 2);
    assert_eq!(ind.action, INDICATE_SEND_COMPLETE);
    s.complete(&ind, 0xFFFF_FFFF);
    assert_eq!(s.get(SEND, 2).action, NO_ACTION);
    assert_eq!(s.send(UTF8_MESSAGE, b"b", 2), 0);
    assert_eq!(s.drain_send(SEND, 2).0, vec![0x81, 0x01, b'b']);
}

#[test]
fn r12_null_buffers_and_empty_reason() {
    let mut s = DotnetServer::new();
    assert_eq!(s.send(UNSOLICITED_PONG, None), vec![0x8a, 0x00]);
    let mut empty = [0u8; 1];
    assert_eq!(
        s.send(CLOSE, Some(WEB_SOCKET_BUFFER::close(empty.as_mut_ptr(), 0, 1000))),
        vec![0x88, 0x02, 0x03, 0xe8]
    );
    let mut s = DotnetServer::new();
    assert_eq!(s.send(CLOSE, None), vec![0x88, 0x00]);
}

#[test]
fn r13_r14_abort_drain_and_late_completions() {
    let s = DotnetServer::new();
    // A receive in flight (RECEIVE_FROM_NETWORK outstanding) and a send in flight.
    assert_eq!(s.h.receive(0), 0);
    let read = s.h.get(RECEIVE, 1);
    assert_eq!(read.action, RECEIVE_FROM_NETWORK);
    let payload = vec![9u8; 100];
    assert_eq!(s.h.send(BINARY_MESSAGE, &payload, 0), 0);
    let write = s.h.get(SEND, 2);
    assert_eq!(write.action, SEND_TO_NETWORK);
    assert_eq!(s.h.send(UTF8_MESSAGE, b"queued", 0), 0);
    s.h.abort();
    assert_eq!(s.h.send(UTF8_MESSAGE, b"x", 0), E_INVALID_PROTOCOL_OPERATION);
    assert_eq!(s.h.receive(0), E_INVALID_PROTOCOL_OPERATION);
    // The queued send drains at once; the in-flight ones wait for their CompleteAction.
    let queued = s.h.get(SEND, 1);
    assert_eq!(queued.action, NO_ACTION, "one send-side action is still outstanding");
    s.h.complete(&write, 0);
    s.h.complete(&read, 0);
    let (sends, receives) = s.abort_and_drain();
    assert_eq!((sends, receives), (2, 1));
    // A receive INDICATE after abort has the aborted shape; the handle is deleted with the
    // drain done (DeleteHandle with actions in flight is in engine_pair.rs).
}

#[test]
fn r13_drain_with_nothing_pending() {
    let s = DotnetServer::new();
    assert_eq!(s.abort_and_drain(), (0, 0));
}

#[test]
fn r14_delete_with_actions_in_flight() {
    let s = DotnetServer::new();
    assert_eq!(s.h.receive(0), 0);
    let read = s.h.get(RECEIVE, 1);
    assert_eq!(read.action, RECEIVE_FROM_NETWORK);
    let h = s.h.0;
    drop(s);
    // Completing after delete is ignored, as is everything else on the stale handle.
    unsafe { WebSocketCompleteAction(h, read.token as PVOID, 10) };
    unsafe { WebSocketAbortHandle(h) };
    assert_eq!(unsafe { WebSocketEndServerHandshake(h) }, E_INVALIDARG);
}

#[test]
fn r15_failures_are_negative_winerror_values() {
    let s = DotnetServer::new();
    assert_eq!(s.h.send(0x8000_0010, b"", 0), E_INVALIDARG);
    assert_eq!(E_INVALID_PROTOCOL_FORMAT as u32, 0x8376_0002);
}

#[test]
fn r16_complete_action_races_get_action_on_the_other_queue() {
    use std::sync::Arc;
    let s = Arc::new(open_pair(&[], &[]).1);
    let h = s.0 as usize;
    // Under Miri (data-race checks) a few dozen rounds suffice.
    let rounds = if cfg!(miri) { 40 } else { 2000 };
    let mut threads = Vec::new();
    // A receive loop whose reads fail (complete with 0) from one thread, and sends on another.
    threads.push(std::thread::spawn(move || {
        let s = Handle(h as WEB_SOCKET_HANDLE);
        for _ in 0..rounds {
            assert_eq!(s.receive(0), 0);
            let a = s.get(RECEIVE, 1);
            assert_eq!(a.action, RECEIVE_FROM_NETWORK);
            s.complete(&a, 0);
            let ind = s.get(RECEIVE, 1);
            assert_eq!((ind.action, ind.status()), (INDICATE_RECEIVE_COMPLETE, 1006));
            s.complete(&ind, 0);
        }
        std::mem::forget(s);
    }));
    threads.push(std::thread::spawn(move || {
        let s = Handle(h as WEB_SOCKET_HANDLE);
        for i in 0..rounds as u32 {
            let p = i.to_le_bytes();
            assert_eq!(s.send(BINARY_MESSAGE, &p, 0), 0);
            let (wire, _) = s.drain_send(SEND, 2);
            assert_eq!(&wire[2..], &p);
        }
        std::mem::forget(s);
    }));
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_pong_is_not_starved_by_a_blocked_receive_loop() {
    // The ping arrives while a user frame holds the outgoing channel; the receive loop then
    // blocks in its next read. The send loop hands the pong out at its next frame boundary.
    let s = open_server(&[]);
    let payload = [1u8; 10];
    assert_eq!(s.send(BINARY_MESSAGE, &payload, 0), 0);
    let write = s.get(SEND, 2);
    assert_eq!(write.action, SEND_TO_NETWORK);
    assert_eq!(s.receive(0), 0);
    let read = s.get(RECEIVE, 1);
    let ping = masked(0x89, b"hb");
    let (p, _) = read.buffers[0].bytes();
    unsafe { ptr::copy_nonoverlapping(ping.as_ptr(), p, ping.len()) };
    s.complete(&read, ping.len() as u32);
    let blocked = s.get(RECEIVE, 1);
    assert_eq!(blocked.action, RECEIVE_FROM_NETWORK, "the receive loop goes back to reading");
    s.complete(&write, 12);
    let pong = s.get(SEND, 2);
    assert_eq!((pong.action, pong.ty, pong.app), (SEND_TO_NETWORK, PING_PONG, APP_SENTINEL));
    assert_eq!(pong.all_bytes(), vec![0x8a, 0x02, b'h', b'b']);
    // Nothing else goes out until the pong is completed; then the send finishes.
    assert_eq!(s.get(SEND, 2).action, NO_ACTION);
    s.complete(&pong, 4);
    assert_eq!(s.get(SEND, 2).action, INDICATE_SEND_COMPLETE);
    // The pong went out once: the receive queue has nothing more to send.
    s.complete(&blocked, 0);
    let ind = s.get(RECEIVE, 1);
    assert_eq!((ind.action, ind.status()), (INDICATE_RECEIVE_COMPLETE, 1006));
}

/// WebSocketAbortHandle between BeginServerHandshake and EndServerHandshake is not a no-op (spec
/// §5 allows Abort there, as it allows the calls that end that handshake implicitly): the handle
/// is aborted, new operations fail, GetAction reports nothing to do.
#[test]
fn abort_during_the_server_handshake_aborts() {
    let s = Handle::server(&[]);
    let req = header_array(&[
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
    ]);
    assert_eq!(begin_server_handshake(&s, &req).0, 0);
    s.abort();
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 1), E_INVALID_PROTOCOL_OPERATION);
    assert_eq!(s.receive(2), E_INVALID_PROTOCOL_OPERATION);
    let a = s.get(ALL, 2);
    assert_eq!((a.hr, a.action, a.buffers.len()), (0, NO_ACTION, 0));
    assert_eq!(unsafe { WebSocketEndServerHandshake(s.0) }, 0, "the handshake is over");
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 1), E_INVALID_PROTOCOL_OPERATION);

    // Before BeginServerHandshake it stays a no-op (spec §10.2).
    let s = Handle::server(&[]);
    s.abort();
    assert_eq!(begin_server_handshake(&s, &req).0, 0);
    assert_eq!(unsafe { WebSocketEndServerHandshake(s.0) }, 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 1), 0);
}
