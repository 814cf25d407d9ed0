//! `#[repr(C)]` mirrors of the SDK's `websocket.h` types (spec §2, §3).
//!
//! Enumerations appear twice: as C enums for the generated header, and as plain integer types
//! (`*_VALUE`) in every signature and struct field, because a caller may pass any 32-bit value
//! and turning an unknown one into a Rust enum would be undefined behaviour. The generator
//! renames each `*_VALUE` type to the enum's name in `include/websocket.h`.
#![allow(non_snake_case, non_camel_case_types)]

use libc::{c_char, c_void};

/// `HRESULT`: 32-bit status, negative on failure.
pub type HRESULT = i32;
/// `ULONG`: 32 bits on every platform (not C `unsigned long`).
pub type ULONG = u32;
/// `USHORT`.
pub type USHORT = u16;
/// `BOOL`: 32-bit, 0 is false.
pub type BOOL = i32;
/// `PVOID`.
pub type PVOID = *mut c_void;
/// `PCSTR`: NUL-terminated byte string.
pub type PCSTR = *const c_char;
/// `PBYTE`.
pub type PBYTE = *mut u8;
/// `PCHAR`.
pub type PCHAR = *mut c_char;

/// `WEB_SOCKET_HANDLE`: an opaque, pointer-sized, non-zero value; never dereferenced.
pub type WEB_SOCKET_HANDLE = *mut c_void;

/// Return type of the functions the header declares `HRESULT WINAPI`.
pub type HRESULT_WINAPI = HRESULT;
/// Return type of the three functions the header declares `VOID WINAPI`. They return a 32-bit 0:
/// invisible to `void` callers on every target, and a protection for bindings that wrongly read
/// an HRESULT from them (spec §15 Q34).
pub type VOID_WINAPI = i32;

/// `WEB_SOCKET_PROPERTY_TYPE` as it travels.
pub type WEB_SOCKET_PROPERTY_TYPE_VALUE = i32;
/// `WEB_SOCKET_ACTION_QUEUE` as it travels.
pub type WEB_SOCKET_ACTION_QUEUE_VALUE = i32;
/// `WEB_SOCKET_BUFFER_TYPE` as it travels.
pub type WEB_SOCKET_BUFFER_TYPE_VALUE = u32;
/// `WEB_SOCKET_ACTION` as it travels.
pub type WEB_SOCKET_ACTION_VALUE = i32;

/// Longest close reason, in bytes.
pub const WEB_SOCKET_MAX_CLOSE_REASON_LENGTH: u32 = 123;

/// Close status codes.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WEB_SOCKET_CLOSE_STATUS {
    /// 1000.
    WEB_SOCKET_SUCCESS_CLOSE_STATUS = 1000,
    /// 1001.
    WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS = 1001,
    /// 1002.
    WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS = 1002,
    /// 1003.
    WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS = 1003,
    /// 1005: the close frame carried no status.
    WEB_SOCKET_EMPTY_CLOSE_STATUS = 1005,
    /// 1006: the connection ended without a close frame.
    WEB_SOCKET_ABORTED_CLOSE_STATUS = 1006,
    /// 1007.
    WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS = 1007,
    /// 1008.
    WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS = 1008,
    /// 1009.
    WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS = 1009,
    /// 1010.
    WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS = 1010,
    /// 1011.
    WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS = 1011,
    /// 1015.
    WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS = 1015,
}

/// Property types.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WEB_SOCKET_PROPERTY_TYPE {
    /// ULONG, 256..=65536, default 4096.
    WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE = 0,
    /// ULONG, 16..=65536, default 4096 (client) / 16 (server).
    WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE = 1,
    /// BOOL: zero masking key (client), accept unmasked frames (server).
    WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE = 2,
    /// PVOID: caller memory for all returned buffers; `pvValue` points at the pointer,
    /// `ulValueSize` is the buffer's length (at least RBS + SBS + 144).
    WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE = 3,
    /// BOOL: deliver text and close reasons without UTF-8 validation.
    WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE = 4,
    /// ULONG milliseconds (WebSocketGetGlobalProperty).
    WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE = 5,
    /// ULONG array (WebSocketGetGlobalProperty): `{13}`.
    WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE = 6,
}

/// Action queues.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WEB_SOCKET_ACTION_QUEUE {
    /// Actions of send operations.
    WEB_SOCKET_SEND_ACTION_QUEUE = 1,
    /// Actions of receive operations and automatic pong replies.
    WEB_SOCKET_RECEIVE_ACTION_QUEUE = 2,
    /// Either.
    WEB_SOCKET_ALL_ACTION_QUEUE = 3,
}

/// Buffer types.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WEB_SOCKET_BUFFER_TYPE {
    /// Text that ends a message.
    WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE = 0x8000_0000,
    /// Text, more to follow.
    WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE = 0x8000_0001,
    /// Binary data that ends a message.
    WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE = 0x8000_0002,
    /// Binary data, more to follow.
    WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE = 0x8000_0003,
    /// A close frame (the CloseStatus arm).
    WEB_SOCKET_CLOSE_BUFFER_TYPE = 0x8000_0004,
    /// A ping when sending, a pong when received.
    WEB_SOCKET_PING_PONG_BUFFER_TYPE = 0x8000_0005,
    /// An unsolicited pong (sending only).
    WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE = 0x8000_0006,
}

/// Actions returned by WebSocketGetAction.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WEB_SOCKET_ACTION {
    /// Nothing to do now.
    WEB_SOCKET_NO_ACTION = 0,
    /// Write the returned buffers to the network, in order.
    WEB_SOCKET_SEND_TO_NETWORK_ACTION = 1,
    /// A send operation finished.
    WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION = 2,
    /// Read network bytes into the returned buffer.
    WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION = 3,
    /// A receive operation finished; the buffer holds the result.
    WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION = 4,
}

pub use WEB_SOCKET_ACTION::*;
pub use WEB_SOCKET_ACTION_QUEUE::*;
pub use WEB_SOCKET_BUFFER_TYPE::*;
pub use WEB_SOCKET_CLOSE_STATUS::*;
pub use WEB_SOCKET_PROPERTY_TYPE::*;

/// One handle property.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WEB_SOCKET_PROPERTY {
    /// Which property.
    pub Type: WEB_SOCKET_PROPERTY_TYPE_VALUE,
    /// Points at the value.
    pub pvValue: PVOID,
    /// Size of the value in bytes (for the allocated buffer: the buffer's length).
    pub ulValueSize: ULONG,
}

/// Property type that opts a handle in to permessage-deflate (RFC 7692). NOT in the Windows
/// SDK: an extension of this library, outside the SDK's property range (0..6); Windows'
/// websocket.dll rejects it with E_INVALIDARG. `pvValue` points at a
/// WEB_SOCKET_DEFLATE_SETTINGS and `ulValueSize` is its size (16). Accepted by
/// WebSocketCreateClientHandle and WebSocketCreateServerHandle.
pub const WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE: WEB_SOCKET_PROPERTY_TYPE_VALUE = 0x1000;

/// The value of WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE (not in the Windows SDK). All zeros
/// is the usual choice: no context-takeover restrictions, 32 KiB windows. Window bits are 0 (no
/// limit) or 8..15; anything else is E_INVALIDARG at create time. BOOLs: non-zero is TRUE.
///
/// On a client handle the fields shape the offer: `fServerNoContextTakeover` and
/// `ulServerMaxWindowBits` ask the server; `fClientNoContextTakeover` and
/// `ulClientMaxWindowBits` restrict the client's own compressor (the offer always carries
/// `client_max_window_bits`, so a server may lower it). On a server handle they are what the
/// server requires of every offer it accepts: it resets its compressor per message
/// (`fServerNoContextTakeover`), compresses with at most 2^ulServerMaxWindowBits bytes of window,
/// and asks the client for `client_no_context_takeover` / `client_max_window_bits`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct WEB_SOCKET_DEFLATE_SETTINGS {
    /// Server resets its compression context after every message. Default FALSE.
    pub fServerNoContextTakeover: BOOL,
    /// Client resets its compression context after every message. Default FALSE.
    pub fClientNoContextTakeover: BOOL,
    /// Server's LZ77 window, 2^N bytes: 0 (default: 15, not negotiated) or 8..15.
    pub ulServerMaxWindowBits: ULONG,
    /// Client's LZ77 window, 2^N bytes: 0 (default: 15, or what the server asks) or 8..15.
    pub ulClientMaxWindowBits: ULONG,
}

/// One HTTP header: byte strings with explicit lengths, no terminator required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WEB_SOCKET_HTTP_HEADER {
    /// Header name (no colon).
    pub pcName: PCHAR,
    /// Name length in bytes.
    pub ulNameLength: ULONG,
    /// Header value.
    pub pcValue: PCHAR,
    /// Value length in bytes.
    pub ulValueLength: ULONG,
}

/// The `Data` arm of `WEB_SOCKET_BUFFER`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WEB_SOCKET_BUFFER_DATA {
    /// Start of the bytes.
    pub pbBuffer: PBYTE,
    /// Their number.
    pub ulBufferLength: ULONG,
}

/// The `CloseStatus` arm of `WEB_SOCKET_BUFFER`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WEB_SOCKET_BUFFER_CLOSE_STATUS {
    /// Reason bytes (UTF-8), or NULL when the close frame had no status.
    pub pbReason: PBYTE,
    /// Reason length in bytes (at most 123).
    pub ulReasonLength: ULONG,
    /// Close status.
    pub usStatus: USHORT,
}

/// A buffer: `CloseStatus` for `WEB_SOCKET_CLOSE_BUFFER_TYPE`, `Data` for every other type.
#[repr(C)]
#[derive(Clone, Copy)]
pub union WEB_SOCKET_BUFFER {
    /// Data, ping and pong payloads.
    pub Data: WEB_SOCKET_BUFFER_DATA,
    /// Close frames.
    pub CloseStatus: WEB_SOCKET_BUFFER_CLOSE_STATUS,
}

/// `PWEB_SOCKET_PROPERTY`.
pub type PWEB_SOCKET_PROPERTY = *mut WEB_SOCKET_PROPERTY;
/// `PWEB_SOCKET_HTTP_HEADER`.
pub type PWEB_SOCKET_HTTP_HEADER = *mut WEB_SOCKET_HTTP_HEADER;
/// `PWEB_SOCKET_BUFFER`.
pub type PWEB_SOCKET_BUFFER = *mut WEB_SOCKET_BUFFER;
/// `PWEB_SOCKET_ACTION`.
pub type PWEB_SOCKET_ACTION = *mut WEB_SOCKET_ACTION_VALUE;

impl core::fmt::Debug for WEB_SOCKET_BUFFER {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Only the fields both arms share: which arm is meant depends on the buffer type.
        let (ptr, len) = self.bytes();
        f.debug_struct("WEB_SOCKET_BUFFER").field("ptr", &ptr).field("len", &len).finish()
    }
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(core::mem::size_of::<WEB_SOCKET_PROPERTY>() == 24);
    assert!(core::mem::size_of::<WEB_SOCKET_DEFLATE_SETTINGS>() == 16);
    assert!(core::mem::size_of::<WEB_SOCKET_HTTP_HEADER>() == 32);
    assert!(core::mem::size_of::<WEB_SOCKET_BUFFER>() == 16);
    assert!(core::mem::align_of::<WEB_SOCKET_BUFFER>() == 8);
};

#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(core::mem::size_of::<WEB_SOCKET_PROPERTY>() == 12);
    assert!(core::mem::size_of::<WEB_SOCKET_HTTP_HEADER>() == 16);
    assert!(core::mem::size_of::<WEB_SOCKET_BUFFER>() == 12);
};

const _: () = {
    assert!(core::mem::size_of::<WEB_SOCKET_BUFFER_TYPE>() == 4);
    assert!(core::mem::size_of::<WEB_SOCKET_ACTION>() == 4);
    assert!(core::mem::size_of::<WEB_SOCKET_HANDLE>() == core::mem::size_of::<usize>());
};

impl WEB_SOCKET_BUFFER {
    /// A `Data` buffer. Written through the CloseStatus arm (status 0) so that every field of
    /// both arms is initialised.
    pub fn data(ptr: *mut u8, len: u32) -> WEB_SOCKET_BUFFER {
        WEB_SOCKET_BUFFER::close(ptr, len, 0)
    }

    /// A `CloseStatus` buffer.
    pub fn close(reason: *mut u8, len: u32, status: u16) -> WEB_SOCKET_BUFFER {
        WEB_SOCKET_BUFFER {
            CloseStatus: WEB_SOCKET_BUFFER_CLOSE_STATUS {
                pbReason: reason,
                ulReasonLength: len,
                usStatus: status,
            },
        }
    }

    /// Pointer and length, read through the `Data` arm. The `CloseStatus` arm keeps its pointer
    /// and length at the same offsets, so this also serves close buffers.
    pub fn bytes(&self) -> (*mut u8, u32) {
        // SAFETY: every bit pattern of the Data arm (a pointer and an integer) is valid, and both
        // arms initialise these two fields: a caller's buffer of any type has them written.
        let d = unsafe { self.Data };
        (d.pbBuffer, d.ulBufferLength)
    }

    /// The close status. Only for a buffer of type `WEB_SOCKET_CLOSE_BUFFER_TYPE`: in a data
    /// buffer these bytes are padding the caller never wrote.
    pub fn status(&self) -> u16 {
        // SAFETY: a close buffer was written through the CloseStatus arm (caller contract, or
        // `close` above); the field is a plain integer.
        unsafe { self.CloseStatus.usStatus }
    }
}
