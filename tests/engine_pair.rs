//! A client handle and a server handle connected in memory through the C ABI: messages of every
//! size class in both directions, fragmentation, pings, close handshakes, one-byte reads, buffer
//! sizes at their limits, the caller's ALLOCATED_BUFFER, and a send thread racing a receive
//! thread on one handle.

mod common;

use std::collections::VecDeque;
use std::ptr;
use std::sync::Arc;

use common::*;
use websocket::ffi::*;

struct Pair {
    client: Handle,
    server: Handle,
    to_server: VecDeque<u8>,
    to_client: VecDeque<u8>,
}

impl Pair {
    fn new(client_props: &[WEB_SOCKET_PROPERTY], server_props: &[WEB_SOCKET_PROPERTY]) -> Pair {
        let (client, server) = open_pair(client_props, server_props);
        Pair { client, server, to_server: VecDeque::new(), to_client: VecDeque::new() }
    }

    fn client_sends(&mut self, ty: u32, payload: &[u8], cap: usize) {
        assert_eq!(self.client.send(ty, payload, 0), 0);
        let (wire, done) = self.client.drain_send(SEND, cap);
        assert_eq!(done.len(), 1);
        self.to_server.extend(wire);
    }

    fn server_sends(&mut self, ty: u32, payload: &[u8], cap: usize) {
        assert_eq!(self.server.send(ty, payload, 0), 0);
        let (wire, done) = self.server.drain_send(SEND, cap);
        assert_eq!(done.len(), 1);
        self.to_client.extend(wire);
    }

    fn server_gets(&mut self, chunk: usize) -> Event {
        let mut pongs = Vec::new();
        let e =
            receive_event(&self.server, &mut self.to_server, &mut pongs, chunk).expect("server got nothing");
        self.to_client.extend(pongs);
        e
    }

    fn client_gets(&mut self, chunk: usize) -> Event {
        let mut pongs = Vec::new();
        let e =
            receive_event(&self.client, &mut self.to_client, &mut pongs, chunk).expect("client got nothing");
        self.to_server.extend(pongs);
        e
    }
}

fn text_payload(len: usize) -> Vec<u8> {
    let unit = "aé€𝄞".as_bytes(); // 1 + 2 + 3 + 4 bytes
    let mut v = Vec::with_capacity(len);
    while v.len() + unit.len() <= len {
        v.extend_from_slice(unit);
    }
    v.resize(len, b'z');
    v
}

fn binary_payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const SIZES: [usize; 9] = [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 20, 16 << 20];

#[test]
fn messages_of_every_size_class_both_ways() {
    let mut p = Pair::new(&[], &[]);
    for (i, &len) in SIZES.iter().enumerate() {
        let text = text_payload(len);
        p.client_sends(UTF8_MESSAGE, &text, 2);
        assert_eq!(p.server_gets(usize::MAX), Event::Message(UTF8_MESSAGE, text.clone()), "text {len} c->s");
        p.server_sends(UTF8_MESSAGE, &text, 2);
        assert_eq!(p.client_gets(usize::MAX), Event::Message(UTF8_MESSAGE, text), "text {len} s->c");
        let bin = binary_payload(len, i as u32);
        p.client_sends(BINARY_MESSAGE, &bin, 1);
        assert_eq!(p.server_gets(4096), Event::Message(BINARY_MESSAGE, bin.clone()), "binary {len} c->s");
        p.server_sends(BINARY_MESSAGE, &bin, 1);
        assert_eq!(p.client_gets(4096), Event::Message(BINARY_MESSAGE, bin), "binary {len} s->c");
    }
}

#[test]
fn one_byte_reads() {
    let mut p = Pair::new(&[], &[]);
    for len in [0usize, 1, 2, 125, 126, 300, 70_000] {
        let text = text_payload(len);
        p.client_sends(UTF8_MESSAGE, &text, 2);
        assert_eq!(p.server_gets(1), Event::Message(UTF8_MESSAGE, text.clone()));
        p.server_sends(UTF8_MESSAGE, &text, 2);
        assert_eq!(p.client_gets(1), Event::Message(UTF8_MESSAGE, text));
    }
}

#[test]
fn fragmented_sends_with_pings_between_fragments() {
    let mut p = Pair::new(&[], &[]);
    let whole = text_payload(10_000);
    let pieces: Vec<&[u8]> = whole.chunks(997).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i == pieces.len() - 1;
        p.client_sends(if last { UTF8_MESSAGE } else { UTF8_FRAGMENT }, piece, 2);
        if i % 3 == 0 {
            p.client_sends(PING_PONG, format!("p{i}").as_bytes(), 2);
        }
    }
    // The server assembles the message; every ping is answered with a pong that reaches the
    // client as a PING_PONG indication carrying the ping's payload.
    assert_eq!(p.server_gets(usize::MAX), Event::Message(UTF8_MESSAGE, whole));
    // The outgoing channel was free each time, so every ping got its own pong.
    let pongs: Vec<Event> = (0..4).map(|_| p.client_gets(usize::MAX)).collect();
    let want: Vec<Event> =
        ["p0", "p3", "p6", "p9"].iter().map(|s| Event::Pong(s.as_bytes().to_vec())).collect();
    assert_eq!(pongs, want);
    assert!(p.to_client.is_empty());
}

#[test]
fn close_handshake_from_either_side() {
    for client_first in [true, false] {
        let mut p = Pair::new(&[], &[]);
        let reason = "bye ✓".as_bytes();
        let (first, second) = if client_first { (&p.client, &p.server) } else { (&p.server, &p.client) };
        assert_eq!(first.send_close(1000, reason, 0), 0);
        // After its close, a side may still ping but not send data or a second close.
        assert_eq!(first.send(UTF8_MESSAGE, b"x", 0), E_INVALID_PROTOCOL_OPERATION);
        assert_eq!(first.send_close(1000, b"", 0), E_INVALID_PROTOCOL_OPERATION);
        let (wire, _) = first.drain_send(SEND, 2);
        let _ = second;
        if client_first {
            p.to_server.extend(wire);
            assert_eq!(p.server_gets(usize::MAX), Event::Close(1000, Some(reason.to_vec())));
            // Receiving a close does not stop sending: data, then the answering close.
            p.server_sends(UTF8_MESSAGE, b"late", 2);
            assert_eq!(p.server.send_close(1000, reason, 0), 0);
            let (w, _) = p.server.drain_send(SEND, 2);
            p.to_client.extend(w);
            assert_eq!(p.client_gets(usize::MAX), Event::Message(UTF8_MESSAGE, b"late".to_vec()));
            assert_eq!(p.client_gets(usize::MAX), Event::Close(1000, Some(reason.to_vec())));
            assert_eq!(p.client.receive(0), E_INVALID_PROTOCOL_OPERATION);
        } else {
            p.to_client.extend(wire);
            assert_eq!(p.client_gets(usize::MAX), Event::Close(1000, Some(reason.to_vec())));
            assert_eq!(p.client.send_null(CLOSE, 0), 0);
            let (w, _) = p.client.drain_send(SEND, 2);
            p.to_server.extend(w);
            assert_eq!(p.server_gets(usize::MAX), Event::Close(1005, None));
        }
    }
}

#[test]
fn queued_receives_after_a_close_report_the_same_close() {
    let mut p = Pair::new(&[], &[]);
    assert_eq!(p.client.send_close(4000, b"r", 0), 0);
    let (w, _) = p.client.drain_send(SEND, 2);
    p.to_server.extend(w);
    let s = &p.server;
    assert_eq!(s.receive(1), 0);
    assert_eq!(s.receive(2), 0);
    let read = s.get(RECEIVE, 1);
    let (ptr, _) = read.buffers[0].bytes();
    let bytes: Vec<u8> = p.to_server.drain(..).collect();
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
    s.complete(&read, bytes.len() as u32);
    for ctx in [1usize, 2] {
        let a = s.get(RECEIVE, 1);
        assert_eq!(
            (a.action, a.ty, a.status(), a.bytes(0), a.app),
            (INDICATE_RECEIVE_COMPLETE, CLOSE, 4000, b"r".to_vec(), ctx)
        );
        s.complete(&a, 0);
    }
    assert_eq!(s.get(RECEIVE, 1).action, NO_ACTION);
    assert_eq!(s.receive(3), E_INVALID_PROTOCOL_OPERATION);
}

#[test]
fn buffer_sizes_at_their_limits() {
    for (rbs, sbs) in [(256u32, 16u32), (65_536, 65_536), (256, 65_536), (65_536, 16)] {
        let props = [prop(0, &rbs), prop(1, &sbs)];
        let mut p = Pair::new(&props, &props);
        for len in [0usize, 125, 255, 256, 257, 65_536, 300_000] {
            let bin = binary_payload(len, len as u32);
            p.client_sends(BINARY_MESSAGE, &bin, 2);
            assert_eq!(
                p.server_gets(usize::MAX),
                Event::Message(BINARY_MESSAGE, bin.clone()),
                "{rbs}/{sbs} {len}"
            );
            p.server_sends(BINARY_MESSAGE, &bin, 1);
            assert_eq!(p.client_gets(usize::MAX), Event::Message(BINARY_MESSAGE, bin), "{rbs}/{sbs} {len}");
        }
    }
}

#[test]
fn every_pointer_lies_in_the_allocated_buffer_or_the_payload() {
    let rbs = 512u32;
    let sbs = 64u32;
    let size = (rbs + sbs + 144) as usize;
    let mut client_mem = vec![0u8; size + 3];
    let mut server_mem = vec![0u8; size + 3];
    let client_ptr = client_mem.as_mut_ptr().wrapping_add(3);
    let server_ptr = server_mem.as_mut_ptr().wrapping_add(3);
    let (client_base, server_base) = (client_ptr as usize, server_ptr as usize);
    let props = |base: &*mut u8| {
        [
            prop(0, &rbs),
            prop(1, &sbs),
            WEB_SOCKET_PROPERTY {
                Type: 3,
                pvValue: (base as *const *mut u8) as PVOID,
                ulValueSize: size as u32,
            },
        ]
    };
    let (c, s) = open_pair(&props(&client_ptr), &props(&server_ptr));
    let inside = |base: usize, p: *mut u8, n: u32| {
        let p = p as usize;
        p >= base && p + n as usize <= base + size
    };
    let payload = binary_payload(5000, 1);
    let payload_range = payload.as_ptr() as usize..payload.as_ptr() as usize + payload.len();
    for (h, base, peer, peer_base) in [(&c, client_base, &s, server_base), (&s, server_base, &c, client_base)]
    {
        assert_eq!(h.send(BINARY_MESSAGE, &payload, 0), 0);
        assert_eq!(h.send(PING_PONG, b"ping", 0), 0);
        let mut wire = VecDeque::new();
        loop {
            let a = h.get(SEND, 2);
            if a.action == NO_ACTION {
                break;
            }
            for (i, b) in a.buffers.iter().enumerate() {
                let (p, n) = b.bytes();
                let in_payload = payload_range.contains(&(p as usize)) && i == 1;
                assert!(inside(base, p, n) || in_payload, "send buffer outside region and payload");
                assert!(in_payload || n <= rbs.max(sbs));
            }
            let bytes = a.all_bytes();
            wire.extend(bytes.iter().copied());
            h.complete(&a, if a.action == SEND_TO_NETWORK { bytes.len() as u32 } else { 0 });
        }
        let mut got = Vec::new();
        let mut out = Vec::new();
        for _ in 0..2 {
            // Check each action's buffer of the receiving side too.
            assert_eq!(peer.receive(0), 0);
            loop {
                let a = peer.get(RECEIVE, 1);
                for b in &a.buffers {
                    let (p, n) = b.bytes();
                    assert!(p.is_null() || inside(peer_base, p, n), "receive buffer outside region");
                }
                match a.action {
                    RECEIVE_FROM_NETWORK => {
                        peer.read_into(&a, &mut wire, usize::MAX);
                    }
                    SEND_TO_NETWORK => {
                        out.extend(a.all_bytes());
                        peer.complete(&a, a.all_bytes().len() as u32);
                    }
                    INDICATE_RECEIVE_COMPLETE => {
                        got.push((a.ty, a.bytes(0)));
                        peer.complete(&a, 0);
                        if a.ty == BINARY_FRAGMENT {
                            assert_eq!(peer.receive(0), 0);
                            continue;
                        }
                        break;
                    }
                    other => panic!("{other}"),
                }
            }
        }
        let data: Vec<u8> =
            got.iter().filter(|(t, _)| *t != PING_PONG).flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(data, payload);
        assert_eq!(out.len(), if base == client_base { 6 } else { 10 }, "the automatic pong");
    }
}

#[test]
fn a_send_thread_and_a_receive_thread_share_one_handle() {
    // Under Miri (data-race and aliasing checks) a few dozen messages each way suffice.
    const MESSAGES: u32 = if cfg!(miri) { 40 } else { 5000 };
    let (client, server) = open_pair(&[], &[]);
    let client = Arc::new(client);
    let server = Arc::new(server);
    // Client: one thread sends MESSAGES messages into a channel; the server's receive thread
    // reads them. At the same time the server's send thread sends MESSAGES messages to the
    // client, whose receive thread checks them: four threads, two handles, each handle used by
    // two threads at once.
    let (c2s_tx, c2s_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let (s2c_tx, s2c_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let sender = |h: Arc<Handle>, tx: std::sync::mpsc::Sender<Vec<u8>>, seed: u32| {
        std::thread::spawn(move || {
            for i in 0..MESSAGES {
                let payload = binary_payload((i % 700) as usize, seed + i);
                assert_eq!(h.send(BINARY_MESSAGE, &payload, i as usize), 0);
                let (wire, done) = h.drain_send(SEND, 2);
                assert_eq!(done, vec![i as usize]);
                tx.send(wire).unwrap();
            }
        })
    };
    let receiver = |h: Arc<Handle>, rx: std::sync::mpsc::Receiver<Vec<u8>>, seed: u32| {
        std::thread::spawn(move || {
            let mut input = VecDeque::new();
            let mut pongs = Vec::new();
            for i in 0..MESSAGES {
                let want = binary_payload((i % 700) as usize, seed + i);
                // Wire bytes are pulled from the channel only when the handle asks for them.
                while let Ok(w) = rx.try_recv() {
                    input.extend(w);
                }
                let got = receive_message(&h, &mut input, &rx, &mut pongs);
                assert_eq!(got, want, "message {i}");
            }
        })
    };
    let threads = vec![
        sender(client.clone(), c2s_tx, 1),
        receiver(server.clone(), c2s_rx, 1),
        sender(server.clone(), s2c_tx, 99),
        receiver(client.clone(), s2c_rx, 99),
    ];
    for t in threads {
        t.join().unwrap();
    }
}

/// Receives one binary message; reads block on `rx` when the buffered input runs dry.
fn receive_message(
    h: &Handle,
    input: &mut VecDeque<u8>,
    rx: &std::sync::mpsc::Receiver<Vec<u8>>,
    pongs: &mut Vec<u8>,
) -> Vec<u8> {
    let mut message = Vec::new();
    loop {
        assert_eq!(h.receive(0), 0);
        loop {
            let a = h.get(RECEIVE, 1);
            assert_eq!(a.hr, 0);
            match a.action {
                RECEIVE_FROM_NETWORK => {
                    if input.is_empty() {
                        input.extend(rx.recv().unwrap());
                    }
                    h.read_into(&a, input, usize::MAX);
                }
                SEND_TO_NETWORK => {
                    pongs.extend(a.all_bytes());
                    h.complete(&a, a.all_bytes().len() as u32);
                }
                INDICATE_RECEIVE_COMPLETE => {
                    let ty = a.ty;
                    message.extend(a.bytes(0));
                    h.complete(&a, 0);
                    if ty == BINARY_MESSAGE {
                        return message;
                    }
                    assert_eq!(ty, BINARY_FRAGMENT);
                    break;
                }
                other => panic!("{other}"),
            }
        }
    }
}

#[test]
fn delete_with_operations_and_actions_outstanding() {
    for step in 0..4 {
        let (c, s) = open_pair(&[], &[]);
        let payload = vec![1u8; 10_000];
        assert_eq!(c.send(BINARY_MESSAGE, &payload, 0), 0);
        assert_eq!(c.send(UTF8_MESSAGE, b"second", 0), 0);
        assert_eq!(c.receive(0), 0);
        assert_eq!(s.receive(0), 0);
        if step >= 1 {
            assert_eq!(c.get(SEND, 2).action, SEND_TO_NETWORK);
        }
        if step >= 2 {
            assert_eq!(c.get(RECEIVE, 1).action, RECEIVE_FROM_NETWORK);
        }
        if step >= 3 {
            c.abort();
        }
        drop(c);
        drop(s);
    }
}

#[test]
fn zero_byte_send_completion_withdraws_the_frame() {
    let mut p = Pair::new(&[], &[]);
    assert_eq!(p.client.send(UTF8_FRAGMENT, b"abc", 0), 0);
    let a = p.client.get(SEND, 2);
    p.client.complete(&a, 0);
    let ind = p.client.get(SEND, 2);
    assert_eq!(ind.action, INDICATE_SEND_COMPLETE);
    p.client.complete(&ind, 0);
    // Nothing reached the wire, so a new message may start as if the fragment had never been sent.
    p.client_sends(BINARY_MESSAGE, b"fresh", 2);
    assert_eq!(p.server_gets(usize::MAX), Event::Message(BINARY_MESSAGE, b"fresh".to_vec()));
    // A partial write corrupts the stream: later sends fail.
    assert_eq!(p.client.send(BINARY_MESSAGE, &[0u8; 50], 0), 0);
    let a = p.client.get(SEND, 2);
    p.client.complete(&a, 3);
    assert_eq!(p.client.get(SEND, 2).action, INDICATE_SEND_COMPLETE);
    assert_eq!(p.client.send(BINARY_MESSAGE, b"x", 0), E_INVALID_PROTOCOL_OPERATION);
}

/// The ALLOCATED_BUFFER is used through the pointer the caller gave, not through its address
/// turned back into a pointer: under Miri the pointer below is never exposed as an integer, so
/// any access through a rebuilt pointer is an error.
#[test]
fn allocated_buffer_is_used_through_the_callers_pointer() {
    let size = 4096 + 16 + 144;
    let mut memory = vec![0u8; size + 1];
    let base: *mut u8 = memory.as_mut_ptr().wrapping_add(1); // unaligned, as allowed
    let props = [WEB_SOCKET_PROPERTY {
        Type: 3,
        pvValue: (&base as *const *mut u8) as PVOID,
        ulValueSize: size as u32,
    }];
    let s = open_server(&props);
    assert_eq!(s.receive(0), 0);
    let read = s.get(RECEIVE, 1);
    assert_eq!(read.action, RECEIVE_FROM_NETWORK);
    assert_eq!(read.buffers[0].bytes(), (base, 4096));
    let frame = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), base, frame.len()) };
    s.complete(&read, frame.len() as u32);
    let ind = s.get(RECEIVE, 1);
    assert_eq!((ind.action, ind.ty), (INDICATE_RECEIVE_COMPLETE, UTF8_MESSAGE));
    assert_eq!(ind.buffers[0].bytes(), (base.wrapping_add(6), 2));
    assert_eq!(ind.bytes(0), b"hi");
    s.complete(&ind, 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"ok", 0), 0);
    let a = s.get(SEND, 2);
    assert_eq!(a.buffers[0].bytes().0, base.wrapping_add(4096 + 16), "header in the control area");
    assert_eq!(a.all_bytes(), b"\x82\x02ok");
    s.complete(&a, 4);
    drop(s);
    drop(memory);
}

/// A send payload or receive buffer that overlaps the handle's own region is refused with
/// E_INVALIDARG: the library writes the region while it reads or fills such a buffer.
#[test]
fn caller_buffers_inside_the_handles_region_are_refused() {
    let size = 4096 + 16 + 144;
    let mut memory = vec![0u8; size + 8];
    let base: *mut u8 = memory.as_mut_ptr();
    let props = [WEB_SOCKET_PROPERTY {
        Type: 3,
        pvValue: (&base as *const *mut u8) as PVOID,
        ulValueSize: size as u32,
    }];
    let s = open_server(&props);
    let inside = |offset: usize, len: u32| WEB_SOCKET_BUFFER::data(base.wrapping_add(offset), len);
    for (offset, len) in [(0, 1), (100, 10), (size - 1, 1), (size - 1, 9)] {
        let mut b = inside(offset, len);
        assert_eq!(unsafe { WebSocketSend(s.0, BINARY_MESSAGE, &mut b, ptr::null_mut()) }, E_INVALIDARG);
        assert_eq!(unsafe { WebSocketReceive(s.0, &mut b, ptr::null_mut()) }, E_INVALIDARG);
        let mut c = WEB_SOCKET_BUFFER::close(base.wrapping_add(offset), len, 1000);
        assert_eq!(unsafe { WebSocketSend(s.0, CLOSE, &mut c, ptr::null_mut()) }, E_INVALIDARG);
    }
    // Right after the region: fine.
    let mut b = inside(size, 8);
    assert_eq!(unsafe { WebSocketSend(s.0, BINARY_MESSAGE, &mut b, ptr::null_mut()) }, 0);
    assert_eq!(unsafe { WebSocketReceive(s.0, &mut b, ptr::null_mut()) }, 0);
    assert_eq!(s.drain_send(SEND, 2).0, [&[0x82, 0x08][..], &[0; 8][..]].concat());
    drop(s);

    // A private region: a pointer the library handed out cannot come back as a payload.
    let s = open_server(&[]);
    assert_eq!(s.receive(0), 0);
    let read = s.get(RECEIVE, 1);
    let (p, n) = read.buffers[0].bytes();
    let mut b = WEB_SOCKET_BUFFER::data(p, n);
    assert_eq!(unsafe { WebSocketSend(s.0, BINARY_MESSAGE, &mut b, ptr::null_mut()) }, E_INVALIDARG);
    drop(s);
    drop(memory);
}
