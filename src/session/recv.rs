//! The receive side: RECEIVE_FROM_NETWORK into the receive area R, incremental frame parsing,
//! streaming delivery as INDICATE_RECEIVE_COMPLETE, automatic pongs (spec §9.6).
//!
//! R holds `[start, end)` unparsed bytes. A RECEIVE_FROM_NETWORK hands out `[end, RBS)`; before
//! that the unparsed bytes move to the front (they are at most one partial header or control
//! frame, since data payload is delivered as soon as it arrives). Nothing in R moves while an
//! action that points into it is outstanding, and nothing moves at all once a close frame has
//! been indicated (later receives report the same reason bytes).
#![forbid(unsafe_code)]

use super::fifo::Fifo;
use super::{Action, ActionKind, ActionSink, Buffer, BufferType, Channel, MessageKind, Session};
use crate::config::Role;
use crate::error::{Error, Result};
use crate::frame::{self, FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use crate::sys::mem::CallerBytesMut;
use crate::utf8::Utf8Validator;

/// Close status reported for a receive that was cancelled or aborted.
pub const ABORTED_CLOSE_STATUS: u16 = 1006;
/// Close status reported for a close frame without payload.
pub const EMPTY_CLOSE_STATUS: u16 = 1005;

pub(super) struct RecvSide {
    pub(super) ops: Fifo<RecvOp>,
    out: Option<Outstanding>,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) frame: Option<DataFrame>,
    pub(super) message: Option<MessageKind>,
    pub(super) utf8: Utf8Validator,
    /// Whether unmasking should also look for an all-ASCII chunk: true at the start of a
    /// message, false once a chunk of it was not all ASCII (text in a script beyond ASCII
    /// rarely has an all-ASCII 4 KiB piece, so the OR per block would be wasted).
    pub(super) spot_ascii: bool,
    close: Option<CloseInfo>,
    /// The payload of the latest ping (its buffer is allocated at the first ping and reused).
    pong: Option<Box<[u8; MAX_CONTROL_PAYLOAD]>>,
    /// Its length.
    pong_len: u8,
    /// A pong carrying `pong` is due.
    pong_due: bool,
}

pub(super) struct RecvOp {
    context: usize,
    pub(super) buffer: Option<CallerBytesMut>,
    cancelled: bool,
}

/// A data frame whose payload is being delivered.
#[derive(Clone, Copy)]
pub(super) struct DataFrame {
    pub(super) remaining: u64,
    pub(super) fin: bool,
    pub(super) kind: MessageKind,
    pub(super) mask: Option<[u8; 4]>,
    pub(super) offset: u64,
}

#[derive(Clone, Copy)]
struct CloseInfo {
    status: u16,
    /// Offset and length of the reason in R (below 64 KiB); None when the frame had no payload.
    reason: Option<(u32, u32)>,
}

enum Outstanding {
    Network { token: usize, offered: u32 },
    Indicate { token: usize },
    Pong { token: usize, bytes: u32 },
}

impl Outstanding {
    fn token(&self) -> usize {
        match self {
            Outstanding::Network { token, .. }
            | Outstanding::Indicate { token }
            | Outstanding::Pong { token, .. } => *token,
        }
    }
}

/// What one parsing step produced.
pub(super) enum Step {
    /// More bytes are needed.
    NeedBytes,
    /// A ping was answered by scheduling a pong; look again.
    Continue,
    /// An INDICATE_RECEIVE_COMPLETE for the head operation.
    Indicate(BufferType, Buffer),
}

impl RecvSide {
    pub(super) fn new() -> RecvSide {
        RecvSide {
            ops: Fifo::new(),
            out: None,
            start: 0,
            end: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            spot_ascii: true,
            close: None,
            pong: None,
            pong_len: 0,
            pong_due: false,
        }
    }

    #[inline(always)]
    pub(super) fn owns(&self, token: usize) -> bool {
        self.out.as_ref().map_or(false, |o| o.token() == token)
    }

    pub(super) fn drop_pong(&mut self) {
        self.pong_due = false;
    }

    #[inline(always)]
    pub(super) fn queue(&mut self, buffer: Option<CallerBytesMut>, context: usize) -> Result<()> {
        if self.close.is_some() {
            return Err(Error::InvalidState);
        }
        self.ops.push_back(RecvOp { context, buffer, cancelled: false })?;
        Ok(())
    }
}

impl Session {
    /// An automatic pong on the receive queue, if one is due and both the receive side and the
    /// outgoing channel are free.
    pub(super) fn poll_pong(&mut self, out: &mut impl ActionSink) -> bool {
        if !self.recv.pong_due || self.recv.out.is_some() {
            return false;
        }
        match self.take_pong(out) {
            Some((token, bytes)) => {
                self.recv.out = Some(Outstanding::Pong { token, bytes });
                true
            }
            None => false,
        }
    }

    /// Builds the pending pong (one contiguous buffer in C, typed PING_PONG, no context) into
    /// `out` if the outgoing channel is free, and returns its token and length. The caller
    /// records which side it went out on. A pong due after the application queued its close, or
    /// once the outgoing stream is broken, is dropped.
    pub(super) fn take_pong(&mut self, out: &mut impl ActionSink) -> Option<(usize, u32)> {
        if self.channel != Channel::Free || self.aborted {
            return None;
        }
        if self.send.broken {
            self.recv.pong_due = false;
            return None;
        }
        if self.send.close_queued {
            self.recv.pong_due = false;
            return None;
        }
        let mask = self.next_mask().ok()?;
        if !self.recv.pong_due {
            return None;
        }
        let payload = self.recv.pong.take();
        let bytes = payload.as_ref().map_or(&[][..], |p| &p[..self.recv.pong_len as usize]);
        let len = self.write_control_bytes(OpCode::Pong, bytes, mask);
        self.recv.pong = payload;
        self.recv.pong_due = false;
        let token = self.token();
        self.channel = Channel::Pong;
        out.put(Action {
            kind: ActionKind::SendToNetwork,
            buffers: [Buffer::data(self.region.ptr(self.control_area()), len), Buffer::EMPTY],
            count: 1,
            buffer_type: BufferType::PingPong.raw(),
            app_context: None,
            token,
        });
        Some((token, len as u32))
    }

    /// Whether a pong is waiting to go out.
    pub(super) fn pong_pending(&self) -> bool {
        self.recv.pong_due
    }

    /// The next receive-side action. While a receive operation is pending and nothing is
    /// outstanding this never returns None (spec §9.2 rule 6).
    #[inline]
    pub(super) fn poll_receive(&mut self, out: &mut impl ActionSink) -> Result<bool> {
        match self.whole_small_message(out) {
            Ok(true) => Ok(true),
            Ok(false) => self.poll_receive_general(out),
            Err(e) => Err(self.fail(e)),
        }
    }

    #[inline(never)]
    fn poll_receive_general(&mut self, out: &mut impl ActionSink) -> Result<bool> {
        loop {
            if self.recv.out.is_some() {
                return Ok(false);
            }
            if self.poll_pong(out) {
                return Ok(true);
            }
            let (cancelled, limit) = match self.recv.ops.front() {
                None => return Ok(false),
                Some(op) => (op.cancelled, op.buffer.map(|b| b.len() as usize)),
            };
            if self.aborted || cancelled {
                let close = Buffer::close(core::ptr::null_mut(), 0, ABORTED_CLOSE_STATUS);
                self.indicate_receive(BufferType::Close, close, out);
                return Ok(true);
            }
            if let Some(close) = self.recv.close {
                let buffer = self.close_buffer(close);
                self.indicate_receive(BufferType::Close, buffer, out);
                return Ok(true);
            }
            match self.parse_step(limit) {
                Ok(Step::Continue) => continue,
                Ok(Step::NeedBytes) => self.receive_from_network(out),
                Ok(Step::Indicate(ty, buffer)) => self.indicate_receive(ty, buffer, out),
                Err(e) => return Err(self.fail(e)),
            }
            return Ok(true);
        }
    }

    fn close_buffer(&self, close: CloseInfo) -> Buffer {
        match close.reason {
            None => Buffer::close(core::ptr::null_mut(), 0, close.status),
            Some((at, len)) => Buffer::close(self.region.ptr(at as usize), len as usize, close.status),
        }
    }

    #[inline(always)]
    fn indicate_receive(&mut self, ty: BufferType, buffer: Buffer, out: &mut impl ActionSink) {
        let context = self.recv.ops.front().map_or(0, |op| op.context);
        self.indicate_receive_for(context, ty, buffer, out);
    }

    /// `indicate_receive` for the head operation, whose context the caller read.
    #[inline(always)]
    fn indicate_receive_for(
        &mut self,
        context: usize,
        ty: BufferType,
        buffer: Buffer,
        out: &mut impl ActionSink,
    ) {
        let token = self.token();
        self.recv.out = Some(Outstanding::Indicate { token });
        out.put(Action {
            kind: ActionKind::IndicateReceiveComplete,
            buffers: [buffer, Buffer::EMPTY],
            count: 1,
            buffer_type: ty.raw(),
            app_context: Some(context),
            token,
        });
    }

    fn receive_from_network(&mut self, out: &mut impl ActionSink) {
        let rbs = self.receive_area();
        let (start, end) = (self.recv.start, self.recv.end);
        if start == end {
            self.recv.start = 0;
            self.recv.end = 0;
        } else if start > 0 {
            self.region.copy_within(start..end, 0);
            self.recv.start = 0;
            self.recv.end = end - start;
        }
        let end = self.recv.end;
        let token = self.token();
        self.recv.out = Some(Outstanding::Network { token, offered: (rbs - end) as u32 });
        let context = self.recv.ops.front().map_or(0, |op| op.context);
        out.put(Action {
            kind: ActionKind::ReceiveFromNetwork,
            buffers: [Buffer::data(self.region.ptr(end), rbs - end), Buffer::EMPTY],
            count: 1,
            buffer_type: 0,
            app_context: Some(context),
            token,
        });
    }

    /// A received frame's masking must suit the role: a server takes masked frames only (unless
    /// masking is disabled), a client unmasked ones only (§9.7).
    #[inline(always)]
    pub(super) fn check_masking(&self, header: &FrameHeader) -> Result<()> {
        match (self.role, header.mask) {
            (Role::Server, None) if !self.config.disable_masking => Err(Error::UnmaskedFrame),
            (Role::Client, Some(_)) => Err(Error::MaskedFrame),
            _ => Ok(()),
        }
    }

    /// The message a data frame with `opcode` belongs to: a continuation continues the message
    /// in progress, text or binary starts one (§9.7: no continuation without a message, no new
    /// message inside one).
    #[inline(always)]
    pub(super) fn message_kind(&self, opcode: OpCode) -> Result<MessageKind> {
        match (opcode, self.recv.message) {
            (OpCode::Continuation, Some(kind)) => Ok(kind),
            (OpCode::Continuation, None) => Err(Error::UnexpectedContinuation),
            (_, Some(_)) => Err(Error::InterleavedMessage),
            (OpCode::Text, None) => Ok(MessageKind::Text),
            (_, None) => Ok(MessageKind::Binary),
        }
    }

    /// Parses what R holds for the head receive operation. `limit` caps a data chunk (the
    /// caller's own receive buffer). Data-frame headers are consumed in the same step as the
    /// payload that follows them; only a ping returns early (its pong goes out first).
    fn parse_step(&mut self, limit: Option<usize>) -> Result<Step> {
        loop {
            if let Some(f) = self.recv.frame {
                return self.deliver_data(f, limit);
            }
            // permessage-deflate keeps its frame in progress itself and takes the frames of
            // compressed messages; the uncompressed path below stays as it was.
            if self.deflate_on {
                if let Some(step) = self.deflate_step(limit)? {
                    return Ok(step);
                }
            }
            let header = match FrameHeader::decode(self.region.slice(self.recv.start..self.recv.end))? {
                Some(h) => h,
                None => return Ok(Step::NeedBytes),
            };
            self.check_masking(&header)?;
            if header.opcode.is_control() {
                return self.control_frame(header);
            }
            let kind = self.message_kind(header.opcode)?;
            if self.recv.message.is_none() {
                self.recv.utf8 = Utf8Validator::new();
                self.recv.spot_ascii = true;
            }
            self.recv.message = Some(kind);
            self.recv.start += header.header_len;
            if header.payload_len > 0 {
                self.recv.frame = Some(DataFrame {
                    remaining: header.payload_len,
                    fin: header.fin,
                    kind,
                    mask: header.mask,
                    offset: 0,
                });
                continue;
            }
            if !header.fin {
                // Zero-length pieces that do not end a message are not delivered.
                continue;
            }
            if !self.config.disable_utf8_verification && kind == MessageKind::Text {
                self.recv.utf8.finish()?;
            }
            self.recv.message = None;
            let buffer = self.data_buffer(self.recv.start, 0);
            return Ok(Step::Indicate(BufferType::for_data(kind, true), buffer));
        }
    }

    /// The common case in one step: nothing outstanding or pending, the head receive operation
    /// waiting, and R holding a whole unfragmented text or binary frame with a 7-bit length,
    /// masked as the role requires, outside any fragmented message, that the operation can take
    /// whole. Indicates it with exactly the outcome of the general path (header decode, then
    /// `deliver_data`) and returns true; returns false, having changed nothing, for anything
    /// else.
    #[inline(always)]
    fn whole_small_message(&mut self, out: &mut impl ActionSink) -> Result<bool> {
        let r = &self.recv;
        if r.out.is_some() || r.pong_due || r.frame.is_some() || r.message.is_some() || r.close.is_some() {
            return Ok(false);
        }
        let (buffer, context) = match r.ops.front() {
            Some(op) if !op.cancelled && !self.aborted => (op.buffer, op.context),
            _ => return Ok(false),
        };
        let limit = buffer.map_or(usize::MAX, |b| b.len() as usize);
        let (start, end) = (r.start, r.end);
        let server = self.role == Role::Server;
        let verify_utf8 = !self.config.disable_utf8_verification;
        // One view of the unparsed bytes; everything below works inside it.
        let bytes = self.region.slice_mut(start..end);
        let (b0, b1) = match bytes {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(false),
        };
        // FIN set, RSV bits clear, opcode text (1) or binary (2).
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return Ok(false),
        };
        let masked = b1 & 0x80 != 0;
        let len = (b1 & 0x7F) as usize;
        let header_len = if masked { 6 } else { 2 };
        if masked != server || len == 0 || len > 125 || len > limit || bytes.len() < header_len + len {
            return Ok(false);
        }
        let (header, rest) = bytes.split_at_mut(header_len);
        let payload = &mut rest[..len];
        let text = kind == MessageKind::Text;
        let mut ascii = false;
        if let [_, _, k0, k1, k2, k3] = *header {
            ascii = frame::unmask(payload, [k0, k1, k2, k3], 0, text);
        }
        if text && !ascii && verify_utf8 {
            Utf8Validator::validate(payload)?;
        }
        // In place in R, or copied into the caller's receive buffer (as `data_buffer`).
        let ptr = match buffer {
            Some(mut dst) => dst.fill(payload),
            None => payload.as_mut_ptr(),
        };
        self.recv.start = start + header_len + len;
        self.indicate_receive_for(context, BufferType::for_data(kind, true), Buffer::data(ptr, len), out);
        Ok(true)
    }

    /// Delivers the payload bytes of the current data frame that R holds (unmasked in place and
    /// validated first), or asks for more.
    fn deliver_data(&mut self, mut f: DataFrame, limit: Option<usize>) -> Result<Step> {
        let available = self.recv.end - self.recv.start;
        if available == 0 {
            return Ok(Step::NeedBytes);
        }
        let mut n = available.min(usize::try_from(f.remaining).unwrap_or(usize::MAX));
        if let Some(cap) = limit {
            n = n.min(cap);
        }
        let at = self.recv.start;
        let chunk = self.region.slice_mut(at..at + n);
        // Unmasking also tells whether the chunk is all ASCII: then, between code points, it is
        // valid UTF-8 and leaves the validator where it was.
        let validate = !self.config.disable_utf8_verification && f.kind == MessageKind::Text;
        let spot = validate && self.recv.spot_ascii;
        let ascii = f.mask.map_or(false, |key| frame::unmask(chunk, key, f.offset, spot));
        if spot && !ascii {
            self.recv.spot_ascii = false;
        }
        let last = f.remaining == n as u64;
        let ends_message = last && f.fin;
        if validate {
            if !(ascii && self.recv.utf8.between_code_points()) {
                self.recv.utf8.feed(chunk)?;
            }
            if ends_message {
                self.recv.utf8.finish()?;
            }
        }
        f.remaining -= n as u64;
        f.offset += n as u64;
        self.recv.start += n;
        self.recv.frame = if last { None } else { Some(f) };
        if ends_message {
            self.recv.message = None;
        }
        let buffer = self.data_buffer(at, n);
        Ok(Step::Indicate(BufferType::for_data(f.kind, ends_message), buffer))
    }

    /// The buffer describing `n` delivered bytes at `at` in R: in place, or copied into the
    /// caller's receive buffer.
    #[inline(always)]
    fn data_buffer(&mut self, at: usize, n: usize) -> Buffer {
        let caller = self.recv.ops.front_mut().and_then(|op| op.buffer.as_mut());
        match caller {
            Some(dst) => {
                let ptr = dst.fill(self.region.slice(at..at + n));
                Buffer::data(ptr, n)
            }
            None => Buffer::data(self.region.ptr(at), n),
        }
    }

    fn control_frame(&mut self, header: FrameHeader) -> Result<Step> {
        let payload_len = header.payload_len as usize;
        let total = header.header_len + payload_len;
        if self.recv.end - self.recv.start < total {
            return Ok(Step::NeedBytes);
        }
        let at = self.recv.start + header.header_len;
        if let Some(key) = header.mask {
            frame::apply_mask(self.region.slice_mut(at..at + payload_len), key, 0);
        }
        match header.opcode {
            OpCode::Close => {
                let info = self.parse_close(at, payload_len)?;
                self.recv.start += total;
                self.recv.close = Some(info);
                Ok(Step::Indicate(BufferType::Close, self.close_buffer(info)))
            }
            OpCode::Ping => {
                self.recv.start += total;
                if !self.send.close_queued {
                    if self.recv.pong.is_none() {
                        self.recv.pong = Some(control_buffer()?);
                    }
                    if let Some(pong) = self.recv.pong.as_mut() {
                        pong[..payload_len].copy_from_slice(self.region.slice(at..at + payload_len));
                        self.recv.pong_len = payload_len as u8;
                        self.recv.pong_due = true;
                    }
                }
                Ok(Step::Continue)
            }
            _ => {
                self.recv.start += total;
                let buffer = Buffer::data(self.region.ptr(at), payload_len);
                Ok(Step::Indicate(BufferType::PingPong, buffer))
            }
        }
    }

    fn parse_close(&self, at: usize, len: usize) -> Result<CloseInfo> {
        match len {
            0 => Ok(CloseInfo { status: EMPTY_CLOSE_STATUS, reason: None }),
            1 => Err(Error::BadClosePayload),
            _ => {
                let payload = self.region.slice(at..at + len);
                let status = u16::from_be_bytes([payload[0], payload[1]]);
                if !close_code_allowed(status) {
                    return Err(Error::BadCloseCode(status));
                }
                if !self.config.disable_utf8_verification {
                    Utf8Validator::validate(&payload[2..])?;
                }
                Ok(CloseInfo { status, reason: Some(((at + 2) as u32, (len - 2) as u32)) })
            }
        }
    }

    /// CompleteAction for the receive side's outstanding action.
    #[inline(always)]
    pub(super) fn complete_receive(&mut self, transferred: u32) {
        match self.recv.out.take() {
            Some(Outstanding::Network { offered, .. }) => {
                if self.aborted {
                    return;
                }
                if transferred == 0 {
                    if let Some(op) = self.recv.ops.front_mut() {
                        op.cancelled = true;
                    }
                } else {
                    self.recv.end += transferred.min(offered) as usize;
                }
            }
            Some(Outstanding::Indicate { .. }) => {
                self.recv.ops.pop_front();
            }
            Some(Outstanding::Pong { bytes, .. }) => self.complete_pong(transferred, bytes),
            None => {}
        }
    }
}

/// A zeroed buffer for a control frame's payload, allocated fallibly.
fn control_buffer() -> Result<Box<[u8; MAX_CONTROL_PAYLOAD]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(MAX_CONTROL_PAYLOAD).map_err(|_| Error::OutOfMemory)?;
    v.resize(MAX_CONTROL_PAYLOAD, 0u8);
    v.into_boxed_slice().try_into().map_err(|_| Error::Internal)
}

/// Whether a close status may appear on the wire (RFC 6455 §7.4). Rejected: 0-999 (unused),
/// 1004 (reserved), 1005, 1006 and 1015 (never sent), 1016-2999 (reserved for future revisions
/// of the protocol and for extensions), and 5000-65535, which §7.4.2 does not define (.NET's
/// managed WebSocket, ws and Python websockets fail the connection on them too). Accepted: the
/// defined 1000-1003 and 1007-1014, and the registered and private 3000-4999.
pub fn close_code_allowed(status: u16) -> bool {
    matches!(status, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::close_code_allowed;

    #[test]
    fn close_codes_follow_rfc6455_7_4() {
        let allowed: Vec<u16> =
            (0..=u16::MAX).filter(|c| close_code_allowed(*c)).take_while(|c| *c < 3000).collect();
        assert_eq!(allowed, vec![1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
        assert!((3000..=4999).all(close_code_allowed));
        assert!(!(5000..=u16::MAX).any(close_code_allowed));
    }
}
