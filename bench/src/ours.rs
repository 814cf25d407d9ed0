//! Our library, driven through its C ABI exactly as a C caller drives websocket.dll
//! (the same calls as tests/common/mod.rs, without the test helper's Vec allocations).
use std::ptr::{self, null_mut};

use websocket::ffi::*;

use crate::wire::{self, ChunkReader, Kind, Sink};
use crate::Runner;

pub const SEND_Q: i32 = 1;
pub const RECV_Q: i32 = 2;
pub const SEND_TO_NETWORK: i32 = 1;
pub const INDICATE_SEND_COMPLETE: i32 = 2;
pub const RECEIVE_FROM_NETWORK: i32 = 3;
pub const INDICATE_RECEIVE_COMPLETE: i32 = 4;
pub const UTF8_MESSAGE: u32 = 0x8000_0000;
pub const UTF8_FRAGMENT: u32 = 0x8000_0001;
pub const BINARY_MESSAGE: u32 = 0x8000_0002;
pub const BINARY_FRAGMENT: u32 = 0x8000_0003;

/// Handle properties: buffer sizes and, optionally, a caller-owned ALLOCATED_BUFFER.
#[derive(Clone, Copy, Debug)]
pub struct Props {
    pub rbs: Option<u32>,
    pub sbs: Option<u32>,
    pub allocated: bool,
}

impl Props {
    pub const DEFAULT: Props = Props { rbs: None, sbs: None, allocated: false };
}

/// What a handle's caller owns for it (the ALLOCATED_BUFFER region), freed after DeleteHandle.
pub struct Owned {
    pub h: WEB_SOCKET_HANDLE,
    /// The ALLOCATED_BUFFER, kept alive until after DeleteHandle (fields drop after `drop`).
    #[allow(dead_code)]
    pub region: Option<Vec<u8>>,
}

impl Drop for Owned {
    fn drop(&mut self) {
        unsafe { WebSocketDeleteHandle(self.h) };
    }
}

pub fn region_len(role_server: bool, p: &Props) -> usize {
    let rbs = p.rbs.unwrap_or(4096) as usize;
    let sbs = p.sbs.unwrap_or(if role_server { 16 } else { 4096 }) as usize;
    rbs + sbs + 144
}

/// Creates a handle. With `p.allocated`, `region` (RBS+SBS+144 bytes) is passed as
/// ALLOCATED_BUFFER; the caller must keep it alive until DeleteHandle.
pub fn create(server: bool, p: &Props, region: Option<&mut Vec<u8>>) -> WEB_SOCKET_HANDLE {
    let rbs = p.rbs.unwrap_or(0);
    let sbs = p.sbs.unwrap_or(0);
    // A fixed array, not a Vec: the allocation counter should see only the library.
    let none = WEB_SOCKET_PROPERTY { Type: 0, pvValue: null_mut(), ulValueSize: 0 };
    let mut props = [none; 3];
    let mut count = 0;
    if p.rbs.is_some() {
        props[count] = WEB_SOCKET_PROPERTY { Type: 0, pvValue: &rbs as *const u32 as PVOID, ulValueSize: 4 };
        count += 1;
    }
    if p.sbs.is_some() {
        props[count] = WEB_SOCKET_PROPERTY { Type: 1, pvValue: &sbs as *const u32 as PVOID, ulValueSize: 4 };
        count += 1;
    }
    let len = region.as_ref().map(|r| r.len()).unwrap_or(0);
    let mut slot: *mut u8 = region.map(|r| r.as_mut_ptr()).unwrap_or(null_mut());
    if !slot.is_null() {
        props[count] = WEB_SOCKET_PROPERTY {
            Type: 3,
            pvValue: &mut slot as *mut *mut u8 as PVOID,
            ulValueSize: len as u32,
        };
        count += 1;
    }
    let mut h = null_mut();
    let hr = unsafe {
        if server {
            WebSocketCreateServerHandle(props.as_ptr(), count as u32, &mut h)
        } else {
            WebSocketCreateClientHandle(props.as_ptr(), count as u32, &mut h)
        }
    };
    assert_eq!(hr, 0, "create handle ({p:?})");
    h
}

fn header(n: &'static str, v: &'static str) -> WEB_SOCKET_HTTP_HEADER {
    WEB_SOCKET_HTTP_HEADER {
        pcName: n.as_ptr() as PCHAR,
        ulNameLength: n.len() as u32,
        pcValue: v.as_ptr() as PCHAR,
        ulValueLength: v.len() as u32,
    }
}

/// .NET's server handshake (spec §12.2): BeginServerHandshake with the five request headers,
/// EndServerHandshake.
pub fn server_handshake(h: WEB_SOCKET_HANDLE) {
    let req = [
        header("Connection", "Upgrade"),
        header("Upgrade", "websocket"),
        header("Host", ""),
        header("Sec-WebSocket-Version", "13"),
        header("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
    ];
    unsafe {
        let mut resp = null_mut();
        let mut n = 0;
        let hr = WebSocketBeginServerHandshake(h, ptr::null(), null_mut(), 0, req.as_ptr(), 5, &mut resp, &mut n);
        assert_eq!(hr, 0, "BeginServerHandshake");
        assert_eq!(WebSocketEndServerHandshake(h), 0, "EndServerHandshake");
    }
}

/// The client handshake, answered by a throw-away server handle. `between` runs around the
/// server's own calls (the allocation counter uses it to leave the server out).
pub fn client_handshake(c: WEB_SOCKET_HANDLE, between: &mut dyn FnMut(bool)) {
    unsafe {
        let mut req = null_mut();
        let mut nreq = 0;
        let hr = WebSocketBeginClientHandshake(c, null_mut(), 0, null_mut(), 0, ptr::null(), 0, &mut req, &mut nreq);
        assert_eq!(hr, 0, "BeginClientHandshake");
        between(false);
        let s = create(true, &Props::DEFAULT, None);
        let mut resp = null_mut();
        let mut nresp = 0;
        let hr = WebSocketBeginServerHandshake(s, ptr::null(), null_mut(), 0, req, nreq, &mut resp, &mut nresp);
        assert_eq!(hr, 0, "BeginServerHandshake");
        // Copy the response headers out so the server can go before the client reads them.
        let owned: Vec<(Vec<u8>, Vec<u8>)> = (0..nresp as usize)
            .map(|i| {
                let x = *resp.add(i);
                (
                    std::slice::from_raw_parts(x.pcName as *const u8, x.ulNameLength as usize).to_vec(),
                    std::slice::from_raw_parts(x.pcValue as *const u8, x.ulValueLength as usize).to_vec(),
                )
            })
            .collect();
        WebSocketDeleteHandle(s);
        let arr: Vec<WEB_SOCKET_HTTP_HEADER> = owned
            .iter()
            .map(|(n, v)| WEB_SOCKET_HTTP_HEADER {
                pcName: n.as_ptr() as PCHAR,
                ulNameLength: n.len() as u32,
                pcValue: v.as_ptr() as PCHAR,
                ulValueLength: v.len() as u32,
            })
            .collect();
        between(true);
        let hr = WebSocketEndClientHandshake(c, arr.as_ptr(), arr.len() as u32, null_mut(), null_mut(), null_mut());
        assert_eq!(hr, 0, "EndClientHandshake");
        between(false);
        drop(arr);
        drop(owned);
        between(true);
    }
}

pub fn open(server: bool, p: &Props) -> Owned {
    let mut region = if p.allocated { Some(vec![0u8; region_len(server, p)]) } else { None };
    let h = create(server, p, region.as_mut());
    if server {
        server_handshake(h);
    } else {
        client_handshake(h, &mut |_| {});
    }
    Owned { h, region }
}

/// Receives one message on a server handle: WebSocketReceive, then GetAction(RECEIVE, 1 slot)
/// until INDICATE_RECEIVE_COMPLETE; each RECEIVE_FROM_NETWORK is filled by one socket read,
/// each indicated chunk is copied to `out` (again for *_FRAGMENT). Returns the message length.
#[inline]
pub fn recv_message(h: WEB_SOCKET_HANDLE, src: &mut ChunkReader, out: &mut [u8]) -> usize {
    let mut off = 0usize;
    unsafe {
        let mut buf = [WEB_SOCKET_BUFFER::data(null_mut(), 0)];
        loop {
            let hr = WebSocketReceive(h, null_mut(), null_mut());
            assert!(hr == 0, "WebSocketReceive {hr:#x}");
            loop {
                let mut count = 1u32;
                let mut action = 0i32;
                let mut ty = 0u32;
                let mut app: PVOID = null_mut();
                let mut tok: PVOID = null_mut();
                let hr = WebSocketGetAction(h, RECV_Q, buf.as_mut_ptr(), &mut count, &mut action, &mut ty, &mut app, &mut tok);
                assert!(hr == 0, "WebSocketGetAction {hr:#x}");
                match action {
                    RECEIVE_FROM_NETWORK => {
                        let (p, cap) = buf[0].bytes();
                        let n = src.read_raw(p, cap as usize);
                        WebSocketCompleteAction(h, tok, n as u32);
                    }
                    INDICATE_RECEIVE_COMPLETE => {
                        let (p, len) = buf[0].bytes();
                        let len = len as usize;
                        out[off..off + len].copy_from_slice(std::slice::from_raw_parts(p, len));
                        off += len;
                        WebSocketCompleteAction(h, tok, 0);
                        match ty {
                            UTF8_MESSAGE | BINARY_MESSAGE => return off,
                            UTF8_FRAGMENT | BINARY_FRAGMENT => break,
                            other => panic!("unexpected buffer type {other:#x}"),
                        }
                    }
                    other => panic!("unexpected receive action {other}"),
                }
            }
        }
    }
}

/// Sends one message on a client handle: WebSocketSend, then GetAction(SEND, 2 slots) until
/// INDICATE_SEND_COMPLETE; every SEND_TO_NETWORK buffer is copied to the sink and completed with
/// the full count.
#[inline]
pub fn send_message(h: WEB_SOCKET_HANDLE, ty: u32, payload: &[u8], sink: &mut Sink) {
    unsafe {
        let mut b = WEB_SOCKET_BUFFER::data(payload.as_ptr() as *mut u8, payload.len() as u32);
        let hr = WebSocketSend(h, ty, &mut b, null_mut());
        assert!(hr == 0, "WebSocketSend {hr:#x}");
        let mut bufs = [WEB_SOCKET_BUFFER::data(null_mut(), 0); 2];
        loop {
            let mut count = 2u32;
            let mut action = 0i32;
            let mut bty = 0u32;
            let mut app: PVOID = null_mut();
            let mut tok: PVOID = null_mut();
            let hr = WebSocketGetAction(h, SEND_Q, bufs.as_mut_ptr(), &mut count, &mut action, &mut bty, &mut app, &mut tok);
            assert!(hr == 0, "WebSocketGetAction {hr:#x}");
            match action {
                SEND_TO_NETWORK => {
                    let mut total = 0u32;
                    for b in &bufs[..count as usize] {
                        let (p, len) = b.bytes();
                        sink.write_raw(p, len as usize);
                        total += len;
                    }
                    WebSocketCompleteAction(h, tok, total);
                }
                INDICATE_SEND_COMPLETE => {
                    WebSocketCompleteAction(h, tok, 0);
                    return;
                }
                other => panic!("unexpected send action {other}"),
            }
        }
    }
}

pub struct Recv {
    pub handle: Owned,
    pub src: ChunkReader,
    pub out: Vec<u8>,
    pub payload: Vec<u8>,
    pub last: usize,
}

impl Recv {
    pub fn new(kind: Kind, size: usize, p: &Props, read_chunk: usize) -> Recv {
        let payload = wire::payload(kind, size);
        let src = ChunkReader::new(wire::masked_stream(kind, &payload, wire::STREAM_BYTES), read_chunk);
        Recv { handle: open(true, p), src, out: vec![0u8; size], payload, last: 0 }
    }
}

impl Runner for Recv {
    fn run(&mut self, n: u64) -> u64 {
        for _ in 0..n {
            self.last = recv_message(self.handle.h, &mut self.src, &mut self.out);
        }
        std::hint::black_box(&self.out);
        n
    }
    fn check(&mut self) -> Result<(), String> {
        crate::check_recv(&self.out[..self.last], &self.payload)
    }
}

pub struct Send {
    pub handle: Owned,
    pub sink: Sink,
    pub payload: Vec<u8>,
    pub ty: u32,
    pub kind: Kind,
}

impl Send {
    pub fn new(kind: Kind, size: usize, p: &Props) -> Send {
        let payload = wire::payload(kind, size);
        let ty = if kind.is_text() { UTF8_MESSAGE } else { BINARY_MESSAGE };
        Send { handle: open(false, p), sink: Sink::new(wire::header_len(size, true) + size), payload, ty, kind }
    }
}

impl Runner for Send {
    fn run(&mut self, n: u64) -> u64 {
        for _ in 0..n {
            send_message(self.handle.h, self.ty, &self.payload, &mut self.sink);
        }
        std::hint::black_box(&self.sink.buf);
        n
    }
    fn check(&mut self) -> Result<(), String> {
        crate::check_send(self.sink.record.as_ref(), self.kind, &self.payload)
    }
}

/// The floor of one exported call on a valid, open handle: an export that finds nothing to do,
/// so what it costs is the per-call work every export does (handle decode and generation check,
/// the handle's lock, the panic guard, argument checks and outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorCall {
    /// `WebSocketCompleteAction` with a token that belongs to no outstanding action (ignored).
    Complete,
    /// `WebSocketGetAction(SEND, 2 slots)` on an idle handle: NO_ACTION, with all its outputs.
    NoAction,
}

/// A token no action of the handle carries: odd like every token, but nothing is outstanding.
pub const FOREIGN_TOKEN: usize = 0x7777_7777;

pub struct Floor {
    pub handle: Owned,
    pub call: FloorCall,
}

impl Floor {
    pub fn new(call: FloorCall, p: &Props) -> Floor {
        Floor { handle: open(false, p), call }
    }
}

impl Runner for Floor {
    fn run(&mut self, n: u64) -> u64 {
        let h = self.handle.h;
        unsafe {
            match self.call {
                FloorCall::Complete => {
                    for _ in 0..n {
                        WebSocketCompleteAction(h, FOREIGN_TOKEN as PVOID, 0);
                    }
                }
                FloorCall::NoAction => {
                    let mut bufs = [WEB_SOCKET_BUFFER::data(null_mut(), 0); 2];
                    for _ in 0..n {
                        let mut count = 2u32;
                        let mut action = -1i32;
                        let mut bty = 0u32;
                        let mut app: PVOID = null_mut();
                        let mut tok: PVOID = null_mut();
                        let hr = WebSocketGetAction(
                            h,
                            SEND_Q,
                            bufs.as_mut_ptr(),
                            &mut count,
                            &mut action,
                            &mut bty,
                            &mut app,
                            &mut tok,
                        );
                        assert!(hr == 0 && action == 0 && count == 0, "expected NO_ACTION");
                    }
                }
            }
        }
        n
    }
    fn check(&mut self) -> Result<(), String> {
        Ok(())
    }
}
