//! The handle table. A handle encodes a slot index and that slot's generation in a non-zero,
//! pointer-sized value; it is never dereferenced. NULL, deleted, stale and forged handles are
//! detected and reported as `E_INVALIDARG` (void exports ignore them).
//!
//! Slots live in chunks of 1024 that are allocated on demand and never freed, so a lookup is two
//! atomic-free array indexings and one per-slot lock: no global lock is taken on the data path,
//! and handles on different threads never contend (slots are cache-line aligned).

use core::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

use super::headers::HeaderArray;
use super::types::WEB_SOCKET_HANDLE;
use crate::error::{Error, Result};
use crate::session::Session;

/// What a live handle owns.
pub(crate) struct Entry {
    pub session: Session,
    /// The header array returned by the Begin*Handshake call, kept until DeleteHandle.
    pub headers: Option<HeaderArray>,
}

const CHUNK_BITS: u32 = 10;
const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
const MAX_CHUNKS: usize = 1024;
/// Most handles alive at once.
pub(crate) const MAX_HANDLES: usize = CHUNK_SLOTS * MAX_CHUNKS;

#[repr(align(64))]
struct Slot {
    state: Mutex<SlotState>,
}

struct SlotState {
    generation: usize,
    entry: Option<Box<Entry>>,
}

#[allow(clippy::declare_interior_mutable_const)]
const NO_CHUNK: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());
static CHUNKS: [AtomicPtr<Slot>; MAX_CHUNKS] = [NO_CHUNK; MAX_CHUNKS];

struct Allocator {
    free: Vec<u32>,
    next: u32,
}

static ALLOCATOR: Mutex<Allocator> = Mutex::new(Allocator { free: Vec::new(), next: 0 });

// Handle layout. 64-bit: generation (32) | index (28) | tag 0xA (4).
// 32-bit: generation (10) | index (20) | tag 0b10 (2).
#[cfg(target_pointer_width = "64")]
const TAG_BITS: u32 = 4;
#[cfg(target_pointer_width = "64")]
const TAG: usize = 0xA;
#[cfg(target_pointer_width = "64")]
const INDEX_BITS: u32 = 28;
#[cfg(not(target_pointer_width = "64"))]
const TAG_BITS: u32 = 2;
#[cfg(not(target_pointer_width = "64"))]
const TAG: usize = 0b10;
#[cfg(not(target_pointer_width = "64"))]
const INDEX_BITS: u32 = 20;

const GENERATION_SHIFT: u32 = TAG_BITS + INDEX_BITS;
const GENERATION_MASK: usize = usize::MAX >> GENERATION_SHIFT;

fn encode(index: usize, generation: usize) -> WEB_SOCKET_HANDLE {
    let value = ((generation & GENERATION_MASK) << GENERATION_SHIFT) | (index << TAG_BITS) | TAG;
    value as WEB_SOCKET_HANDLE
}

fn decode(handle: WEB_SOCKET_HANDLE) -> Option<(usize, usize)> {
    let value = handle as usize;
    if value & ((1 << TAG_BITS) - 1) != TAG {
        return None;
    }
    let index = (value >> TAG_BITS) & ((1 << INDEX_BITS) - 1);
    Some((index, value >> GENERATION_SHIFT))
}

fn slot(index: usize) -> Option<&'static Slot> {
    let chunk = CHUNKS.get(index >> CHUNK_BITS)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a non-NULL chunk pointer was published (Release) after its CHUNK_SLOTS slots were
    // initialised, and chunks are never freed; the offset is below CHUNK_SLOTS.
    Some(unsafe { &*chunk.add(index & (CHUNK_SLOTS - 1)) })
}

/// Stores `entry` in a free slot and returns its handle.
pub(crate) fn insert(entry: Box<Entry>) -> Result<WEB_SOCKET_HANDLE> {
    let index = {
        let mut alloc = ALLOCATOR.lock().unwrap_or_else(|p| p.into_inner());
        match alloc.free.pop() {
            Some(i) => i as usize,
            None => {
                let i = alloc.next as usize;
                if i >= MAX_HANDLES {
                    return Err(Error::OutOfMemory);
                }
                let chunk = &CHUNKS[i >> CHUNK_BITS];
                if chunk.load(Ordering::Acquire).is_null() {
                    let mut slots = Vec::new();
                    slots.try_reserve_exact(CHUNK_SLOTS).map_err(|_| Error::OutOfMemory)?;
                    slots.extend(
                        (0..CHUNK_SLOTS)
                            .map(|_| Slot { state: Mutex::new(SlotState { generation: 1, entry: None }) }),
                    );
                    let raw = Box::into_raw(slots.into_boxed_slice()) as *mut Slot;
                    chunk.store(raw, Ordering::Release);
                }
                alloc.next += 1;
                i
            }
        }
    };
    let slot = slot(index).ok_or(Error::Internal)?;
    let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
    state.entry = Some(entry);
    Ok(encode(index, state.generation))
}

/// Removes and returns the entry of a live handle; the handle becomes stale at once.
pub(crate) fn remove(handle: WEB_SOCKET_HANDLE) -> Option<Box<Entry>> {
    let (index, generation) = decode(handle)?;
    let slot = slot(index)?;
    let entry = {
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.generation & GENERATION_MASK != generation || state.entry.is_none() {
            return None;
        }
        state.generation = state.generation.wrapping_add(1);
        if state.generation & GENERATION_MASK == 0 {
            state.generation = 1;
        }
        state.entry.take()
    };
    let mut alloc = ALLOCATOR.lock().unwrap_or_else(|p| p.into_inner());
    alloc.free.push(index as u32);
    entry
}

/// Runs `f` on a live handle's entry under that handle's lock.
pub(crate) fn with_entry<T>(handle: WEB_SOCKET_HANDLE, f: impl FnOnce(&mut Entry) -> Result<T>) -> Result<T> {
    let (index, generation) = decode(handle).ok_or(Error::BadHandle)?;
    let slot = slot(index).ok_or(Error::BadHandle)?;
    let mut state = slot.state.lock().map_err(|_| Error::Internal)?;
    if state.generation & GENERATION_MASK != generation {
        return Err(Error::BadHandle);
    }
    match state.entry.as_mut() {
        Some(entry) => f(entry),
        None => Err(Error::BadHandle),
    }
}

/// Runs `f` on a live handle's session (for tests and tools that drive a handle created through
/// the C ABI, e.g. to inject a deterministic masking-key source).
pub fn with_session<T>(handle: WEB_SOCKET_HANDLE, f: impl FnOnce(&mut Session) -> Result<T>) -> Result<T> {
    with_entry(handle, |e| f(&mut e.session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_are_never_zero_or_all_ones() {
        for (i, g) in [(0usize, 1usize), (1, 2), ((1 << INDEX_BITS) - 1, GENERATION_MASK)] {
            let h = encode(i, g);
            assert!(!h.is_null());
            assert_ne!(h as usize, usize::MAX);
            assert_eq!(decode(h), Some((i, g)));
        }
        assert_eq!(decode(core::ptr::null_mut()), None);
        assert_eq!(decode(usize::MAX as WEB_SOCKET_HANDLE), None);
    }
}
