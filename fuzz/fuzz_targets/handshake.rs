//! handshake: arbitrary header arrays (names and values from the input or from a dictionary of
//! the relevant headers, NULL+0 entries, NULL with a length, duplicates, odd case and padding)
//! into WebSocketBeginServerHandshake and, after a real WebSocketBeginClientHandshake, into
//! WebSocketEndClientHandshake; plus `handshake::verify_request` / `verify_response` directly.
//!
//! Every result is compared with a reference written from spec §8 (HRESULT for HRESULT);
//! successful calls must return NUL-terminated 7-bit ASCII headers in the documented order, with
//! the correct Sec-WebSocket-Accept, and the selected subprotocol/extension indices.
#![no_main]

use std::ffi::CString;
use std::ptr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use websocket::ffi::*;
use websocket::handshake::{self, HeaderRef};
use websocket_fuzz::*;

const NAMES: [&str; 9] = [
    "Connection",
    "Upgrade",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Host",
    "Origin",
];

const VALUES: [&str; 16] = [
    "Upgrade",
    "websocket",
    "13",
    "8, 13",
    "keep-alive, Upgrade",
    "dGhlIHNhbXBsZSBub25jZQ==",
    "AAAAAAAAAAAAAAAAAAAAAA==",
    "chat",
    "chat, superchat",
    "permessage-deflate; client_max_window_bits",
    "x-ext",
    ",,",
    "",
    "8",
    "WebSocket",
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
];

#[derive(Arbitrary, Debug, Clone)]
enum Text {
    /// NULL pointer, length 0.
    Null,
    /// NULL pointer with a non-zero length (E_INVALIDARG).
    NullWithLength(u8),
    Known(u8),
    /// The correct Sec-WebSocket-Accept for the client's key (response tests).
    Accept,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
struct Field {
    text: Text,
    /// bit0 lower-case, bit1 upper-case, bit2 leading space/tab, bit3 trailing space/tab.
    style: u8,
}

#[derive(Arbitrary, Debug, Clone)]
struct Hdr {
    name: Field,
    value: Field,
}

#[derive(Arbitrary, Debug)]
struct Input {
    request: Vec<Hdr>,
    /// Prepend the five headers of a valid request.
    valid_request_base: bool,
    response: Vec<Hdr>,
    valid_response_base: bool,
    subprotocols: Vec<Vec<u8>>,
    extensions: Vec<Vec<u8>>,
    null_subprotocol_entry: bool,
    selected_subprotocol: Option<Vec<u8>>,
    selected_extensions: Vec<Vec<u8>>,
    /// None: pass NULL for the extension outputs.
    extension_capacity: Option<u8>,
    want_subprotocol: bool,
}

/// One header as bytes, or None for a NULL pointer with a non-zero length.
fn render(f: &Field, names: bool, accept: &str) -> Result<Vec<u8>, u32> {
    let mut b = match &f.text {
        Text::Null => Vec::new(),
        Text::NullWithLength(n) => return Err(u32::from(*n).max(1)),
        Text::Known(i) => {
            if names {
                NAMES[*i as usize % NAMES.len()].as_bytes().to_vec()
            } else {
                VALUES[*i as usize % VALUES.len()].as_bytes().to_vec()
            }
        }
        Text::Accept => accept.as_bytes().to_vec(),
        Text::Raw(v) => v.clone(),
    };
    if f.style & 1 != 0 {
        b.make_ascii_lowercase();
    }
    if f.style & 2 != 0 {
        b.make_ascii_uppercase();
    }
    if f.style & 4 != 0 {
        b.insert(0, if f.style & 16 != 0 { b'\t' } else { b' ' });
    }
    if f.style & 8 != 0 {
        b.push(if f.style & 32 != 0 { b'\t' } else { b' ' });
    }
    Ok(b)
}

struct Headers {
    owned: Vec<(Result<Vec<u8>, u32>, Result<Vec<u8>, u32>)>,
    null_with_length: bool,
}

impl Headers {
    fn new(base: &[(&str, &str)], list: &[Hdr], accept: &str) -> Headers {
        let mut owned: Vec<_> =
            base.iter().map(|(n, v)| (Ok(n.as_bytes().to_vec()), Ok(v.as_bytes().to_vec()))).collect();
        owned.extend(list.iter().map(|h| (render(&h.name, true, accept), render(&h.value, false, accept))));
        let null_with_length = owned.iter().any(|(n, v)| n.is_err() || v.is_err());
        Headers { owned, null_with_length }
    }

    fn raw(&self) -> Vec<WEB_SOCKET_HTTP_HEADER> {
        let one = |b: &Result<Vec<u8>, u32>| match b {
            Err(n) => (ptr::null_mut(), *n),
            Ok(v) if v.is_empty() => (ptr::null_mut(), 0),
            Ok(v) => (v.as_ptr() as PCHAR, v.len() as u32),
        };
        self.owned
            .iter()
            .map(|(n, v)| {
                let (pn, ln) = one(n);
                let (pv, lv) = one(v);
                WEB_SOCKET_HTTP_HEADER { pcName: pn, ulNameLength: ln, pcValue: pv, ulValueLength: lv }
            })
            .collect()
    }

    fn refs(&self) -> Vec<HeaderRef<'_>> {
        self.owned
            .iter()
            .map(|(n, v)| HeaderRef { name: n.as_deref().unwrap_or(b""), value: v.as_deref().unwrap_or(b"") })
            .collect()
    }
}

// ---- reference (spec §8) ------------------------------------------------------------------

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Values of every header called `name` (names compared case-insensitively, surrounding
/// whitespace of names ignored as the library does), trimmed.
fn values<'a>(h: &'a [HeaderRef<'a>], name: &str) -> Vec<&'a [u8]> {
    h.iter().filter(|x| trim(x.name).eq_ignore_ascii_case(name.as_bytes())).map(|x| trim(x.value)).collect()
}

fn items<'a>(h: &'a [HeaderRef<'a>], name: &str) -> Vec<&'a [u8]> {
    values(h, name)
        .into_iter()
        .flat_map(|v| v.split(|c| *c == b','))
        .map(trim)
        .filter(|i| !i.is_empty())
        .collect()
}

fn has(h: &[HeaderRef<'_>], name: &str, token: &str) -> bool {
    items(h, name).iter().any(|i| i.eq_ignore_ascii_case(token.as_bytes()))
}

fn ref_request(h: &[HeaderRef<'_>]) -> Result<Vec<u8>, i32> {
    let f = Err(E_INVALID_PROTOCOL_FORMAT);
    if !has(h, "Connection", "Upgrade") || !has(h, "Upgrade", "websocket") {
        return f;
    }
    let versions = items(h, "Sec-WebSocket-Version");
    if versions.is_empty() {
        return f;
    }
    let keys = values(h, "Sec-WebSocket-Key");
    if keys.len() != 1 || keys[0].is_empty() {
        return f;
    }
    if !versions.iter().any(|v| *v == b"13") {
        return Err(E_PROTOCOL_VERSION_NOT_SUPPORTED);
    }
    Ok(keys[0].to_vec())
}

fn ext_name(s: &[u8]) -> &[u8] {
    trim(s.split(|c| *c == b';').next().unwrap_or(b""))
}

fn ref_response(
    h: &[HeaderRef<'_>],
    accept: &str,
    subs: &[Vec<u8>],
    exts: &[Vec<u8>],
) -> Result<(Option<usize>, Vec<usize>), i32> {
    let f = Err(E_INVALID_PROTOCOL_FORMAT);
    if !has(h, "Upgrade", "websocket") || !has(h, "Connection", "Upgrade") {
        return f;
    }
    let acc = values(h, "Sec-WebSocket-Accept");
    if acc.len() != 1 || acc[0] != accept.as_bytes() {
        return f;
    }
    let protos = items(h, "Sec-WebSocket-Protocol");
    let sub = match protos.as_slice() {
        [] => None,
        [one] => match subs.iter().position(|s| s.eq_ignore_ascii_case(one)) {
            Some(i) => Some(i),
            None => return Err(E_SUBPROTOCOL_NOT_SUPPORTED),
        },
        _ => return Err(E_SUBPROTOCOL_NOT_SUPPORTED),
    };
    let mut sel = Vec::new();
    for item in items(h, "Sec-WebSocket-Extensions") {
        match exts.iter().position(|e| ext_name(e).eq_ignore_ascii_case(ext_name(item))) {
            Some(i) => sel.push(i),
            None => return Err(E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED),
        }
    }
    Ok((sub, sel))
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|c| (0x21..=0x7E).contains(c) && !b"()<>@,;:\\\"/[]?={}".contains(c))
}

/// Spec §8.4: parameters allowed, no CR/LF/NUL; output must stay 7-bit ASCII, so only printable
/// ASCII and tab; a non-empty name.
fn is_extension(s: &[u8]) -> bool {
    let t = trim(s);
    !t.is_empty() && t.iter().all(|c| (0x20..=0x7E).contains(c) || *c == b'\t') && !ext_name(t).is_empty()
}

fn cstrings(list: &[Vec<u8>]) -> Vec<CString> {
    list.iter()
        .map(|v| CString::new(v.iter().copied().take_while(|c| *c != 0).collect::<Vec<u8>>()).unwrap())
        .collect()
}

fn server(input: &Input) {
    const BASE: [(&str, &str); 5] = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Host", ""),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let hs = Headers::new(if input.valid_request_base { &BASE } else { &[] }, &input.request, "");
    let raw = hs.raw();
    let refs = hs.refs();
    let expect = ref_request(&refs);
    // The library function directly.
    assert_eq!(handshake::verify_request(&refs).map_err(|e| e.hresult()), expect, "verify_request");

    let sub = input.selected_subprotocol.as_ref().map(|s| cstrings(std::slice::from_ref(s)).remove(0));
    let exts = cstrings(&input.selected_extensions);
    let mut ext_ptrs: Vec<PCSTR> = exts.iter().map(|c| c.as_ptr()).collect();
    let args_ok = sub.as_ref().map_or(true, |s| s.as_bytes().is_empty() || is_token(s.as_bytes()))
        && exts.iter().all(|e| is_extension(e.as_bytes()))
        && !hs.null_with_length;

    let (hr, s) = create(false, &[]);
    assert_eq!(hr, 0);
    let mut out = ptr::null_mut();
    let mut n = 0u32;
    // SAFETY: valid arrays and out-pointers; strings NUL-terminated.
    let hr = unsafe {
        WebSocketBeginServerHandshake(
            s,
            sub.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            if ext_ptrs.is_empty() { ptr::null_mut() } else { ext_ptrs.as_mut_ptr() },
            ext_ptrs.len() as u32,
            if raw.is_empty() { ptr::null() } else { raw.as_ptr() },
            raw.len() as u32,
            &mut out,
            &mut n,
        )
    };
    let want = if !args_ok { Err(E_INVALIDARG) } else { expect.clone() };
    match want {
        Err(e) => {
            assert_eq!(hr, e, "BeginServerHandshake");
            // A failed Begin leaves the handle in Created: a valid request still works.
            let good: Vec<_> = BASE.iter().map(|(a, b)| header(a.as_bytes(), b.as_bytes())).collect();
            let hr = unsafe {
                WebSocketBeginServerHandshake(
                    s,
                    ptr::null(),
                    ptr::null_mut(),
                    0,
                    good.as_ptr(),
                    5,
                    &mut out,
                    &mut n,
                )
            };
            assert_eq!(hr, 0, "Begin after a failed Begin");
        }
        Ok(key) => {
            assert_eq!(hr, 0, "BeginServerHandshake");
            let list = read_headers(out, n);
            let mut want: Vec<(String, String)> = vec![
                ("Connection".into(), "Upgrade".into()),
                ("Upgrade".into(), "websocket".into()),
                ("Sec-WebSocket-Accept".into(), expected_accept(&key)),
            ];
            if let Some(p) = sub.as_ref().filter(|s| !s.as_bytes().is_empty()) {
                want.push(("Sec-WebSocket-Protocol".into(), p.to_str().unwrap().into()));
            }
            if !exts.is_empty() {
                let joined: Vec<String> =
                    exts.iter().map(|e| String::from_utf8(trim(e.as_bytes()).to_vec()).unwrap()).collect();
                want.push(("Sec-WebSocket-Extensions".into(), joined.join(", ")));
            }
            assert_eq!(list, want, "response headers");
            assert_eq!(unsafe { WebSocketEndServerHandshake(s) }, 0);
            // The array stays valid until DeleteHandle.
            assert_eq!(read_headers(out, n), want);
            let hr = unsafe {
                WebSocketBeginServerHandshake(
                    s,
                    ptr::null(),
                    ptr::null_mut(),
                    0,
                    raw.as_ptr(),
                    raw.len() as u32,
                    &mut out,
                    &mut n,
                )
            };
            assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "Begin twice");
        }
    }
    unsafe { WebSocketDeleteHandle(s) };
}

fn client(input: &Input) {
    let (hr, c) = create(true, &[]);
    assert_eq!(hr, 0);
    let subs = cstrings(&input.subprotocols);
    let exts = cstrings(&input.extensions);
    let mut sub_ptrs: Vec<PCSTR> = subs.iter().map(|c| c.as_ptr()).collect();
    if input.null_subprotocol_entry {
        sub_ptrs.push(ptr::null());
    }
    let mut ext_ptrs: Vec<PCSTR> = exts.iter().map(|c| c.as_ptr()).collect();
    let args_ok = !input.null_subprotocol_entry
        && subs.iter().all(|s| is_token(s.as_bytes()))
        && exts.iter().all(|e| is_extension(e.as_bytes()));
    let mut out = ptr::null_mut();
    let mut n = 0u32;
    let begin = |sub_ptrs: &mut Vec<PCSTR>,
                 ext_ptrs: &mut Vec<PCSTR>,
                 out: &mut *mut WEB_SOCKET_HTTP_HEADER,
                 n: &mut u32| unsafe {
        WebSocketBeginClientHandshake(
            c,
            if sub_ptrs.is_empty() { ptr::null_mut() } else { sub_ptrs.as_mut_ptr() },
            sub_ptrs.len() as u32,
            if ext_ptrs.is_empty() { ptr::null_mut() } else { ext_ptrs.as_mut_ptr() },
            ext_ptrs.len() as u32,
            ptr::null(),
            0,
            out,
            n,
        )
    };
    let hr = begin(&mut sub_ptrs, &mut ext_ptrs, &mut out, &mut n);
    if !args_ok {
        assert_eq!(hr, E_INVALIDARG, "BeginClientHandshake with bad tokens");
        unsafe { WebSocketDeleteHandle(c) };
        return;
    }
    assert_eq!(hr, 0, "BeginClientHandshake");
    let list = read_headers(out, n);
    assert!(list.len() >= 4);
    assert_eq!(&list[0], &("Connection".to_string(), "Upgrade".to_string()));
    assert_eq!(&list[1], &("Upgrade".to_string(), "websocket".to_string()));
    assert_eq!(list[2].0, "Sec-WebSocket-Key");
    let key = list[2].1.clone();
    {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(&key).expect("key is base64");
        assert_eq!((key.len(), raw.len()), (24, 16), "key shape");
    }
    assert_eq!(&list[3], &("Sec-WebSocket-Version".to_string(), "13".to_string()));
    let mut at = 4;
    if !subs.is_empty() {
        let joined: Vec<&str> = subs.iter().map(|s| s.to_str().unwrap()).collect();
        assert_eq!(list[at], ("Sec-WebSocket-Protocol".to_string(), joined.join(", ")));
        at += 1;
    }
    if !exts.is_empty() {
        let joined: Vec<String> =
            exts.iter().map(|e| String::from_utf8(trim(e.as_bytes()).to_vec()).unwrap()).collect();
        assert_eq!(list[at], ("Sec-WebSocket-Extensions".to_string(), joined.join(", ")));
        at += 1;
    }
    assert_eq!(list.len(), at, "extra request headers");
    assert_eq!(
        begin(&mut sub_ptrs, &mut ext_ptrs, &mut out, &mut n),
        E_INVALID_PROTOCOL_OPERATION,
        "Begin twice"
    );

    let accept = expected_accept(key.as_bytes());
    let base: Vec<(&str, &str)> =
        vec![("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Accept", accept.as_str())];
    let hs = Headers::new(if input.valid_response_base { &base } else { &[] }, &input.response, &accept);
    let raw = hs.raw();
    let refs = hs.refs();
    let sub_bytes: Vec<Vec<u8>> = subs.iter().map(|s| s.as_bytes().to_vec()).collect();
    let ext_bytes: Vec<Vec<u8>> = exts.iter().map(|s| trim(s.as_bytes()).to_vec()).collect();
    let expect = ref_response(&refs, &accept, &sub_bytes, &ext_bytes);
    let sub_strings: Vec<String> = sub_bytes.iter().map(|s| String::from_utf8(s.clone()).unwrap()).collect();
    let ext_strings: Vec<String> = ext_bytes.iter().map(|s| String::from_utf8(s.clone()).unwrap()).collect();
    let direct = handshake::verify_response(&refs, &accept, &sub_strings, &ext_strings, None)
        .map(|s| (s.subprotocol, s.extensions))
        .map_err(|e| e.hresult());
    assert_eq!(direct, expect, "verify_response");

    let mut sel_sub: u32 = 0xAAAA;
    let cap = input.extension_capacity.map(|c| c as usize % 8);
    let mut sel_ext = vec![0xBBBBu32; cap.unwrap_or(0) + 1];
    let mut sel_count = cap.unwrap_or(0) as u32;
    let hr = unsafe {
        WebSocketEndClientHandshake(
            c,
            if raw.is_empty() { ptr::null() } else { raw.as_ptr() },
            raw.len() as u32,
            if cap.is_some() { sel_ext.as_mut_ptr() } else { ptr::null_mut() },
            if cap.is_some() { &mut sel_count } else { ptr::null_mut() },
            if input.want_subprotocol { &mut sel_sub } else { ptr::null_mut() },
        )
    };
    let want = if hs.null_with_length {
        Err(E_INVALIDARG)
    } else {
        match expect {
            Ok((_, ref e)) if cap.map_or(false, |c| c < e.len()) => Err(E_INVALIDARG),
            other => other,
        }
    };
    match want {
        Err(e) => {
            assert_eq!(hr, e, "EndClientHandshake");
            // A failed End leaves the handle waiting: the correct response still works.
            let good: Vec<_> = base.iter().map(|(a, b)| header(a.as_bytes(), b.as_bytes())).collect();
            let hr = unsafe {
                WebSocketEndClientHandshake(
                    c,
                    good.as_ptr(),
                    3,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
            assert_eq!(hr, 0, "End after a failed End");
        }
        Ok((sub, sel)) => {
            assert_eq!(hr, 0, "EndClientHandshake");
            if input.want_subprotocol {
                assert_eq!(sel_sub, sub.map_or(0xAAAA, |i| i as u32), "selected subprotocol");
            }
            if cap.is_some() {
                assert_eq!(sel_count as usize, sel.len());
                let got: Vec<usize> = sel_ext[..sel.len()].iter().map(|x| *x as usize).collect();
                assert_eq!(got, sel, "selected extensions");
                assert!(sel_ext[sel.len()..].iter().all(|x| *x == 0xBBBB), "wrote past the count");
            }
            // Begin's array stays valid until DeleteHandle.
            assert_eq!(read_headers(out, n), list);
            let hr = unsafe {
                WebSocketEndClientHandshake(
                    c,
                    raw.as_ptr(),
                    raw.len() as u32,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            };
            assert_eq!(hr, E_INVALID_PROTOCOL_OPERATION, "End twice");
        }
    }
    unsafe { WebSocketDeleteHandle(c) };
}

fuzz_target!(|input: Input| {
    server(&input);
    client(&input);
});
