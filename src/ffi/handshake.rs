//! WebSocketBeginClientHandshake, WebSocketEndClientHandshake, WebSocketBeginServerHandshake,
//! WebSocketEndServerHandshake, and the header arrays they return.
#![allow(non_snake_case)]

use libc::c_char;

use super::headers::HeaderArray;
use super::table;
use super::types::*;
use super::{bytes, c_string, guard, read, read_array, write};
use crate::error::{Error, Result};
use crate::handshake::{self, HeaderRef};

/// Starts a client handshake: produces the headers to add to the HTTP upgrade request
/// (Connection, Upgrade, a fresh Sec-WebSocket-Key, Sec-WebSocket-Version: 13, and
/// Sec-WebSocket-Protocol / -Extensions when given).
///
/// The subprotocol and extension strings are NUL-terminated and copied; `pInitialHeaders` is
/// informational (no header is required). `*pAdditionalHeaders` receives a library-owned,
/// read-only array of `*pulAdditionalHeaderCount` headers (NUL-terminated ASCII, terminator not
/// counted), valid until WebSocketDeleteHandle.
///
/// Errors: E_INVALIDARG for NULL outputs, a NULL array with a non-zero count, a subprotocol that
/// is not an HTTP token, or an extension with CR, LF or non-ASCII bytes, or a server handle;
/// E_INVALID_PROTOCOL_OPERATION if the handshake was already started.
///
/// # Safety
/// Input arrays must hold their counts of readable entries (strings NUL-terminated); outputs must
/// be NULL or writable.
#[no_mangle]
pub unsafe extern "system" fn WebSocketBeginClientHandshake(
    hWebSocket: WEB_SOCKET_HANDLE,
    pszSubprotocols: *mut PCSTR,
    ulSubprotocolCount: ULONG,
    pszExtensions: *mut PCSTR,
    ulExtensionCount: ULONG,
    pInitialHeaders: *const WEB_SOCKET_HTTP_HEADER,
    ulInitialHeaderCount: ULONG,
    pAdditionalHeaders: *mut *mut WEB_SOCKET_HTTP_HEADER,
    pulAdditionalHeaderCount: *mut ULONG,
) -> HRESULT_WINAPI {
    guard(|| {
        if pAdditionalHeaders.is_null() || pulAdditionalHeaderCount.is_null() {
            return Err(Error::NullPointer);
        }
        // SAFETY: arrays of the given counts, per this function's contract.
        let subprotocols = unsafe { strings(pszSubprotocols, ulSubprotocolCount) }?
            .iter()
            .map(|s| handshake::check_subprotocol(s))
            .collect::<Result<Vec<_>>>()?;
        // SAFETY: as above.
        let extensions = unsafe { strings(pszExtensions, ulExtensionCount) }?
            .iter()
            .map(|s| handshake::check_extension(s))
            .collect::<Result<Vec<_>>>()?;
        // The initial headers are only checked for readability: the library needs none of them.
        // SAFETY: as above.
        unsafe { headers(pInitialHeaders, ulInitialHeaderCount) }?;
        table::with_entry(hWebSocket, |entry| {
            let list = entry.session.begin_client_handshake(subprotocols, extensions)?;
            let mut array = HeaderArray::new(&list)?;
            // SAFETY: both outputs are non-NULL (checked) and writable per the contract.
            unsafe {
                write(pAdditionalHeaders, array.ptr())?;
                write(pulAdditionalHeaderCount, array.len())?;
            }
            entry.headers = Some(array);
            Ok(())
        })
    })
}

/// Completes a client handshake: verifies the server's response headers (Upgrade, Connection,
/// Sec-WebSocket-Accept for this handle's key, and the selected subprotocol and extensions).
/// The HTTP status line is the caller's business.
///
/// Optional outputs (NULL to skip): `*pulSelectedSubprotocol` = index of the selected subprotocol
/// in the Begin call's array (left unchanged when none was selected);
/// `pulSelectedExtensions[0..n]` = indices of the selected extensions, with
/// `*pulSelectedExtensionCount` = capacity on input and `n` on output.
///
/// Errors: E_INVALID_PROTOCOL_FORMAT (malformed or non-matching response),
/// E_SUBPROTOCOL_NOT_SUPPORTED, E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED, E_INVALIDARG (NULL array
/// with a count, extension capacity too small, server handle), E_INVALID_PROTOCOL_OPERATION
/// (Begin not called, or already completed). A failed call leaves the handle waiting for a retry.
///
/// # Safety
/// `pResponseHeaders` must hold `ulReponseHeaderCount` readable headers; each output must be
/// NULL or writable (the extension array for its capacity).
#[no_mangle]
pub unsafe extern "system" fn WebSocketEndClientHandshake(
    hWebSocket: WEB_SOCKET_HANDLE,
    pResponseHeaders: *const WEB_SOCKET_HTTP_HEADER,
    ulReponseHeaderCount: ULONG,
    pulSelectedExtensions: *mut ULONG,
    pulSelectedExtensionCount: *mut ULONG,
    pulSelectedSubprotocol: *mut ULONG,
) -> HRESULT_WINAPI {
    guard(|| {
        // SAFETY: per this function's contract.
        let owned = unsafe { headers(pResponseHeaders, ulReponseHeaderCount) }?;
        let response: Vec<HeaderRef<'_>> =
            owned.iter().map(|(n, v)| HeaderRef { name: n, value: v }).collect();
        let capacity = if pulSelectedExtensionCount.is_null() {
            None
        } else {
            // SAFETY: non-NULL and readable per the contract.
            Some(unsafe { read(pulSelectedExtensionCount) }? as usize)
        };
        if capacity.map_or(false, |c| c > 0) && pulSelectedExtensions.is_null() {
            return Err(Error::NullWithLength);
        }
        let capacity = capacity.filter(|_| !pulSelectedExtensions.is_null());
        table::with_entry(hWebSocket, |entry| {
            let selection = entry.session.end_client_handshake(&response, capacity)?;
            // SAFETY: each output is NULL-checked; the extension array holds `capacity` slots,
            // and end_client_handshake checked that the selection fits.
            unsafe {
                if let (Some(i), false) = (selection.subprotocol, pulSelectedSubprotocol.is_null()) {
                    write(pulSelectedSubprotocol, i as ULONG)?;
                }
                if capacity.is_some() {
                    for (k, i) in selection.extensions.iter().enumerate() {
                        write(pulSelectedExtensions.add(k), *i as ULONG)?;
                    }
                }
                if !pulSelectedExtensionCount.is_null() && capacity.is_some() {
                    write(pulSelectedExtensionCount, selection.extensions.len() as ULONG)?;
                }
            }
            Ok(())
        })
    })
}

/// Starts a server handshake: verifies the client's request headers (Connection: Upgrade,
/// Upgrade: websocket, Sec-WebSocket-Version: 13, one non-empty Sec-WebSocket-Key; Host is not
/// required) and produces the response headers (Connection, Upgrade, Sec-WebSocket-Accept, and
/// Sec-WebSocket-Protocol / -Extensions when selected). The status line is the caller's business.
///
/// `pszSubprotocolSelected` (NULL or "" for none) and the extension strings are copied.
/// `*pResponseHeaders` receives a library-owned, read-only array of `*pulResponseHeaderCount`
/// headers (NUL-terminated ASCII), valid until WebSocketDeleteHandle.
///
/// Errors: E_INVALID_PROTOCOL_FORMAT (missing or malformed headers),
/// E_PROTOCOL_VERSION_NOT_SUPPORTED (a well-formed request for another version), E_INVALIDARG
/// (NULL outputs, NULL arrays with counts, bad tokens, client handle),
/// E_INVALID_PROTOCOL_OPERATION (already started). A failed call leaves the handle as it was.
///
/// # Safety
/// As for WebSocketBeginClientHandshake.
#[no_mangle]
pub unsafe extern "system" fn WebSocketBeginServerHandshake(
    hWebSocket: WEB_SOCKET_HANDLE,
    pszSubprotocolSelected: PCSTR,
    pszExtensionSelected: *mut PCSTR,
    ulExtensionSelectedCount: ULONG,
    pRequestHeaders: *const WEB_SOCKET_HTTP_HEADER,
    ulRequestHeaderCount: ULONG,
    pResponseHeaders: *mut *mut WEB_SOCKET_HTTP_HEADER,
    pulResponseHeaderCount: *mut ULONG,
) -> HRESULT_WINAPI {
    guard(|| {
        if pResponseHeaders.is_null() || pulResponseHeaderCount.is_null() {
            return Err(Error::NullPointer);
        }
        let subprotocol = if pszSubprotocolSelected.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            let s = unsafe { c_string(pszSubprotocolSelected) }?;
            if s.is_empty() {
                None
            } else {
                Some(handshake::check_subprotocol(s)?)
            }
        };
        // SAFETY: per the contract.
        let extensions = unsafe { strings(pszExtensionSelected, ulExtensionSelectedCount) }?
            .iter()
            .map(|s| handshake::check_extension(s))
            .collect::<Result<Vec<_>>>()?;
        // SAFETY: per the contract.
        let owned = unsafe { headers(pRequestHeaders, ulRequestHeaderCount) }?;
        let request: Vec<HeaderRef<'_>> =
            owned.iter().map(|(n, v)| HeaderRef { name: n, value: v }).collect();
        table::with_entry(hWebSocket, |entry| {
            let list = entry.session.begin_server_handshake(subprotocol, extensions, &request)?;
            let mut array = HeaderArray::new(&list)?;
            // SAFETY: both outputs are non-NULL (checked) and writable per the contract.
            unsafe {
                write(pResponseHeaders, array.ptr())?;
                write(pulResponseHeaderCount, array.len())?;
            }
            entry.headers = Some(array);
            Ok(())
        })
    })
}

/// Completes a server handshake; the handle becomes ready for Send/Receive/GetAction (which also
/// complete it implicitly). The response header array stays valid until WebSocketDeleteHandle.
///
/// Errors: E_INVALID_PROTOCOL_OPERATION before a successful WebSocketBeginServerHandshake;
/// S_OK when already completed; E_INVALIDARG for a client handle.
///
/// # Safety
/// None beyond passing a handle value; it is never dereferenced.
#[no_mangle]
pub unsafe extern "system" fn WebSocketEndServerHandshake(hWebSocket: WEB_SOCKET_HANDLE) -> HRESULT_WINAPI {
    guard(|| table::with_entry(hWebSocket, |entry| entry.session.end_server_handshake()))
}

/// Reads an array of NUL-terminated strings; `(NULL, 0)` is empty, NULL entries are errors.
///
/// # Safety
/// Unless NULL, `array` must hold `count` readable pointers to NUL-terminated strings.
unsafe fn strings(array: *mut PCSTR, count: ULONG) -> Result<Vec<Vec<u8>>> {
    // SAFETY: per this function's contract.
    let pointers = unsafe { read_array(array as *const PCSTR, count) }?;
    pointers
        .into_iter()
        // SAFETY: each entry is NULL or a NUL-terminated string per the contract.
        .map(|p| unsafe { c_string(p as *const c_char) }.map(<[u8]>::to_vec))
        .collect()
}

/// Copies a header array out of caller memory. An entry may be (NULL, 0) for name or value.
///
/// # Safety
/// Unless NULL, `array` must hold `count` readable headers whose pointers are readable for their
/// lengths.
unsafe fn headers(array: *const WEB_SOCKET_HTTP_HEADER, count: ULONG) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    // SAFETY: per this function's contract.
    let raw = unsafe { read_array(array, count) }?;
    raw.iter()
        .map(|h| {
            // SAFETY: per this function's contract; (NULL, 0) reads as empty.
            let name = unsafe { bytes(h.pcName as *const u8, h.ulNameLength) }?;
            // SAFETY: as above.
            let value = unsafe { bytes(h.pcValue as *const u8, h.ulValueLength) }?;
            Ok((name.to_vec(), value.to_vec()))
        })
        .collect()
}
