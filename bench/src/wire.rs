//! Test data: payloads, masked wire streams, the in-memory "socket" (4 KiB reads) and the output
//! sink every implementation writes to.
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Binary,
    Ascii,
    Multi,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Binary, Kind::Ascii, Kind::Multi];
    pub fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Ascii => "ascii",
            Kind::Multi => "utf8-multi",
        }
    }
    pub fn is_text(self) -> bool {
        self != Kind::Binary
    }
    pub fn opcode(self) -> u8 {
        if self.is_text() {
            1
        } else {
            2
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dir {
    /// Server receives client-masked frames.
    Recv,
    /// Client sends (frames and masks).
    Send,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::Recv => "recv",
            Dir::Send => "send",
        }
    }
}

pub const SIZES: [usize; 6] = [16, 125, 1024, 16 << 10, 64 << 10, 1 << 20];

pub struct Size(pub usize);
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= 1 << 20 && n % (1 << 20) == 0 {
            write!(f, "{}M", n >> 20)
        } else if n >= 1024 && n % 1024 == 0 {
            write!(f, "{}K", n >> 10)
        } else {
            write!(f, "{n}")
        }
    }
}

/// xorshift64*: deterministic test data and the peers' cheap masking keys.
#[derive(Clone)]
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A payload of exactly `size` bytes. Multilingual text is a random mix of 2-, 3- and 4-byte
/// characters (Cyrillic/Greek, CJK/€, emoji), padded with ASCII only to hit the exact size.
pub fn payload(kind: Kind, size: usize) -> Vec<u8> {
    let mut rng = Rng::new(0x5EED ^ size as u64);
    let mut v = Vec::with_capacity(size);
    match kind {
        Kind::Binary => {
            while v.len() < size {
                v.push(rng.next() as u8);
            }
        }
        Kind::Ascii => {
            while v.len() < size {
                v.push(0x20 + (rng.next() % 95) as u8);
            }
        }
        Kind::Multi => {
            const CHARS: [char; 12] = ['ж', 'Ω', 'é', 'ß', '中', '文', '€', 'あ', '😀', '🚀', '𝄞', '🌍'];
            let mut b = [0u8; 4];
            loop {
                let c = CHARS[(rng.next() % CHARS.len() as u64) as usize];
                let s = c.encode_utf8(&mut b);
                if v.len() + s.len() > size {
                    break;
                }
                v.extend_from_slice(s.as_bytes());
            }
            while v.len() < size {
                v.push(b'a');
            }
            assert!(std::str::from_utf8(&v).is_ok());
        }
    }
    v
}

pub fn header_len(size: usize, masked: bool) -> usize {
    let base = if size < 126 {
        2
    } else if size < 65536 {
        4
    } else {
        10
    };
    base + if masked { 4 } else { 0 }
}

/// One frame (FIN set) with the given mask key.
pub fn encode_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let n = payload.len();
    let mut f = Vec::with_capacity(header_len(n, mask.is_some()) + n);
    f.push(0x80 | opcode);
    let m = if mask.is_some() { 0x80 } else { 0 };
    if n < 126 {
        f.push(m | n as u8);
    } else if n < 65536 {
        f.push(m | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// The wire stream a server reads: enough copies of the frame (each with its own masking key)
/// to fill at least `min_bytes`; it is read cyclically, so it is an endless stream of frames.
pub fn masked_stream(kind: Kind, payload: &[u8], min_bytes: usize) -> Vec<u8> {
    let frame_len = header_len(payload.len(), true) + payload.len();
    let copies = min_bytes.div_ceil(frame_len).max(1);
    let mut rng = Rng::new(0xC0FFEE);
    let mut wire = Vec::with_capacity(copies * frame_len);
    for _ in 0..copies {
        let k = (rng.next() as u32).to_le_bytes();
        wire.extend_from_slice(&encode_frame(kind.opcode(), payload, Some(k)));
    }
    wire
}

/// Bytes of wire kept for cyclic reading: 256 KiB (fits L2) or one frame.
pub const STREAM_BYTES: usize = 256 << 10;

/// The in-memory socket: each read returns at most `chunk` bytes (4 KiB by default), never
/// crossing the end of the cyclic wire (which is a frame boundary).
pub struct ChunkReader {
    pub wire: Vec<u8>,
    pub pos: usize,
    pub chunk: usize,
}

impl ChunkReader {
    pub fn new(wire: Vec<u8>, chunk: usize) -> ChunkReader {
        ChunkReader { wire, pos: 0, chunk }
    }

    #[inline]
    pub fn next_len(&self, cap: usize) -> usize {
        cap.min(self.chunk).min(self.wire.len() - self.pos)
    }

    /// Copies the next read into `dst` (at most `cap` bytes); returns the count.
    ///
    /// # Safety
    /// `dst` must be writable for `cap` bytes.
    #[inline]
    pub unsafe fn read_raw(&mut self, dst: *mut u8, cap: usize) -> usize {
        let n = self.next_len(cap);
        std::ptr::copy_nonoverlapping(self.wire.as_ptr().add(self.pos), dst, n);
        self.pos += n;
        if self.pos == self.wire.len() {
            self.pos = 0;
        }
        n
    }

    #[inline]
    pub fn read_into(&mut self, dst: &mut [u8]) -> usize {
        // SAFETY: dst is writable for its length.
        unsafe { self.read_raw(dst.as_mut_ptr(), dst.len()) }
    }
}

/// Where sent bytes go: a fixed buffer written cyclically (the caller's socket write). With
/// `record` set (validation), everything written is also kept.
pub struct Sink {
    pub buf: Vec<u8>,
    pub pos: usize,
    pub record: Option<Record>,
}

/// Everything written to a sink, kept only in validation runs.
pub type Record = std::rc::Rc<std::cell::RefCell<Vec<u8>>>;

/// Set by `wsbench validate` before the runners are built: their sinks then keep every byte.
pub static RECORD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Sink {
    pub fn new(frame_len: usize) -> Sink {
        let record = if RECORD.load(std::sync::atomic::Ordering::Relaxed) { Some(Record::default()) } else { None };
        Sink { buf: vec![0u8; (2 * frame_len).max(STREAM_BYTES)], pos: 0, record }
    }

    /// # Safety
    /// `src` must be readable for `len` bytes.
    #[inline]
    pub unsafe fn write_raw(&mut self, src: *const u8, len: usize) {
        if self.pos + len > self.buf.len() {
            self.pos = 0;
            if len > self.buf.len() {
                self.buf.resize(len, 0);
            }
        }
        std::ptr::copy_nonoverlapping(src, self.buf.as_mut_ptr().add(self.pos), len);
        self.pos += len;
        if let Some(r) = self.record.as_mut() {
            r.borrow_mut().extend_from_slice(std::slice::from_raw_parts(src, len));
        }
    }

    #[inline]
    pub fn write(&mut self, src: &[u8]) {
        // SAFETY: src is readable.
        unsafe { self.write_raw(src.as_ptr(), src.len()) }
    }
}

/// Decodes a recorded client stream: every frame must be FIN, masked, of `opcode`, and unmask to
/// `payload`. Returns the number of frames.
pub fn check_client_stream(stream: &[u8], opcode: u8, payload: &[u8]) -> Result<usize, String> {
    let mut p = 0;
    let mut frames = 0;
    while p < stream.len() {
        let b0 = stream[p];
        let b1 = *stream.get(p + 1).ok_or("truncated header")?;
        if b0 != 0x80 | opcode {
            return Err(format!("frame {frames}: first byte {b0:#04x}, expected {:#04x}", 0x80 | opcode));
        }
        if b1 & 0x80 == 0 {
            return Err(format!("frame {frames}: not masked"));
        }
        let (len, mut q) = match b1 & 0x7F {
            126 => (u16::from_be_bytes([stream[p + 2], stream[p + 3]]) as usize, p + 4),
            127 => (u64::from_be_bytes(stream[p + 2..p + 10].try_into().unwrap()) as usize, p + 10),
            n => (n as usize, p + 2),
        };
        if len != payload.len() {
            return Err(format!("frame {frames}: length {len}, expected {}", payload.len()));
        }
        let key: [u8; 4] = stream[q..q + 4].try_into().unwrap();
        q += 4;
        let body = stream.get(q..q + len).ok_or("truncated payload")?;
        if body.iter().enumerate().any(|(i, b)| b ^ key[i % 4] != payload[i]) {
            return Err(format!("frame {frames}: payload differs"));
        }
        p = q + len;
        frames += 1;
    }
    Ok(frames)
}
