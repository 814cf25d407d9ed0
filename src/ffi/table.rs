//! The handle table. A handle encodes a slot index and that slot's generation in a non-zero,
//! pointer-sized value; it is never dereferenced. NULL, deleted, stale and forged handles are
//! detected and reported as `E_INVALIDARG` (void exports ignore them).
//!
//! Slots live in chunks of 1024 that are allocated on demand and never freed, so a lookup is two
//! atomic-free array indexings and one per-slot lock: no global lock is taken on the data path,
//! and handles on different threads never contend (slots are cache-line aligned).
//!
//! Stale handles. A deleted handle's value comes back only when its slot has been reused so
//! often that the slot's generation wraps. Freed slots are reused first-in first-out, and only
//! once [`REUSE_AFTER`] of them are free (until then a new slot is taken), so a slot is reused at
//! most once per `REUSE_AFTER` deletions: a value recurs after at least `REUSE_AFTER` × 2^G
//! create/delete cycles, G being the generation's bits (64-bit: 2^44; 32-bit, where handles
//! carry 14 generation bits: 4096 × 16383, over 67 million).
//!
//! Locks. Each slot has a [`SlotLock`]: one compare-exchange to take it and one swap to release
//! it on the data path; a thread that finds it held spins briefly, then sleeps.
//!
//! Panics. A panic under a slot's lock (caught by the export's guard) poisons that slot's lock:
//! the handle answers `E_UNEXPECTED` from then on. DeleteHandle frees it like any other handle
//! and retires the slot (its 64 bytes are never reused), so no later handle inherits the poison;
//! the lock's own poison flag is the only bookkeeping, so the data path costs nothing extra.

use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::collections::VecDeque;
use std::sync::Mutex;

use super::headers::HeaderArray;
use super::types::WEB_SOCKET_HANDLE;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::sys::lock::{SlotGuard, SlotLock};

/// What a live handle owns.
pub(crate) struct Entry {
    pub session: Session,
    /// The header array returned by the Begin*Handshake call, kept until DeleteHandle.
    pub headers: Option<HeaderArray>,
}

// Handle layout. 64-bit: generation (32) | index (20) | tag 0xA5A (12).
// 32-bit: generation (14) | index (16) | tag 0b10 (2).
// The index has exactly the bits that address MAX_HANDLES slots, so a decoded index is always
// in range (no test on the data path); on 64-bit the spare bits widen the tag, which a forged
// value must also match.
#[cfg(target_pointer_width = "64")]
const TAG_BITS: u32 = 12;
#[cfg(target_pointer_width = "64")]
const TAG: usize = 0xA5A;
#[cfg(target_pointer_width = "64")]
const INDEX_BITS: u32 = 20;
#[cfg(not(target_pointer_width = "64"))]
const TAG_BITS: u32 = 2;
#[cfg(not(target_pointer_width = "64"))]
const TAG: usize = 0b10;
#[cfg(not(target_pointer_width = "64"))]
const INDEX_BITS: u32 = 16;

const GENERATION_SHIFT: u32 = TAG_BITS + INDEX_BITS;
const GENERATION_MASK: usize = usize::MAX >> GENERATION_SHIFT;

const CHUNK_BITS: u32 = 10;
const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
/// 64-bit: 1024 chunks; 32-bit: as many as 16 index bits address.
const MAX_CHUNKS: usize = if INDEX_BITS - CHUNK_BITS >= 10 { 1024 } else { 1 << (INDEX_BITS - CHUNK_BITS) };
/// Most handles alive at once (64-bit: 1 048 576; 32-bit: 65 536).
const MAX_HANDLES: usize = CHUNK_SLOTS * MAX_CHUNKS;
/// A freed slot is reused only once this many slots are free (first-in first-out).
const REUSE_AFTER: usize = 4096;

const _: () = assert!(MAX_HANDLES == 1 << INDEX_BITS && REUSE_AFTER < MAX_HANDLES);

#[repr(align(64))]
struct Slot {
    state: SlotLock<SlotState>,
}

struct SlotState {
    generation: usize,
    entry: Option<Box<Entry>>,
}

#[allow(clippy::declare_interior_mutable_const)]
const NO_CHUNK: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());
static CHUNKS: [AtomicPtr<Slot>; MAX_CHUNKS] = [NO_CHUNK; MAX_CHUNKS];

struct Allocator {
    /// Freed slots, oldest first (created at the first insert: `VecDeque::new` is not `const`
    /// on the crate's minimum Rust).
    free: Option<VecDeque<u32>>,
    /// Slots taken so far.
    next: u32,
}

static ALLOCATOR: Mutex<Allocator> = Mutex::new(Allocator { free: None, next: 0 });

impl Allocator {
    /// The slot for a new handle: the oldest freed one once enough are free, else a new one.
    fn take(&mut self) -> Result<usize> {
        let free = self.free.get_or_insert_with(VecDeque::new);
        // Reserve room to give every slot taken so far (and this one) back without allocating.
        let taken = self.next as usize + 1;
        free.try_reserve(taken.saturating_sub(free.len())).map_err(|_| Error::OutOfMemory)?;
        if free.len() >= REUSE_AFTER || self.next as usize >= MAX_HANDLES {
            return free.pop_front().map(|i| i as usize).ok_or(Error::OutOfMemory);
        }
        let i = self.next as usize;
        let chunk = &CHUNKS[i >> CHUNK_BITS];
        if chunk.load(Ordering::Acquire).is_null() {
            let mut slots = Vec::new();
            slots.try_reserve_exact(CHUNK_SLOTS).map_err(|_| Error::OutOfMemory)?;
            slots.extend(
                (0..CHUNK_SLOTS)
                    .map(|_| Slot { state: SlotLock::new(SlotState { generation: 1, entry: None }) }),
            );
            let raw = Box::into_raw(slots.into_boxed_slice()) as *mut Slot;
            chunk.store(raw, Ordering::Release);
        }
        self.next += 1;
        Ok(i)
    }

    fn give_back(&mut self, index: usize) {
        // Never allocates: room for every slot was reserved when it was taken.
        if let Some(free) = self.free.as_mut() {
            free.push_back(index as u32);
        }
    }
}

fn encode(index: usize, generation: usize) -> WEB_SOCKET_HANDLE {
    let value = ((generation & GENERATION_MASK) << GENERATION_SHIFT) | (index << TAG_BITS) | TAG;
    // A value without provenance: handles are never dereferenced.
    core::ptr::null_mut::<u8>().wrapping_add(value) as WEB_SOCKET_HANDLE
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
    let index = { ALLOCATOR.lock().unwrap_or_else(|p| p.into_inner()).take()? };
    let slot = slot(index).ok_or(Error::Internal)?;
    let (mut state, _) = slot.state.lock();
    state.entry = Some(entry);
    Ok(encode(index, state.generation))
}

/// Removes and returns the entry of a live handle (poisoned or not); the handle becomes stale at
/// once. Its slot goes back to the free list, unless a panic poisoned it: then it is retired.
pub(crate) fn remove(handle: WEB_SOCKET_HANDLE) -> Option<Box<Entry>> {
    let (index, generation) = decode(handle)?;
    let slot = slot(index)?;
    let (entry, poisoned) = {
        let (mut state, poisoned) = slot.state.lock();
        if state.generation & GENERATION_MASK != generation || state.entry.is_none() {
            return None;
        }
        state.generation = state.generation.wrapping_add(1);
        if state.generation & GENERATION_MASK == 0 {
            state.generation = 1;
        }
        (state.entry.take(), poisoned)
    };
    if !poisoned {
        ALLOCATOR.lock().unwrap_or_else(|p| p.into_inner()).give_back(index);
    }
    entry
}

/// A live handle's entry, locked: the handle's lock is held until this is dropped (which
/// poisons it if the thread is panicking) or [`unlock`](Locked::unlock)ed.
pub(crate) struct Locked {
    /// Holds the slot's lock; `entry` points into the box it guards.
    state: SlotGuard<'static, SlotState>,
    entry: NonNull<Entry>,
}

impl Locked {
    /// Releases the handle's lock after work that ran to its end (see [`SlotGuard::unlock`]).
    #[inline(always)]
    pub(crate) fn unlock(self) {
        self.state.unlock();
    }
}

impl Deref for Locked {
    type Target = Entry;

    #[inline(always)]
    fn deref(&self) -> &Entry {
        // SAFETY: `entry` points at the boxed Entry of the slot whose lock `state` holds; the
        // box is neither moved nor freed while the lock is held.
        unsafe { self.entry.as_ref() }
    }
}

impl DerefMut for Locked {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Entry {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference handed out.
        unsafe { self.entry.as_mut() }
    }
}

/// Locks a live handle's entry. Unknown, stale and deleted handles are `Error::BadHandle`; a
/// handle whose slot a panic poisoned answers `Error::Internal` (E_UNEXPECTED). The exports on
/// the data path call this directly, so that the session's code inlines into them.
#[inline(always)]
pub(crate) fn entry(handle: WEB_SOCKET_HANDLE) -> Result<Locked> {
    let (index, generation) = decode(handle).ok_or(Error::BadHandle)?;
    let slot = slot(index).ok_or(Error::BadHandle)?;
    let (mut state, poisoned) = slot.state.lock();
    if poisoned {
        return Err(poisoned_slot(&state, generation));
    }
    if state.generation & GENERATION_MASK != generation {
        return Err(Error::BadHandle);
    }
    match state.entry.as_deref_mut() {
        Some(e) => {
            let entry = NonNull::from(e);
            Ok(Locked { state, entry })
        }
        None => Err(Error::BadHandle),
    }
}

/// Runs `f` on a live handle's entry under that handle's lock (see [`entry`]; small bodies
/// inline here as well as through the guard, and keep the `&mut Entry` argument's no-alias
/// guarantee). If `f` panics, the unwinding drops the lock's guard, which poisons the handle.
#[inline(always)]
pub(crate) fn with_entry<T>(handle: WEB_SOCKET_HANDLE, f: impl FnOnce(&mut Entry) -> Result<T>) -> Result<T> {
    let mut locked = entry(handle)?;
    let result = f(&mut locked);
    locked.unlock();
    result
}

/// The answer for a handle whose slot a panic poisoned: E_UNEXPECTED while the handle lives,
/// E_INVALIDARG once it is deleted (or for a stale value).
#[cold]
#[inline(never)]
fn poisoned_slot(state: &SlotState, generation: usize) -> Error {
    if state.generation & GENERATION_MASK == generation && state.entry.is_some() {
        Error::Internal
    } else {
        Error::BadHandle
    }
}

/// Runs `f` on a live handle's session under that handle's lock (for tests and tools that drive
/// a handle created through the C ABI, e.g. to inject a deterministic masking-key source).
///
/// ```compile_fail
/// // Not callable from safe code.
/// let _ = websocket::ffi::with_session(std::ptr::null_mut(), |_| Ok(()));
/// ```
///
/// # Safety
/// While `f` runs, no other thread may be using memory the library handed out for this handle
/// (a RECEIVE_FROM_NETWORK buffer being filled, a SEND_TO_NETWORK buffer being written out): the
/// session's methods read and write the handle's region as if every action were complete or not
/// yet handed out, and `f` may complete actions itself.
pub unsafe fn with_session<T>(
    handle: WEB_SOCKET_HANDLE,
    f: impl FnOnce(&mut Session) -> Result<T>,
) -> Result<T> {
    with_entry(handle, |e| f(&mut e.session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{E_INVALIDARG, E_UNEXPECTED};
    use crate::ffi::{
        guard, WebSocketCreateServerHandle, WebSocketDeleteHandle, WebSocketEndServerHandshake,
    };

    const E_INVALID_PROTOCOL_OPERATION: i32 = 0x8376_0001_u32 as i32;

    fn create() -> WEB_SOCKET_HANDLE {
        let mut h = core::ptr::null_mut();
        // SAFETY: `h` is writable; no properties.
        assert_eq!(unsafe { WebSocketCreateServerHandle(core::ptr::null(), 0, &mut h) }, 0);
        h
    }

    fn end_server_handshake(h: WEB_SOCKET_HANDLE) -> i32 {
        // SAFETY: handle values are never dereferenced.
        unsafe { WebSocketEndServerHandshake(h) }
    }

    fn delete(h: WEB_SOCKET_HANDLE) {
        // SAFETY: as above.
        unsafe { WebSocketDeleteHandle(h) };
    }

    /// A handle's own heap stays within the budget the benchmarks hold it to (with an
    /// ALLOCATED_BUFFER, at most 512 bytes per handle, of which the boxed entry is the largest
    /// part; BENCHMARKS.md "Memory and scale"): a field added to the session must pay for itself.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_handle_entry_fits_its_memory_budget() {
        assert!(core::mem::size_of::<Entry>() <= 344, "Entry is {} bytes", core::mem::size_of::<Entry>());
    }

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

    /// A panic under a handle's lock (caught by the export guard) makes that handle answer
    /// E_UNEXPECTED; DeleteHandle frees it and retires the slot, and later handles work.
    #[test]
    fn a_panic_poisons_its_handle_only_until_deleted() {
        let h = create();
        let other = create();
        let hr = guard(|| with_entry(h, |_| -> Result<()> { panic!("injected fault") }));
        assert_eq!(hr, E_UNEXPECTED);
        assert_eq!(end_server_handshake(h), E_UNEXPECTED);
        assert_eq!(end_server_handshake(other), E_INVALID_PROTOCOL_OPERATION, "other handles unaffected");
        let (index, _) = decode(h).unwrap();
        delete(h);
        assert_eq!(end_server_handshake(h), E_INVALIDARG, "deleted");
        {
            let (state, poisoned) = slot(index).unwrap().state.lock();
            assert!(poisoned && state.entry.is_none(), "the entry is freed");
        }
        let free = ALLOCATOR
            .lock()
            .unwrap()
            .free
            .as_ref()
            .map_or(0, |f| f.iter().filter(|i| **i as usize == index).count());
        assert_eq!(free, 0, "the poisoned slot is retired, not reused");
        // Later handles work (natively: through several rounds of slot reuse).
        let cycles = if cfg!(miri) { 8 } else { 2 * REUSE_AFTER + 64 };
        for _ in 0..cycles {
            let n = create();
            assert_ne!(decode(n).unwrap().0, index, "a handle in the poisoned slot");
            assert_eq!(end_server_handshake(n), E_INVALID_PROTOCOL_OPERATION, "a clean Created handle");
            delete(n);
        }
        delete(other);
    }

    /// A deleted handle's value does not come back, and a stale DeleteHandle cannot hit a live
    /// handle, for far more than 2^10 create/delete cycles (on every target: the i686 run of
    /// this test is the 32-bit check).
    #[test]
    fn deleted_handles_stay_stale_across_many_cycles() {
        // The guaranteed bound: REUSE_AFTER reuses of other slots between two of one slot.
        assert!(REUSE_AFTER as u64 * GENERATION_MASK as u64 > 67_000_000);
        let first = create();
        delete(first);
        // Under Miri, enough cycles to wrap a 10-bit generation; natively, several rounds of
        // FIFO reuse.
        let cycles = if cfg!(miri) { 1100 } else { 4 * REUSE_AFTER };
        let mut seen_slot_again = false;
        for _ in 0..cycles {
            let live = create();
            assert_ne!(live, first, "a deleted handle's value is live again");
            seen_slot_again |= decode(live).unwrap().0 == decode(first).unwrap().0;
            delete(first);
            assert_eq!(end_server_handshake(live), E_INVALID_PROTOCOL_OPERATION, "live handle intact");
            delete(live);
        }
        assert!(seen_slot_again || cfg!(miri), "the slot was reused (with a new generation)");
    }
}
