//! Memory the engine works in but does not own the rules of: the buffer region (the caller's
//! ALLOCATED_BUFFER or a private allocation) and the caller's send/receive payloads.
//!
//! These wrappers are the only way the safe core touches such memory. They hand out slices of
//! exactly the ranges the core asks for, so the core never forms a reference to bytes the caller
//! is using at the same time (a pending RECEIVE_FROM_NETWORK buffer, for example, is written by
//! the caller's I/O while another thread drives the send queue).
//!
//! Only the engine, which knows which ranges the caller holds, may read or write through them:
//! the accessors are crate-private, so safe code outside the crate cannot read memory the C
//! contract lets another thread write.
//!
//! ```compile_fail
//! let region = websocket::sys::mem::Region::private(16).unwrap();
//! let _ = region.slice(0..16); // crate-private
//! ```
//!
//! ```compile_fail
//! let bytes = websocket::sys::mem::CallerBytes::EMPTY;
//! let _ = bytes.bytes(0..0); // crate-private
//! ```

use core::ops::Range;
use core::ptr::NonNull;

use crate::error::{Error, Result};

/// The region R | S | C of one handle.
pub struct Region {
    ptr: NonNull<u8>,
    /// At most RBS + SBS + 144 (< 2^18).
    len: u32,
    owned: bool,
}

// SAFETY: a Region is only used under its handle's lock; the memory it points at is either owned
// by it or guaranteed by the caller to stay valid until WebSocketDeleteHandle.
unsafe impl Send for Region {}

impl Region {
    /// A private, zeroed region of `len` (> 0) bytes, freed on drop. Zeroed by the allocator
    /// (`calloc`), which hands out fresh pages without writing them: a handle costs no memset
    /// and no resident memory for the parts of its buffers it never uses.
    pub fn private(len: usize) -> Result<Region> {
        let len32 = u32::try_from(len).map_err(|_| Error::OutOfMemory)?;
        let layout = std::alloc::Layout::array::<u8>(len).map_err(|_| Error::OutOfMemory)?;
        if len == 0 {
            return Err(Error::Internal);
        }
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(Error::OutOfMemory)?;
        Ok(Region { ptr, len: len32, owned: true })
    }

    /// The caller's ALLOCATED_BUFFER.
    ///
    /// # Safety
    /// `ptr` must be non-NULL and `[ptr, ptr + len)` writable and not otherwise used by the
    /// caller until the Region is dropped (WebSocketDeleteHandle). `len` is a ULONG.
    pub unsafe fn borrowed(ptr: *mut u8, len: u32) -> Region {
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::dangling());
        Region { ptr, len, owned: false }
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the region is empty (never, for a valid handle).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shared view of `range`. Panics if the range is out of bounds (an internal bug).
    pub(crate) fn slice(&self, range: Range<usize>) -> &[u8] {
        self.check(&range);
        // SAFETY: in bounds (checked); the memory is valid for the Region's life.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr().add(range.start), range.len()) }
    }

    /// Mutable view of `range`. Panics if the range is out of bounds (an internal bug).
    pub(crate) fn slice_mut(&mut self, range: Range<usize>) -> &mut [u8] {
        self.check(&range);
        // SAFETY: in bounds (checked); `&mut self` makes this the only view we hold.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(range.start), range.len()) }
    }

    /// `memmove` of `src` to `dest` inside the region.
    pub(crate) fn copy_within(&mut self, src: Range<usize>, dest: usize) {
        self.check(&src);
        self.check(&(dest..dest + src.len()));
        // SAFETY: both ranges are in bounds; `copy` allows overlap.
        unsafe {
            let base = self.ptr.as_ptr();
            core::ptr::copy(base.add(src.start), base.add(dest), src.len());
        }
    }

    /// The address of byte `offset` (`offset <= len`), for handing to the caller.
    pub fn ptr(&self, offset: usize) -> *mut u8 {
        assert!(offset <= self.len(), "region offset out of bounds");
        self.ptr.as_ptr().wrapping_add(offset)
    }

    fn check(&self, range: &Range<usize>) {
        assert!(range.start <= range.end && range.end <= self.len(), "region range out of bounds");
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let (true, Ok(layout)) = (self.owned, std::alloc::Layout::array::<u8>(self.len())) {
            // SAFETY: allocated in `private` by the global allocator with this layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

/// A payload the caller passed to WebSocketSend: read-only, valid until the operation's
/// INDICATE_SEND_COMPLETE has been handed out.
#[derive(Debug, Clone, Copy)]
pub struct CallerBytes {
    ptr: *const u8,
    len: u32,
}

// SAFETY: the bytes belong to the caller, who keeps them valid and unchanged for the operation's
// life; they are only read under the handle's lock.
unsafe impl Send for CallerBytes {}

impl CallerBytes {
    /// No payload.
    pub const EMPTY: CallerBytes = CallerBytes { ptr: core::ptr::null(), len: 0 };

    /// Wraps caller memory.
    ///
    /// # Safety
    /// Unless `len` is 0, `ptr` must be readable for `len` bytes for as long as the engine may
    /// read it (until the send operation's INDICATE_SEND_COMPLETE is handed out, the handle is
    /// aborted, or it is deleted).
    pub unsafe fn new(ptr: *const u8, len: u32) -> CallerBytes {
        CallerBytes { ptr, len }
    }

    /// Payload length.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes in `range`. Panics if out of bounds (an internal bug).
    pub(crate) fn bytes(&self, range: Range<usize>) -> &[u8] {
        assert!(range.start <= range.end && range.end <= self.len as usize, "payload range");
        if range.is_empty() {
            return &[];
        }
        // SAFETY: non-empty range inside the caller's buffer, valid per `new`'s contract.
        unsafe { core::slice::from_raw_parts(self.ptr.add(range.start), range.len()) }
    }

    /// The address of byte `offset`, for handing back to the caller.
    pub fn ptr(&self, offset: usize) -> *mut u8 {
        self.ptr.wrapping_add(offset) as *mut u8
    }
}

/// A buffer the caller passed to WebSocketReceive for the data to be copied into.
#[derive(Debug, Clone, Copy)]
pub struct CallerBytesMut {
    ptr: NonNull<u8>,
    len: u32,
}

// SAFETY: as for CallerBytes; written only under the handle's lock.
unsafe impl Send for CallerBytesMut {}

impl CallerBytesMut {
    /// Wraps caller memory.
    ///
    /// # Safety
    /// Unless NULL (then None), `ptr` must be writable for `len` (> 0) bytes until the receive
    /// operation's INDICATE_RECEIVE_COMPLETE is handed out, the handle is aborted, or it is
    /// deleted.
    pub unsafe fn new(ptr: *mut u8, len: u32) -> Option<CallerBytesMut> {
        NonNull::new(ptr).map(|ptr| CallerBytesMut { ptr, len })
    }

    /// Capacity in bytes.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the capacity is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole buffer, to write into directly.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the caller's buffer holds `len` writable bytes per `new`'s contract, and it
        // never overlaps the handle's own memory.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }

    /// Copies `src` (at most `len` bytes) to the start of the buffer and returns its address.
    pub(crate) fn fill(&mut self, src: &[u8]) -> *mut u8 {
        assert!(src.len() <= self.len as usize, "receive buffer overflow");
        if !src.is_empty() {
            // SAFETY: the caller's buffer holds `len >= src.len()` writable bytes; our source is
            // the region, which never overlaps caller payload buffers.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr(), src.len()) };
        }
        self.ptr.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_region_is_zeroed_and_bounded() {
        let mut r = Region::private(300).unwrap();
        assert_eq!(r.len(), 300);
        assert!(r.slice(0..300).iter().all(|b| *b == 0));
        r.slice_mut(10..13).copy_from_slice(b"abc");
        r.copy_within(10..13, 0);
        assert_eq!(r.slice(0..3), b"abc");
        assert_eq!(r.ptr(300) as usize - r.ptr(0) as usize, 300);
    }

    #[test]
    #[should_panic]
    fn out_of_bounds_is_a_bug() {
        let r = Region::private(16).unwrap();
        let _ = r.slice(10..17);
    }
}
