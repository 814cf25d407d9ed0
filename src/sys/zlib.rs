//! Raw DEFLATE (RFC 1951) streams over zlib, for permessage-deflate (RFC 7692).
//!
//! zlib is built from source into the library (`libz-sys` with its `static` feature), so nothing
//! extra ships with `websocket.dll` / `libwebsocket.so`, and its symbols stay local. zlib was
//! chosen because it can limit its compression window below 32 KiB (RFC 7692's
//! `*_max_window_bits`, down to 8); its memory comes from Rust's global allocator through
//! `zalloc`/`zfree`, counted per stream ([`Deflater::memory`], [`Inflater::memory`]).
//!
//! Both types own a boxed `z_stream` (zlib keeps a pointer back to it, so it never moves) and
//! free it on drop. Every call hands zlib exactly the slices it is given.

use std::alloc::{alloc, dealloc, Layout};
use std::os::raw::{c_int, c_uint, c_void};

use libz_sys as z;

/// The outcome of one [`Deflater::compress`] or [`Inflater::inflate`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Output bytes written.
    pub produced: usize,
    /// The stream ended (a block with BFINAL was completed; inflate only).
    pub stream_end: bool,
}

/// zlib refused: invalid compressed data, or it could not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZlibError {
    /// The input is not valid DEFLATE data.
    Data,
    /// An allocation failed.
    Memory,
    /// Any other zlib failure (bad parameters; an internal bug).
    Stream,
}

/// Alignment of every block handed to zlib, and the size of the header that remembers its size.
const ALIGN: usize = 16;

struct Stream {
    z: z::z_stream,
    /// Bytes currently allocated by zlib for this stream (headers included).
    allocated: usize,
    ready: bool,
}

impl Stream {
    fn new() -> Box<Stream> {
        Box::new(Stream {
            z: z::z_stream {
                next_in: core::ptr::null_mut(),
                avail_in: 0,
                total_in: 0,
                next_out: core::ptr::null_mut(),
                avail_out: 0,
                total_out: 0,
                msg: core::ptr::null_mut(),
                state: core::ptr::null_mut(),
                zalloc,
                zfree,
                opaque: core::ptr::null_mut(),
                data_type: 0,
                adler: 0,
                reserved: 0,
            },
            allocated: 0,
            ready: false,
        })
    }

    fn set_opaque(self: &mut Box<Stream>) {
        let counter: *mut usize = &mut self.allocated;
        self.z.opaque = counter as *mut c_void;
    }

    /// Runs `op` (deflate or inflate) over `input` into `output`.
    fn run(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        op: unsafe extern "C" fn(z::z_streamp, c_int) -> c_int,
        flush: c_int,
    ) -> Result<Progress, ZlibError> {
        let avail_in = input.len().min(c_uint::MAX as usize);
        let avail_out = output.len().min(c_uint::MAX as usize);
        self.z.next_in = input.as_ptr() as *mut u8;
        self.z.avail_in = avail_in as c_uint;
        self.z.next_out = output.as_mut_ptr();
        self.z.avail_out = avail_out as c_uint;
        // SAFETY: the stream was initialised (ready) and is pinned in its Box; next_in/next_out
        // describe the caller's slices exactly, which outlive this call.
        let rc = unsafe { op(&mut self.z, flush) };
        let consumed = avail_in - self.z.avail_in as usize;
        let produced = avail_out - self.z.avail_out as usize;
        self.z.next_in = core::ptr::null_mut();
        self.z.avail_in = 0;
        self.z.next_out = core::ptr::null_mut();
        self.z.avail_out = 0;
        match rc {
            z::Z_OK | z::Z_BUF_ERROR => Ok(Progress { consumed, produced, stream_end: false }),
            z::Z_STREAM_END => Ok(Progress { consumed, produced, stream_end: true }),
            z::Z_DATA_ERROR | z::Z_NEED_DICT => Err(ZlibError::Data),
            z::Z_MEM_ERROR => Err(ZlibError::Memory),
            _ => Err(ZlibError::Stream),
        }
    }
}

fn init_error(rc: c_int) -> ZlibError {
    if rc == z::Z_MEM_ERROR {
        ZlibError::Memory
    } else {
        ZlibError::Stream
    }
}

/// A raw DEFLATE compressor.
pub struct Deflater {
    s: Box<Stream>,
}

// SAFETY: the stream is only touched through &mut self; zlib keeps no thread affinity.
unsafe impl Send for Deflater {}

impl Deflater {
    /// A compressor with a window of `2^window_bits` bytes (9..=15; zlib's raw mode has no 8,
    /// and at 9 it never emits a distance over 250, so 9 is also correct when a peer announced
    /// a window of 256 bytes), compression `level` 0..=9 and zlib's default memory level 8.
    pub fn new(window_bits: u8, level: u8) -> Result<Deflater, ZlibError> {
        let bits = c_int::from(window_bits.clamp(9, 15));
        let mut s = Stream::new();
        s.set_opaque();
        // SAFETY: `s.z` is a zeroed stream with our allocator, pinned in its Box; the version
        // string and struct size are zlib's own, as deflateInit2 expects.
        let rc = unsafe {
            z::deflateInit2_(
                &mut s.z,
                c_int::from(level.min(9)),
                z::Z_DEFLATED,
                -bits,
                8,
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                core::mem::size_of::<z::z_stream>() as c_int,
            )
        };
        if rc != z::Z_OK {
            return Err(init_error(rc));
        }
        s.ready = true;
        Ok(Deflater { s })
    }

    /// Compresses `input` into `output`; with `sync_flush` the output ends with an empty stored
    /// block (`00 00 ff ff`) once all input is consumed and the output had room. Call again
    /// with the unconsumed rest (or an empty input when flushing) while output fills up.
    pub fn compress(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        sync_flush: bool,
    ) -> Result<Progress, ZlibError> {
        let flush = if sync_flush { z::Z_SYNC_FLUSH } else { z::Z_NO_FLUSH };
        self.s.run(input, output, z::deflate, flush)
    }

    /// Forgets the history (no context takeover), keeping the parameters and the memory.
    pub fn reset(&mut self) {
        // SAFETY: an initialised stream.
        unsafe { z::deflateReset(&mut self.s.z) };
    }

    /// Bytes zlib allocated for this stream, plus the stream itself.
    pub fn memory(&self) -> usize {
        self.s.allocated + core::mem::size_of::<Stream>()
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        if self.s.ready {
            // SAFETY: an initialised stream, ended once.
            unsafe { z::deflateEnd(&mut self.s.z) };
        }
    }
}

/// A raw DEFLATE decompressor with a 32 KiB window (it accepts data compressed with any
/// smaller window).
pub struct Inflater {
    s: Box<Stream>,
}

// SAFETY: as for Deflater.
unsafe impl Send for Inflater {}

impl Inflater {
    /// A decompressor for raw DEFLATE data with any window up to 32 KiB.
    pub fn new() -> Result<Inflater, ZlibError> {
        let mut s = Stream::new();
        s.set_opaque();
        // SAFETY: as in Deflater::new.
        let rc = unsafe {
            z::inflateInit2_(&mut s.z, -15, z::zlibVersion(), core::mem::size_of::<z::z_stream>() as c_int)
        };
        if rc != z::Z_OK {
            return Err(init_error(rc));
        }
        s.ready = true;
        Ok(Inflater { s })
    }

    /// Inflates from `input` into `output`. `Progress::stream_end` reports a completed final
    /// block; the stream must then be [`reset`](Inflater::reset) before more data.
    pub fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, ZlibError> {
        self.s.run(input, output, z::inflate, z::Z_SYNC_FLUSH)
    }

    /// Forgets the history and any partial block.
    pub fn reset(&mut self) {
        // SAFETY: an initialised stream.
        unsafe { z::inflateReset(&mut self.s.z) };
    }

    /// Bytes zlib allocated for this stream (its window is allocated at the first output), plus
    /// the stream itself.
    pub fn memory(&self) -> usize {
        self.s.allocated + core::mem::size_of::<Stream>()
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        if self.s.ready {
            // SAFETY: an initialised stream, ended once.
            unsafe { z::inflateEnd(&mut self.s.z) };
        }
    }
}

/// zlib's allocator: Rust's global allocator, with the block size kept in a 16-byte header and
/// added to the stream's counter (`opaque`).
unsafe extern "C" fn zalloc(opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    let bytes = match (items as usize).checked_mul(size as usize).and_then(|n| n.checked_add(ALIGN)) {
        Some(n) => n,
        None => return core::ptr::null_mut(),
    };
    let layout = match Layout::from_size_align(bytes, ALIGN) {
        Ok(l) => l,
        Err(_) => return core::ptr::null_mut(),
    };
    // SAFETY: a non-zero size (at least ALIGN) and a valid layout.
    let p = unsafe { alloc(layout) };
    if p.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: `p` holds at least ALIGN bytes, aligned for usize; `opaque` is the stream's
    // counter (set before init, the stream is pinned in its Box).
    unsafe {
        (p as *mut usize).write(bytes);
        if !opaque.is_null() {
            *(opaque as *mut usize) += bytes;
        }
        p.add(ALIGN) as *mut c_void
    }
}

unsafe extern "C" fn zfree(opaque: *mut c_void, ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from zalloc: its header ALIGN bytes before holds the block size, and
    // the layout below is the one it was allocated with.
    unsafe {
        let base = (ptr as *mut u8).sub(ALIGN);
        let bytes = (base as *const usize).read();
        if !opaque.is_null() {
            *(opaque as *mut usize) -= bytes;
        }
        dealloc(base, Layout::from_size_align_unchecked(bytes, ALIGN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate_message(d: &mut Deflater, msg: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; msg.len() + 64];
        let p = d.compress(msg, &mut out, true).unwrap();
        assert_eq!(p.consumed, msg.len());
        out.truncate(p.produced);
        out
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot call zlib (C); covered natively and under valgrind/ASan")]
    fn hello_matches_rfc7692_7_2_3_1_and_shares_the_window() {
        let mut d = Deflater::new(15, 6).unwrap();
        let first = deflate_message(&mut d, b"Hello");
        assert_eq!(first, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff]);
        let second = deflate_message(&mut d, b"Hello");
        assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff]);
        assert!(d.memory() > 200_000, "window 15, memLevel 8: {}", d.memory());
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot call zlib (C); covered natively and under valgrind/ASan")]
    fn inflates_rfc7692_examples() {
        let mut i = Inflater::new().unwrap();
        let mut out = [0u8; 16];
        let p =
            i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff], &mut out).unwrap();
        assert_eq!(&out[..p.produced], b"Hello");
        let p = i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff], &mut out).unwrap();
        assert_eq!(&out[..p.produced], b"Hello");
        let mut j = Inflater::new().unwrap();
        assert_eq!(j.inflate(&[0xff, 0xff, 0xff], &mut out), Err(ZlibError::Data));
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot call zlib (C); covered natively and under valgrind/ASan")]
    fn memory_is_counted_and_returned() {
        let d = Deflater::new(9, 6).unwrap();
        let small = d.memory();
        let big = Deflater::new(15, 6).unwrap().memory();
        assert!(small < big, "{} < {}", small, big);
        drop(d);
    }
}
