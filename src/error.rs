//! The one error type of the crate and its mapping to HRESULT values and close statuses.
//!
//! Every failure an export can report is a variant here. Each variant knows the HRESULT the export
//! returns for it (spec §4) and, when the peer is at fault, the close status an application would
//! send before closing the connection (1002 protocol error, 1007 invalid payload).
#![forbid(unsafe_code)]

/// `S_OK`.
pub const S_OK: i32 = 0;
/// `E_INVALID_PROTOCOL_OPERATION`: a call that is not allowed in the handle's state, or a
/// message-sequence violation by the peer.
pub const E_INVALID_PROTOCOL_OPERATION: i32 = 0x8376_0001_u32 as i32;
/// `E_INVALID_PROTOCOL_FORMAT`: malformed handshake headers or malformed frames from the peer.
pub const E_INVALID_PROTOCOL_FORMAT: i32 = 0x8376_0002_u32 as i32;
/// `E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED`: the server selected an extension that was not offered.
pub const E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED: i32 = 0x8376_0003_u32 as i32;
/// `E_SUBPROTOCOL_NOT_SUPPORTED`: the server selected a subprotocol that was not offered.
pub const E_SUBPROTOCOL_NOT_SUPPORTED: i32 = 0x8376_0004_u32 as i32;
/// `E_PROTOCOL_VERSION_NOT_SUPPORTED`: the client asked for a version other than 13.
pub const E_PROTOCOL_VERSION_NOT_SUPPORTED: i32 = 0x8376_0005_u32 as i32;
/// `E_INVALIDARG`.
pub const E_INVALIDARG: i32 = 0x8007_0057_u32 as i32;
/// `E_OUTOFMEMORY`.
pub const E_OUTOFMEMORY: i32 = 0x8007_000E_u32 as i32;
/// `E_UNEXPECTED`: an internal fault (a caught panic); the handle is unusable afterwards.
pub const E_UNEXPECTED: i32 = 0x8000_FFFF_u32 as i32;
/// `HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER)`.
pub const E_INSUFFICIENT_BUFFER: i32 = 0x8007_007A_u32 as i32;

/// Everything that can go wrong, named after the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // --- caller mistakes: E_INVALIDARG -------------------------------------------------------
    /// A required pointer argument was NULL.
    #[error("a required pointer argument is NULL")]
    NullPointer,
    /// A NULL pointer came with a non-zero length or count.
    #[error("a NULL pointer came with a non-zero length")]
    NullWithLength,
    /// The handle is NULL, deleted, stale or was never issued.
    #[error("the handle is not a live WebSocket handle")]
    BadHandle,
    /// A client-only function was called on a server handle or the other way round.
    #[error("the function does not apply to this kind of handle")]
    WrongHandleKind,
    /// A property type that the function does not accept.
    #[error("unsupported property type {0}")]
    BadPropertyType(i32),
    /// A property value whose size is wrong for its type.
    #[error("property {0} has a value of the wrong size")]
    BadPropertySize(i32),
    /// A buffer size outside the accepted range.
    #[error("buffer size {0} is out of range")]
    BufferSizeOutOfRange(u32),
    /// The ALLOCATED_BUFFER is NULL or smaller than RBS + SBS + 144 bytes.
    #[error("the allocated buffer is NULL or too small")]
    AllocatedBufferTooSmall,
    /// An unknown `WEB_SOCKET_BUFFER_TYPE` value.
    #[error("unknown buffer type {0:#x}")]
    BadBufferType(u32),
    /// An unknown `WEB_SOCKET_ACTION_QUEUE` value.
    #[error("unknown action queue {0}")]
    BadActionQueue(i32),
    /// A close reason longer than 123 bytes, or a reason together with status 1005.
    #[error("invalid close reason")]
    BadCloseReason,
    /// A control-frame payload longer than 125 bytes.
    #[error("control frame payload longer than 125 bytes")]
    ControlPayloadTooLong,
    /// A buffer array capacity of zero, or an output array too small.
    #[error("the output array is too small")]
    ArrayTooSmall,
    /// A subprotocol or extension string that is empty or not a valid token, or an application
    /// extension named permessage-deflate on a handle that negotiates it itself.
    #[error("invalid subprotocol or extension token")]
    BadToken,
    /// A send payload or receive buffer lies (partly) in the handle's own buffer region.
    #[error("the buffer overlaps the handle's buffer region")]
    BufferOverlapsRegion,
    /// A permessage-deflate setting out of range (window bits other than 0 or 8..=15).
    #[error("invalid permessage-deflate setting")]
    BadDeflateSetting,
    /// The value buffer of GetGlobalProperty is too small; the needed size was written back.
    #[error("the value buffer is too small")]
    InsufficientBuffer,
    /// An allocation failed.
    #[error("out of memory")]
    OutOfMemory,
    /// A panic was caught at the boundary; the handle involved is unusable.
    #[error("internal error")]
    Internal,

    // --- calls in the wrong state: E_INVALID_PROTOCOL_OPERATION ------------------------------
    /// The call is not allowed in the handle's current state.
    #[error("the call is not allowed in the handle's current state")]
    InvalidState,

    // --- handshake: header problems ---------------------------------------------------------
    /// A required header is missing or its value is not what the protocol requires.
    #[error("handshake header {0} is missing or invalid")]
    BadHeader(&'static str),
    /// A header that may appear once appeared several times.
    #[error("handshake header {0} appears more than once")]
    DuplicateHeader(&'static str),
    /// `Sec-WebSocket-Accept` does not match the key this handle sent.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// The client asked for a protocol version other than 13.
    #[error("unsupported WebSocket version")]
    VersionNotSupported,
    /// The server selected a subprotocol that was not offered.
    #[error("the selected subprotocol was not offered")]
    SubprotocolNotSupported,
    /// The server selected an extension that was not offered.
    #[error("the selected extension was not offered")]
    ExtensionNotSupported,

    // --- peer violations found while parsing: E_INVALID_PROTOCOL_FORMAT ---------------------
    /// RSV1, RSV2 or RSV3 set where no negotiated extension allows it.
    #[error("reserved bits set in a frame")]
    ReservedBits,
    /// An opcode reserved by RFC 6455 (0x3-0x7, 0xB-0xF).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with a payload over 125 bytes.
    #[error("control frame longer than 125 bytes")]
    ControlFrameTooLong,
    /// A 64-bit payload length with the most significant bit set.
    #[error("64-bit payload length with the top bit set")]
    LengthTopBit,
    /// A server received an unmasked frame.
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A client received a masked frame.
    #[error("masked frame from a server")]
    MaskedFrame,
    /// Compressed data (permessage-deflate) that does not inflate.
    #[error("invalid compressed data")]
    BadCompressedData,
    /// Invalid UTF-8 in a text message or a close reason.
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    /// A close frame with a 1-byte payload.
    #[error("close frame with a 1-byte payload")]
    BadClosePayload,
    /// A close status that must not appear on the wire.
    #[error("close status {0} must not appear on the wire")]
    BadCloseCode(u16),

    // --- peer violations of the message sequence: E_INVALID_PROTOCOL_OPERATION --------------
    /// A continuation frame with no message in progress.
    #[error("continuation frame with no message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame inside a fragmented message.
    #[error("new message started inside a fragmented message")]
    InterleavedMessage,
}

impl Error {
    /// The HRESULT an export returns for this error (spec §4).
    pub fn hresult(self) -> i32 {
        use Error::*;
        match self {
            NullPointer
            | NullWithLength
            | BadHandle
            | WrongHandleKind
            | BadPropertyType(_)
            | BadPropertySize(_)
            | BufferSizeOutOfRange(_)
            | AllocatedBufferTooSmall
            | BadBufferType(_)
            | BadActionQueue(_)
            | BadCloseReason
            | ControlPayloadTooLong
            | ArrayTooSmall
            | BadToken
            | BufferOverlapsRegion
            | BadDeflateSetting => E_INVALIDARG,
            InsufficientBuffer => E_INSUFFICIENT_BUFFER,
            OutOfMemory => E_OUTOFMEMORY,
            Internal => E_UNEXPECTED,
            InvalidState | UnexpectedContinuation | InterleavedMessage => E_INVALID_PROTOCOL_OPERATION,
            BadHeader(_) | DuplicateHeader(_) | AcceptMismatch | ReservedBits | ReservedOpcode(_)
            | FragmentedControl | ControlFrameTooLong | LengthTopBit | UnmaskedFrame | MaskedFrame
            | InvalidUtf8 | BadClosePayload | BadCloseCode(_) | BadCompressedData => {
                E_INVALID_PROTOCOL_FORMAT
            }
            VersionNotSupported => E_PROTOCOL_VERSION_NOT_SUPPORTED,
            SubprotocolNotSupported => E_SUBPROTOCOL_NOT_SUPPORTED,
            ExtensionNotSupported => E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED,
        }
    }

    /// The close status an application should send when it fails the connection because of
    /// this error, or `None` when the peer is not at fault.
    pub fn close_status(self) -> Option<u16> {
        use Error::*;
        match self {
            InvalidUtf8 => Some(1007),
            ReservedBits
            | ReservedOpcode(_)
            | FragmentedControl
            | ControlFrameTooLong
            | LengthTopBit
            | UnmaskedFrame
            | MaskedFrame
            | BadClosePayload
            | BadCloseCode(_)
            | BadCompressedData
            | UnexpectedContinuation
            | InterleavedMessage => Some(1002),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hresult_values_match_winerror_h() {
        assert_eq!(E_INVALID_PROTOCOL_OPERATION, -2_089_418_751);
        assert_eq!(E_INVALID_PROTOCOL_FORMAT, -2_089_418_750);
        assert_eq!(E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED, -2_089_418_749);
        assert_eq!(E_SUBPROTOCOL_NOT_SUPPORTED, -2_089_418_748);
        assert_eq!(E_PROTOCOL_VERSION_NOT_SUPPORTED, -2_089_418_747);
        assert_eq!(E_INVALIDARG, -2_147_024_809);
        assert_eq!(E_OUTOFMEMORY, -2_147_024_882);
        assert_eq!(E_UNEXPECTED, -2_147_418_113);
        assert_eq!(E_INSUFFICIENT_BUFFER, -2_147_024_774);
    }

    #[test]
    fn peer_faults_carry_a_close_status() {
        assert_eq!(Error::InvalidUtf8.close_status(), Some(1007));
        assert_eq!(Error::ReservedBits.close_status(), Some(1002));
        assert_eq!(Error::NullPointer.close_status(), None);
        assert_eq!(Error::InvalidUtf8.hresult(), E_INVALID_PROTOCOL_FORMAT);
        assert_eq!(Error::UnexpectedContinuation.hresult(), E_INVALID_PROTOCOL_OPERATION);
    }
}
