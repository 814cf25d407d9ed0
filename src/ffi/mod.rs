//! The C ABI: the 13 exports of `websocket.h`, the `#[repr(C)]` types they use, and the small kit
//! every export is built from. The crate's `unsafe` code lives here (the boundary) and in
//! [`crate::sys`] (the foundation below the core).
//!
//! Every export has the same shape: read the raw arguments (checking every pointer), make one
//! call into the safe core under the handle's lock, write the outputs. Bodies run under
//! `guard`, so no panic ever crosses the boundary.

mod global;
mod handle;
mod handshake;
mod headers;
mod io;
mod table;
pub mod types;

use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

use crate::error::{Error, Result, E_UNEXPECTED, S_OK};

pub use self::global::WebSocketGetGlobalProperty;
pub use self::handle::{
    WebSocketAbortHandle, WebSocketCreateClientHandle, WebSocketCreateServerHandle, WebSocketDeleteHandle,
};
pub use self::handshake::{
    WebSocketBeginClientHandshake, WebSocketBeginServerHandshake, WebSocketEndClientHandshake,
    WebSocketEndServerHandshake,
};
pub use self::io::{WebSocketCompleteAction, WebSocketGetAction, WebSocketReceive, WebSocketSend};
pub use self::table::with_session;
pub use self::types::*;

/// Runs an export's body: `Ok` → `S_OK`, `Err(e)` → `e.hresult()`, panic → `E_UNEXPECTED`
/// (the handle whose lock was held is poisoned and reports `E_UNEXPECTED` from then on).
#[inline(always)]
pub(crate) fn guard<F: FnOnce() -> Result<()>>(body: F) -> HRESULT {
    // The HRESULT is made inside the unwind boundary, so that what comes out of it is that
    // number or a panic (one test on the way out, not two).
    let run = || match body() {
        Ok(()) => S_OK,
        Err(e) => error_hresult(e),
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(hr) => hr,
        Err(_) => E_UNEXPECTED,
    }
}

/// `e.hresult()` out of line: the success path of every export is then one test, not a jump
/// through the table of error codes.
#[cold]
#[inline(never)]
fn error_hresult(e: Error) -> HRESULT {
    e.hresult()
}

/// Runs the body of an export the header declares `void`; always returns 0 (spec §15 Q34).
pub(crate) fn guard_void<F: FnOnce()>(body: F) -> VOID_WINAPI {
    let _ = catch_unwind(AssertUnwindSafe(body));
    0
}

/// Reads a `T` from caller memory (unaligned).
///
/// # Safety
/// `p` must be NULL or point to a readable `T`.
pub(crate) unsafe fn read<T: Copy>(p: *const T) -> Result<T> {
    if p.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: non-NULL and readable per this function's contract; no alignment assumed.
    Ok(unsafe { p.read_unaligned() })
}

/// Writes a `T` to caller memory (unaligned).
///
/// # Safety
/// `p` must be NULL or point to a writable `T`.
pub(crate) unsafe fn write<T>(p: *mut T, value: T) -> Result<()> {
    if p.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: non-NULL and writable per this function's contract; no alignment assumed.
    unsafe { p.write_unaligned(value) };
    Ok(())
}

/// Copies an array of `count` `T`s out of caller memory. `(NULL, 0)` is an empty array; NULL
/// with a non-zero count is an error.
///
/// # Safety
/// Unless NULL, `p` must point to `count` readable `T`s.
pub(crate) unsafe fn read_array<T: Copy>(p: *const T, count: u32) -> Result<Vec<T>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::NullWithLength);
    }
    let mut out = Vec::new();
    out.try_reserve_exact(count as usize).map_err(|_| Error::OutOfMemory)?;
    for i in 0..count as usize {
        // SAFETY: element i of a readable array of `count` elements.
        out.push(unsafe { p.add(i).read_unaligned() });
    }
    Ok(out)
}

/// A byte range of caller memory. `(NULL, 0)` and `(p, 0)` are empty.
///
/// # Safety
/// Unless `len` is 0, `p` must be NULL or readable for `len` bytes during the call.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: u32) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::NullWithLength);
    }
    // SAFETY: non-NULL, len > 0, readable per this function's contract.
    Ok(unsafe { core::slice::from_raw_parts(p, len as usize) })
}

/// A NUL-terminated string of caller memory, without the terminator.
///
/// # Safety
/// `p` must be NULL or point to a readable NUL-terminated string.
pub(crate) unsafe fn c_string<'a>(p: *const libc::c_char) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    Ok(unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes())
}
