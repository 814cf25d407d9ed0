//! The Rust peers (tungstenite, fastwebsockets) and the memcpy baseline, doing the same work as
//! the caller loop in ours.rs: input arrives through 4 KiB reads of the same masked wire bytes,
//! each message's payload is copied into the caller's `out` buffer, and sent bytes are copied
//! into the same Sink.
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::wire::{self, ChunkReader, Kind, Sink};
use crate::Runner;

/// The in-memory socket shared by both peers: reads come from the ChunkReader (at most 4 KiB
/// each), writes go to the Sink.
pub struct Mem {
    pub src: ChunkReader,
    pub sink: Sink,
}

impl Read for Mem {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.src.read_into(buf))
    }
}

impl Write for Mem {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf);
        Ok(buf.len())
    }
    #[inline]
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.sink.write(b);
            n += b.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Mem {
    #[inline]
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        // Like a socket read: copy straight into the uninitialised spare capacity (no zeroing).
        unsafe {
            let unfilled = buf.unfilled_mut();
            let n = me.src.read_raw(unfilled.as_mut_ptr() as *mut u8, unfilled.len());
            buf.assume_init(n);
            buf.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Mem {
    #[inline]
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().sink.write(buf);
        Poll::Ready(Ok(buf.len()))
    }
    #[inline]
    fn poll_write_vectored(self: Pin<&mut Self>, _: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write_vectored(self.get_mut(), bufs))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn recv_mem(kind: Kind, size: usize, chunk: usize) -> (Mem, Vec<u8>) {
    let payload = wire::payload(kind, size);
    let src = ChunkReader::new(wire::masked_stream(kind, &payload, wire::STREAM_BYTES), chunk);
    (Mem { src, sink: Sink::new(256) }, payload)
}

fn send_mem(kind: Kind, size: usize) -> (Mem, Vec<u8>) {
    let payload = wire::payload(kind, size);
    let src = ChunkReader::new(vec![0u8; 1], 1);
    (Mem { src, sink: Sink::new(wire::header_len(size, true) + size) }, payload)
}

// ---------------------------------------------------------------- tungstenite

pub mod tung {
    use super::*;
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::Message;

    /// Server: `WebSocket::read()` per message (default config: 128 KiB read buffer, UTF-8
    /// validation of text), payload copied to `out`.
    pub struct Recv {
        ws: WebSocket<Mem>,
        out: Vec<u8>,
        payload: Vec<u8>,
        last: usize,
    }

    impl Recv {
        pub fn new(kind: Kind, size: usize) -> Recv {
            let (mem, payload) = recv_mem(kind, size, crate::READ_CHUNK);
            Recv { ws: WebSocket::from_raw_socket(mem, Role::Server, None), out: vec![0u8; size], payload, last: 0 }
        }
    }

    impl Runner for Recv {
        fn run(&mut self, n: u64) -> u64 {
            for _ in 0..n {
                let m = self.ws.read().expect("tungstenite read");
                let bytes: &[u8] = match &m {
                    Message::Binary(b) => b,
                    Message::Text(t) => t.as_str().as_bytes(),
                    other => panic!("unexpected message {other:?}"),
                };
                self.out[..bytes.len()].copy_from_slice(bytes);
                self.last = bytes.len();
            }
            std::hint::black_box(&self.out);
            n
        }
        fn check(&mut self) -> Result<(), String> {
            crate::check_recv(&self.out[..self.last], &self.payload)
        }
    }

    /// Client: `WebSocket::send()` (write + flush) of a prepared `Message` whose `Bytes` is
    /// shared (clone = refcount, no payload copy); tungstenite masks while copying into its
    /// write buffer, then writes to the sink.
    pub struct Send {
        ws: WebSocket<Mem>,
        msg: Message,
        payload: Vec<u8>,
        kind: Kind,
    }

    impl Send {
        pub fn new(kind: Kind, size: usize) -> Send {
            let (mem, payload) = send_mem(kind, size);
            let bytes = bytes::Bytes::from(payload.clone());
            let msg = if kind.is_text() {
                Message::Text(tungstenite::Utf8Bytes::try_from(bytes).unwrap())
            } else {
                Message::Binary(bytes)
            };
            Send { ws: WebSocket::from_raw_socket(mem, Role::Client, None), msg, payload, kind }
        }
    }

    impl Runner for Send {
        fn run(&mut self, n: u64) -> u64 {
            for _ in 0..n {
                self.ws.send(self.msg.clone()).expect("tungstenite send");
            }
            n
        }
        fn check(&mut self) -> Result<(), String> {
            crate::check_send(self.ws.get_ref().sink.record.as_ref(), self.kind, &self.payload)
        }
    }
}

// ---------------------------------------------------------------- fastwebsockets

pub mod fws {
    use super::*;
    use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
    use tokio::runtime::{Builder, Runtime};

    fn runtime() -> Runtime {
        Builder::new_current_thread().build().unwrap()
    }

    /// Server: `read_frame()` per message (unmasks in its buffer, validates text with simdutf8),
    /// payload copied to `out`. The whole batch of `n` messages runs inside one `block_on` on a
    /// current-thread runtime; the stream is always ready, so no task ever parks.
    pub struct Recv {
        rt: Runtime,
        ws: WebSocket<Mem>,
        out: Vec<u8>,
        payload: Vec<u8>,
        last: usize,
    }

    impl Recv {
        pub fn new(kind: Kind, size: usize) -> Recv {
            let (mem, payload) = recv_mem(kind, size, crate::READ_CHUNK);
            let ws = WebSocket::after_handshake(mem, Role::Server);
            Recv { rt: runtime(), ws, out: vec![0u8; size], payload, last: 0 }
        }
    }

    impl Runner for Recv {
        fn run(&mut self, n: u64) -> u64 {
            let ws = &mut self.ws;
            let out = &mut self.out;
            let last = &mut self.last;
            self.rt.block_on(async move {
                for _ in 0..n {
                    let f = ws.read_frame().await.expect("fastwebsockets read_frame");
                    assert!(f.fin && matches!(f.opcode, OpCode::Binary | OpCode::Text));
                    let p: &[u8] = &f.payload;
                    out[..p.len()].copy_from_slice(p);
                    *last = p.len();
                }
            });
            std::hint::black_box(&self.out);
            n
        }
        fn check(&mut self) -> Result<(), String> {
            crate::check_recv(&self.out[..self.last], &self.payload)
        }
    }

    /// Client: `write_frame(Frame::binary/text(Payload::Borrowed(payload)))`: the caller's
    /// payload stays untouched (as with our library), so fastwebsockets copies it into an owned
    /// buffer to mask it, then writes header + payload (vectored above 1 KiB) to the sink.
    pub struct Send {
        rt: Runtime,
        ws: WebSocket<Mem>,
        payload: Vec<u8>,
        kind: Kind,
        rec: Option<wire::Record>,
    }

    impl Send {
        pub fn new(kind: Kind, size: usize) -> Send {
            let (mem, payload) = send_mem(kind, size);
            let rec = mem.sink.record.clone();
            let ws = WebSocket::after_handshake(mem, Role::Client);
            Send { rt: runtime(), ws, payload, kind, rec }
        }
    }

    impl Runner for Send {
        fn run(&mut self, n: u64) -> u64 {
            let ws = &mut self.ws;
            let payload = &self.payload;
            let text = self.kind.is_text();
            self.rt.block_on(async move {
                for _ in 0..n {
                    let p = Payload::Borrowed(payload);
                    let f = if text { Frame::text(p) } else { Frame::binary(p) };
                    ws.write_frame(f).await.expect("fastwebsockets write_frame");
                }
            });
            n
        }
        fn check(&mut self) -> Result<(), String> {
            crate::check_send(self.rec.as_ref(), self.kind, &self.payload)
        }
    }
}

// ---------------------------------------------------------------- memcpy baseline

pub mod memcpy {
    use super::*;

    /// The caller's own copies with a zero-cost protocol library: the same wire bytes read in
    /// 4 KiB reads into a receive buffer, and each message's payload bytes copied out of it to
    /// `out`. No parsing, unmasking or validation (frame boundaries are known in advance).
    pub struct Recv {
        src: ChunkReader,
        rbuf: Vec<u8>,
        rpos: usize,
        rlen: usize,
        hdr: usize,
        out: Vec<u8>,
    }

    impl Recv {
        pub fn new(kind: Kind, size: usize) -> Recv {
            let (mem, _) = recv_mem(kind, size, crate::READ_CHUNK);
            Recv { src: mem.src, rbuf: vec![0u8; crate::READ_CHUNK], rpos: 0, rlen: 0, hdr: wire::header_len(size, true), out: vec![0u8; size] }
        }
    }

    impl Runner for Recv {
        fn run(&mut self, n: u64) -> u64 {
            let size = self.out.len();
            for _ in 0..n {
                let mut skip = self.hdr;
                let mut off = 0;
                while skip > 0 || off < size {
                    if self.rpos == self.rlen {
                        self.rlen = self.src.read_into(&mut self.rbuf);
                        self.rpos = 0;
                    }
                    let avail = self.rlen - self.rpos;
                    if skip > 0 {
                        let k = skip.min(avail);
                        self.rpos += k;
                        skip -= k;
                        continue;
                    }
                    let k = (size - off).min(avail);
                    self.out[off..off + k].copy_from_slice(&self.rbuf[self.rpos..self.rpos + k]);
                    off += k;
                    self.rpos += k;
                }
                std::hint::black_box(&mut self.out);
            }
            n
        }
        fn check(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    /// One copy of each frame's wire bytes (header + payload) into the sink: what the caller
    /// copies for SEND_TO_NETWORK, with masking for free.
    pub struct Send {
        frame: Vec<u8>,
        sink: Sink,
    }

    impl Send {
        pub fn new(kind: Kind, size: usize) -> Send {
            let payload = wire::payload(kind, size);
            let frame = wire::encode_frame(kind.opcode(), &payload, Some([1, 2, 3, 4]));
            Send { sink: Sink::new(frame.len()), frame }
        }
    }

    impl Runner for Send {
        fn run(&mut self, n: u64) -> u64 {
            for _ in 0..n {
                self.sink.write(std::hint::black_box(&self.frame));
            }
            std::hint::black_box(&self.sink.buf);
            n
        }
        fn check(&mut self) -> Result<(), String> {
            Ok(())
        }
    }
}
