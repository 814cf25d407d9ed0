//! One WebSocket handle: handshake state, the send and receive operation queues, and the
//! action state machine behind `WebSocketGetAction` / `WebSocketCompleteAction` (spec §5, §9-§11).
//!
//! The methods come in four kinds: getters; commands from the application (`begin_*`, `end_*`,
//! [`Session::queue_send`], [`Session::queue_receive`], [`Session::abort`]);
//! [`Session::get_action`], which hands out the next action of a queue; and
//! [`Session::complete_action`], which takes back an action's token with the bytes moved.
//!
//! Close handshake bookkeeping (RFC 6455 §7, spec §10.1):
//!
//! ```text
//!            WebSocketSend(CLOSE)                     close frame indicated
//!   Open ───────────────────────▶ CloseSent    Open ─────────────────────────▶ CloseReceived
//!    (data sends refused,             │          (receives refused,                 │
//!     pings/pongs still allowed)      │           sends still allowed)              │
//!                                     └──────────────▶ Closed ◀─────────────────────┘
//!   Abort, or a protocol violation reported by GetAction, from any of them ──▶ Aborted
//!   (queued operations drain as INDICATE actions; no more network actions)
//! ```
//! The two close flags are independent, so the four states are `close_queued` × `close`.
#![forbid(unsafe_code)]

mod deflate;
mod fifo;
mod recv;
mod send;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::handshake::{self, Header, HeaderRef, Selection};
use crate::rng::MaskKeys;
use crate::sys::mem::{CallerBytes, CallerBytesMut, Region};

use self::deflate::DeflateState;
use self::recv::RecvSide;
use self::send::SendSide;

/// `WEB_SOCKET_BUFFER_TYPE` values. The discriminants are the C values, so handing a type out
/// is a move, not a table lookup (the data path does it for every action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum BufferType {
    /// Text that ends a message.
    Utf8Message = 0x8000_0000,
    /// Text, message not finished.
    Utf8Fragment = 0x8000_0001,
    /// Binary data that ends a message.
    BinaryMessage = 0x8000_0002,
    /// Binary data, message not finished.
    BinaryFragment = 0x8000_0003,
    /// A close frame.
    Close = 0x8000_0004,
    /// A ping when sending; a pong when received.
    PingPong = 0x8000_0005,
    /// An unsolicited pong (sending only).
    UnsolicitedPong = 0x8000_0006,
}

impl BufferType {
    /// The 32-bit value of the C enum.
    #[inline(always)]
    pub fn raw(self) -> u32 {
        self as u32
    }

    /// Parses the C enum; any other value is an argument error.
    #[inline(always)]
    pub fn from_raw(raw: u32) -> Result<BufferType> {
        Ok(match raw {
            0x8000_0000 => BufferType::Utf8Message,
            0x8000_0001 => BufferType::Utf8Fragment,
            0x8000_0002 => BufferType::BinaryMessage,
            0x8000_0003 => BufferType::BinaryFragment,
            0x8000_0004 => BufferType::Close,
            0x8000_0005 => BufferType::PingPong,
            0x8000_0006 => BufferType::UnsolicitedPong,
            other => return Err(Error::BadBufferType(other)),
        })
    }

    /// For data types: the message kind and whether this piece ends the message.
    #[inline(always)]
    fn data(self) -> Option<(MessageKind, bool)> {
        // The four data types are 0x8000_0000 + (binary << 1 | fragment).
        let low = self.raw().wrapping_sub(0x8000_0000);
        if low > 3 {
            return None;
        }
        let kind = if low & 2 == 0 { MessageKind::Text } else { MessageKind::Binary };
        Some((kind, low & 1 == 0))
    }

    #[inline(always)]
    fn for_data(kind: MessageKind, ends_message: bool) -> BufferType {
        match (kind, ends_message) {
            (MessageKind::Text, true) => BufferType::Utf8Message,
            (MessageKind::Text, false) => BufferType::Utf8Fragment,
            (MessageKind::Binary, true) => BufferType::BinaryMessage,
            (MessageKind::Binary, false) => BufferType::BinaryFragment,
        }
    }
}

/// Text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageKind {
    Text,
    Binary,
}

/// `WEB_SOCKET_ACTION_QUEUE` values (the discriminants are the C values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Queue {
    /// Actions of send operations.
    Send = 1,
    /// Actions of receive operations and automatic pongs.
    Receive = 2,
    /// Either.
    All = 3,
}

impl Queue {
    /// Parses the C enum (1, 2 or 3).
    pub fn from_raw(raw: i32) -> Result<Queue> {
        match raw {
            1 => Ok(Queue::Send),
            2 => Ok(Queue::Receive),
            3 => Ok(Queue::All),
            other => Err(Error::BadActionQueue(other)),
        }
    }
}

/// `WEB_SOCKET_ACTION` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Nothing to do now.
    NoAction = 0,
    /// Write the buffers to the network, in order.
    SendToNetwork = 1,
    /// A send operation has finished.
    IndicateSendComplete = 2,
    /// Read network bytes into the buffer.
    ReceiveFromNetwork = 3,
    /// A receive operation has finished; the buffer holds the result.
    IndicateReceiveComplete = 4,
}

/// One returned `WEB_SOCKET_BUFFER`: pointer and length (at the same offsets in both arms) and
/// the close status of the `CloseStatus` arm (0 for the `Data` arm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Start of the bytes; for a close without status, NULL.
    pub ptr: *mut u8,
    /// Their number.
    pub len: u32,
    /// Close status (CloseStatus arm only).
    pub status: u16,
}

impl Buffer {
    const EMPTY: Buffer = Buffer { ptr: core::ptr::null_mut(), len: 0, status: 0 };

    fn data(ptr: *mut u8, len: usize) -> Buffer {
        Buffer { ptr, len: len as u32, status: 0 }
    }

    fn close(ptr: *mut u8, len: usize, status: u16) -> Buffer {
        Buffer { ptr, len: len as u32, status }
    }
}

/// What `WebSocketGetAction` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The action.
    pub kind: ActionKind,
    /// Buffers; only the first `count` are meaningful.
    pub buffers: [Buffer; 2],
    /// Number of buffers.
    pub count: usize,
    /// `WEB_SOCKET_BUFFER_TYPE` value, or 0.
    pub buffer_type: u32,
    /// The operation's context, when the action belongs to an application operation.
    pub app_context: Option<usize>,
    /// The token for `WebSocketCompleteAction` (0 for NO_ACTION).
    pub token: usize,
}

impl Action {
    /// NO_ACTION.
    pub const NONE: Action = Action {
        kind: ActionKind::NoAction,
        buffers: [Buffer::EMPTY; 2],
        count: 0,
        buffer_type: 0,
        app_context: None,
        token: 0,
    };

    /// The buffers that are in use.
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers[..self.count]
    }
}

/// Where [`Session::get_action`] delivers the action it hands out: at most one per call, none
/// for NO_ACTION. The C ABI's sink writes it straight into the caller's output parameters, so
/// the common paths build no intermediate copy.
pub trait ActionSink {
    /// Takes the action.
    fn put(&mut self, action: Action);
}

/// The payload of a send operation, as read from the caller's `WEB_SOCKET_BUFFER`.
#[derive(Debug, Clone, Copy)]
pub enum SendPayload {
    /// Data, ping and unsolicited-pong payloads.
    Bytes(CallerBytes),
    /// A close frame: status (None = empty close payload) and reason.
    Close {
        /// Status code, or None for a close frame without payload.
        status: Option<u16>,
        /// Reason bytes (at most 123).
        reason: CallerBytes,
    },
}

/// Handshake progress (spec §5).
#[derive(Debug)]
enum Phase {
    Created,
    /// Boxed: only needed until the response is verified, and the handle keeps its size small.
    ClientHandshaking(Box<ClientOffer>),
    /// With the permessage-deflate state when it was negotiated (kept in the phase, where the
    /// enum's layout has room for it, so that handles without it do not grow).
    ServerHandshaking(Option<Box<DeflateState>>),
    Open(Option<Box<DeflateState>>),
}

/// The permessage-deflate state, when the handshake negotiated it.
fn deflate_state(phase: &mut Phase) -> Option<&mut DeflateState> {
    match phase {
        Phase::ServerHandshaking(Some(d)) | Phase::Open(Some(d)) => Some(d),
        _ => None,
    }
}

fn deflate_state_ref(phase: &Phase) -> Option<&DeflateState> {
    match phase {
        Phase::ServerHandshaking(Some(d)) | Phase::Open(Some(d)) => Some(d),
        _ => None,
    }
}

/// What a client remembers between its request and the server's response.
#[derive(Debug)]
struct ClientOffer {
    accept: String,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
}

/// Who holds the outgoing byte stream (one SEND_TO_NETWORK outstanding at a time, and a frame's
/// actions never interleave with another frame's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Free,
    UserFrame,
    Pong,
}

/// One WebSocket handle's state.
pub struct Session {
    role: Role,
    config: Config,
    /// The handshake has completed (`phase` is Open); checked first on every data-path call.
    open: bool,
    phase: Phase,
    region: Region,
    keys: MaskKeys,
    next_token: usize,
    aborted: bool,
    channel: Channel,
    /// The handshake negotiated permessage-deflate (its state is in `phase`).
    deflate_on: bool,
    /// A client that masks with random keys and sends uncompressed: the one-step path for small
    /// frames applies (`send::small_masked_frame`).
    small_frames: bool,
    send: SendSide,
    recv: RecvSide,
}

static TOKEN_SEED: AtomicUsize = AtomicUsize::new(0);

impl Session {
    /// A new handle in state Created. `region` must be `config.region_size()` bytes or more.
    pub fn new(role: Role, config: Config, region: Region) -> Result<Session> {
        if region.len() < config.region_size() {
            return Err(Error::AllocatedBufferTooSmall);
        }
        // Odd, per-handle starting points make a token from another handle unlikely to match.
        let seed = TOKEN_SEED.fetch_add(1, Ordering::Relaxed);
        let next_token = (seed.wrapping_mul(0x9E37_79B9_usize.wrapping_mul(0x10001)) << 8) | 1;
        Ok(Session {
            role,
            config,
            open: false,
            phase: Phase::Created,
            region,
            keys: MaskKeys::from_os(),
            next_token,
            aborted: false,
            channel: Channel::Free,
            deflate_on: false,
            small_frames: role == Role::Client && !config.disable_masking,
            send: SendSide::new(),
            recv: RecvSide::new(),
        })
    }

    /// Replaces the masking-key source (deterministic frames in tests and benchmarks).
    pub fn set_mask_keys(&mut self, keys: MaskKeys) {
        self.keys = keys;
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The validated properties.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the buffer region lies: its first byte and its length (for checking where returned
    /// pointers lie). Reads none of it: parts of it may be the caller's at any moment.
    pub fn region_span(&self) -> (*const u8, usize) {
        (self.region.ptr(0), self.region.len())
    }

    /// Whether the handshake has completed.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether the handle was aborted or failed.
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// Whether the handshake negotiated permessage-deflate.
    pub fn deflate_negotiated(&self) -> bool {
        self.deflate_on
    }

    /// Bytes held by the permessage-deflate state (zlib streams and buffers), 0 without it.
    pub fn deflate_memory(&self) -> usize {
        deflate_state_ref(&self.phase).map_or(0, |d| d.memory())
    }

    // --- handshake -------------------------------------------------------------------------

    /// WebSocketBeginClientHandshake with a fresh key from the OS random source.
    pub fn begin_client_handshake(
        &mut self,
        subprotocols: Vec<String>,
        extensions: Vec<String>,
    ) -> Result<Vec<Header>> {
        self.expect_role(Role::Client)?;
        let mut nonce = [0u8; 16];
        crate::sys::os::random_bytes(&mut nonce)?;
        self.begin_client_handshake_with_nonce(nonce, subprotocols, extensions)
    }

    /// WebSocketBeginClientHandshake with a given 16-byte nonce (tests).
    pub fn begin_client_handshake_with_nonce(
        &mut self,
        nonce: [u8; 16],
        subprotocols: Vec<String>,
        extensions: Vec<String>,
    ) -> Result<Vec<Header>> {
        self.expect_role(Role::Client)?;
        if !matches!(self.phase, Phase::Created) {
            return Err(Error::InvalidState);
        }
        let key = handshake::encode_key(&nonce);
        let headers = match &self.config.deflate {
            None => handshake::client_request_headers(&key, &subprotocols, &extensions),
            Some(d) => {
                handshake::check_not_deflate(&extensions)?;
                let mut all = extensions.clone();
                all.push(crate::deflate::client_offer(d));
                handshake::client_request_headers(&key, &subprotocols, &all)
            }
        };
        self.phase = Phase::ClientHandshaking(Box::new(ClientOffer {
            accept: handshake::accept_for_key(key.as_bytes()),
            subprotocols,
            extensions,
        }));
        Ok(headers)
    }

    /// WebSocketEndClientHandshake: verifies the response. `extension_capacity` is the size of
    /// the caller's index array, if it passed one. On failure the handle stays in
    /// ClientHandshaking.
    pub fn end_client_handshake(
        &mut self,
        response: &[HeaderRef<'_>],
        extension_capacity: Option<usize>,
    ) -> Result<Selection> {
        self.expect_role(Role::Client)?;
        let selection = match &self.phase {
            Phase::ClientHandshaking(offer) => handshake::verify_response(
                response,
                &offer.accept,
                &offer.subprotocols,
                &offer.extensions,
                self.config.deflate.as_ref(),
            )?,
            _ => return Err(Error::InvalidState),
        };
        if let Some(capacity) = extension_capacity {
            if capacity < selection.extensions.len() {
                return Err(Error::ArrayTooSmall);
            }
        }
        let deflate = match selection.deflate {
            Some(negotiated) => Some(DeflateState::new(negotiated)?),
            None => None,
        };
        self.deflate_on = deflate.is_some();
        self.small_frames &= !self.deflate_on;
        self.phase = Phase::Open(deflate);
        self.open = true;
        Ok(selection)
    }

    /// WebSocketBeginServerHandshake: verifies the request and returns the response headers.
    /// On failure the handle stays in Created.
    pub fn begin_server_handshake(
        &mut self,
        subprotocol: Option<String>,
        extensions: Vec<String>,
        request: &[HeaderRef<'_>],
    ) -> Result<Vec<Header>> {
        self.expect_role(Role::Server)?;
        if !matches!(self.phase, Phase::Created) {
            return Err(Error::InvalidState);
        }
        let key = handshake::verify_request(request)?;
        let accept = handshake::accept_for_key(&key);
        let mut deflate = None;
        let headers = match &self.config.deflate {
            None => handshake::server_response_headers(&accept, subprotocol.as_deref(), &extensions),
            Some(d) => {
                handshake::check_not_deflate(&extensions)?;
                let mut all = extensions;
                if let Some((answer, negotiated)) = handshake::accept_deflate(request, d) {
                    all.push(answer);
                    deflate = Some(DeflateState::new(negotiated)?);
                }
                handshake::server_response_headers(&accept, subprotocol.as_deref(), &all)
            }
        };
        self.deflate_on = deflate.is_some();
        self.phase = Phase::ServerHandshaking(deflate);
        Ok(headers)
    }

    /// WebSocketEndServerHandshake (also done implicitly by the first Send/Receive/GetAction).
    pub fn end_server_handshake(&mut self) -> Result<()> {
        self.expect_role(Role::Server)?;
        match core::mem::replace(&mut self.phase, Phase::Created) {
            Phase::ServerHandshaking(d) | Phase::Open(d) => {
                self.phase = Phase::Open(d);
                self.open = true;
                Ok(())
            }
            other => {
                self.phase = other;
                Err(Error::InvalidState)
            }
        }
    }

    fn expect_role(&self, role: Role) -> Result<()> {
        if self.role == role {
            Ok(())
        } else {
            Err(Error::WrongHandleKind)
        }
    }

    /// Send/Receive/GetAction need an open handle; a server's pending handshake ends here.
    #[inline(always)]
    fn ensure_open(&mut self) -> Result<()> {
        if self.open {
            return Ok(());
        }
        match core::mem::replace(&mut self.phase, Phase::Created) {
            Phase::ServerHandshaking(d) => {
                self.phase = Phase::Open(d);
                self.open = true;
                Ok(())
            }
            other => {
                self.phase = other;
                Err(Error::InvalidState)
            }
        }
    }

    // --- commands --------------------------------------------------------------------------

    /// WebSocketSend: queues one frame. The payload stays the caller's until this operation's
    /// INDICATE_SEND_COMPLETE is handed out.
    #[inline(always)]
    pub fn queue_send(&mut self, ty: BufferType, payload: SendPayload, context: usize) -> Result<()> {
        self.ensure_open()?;
        if self.aborted {
            return Err(Error::InvalidState);
        }
        self.send.queue(ty, payload, context)
    }

    /// WebSocketReceive: queues one receive operation; `buffer` is the caller's buffer to copy
    /// data into, or None to have it delivered in the receive area.
    #[inline(always)]
    pub fn queue_receive(&mut self, buffer: Option<CallerBytesMut>, context: usize) -> Result<()> {
        self.ensure_open()?;
        if self.aborted {
            return Err(Error::InvalidState);
        }
        self.recv.queue(buffer, context)
    }

    /// WebSocketAbortHandle (spec §10.2): no-op before the handshake completes; afterwards no
    /// more network actions, and every queued operation drains as an INDICATE action. A server
    /// whose handshake awaits only EndServerHandshake is aborted too (spec §5: Abort is allowed
    /// there, like Send/Receive/GetAction, which end that handshake implicitly).
    pub fn abort(&mut self) {
        if matches!(self.phase, Phase::ServerHandshaking(_)) {
            let _ = self.ensure_open();
        }
        if self.is_open() {
            self.enter_aborted();
        }
    }

    fn enter_aborted(&mut self) {
        self.aborted = true;
        self.recv.drop_pong();
        if self.send.abort() && self.channel == Channel::UserFrame {
            self.channel = Channel::Free;
        }
    }

    /// Reports a peer violation: the error goes out once, then the handle behaves as aborted.
    fn fail(&mut self, error: Error) -> Error {
        self.enter_aborted();
        error
    }

    // --- actions ---------------------------------------------------------------------------

    /// WebSocketGetAction: puts the next action of `queue` into `out`, or nothing for
    /// NO_ACTION. `capacity` is the number of buffers the caller offers (at least 1).
    #[inline(always)]
    pub fn get_action(&mut self, queue: Queue, capacity: usize, out: &mut impl ActionSink) -> Result<()> {
        if capacity == 0 {
            return Err(Error::ArrayTooSmall);
        }
        self.ensure_open()?;
        // Each poll says whether it put an action; ALL asks the next one only if not.
        match queue {
            Queue::Send => {
                self.poll_send(capacity, out);
            }
            Queue::Receive => {
                self.poll_receive(out)?;
            }
            // The outgoing channel first (pending pong, then the head send), then receiving.
            Queue::All => {
                let _ = self.poll_pong(out)
                    || self.poll_send_outlined(capacity, out)
                    || self.poll_receive(out)?;
            }
        }
        Ok(())
    }

    /// WebSocketCompleteAction. Unknown, stale and NO_ACTION tokens are ignored (NO_ACTION's
    /// token 0 never matches: every token handed out is odd, see `token`).
    #[inline(always)]
    pub fn complete_action(&mut self, token: usize, bytes: u32) {
        if self.send.owns(token) {
            self.complete_send(bytes);
        } else if self.recv.owns(token) {
            self.complete_receive(bytes);
        }
    }

    /// The next action token: odd, so never 0 (NO_ACTION's), since the first is odd.
    #[inline(always)]
    fn token(&mut self) -> usize {
        self.next_token = self.next_token.wrapping_add(2);
        self.next_token
    }

    fn receive_area(&self) -> usize {
        self.config.receive_buffer_size as usize
    }

    fn send_area(&self) -> core::ops::Range<usize> {
        let start = self.config.receive_buffer_size as usize;
        start..start + self.config.send_buffer_size as usize
    }

    fn control_area(&self) -> usize {
        self.config.receive_buffer_size as usize + self.config.send_buffer_size as usize
    }

    /// The masking key for the next frame: None on a server, zeros with DISABLE_MASKING.
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>> {
        match self.role {
            Role::Server => Ok(None),
            Role::Client if self.config.disable_masking => Ok(Some([0; 4])),
            Role::Client => self.keys.next_key().map(Some),
        }
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("aborted", &self.aborted)
            .finish()
    }
}
