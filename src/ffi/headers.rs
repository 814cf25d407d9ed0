//! The header arrays returned by WebSocketBeginClientHandshake and WebSocketBeginServerHandshake:
//! library-owned, read-only, kept with the handle until WebSocketDeleteHandle.

use super::types::*;
use crate::error::{Error, Result};
use crate::handshake::Header;

/// A library-owned `WEB_SOCKET_HTTP_HEADER` array and the NUL-terminated ASCII strings it
/// points into, in one allocation: the headers, then the strings in the vector's spare capacity
/// (never touched through the vector, which never grows). Header names and fixed values
/// ("Upgrade", "websocket", "13") point at static strings instead. Kept until
/// WebSocketDeleteHandle.
pub(crate) struct HeaderArray {
    storage: Vec<WEB_SOCKET_HTTP_HEADER>,
}

// SAFETY: the raw pointers in the headers point into the same allocation, which the array owns
// and never changes; it is only touched under the handle's lock.
unsafe impl Send for HeaderArray {}

/// The NUL-terminated static copy of a header name or fixed header value, if it is one.
fn static_c_string(s: &str) -> Option<&'static [u8]> {
    const FIXED: [&[u8]; 10] = [
        b"Connection\0",
        b"Upgrade\0",
        b"websocket\0",
        b"13\0",
        b"Sec-WebSocket-Key\0",
        b"Sec-WebSocket-Version\0",
        b"Sec-WebSocket-Accept\0",
        b"Sec-WebSocket-Protocol\0",
        b"Sec-WebSocket-Extensions\0",
        b"\0",
    ];
    FIXED.iter().copied().find(|f| &f[..f.len() - 1] == s.as_bytes())
}

impl HeaderArray {
    pub(crate) fn new(list: &[Header]) -> Result<HeaderArray> {
        // Header names and fixed values point at static strings; only the rest is copied.
        let copied = |s: &str| if static_c_string(s).is_some() { 0 } else { s.len() + 1 };
        let text_len: usize = list.iter().map(|(n, v)| copied(n) + copied(v)).sum();
        let slot = core::mem::size_of::<WEB_SOCKET_HTTP_HEADER>();
        let mut storage: Vec<WEB_SOCKET_HTTP_HEADER> = Vec::new();
        storage
            .try_reserve_exact(list.len() + (text_len + slot - 1) / slot)
            .map_err(|_| Error::OutOfMemory)?;
        // Headers and strings are written through one pointer into the reserved capacity (the
        // strings right after the headers), then the headers are made the vector's contents.
        let base = storage.as_mut_ptr();
        let text = base.wrapping_add(list.len()) as *mut u8;
        let mut at = 0;
        let mut place = |s: &str| -> PCHAR {
            if let Some(fixed) = static_c_string(s) {
                return fixed.as_ptr() as PCHAR;
            }
            // SAFETY: [at, at + s.len() + 1) lies within the `text_len` bytes reserved after the
            // headers (the copied strings add up to `text_len`), which nothing else references.
            unsafe {
                core::ptr::copy_nonoverlapping(s.as_ptr(), text.add(at), s.len());
                *text.add(at + s.len()) = 0;
            }
            let p = text.wrapping_add(at) as PCHAR;
            at += s.len() + 1;
            p
        };
        for (i, (name, value)) in list.iter().enumerate() {
            let header = WEB_SOCKET_HTTP_HEADER {
                pcName: place(name),
                ulNameLength: name.len() as ULONG,
                pcValue: place(value),
                ulValueLength: value.len() as ULONG,
            };
            // SAFETY: element i < list.len() of the reserved capacity, before the strings.
            unsafe { base.add(i).write(header) };
        }
        // SAFETY: the first list.len() elements were written just above.
        unsafe { storage.set_len(list.len()) };
        Ok(HeaderArray { storage })
    }

    pub(crate) fn ptr(&mut self) -> *mut WEB_SOCKET_HTTP_HEADER {
        self.storage.as_mut_ptr()
    }

    pub(crate) fn len(&self) -> ULONG {
        self.storage.len() as ULONG
    }
}
