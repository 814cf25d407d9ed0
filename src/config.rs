//! Handle properties (`WEB_SOCKET_PROPERTY`) turned into a validated [`Config`] (spec §7).
#![forbid(unsafe_code)]

use crate::deflate::DeflateConfig;
use crate::error::{Error, Result};

/// `WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE`.
pub const RECEIVE_BUFFER_SIZE: i32 = 0;
/// `WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE`.
pub const SEND_BUFFER_SIZE: i32 = 1;
/// `WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE`.
pub const DISABLE_MASKING: i32 = 2;
/// `WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE`.
pub const ALLOCATED_BUFFER: i32 = 3;
/// `WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE`.
pub const DISABLE_UTF8_VERIFICATION: i32 = 4;
/// `WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE`.
pub const KEEPALIVE_INTERVAL: i32 = 5;
/// `WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE`.
pub const SUPPORTED_VERSIONS: i32 = 6;
/// `WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE`: not in the Windows SDK (an extension of this
/// library, outside the SDK's range 0..=6); opts a handle in to permessage-deflate.
pub const PERMESSAGE_DEFLATE: i32 = 0x1000;

/// Default receive buffer size (both handle kinds).
pub const DEFAULT_RECEIVE_BUFFER_SIZE: u32 = 4096;
/// Default send buffer size of a client handle.
pub const DEFAULT_CLIENT_SEND_BUFFER_SIZE: u32 = 4096;
/// Default send buffer size of a server handle (a server sends payloads in place).
pub const DEFAULT_SERVER_SEND_BUFFER_SIZE: u32 = 16;
/// Smallest accepted receive buffer size.
pub const MIN_RECEIVE_BUFFER_SIZE: u32 = 256;
/// Smallest accepted send buffer size (.NET passes 16 for servers).
pub const MIN_SEND_BUFFER_SIZE: u32 = 16;
/// Largest accepted receive or send buffer size.
pub const MAX_BUFFER_SIZE: u32 = 65_536;
/// Size of the control area that follows the receive and send areas: one whole control frame
/// (14-byte header + 125-byte payload) with slack. .NET sizes the allocated buffer as
/// `RBS + SBS + 144`.
pub const CONTROL_AREA_SIZE: u32 = 144;

/// The keep-alive interval reported by `WebSocketGetGlobalProperty`, in milliseconds.
pub const DEFAULT_KEEPALIVE_INTERVAL_MS: u32 = 30_000;
/// Smallest keep-alive interval taken from the Windows registry.
pub const MIN_KEEPALIVE_INTERVAL_MS: u32 = 15_000;
/// The one protocol version this implementation speaks.
pub const SUPPORTED_VERSION: u32 = 13;

/// The keep-alive interval in milliseconds, given the Windows registry value
/// `HKLM\SOFTWARE\Microsoft\WebSocket\KeepaliveInterval` if there is one: that value raised
/// to at least 15000; without one, 30000.
pub fn keepalive_interval_ms(registry: Option<u32>) -> u32 {
    match registry {
        Some(v) => v.max(MIN_KEEPALIVE_INTERVAL_MS),
        None => DEFAULT_KEEPALIVE_INTERVAL_MS,
    }
}

/// Which end of the connection a handle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Created by `WebSocketCreateClientHandle`: masks what it sends.
    Client,
    /// Created by `WebSocketCreateServerHandle`: expects masked frames.
    Server,
}

/// One create-time property, already read out of caller memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// Type 0: receive buffer size in bytes.
    ReceiveBufferSize(u32),
    /// Type 1: send buffer size in bytes.
    SendBufferSize(u32),
    /// Type 2: zero masking key on a client; accept unmasked frames on a server.
    DisableMasking(bool),
    /// Type 3: caller-owned memory used for every buffer handed out.
    AllocatedBuffer {
        /// Address of the buffer (never dereferenced here).
        addr: usize,
        /// Its length in bytes (`ulValueSize`).
        len: u32,
    },
    /// Type 4: deliver text and close reasons without UTF-8 checks.
    DisableUtf8Verification(bool),
    /// Type 5: accepted at create time and ignored (the library sends no keep-alives).
    KeepaliveInterval(u32),
    /// [`PERMESSAGE_DEFLATE`]: negotiate permessage-deflate with these settings.
    PermessageDeflate(DeflateConfig),
}

/// The validated settings of one handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Size of the receive area R.
    pub receive_buffer_size: u32,
    /// Size of the send area S.
    pub send_buffer_size: u32,
    /// Zero masking key (client) / accept unmasked frames (server).
    pub disable_masking: bool,
    /// Skip UTF-8 validation of received text and close reasons.
    pub disable_utf8_verification: bool,
    /// The length of the caller's ALLOCATED_BUFFER, if one was given (its address is checked
    /// here and used only when the handle is made, so the handle does not keep it twice).
    pub allocated_buffer: Option<u32>,
    /// permessage-deflate settings, when the handle opted in (an extension beyond Windows).
    pub deflate: Option<DeflateConfig>,
}

impl Config {
    /// Validates `properties` for a handle of `role`. All properties are read first (the last
    /// occurrence of a type wins), then checked together (spec §7.1).
    pub fn new(role: Role, properties: &[Property]) -> Result<Config> {
        let mut receive = DEFAULT_RECEIVE_BUFFER_SIZE;
        let mut send = match role {
            Role::Client => DEFAULT_CLIENT_SEND_BUFFER_SIZE,
            Role::Server => DEFAULT_SERVER_SEND_BUFFER_SIZE,
        };
        let mut config = Config {
            receive_buffer_size: 0,
            send_buffer_size: 0,
            disable_masking: false,
            disable_utf8_verification: false,
            allocated_buffer: None,
            deflate: None,
        };
        let mut allocated = None;
        for property in properties {
            match *property {
                Property::ReceiveBufferSize(n) => receive = n,
                Property::SendBufferSize(n) => send = n,
                Property::DisableMasking(b) => config.disable_masking = b,
                Property::AllocatedBuffer { addr, len } => allocated = Some((addr, len)),
                Property::DisableUtf8Verification(b) => config.disable_utf8_verification = b,
                Property::KeepaliveInterval(_) => {}
                Property::PermessageDeflate(d) => config.deflate = Some(d.validate()?),
            }
        }
        if !(MIN_RECEIVE_BUFFER_SIZE..=MAX_BUFFER_SIZE).contains(&receive) {
            return Err(Error::BufferSizeOutOfRange(receive));
        }
        if !(MIN_SEND_BUFFER_SIZE..=MAX_BUFFER_SIZE).contains(&send) {
            return Err(Error::BufferSizeOutOfRange(send));
        }
        config.receive_buffer_size = receive;
        config.send_buffer_size = send;
        if let Some((addr, len)) = allocated {
            if addr == 0 || (len as usize) < config.region_size() {
                return Err(Error::AllocatedBufferTooSmall);
            }
            config.allocated_buffer = Some(len);
        }
        Ok(config)
    }

    /// Bytes of the buffer region: receive area + send area + control area.
    pub fn region_size(&self) -> usize {
        self.receive_buffer_size as usize + self.send_buffer_size as usize + CONTROL_AREA_SIZE as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_interval_is_raised_to_the_minimum() {
        assert_eq!(keepalive_interval_ms(None), 30_000);
        assert_eq!(keepalive_interval_ms(Some(1_000)), 15_000);
        assert_eq!(keepalive_interval_ms(Some(45_000)), 45_000);
    }

    #[test]
    fn defaults_depend_on_role() {
        let c = Config::new(Role::Client, &[]).unwrap();
        assert_eq!((c.receive_buffer_size, c.send_buffer_size), (4096, 4096));
        let s = Config::new(Role::Server, &[]).unwrap();
        assert_eq!((s.receive_buffer_size, s.send_buffer_size), (4096, 16));
        assert_eq!(s.region_size(), 4096 + 16 + 144);
    }

    #[test]
    fn limits_are_enforced() {
        use Property::*;
        assert!(Config::new(Role::Server, &[ReceiveBufferSize(256), SendBufferSize(16)]).is_ok());
        assert!(Config::new(Role::Server, &[ReceiveBufferSize(65_536)]).is_ok());
        assert_eq!(
            Config::new(Role::Server, &[ReceiveBufferSize(255)]),
            Err(Error::BufferSizeOutOfRange(255))
        );
        assert_eq!(Config::new(Role::Client, &[SendBufferSize(15)]), Err(Error::BufferSizeOutOfRange(15)));
        assert_eq!(
            Config::new(Role::Client, &[SendBufferSize(65_537)]),
            Err(Error::BufferSizeOutOfRange(65_537))
        );
    }

    #[test]
    fn allocated_buffer_needs_rbs_plus_sbs_plus_144() {
        use Property::*;
        let ok = [
            ReceiveBufferSize(16_384),
            SendBufferSize(16),
            AllocatedBuffer { addr: 0x1000, len: 16_384 + 16 + 144 },
        ];
        assert_eq!(Config::new(Role::Server, &ok).unwrap().allocated_buffer, Some(16_544));
        let short = [AllocatedBuffer { addr: 0x1000, len: 4096 + 16 + 143 }];
        assert_eq!(Config::new(Role::Server, &short), Err(Error::AllocatedBufferTooSmall));
        let null = [AllocatedBuffer { addr: 0, len: 1 << 20 }];
        assert_eq!(Config::new(Role::Server, &null), Err(Error::AllocatedBufferTooSmall));
    }

    #[test]
    fn deflate_settings_are_validated() {
        use Property::*;
        assert_eq!(Config::new(Role::Client, &[]).unwrap().deflate, None);
        let d = DeflateConfig { server_max_window_bits: 9, ..DeflateConfig::default() };
        assert_eq!(Config::new(Role::Server, &[PermessageDeflate(d)]).unwrap().deflate, Some(d));
        let bad = DeflateConfig { client_max_window_bits: 7, ..DeflateConfig::default() };
        assert_eq!(Config::new(Role::Client, &[PermessageDeflate(bad)]), Err(Error::BadDeflateSetting));
    }

    #[test]
    fn last_occurrence_wins() {
        use Property::*;
        let c = Config::new(Role::Client, &[ReceiveBufferSize(1), ReceiveBufferSize(512)]).unwrap();
        assert_eq!(c.receive_buffer_size, 512);
    }
}
