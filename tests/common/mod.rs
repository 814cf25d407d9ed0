//! Test helpers: a thin wrapper that drives the C ABI exactly as a C caller would, plus an
//! in-memory pump that connects a client handle to a server handle.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ptr;

use websocket::ffi::*;

pub const E_INVALIDARG: i32 = 0x8007_0057_u32 as i32;
pub const E_INVALID_PROTOCOL_OPERATION: i32 = 0x8376_0001_u32 as i32;
pub const E_INVALID_PROTOCOL_FORMAT: i32 = 0x8376_0002_u32 as i32;

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

/// One action as GetAction reported it.
#[derive(Debug, Clone)]
pub struct Act {
    pub hr: i32,
    pub action: i32,
    pub buffers: Vec<WEB_SOCKET_BUFFER>,
    pub ty: u32,
    pub app: usize,
    pub token: usize,
}

impl Act {
    /// The bytes of buffer `i` (Data arm).
    pub fn bytes(&self, i: usize) -> Vec<u8> {
        let (p, n) = self.buffers[i].bytes();
        if n == 0 {
            return Vec::new();
        }
        // SAFETY: the library guarantees the buffer is readable until CompleteAction.
        unsafe { std::slice::from_raw_parts(p, n as usize).to_vec() }
    }

    /// All buffers concatenated.
    pub fn all_bytes(&self) -> Vec<u8> {
        (0..self.buffers.len()).flat_map(|i| self.bytes(i)).collect()
    }

    pub fn reason_ptr(&self) -> *mut u8 {
        self.buffers[0].bytes().0
    }

    pub fn status(&self) -> u16 {
        self.buffers[0].status()
    }
}

/// A handle driven through the exports.
pub struct Handle(pub WEB_SOCKET_HANDLE);

// SAFETY: a handle is an opaque value; every export may be called from any thread (spec §11).
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

pub const APP_SENTINEL: usize = 0xDEAD_BEEF;

impl Handle {
    pub fn client(props: &[WEB_SOCKET_PROPERTY]) -> Handle {
        let mut h = ptr::null_mut();
        let hr = unsafe { WebSocketCreateClientHandle(props.as_ptr(), props.len() as u32, &mut h) };
        assert_eq!(hr, 0, "create client");
        Handle(h)
    }

    pub fn server(props: &[WEB_SOCKET_PROPERTY]) -> Handle {
        let mut h = ptr::null_mut();
        let hr = unsafe { WebSocketCreateServerHandle(props.as_ptr(), props.len() as u32, &mut h) };
        assert_eq!(hr, 0, "create server");
        Handle(h)
    }

    /// GetAction with `cap` slots.
    pub fn get(&self, queue: i32, cap: usize) -> Act {
        let mut bufs = vec![WEB_SOCKET_BUFFER::data(ptr::null_mut(), 0); cap];
        let mut count = cap as u32;
        let mut action = -1;
        let mut ty = 0xFFFF_FFFF;
        let mut app = APP_SENTINEL as PVOID;
        let mut ctx = ptr::null_mut();
        let hr = unsafe {
            WebSocketGetAction(
                self.0,
                queue,
                bufs.as_mut_ptr(),
                &mut count,
                &mut action,
                &mut ty,
                &mut app,
                &mut ctx,
            )
        };
        bufs.truncate(count as usize);
        Act { hr, action, buffers: bufs, ty, app: app as usize, token: ctx as usize }
    }

    pub fn complete(&self, act: &Act, n: u32) {
        unsafe { WebSocketCompleteAction(self.0, act.token as PVOID, n) };
    }

    /// Carries out the RECEIVE_FROM_NETWORK action `act`: moves up to `max` bytes from the front
    /// of `input` into its buffer (at most its capacity) and completes it with that count.
    pub fn read_into(&self, act: &Act, input: &mut VecDeque<u8>, max: usize) {
        let (p, cap) = act.buffers[0].bytes();
        let n = input.len().min(cap as usize).min(max);
        for i in 0..n {
            unsafe { *p.add(i) = input.pop_front().unwrap() };
        }
        self.complete(act, n as u32);
    }

    pub fn send(&self, ty: u32, payload: &[u8], ctx: usize) -> i32 {
        let mut b = WEB_SOCKET_BUFFER::data(payload.as_ptr() as *mut u8, payload.len() as u32);
        unsafe { WebSocketSend(self.0, ty, &mut b, ctx as PVOID) }
    }

    pub fn send_close(&self, status: u16, reason: &[u8], ctx: usize) -> i32 {
        let mut b = WEB_SOCKET_BUFFER::close(reason.as_ptr() as *mut u8, reason.len() as u32, status);
        unsafe { WebSocketSend(self.0, CLOSE, &mut b, ctx as PVOID) }
    }

    pub fn send_null(&self, ty: u32, ctx: usize) -> i32 {
        unsafe { WebSocketSend(self.0, ty, ptr::null_mut(), ctx as PVOID) }
    }

    pub fn receive(&self, ctx: usize) -> i32 {
        unsafe { WebSocketReceive(self.0, ptr::null_mut(), ctx as PVOID) }
    }

    pub fn abort(&self) {
        unsafe { WebSocketAbortHandle(self.0) };
    }

    /// Runs send-queue actions until NO_ACTION, returning the bytes written and the
    /// INDICATE_SEND_COMPLETE contexts seen.
    pub fn drain_send(&self, queue: i32, cap: usize) -> (Vec<u8>, Vec<usize>) {
        let mut wire = Vec::new();
        let mut done = Vec::new();
        for _ in 0..1_000_000 {
            let a = self.get(queue, cap);
            assert_eq!(a.hr, 0, "GetAction failed while sending");
            match a.action {
                NO_ACTION => return (wire, done),
                SEND_TO_NETWORK => {
                    let b = a.all_bytes();
                    wire.extend_from_slice(&b);
                    self.complete(&a, b.len() as u32);
                }
                INDICATE_SEND_COMPLETE => {
                    done.push(a.app);
                    self.complete(&a, 0);
                }
                other => panic!("unexpected action {other} on the send queue"),
            }
        }
        panic!("send never finished");
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { WebSocketDeleteHandle(self.0) };
    }
}

pub fn prop(ty: i32, value: *const u32) -> WEB_SOCKET_PROPERTY {
    WEB_SOCKET_PROPERTY { Type: ty, pvValue: value as PVOID, ulValueSize: 4 }
}

/// Header (name, value) pairs out of a returned array.
pub fn header_list(p: *mut WEB_SOCKET_HTTP_HEADER, n: u32) -> Vec<(String, String)> {
    (0..n as usize)
        .map(|i| unsafe {
            let h = *p.add(i);
            let name = std::slice::from_raw_parts(h.pcName as *const u8, h.ulNameLength as usize);
            let value = std::slice::from_raw_parts(h.pcValue as *const u8, h.ulValueLength as usize);
            (String::from_utf8(name.to_vec()).unwrap(), String::from_utf8(value.to_vec()).unwrap())
        })
        .collect()
}

/// Request/response header arrays built from string pairs (the strings must outlive the array).
pub fn header_array(list: &[(&str, &str)]) -> Vec<WEB_SOCKET_HTTP_HEADER> {
    list.iter()
        .map(|(n, v)| WEB_SOCKET_HTTP_HEADER {
            pcName: n.as_ptr() as PCHAR,
            ulNameLength: n.len() as u32,
            pcValue: v.as_ptr() as PCHAR,
            ulValueLength: v.len() as u32,
        })
        .collect()
}

/// Client and server handles that completed the handshake with each other.
pub fn open_pair(
    client_props: &[WEB_SOCKET_PROPERTY],
    server_props: &[WEB_SOCKET_PROPERTY],
) -> (Handle, Handle) {
    let c = Handle::client(client_props);
    let s = Handle::server(server_props);
    unsafe {
        let mut req = ptr::null_mut();
        let mut nreq = 0;
        let hr = WebSocketBeginClientHandshake(
            c.0,
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
        let mut resp = ptr::null_mut();
        let mut nresp = 0;
        let hr = WebSocketBeginServerHandshake(
            s.0,
            ptr::null(),
            ptr::null_mut(),
            0,
            req,
            nreq,
            &mut resp,
            &mut nresp,
        );
        assert_eq!(hr, 0);
        let hr =
            WebSocketEndClientHandshake(c.0, resp, nresp, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        assert_eq!(hr, 0);
        assert_eq!(WebSocketEndServerHandshake(s.0), 0);
    }
    (c, s)
}

/// WebSocketBeginServerHandshake on `s` with the request headers `req`, no subprotocol and no
/// extension selected: the HRESULT and the response header array.
pub fn begin_server_handshake(
    s: &Handle,
    req: &[WEB_SOCKET_HTTP_HEADER],
) -> (i32, *mut WEB_SOCKET_HTTP_HEADER, u32) {
    let (mut resp, mut n) = (ptr::null_mut(), 0);
    let hr = unsafe {
        WebSocketBeginServerHandshake(
            s.0,
            ptr::null(),
            ptr::null_mut(),
            0,
            req.as_ptr(),
            req.len() as u32,
            &mut resp,
            &mut n,
        )
    };
    (hr, resp, n)
}

/// A server handle after .NET's fake handshake (spec §12.2).
pub fn open_server(props: &[WEB_SOCKET_PROPERTY]) -> Handle {
    let s = Handle::server(props);
    let req = header_array(&[
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Host", ""),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
    ]);
    assert_eq!(begin_server_handshake(&s, &req).0, 0);
    assert_eq!(unsafe { WebSocketEndServerHandshake(s.0) }, 0);
    s
}

/// What a receiver saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(u32, Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Option<Vec<u8>>),
}

/// Feeds bytes from `input` to `h`'s RECEIVE_FROM_NETWORK actions (at most `chunk` bytes per read)
/// and collects one receive operation's result per call, reassembling fragments into messages.
/// Pong replies the handle sends are appended to `output`. Returns None when the input ran dry.
pub fn receive_event(
    h: &Handle,
    input: &mut VecDeque<u8>,
    output: &mut Vec<u8>,
    chunk: usize,
) -> Option<Event> {
    let mut message: Vec<u8> = Vec::new();
    loop {
        assert_eq!(h.receive(0x5EC), 0, "WebSocketReceive");
        loop {
            let a = h.get(RECEIVE, 1);
            assert_eq!(a.hr, 0, "GetAction(RECEIVE) failed");
            match a.action {
                RECEIVE_FROM_NETWORK => {
                    assert_eq!(a.buffers.len(), 1);
                    assert_eq!(a.app, 0x5EC);
                    if input.is_empty() {
                        h.complete(&a, 0);
                        // The cancelled receive completes as an aborted close indication.
                        let ind = h.get(RECEIVE, 1);
                        assert_eq!(ind.action, INDICATE_RECEIVE_COMPLETE);
                        assert_eq!((ind.ty, ind.status()), (CLOSE, 1006));
                        h.complete(&ind, 0);
                        return None;
                    }
                    h.read_into(&a, input, chunk);
                }
                SEND_TO_NETWORK => {
                    assert_eq!(a.ty, PING_PONG, "automatic pong type");
                    assert_eq!(a.buffers.len(), 1, "automatic pong is one buffer");
                    assert_eq!(a.app, APP_SENTINEL, "automatic pong has no application context");
                    let b = a.all_bytes();
                    output.extend_from_slice(&b);
                    h.complete(&a, b.len() as u32);
                }
                INDICATE_RECEIVE_COMPLETE => {
                    assert_eq!(a.buffers.len(), 1);
                    assert_eq!(a.app, 0x5EC);
                    let ty = a.ty;
                    let event = match ty {
                        UTF8_FRAGMENT | BINARY_FRAGMENT => {
                            message.extend_from_slice(&a.bytes(0));
                            None
                        }
                        UTF8_MESSAGE | BINARY_MESSAGE => {
                            message.extend_from_slice(&a.bytes(0));
                            Some(Event::Message(ty, std::mem::take(&mut message)))
                        }
                        PING_PONG => Some(Event::Pong(a.bytes(0))),
                        CLOSE => {
                            let reason = if a.reason_ptr().is_null() { None } else { Some(a.bytes(0)) };
                            Some(Event::Close(a.status(), reason))
                        }
                        other => panic!("unexpected buffer type {other:#x}"),
                    };
                    h.complete(&a, 0);
                    if let Some(e) = event {
                        return Some(e);
                    }
                    break;
                }
                NO_ACTION => panic!("NO_ACTION while a receive is pending"),
                other => panic!("unexpected action {other}"),
            }
        }
    }
}
