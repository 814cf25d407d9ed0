//! permessage-deflate on the wire (RFC 7692 §6, §7.2): compressing sent messages and inflating
//! received ones. Only handles whose handshake negotiated the extension have a
//! [`DeflateState`]; every other handle never reaches this module.
//!
//! Sending: each WebSocketSend's payload is compressed (one DEFLATE stream per message, also
//! across fragments) into the state's own send buffer, ended with a sync flush; the final frame
//! of a message drops the flush's trailing `00 00 ff ff`. RSV1 marks the first frame. The frame
//! goes out as its header (in C, masked key included) + the compressed bytes, masked in place for
//! a client. A compressed frame cannot be withdrawn by a zero-byte completion: the compressor
//! has moved on, so that cancels the send stream (as a partial write does).
//!
//! Receiving: the compressed payload is unmasked in R, inflated with `00 00 ff ff` appended at
//! the end of the message, and delivered in chunks of at most the receive buffer size (or the
//! caller's WebSocketReceive buffer, which is then written directly), whatever the ratio: memory
//! stays bounded for any message. Text is UTF-8-validated after inflating.
//!
//! Where the buffers handed out lie (an addition to spec §9.3 for this extension only): a
//! compressed frame's payload in the state's send buffer, valid until the frame's last
//! CompleteAction; inflated data in the state's receive area (RBS bytes) or the caller's
//! receive buffer, valid until the INDICATE action's CompleteAction. Both are owned by the
//! handle and freed by WebSocketDeleteHandle.
#![forbid(unsafe_code)]

use super::recv::{DataFrame, Step};
use super::{Buffer, BufferType, MessageKind, Session};
use crate::deflate::Negotiated;
use crate::error::{Error, Result};
use crate::frame::{self, FrameHeader, OpCode};
use crate::sys::mem::CallerBytes;
use crate::sys::zlib::{Deflater, Inflater, ZlibError};
use crate::utf8::Utf8Validator;

/// The empty stored block a sync flush ends with; removed after a message, appended before
/// inflating one.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Compression level (zlib's default trade-off).
const LEVEL: u8 = 6;
/// A send buffer larger than this is given back when a much smaller message follows.
const KEEP_SEND_BUFFER: usize = 64 * 1024;

/// The per-handle permessage-deflate state. The zlib streams and buffers are allocated on first
/// use: a handle that only receives never allocates a compressor.
pub(super) struct DeflateState {
    params: Negotiated,
    deflater: Option<Deflater>,
    inflater: Option<Inflater>,
    /// The compressed payload of the frame being sent.
    send_buf: Vec<u8>,
    /// Where inflated data is delivered when the receive has no caller buffer (RBS bytes).
    recv_out: Vec<u8>,
    /// The message being received is compressed.
    inflating: bool,
    /// Bytes of TAIL already fed to the inflater for this message.
    tail_fed: u8,
    /// The peer ended its DEFLATE stream (a block with BFINAL) within this message.
    stream_ended: bool,
    /// Payload bytes of the current frame after `recv.start` that are already unmasked.
    unmasked_ahead: usize,
    /// The compressed frame whose payload is being inflated.
    frame: Option<DataFrame>,
}

impl core::fmt::Debug for DeflateState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeflateState")
            .field("params", &self.params)
            .field("inflating", &self.inflating)
            .finish()
    }
}

impl DeflateState {
    pub(super) fn new(params: Negotiated) -> Result<Box<DeflateState>> {
        Ok(Box::new(DeflateState {
            params,
            deflater: None,
            inflater: None,
            send_buf: Vec::new(),
            recv_out: Vec::new(),
            inflating: false,
            tail_fed: 0,
            stream_ended: false,
            unmasked_ahead: 0,
            frame: None,
        }))
    }

    /// Bytes held: this state, the zlib streams and both buffers.
    pub(super) fn memory(&self) -> usize {
        core::mem::size_of::<DeflateState>()
            + self.deflater.as_ref().map_or(0, Deflater::memory)
            + self.inflater.as_ref().map_or(0, Inflater::memory)
            + self.send_buf.capacity()
            + self.recv_out.capacity()
    }
}

fn zlib_error(e: ZlibError) -> Error {
    match e {
        ZlibError::Data => Error::BadCompressedData,
        ZlibError::Memory => Error::OutOfMemory,
        ZlibError::Stream => Error::Internal,
    }
}

impl Session {
    // --- sending ---------------------------------------------------------------------------

    /// Compresses one send operation's payload (`ends`: it ends the message) into the send
    /// buffer, masks it in place with `key`, and returns its length.
    #[inline(never)]
    pub(super) fn compress_payload(
        &mut self,
        bytes: CallerBytes,
        ends: bool,
        key: Option<[u8; 4]>,
    ) -> Result<u32> {
        let d = super::deflate_state(&mut self.phase).ok_or(Error::Internal)?;
        if d.deflater.is_none() {
            d.deflater = Some(Deflater::new(d.params.send_window_bits, LEVEL).map_err(zlib_error)?);
        }
        let deflater = d.deflater.as_mut().ok_or(Error::Internal)?;
        let input = bytes.bytes(0..bytes.len() as usize);
        let first = input.len() / 4 + 64;
        if d.send_buf.len() > KEEP_SEND_BUFFER && d.send_buf.len() > 4 * (input.len() + 64) {
            d.send_buf = Vec::new();
        }
        if d.send_buf.len() < first.min(KEEP_SEND_BUFFER) {
            grow(&mut d.send_buf, first.min(KEEP_SEND_BUFFER))?;
        }
        let (mut consumed, mut len) = (0, 0);
        loop {
            let p =
                deflater.compress(&input[consumed..], &mut d.send_buf[len..], true).map_err(zlib_error)?;
            consumed += p.consumed;
            len += p.produced;
            // Flushed completely once all input is in and zlib stopped with room to spare.
            if consumed == input.len() && len < d.send_buf.len() {
                break;
            }
            let target = d.send_buf.len() * 2;
            grow(&mut d.send_buf, target)?;
        }
        if ends {
            if d.send_buf[..len].ends_with(&TAIL) {
                len -= TAIL.len();
            }
            if len == 0 {
                // Nothing was pending after the previous flush: an empty stored block's header
                // (RFC 7692 §7.2.3.6), so that the message is valid DEFLATE data on its own.
                d.send_buf[0] = 0x00;
                len = 1;
            }
            if d.params.send_no_context_takeover {
                deflater.reset();
            }
        }
        if let Some(k) = key {
            frame::apply_mask(&mut d.send_buf[..len], k, 0);
        }
        u32::try_from(len).map_err(|_| Error::OutOfMemory)
    }

    /// The address of byte `offset` of the compressed payload being sent.
    pub(super) fn compressed_ptr(&mut self, offset: usize) -> *mut u8 {
        match super::deflate_state(&mut self.phase) {
            Some(d) => d.send_buf.as_mut_ptr().wrapping_add(offset),
            None => core::ptr::null_mut(),
        }
    }

    // --- receiving -------------------------------------------------------------------------

    /// The receive step of a handle with permessage-deflate, before the usual header parsing:
    /// continues a compressed frame in progress, or parses the header of a compressed
    /// message's frame (RSV1 on the first; a continuation while inflating) and inflates it.
    /// None: the next frame is an uncompressed one, for the usual parser, which still rejects
    /// RSV bits on it.
    #[cold]
    #[inline(never)]
    pub(super) fn deflate_step(&mut self, limit: Option<usize>) -> Result<Option<Step>> {
        loop {
            let d = match super::deflate_state(&mut self.phase) {
                Some(d) => d,
                None => return Ok(None),
            };
            if let Some(f) = d.frame {
                return self.inflate_data(f, limit).map(Some);
            }
            let inflating = d.inflating;
            let (header, rsv1) =
                match FrameHeader::decode_rsv1(self.region.slice(self.recv.start..self.recv.end))? {
                    Some(h) => h,
                    None => return Ok(Some(Step::NeedBytes)),
                };
            let continues = inflating && header.opcode == OpCode::Continuation;
            if !(rsv1 || continues) {
                return Ok(None);
            }
            self.check_masking(&header)?;
            let kind = self.message_kind(header.opcode)?;
            if self.recv.message.is_none() {
                self.recv.utf8 = Utf8Validator::new();
            }
            self.recv.message = Some(kind);
            self.recv.start += header.header_len;
            if let Some(d) = super::deflate_state(&mut self.phase) {
                if rsv1 {
                    d.inflating = true;
                    d.tail_fed = 0;
                    d.stream_ended = false;
                }
                d.unmasked_ahead = 0;
                // Every frame of the message goes through the inflater, empty ones included
                // (the last one ends the compressed stream).
                d.frame = Some(DataFrame {
                    remaining: header.payload_len,
                    fin: header.fin,
                    kind,
                    mask: header.mask,
                    offset: 0,
                });
            }
        }
    }

    /// Inflates what R holds of the current compressed frame into the output (the caller's
    /// receive buffer, or the state's receive area), up to its size, and indicates it; at the
    /// end of the message the appended tail is inflated and the message ends.
    fn inflate_data(&mut self, mut f: DataFrame, limit: Option<usize>) -> Result<Step> {
        let rbs = self.receive_area();
        let validate = !self.config.disable_utf8_verification && f.kind == MessageKind::Text;
        let d = super::deflate_state(&mut self.phase).ok_or(Error::Internal)?;
        if d.inflater.is_none() {
            d.inflater = Some(Inflater::new().map_err(zlib_error)?);
        }
        let caller = self.recv.ops.front_mut().and_then(|op| op.buffer.as_mut());
        if caller.is_none() && d.recv_out.len() < rbs {
            grow(&mut d.recv_out, rbs)?;
        }
        let DeflateState { inflater, recv_out, tail_fed, stream_ended, unmasked_ahead, frame, .. } = d;
        let inflater = inflater.as_mut().ok_or(Error::Internal)?;
        let out: &mut [u8] = match caller {
            Some(b) => b.as_mut_slice(),
            None => &mut recv_out[..rbs],
        };
        let cap = match limit {
            Some(n) => n.min(out.len()),
            None => out.len(),
        };
        let mut produced = 0usize;
        // Whether the last inflate call stopped with output room left (so nothing is pending).
        let mut drained = false;
        let ends_message = loop {
            if produced == cap {
                break false;
            }
            let in_frame =
                (self.recv.end - self.recv.start).min(usize::try_from(f.remaining).unwrap_or(usize::MAX));
            let start = self.recv.start;
            if in_frame > *unmasked_ahead {
                if let Some(key) = f.mask {
                    let from = start + *unmasked_ahead;
                    let at = f.offset + *unmasked_ahead as u64;
                    frame::apply_mask(self.region.slice_mut(from..start + in_frame), key, at);
                }
                *unmasked_ahead = in_frame;
            }
            let from_tail = in_frame == 0 && f.remaining == 0 && f.fin && (*tail_fed as usize) < TAIL.len();
            let input: &[u8] = if in_frame > 0 {
                self.region.slice(start..start + in_frame)
            } else if from_tail {
                &TAIL[*tail_fed as usize..]
            } else {
                &[]
            };
            if input.is_empty() {
                if f.remaining > 0 {
                    // More of this frame is still on the network.
                    if produced == 0 {
                        *frame = Some(f);
                        return Ok(Step::NeedBytes);
                    }
                    break false;
                }
                if !f.fin {
                    // This frame is done; the message continues in the next one.
                    *frame = None;
                    if produced == 0 {
                        return Ok(Step::Continue);
                    }
                    let buffer = self.inflated_buffer(produced, validate, false)?;
                    return Ok(Step::Indicate(BufferType::for_data(f.kind, false), buffer));
                }
                if drained || *stream_ended {
                    break true;
                }
            }
            let consumed;
            if *stream_ended {
                // After a final block the rest of the message is padding: skip it.
                consumed = input.len();
                drained = true;
            } else {
                let room = cap - produced;
                let p = inflater.inflate(input, &mut out[produced..cap]).map_err(zlib_error)?;
                if p.consumed == 0 && p.produced == 0 && !input.is_empty() && !p.stream_end {
                    return Err(Error::BadCompressedData);
                }
                consumed = p.consumed;
                produced += p.produced;
                drained = p.produced < room;
                *stream_ended = p.stream_end;
            }
            if in_frame > 0 {
                self.recv.start += consumed;
                f.remaining -= consumed as u64;
                f.offset += consumed as u64;
                *unmasked_ahead -= consumed;
            } else if from_tail {
                *tail_fed += consumed as u8;
            }
        };
        if ends_message {
            self.recv.message = None;
            if let Some(d) = super::deflate_state(&mut self.phase) {
                d.frame = None;
                if d.params.recv_no_context_takeover || d.stream_ended {
                    if let Some(i) = d.inflater.as_mut() {
                        i.reset();
                    }
                }
                d.inflating = false;
                d.tail_fed = 0;
                d.stream_ended = false;
            }
        } else if let Some(d) = super::deflate_state(&mut self.phase) {
            d.frame = Some(f);
        }
        let buffer = self.inflated_buffer(produced, validate, ends_message)?;
        Ok(Step::Indicate(BufferType::for_data(f.kind, ends_message), buffer))
    }

    /// The buffer for `n` inflated bytes (validated first for text).
    fn inflated_buffer(&mut self, n: usize, validate: bool, ends_message: bool) -> Result<Buffer> {
        let caller = self.recv.ops.front_mut().and_then(|op| op.buffer.as_mut());
        let d = super::deflate_state(&mut self.phase).ok_or(Error::Internal)?;
        let (chunk, ptr): (&[u8], *mut u8) = match caller {
            Some(b) => {
                let s = b.as_mut_slice();
                let ptr = s.as_mut_ptr();
                (&s[..n], ptr)
            }
            None => {
                let ptr = d.recv_out.as_mut_ptr();
                (&d.recv_out[..n], ptr)
            }
        };
        if validate {
            self.recv.utf8.feed(chunk)?;
            if ends_message {
                self.recv.utf8.finish()?;
            }
        }
        Ok(Buffer::data(ptr, n))
    }
}

/// Grows `v` to `len` zeroed bytes, fallibly.
fn grow(v: &mut Vec<u8>, len: usize) -> Result<()> {
    if len > v.len() {
        v.try_reserve_exact(len - v.len()).map_err(|_| Error::OutOfMemory)?;
        v.resize(len, 0);
    }
    Ok(())
}
