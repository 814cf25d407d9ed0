//! WebSocketCreateClientHandle, WebSocketCreateServerHandle, WebSocketDeleteHandle,
//! WebSocketAbortHandle.
#![allow(non_snake_case)]

use super::table::{self, Entry};
use super::types::*;
use super::{guard, guard_void, read, read_array, write};
use crate::config::{self, Config, Property, Role};
use crate::deflate::DeflateConfig;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::sys::mem::Region;

/// Creates a client handle.
///
/// `pProperties` holds `ulPropertyCount` properties (`(NULL, 0)` for the defaults); they are read
/// during the call, except the ALLOCATED_BUFFER memory, which the handle uses until
/// WebSocketDeleteHandle and never frees. On success `*phWebSocket` receives the handle; it is
/// written only on success.
///
/// Besides the SDK's property types, WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE (an extension of
/// this library, not in Windows) opts the handle in to permessage-deflate.
///
/// Errors: E_INVALIDARG for a NULL `phWebSocket`, a NULL array with a non-zero count, an unknown
/// property type or a value of the wrong size or out of range; E_OUTOFMEMORY.
///
/// # Safety
/// `pProperties` must point to `ulPropertyCount` readable properties whose `pvValue` point to
/// readable values; `phWebSocket` must be NULL or writable.
#[no_mangle]
pub unsafe extern "system" fn WebSocketCreateClientHandle(
    pProperties: *const WEB_SOCKET_PROPERTY,
    ulPropertyCount: ULONG,
    phWebSocket: *mut WEB_SOCKET_HANDLE,
) -> HRESULT_WINAPI {
    // SAFETY: forwarded under this function's contract.
    guard(|| unsafe { create(Role::Client, pProperties, ulPropertyCount, phWebSocket) })
}

/// Creates a server handle. Same contract as WebSocketCreateClientHandle.
///
/// # Safety
/// As for WebSocketCreateClientHandle.
#[no_mangle]
pub unsafe extern "system" fn WebSocketCreateServerHandle(
    pProperties: *const WEB_SOCKET_PROPERTY,
    ulPropertyCount: ULONG,
    phWebSocket: *mut WEB_SOCKET_HANDLE,
) -> HRESULT_WINAPI {
    // SAFETY: forwarded under this function's contract.
    guard(|| unsafe { create(Role::Server, pProperties, ulPropertyCount, phWebSocket) })
}

/// Frees a handle, its queues, its private memory and the header arrays it returned. Valid in
/// every state, with operations and actions outstanding; the caller's ALLOCATED_BUFFER and
/// payload memory are not touched afterwards. NULL, stale and already deleted handles are
/// ignored. Returns nothing (`VOID WINAPI`).
///
/// # Safety
/// None beyond passing a handle value; it is never dereferenced.
#[no_mangle]
pub unsafe extern "system" fn WebSocketDeleteHandle(hWebSocket: WEB_SOCKET_HANDLE) -> VOID_WINAPI {
    guard_void(|| drop(table::remove(hWebSocket)))
}

/// Aborts the connection: no more network actions are produced, queued operations drain as
/// INDICATE actions through WebSocketGetAction, and new Send/Receive calls fail. A no-op before
/// the handshake has completed, and on invalid handles. Returns nothing (`VOID WINAPI`).
///
/// # Safety
/// None beyond passing a handle value; it is never dereferenced.
#[no_mangle]
pub unsafe extern "system" fn WebSocketAbortHandle(hWebSocket: WEB_SOCKET_HANDLE) -> VOID_WINAPI {
    guard_void(|| {
        let _ = table::with_entry(hWebSocket, |e| {
            e.session.abort();
            Ok(())
        });
    })
}

/// # Safety
/// As for WebSocketCreateClientHandle.
unsafe fn create(
    role: Role,
    properties: *const WEB_SOCKET_PROPERTY,
    count: ULONG,
    out: *mut WEB_SOCKET_HANDLE,
) -> Result<()> {
    if out.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: `count` readable properties per the contract.
    let raw = unsafe { read_array(properties, count) }?;
    let mut parsed = Vec::with_capacity(raw.len());
    // The last ALLOCATED_BUFFER given, as the caller's pointer: the region is reached through
    // it, never through an address turned back into a pointer.
    let mut allocated: *mut u8 = core::ptr::null_mut();
    for p in &raw {
        // SAFETY: `pvValue` points at a readable value of `ulValueSize` bytes per the contract.
        let (property, pointer) = unsafe { read_property(p) }?;
        if let Some(pointer) = pointer {
            allocated = pointer;
        }
        parsed.push(property);
    }
    let config = Config::new(role, &parsed)?;
    let region = match config.allocated_buffer {
        // SAFETY: the caller lends [allocated, allocated + len) until DeleteHandle (property
        // contract); Config checked that it is non-NULL and large enough.
        Some(_) => unsafe { Region::borrowed(allocated, config.region_size() as u32) },
        None => Region::private(config.region_size())?,
    };
    let session = Session::new(role, config, region)?;
    let handle = table::insert(Box::new(Entry { session, headers: None }))?;
    // SAFETY: `out` is non-NULL and writable per the contract.
    if let Err(e) = unsafe { write(out, handle) } {
        drop(table::remove(handle));
        return Err(e);
    }
    Ok(())
}

/// Reads one create-time property (spec §7.1): ULONG and BOOL values need at least 4 bytes and
/// are read unaligned; the allocated-buffer slot holds a pointer and `ulValueSize` is the
/// buffer's length. For that slot, the pointer read is returned as well.
///
/// # Safety
/// `p.pvValue` must be NULL or readable for the value's size.
unsafe fn read_property(p: &WEB_SOCKET_PROPERTY) -> Result<(Property, Option<*mut u8>)> {
    let ulong = || -> Result<u32> {
        if p.ulValueSize < 4 {
            return Err(Error::BadPropertySize(p.Type));
        }
        // SAFETY: at least 4 readable bytes at `pvValue` (NULL is checked by `read`).
        unsafe { read(p.pvValue as *const u32) }
    };
    Ok(match p.Type {
        config::RECEIVE_BUFFER_SIZE => (Property::ReceiveBufferSize(ulong()?), None),
        config::SEND_BUFFER_SIZE => (Property::SendBufferSize(ulong()?), None),
        config::DISABLE_MASKING => (Property::DisableMasking(ulong()? != 0), None),
        config::DISABLE_UTF8_VERIFICATION => (Property::DisableUtf8Verification(ulong()? != 0), None),
        config::KEEPALIVE_INTERVAL => (Property::KeepaliveInterval(ulong()?), None),
        config::PERMESSAGE_DEFLATE => {
            if p.ulValueSize as usize != core::mem::size_of::<WEB_SOCKET_DEFLATE_SETTINGS>() {
                return Err(Error::BadPropertySize(p.Type));
            }
            // SAFETY: `pvValue` points at a readable WEB_SOCKET_DEFLATE_SETTINGS (its size was
            // checked; NULL is checked by `read`, which reads unaligned).
            let v = unsafe { read(p.pvValue as *const WEB_SOCKET_DEFLATE_SETTINGS) }?;
            let bits = |n: ULONG| u8::try_from(n).unwrap_or(u8::MAX);
            let property = Property::PermessageDeflate(DeflateConfig {
                server_no_context_takeover: v.fServerNoContextTakeover != 0,
                client_no_context_takeover: v.fClientNoContextTakeover != 0,
                server_max_window_bits: bits(v.ulServerMaxWindowBits),
                client_max_window_bits: bits(v.ulClientMaxWindowBits),
            });
            (property, None)
        }
        config::ALLOCATED_BUFFER => {
            // SAFETY: `pvValue` points at a pointer-sized slot (NULL is checked by `read`).
            let pointer = unsafe { read(p.pvValue as *const *mut u8) }?;
            (Property::AllocatedBuffer { addr: pointer as usize, len: p.ulValueSize }, Some(pointer))
        }
        other => return Err(Error::BadPropertyType(other)),
    })
}
