//! Helpers shared by the fuzz targets: a thin driver of the C ABI (the same calls a C caller
//! makes), region bounds for checking returned pointers, and a small reference frame decoder.
#![allow(clippy::missing_safety_doc)]

pub mod frame_parser;
pub mod utf8;

use std::ptr;

use websocket::ffi::*;

pub const S_OK: i32 = 0;
pub const E_INVALIDARG: i32 = 0x8007_0057_u32 as i32;
pub const E_INVALID_PROTOCOL_OPERATION: i32 = 0x8376_0001_u32 as i32;
pub const E_INVALID_PROTOCOL_FORMAT: i32 = 0x8376_0002_u32 as i32;
pub const E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED: i32 = 0x8376_0003_u32 as i32;
pub const E_SUBPROTOCOL_NOT_SUPPORTED: i32 = 0x8376_0004_u32 as i32;
pub const E_PROTOCOL_VERSION_NOT_SUPPORTED: i32 = 0x8376_0005_u32 as i32;
pub const E_INSUFFICIENT_BUFFER: i32 = 0x8007_007A_u32 as i32;
pub const E_UNEXPECTED: i32 = 0x8000_FFFF_u32 as i32;

pub const SEND: i32 = 1;
pub const RECEIVE: i32 = 2;
pub const ALL: i32 = 3;

pub const NO_ACTION: i32 = 0;
pub const SEND_TO_NETWORK: i32 = 1;
pub const INDICATE_SEND_COMPLETE: i32 = 2;
pub const RECEIVE_FROM_NETWORK: i32 = 3;
pub const INDICATE_RECEIVE_COMPLETE: i32 = 4;

pub const UTF8_MESSAGE: u32 = 0x8000_0000;
pub const UTF8_FRAGMENT: u32 = 0x8000_0001;
pub const BINARY_MESSAGE: u32 = 0x8000_0002;
pub const BINARY_FRAGMENT: u32 = 0x8000_0003;
pub const CLOSE: u32 = 0x8000_0004;
pub const PING_PONG: u32 = 0x8000_0005;
pub const UNSOLICITED_PONG: u32 = 0x8000_0006;

/// Value the harness puts in `*pvApplicationContext` before GetAction, to see whether it was
/// written.
pub const APP_SENTINEL: usize = 0x5E47_1E11;

/// One GetAction result.
#[derive(Debug, Clone)]
pub struct Act {
    pub hr: i32,
    pub action: i32,
    /// The first `count` entries (what the library reported).
    pub buffers: Vec<WEB_SOCKET_BUFFER>,
    /// `*pulDataBufferCount` as written (may be checked against the capacity).
    pub count: u32,
    /// Entries past `count` still hold the poison value.
    pub untouched_tail: bool,
    pub ty: u32,
    pub app: usize,
    pub token: usize,
}

impl Act {
    pub fn data(&self, i: usize) -> (*mut u8, u32) {
        self.buffers[i].bytes()
    }

    /// The bytes of buffer `i` (Data arm). Only valid while the action is outstanding.
    pub fn bytes(&self, i: usize) -> Vec<u8> {
        let (p, n) = self.buffers[i].bytes();
        if n == 0 {
            return Vec::new();
        }
        assert!(!p.is_null(), "NULL buffer with length {n}");
        // SAFETY: the library guarantees the buffer is readable until CompleteAction.
        unsafe { std::slice::from_raw_parts(p, n as usize).to_vec() }
    }

    pub fn all_bytes(&self) -> Vec<u8> {
        (0..self.buffers.len()).flat_map(|i| self.bytes(i)).collect()
    }

    pub fn status(&self) -> u16 {
        self.buffers[0].status()
    }
}

const POISON: *mut u8 = 0x0BAD_F00D as *mut u8;

/// WebSocketGetAction with `cap` slots (the array has `cap.max(1) + 1` entries so that writes past
/// the reported count can be detected).
pub fn get_action(h: WEB_SOCKET_HANDLE, queue: i32, cap: u32) -> Act {
    let slots = cap as usize + 1;
    let mut bufs = vec![WEB_SOCKET_BUFFER::data(POISON, 0xFFFF_FFFF); slots];
    let mut count = cap;
    let mut action = -1;
    let mut ty = 0xFFFF_FFFF;
    let mut app = APP_SENTINEL as PVOID;
    let mut ctx = 0x1234 as PVOID;
    // SAFETY: every pointer is valid and writable; the array holds `cap` (+1) entries.
    let hr = unsafe {
        WebSocketGetAction(h, queue, bufs.as_mut_ptr(), &mut count, &mut action, &mut ty, &mut app, &mut ctx)
    };
    let used = (count as usize).min(cap as usize);
    let untouched_tail = bufs[used..].iter().all(|b| b.bytes() == (POISON, 0xFFFF_FFFF));
    bufs.truncate(used);
    Act { hr, action, buffers: bufs, count, untouched_tail, ty, app: app as usize, token: ctx as usize }
}

pub fn complete(h: WEB_SOCKET_HANDLE, token: usize, n: u32) {
    // SAFETY: handle and token are plain values.
    unsafe { WebSocketCompleteAction(h, token as PVOID, n) };
}

/// Gives a client handle a seeded masking-key source, for byte-exact frames.
pub fn seed_mask_keys(h: WEB_SOCKET_HANDLE, seed: u8) {
    // SAFETY: called on a handle no other thread uses, with no action outstanding.
    unsafe {
        websocket::ffi::with_session(h, |s| {
            s.set_mask_keys(websocket::rng::MaskKeys::from_seed([seed; 32]));
            Ok(())
        })
    }
    .unwrap();
}

/// The handle's buffer region `[base, base + len)` and its receive and send sizes.
#[derive(Debug, Clone, Copy)]
pub struct RegionInfo {
    pub base: usize,
    pub len: usize,
    pub rbs: usize,
    pub sbs: usize,
}

impl RegionInfo {
    pub fn of(h: WEB_SOCKET_HANDLE) -> Option<RegionInfo> {
        // SAFETY: the fuzz targets drive each handle from one thread, so no buffer handed out
        // is in use while this runs; the closure only reads the region's bounds.
        unsafe {
            websocket::ffi::with_session(h, |s| {
                let c = s.config();
                let (base, len) = s.region_span();
                Ok(RegionInfo {
                    base: base as usize,
                    len,
                    rbs: c.receive_buffer_size as usize,
                    sbs: c.send_buffer_size as usize,
                })
            })
        }
        .ok()
    }

    fn within(&self, start: usize, end: usize, p: *mut u8, n: u32) -> bool {
        let p = p as usize;
        p >= self.base + start && p.checked_add(n as usize).map_or(false, |e| e <= self.base + end)
    }

    /// Inside the receive area R.
    pub fn in_r(&self, p: *mut u8, n: u32) -> bool {
        self.within(0, self.rbs, p, n)
    }

    /// Inside R | S | C (what the library may hand out).
    pub fn in_native(&self, p: *mut u8, n: u32) -> bool {
        self.within(0, self.rbs + self.sbs + 144, p, n)
    }

    /// Inside the control area C.
    pub fn in_c(&self, p: *mut u8, n: u32) -> bool {
        self.within(self.rbs + self.sbs, self.rbs + self.sbs + 144, p, n)
    }
}

/// Whether `[p, p+n)` lies in `buf`.
pub fn in_slice(buf: &[u8], p: *mut u8, n: u32) -> bool {
    let b = buf.as_ptr() as usize;
    let p = p as usize;
    p >= b && p.checked_add(n as usize).map_or(false, |e| e <= b + buf.len())
}

/// A property pointing at a 4-byte value.
pub fn prop(ty: i32, value: &u32) -> WEB_SOCKET_PROPERTY {
    WEB_SOCKET_PROPERTY { Type: ty, pvValue: value as *const u32 as PVOID, ulValueSize: 4 }
}

/// Creates a handle (`client` or server).
pub fn create(client: bool, props: &[WEB_SOCKET_PROPERTY]) -> (i32, WEB_SOCKET_HANDLE) {
    let mut h = ptr::null_mut();
    let pp = if props.is_empty() { ptr::null() } else { props.as_ptr() };
    // SAFETY: `props` is a valid array whose values outlive the call.
    let hr = unsafe {
        if client {
            WebSocketCreateClientHandle(pp, props.len() as u32, &mut h)
        } else {
            WebSocketCreateServerHandle(pp, props.len() as u32, &mut h)
        }
    };
    (hr, h)
}

pub fn header(name: &[u8], value: &[u8]) -> WEB_SOCKET_HTTP_HEADER {
    WEB_SOCKET_HTTP_HEADER {
        pcName: if name.is_empty() { ptr::null_mut() } else { name.as_ptr() as PCHAR },
        ulNameLength: name.len() as u32,
        pcValue: if value.is_empty() { ptr::null_mut() } else { value.as_ptr() as PCHAR },
        ulValueLength: value.len() as u32,
    }
}

/// Copies a library-owned header array, checking the §8 rules for returned strings: non-NULL
/// pointers, 7-bit ASCII, NUL-terminated, the terminator not counted.
pub fn read_headers(p: *mut WEB_SOCKET_HTTP_HEADER, n: u32) -> Vec<(String, String)> {
    assert!(!p.is_null() || n == 0, "NULL header array with count {n}");
    (0..n as usize)
        .map(|i| {
            // SAFETY: the library returned `n` headers valid until DeleteHandle.
            let h = unsafe { *p.add(i) };
            let s = |q: PCHAR, len: u32| {
                assert!(!q.is_null(), "returned header string is NULL");
                // SAFETY: `len` bytes plus the NUL terminator are readable.
                let b = unsafe { std::slice::from_raw_parts(q as *const u8, len as usize + 1) };
                assert_eq!(b[len as usize], 0, "returned header string is not NUL-terminated");
                let b = &b[..len as usize];
                assert!(b.iter().all(|c| c.is_ascii() && *c != 0), "returned header is not ASCII: {b:?}");
                String::from_utf8(b.to_vec()).unwrap()
            };
            (s(h.pcName, h.ulNameLength), s(h.pcValue, h.ulValueLength))
        })
        .collect()
}

/// base64(SHA-1(key + GUID)), computed independently of the library.
pub fn expected_accept(key: &[u8]) -> String {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Handshakes a client and a server handle with each other (Microsoft's sample sequence).
pub fn handshake_pair(c: WEB_SOCKET_HANDLE, s: WEB_SOCKET_HANDLE) {
    // SAFETY: valid out-pointers; returned arrays are read before the handles are deleted.
    unsafe {
        let mut req = ptr::null_mut();
        let mut nreq = 0;
        let hr = WebSocketBeginClientHandshake(
            c,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            ptr::null(),
            0,
            &mut req,
            &mut nreq,
        );
        assert_eq!(hr, 0, "BeginClientHandshake");
        let mut resp = ptr::null_mut();
        let mut nresp = 0;
        let hr = WebSocketBeginServerHandshake(
            s,
            ptr::null(),
            ptr::null_mut(),
            0,
            req,
            nreq,
            &mut resp,
            &mut nresp,
        );
        assert_eq!(hr, 0, "BeginServerHandshake");
        let hr =
            WebSocketEndClientHandshake(c, resp, nresp, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        assert_eq!(hr, 0, "EndClientHandshake");
        assert_eq!(WebSocketEndServerHandshake(s), 0, "EndServerHandshake");
    }
}

/// Opens a server handle with .NET's fake handshake (spec §12.2).
pub fn open_server(s: WEB_SOCKET_HANDLE) {
    let names: [&[u8]; 5] =
        [b"Connection", b"Upgrade", b"Host", b"Sec-WebSocket-Version", b"Sec-WebSocket-Key"];
    let values: [&[u8]; 5] = [b"Upgrade", b"websocket", b"", b"13", b"AAAAAAAAAAAAAAAAAAAAAA=="];
    let req: Vec<_> = names.iter().zip(values.iter()).map(|(n, v)| header(n, v)).collect();
    // SAFETY: valid arrays and out-pointers.
    unsafe {
        let mut resp = ptr::null_mut();
        let mut n = 0;
        let hr = WebSocketBeginServerHandshake(
            s,
            ptr::null(),
            ptr::null_mut(),
            0,
            req.as_ptr(),
            5,
            &mut resp,
            &mut n,
        );
        assert_eq!(hr, 0, "BeginServerHandshake (fake request)");
        assert_eq!(WebSocketEndServerHandshake(s), 0);
    }
}

/// Opens a client handle against a response computed from its own key.
pub fn open_client(c: WEB_SOCKET_HANDLE) {
    // SAFETY: valid arrays and out-pointers.
    unsafe {
        let mut req = ptr::null_mut();
        let mut nreq = 0;
        let hr = WebSocketBeginClientHandshake(
            c,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            ptr::null(),
            0,
            &mut req,
            &mut nreq,
        );
        assert_eq!(hr, 0);
        let list = read_headers(req, nreq);
        let key = &list.iter().find(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Key")).unwrap().1;
        let accept = expected_accept(key.as_bytes());
        let resp = [
            header(b"Connection", b"Upgrade"),
            header(b"Upgrade", b"websocket"),
            header(b"Sec-WebSocket-Accept", accept.as_bytes()),
        ];
        let hr = WebSocketEndClientHandshake(
            c,
            resp.as_ptr(),
            3,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(hr, 0);
    }
}

/// A frame decoded from a byte stream by the reference decoder (`decode_frame`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
    pub header_len: usize,
}

/// Reference header decoder written from RFC 6455 §5.2, independent of the library's.
/// Returns None when more bytes are needed.
pub fn decode_frame(b: &[u8]) -> Option<RefFrame> {
    if b.len() < 2 {
        return None;
    }
    let len7 = (b[1] & 0x7F) as u64;
    let (len, mut at) = match len7 {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (u64::from(b[2]) << 8 | u64::from(b[3]), 4)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            (b[2..10].iter().fold(0u64, |a, x| a << 8 | u64::from(*x)), 10)
        }
        n => (n, 2),
    };
    let mask = if b[1] & 0x80 != 0 {
        if b.len() < at + 4 {
            return None;
        }
        at += 4;
        Some([b[at - 4], b[at - 3], b[at - 2], b[at - 1]])
    } else {
        None
    };
    Some(RefFrame {
        fin: b[0] & 0x80 != 0,
        rsv: (b[0] >> 4) & 7,
        opcode: b[0] & 0xF,
        mask,
        len,
        header_len: at,
    })
}

pub fn unmask(data: &mut [u8], key: [u8; 4], offset: u64) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[((offset + i as u64) & 3) as usize];
    }
}
