//! RFC 6455 §5.7 golden frames and the spec's §16.2 / §16.3 vectors, sent and received through
//! the C ABI, whole and split at every byte; every peer violation of spec §9.7.

mod common;

use std::collections::VecDeque;

use common::*;
use websocket::ffi::*;

/// Sends one operation on a fresh open server handle and returns (bytes, buffer count of the
/// first SEND_TO_NETWORK).
fn server_sends(f: impl Fn(&Handle) -> i32) -> (Vec<u8>, usize) {
    let s = open_server(&[]);
    assert_eq!(f(&s), 0);
    let first = s.get(SEND, 2);
    assert_eq!(first.action, SEND_TO_NETWORK);
    let count = first.buffers.len();
    let mut wire = first.all_bytes();
    s.complete(&first, wire.len() as u32);
    let (rest, done) = s.drain_send(SEND, 2);
    wire.extend(rest);
    assert_eq!(done, vec![7]);
    (wire, count)
}

#[test]
fn server_frames_match_spec_16_2() {
    assert_eq!(server_sends(|s| s.send(UTF8_MESSAGE, b"Hello", 7)), (hex("81 05 48 65 6c 6c 6f"), 2));
    assert_eq!(server_sends(|s| s.send_close(1000, b"", 7)).0, hex("88 02 03 e8"));
    assert_eq!(server_sends(|s| s.send_null(CLOSE, 7)), (hex("88 00"), 1));
    assert_eq!(server_sends(|s| s.send_null(PING_PONG, 7)), (hex("89 00"), 1));
    assert_eq!(server_sends(|s| s.send_null(UNSOLICITED_PONG, 7)), (hex("8a 00"), 1));
    assert_eq!(server_sends(|s| s.send_close(1005, b"", 7)).0, hex("88 00"));
    assert_eq!(server_sends(|s| s.send_close(1001, b"bye", 7)).0, hex("88 05 03 e9 62 79 65"));
    assert_eq!(server_sends(|s| s.send_close(65535, b"", 7)).0, hex("88 02 ff ff"));
    assert_eq!(server_sends(|s| s.send(PING_PONG, b"abc", 7)).0, hex("89 03 61 62 63"));
    assert_eq!(server_sends(|s| s.send(UTF8_MESSAGE, b"", 7)), (hex("81 00"), 1));

    let payload: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    let (wire, _) = server_sends(|s| s.send(BINARY_MESSAGE, &payload, 7));
    assert_eq!(&wire[..4], &hex("82 7e 00 c8")[..]);
    assert_eq!(&wire[4..], &payload[..]);
    let big = vec![0x5A; 65_536];
    let (wire, _) = server_sends(|s| s.send(BINARY_MESSAGE, &big, 7));
    assert_eq!(&wire[..10], &hex("82 7f 00 00 00 00 00 01 00 00")[..]);
    assert_eq!(wire.len(), 65_546);
}

#[test]
fn server_payload_is_sent_in_place() {
    let s = open_server(&[]);
    let payload = b"in place".to_vec();
    assert_eq!(s.send(BINARY_MESSAGE, &payload, 1), 0);
    let a = s.get(SEND, 2);
    assert_eq!(a.buffers.len(), 2);
    assert_eq!(a.buffers[1].bytes(), (payload.as_ptr() as *mut u8, 8));
    assert_eq!(a.ty, BINARY_MESSAGE);
    assert_eq!(a.app, 1);
    // With one slot the header and the payload come as two actions.
    s.complete(&a, 10);
    let done = s.get(SEND, 1);
    assert_eq!(done.action, INDICATE_SEND_COMPLETE);
    s.complete(&done, 0);
    assert_eq!(s.send(BINARY_MESSAGE, &payload, 2), 0);
    let h = s.get(SEND, 1);
    assert_eq!(h.all_bytes(), hex("82 08"));
    s.complete(&h, 2);
    let p = s.get(SEND, 1);
    assert_eq!(p.buffers[0].bytes(), (payload.as_ptr() as *mut u8, 8));
    s.complete(&p, 8);
    assert_eq!(s.get(SEND, 1).action, INDICATE_SEND_COMPLETE);
}

#[test]
fn fragments_use_continuation_opcodes() {
    let s = open_server(&[]);
    assert_eq!(s.send(UTF8_FRAGMENT, b"Hel", 1), 0);
    assert_eq!(s.send(PING_PONG, b"", 2), 0);
    assert_eq!(s.send(UTF8_MESSAGE, b"lo", 3), 0);
    let (wire, done) = s.drain_send(SEND, 2);
    assert_eq!(wire, hex("01 03 48 65 6c 89 00 80 02 6c 6f"));
    assert_eq!(done, vec![1, 2, 3]);
    // A binary send inside an unfinished text message is refused; the text can continue.
    assert_eq!(s.send(UTF8_FRAGMENT, b"a", 4), 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"b", 5), E_INVALID_PROTOCOL_OPERATION);
    assert_eq!(s.send(UTF8_MESSAGE, b"c", 6), 0);
    assert_eq!(s.drain_send(SEND, 2).0, hex("01 01 61 80 01 63"));
}

#[test]
fn client_with_disabled_masking_uses_the_zero_key() {
    let one = 1u32;
    let c = client_open(&[prop(2, &one)]);
    assert_eq!(c.send(UTF8_MESSAGE, b"Hello", 0), 0);
    let a = c.get(SEND, 2);
    assert_eq!(a.buffers.len(), 2, "zero-key payload goes out in place");
    assert_eq!(a.all_bytes(), hex("81 85 00 00 00 00 48 65 6c 6c 6f"));
}

#[test]
fn client_masks_with_a_fresh_key_per_frame_and_keeps_the_payload() {
    let c = client_open(&[]);
    let payload = b"Hello".to_vec();
    let mut keys = Vec::new();
    for _ in 0..8 {
        assert_eq!(c.send(UTF8_MESSAGE, &payload, 0), 0);
        let (wire, _) = c.drain_send(SEND, 2);
        assert_eq!(&wire[..2], &[0x81, 0x85]);
        let key = [wire[2], wire[3], wire[4], wire[5]];
        let clear: Vec<u8> = wire[6..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
        assert_eq!(clear, b"Hello");
        keys.push(key);
    }
    assert_eq!(payload, b"Hello", "the caller's payload is never modified");
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 8, "every frame has its own key");
}

#[test]
fn client_small_masked_frame_is_one_contiguous_buffer() {
    let c = client_open(&[]);
    let payload = [7u8; 100];
    assert_eq!(c.send(BINARY_MESSAGE, &payload, 9), 0);
    let a = c.get(SEND, 2);
    assert_eq!(a.buffers.len(), 1);
    assert_eq!(a.all_bytes().len(), 106);
}

#[test]
fn client_masked_chunks_go_through_the_send_area() {
    let sbs = 16u32;
    let c = client_open(&[prop(1, &sbs)]);
    let payload: Vec<u8> = (0..200u8).collect();
    assert_eq!(c.send(BINARY_MESSAGE, &payload, 9), 0);
    let mut wire = Vec::new();
    let mut actions = 0;
    loop {
        let a = c.get(SEND, 2);
        if a.action != SEND_TO_NETWORK {
            assert_eq!(a.action, INDICATE_SEND_COMPLETE);
            break;
        }
        actions += 1;
        for (p, n) in a.buffers.iter().map(|b| b.bytes()) {
            assert!(n <= 16, "masked chunks are at most SBS bytes");
            assert!(!(payload.as_ptr()..payload.as_ptr().wrapping_add(200)).contains(&(p as *const u8)));
        }
        let b = a.all_bytes();
        wire.extend_from_slice(&b);
        c.complete(&a, b.len() as u32);
    }
    assert_eq!(actions, 13, "header + first 16 bytes, then 12 more chunks of at most 16");
    assert_eq!(&wire[..4], &[0x82, 0xFE, 0x00, 0xC8]);
    let key = [wire[4], wire[5], wire[6], wire[7]];
    let clear: Vec<u8> = wire[8..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    assert_eq!(clear, payload);
}

fn client_open(props: &[WEB_SOCKET_PROPERTY]) -> Handle {
    open_pair(props, &[]).0
}

/// Feeds `bytes` to a fresh server handle with the given read sizes and reports what one
/// receive operation produced: the events (auto pongs as `Pong` with their wire bytes prefixed
/// by 0xFF) or the failing HRESULT.
fn server_receives(
    props: &[WEB_SOCKET_PROPERTY],
    bytes: &[u8],
    splits: &[usize],
) -> Result<Vec<Outcome>, i32> {
    let s = open_server(props);
    let mut input: VecDeque<&[u8]> = VecDeque::new();
    let mut at = 0;
    for &cut in splits.iter().chain(std::iter::once(&bytes.len())) {
        if cut > at {
            input.push_back(&bytes[at..cut]);
            at = cut;
        }
    }
    let mut out = Vec::new();
    assert_eq!(s.receive(3), 0);
    for _ in 0..10_000 {
        let a = s.get(RECEIVE, 1);
        if a.hr != 0 {
            assert_eq!((a.action, a.buffers.len(), a.token), (NO_ACTION, 0, 0));
            // Failed state: the pending receive drains in the aborted shape, then NO_ACTION.
            let ind = s.get(RECEIVE, 1);
            assert_eq!(
                (ind.hr, ind.action, ind.ty, ind.status()),
                (0, INDICATE_RECEIVE_COMPLETE, CLOSE, 1006)
            );
            assert!(ind.reason_ptr().is_null());
            s.complete(&ind, 0);
            assert_eq!(s.get(RECEIVE, 1).action, NO_ACTION);
            assert_eq!(s.receive(0), E_INVALID_PROTOCOL_OPERATION);
            return Err(a.hr);
        }
        match a.action {
            RECEIVE_FROM_NETWORK => match input.pop_front() {
                None => return Ok(out),
                Some(piece) => {
                    let (p, cap) = a.buffers[0].bytes();
                    assert!(piece.len() <= cap as usize);
                    unsafe { std::ptr::copy_nonoverlapping(piece.as_ptr(), p, piece.len()) };
                    s.complete(&a, piece.len() as u32);
                }
            },
            SEND_TO_NETWORK => {
                assert_eq!((a.buffers.len(), a.ty, a.app), (1, PING_PONG, APP_SENTINEL));
                out.push(Outcome::Sent(a.all_bytes()));
                s.complete(&a, a.all_bytes().len() as u32);
            }
            INDICATE_RECEIVE_COMPLETE => {
                let reason = if a.ty == CLOSE && a.reason_ptr().is_null() { None } else { Some(a.bytes(0)) };
                out.push(Outcome::Indicated(a.ty, reason, if a.ty == CLOSE { a.status() } else { 0 }));
                s.complete(&a, 0);
                assert_eq!(s.get(RECEIVE, 1).action, NO_ACTION, "NO_ACTION after an indication");
                if a.ty == CLOSE {
                    return Ok(out);
                }
                assert_eq!(s.receive(3), 0);
            }
            other => panic!("action {other} while a receive is pending"),
        }
    }
    panic!("no progress");
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Sent(Vec<u8>),
    Indicated(u32, Option<Vec<u8>>, u16),
}

/// Runs `bytes` whole, split at every point, and one byte per read; all must agree on the
/// messages (data chunks are merged since the split decides how they are cut).
fn every_split(props: &[WEB_SOCKET_PROPERTY], bytes: &[u8]) -> Result<Vec<Outcome>, i32> {
    let whole = server_receives(props, bytes, &[]).map(merge);
    for cut in 1..bytes.len() {
        assert_eq!(server_receives(props, bytes, &[cut]).map(merge), whole, "split at {cut}");
    }
    let ones: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(server_receives(props, bytes, &ones).map(merge), whole, "one byte per read");
    whole
}

/// Merges FRAGMENT pieces into the MESSAGE piece that ends them.
fn merge(events: Vec<Outcome>) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for e in events {
        match e {
            Outcome::Indicated(ty @ (UTF8_FRAGMENT | BINARY_FRAGMENT), Some(b), _) => {
                pending.extend(b);
                let _ = ty;
            }
            Outcome::Indicated(ty @ (UTF8_MESSAGE | BINARY_MESSAGE), Some(b), s) => {
                pending.extend(b);
                out.push(Outcome::Indicated(ty, Some(std::mem::take(&mut pending)), s));
            }
            other => out.push(other),
        }
    }
    out
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    assert!(payload.len() <= 125);
    let mut v = vec![first, 0x80 | payload.len() as u8];
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
}

#[test]
fn rfc6455_masked_hello_is_received() {
    let frame = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
    assert_eq!(
        every_split(&[], &frame),
        Ok(vec![Outcome::Indicated(UTF8_MESSAGE, Some(b"Hello".to_vec()), 0)])
    );
}

#[test]
fn spec_16_3_receive_vectors() {
    let text = |b: &[u8]| Outcome::Indicated(UTF8_MESSAGE, Some(b.to_vec()), 0);
    assert_eq!(every_split(&[], &masked(0x81, b"Hello")), Ok(vec![text(b"Hello")]));
    assert_eq!(every_split(&[], &masked(0x81, &[0xc3, 0x28])), Err(E_INVALID_PROTOCOL_FORMAT));
    assert_eq!(
        every_split(&[], &masked(0x88, &[0x03, 0xe8])),
        Ok(vec![Outcome::Indicated(CLOSE, Some(vec![]), 1000)]),
        "non-NULL empty reason"
    );
    assert_eq!(every_split(&[], &masked(0x88, &[])), Ok(vec![Outcome::Indicated(CLOSE, None, 1005)]));
    assert_eq!(every_split(&[], &masked(0x88, &[0x03, 0xed])), Err(E_INVALID_PROTOCOL_FORMAT));
    let mut ping_then_text = masked(0x89, b"abc");
    ping_then_text.extend(masked(0x81, b"x"));
    assert_eq!(
        every_split(&[], &ping_then_text),
        Ok(vec![Outcome::Sent(hex("8a 03 61 62 63")), text(b"x")]),
        "the pong goes out, then the receive continues"
    );
    assert_eq!(
        every_split(&[], &masked(0x8a, &[])),
        Ok(vec![Outcome::Indicated(PING_PONG, Some(vec![]), 0)])
    );
    assert_eq!(every_split(&[], &hex("81 05 48 65 6c 6c 6f")), Err(E_INVALID_PROTOCOL_FORMAT));
}

#[test]
fn fragmented_message_with_interleaved_ping() {
    let mut bytes = masked(0x01, b"Hel");
    bytes.extend(masked(0x89, b"p"));
    bytes.extend(masked(0x80, b"lo"));
    let got = every_split(&[], &bytes).unwrap();
    assert_eq!(
        got,
        vec![Outcome::Sent(hex("8a 01 70")), Outcome::Indicated(UTF8_MESSAGE, Some(b"Hello".to_vec()), 0)]
    );
}

#[test]
fn utf8_split_across_frames_and_reads() {
    let text = "κόσμε €𝄞".as_bytes();
    // Cut the text inside a multi-byte character at every position, across two frames.
    for cut in 1..text.len() {
        let mut bytes = masked(0x01, &text[..cut]);
        bytes.extend(masked(0x80, &text[cut..]));
        let got = server_receives(&[], &bytes, &[]).map(merge);
        assert_eq!(got, Ok(vec![Outcome::Indicated(UTF8_MESSAGE, Some(text.to_vec()), 0)]), "cut {cut}");
    }
    // A message that ends inside a code point is invalid, however it is split.
    assert_eq!(every_split(&[], &masked(0x81, &text[..text.len() - 1])), Err(E_INVALID_PROTOCOL_FORMAT));
}

#[test]
fn disabled_utf8_verification_delivers_invalid_text() {
    let one = 1u32;
    assert_eq!(
        every_split(&[prop(4, &one)], &masked(0x81, &[0xc3, 0x28])),
        Ok(vec![Outcome::Indicated(UTF8_MESSAGE, Some(vec![0xc3, 0x28]), 0)])
    );
}

#[test]
fn disabled_masking_lets_a_server_accept_unmasked_frames() {
    let one = 1u32;
    let got = every_split(&[prop(2, &one)], &hex("81 05 48 65 6c 6c 6f"));
    assert_eq!(got, Ok(vec![Outcome::Indicated(UTF8_MESSAGE, Some(b"Hello".to_vec()), 0)]));
}

#[test]
fn empty_messages_and_empty_fragments() {
    let mut bytes = masked(0x01, b"");
    bytes.extend(masked(0x00, b"a"));
    bytes.extend(masked(0x00, b""));
    bytes.extend(masked(0x80, b""));
    bytes.extend(masked(0x82, b""));
    let got = server_receives(&[], &bytes, &[]).unwrap();
    assert_eq!(
        got,
        vec![
            Outcome::Indicated(UTF8_FRAGMENT, Some(b"a".to_vec()), 0),
            Outcome::Indicated(UTF8_MESSAGE, Some(vec![]), 0),
            Outcome::Indicated(BINARY_MESSAGE, Some(vec![]), 0),
        ]
    );
}

#[test]
fn peer_violations_of_spec_9_7() {
    let f = E_INVALID_PROTOCOL_FORMAT;
    let o = E_INVALID_PROTOCOL_OPERATION;
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        ("RSV1", masked(0xC1, b"x"), f),
        ("RSV2", masked(0xA1, b"x"), f),
        ("RSV3", masked(0x91, b"x"), f),
        ("opcode 3", masked(0x83, b""), f),
        ("opcode 7", masked(0x87, b""), f),
        ("opcode B", masked(0x8B, b""), f),
        ("opcode F", masked(0x8F, b""), f),
        ("fragmented ping", masked(0x09, b""), f),
        ("fragmented close", masked(0x08, b""), f),
        ("126-byte ping", [&hex("89 fe 00 7e 00 00 00 00")[..], &[0u8; 126][..]].concat(), f),
        ("64-bit length top bit", hex("82 ff 80 00 00 00 00 00 00 00 00 00 00 00"), f),
        ("unmasked client frame", hex("82 01 00"), f),
        ("close with 1 byte", masked(0x88, &[0x03]), f),
        ("close 999", masked(0x88, &[0x03, 0xe7]), f),
        ("close 1005", masked(0x88, &[0x03, 0xed]), f),
        ("close 1006", masked(0x88, &[0x03, 0xee]), f),
        ("close 1015", masked(0x88, &[0x03, 0xf7]), f),
        ("close 0", masked(0x88, &[0x00, 0x00]), f),
        ("close 1004", masked(0x88, &[0x03, 0xec]), f),
        ("close 5000", masked(0x88, &[0x13, 0x88]), f),
        ("close 65535", masked(0x88, &[0xff, 0xff, b'x']), f),
        ("close 1016", masked(0x88, &[0x03, 0xf8]), f),
        ("close 2000", masked(0x88, &[0x07, 0xd0]), f),
        ("close 2999", masked(0x88, &[0x0b, 0xb7]), f),
        ("close reason not UTF-8", masked(0x88, &[0x03, 0xe8, 0xff]), f),
        ("text not UTF-8", masked(0x81, &[0xed, 0xa0, 0x80]), f),
        ("continuation without start", masked(0x80, b"x"), o),
        ("text inside fragmented text", [masked(0x01, b"a"), masked(0x81, b"b")].concat(), o),
        ("binary inside fragmented text", [masked(0x01, b"a"), masked(0x82, b"b")].concat(), o),
    ];
    for (name, bytes, hr) in cases {
        let got = server_receives(&[], &bytes, &[]);
        assert_eq!(got.map(merge), Err(hr), "{name}");
        let ones: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(server_receives(&[], &bytes, &ones).map(merge), Err(hr), "{name}, byte by byte");
    }
}

#[test]
fn accepted_close_codes() {
    for code in [1000u16, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999] {
        let got = server_receives(&[], &masked(0x88, &code.to_be_bytes()), &[]);
        assert_eq!(got, Ok(vec![Outcome::Indicated(CLOSE, Some(vec![]), code)]), "{code}");
    }
}

#[test]
fn client_rejects_masked_frames_from_the_server() {
    let (c, _s) = open_pair(&[], &[]);
    assert_eq!(c.receive(0), 0);
    let a = c.get(RECEIVE, 1);
    let frame = masked(0x81, b"x");
    let (p, _) = a.buffers[0].bytes();
    unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), p, frame.len()) };
    c.complete(&a, frame.len() as u32);
    assert_eq!(c.get(RECEIVE, 1).hr, E_INVALID_PROTOCOL_FORMAT);
}

#[test]
fn huge_length_claims_allocate_nothing_and_stream() {
    // A frame that announces 2^63 - 1 bytes is delivered as it arrives, in pieces bounded by the
    // receive area; nothing follows the claim.
    let s = open_server(&[]);
    let mut bytes = hex("82 ff 7f ff ff ff ff ff ff ff 00 00 00 00");
    bytes.extend(vec![0xAB; 10_000]);
    let mut input: VecDeque<u8> = bytes.into_iter().collect();
    let mut delivered = 0;
    assert_eq!(s.receive(0x5EC), 0);
    while !input.is_empty() {
        let a = s.get(RECEIVE, 1);
        match a.action {
            RECEIVE_FROM_NETWORK => {
                s.read_into(&a, &mut input, usize::MAX);
            }
            INDICATE_RECEIVE_COMPLETE => {
                assert_eq!(a.ty, BINARY_FRAGMENT);
                assert!(a.bytes(0).iter().all(|b| *b == 0xAB));
                assert!(a.bytes(0).len() <= 4096);
                delivered += a.bytes(0).len();
                s.complete(&a, 0);
                assert_eq!(s.receive(0x5EC), 0);
            }
            other => panic!("{other}"),
        }
    }
    assert!(delivered >= 10_000 - 4096);
}

/// Small whole frames take a one-step path on both sides; its boundaries (empty payload, word
/// and 64-byte edges of the masking, the last 7-bit length, the first 16-bit one) must give the
/// same wire bytes and the same messages as the general path.
#[test]
fn small_frame_fast_paths_match_the_general_path() {
    let sizes = [0usize, 1, 3, 4, 7, 8, 9, 15, 16, 63, 64, 65, 124, 125, 126];
    // Receiving: whole (one-step path) vs every split and one byte per read (header consumed
    // first, payload streamed), for binary, ASCII and multilingual text.
    for &n in &sizes[..sizes.len() - 1] {
        let binary: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
        let ascii: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        let multi: Vec<u8> = "é€😀".bytes().cycle().take(n).collect();
        for (first, payload) in [(0x82u8, &binary), (0x81, &ascii)] {
            let ty = if first == 0x82 { BINARY_MESSAGE } else { UTF8_MESSAGE };
            assert_eq!(
                every_split(&[], &masked(first, payload)),
                Ok(vec![Outcome::Indicated(ty, Some(payload.clone()), 0)]),
                "opcode {first:#x}, {n} bytes"
            );
        }
        let valid = std::str::from_utf8(&multi).is_ok();
        let expect = if valid {
            Ok(vec![Outcome::Indicated(UTF8_MESSAGE, Some(multi.clone()), 0)])
        } else {
            Err(E_INVALID_PROTOCOL_FORMAT)
        };
        assert_eq!(every_split(&[], &masked(0x81, &multi)), expect, "multilingual text, {n} bytes");
    }
    // Sending: one contiguous buffer while header and payload fit the 144-byte control area
    // (one-step path up to 125 bytes, general path for 126-136), then header + masked chunk;
    // the same header, a fresh key, the payload masked with it, for both kinds and fragments.
    let c = client_open(&[]);
    for &n in sizes.iter().chain(&[136, 137]) {
        let payload: Vec<u8> = (0..n).map(|i| (i * 11 + 3) as u8).collect();
        for (ty, first) in [(BINARY_MESSAGE, 0x82u8), (UTF8_FRAGMENT, 0x01), (UTF8_MESSAGE, 0x80)] {
            let text = if ty == BINARY_MESSAGE { payload.clone() } else { vec![b'x'; n] };
            assert_eq!(c.send(ty, &text, 5), 0);
            let a = c.get(SEND, 2);
            assert_eq!((a.action, a.ty, a.app), (SEND_TO_NETWORK, ty, 5));
            assert_eq!(a.buffers.len(), if n <= 136 { 1 } else { 2 }, "{n} bytes");
            let wire = a.all_bytes();
            c.complete(&a, wire.len() as u32);
            let header = if n <= 125 { vec![first, 0x80 | n as u8] } else { vec![first, 0xFE, 0, n as u8] };
            assert_eq!(&wire[..header.len()], &header[..], "{n} bytes");
            let at = header.len();
            let key = [wire[at], wire[at + 1], wire[at + 2], wire[at + 3]];
            let clear: Vec<u8> = wire[at + 4..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
            assert_eq!(clear, text, "{n} bytes");
            let done = c.get(SEND, 2);
            assert_eq!((done.action, done.ty, done.app), (INDICATE_SEND_COMPLETE, ty, 5));
            c.complete(&done, 0);
        }
    }
}

/// An all-ASCII chunk skips UTF-8 validation only between code points: ASCII right after the
/// first byte of a cut code point is still an error, at every split and in every frame layout.
#[test]
fn ascii_chunks_after_a_cut_code_point_are_still_validated() {
    let ascii = [b'a'; 150];
    let bad = [&[0xC3u8][..], &ascii[..]].concat();
    let good = ["é".as_bytes(), &ascii[..]].concat();
    let frame = |payload: &[u8]| {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut v = vec![0x81, 0xFE, 0, payload.len() as u8];
        v.extend_from_slice(&key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        v
    };
    assert_eq!(every_split(&[], &frame(&bad)), Err(E_INVALID_PROTOCOL_FORMAT));
    assert_eq!(
        every_split(&[], &frame(&good)),
        Ok(vec![Outcome::Indicated(UTF8_MESSAGE, Some(good.clone()), 0)])
    );
    // The same across frames: a fragment ends inside the code point, the next is ASCII.
    let frag = [masked(0x01, &[0xC3]), masked(0x80, &ascii[..100])].concat();
    assert_eq!(every_split(&[], &frag), Err(E_INVALID_PROTOCOL_FORMAT));
    // ... and a continuation byte after the ASCII must not complete the cut code point.
    let frag = [masked(0x01, &[0xC3]), masked(0x00, &ascii[..100]), masked(0x80, &[0xA9])].concat();
    assert_eq!(every_split(&[], &frag), Err(E_INVALID_PROTOCOL_FORMAT));
}

/// A reserved, never-touched mapping of `len` bytes (PROT_NONE): the server sends payloads in
/// place and never reads them, so a 4 GiB payload costs no memory.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
struct Reserved(*mut u8, usize);

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
impl Reserved {
    fn new(len: usize) -> Reserved {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_NONE, flags, -1, 0) };
        assert_ne!(p, libc::MAP_FAILED, "mmap of {len} bytes");
        Reserved(p as *mut u8, len)
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
impl Drop for Reserved {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.0 as *mut libc::c_void, self.1) };
    }
}

/// Every SEND_TO_NETWORK's byte count fits the ULONG of CompleteAction: a payload of up to
/// ULONG_MAX bytes whose header would push the total past it goes out as header, then payload;
/// a short write of the payload breaks the stream (spec §9.5.5).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[cfg_attr(miri, ignore)]
#[test]
fn action_totals_never_exceed_ulong_max() {
    let len = u32::MAX as usize;
    let map = Reserved::new(len);
    let header = hex("82 7f 00 00 00 00 ff ff ff ff");
    let send_big = |s: &Handle, n: u32| {
        let mut b = WEB_SOCKET_BUFFER::data(map.0, n);
        unsafe { WebSocketSend(s.0, BINARY_MESSAGE, &mut b, 9 as PVOID) }
    };
    let lens = |a: &Act| a.buffers.iter().map(|b| b.bytes()).collect::<Vec<_>>();

    // Header (10) + payload adds up to exactly ULONG_MAX: one action with both buffers.
    let s = open_server(&[]);
    assert_eq!(send_big(&s, u32::MAX - 10), 0);
    let a = s.get(SEND, 2);
    assert_eq!(a.action, SEND_TO_NETWORK);
    assert_eq!(a.bytes(0), hex("82 7f 00 00 00 00 ff ff ff f5"));
    assert_eq!(lens(&a)[1], (map.0, u32::MAX - 10));
    s.complete(&a, u32::MAX);
    let done = s.get(SEND, 2);
    assert_eq!((done.action, done.app), (INDICATE_SEND_COMPLETE, 9));
    s.complete(&done, 0);

    // One byte more: the header goes alone, then the payload, each count within a ULONG.
    let s = open_server(&[]);
    assert_eq!(send_big(&s, u32::MAX - 9), 0);
    let a = s.get(SEND, 2);
    assert_eq!((a.action, a.buffers.len()), (SEND_TO_NETWORK, 1));
    assert_eq!(a.bytes(0), hex("82 7f 00 00 00 00 ff ff ff f6"));
    s.complete(&a, 10);
    let a = s.get(SEND, 2);
    assert_eq!((a.action, lens(&a)), (SEND_TO_NETWORK, vec![(map.0, u32::MAX - 9)]));
    s.complete(&a, u32::MAX - 9);
    let done = s.get(SEND, 2);
    assert_eq!((done.action, done.app), (INDICATE_SEND_COMPLETE, 9));
    s.complete(&done, 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 1), 0);
    assert_eq!(s.drain_send(SEND, 2).0, hex("82 01 78"));

    // ULONG_MAX bytes of payload, written short: the stream is broken for later sends.
    let s = open_server(&[]);
    assert_eq!(send_big(&s, u32::MAX), 0);
    let a = s.get(SEND, 2);
    assert_eq!((a.action, a.bytes(0)), (SEND_TO_NETWORK, header.clone()));
    assert_eq!(a.buffers.len(), 1);
    s.complete(&a, 10);
    let a = s.get(SEND, 2);
    assert_eq!((a.action, lens(&a)), (SEND_TO_NETWORK, vec![(map.0, u32::MAX)]));
    s.complete(&a, 100);
    let done = s.get(SEND, 2);
    assert_eq!((done.action, done.app), (INDICATE_SEND_COMPLETE, 9));
    s.complete(&done, 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 1), E_INVALID_PROTOCOL_OPERATION);
    assert_eq!(s.get(SEND, 2).action, NO_ACTION);

    // The header itself cut short breaks the stream too.
    let s = open_server(&[]);
    assert_eq!(send_big(&s, u32::MAX), 0);
    let a = s.get(SEND, 2);
    s.complete(&a, 3);
    let done = s.get(SEND, 2);
    assert_eq!(done.action, INDICATE_SEND_COMPLETE);
    s.complete(&done, 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 1), E_INVALID_PROTOCOL_OPERATION);
}

/// A buffer the caller wrote through the `Data` arm only (its last bytes are padding it never
/// wrote) is read through that arm: under Miri, reading the close status here would be a read
/// of uninitialised memory.
#[test]
fn data_arm_buffers_are_read_through_the_data_arm() {
    let s = open_server(&[]);
    let mut text = *b"Hello";
    let mut b =
        WEB_SOCKET_BUFFER { Data: WEB_SOCKET_BUFFER_DATA { pbBuffer: text.as_mut_ptr(), ulBufferLength: 5 } };
    assert_eq!(unsafe { WebSocketSend(s.0, UTF8_MESSAGE, &mut b, 3 as PVOID) }, 0);
    assert_eq!(s.drain_send(SEND, 2), (hex("81 05 48 65 6c 6c 6f"), vec![3]));

    let mut into = [0u8; 8];
    let mut b =
        WEB_SOCKET_BUFFER { Data: WEB_SOCKET_BUFFER_DATA { pbBuffer: into.as_mut_ptr(), ulBufferLength: 8 } };
    assert_eq!(unsafe { WebSocketReceive(s.0, &mut b, 4 as PVOID) }, 0);
    let read = s.get(RECEIVE, 1);
    assert_eq!(read.action, RECEIVE_FROM_NETWORK);
    let frame = masked(0x82, b"abc");
    unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), read.buffers[0].bytes().0, frame.len()) };
    s.complete(&read, frame.len() as u32);
    let ind = s.get(RECEIVE, 1);
    assert_eq!((ind.action, ind.ty, ind.app), (INDICATE_RECEIVE_COMPLETE, BINARY_MESSAGE, 4));
    assert_eq!(ind.buffers[0].bytes(), (into.as_mut_ptr(), 3));
    assert_eq!(&into[..3], b"abc");
}

/// Feeds `bytes` to the outstanding RECEIVE_FROM_NETWORK `read` and returns the next action of
/// the receive queue.
fn feed(s: &Handle, read: &Act, bytes: &[u8]) -> Act {
    assert_eq!(read.action, RECEIVE_FROM_NETWORK);
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), read.buffers[0].bytes().0, bytes.len()) };
    s.complete(read, bytes.len() as u32);
    s.get(RECEIVE, 1)
}

/// An automatic pong cut short on the wire breaks the outgoing stream exactly as a user frame
/// does (spec §9.5.5), on whichever queue it went out; completed with 0 it is simply dropped.
#[test]
fn automatic_pong_cut_short_breaks_the_send_side() {
    let ping = masked(0x89, b"hello");
    let pong = hex("8a 05 68 65 6c 6c 6f");
    for (pong_queue, written) in [(RECEIVE, 3), (SEND, 3), (RECEIVE, 0), (SEND, 0), (RECEIVE, 7)] {
        let case = format!("pong on queue {pong_queue} completed with {written}");
        let s = open_server(&[]);
        assert_eq!(s.receive(1), 0);
        let mut busy = None;
        if pong_queue == SEND {
            // The outgoing channel is busy with a user frame while the ping arrives.
            assert_eq!(s.send(BINARY_MESSAGE, b"m", 2), 0);
            busy = Some(s.get(SEND, 2));
        }
        let read = s.get(RECEIVE, 1);
        let next = feed(&s, &read, &ping);
        let a = match busy {
            Some(user) => {
                assert_eq!(next.action, RECEIVE_FROM_NETWORK, "{case}");
                s.complete(&user, 3);
                s.get(SEND, 2)
            }
            None => next,
        };
        assert_eq!((a.action, a.ty, a.all_bytes()), (SEND_TO_NETWORK, PING_PONG, pong.clone()), "{case}");
        s.complete(&a, written);
        if pong_queue == SEND {
            let done = s.get(SEND, 2);
            assert_eq!((done.action, done.app), (INDICATE_SEND_COMPLETE, 2), "{case}");
            s.complete(&done, 0);
        }
        let hr = s.send(BINARY_MESSAGE, b"abc", 3);
        if written == 3 {
            assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "{case}");
            assert_eq!(s.get(SEND, 2).action, NO_ACTION, "{case}");
            if pong_queue == RECEIVE {
                // Later pings get no pong on the broken stream.
                let read = s.get(RECEIVE, 1);
                let next = feed(&s, &read, &ping);
                assert_eq!(next.action, RECEIVE_FROM_NETWORK, "{case}");
                assert_eq!(s.get(SEND, 2).action, NO_ACTION, "{case}");
            }
        } else {
            assert_eq!(hr, 0, "{case}");
            assert_eq!(s.drain_send(SEND, 2), (hex("82 03 61 62 63"), vec![3]), "{case}");
        }
    }
}

/// Close codes RFC 6455 §7.4.2 does not define (5000-65535) are a protocol error, like the
/// reserved ones; every code from 3000 through 4999 is delivered.
#[test]
fn close_codes_above_4999_are_protocol_errors() {
    for code in [3000u16, 3999, 4000, 4999] {
        let got = server_receives(&[], &masked(0x88, &code.to_be_bytes()), &[]);
        assert_eq!(got, Ok(vec![Outcome::Indicated(CLOSE, Some(vec![]), code)]), "{code}");
    }
    for code in [5000u16, 5001, 9999, 32768, 65534, 65535] {
        let got = server_receives(&[], &masked(0x88, &code.to_be_bytes()), &[]);
        assert_eq!(got, Err(E_INVALID_PROTOCOL_FORMAT), "{code}");
    }
    // Sending stays unchecked: any status goes out unchanged.
    assert_eq!(server_sends(|s| s.send_close(65535, b"", 7)).0, hex("88 02 ff ff"));
}

/// A frame withdrawn with a 0-byte completion restores the message state (spec §9.5.5): a
/// fragment queued behind it continues the message on the wire; an operation of the other kind,
/// which no longer fits the unfinished message, is not dropped quietly: the send side fails and
/// the next Send says so.
#[test]
fn withdrawn_frame_never_loses_a_queued_send_silently() {
    let s = open_server(&[]);
    assert_eq!(s.send(UTF8_FRAGMENT, b"a", 1), 0);
    assert_eq!(s.drain_send(SEND, 2), (hex("01 01 61"), vec![1]));
    assert_eq!(s.send(UTF8_FRAGMENT, b"b", 2), 0);
    assert_eq!(s.send(UTF8_MESSAGE, b"c", 3), 0);
    let a = s.get(SEND, 2);
    assert_eq!((a.action, a.all_bytes()), (SEND_TO_NETWORK, hex("00 01 62")));
    s.complete(&a, 0);
    assert_eq!(s.drain_send(SEND, 2), (hex("80 01 63"), vec![2, 3]), "the text message goes on");

    let s = open_server(&[]);
    assert_eq!(s.send(UTF8_FRAGMENT, b"a", 1), 0);
    assert_eq!(s.drain_send(SEND, 2), (hex("01 01 61"), vec![1]));
    assert_eq!(s.send(UTF8_MESSAGE, b"b", 2), 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"c", 3), 0);
    let a = s.get(SEND, 2);
    assert_eq!((a.action, a.all_bytes()), (SEND_TO_NETWORK, hex("80 01 62")));
    s.complete(&a, 0);
    // Both complete, nothing reaches the wire, and the application hears of it.
    assert_eq!(s.drain_send(SEND, 2), (vec![], vec![2, 3]));
    assert_eq!(s.send(BINARY_MESSAGE, b"d", 4), E_INVALID_PROTOCOL_OPERATION);
    assert_eq!(s.get(SEND, 2).action, NO_ACTION);
}

/// A close frame withdrawn with a 0-byte completion is as if never queued: data and a close can
/// be sent afterwards.
#[test]
fn withdrawn_close_can_be_sent_again() {
    let s = open_server(&[]);
    assert_eq!(s.send_close(1000, b"bye", 1), 0);
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 2), E_INVALID_PROTOCOL_OPERATION, "close queued");
    let a = s.get(SEND, 2);
    assert_eq!((a.action, a.all_bytes()), (SEND_TO_NETWORK, hex("88 05 03 e8 62 79 65")));
    s.complete(&a, 0);
    assert_eq!(s.drain_send(SEND, 2), (vec![], vec![1]));
    assert_eq!(s.send(BINARY_MESSAGE, b"x", 2), 0);
    assert_eq!(s.send_close(1001, b"", 3), 0);
    assert_eq!(s.drain_send(SEND, 2), (hex("82 01 78 88 02 03 e9"), vec![2, 3]));
    assert_eq!(s.send_close(1000, b"", 4), E_INVALID_PROTOCOL_OPERATION, "sent: no second close");
}

/// Every token handed out is odd, so NO_ACTION's NULL token can never complete an action:
/// CompleteAction(NULL, n) with a SEND_TO_NETWORK and a RECEIVE_FROM_NETWORK outstanding leaves
/// both outstanding, and their own tokens still complete them.
#[test]
fn a_null_token_completes_no_outstanding_action() {
    let c = client_open(&[]);
    let mut tokens = Vec::new();
    for round in 0..50u8 {
        let payload = [round; 16];
        assert_eq!(c.send(BINARY_MESSAGE, &payload, 7), 0);
        assert_eq!(c.receive(9), 0);
        let frame = c.get(SEND, 2);
        assert_eq!((frame.hr, frame.action, frame.buffers.len()), (0, SEND_TO_NETWORK, 1));
        let read = c.get(RECEIVE, 1);
        assert_eq!((read.hr, read.action), (0, RECEIVE_FROM_NETWORK));
        tokens.extend([frame.token, read.token]);
        let len = frame.all_bytes().len() as u32;
        assert_eq!(len, 22);
        unsafe { WebSocketCompleteAction(c.0, std::ptr::null_mut(), len) };
        // Both still outstanding: their queues have nothing new to hand out.
        assert_eq!(c.get(SEND, 2).action, NO_ACTION);
        assert_eq!(c.get(RECEIVE, 1).action, NO_ACTION);
        c.complete(&frame, len);
        let done = c.get(SEND, 2);
        assert_eq!((done.action, done.app), (INDICATE_SEND_COMPLETE, 7));
        c.complete(&done, 0);
        tokens.push(done.token);
        // The last round cancels its read (0 bytes), which ends the handle's receiving; the
        // others feed it an empty pong, which completes the receive.
        if round == 49 {
            c.complete(&read, 0);
        } else {
            let pong = [0x8A, 0x00];
            let (p, cap) = read.buffers[0].bytes();
            assert!(cap >= 2);
            unsafe { std::ptr::copy_nonoverlapping(pong.as_ptr(), p, 2) };
            c.complete(&read, 2);
            let ind = c.get(RECEIVE, 1);
            assert_eq!((ind.action, ind.ty, ind.app), (INDICATE_RECEIVE_COMPLETE, PING_PONG, 9));
            tokens.push(ind.token);
            c.complete(&ind, 0);
        }
    }
    assert!(tokens.iter().all(|t| t & 1 == 1), "every token is odd: {tokens:x?}");
}
