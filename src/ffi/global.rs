//! WebSocketGetGlobalProperty.
#![allow(non_snake_case)]

use super::types::*;
use super::{guard, read, write};
use crate::config::{keepalive_interval_ms, KEEPALIVE_INTERVAL, SUPPORTED_VERSION, SUPPORTED_VERSIONS};
use crate::error::{Error, Result};

/// Reads a process-wide property: WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE (one ULONG,
/// milliseconds: 30000, or on Windows the registry's KeepaliveInterval raised to at least 15000)
/// or WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE (a ULONG array: `{13}`).
///
/// In: `*ulSize` = capacity of `pvValue` in bytes. Out: the value (written unaligned) and
/// `*ulSize` = bytes written.
///
/// Errors: E_INVALIDARG (other types, NULL `ulSize`, NULL `pvValue` with enough capacity);
/// HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) when the capacity is too small, with `*ulSize`
/// set to the size needed (so `(NULL, &0)` asks for the size). Thread-safe.
///
/// # Safety
/// `pvValue` must be NULL or writable for `*ulSize` bytes; `ulSize` NULL or readable and writable.
#[no_mangle]
pub unsafe extern "system" fn WebSocketGetGlobalProperty(
    eType: WEB_SOCKET_PROPERTY_TYPE_VALUE,
    pvValue: PVOID,
    ulSize: *mut ULONG,
) -> HRESULT_WINAPI {
    // SAFETY: forwarded under this function's contract.
    guard(|| unsafe { global_property(eType, pvValue, ulSize) })
}

/// # Safety
/// As for WebSocketGetGlobalProperty.
unsafe fn global_property(ty: i32, value: PVOID, size: *mut ULONG) -> Result<()> {
    let v = match ty {
        KEEPALIVE_INTERVAL => keepalive_interval_ms(crate::sys::os::registry_keepalive()),
        SUPPORTED_VERSIONS => SUPPORTED_VERSION,
        other => return Err(Error::BadPropertyType(other)),
    };
    // SAFETY: per the contract (NULL is checked by `read`).
    let capacity = unsafe { read(size) }?;
    let needed = core::mem::size_of::<u32>() as ULONG;
    if capacity < needed {
        // The size query works with any `pvValue`, NULL included.
        // SAFETY: `size` is non-NULL (read succeeded) and writable.
        unsafe { write(size, needed) }?;
        return Err(Error::InsufficientBuffer);
    }
    if value.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: `value` is non-NULL and writable for at least 4 bytes; `size` as above.
    unsafe {
        write(value as *mut u32, v)?;
        write(size, needed)?;
    }
    Ok(())
}
