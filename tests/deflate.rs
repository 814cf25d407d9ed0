//! permessage-deflate (RFC 7692) through the C ABI: the §7.2.3 example frames sent and received,
//! context takeover, negotiation as the headers show it, compressed round trips between a client
//! and a server handle (sizes, fragments, one-byte reads, caller buffers), RSV rules, and an
//! inflate bomb delivered in bounded chunks with bounded memory.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::VecDeque;
use std::ptr;

use common::*;
use websocket::ffi::*;
use websocket::sys::zlib::Deflater;

/// Counts the heap bytes allocated and freed by the thread that set TRACKING, to bound what the
/// library holds while inflating (other tests run on other threads).
struct Counting;
thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    if TRACKING.try_with(|t| t.get()).unwrap_or(false) {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }
}

/// Starts counting this thread's heap from zero.
fn track() {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
}

/// Stops counting; returns (live, peak) bytes since `track`.
fn untrack() -> (isize, isize) {
    TRACKING.with(|t| t.set(false));
    (LIVE.with(|l| l.get()), PEAK.with(|p| p.get()))
}

fn live() -> isize {
    LIVE.with(|l| l.get())
}

// SAFETY: forwards to the system allocator, only adding counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as isize));
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const DEFLATE: i32 = WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE;

fn deflate_prop(s: &WEB_SOCKET_DEFLATE_SETTINGS) -> WEB_SOCKET_PROPERTY {
    WEB_SOCKET_PROPERTY {
        Type: DEFLATE,
        pvValue: s as *const _ as PVOID,
        ulValueSize: std::mem::size_of::<WEB_SOCKET_DEFLATE_SETTINGS>() as u32,
    }
}

fn settings(snct: bool, cnct: bool, smwb: u32, cmwb: u32) -> WEB_SOCKET_DEFLATE_SETTINGS {
    WEB_SOCKET_DEFLATE_SETTINGS {
        fServerNoContextTakeover: snct as i32,
        fClientNoContextTakeover: cnct as i32,
        ulServerMaxWindowBits: smwb,
        ulClientMaxWindowBits: cmwb,
    }
}

/// The value of `name` in a returned header array.
fn header(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

/// A client that offered with `props`, opened by a handcrafted response carrying `extensions`.
/// Returns the handle, the offer, and EndClientHandshake's HRESULT and selected indices.
fn client_with_response(
    props: &[WEB_SOCKET_PROPERTY],
    app_extensions: &[&str],
    extensions: Option<&str>,
) -> (Handle, String, i32, Vec<u32>) {
    let c = Handle::client(props);
    let exts: Vec<std::ffi::CString> =
        app_extensions.iter().map(|e| std::ffi::CString::new(*e).unwrap()).collect();
    let mut ptrs: Vec<PCSTR> = exts.iter().map(|e| e.as_ptr()).collect();
    unsafe {
        let mut req = ptr::null_mut();
        let mut n = 0;
        let hr = WebSocketBeginClientHandshake(
            c.0,
            ptr::null_mut(),
            0,
            if ptrs.is_empty() { ptr::null_mut() } else { ptrs.as_mut_ptr() },
            ptrs.len() as u32,
            ptr::null(),
            0,
            &mut req,
            &mut n,
        );
        assert_eq!(hr, 0);
        let list = header_list(req, n);
        let key = header(&list, "Sec-WebSocket-Key").unwrap();
        let offer = header(&list, "Sec-WebSocket-Extensions").unwrap_or_default();
        let accept = websocket::handshake::accept_for_key(key.as_bytes());
        let mut pairs = vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Accept", accept.as_str()),
        ];
        if let Some(e) = extensions {
            pairs.push(("Sec-WebSocket-Extensions", e));
        }
        let resp = header_array(&pairs);
        let mut selected = [0xFFFF_FFFFu32; 4];
        let mut count = 4u32;
        let hr = WebSocketEndClientHandshake(
            c.0,
            resp.as_ptr(),
            resp.len() as u32,
            selected.as_mut_ptr(),
            &mut count,
            ptr::null_mut(),
        );
        let sel = if hr == 0 { selected[..count as usize].to_vec() } else { Vec::new() };
        (c, offer, hr, sel)
    }
}

/// A server answering a request with `offers` (one Sec-WebSocket-Extensions header each).
fn server_with_request(props: &[WEB_SOCKET_PROPERTY], offers: &[&str]) -> (Handle, Option<String>) {
    let s = Handle::server(props);
    let mut pairs = vec![
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    for o in offers {
        pairs.push(("Sec-WebSocket-Extensions", o));
    }
    let req = header_array(&pairs);
    let (hr, resp, n) = begin_server_handshake(&s, &req);
    assert_eq!(hr, 0);
    let list = header_list(resp, n);
    assert_eq!(unsafe { WebSocketEndServerHandshake(s.0) }, 0);
    (s, header(&list, "Sec-WebSocket-Extensions"))
}

fn receive_all(h: &Handle, wire: &[u8], chunk: usize) -> Result<Event, i32> {
    let mut input: VecDeque<u8> = wire.iter().copied().collect();
    let mut pongs = Vec::new();
    // receive_event asserts S_OK; catch a failure HRESULT ourselves first.
    assert_eq!(h.receive(0x5EC), 0);
    loop {
        let a = h.get(RECEIVE, 1);
        if a.hr != 0 {
            return Err(a.hr);
        }
        match a.action {
            RECEIVE_FROM_NETWORK => {
                h.read_into(&a, &mut input, chunk);
            }
            INDICATE_RECEIVE_COMPLETE => {
                let mut message = a.bytes(0);
                let ty = a.ty;
                h.complete(&a, 0);
                if ty == UTF8_MESSAGE || ty == BINARY_MESSAGE {
                    return Ok(Event::Message(ty, message));
                }
                let rest = receive_event(h, &mut input, &mut pongs, chunk).expect("rest of the message");
                if let Event::Message(t, m) = rest {
                    message.extend_from_slice(&m);
                    return Ok(Event::Message(t, message));
                }
                panic!("unexpected {rest:?}");
            }
            other => panic!("unexpected action {other}"),
        }
    }
}

#[test]
fn rfc7692_7_2_3_frames_are_received() {
    let s = settings(false, false, 0, 0);
    let props = [deflate_prop(&s)];
    for chunk in [usize::MAX, 1] {
        let (c, offer, hr, sel) = client_with_response(&props, &[], Some("permessage-deflate"));
        assert_eq!(offer, "permessage-deflate; client_max_window_bits");
        assert_eq!((hr, sel), (0, vec![0]));
        let hello = Ok(Event::Message(UTF8_MESSAGE, b"Hello".to_vec()));
        // §7.2.3.1, then §7.2.3.2's second message with the shared window.
        assert_eq!(receive_all(&c, &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], chunk), hello);
        assert_eq!(receive_all(&c, &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00], chunk), hello);
        // §7.2.3.3 no compression block; §7.2.3.4 BFINAL set; §7.2.3.1 fragmented.
        let stored = [0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
        assert_eq!(receive_all(&c, &stored, chunk), hello);
        assert_eq!(
            receive_all(&c, &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00], chunk),
            hello
        );
        let fragmented = [0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(receive_all(&c, &fragmented, chunk), hello);
        // An uncompressed message is still allowed, and an empty compressed one is one 0x00.
        assert_eq!(receive_all(&c, &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'], chunk), hello);
        assert_eq!(receive_all(&c, &[0xc2, 0x01, 0x00], chunk), Ok(Event::Message(BINARY_MESSAGE, vec![])));
    }
}

#[test]
fn rfc7692_7_2_3_frames_are_sent_with_and_without_context_takeover() {
    let s = settings(false, false, 0, 0);
    let (srv, answer) = server_with_request(&[deflate_prop(&s)], &["permessage-deflate"]);
    assert_eq!(answer.as_deref(), Some("permessage-deflate"));
    assert_eq!(srv.send(UTF8_MESSAGE, b"Hello", 1), 0);
    assert_eq!(srv.drain_send(SEND, 2).0, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(srv.send(UTF8_MESSAGE, b"Hello", 1), 0);
    assert_eq!(srv.drain_send(SEND, 2).0, [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    assert_eq!(srv.send(BINARY_MESSAGE, b"", 1), 0);
    assert_eq!(srv.drain_send(SEND, 2).0, [0xc2, 0x01, 0x00]);
    // Fragments: RSV1 on the first frame only, one stream.
    assert_eq!(srv.send(UTF8_FRAGMENT, b"Hel", 1), 0);
    let first = srv.drain_send(SEND, 1).0;
    assert_eq!(first[0], 0x41);
    assert_eq!(srv.send(UTF8_MESSAGE, b"lo", 1), 0);
    let second = srv.drain_send(SEND, 1).0;
    assert_eq!(second[0], 0x80);

    // The client asked for server_no_context_takeover: both messages compress alike.
    let (srv, answer) =
        server_with_request(&[deflate_prop(&s)], &["permessage-deflate; server_no_context_takeover"]);
    assert_eq!(answer.as_deref(), Some("permessage-deflate; server_no_context_takeover"));
    for _ in 0..2 {
        assert_eq!(srv.send(UTF8_MESSAGE, b"Hello", 1), 0);
        assert_eq!(srv.drain_send(SEND, 2).0, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    }
    // Control frames are never compressed.
    assert_eq!(srv.send(PING_PONG, b"Hello", 1), 0);
    assert_eq!(srv.drain_send(SEND, 2).0, b"\x89\x05Hello");
}

#[test]
fn negotiation_matrix() {
    let d = settings(false, false, 0, 0);
    let dp = [deflate_prop(&d)];
    // Server: the first acceptable of several offers, across repeated headers and lists.
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["permessage-deflate"], Some("permessage-deflate")),
        (&["x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits"], Some("permessage-deflate")),
        (
            &["permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=\"10\""],
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        (
            &["permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits"],
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=8"),
        ),
        (&["permessage-deflate; bogus"], None),
        (&["permessage-deflate; server_max_window_bits"], None),
        (&["permessage-deflate; client_no_context_takeover; client_no_context_takeover"], None),
        (&[], None),
    ];
    for (offers, want) in cases {
        let (_, got) = server_with_request(&dp, offers);
        assert_eq!(got.as_deref(), *want, "offers {offers:?}");
    }
    // A strict server asks the client for what it wants.
    let strict = settings(true, true, 9, 8);
    let (_, got) =
        server_with_request(&[deflate_prop(&strict)], &["permessage-deflate; client_max_window_bits"]);
    assert_eq!(
        got.as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_no_context_takeover; \
             client_max_window_bits=8"
        )
    );
    // Without the property a server answers nothing, whatever is offered.
    let (_, got) = server_with_request(&[], &["permessage-deflate"]);
    assert_eq!(got, None);

    // Client: which responses its offer allows.
    const NOT_SUPPORTED: i32 = 0x8376_0003_u32 as i32;
    let cases: &[(&WEB_SOCKET_DEFLATE_SETTINGS, Option<&str>, i32)] = &[
        (&d, None, 0),
        (&d, Some("permessage-deflate"), 0),
        (&d, Some("permessage-deflate; client_max_window_bits=8"), 0),
        (&d, Some("permessage-deflate; server_max_window_bits=10; server_no_context_takeover"), 0),
        (&d, Some("permessage-deflate; client_max_window_bits"), NOT_SUPPORTED),
        (&d, Some("permessage-deflate, permessage-deflate"), NOT_SUPPORTED),
        (&d, Some("permessage-deflate; x=1"), NOT_SUPPORTED),
        (&d, Some("permessage-deflate; server_max_window_bits=16"), NOT_SUPPORTED),
        (&d, Some("x-other"), NOT_SUPPORTED),
    ];
    for (s, response, want) in cases {
        let (_, _, hr, _) = client_with_response(&[deflate_prop(s)], &[], *response);
        assert_eq!(hr, *want, "response {response:?}");
    }
    let asked = settings(true, false, 10, 0);
    let (_, offer, hr, _) = client_with_response(&[deflate_prop(&asked)], &[], Some("permessage-deflate"));
    assert_eq!(
        offer,
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10; server_no_context_takeover"
    );
    assert_eq!(hr, NOT_SUPPORTED);
    let (_, _, hr, _) = client_with_response(
        &[deflate_prop(&asked)],
        &[],
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
    );
    assert_eq!(hr, 0);
    // The application's own extensions keep their indices; ours is one past them.
    let (_, offer, hr, sel) =
        client_with_response(&dp, &["x-app; a=1", "x-two"], Some("x-two, permessage-deflate, x-app"));
    assert_eq!(offer, "x-app; a=1, x-two, permessage-deflate; client_max_window_bits");
    assert_eq!((hr, sel), (0, vec![1, 2, 0]));
    // Without the property, permessage-deflate is an application string as before.
    let (_, offer, hr, sel) = client_with_response(&[], &["permessage-deflate"], Some("permessage-deflate"));
    assert_eq!((offer.as_str(), hr, sel), ("permessage-deflate", 0, vec![0]));
}

#[test]
fn bad_settings_and_duplicate_strings_are_invalid_arguments() {
    for bad in [settings(false, false, 7, 0), settings(false, false, 0, 16), settings(false, false, 1, 0)] {
        let p = [deflate_prop(&bad)];
        let mut h = ptr::null_mut();
        assert_eq!(unsafe { WebSocketCreateClientHandle(p.as_ptr(), 1, &mut h) }, E_INVALIDARG);
        assert_eq!(unsafe { WebSocketCreateServerHandle(p.as_ptr(), 1, &mut h) }, E_INVALIDARG);
    }
    let ok = settings(false, false, 0, 0);
    let mut short = deflate_prop(&ok);
    short.ulValueSize = 12;
    let mut h = ptr::null_mut();
    assert_eq!(unsafe { WebSocketCreateClientHandle(&short, 1, &mut h) }, E_INVALIDARG);
    let null = WEB_SOCKET_PROPERTY { Type: DEFLATE, pvValue: ptr::null_mut(), ulValueSize: 16 };
    assert_eq!(unsafe { WebSocketCreateServerHandle(&null, 1, &mut h) }, E_INVALIDARG);
    // An application string named permessage-deflate beside the library's own negotiation.
    let c = Handle::client(&[deflate_prop(&ok)]);
    let name = std::ffi::CString::new("permessage-deflate").unwrap();
    let mut ptrs = [name.as_ptr()];
    let (mut req, mut n) = (ptr::null_mut(), 0);
    let hr = unsafe {
        WebSocketBeginClientHandshake(
            c.0,
            ptr::null_mut(),
            0,
            ptrs.as_mut_ptr(),
            1,
            ptr::null(),
            0,
            &mut req,
            &mut n,
        )
    };
    assert_eq!(hr, E_INVALIDARG);
}

fn text_payload(len: usize) -> Vec<u8> {
    let words = ["{\"id\":", "\"name\":\"Zoë\",", "\"tags\":[\"a\",\"b\"],", "\"€\":3.14}", "\n"];
    let mut v = Vec::with_capacity(len + 32);
    let mut i = 0usize;
    while v.len() < len {
        v.extend_from_slice(words[i % words.len()].as_bytes());
        v.extend_from_slice((i % 977).to_string().as_bytes());
        i += 1;
    }
    v.truncate(len);
    while std::str::from_utf8(&v).is_err() {
        v.pop();
        v.push(b'x');
    }
    v
}

fn pair(
    client: &WEB_SOCKET_DEFLATE_SETTINGS,
    server: &WEB_SOCKET_DEFLATE_SETTINGS,
    rbs: u32,
) -> (Handle, Handle) {
    let rbs_c = rbs;
    let cp = [deflate_prop(client), prop(0, &rbs_c)];
    let sp = [deflate_prop(server), prop(0, &rbs_c)];
    open_pair(&cp, &sp)
}

#[test]
fn compressed_round_trips_both_ways() {
    let configs = [
        (settings(false, false, 0, 0), settings(false, false, 0, 0)),
        (settings(true, true, 8, 8), settings(false, false, 0, 0)),
        (settings(false, false, 0, 0), settings(true, true, 9, 8)),
    ];
    for (cs, ss) in &configs {
        let (c, s) = pair(cs, ss, 256);
        for (len, chunk) in [
            (0, usize::MAX),
            (1, 1),
            (16, usize::MAX),
            (125, 7),
            (4096, usize::MAX),
            (70_000, 1000),
            (300_000, usize::MAX),
        ] {
            for ty in [UTF8_MESSAGE, BINARY_MESSAGE] {
                let payload = text_payload(len);
                assert_eq!(c.send(ty, &payload, 1), 0);
                let (wire, _) = c.drain_send(SEND, 2);
                if len > 0 {
                    assert_eq!(wire[0] & 0x70, 0x40, "RSV1 on a compressed message");
                }
                if len >= 4096 {
                    assert!(wire.len() < len / 2, "compressed {len} -> {}", wire.len());
                }
                assert_eq!(receive_all(&s, &wire, chunk), Ok(Event::Message(ty, payload.clone())));
                assert_eq!(s.send(ty, &payload, 1), 0);
                let (wire, _) = s.drain_send(SEND, 1);
                assert_eq!(receive_all(&c, &wire, chunk), Ok(Event::Message(ty, payload)));
            }
        }
        // A fragmented send is one compressed message.
        let payload = text_payload(10_000);
        let mut wire = Vec::new();
        for (i, part) in payload.chunks(3000).enumerate() {
            let ty = if (i + 1) * 3000 >= payload.len() { UTF8_MESSAGE } else { UTF8_FRAGMENT };
            assert_eq!(c.send(ty, part, 1), 0);
            let w = c.drain_send(SEND, 2).0;
            assert_eq!(w[0] & 0x40 != 0, i == 0, "RSV1 only on the first frame");
            wire.extend(w);
        }
        assert_eq!(receive_all(&s, &wire, 333), Ok(Event::Message(UTF8_MESSAGE, payload)));
    }
}

#[test]
fn rsv_bits_stay_protocol_errors_where_the_rfc_says() {
    // Without negotiation RSV1 is an error.
    let plain = open_server(&[]);
    assert_eq!(receive_all(&plain, &[0xc1, 0x80, 0, 0, 0, 0], 100), Err(E_INVALID_PROTOCOL_FORMAT));
    let s = settings(false, false, 0, 0);
    let p = [deflate_prop(&s)];
    let bad: &[&[u8]] = &[
        &[0x89, 0x00][..].iter().map(|b| b | 0x40).collect::<Vec<u8>>(), // ping with RSV1
        &[0x01, 0x00, 0xc0, 0x01, b'b'],                                 // continuation with RSV1
        &[0xa1, 0x01, 0x00],                                             // RSV2
        &[0xc1, 0x03, 0xff, 0xff, 0xff],                                 // not DEFLATE data
    ];
    for wire in bad {
        let (c, _, hr, _) = client_with_response(&p, &[], Some("permessage-deflate"));
        assert_eq!(hr, 0);
        assert_eq!(receive_all(&c, wire, 100), Err(E_INVALID_PROTOCOL_FORMAT), "{wire:02x?}");
    }
    // Inflated text is validated: a compressed invalid UTF-8 byte.
    let mut d = Deflater::new(15, 6).unwrap();
    let mut out = [0u8; 64];
    let n = d.compress(&[0xff], &mut out, true).unwrap().produced - 4;
    let mut wire = vec![0xc1, n as u8];
    wire.extend_from_slice(&out[..n]);
    let (c, _, _, _) = client_with_response(&p, &[], Some("permessage-deflate"));
    assert_eq!(receive_all(&c, &wire, 100), Err(E_INVALID_PROTOCOL_FORMAT));
}

/// `total` zero bytes as one compressed message from a server (unmasked frame).
fn bomb(total: usize) -> Vec<u8> {
    let mut d = Deflater::new(15, 9).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut payload = Vec::new();
    let mut out = vec![0u8; 1 << 16];
    let mut left = total;
    while left > 0 {
        let n = left.min(zeros.len());
        let mut input = &zeros[..n];
        while !input.is_empty() {
            let p = d.compress(input, &mut out, false).unwrap();
            payload.extend_from_slice(&out[..p.produced]);
            input = &input[p.consumed..];
        }
        left -= n;
    }
    loop {
        let p = d.compress(&[], &mut out, true).unwrap();
        payload.extend_from_slice(&out[..p.produced]);
        if p.produced < out.len() {
            break;
        }
    }
    assert!(payload.ends_with(&[0, 0, 0xff, 0xff]));
    payload.truncate(payload.len() - 4);
    let mut wire = vec![0xc2, 127];
    wire.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    wire.extend_from_slice(&payload);
    wire
}

#[test]
fn an_inflate_bomb_is_delivered_in_bounded_chunks_with_bounded_memory() {
    const TOTAL: usize = 1 << 30; // 1 GiB from about 1 MiB on the wire
    static ZEROS: [u8; 65_536] = [0; 65_536];
    let wire = bomb(TOTAL);
    assert!(wire.len() < 1_100_000, "{}", wire.len());
    let s = settings(false, false, 0, 0);
    let (c, _, hr, _) = client_with_response(&[deflate_prop(&s)], &[], Some("permessage-deflate"));
    assert_eq!(hr, 0);
    let mut input: VecDeque<u8> = wire.into_iter().collect();
    track();
    let (mut total, mut chunks, mut largest) = (0usize, 0usize, 0usize);
    assert_eq!(c.receive(1), 0);
    loop {
        let a = c.get(RECEIVE, 1);
        assert_eq!(a.hr, 0);
        match a.action {
            RECEIVE_FROM_NETWORK => {
                c.read_into(&a, &mut input, usize::MAX);
            }
            INDICATE_RECEIVE_COMPLETE => {
                let (p, n) = a.buffers[0].bytes();
                let bytes = unsafe { std::slice::from_raw_parts(p, n as usize) };
                assert!(bytes == &ZEROS[..bytes.len()], "inflated bytes are the zeros sent");
                total += n as usize;
                chunks += 1;
                largest = largest.max(n as usize);
                let ty = a.ty;
                c.complete(&a, 0);
                if ty == BINARY_MESSAGE {
                    break;
                }
                assert_eq!(ty, BINARY_FRAGMENT);
                assert_eq!(c.receive(1), 0);
            }
            other => panic!("unexpected action {other}"),
        }
    }
    assert_eq!(total, TOTAL);
    assert_eq!(largest, 4096, "chunks are at most the receive buffer size");
    assert!(chunks >= TOTAL / 4096);
    // The library's extra memory while inflating: zlib's inflate state and window plus the
    // 4 KiB receive area, far below 1 MiB (the input queue was allocated before `base`).
    let (_, extra) = untrack();
    eprintln!("peak extra heap while inflating 1 GiB: {extra} B");
    assert!(extra > 32 * 1024, "the inflater's window was counted: {extra}");
    assert!(extra < 128 * 1024, "peak extra heap {extra}");
}

#[test]
fn a_caller_receive_buffer_gets_inflated_data_directly_in_its_size() {
    let s = settings(false, false, 0, 0);
    let (c, srv) = pair(&s, &s, 4096);
    let payload = text_payload(50_000);
    assert_eq!(srv.send(UTF8_MESSAGE, &payload, 1), 0);
    let mut input: VecDeque<u8> = srv.drain_send(SEND, 2).0.into_iter().collect();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1000];
    loop {
        let mut b = WEB_SOCKET_BUFFER::data(buf.as_mut_ptr(), buf.len() as u32);
        assert_eq!(unsafe { WebSocketReceive(c.0, &mut b, ptr::null_mut()) }, 0);
        let ty = loop {
            let a = c.get(RECEIVE, 1);
            assert_eq!(a.hr, 0);
            if a.action == RECEIVE_FROM_NETWORK {
                c.read_into(&a, &mut input, usize::MAX);
                continue;
            }
            assert_eq!(a.action, INDICATE_RECEIVE_COMPLETE);
            let (p, n) = a.buffers[0].bytes();
            assert_eq!(p, buf.as_mut_ptr(), "delivered in the caller's buffer");
            assert!(n <= 1000);
            got.extend_from_slice(&buf[..n as usize]);
            c.complete(&a, 0);
            break a.ty;
        };
        if ty == UTF8_MESSAGE {
            break;
        }
    }
    assert_eq!(got, payload);
}

/// Heap held by one handle (tracked on this thread), after the handshake and after one
/// compressed message each way, for a 32 KiB and a 512-byte compression window.
fn heap_of_handle(server_window: u32, compress: bool) -> (isize, isize) {
    let none = settings(false, false, server_window, 0);
    track();
    let (c, s) = pair(&settings(false, false, 0, 0), &none, 4096);
    let after_handshake = live();
    if compress {
        let payload = text_payload(4096);
        assert_eq!(s.send(UTF8_MESSAGE, &payload, 1), 0);
        let (wire, _) = s.drain_send(SEND, 2);
        assert_eq!(receive_all(&c, &wire, usize::MAX), Ok(Event::Message(UTF8_MESSAGE, payload.clone())));
        assert_eq!(c.send(UTF8_MESSAGE, &payload, 1), 0);
        let (wire, _) = c.drain_send(SEND, 2);
        assert_eq!(receive_all(&s, &wire, usize::MAX), Ok(Event::Message(UTF8_MESSAGE, payload)));
    }
    let after_messages = live();
    drop(c);
    drop(s);
    let (left, _) = untrack();
    // What may stay is the handle table's own list of freed slots, which grows by a few bytes
    // as handles are deleted; the deflate state (hundreds of KiB) is freed with its handle.
    assert!(left <= 256, "everything else is freed with the handles: {left}");
    (after_handshake, after_messages)
}

#[test]
fn deflate_memory_per_handle() {
    // Both handles together (client + server), header arrays included. A first pair, not
    // counted, allocates the handle table's first chunk.
    drop(open_pair(&[], &[]));
    let (plain_pair, _) = {
        track();
        let (c, s) = open_pair(&[], &[]);
        let v = live();
        drop((c, s));
        untrack();
        (v, 0)
    };
    let (hs15, msg15) = heap_of_handle(0, true);
    let (_, msg9) = heap_of_handle(9, true);
    eprintln!(
        "heap of a client+server pair: plain {plain_pair} B; deflate after handshake {hs15} B; \
         after one 4 KiB message each way {msg15} B (server window 15), {msg9} B (server window 9)"
    );
    // Negotiation allocates only the small state; zlib's streams come with the first message.
    assert!(hs15 - plain_pair < 1024, "{hs15} vs {plain_pair}");
    // Two compressors (~260 KiB each at window 15) and two inflaters (~40 KiB) plus buffers.
    assert!(msg15 - plain_pair > 500 * 1024 && msg15 - plain_pair < 700 * 1024, "{msg15}");
    assert!(msg9 < msg15, "a smaller window takes less memory: {msg9} vs {msg15}");
}
