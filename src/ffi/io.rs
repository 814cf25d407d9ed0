//! WebSocketSend, WebSocketReceive, WebSocketGetAction, WebSocketCompleteAction.
#![allow(non_snake_case)]

use super::table;
use super::types::*;
use super::{guard, guard_void, read, write};
use crate::error::{Error, Result};
use crate::session::{Action, ActionSink, BufferType, Queue, SendPayload, Session};
use crate::sys::mem::{CallerBytes, CallerBytesMut};

/// Queues one frame for sending. The `WEB_SOCKET_BUFFER` structure is copied during the call;
/// the payload it points to stays owned by the caller and must stay valid and unchanged until
/// this operation's WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION has been returned by
/// WebSocketGetAction (or the handle is aborted or deleted).
///
/// Data types take `Data` (NULL `pBuffer` = empty payload); CLOSE takes `CloseStatus`
/// (NULL `pBuffer` = close frame without payload; status 1005 = without payload; reason at most
/// 123 bytes); PING_PONG sends a ping and UNSOLICITED_PONG a pong (NULL `pBuffer` = empty
/// payload, else at most 125 bytes). `Context` comes back with this operation's actions.
///
/// Errors: E_INVALIDARG (unknown type, NULL pointer with a length, over-long reason or control
/// payload, a payload inside the handle's own buffer region); E_INVALID_PROTOCOL_OPERATION
/// (handshake not complete, aborted, data or close after the close was queued, a text/binary
/// switch inside a fragmented message, a broken stream).
/// May be called while another thread works on this handle's other queue.
///
/// # Safety
/// `pBuffer` must be NULL or point to a readable `WEB_SOCKET_BUFFER` whose payload pointer meets
/// the lifetime rule above.
#[no_mangle]
pub unsafe extern "system" fn WebSocketSend(
    hWebSocket: WEB_SOCKET_HANDLE,
    BufferType: WEB_SOCKET_BUFFER_TYPE_VALUE,
    pBuffer: *mut WEB_SOCKET_BUFFER,
    Context: PVOID,
) -> HRESULT_WINAPI {
    guard(|| {
        let ty = BufferType::from_raw(BufferType)?;
        // SAFETY: per this function's contract.
        let payload = unsafe { send_payload(ty, pBuffer) }?;
        let bytes = match payload {
            SendPayload::Bytes(b) | SendPayload::Close { reason: b, .. } => b,
        };
        table::with_entry(hWebSocket, |e| {
            check_outside_region(&e.session, bytes.ptr(0), bytes.len())?;
            e.session.queue_send(ty, payload, Context as usize)
        })
    })
}

/// Queues one receive operation. With `pBuffer` NULL the result is delivered in the handle's
/// receive area; otherwise the structure is copied and data is copied into its `Data` memory
/// (at most `ulBufferLength` bytes per indication), which must stay valid until this operation's
/// WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION has been returned. Pong and close indications
/// always point into the receive area. `pvContext` comes back with this operation's actions.
///
/// Errors: E_INVALIDARG (NULL pointer with a length, a zero-length buffer, or a buffer inside the
/// handle's own buffer region);
/// E_INVALID_PROTOCOL_OPERATION (handshake not complete, aborted, close already received).
///
/// # Safety
/// `pBuffer` must be NULL or point to a readable `WEB_SOCKET_BUFFER` whose `Data` memory meets the
/// lifetime rule above.
#[no_mangle]
pub unsafe extern "system" fn WebSocketReceive(
    hWebSocket: WEB_SOCKET_HANDLE,
    pBuffer: *mut WEB_SOCKET_BUFFER,
    pvContext: PVOID,
) -> HRESULT_WINAPI {
    guard(|| {
        let (buffer, ptr, len) = if pBuffer.is_null() {
            (None, core::ptr::null_mut(), 0)
        } else {
            // SAFETY: non-NULL and readable per the contract.
            let (ptr, len) = unsafe { read(pBuffer) }?.bytes();
            if len == 0 {
                return Err(Error::ArrayTooSmall);
            }
            // SAFETY: NULL or writable for `len` bytes until the operation completes, per the
            // contract.
            (Some(unsafe { CallerBytesMut::new(ptr, len) }.ok_or(Error::NullWithLength)?), ptr, len)
        };
        table::with_entry(hWebSocket, |e| {
            if buffer.is_some() {
                check_outside_region(&e.session, ptr, len)?;
            }
            e.session.queue_receive(buffer, pvContext as usize)
        })
    })
}

/// Returns the next action of `eActionQueue` (SEND 1, RECEIVE 2, ALL 3).
///
/// In: `pDataBuffers` with capacity `*pulDataBufferCount` (at least 1; 2 lets a data frame's
/// header and payload go out in one action). Out: `*pAction`, `*pulDataBufferCount` buffers
/// filled (later entries untouched), `*pBufferType`, `*pvApplicationContext` (optional; the
/// operation's context, not written for NO_ACTION and automatic pongs) and `*pvActionContext`
/// (the token for WebSocketCompleteAction; NULL for NO_ACTION).
///
/// Returned buffers lie in the handle's region (the ALLOCATED_BUFFER if one was given) or in the
/// caller's own send payload, and stay valid until the matching WebSocketCompleteAction or
/// WebSocketDeleteHandle.
///
/// Errors: E_INVALID_PROTOCOL_FORMAT / E_INVALID_PROTOCOL_OPERATION when received bytes violate
/// the protocol (reported once; the handle then behaves as aborted); E_INVALIDARG (bad queue,
/// NULL required pointer, capacity 0). On failure, valid output pointers receive NO_ACTION,
/// count 0 and a NULL token.
///
/// # Safety
/// Every pointer must be NULL or writable (`pDataBuffers` for the capacity given).
#[no_mangle]
pub unsafe extern "system" fn WebSocketGetAction(
    hWebSocket: WEB_SOCKET_HANDLE,
    eActionQueue: WEB_SOCKET_ACTION_QUEUE_VALUE,
    pDataBuffers: *mut WEB_SOCKET_BUFFER,
    pulDataBufferCount: *mut ULONG,
    pAction: *mut WEB_SOCKET_ACTION_VALUE,
    pBufferType: *mut WEB_SOCKET_BUFFER_TYPE_VALUE,
    pvApplicationContext: *mut PVOID,
    pvActionContext: *mut PVOID,
) -> HRESULT_WINAPI {
    let hr = guard(|| {
        let queue = Queue::from_raw(eActionQueue)?;
        // The four required outputs and the capacity, in one test: NULL is address 0, so the
        // lowest of the five addresses is 0 exactly when one of them is NULL.
        let lowest = (pDataBuffers as usize)
            .min(pulDataBufferCount as usize)
            .min(pAction as usize)
            .min(pBufferType as usize)
            .min(pvActionContext as usize);
        if lowest == 0 {
            return Err(Error::NullPointer);
        }
        // SAFETY: non-NULL (checked above) and readable per this function's contract.
        let capacity = unsafe { pulDataBufferCount.read_unaligned() } as usize;
        let mut out = Outputs {
            buffers: pDataBuffers,
            count: pulDataBufferCount,
            action: pAction,
            buffer_type: pBufferType,
            app_context: pvApplicationContext,
            token: pvActionContext,
            written: false,
        };
        table::with_entry(hWebSocket, |e| e.session.get_action(queue, capacity, &mut out))?;
        if !out.written {
            // NO_ACTION: no buffers, no type, no token; the application context is untouched.
            // SAFETY: non-NULL (checked above) and writable per this function's contract.
            unsafe {
                pulDataBufferCount.write_unaligned(0);
                pAction.write_unaligned(WEB_SOCKET_NO_ACTION as WEB_SOCKET_ACTION_VALUE);
                pBufferType.write_unaligned(0);
                pvActionContext.write_unaligned(core::ptr::null_mut());
            }
        }
        Ok(())
    });
    if hr < 0 {
        // SAFETY: as above; each pointer is checked for NULL before the write.
        unsafe {
            let _ = write(pAction, WEB_SOCKET_NO_ACTION as WEB_SOCKET_ACTION_VALUE);
            let _ = write(pulDataBufferCount, 0);
            let _ = write(pvActionContext, core::ptr::null_mut());
        }
    }
    hr
}

/// GetAction's output parameters, as the sink the session puts the action into: each field is
/// written straight to the caller's memory. Built only after the required pointers were checked
/// non-NULL (`app_context` may be NULL) and with `buffers` holding the capacity the session was
/// given.
struct Outputs {
    buffers: *mut WEB_SOCKET_BUFFER,
    count: *mut ULONG,
    action: *mut WEB_SOCKET_ACTION_VALUE,
    buffer_type: *mut WEB_SOCKET_BUFFER_TYPE_VALUE,
    app_context: *mut PVOID,
    token: *mut PVOID,
    /// An action was put (else the call answers NO_ACTION).
    written: bool,
}

impl ActionSink for Outputs {
    #[inline(always)]
    fn put(&mut self, action: Action) {
        // SAFETY: the pointers are non-NULL (checked by GetAction before building `self`;
        // `app_context` is tested here) and writable per GetAction's contract; `buffers` has
        // room for the capacity given to the session, which never hands out more buffers.
        unsafe {
            for (i, b) in action.buffers().iter().enumerate() {
                self.buffers.add(i).write_unaligned(WEB_SOCKET_BUFFER::close(b.ptr, b.len, b.status));
            }
            self.count.write_unaligned(action.count as ULONG);
            self.action.write_unaligned(action.kind as WEB_SOCKET_ACTION_VALUE);
            self.buffer_type.write_unaligned(action.buffer_type);
            if let (Some(ctx), false) = (action.app_context, self.app_context.is_null()) {
                self.app_context.write_unaligned(ctx as PVOID);
            }
            // The token is a number, never dereferenced: a pointer value without provenance.
            self.token.write_unaligned(core::ptr::null_mut::<u8>().wrapping_add(action.token) as PVOID);
        }
        self.written = true;
    }
}

/// Acknowledges an action returned by WebSocketGetAction. `ulBytesTransferred` is the number of
/// bytes written (SEND_TO_NETWORK; fewer than offered cancels the send) or read
/// (RECEIVE_FROM_NETWORK; 0 cancels the receive, more than offered is clamped); it is ignored for
/// INDICATE actions. Unknown, stale, already completed and NO_ACTION tokens are ignored, as are
/// invalid handles. Accepted after WebSocketAbortHandle for actions handed out before it.
/// May run concurrently with GetAction on the other queue. Returns nothing (`VOID WINAPI`).
///
/// # Safety
/// None beyond passing handle and token values; neither is dereferenced.
#[no_mangle]
pub unsafe extern "system" fn WebSocketCompleteAction(
    hWebSocket: WEB_SOCKET_HANDLE,
    pvActionContext: PVOID,
    ulBytesTransferred: ULONG,
) -> VOID_WINAPI {
    guard_void(|| {
        let _ = table::with_entry(hWebSocket, |e| {
            e.session.complete_action(pvActionContext as usize, ulBytesTransferred);
            Ok(())
        });
    })
}

/// Refuses a caller buffer `[ptr, ptr + len)` that overlaps the handle's own region: the library
/// writes the region while it reads a send payload or fills a receive buffer. (Overlaps it
/// cannot see cheaply, with another handle's region or between the caller's own buffers, are
/// the caller's to avoid; see the README's API conventions.)
#[inline(always)]
fn check_outside_region(session: &Session, ptr: *const u8, len: u32) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let (base, size) = session.region_span();
    let (start, base) = (ptr as usize, base as usize);
    if start < base.saturating_add(size) && base < start.saturating_add(len as usize) {
        return Err(Error::BufferOverlapsRegion);
    }
    Ok(())
}

/// Reads the payload of a send operation from the caller's buffer (spec §6.6).
///
/// # Safety
/// As for WebSocketSend.
unsafe fn send_payload(ty: BufferType, buffer: *mut WEB_SOCKET_BUFFER) -> Result<SendPayload> {
    if buffer.is_null() {
        return Ok(match ty {
            BufferType::Close => SendPayload::Close { status: None, reason: CallerBytes::EMPTY },
            _ => SendPayload::Bytes(CallerBytes::EMPTY),
        });
    }
    // SAFETY: non-NULL and readable per the contract.
    let b = unsafe { read(buffer) }?;
    let (ptr, len) = b.bytes();
    if ptr.is_null() && len > 0 {
        return Err(Error::NullWithLength);
    }
    // SAFETY: readable for `len` bytes until the operation's INDICATE, per the contract.
    let bytes = unsafe { CallerBytes::new(ptr, len) };
    Ok(match ty {
        BufferType::Close => match b.status() {
            1005 => {
                if len > 0 {
                    return Err(Error::BadCloseReason);
                }
                SendPayload::Close { status: None, reason: CallerBytes::EMPTY }
            }
            status => SendPayload::Close { status: Some(status), reason: bytes },
        },
        _ => SendPayload::Bytes(bytes),
    })
}
