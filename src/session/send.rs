//! The send side: one RFC 6455 frame per send operation, emitted through SEND_TO_NETWORK
//! actions, then one INDICATE_SEND_COMPLETE (spec §9.5).
//!
//! Where the bytes handed out lie: a data frame's header in the control area C; its payload in
//! place in the caller's memory when it goes out unmasked (server, or the zero key), or as masked
//! copies in the send area S, one chunk of at most SBS bytes per action. A masked frame that fits
//! in C whole goes out as one contiguous buffer there, as do all control frames.
//!
//! A pending automatic pong is also offered here, at a frame boundary, so that it cannot starve
//! while the receive loop is blocked in a read or not running (see `poll_send`).
#![forbid(unsafe_code)]

use super::fifo::Fifo;
use super::{Action, ActionKind, ActionSink, Buffer, BufferType, Channel, MessageKind, SendPayload, Session};
use crate::config::CONTROL_AREA_SIZE;
use crate::error::{Error, Result};
use crate::frame::{self, FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::sys::mem::CallerBytes;

/// Longest close reason (`WEB_SOCKET_MAX_CLOSE_REASON_LENGTH`).
pub const MAX_CLOSE_REASON: u32 = 123;

/// Header of a masked frame with a 7-bit length.
const SMALL_HEADER_LEN: usize = 6;

pub(super) struct SendSide {
    ops: Fifo<SendOp>,
    /// Message state after every queued operation (checks new sends).
    queued_message: Option<MessageKind>,
    /// Message state of what has gone to the wire (chooses opcodes).
    wire_message: Option<MessageKind>,
    /// The application queued its close frame.
    pub(super) close_queued: bool,
    /// A frame was cut short on the wire: the outgoing stream is unusable.
    pub(super) broken: bool,
    out: Option<Outstanding>,
    /// The head operation's frame, while it is Framing.
    frame: Frame,
}

struct SendOp {
    ty: BufferType,
    payload: SendPayload,
    context: usize,
    progress: Progress,
}

/// Where an operation stands. Only the head operation can be Framing; its frame state lives in
/// `SendSide::frame` so that queued operations stay small.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    Queued,
    Framing,
    Finished,
}

/// The frame being emitted for the head operation.
#[derive(Clone, Copy)]
/// Lengths are u32: a payload is at most `ULONG` bytes (the caller's buffer length).
struct Frame {
    header_len: u32,
    header_sent: bool,
    payload_len: u32,
    /// Payload bytes acknowledged so far.
    sent: u32,
    /// Key to mask payload copies with (None: payload goes out in place).
    key: Option<[u8; 4]>,
    /// Header and payload sit together in C.
    contiguous: bool,
    /// Nothing of this frame has been acknowledged yet.
    untouched: bool,
    /// The payload is permessage-deflate output in the deflate state's send buffer.
    compressed: bool,
    /// Wire message state before this frame, restored if it is cancelled untouched.
    previous_message: Option<MessageKind>,
}

enum Outstanding {
    Frame {
        token: usize,
        bytes: u32,
        header: bool,
        payload: u32,
    },
    Indicate {
        token: usize,
    },
    /// An automatic pong handed out on the send queue, `bytes` long.
    Pong {
        token: usize,
        bytes: u32,
    },
}

impl Outstanding {
    fn token(&self) -> usize {
        match self {
            Outstanding::Frame { token, .. }
            | Outstanding::Indicate { token }
            | Outstanding::Pong { token, .. } => *token,
        }
    }
}

impl SendSide {
    pub(super) fn new() -> SendSide {
        SendSide {
            ops: Fifo::new(),
            queued_message: None,
            wire_message: None,
            close_queued: false,
            broken: false,
            out: None,
            frame: Frame {
                header_len: 0,
                header_sent: false,
                payload_len: 0,
                sent: 0,
                key: None,
                contiguous: false,
                untouched: true,
                compressed: false,
                previous_message: None,
            },
        }
    }

    #[inline(always)]
    pub(super) fn owns(&self, token: usize) -> bool {
        self.out.as_ref().map_or(false, |o| o.token() == token)
    }

    /// Validates and queues one send operation (spec §6.6).
    #[inline(always)]
    pub(super) fn queue(&mut self, ty: BufferType, payload: SendPayload, context: usize) -> Result<()> {
        // Data, the common case, first: the stream is usable, no close was queued, and a
        // fragmented message is not switched between text and binary.
        if let (Some((kind, ends)), SendPayload::Bytes(_)) = (ty.data(), payload) {
            if self.broken || self.close_queued || self.queued_message.map_or(false, |k| k != kind) {
                return Err(Error::InvalidState);
            }
            self.queued_message = if ends { None } else { Some(kind) };
            return self.ops.push_back_with(|| SendOp { ty, payload, context, progress: Progress::Queued });
        }
        match (ty, payload) {
            (BufferType::Close, SendPayload::Close { status, reason }) => {
                if reason.len() > MAX_CLOSE_REASON || (status.is_none() && !reason.is_empty()) {
                    return Err(Error::BadCloseReason);
                }
            }
            (BufferType::PingPong | BufferType::UnsolicitedPong, SendPayload::Bytes(b)) => {
                if b.len() as usize > MAX_CONTROL_PAYLOAD {
                    return Err(Error::ControlPayloadTooLong);
                }
            }
            // A data type with a close payload, or CLOSE without one.
            _ => return Err(Error::BadBufferType(ty.raw())),
        }
        if self.broken {
            return Err(Error::InvalidState);
        }
        if self.close_queued && !matches!(ty, BufferType::PingPong | BufferType::UnsolicitedPong) {
            return Err(Error::InvalidState);
        }
        // Only control frames get here (data frames were queued above or refused).
        if ty == BufferType::Close {
            self.close_queued = true;
        }
        self.ops.push_back_with(|| SendOp { ty, payload, context, progress: Progress::Queued })?;
        Ok(())
    }

    /// Marks every operation without an outstanding action finished. Returns true when the
    /// frame in progress (if any) was dropped, freeing the outgoing channel.
    pub(super) fn abort(&mut self) -> bool {
        let head_busy = matches!(self.out, Some(Outstanding::Frame { .. }));
        let mut dropped_frame = false;
        for (i, op) in self.ops.iter_mut().enumerate() {
            if i == 0 && head_busy {
                continue;
            }
            if op.progress == Progress::Framing {
                dropped_frame = true;
            }
            op.progress = Progress::Finished;
        }
        dropped_frame
    }

    /// Recomputes the queued message state from the wire state and the operations not yet
    /// started, after a frame was withdrawn.
    fn recompute_queued_message(&mut self) {
        let mut state = self.wire_message;
        for op in self.ops.iter() {
            if let (Progress::Queued, Some((kind, ends))) = (op.progress, op.ty.data()) {
                state = if ends { None } else { Some(kind) };
            }
        }
        self.queued_message = state;
    }
}

/// The opcode of the next data frame of `kind` after what went to the wire: text or binary to
/// start a message, continuation inside one; None when the frame would switch kinds mid-message.
fn data_opcode(wire_message: Option<MessageKind>, kind: MessageKind) -> Option<OpCode> {
    match (wire_message, kind) {
        (None, MessageKind::Text) => Some(OpCode::Text),
        (None, MessageKind::Binary) => Some(OpCode::Binary),
        (Some(k), _) if k == kind => Some(OpCode::Continuation),
        (Some(_), _) => None,
    }
}

impl Session {
    /// The next send-side action, if the send side has nothing outstanding.
    #[inline(always)]
    pub(super) fn poll_send(&mut self, capacity: usize, out: &mut impl ActionSink) -> bool {
        if self.send.out.is_some() {
            return false;
        }
        // A pong that is due goes out at the next frame boundary on whichever queue asks first:
        // the receive loop may be blocked in a read, or not running at all (spec departure; see
        // the README's "Known differences").
        if self.pong_pending() {
            if let Some((token, bytes)) = self.take_pong(out) {
                self.send.out = Some(Outstanding::Pong { token, bytes });
                return true;
            }
        }
        let head = match self.send.ops.front() {
            Some(op) => op,
            None => return false,
        };
        match head.progress {
            Progress::Finished => self.indicate_send(out),
            Progress::Queued => {
                if self.aborted || self.send.broken {
                    self.finish_head();
                    self.indicate_send(out);
                    return true;
                }
                if self.channel != Channel::Free {
                    return false;
                }
                if self.small_masked_frame(out) {
                    return true;
                }
                match self.start_frame() {
                    Ok(true) => self.next_frame_action(capacity, out),
                    Ok(false) => self.indicate_send(out),
                    Err(_) => {
                        // No masking key could be had: the frame cannot be built.
                        self.finish_head();
                        self.indicate_send(out);
                    }
                }
            }
            Progress::Framing => self.next_frame_action(capacity, out),
        }
        true
    }

    /// `poll_send` as a call of its own, for the ALL queue: the SEND queue's path gets it
    /// inlined, the others keep a smaller frame.
    #[inline(never)]
    pub(super) fn poll_send_outlined(&mut self, capacity: usize, out: &mut impl ActionSink) -> bool {
        self.poll_send(capacity, out)
    }

    fn finish_head(&mut self) {
        if let Some(op) = self.send.ops.front_mut() {
            op.progress = Progress::Finished;
        }
    }

    fn indicate_send(&mut self, out: &mut impl ActionSink) {
        let token = self.token();
        let (ty, context) = match self.send.ops.front() {
            Some(op) => (op.ty.raw(), op.context),
            None => (0, 0),
        };
        self.send.out = Some(Outstanding::Indicate { token });
        out.put(Action {
            kind: ActionKind::IndicateSendComplete,
            buffers: [Buffer::EMPTY; 2],
            count: 0,
            buffer_type: ty,
            app_context: Some(context),
            token,
        });
    }

    /// The common client case in one step: the head operation is a data frame with at most 125
    /// payload bytes, so header and masked payload go out together as one buffer in C. Same
    /// bytes, state and action as `start_frame` followed by `next_frame_action` (which would
    /// send a frame whose random key happens to be zero as header + payload in place; here it
    /// stays one buffer). Returns false, having changed nothing, when the general path is
    /// needed.
    #[inline(always)]
    fn small_masked_frame(&mut self, out: &mut impl ActionSink) -> bool {
        if !self.small_frames {
            return false;
        }
        let (ty, context, bytes) = match self.send.ops.front() {
            Some(SendOp { ty, context, payload: SendPayload::Bytes(b), .. }) => (*ty, *context, *b),
            _ => return false,
        };
        let (kind, ends) = match ty.data() {
            Some(d) => d,
            None => return false,
        };
        let len = bytes.len() as usize;
        if len > 125 {
            return false;
        }
        let previous_message = self.send.wire_message;
        let opcode = match data_opcode(previous_message, kind) {
            Some(op) => op,
            None => return false,
        };
        let key = match self.keys.next_key() {
            Ok(k) => k,
            Err(_) => return false,
        };
        let c = self.control_area();
        let total = SMALL_HEADER_LEN + len;
        let dst = self.region.slice_mut(c..c + total);
        dst[0] = if ends { 0x80 } else { 0 } | opcode.bits();
        dst[1] = 0x80 | len as u8;
        dst[2..SMALL_HEADER_LEN].copy_from_slice(&key);
        frame::mask_copy(&mut dst[SMALL_HEADER_LEN..], bytes.bytes(0..len), key, 0);
        self.send.wire_message = if ends { None } else { Some(kind) };
        self.send.frame = Frame {
            header_len: SMALL_HEADER_LEN as u32,
            header_sent: false,
            payload_len: len as u32,
            sent: 0,
            key: Some(key),
            contiguous: true,
            untouched: true,
            compressed: false,
            previous_message,
        };
        if let Some(op) = self.send.ops.front_mut() {
            op.progress = Progress::Framing;
        }
        self.channel = Channel::UserFrame;
        let token = self.token();
        self.send.out =
            Some(Outstanding::Frame { token, bytes: total as u32, header: true, payload: len as u32 });
        out.put(Action {
            kind: ActionKind::SendToNetwork,
            buffers: [Buffer::data(self.region.ptr(c), total), Buffer::EMPTY],
            count: 1,
            buffer_type: ty.raw(),
            app_context: Some(context),
            token,
        });
        true
    }

    /// Builds the head operation's frame header (or whole control frame) in C. Returns false
    /// when the operation is dropped without sending (its message no longer fits the wire
    /// state after an earlier frame was withdrawn).
    fn start_frame(&mut self) -> Result<bool> {
        let (ty, payload) = match self.send.ops.front() {
            Some(op) => (op.ty, op.payload),
            None => return Ok(false),
        };
        let mask = self.next_mask()?;
        let c = self.control_area();
        let previous_message = self.send.wire_message;
        let mut header = [0u8; MAX_HEADER_LEN];
        let frame = match (ty.data(), payload) {
            (Some((kind, ends)), SendPayload::Bytes(bytes)) => {
                let opcode = match data_opcode(self.send.wire_message, kind) {
                    Some(op) => op,
                    None => {
                        // A frame it depended on was withdrawn, leaving a message of the other
                        // kind unfinished on the wire. It cannot be sent, and dropping it quietly
                        // would lose data: the send side fails, so that the application hears
                        // of it (E_INVALID_PROTOCOL_OPERATION from the next Send).
                        self.finish_head();
                        self.send.broken = true;
                        return Ok(false);
                    }
                };
                if self.deflate_on {
                    let len = match self.compress_payload(bytes, ends, mask) {
                        Ok(len) => len,
                        Err(e) => {
                            // The compressor's state is unknown: nothing more can follow.
                            self.send.broken = true;
                            return Err(e);
                        }
                    };
                    let h =
                        FrameHeader { fin: ends, opcode, mask, payload_len: u64::from(len), header_len: 0 };
                    let header_len = h.encode(&mut header);
                    if previous_message.is_none() {
                        header[0] |= frame::RSV1;
                    }
                    self.region.slice_mut(c..c + header_len).copy_from_slice(&header[..header_len]);
                    self.send.wire_message = if ends { None } else { Some(kind) };
                    self.send.frame = Frame {
                        header_len: header_len as u32,
                        header_sent: false,
                        payload_len: len,
                        sent: 0,
                        key: None,
                        contiguous: false,
                        untouched: true,
                        compressed: true,
                        previous_message,
                    };
                    if let Some(op) = self.send.ops.front_mut() {
                        op.progress = Progress::Framing;
                    }
                    self.channel = Channel::UserFrame;
                    return Ok(true);
                }
                self.send.wire_message = if ends { None } else { Some(kind) };
                let len = bytes.len() as usize;
                let h = FrameHeader { fin: ends, opcode, mask, payload_len: len as u64, header_len: 0 };
                let header_len = h.encode(&mut header);
                let key = mask.filter(|k| *k != [0; 4]);
                let contiguous = key.is_some() && header_len + len <= CONTROL_AREA_SIZE as usize;
                let out = self.region.slice_mut(c..c + header_len + if contiguous { len } else { 0 });
                out[..header_len].copy_from_slice(&header[..header_len]);
                if let (true, Some(k)) = (contiguous, key) {
                    frame::mask_copy(&mut out[header_len..], bytes.bytes(0..len), k, 0);
                }
                Frame {
                    header_len: header_len as u32,
                    header_sent: false,
                    payload_len: len as u32,
                    sent: 0,
                    key,
                    contiguous,
                    untouched: true,
                    compressed: false,
                    previous_message,
                }
            }
            (None, _) => {
                let (opcode, status, body) = match payload {
                    SendPayload::Close { status, reason } => (OpCode::Close, status, reason),
                    SendPayload::Bytes(b) if ty == BufferType::PingPong => (OpCode::Ping, None, b),
                    SendPayload::Bytes(b) => (OpCode::Pong, None, b),
                };
                let header_len = self.write_control_frame(opcode, status, body, mask);
                Frame {
                    header_len: header_len as u32,
                    header_sent: false,
                    payload_len: 0,
                    sent: 0,
                    key: None,
                    contiguous: true,
                    untouched: true,
                    compressed: false,
                    previous_message,
                }
            }
            (Some(_), SendPayload::Close { .. }) => {
                self.finish_head();
                return Ok(false);
            }
        };
        if let Some(op) = self.send.ops.front_mut() {
            op.progress = Progress::Framing;
        }
        self.send.frame = frame;
        self.channel = Channel::UserFrame;
        Ok(true)
    }

    /// Writes a whole control frame into C (status + body as payload, masked when `mask` is
    /// given) and returns its length.
    pub(super) fn write_control_frame(
        &mut self,
        opcode: OpCode,
        status: Option<u16>,
        body: CallerBytes,
        mask: Option<[u8; 4]>,
    ) -> usize {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let mut len = 0;
        if let Some(s) = status {
            payload[..2].copy_from_slice(&s.to_be_bytes());
            len = 2;
        }
        let body_len = body.len() as usize;
        payload[len..len + body_len].copy_from_slice(body.bytes(0..body_len));
        len += body_len;
        self.write_control_bytes(opcode, &payload[..len], mask)
    }

    /// Writes a whole control frame with `payload` into C and returns its length.
    pub(super) fn write_control_bytes(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) -> usize {
        let c = self.control_area();
        let h = FrameHeader { fin: true, opcode, mask, payload_len: payload.len() as u64, header_len: 0 };
        let mut header = [0u8; MAX_HEADER_LEN];
        let header_len = h.encode(&mut header);
        let out = self.region.slice_mut(c..c + header_len + payload.len());
        out[..header_len].copy_from_slice(&header[..header_len]);
        match mask {
            Some(k) => frame::mask_copy(&mut out[header_len..], payload, k, 0),
            None => out[header_len..].copy_from_slice(payload),
        }
        header_len + payload.len()
    }

    /// The next SEND_TO_NETWORK of the head operation's frame.
    fn next_frame_action(&mut self, capacity: usize, out: &mut impl ActionSink) {
        let c = self.control_area();
        let s = self.send_area();
        let op = match self.send.ops.front() {
            Some(op) => op,
            None => return,
        };
        let (ty, context) = (op.ty, op.context);
        let bytes = match op.payload {
            SendPayload::Bytes(b) => b,
            SendPayload::Close { .. } => CallerBytes::EMPTY,
        };
        if op.progress != Progress::Framing {
            return;
        }
        let f = self.send.frame;
        let (compressed, contiguous, header_len, header_sent, sent, payload_len, key) = (
            f.compressed,
            f.contiguous,
            f.header_len as usize,
            f.header_sent,
            f.sent as usize,
            f.payload_len as usize,
            f.key,
        );
        let mut action = Action {
            kind: ActionKind::SendToNetwork,
            buffer_type: ty.raw(),
            app_context: Some(context),
            ..Action::NONE
        };
        let mut total = 0usize;
        let mut header = false;
        let mut payload = 0usize;
        if contiguous {
            let len = header_len + payload_len;
            action.buffers[0] = Buffer::data(self.region.ptr(c), len);
            action.count = 1;
            total = len;
            header = true;
            payload = payload_len;
        } else {
            if !header_sent {
                action.buffers[0] = Buffer::data(self.region.ptr(c), header_len);
                action.count = 1;
                total = header_len;
                header = true;
            }
            // An action's byte count must fit the ULONG that CompleteAction reports: a payload
            // sent in place whose header would push the total past ULONG_MAX goes out in the
            // next action, on its own.
            let fits = |n: usize| total as u64 + n as u64 <= u64::from(u32::MAX);
            if sent < payload_len && action.count < capacity && (key.is_some() || fits(payload_len - sent)) {
                let (ptr, n) = match key {
                    None if compressed => (self.compressed_ptr(sent), payload_len - sent),
                    None => (bytes.ptr(sent), payload_len - sent),
                    Some(k) => {
                        let n = (payload_len - sent).min(s.len());
                        let src = bytes.bytes(sent..sent + n);
                        frame::mask_copy(self.region.slice_mut(s.start..s.start + n), src, k, sent as u64);
                        (self.region.ptr(s.start), n)
                    }
                };
                action.buffers[action.count] = Buffer::data(ptr, n);
                action.count += 1;
                total += n;
                payload = n;
            }
        }
        let token = self.token();
        action.token = token;
        self.send.out =
            Some(Outstanding::Frame { token, bytes: total as u32, header, payload: payload as u32 });
        out.put(action);
    }

    /// CompleteAction for an automatic pong of `bytes` bytes, on either queue: 0 drops it (spec
    /// §9.5.5), a short write breaks the outgoing stream as for a user frame.
    pub(super) fn complete_pong(&mut self, transferred: u32, bytes: u32) {
        self.channel = Channel::Free;
        if transferred != 0 && transferred < bytes {
            self.send.broken = true;
        }
    }

    /// CompleteAction for the send side's outstanding action.
    #[inline(always)]
    pub(super) fn complete_send(&mut self, transferred: u32) {
        match self.send.out.take() {
            Some(Outstanding::Indicate { .. }) => {
                self.send.ops.pop_front();
            }
            Some(Outstanding::Pong { bytes, .. }) => self.complete_pong(transferred, bytes),
            Some(Outstanding::Frame { bytes, header, payload, .. }) => {
                let aborted = self.aborted;
                let mut withdrawn = false;
                let mut broken = false;
                let mut done = false;
                let f = &mut self.send.frame;
                if let Some(op) = self.send.ops.front_mut() {
                    if op.progress == Progress::Framing {
                        if aborted {
                            done = true;
                        } else if transferred >= bytes {
                            f.header_sent |= header;
                            f.sent += payload;
                            f.untouched = false;
                            done = f.header_sent && f.sent >= f.payload_len;
                        } else {
                            // A short write cancels the operation (spec §9.5.5).
                            done = true;
                            if f.untouched && transferred == 0 && !f.compressed {
                                withdrawn = true;
                                self.send.wire_message = f.previous_message;
                                if op.ty == BufferType::Close {
                                    // As if never queued: a close may be sent again.
                                    self.send.close_queued = false;
                                }
                            } else {
                                broken = true;
                            }
                        }
                    }
                    if done {
                        op.progress = Progress::Finished;
                    }
                }
                if done {
                    self.channel = Channel::Free;
                }
                if broken {
                    self.send.broken = true;
                }
                if withdrawn {
                    self.send.recompute_queued_message();
                }
            }
            None => {}
        }
    }
}
