//! wslay (C, Debian's libwslay), linked by build.rs. Receive uses the event API as a server
//! with no_buffering (the library unmasks, checks the frame and validates UTF-8 byte by byte;
//! payload chunks arrive in `on_frame_recv_chunk` and are copied to `out`); reads go through
//! `recv_callback`, at most 4 KiB each (wslay's own input buffer is 4 KiB). Send uses the frame
//! API as a client (`wslay_frame_send` masks through a 4 KiB stack buffer into `send_callback`,
//! which copies to the sink): the event API would first copy every message into a malloc'd
//! queue entry, so the frame API is wslay's fastest path. Masking keys come from xorshift in the
//! genmask callback (cheaper than our ChaCha12, in the peer's favour).
#![allow(non_camel_case_types)]
use std::os::raw::{c_int, c_void};
use std::ptr::null_mut;

use crate::wire::{self, ChunkReader, Kind, Rng, Sink};
use crate::Runner;

type Ctx = *mut c_void;
const WSLAY_ERR_WOULDBLOCK: c_int = -401;

#[repr(C)]
struct start_arg {
    fin: u8,
    rsv: u8,
    opcode: u8,
    payload_length: u64,
}

#[repr(C)]
struct chunk_arg {
    data: *const u8,
    data_length: usize,
}

#[repr(C)]
struct event_callbacks {
    recv: Option<unsafe extern "C" fn(Ctx, *mut u8, usize, c_int, *mut c_void) -> isize>,
    send: Option<unsafe extern "C" fn(Ctx, *const u8, usize, c_int, *mut c_void) -> isize>,
    genmask: Option<unsafe extern "C" fn(Ctx, *mut u8, usize, *mut c_void) -> c_int>,
    on_frame_recv_start: Option<unsafe extern "C" fn(Ctx, *const start_arg, *mut c_void)>,
    on_frame_recv_chunk: Option<unsafe extern "C" fn(Ctx, *const chunk_arg, *mut c_void)>,
    on_frame_recv_end: Option<unsafe extern "C" fn(Ctx, *mut c_void)>,
    on_msg_recv: Option<unsafe extern "C" fn(Ctx, *const c_void, *mut c_void)>,
}

#[repr(C)]
struct frame_callbacks {
    send: Option<unsafe extern "C" fn(*const u8, usize, c_int, *mut c_void) -> isize>,
    recv: Option<unsafe extern "C" fn(*mut u8, usize, c_int, *mut c_void) -> isize>,
    genmask: Option<unsafe extern "C" fn(*mut u8, usize, *mut c_void) -> c_int>,
}

#[repr(C)]
struct frame_iocb {
    fin: u8,
    rsv: u8,
    opcode: u8,
    payload_length: u64,
    mask: u8,
    data: *const u8,
    data_length: usize,
}

extern "C" {
    fn wslay_event_context_server_init(ctx: *mut Ctx, cb: *const event_callbacks, user: *mut c_void) -> c_int;
    fn wslay_event_context_free(ctx: Ctx);
    fn wslay_event_config_set_no_buffering(ctx: Ctx, val: c_int);
    fn wslay_event_recv(ctx: Ctx) -> c_int;
    fn wslay_event_set_error(ctx: Ctx, err: c_int);
    fn wslay_frame_context_init(ctx: *mut Ctx, cb: *const frame_callbacks, user: *mut c_void) -> c_int;
    fn wslay_frame_context_free(ctx: Ctx);
    fn wslay_frame_send(ctx: Ctx, iocb: *mut frame_iocb) -> isize;
}

struct RecvState {
    src: ChunkReader,
    out: Vec<u8>,
    off: usize,
    last: usize,
    msgs: u64,
    target: u64,
}

unsafe extern "C" fn recv_cb(ctx: Ctx, buf: *mut u8, len: usize, _: c_int, user: *mut c_void) -> isize {
    let st = &mut *(user as *mut RecvState);
    if st.msgs >= st.target {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    st.src.read_raw(buf, len) as isize
}

unsafe extern "C" fn start_cb(_: Ctx, _: *const start_arg, user: *mut c_void) {
    (*(user as *mut RecvState)).off = 0;
}

unsafe extern "C" fn chunk_cb(_: Ctx, arg: *const chunk_arg, user: *mut c_void) {
    let st = &mut *(user as *mut RecvState);
    let a = &*arg;
    let src = std::slice::from_raw_parts(a.data, a.data_length);
    st.out[st.off..st.off + a.data_length].copy_from_slice(src);
    st.off += a.data_length;
}

unsafe extern "C" fn end_cb(_: Ctx, user: *mut c_void) {
    let st = &mut *(user as *mut RecvState);
    st.last = st.off;
    st.msgs += 1;
}

pub struct Recv {
    ctx: Ctx,
    st: Box<RecvState>,
    payload: Vec<u8>,
}

impl Recv {
    pub fn new(kind: Kind, size: usize) -> Recv {
        let payload = wire::payload(kind, size);
        let src = ChunkReader::new(wire::masked_stream(kind, &payload, wire::STREAM_BYTES), crate::READ_CHUNK);
        let mut st = Box::new(RecvState { src, out: vec![0u8; size], off: 0, last: 0, msgs: 0, target: 0 });
        let cb = event_callbacks {
            recv: Some(recv_cb),
            send: None,
            genmask: None,
            on_frame_recv_start: Some(start_cb),
            on_frame_recv_chunk: Some(chunk_cb),
            on_frame_recv_end: Some(end_cb),
            on_msg_recv: None,
        };
        let mut ctx = null_mut();
        unsafe {
            assert_eq!(wslay_event_context_server_init(&mut ctx, &cb, &mut *st as *mut RecvState as *mut c_void), 0);
            wslay_event_config_set_no_buffering(ctx, 1);
        }
        Recv { ctx, st, payload }
    }
}

impl Drop for Recv {
    fn drop(&mut self) {
        unsafe { wslay_event_context_free(self.ctx) };
    }
}

impl Runner for Recv {
    /// wslay_event_recv loops until the read callback would block; the callback says so once
    /// `n` messages are done, but frames already in wslay's 4 KiB buffer are still processed,
    /// so the count may exceed `n` (the true count is returned and used).
    fn run(&mut self, n: u64) -> u64 {
        let before = self.st.msgs;
        self.st.target = before + n;
        let r = unsafe { wslay_event_recv(self.ctx) };
        assert_eq!(r, 0, "wslay_event_recv");
        std::hint::black_box(&self.st.out);
        self.st.msgs - before
    }
    fn check(&mut self) -> Result<(), String> {
        crate::check_recv(&self.st.out[..self.st.last], &self.payload)
    }
}

struct SendState {
    sink: Sink,
    rng: Rng,
}

unsafe extern "C" fn send_cb(data: *const u8, len: usize, _: c_int, user: *mut c_void) -> isize {
    (*(user as *mut SendState)).sink.write_raw(data, len);
    len as isize
}

unsafe extern "C" fn no_recv_cb(_: *mut u8, _: usize, _: c_int, _: *mut c_void) -> isize {
    -1
}

unsafe extern "C" fn genmask_cb(buf: *mut u8, len: usize, user: *mut c_void) -> c_int {
    let st = &mut *(user as *mut SendState);
    let k = st.rng.next().to_le_bytes();
    std::ptr::copy_nonoverlapping(k.as_ptr(), buf, len.min(8));
    0
}

pub struct Send {
    ctx: Ctx,
    st: Box<SendState>,
    payload: Vec<u8>,
    kind: Kind,
    rec: Option<wire::Record>,
}

impl Send {
    pub fn new(kind: Kind, size: usize) -> Send {
        let payload = wire::payload(kind, size);
        let sink = Sink::new(wire::header_len(size, true) + size);
        let rec = sink.record.clone();
        let mut st = Box::new(SendState { sink, rng: Rng::new(42) });
        let cb = frame_callbacks { send: Some(send_cb), recv: Some(no_recv_cb), genmask: Some(genmask_cb) };
        let mut ctx = null_mut();
        unsafe {
            assert_eq!(wslay_frame_context_init(&mut ctx, &cb, &mut *st as *mut SendState as *mut c_void), 0);
        }
        Send { ctx, st, payload, kind, rec }
    }
}

impl Drop for Send {
    fn drop(&mut self) {
        unsafe { wslay_frame_context_free(self.ctx) };
    }
}

impl Runner for Send {
    fn run(&mut self, n: u64) -> u64 {
        let _ = &self.st;
        for _ in 0..n {
            let mut iocb = frame_iocb {
                fin: 1,
                rsv: 0,
                opcode: self.kind.opcode(),
                payload_length: self.payload.len() as u64,
                mask: 1,
                data: self.payload.as_ptr(),
                data_length: self.payload.len(),
            };
            loop {
                let r = unsafe { wslay_frame_send(self.ctx, &mut iocb) };
                assert!(r >= 0, "wslay_frame_send {r}");
                let r = r as usize;
                iocb.data = unsafe { iocb.data.add(r) };
                iocb.data_length -= r;
                if iocb.data_length == 0 {
                    break;
                }
            }
        }
        n
    }
    fn check(&mut self) -> Result<(), String> {
        crate::check_send(self.rec.as_ref(), self.kind, &self.payload)
    }
}
