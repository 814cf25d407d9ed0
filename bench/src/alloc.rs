//! A counting global allocator. Counting is off unless `enable(true)`: throughput runs pay one
//! relaxed load per allocation, so allocation-heavy peers are not penalised.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static MAX: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy, Debug, Default)]
pub struct Snap {
    /// Allocation events (alloc, alloc_zeroed, realloc).
    pub allocs: u64,
    /// Bytes requested by those events.
    pub bytes: u64,
    /// Bytes currently live (allocated while counting, minus freed while counting).
    pub live: i64,
    /// Largest single request since the last `reset_max`.
    pub max: usize,
}

pub fn enable(on: bool) {
    ON.store(on, Relaxed);
}

pub fn snap() -> Snap {
    Snap { allocs: ALLOCS.load(Relaxed), bytes: BYTES.load(Relaxed), live: LIVE.load(Relaxed), max: MAX.load(Relaxed) }
}

pub fn reset_max() {
    MAX.store(0, Relaxed);
}

#[inline]
fn on_alloc(size: usize) {
    if ON.load(Relaxed) {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(size as u64, Relaxed);
        LIVE.fetch_add(size as i64, Relaxed);
        MAX.fetch_max(size, Relaxed);
    }
}

#[inline]
fn on_free(size: usize) {
    if ON.load(Relaxed) {
        LIVE.fetch_sub(size as i64, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_free(layout.size());
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_free(layout.size());
        on_alloc(new_size);
        System.realloc(ptr, layout, new_size)
    }
}
