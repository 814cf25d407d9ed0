//! The lock of one handle: one 32-bit word around the handle's state, with poisoning.
//!
//! Every export on the data path takes its handle's lock once, so the lock's own cost is paid on
//! every call. [`SlotLock`] takes it with one compare-exchange and releases it with one swap and
//! a test of the result. A thread that finds it held spins briefly, then sleeps on a condition
//! variable shared with other locks; a release calls on that side only when a sleeper has
//! registered in the lock's word. Contention is rare (a caller drives one handle's send queue
//! and receive queue from two threads at most, and no critical section blocks or does I/O), so
//! the sleeping side is plain and portable: std's `Mutex` and `Condvar`, no OS calls.
//!
//! # The state word
//!
//! - `LOCKED`: a guard exists.
//! - `WAITERS`: a thread may be sleeping until this lock is released. Set only while `LOCKED` is
//!   set; cleared only by the release, together with `LOCKED`.
//! - `POISONED`: a guard was dropped while its thread was panicking (a panic in the critical
//!   section unwound through it). Set by that release and never cleared, so it survives every
//!   later release: the data may be half-updated, and every later [`SlotLock::lock`] says so (it
//!   still gives access, to clean up). A critical section that ends in [`SlotGuard::unlock`]
//!   ran to its end, so that release never poisons, and skips the test of the thread's state.
//!
//! Taking the lock: compare-exchange `0 → LOCKED` (Acquire). Anything else (held, or poisoned)
//! goes to the out-of-line path: spin a bounded number of times while the lock is held, taking it
//! as soon as `LOCKED` is clear (keeping `POISONED`), then sleep. Releasing: swap in `POISONED`
//! or 0 (Release), which clears `LOCKED` and `WAITERS` at once; only the holder sets `POISONED`,
//! so the holder knows the value to leave behind (its guard noted the bit when it took the lock).
//! If the swapped-out word had `WAITERS`, wake the lock's bucket.
//!
//! # Sleeping, and why no wakeup is lost
//!
//! A sleeping thread waits on one of [`BUCKETS`] (a `Mutex<()>` and a `Condvar`), chosen by the
//! lock's address. To sleep, a thread takes its bucket's mutex, then loops: load the state; if
//! `LOCKED` is clear, give up sleeping and try to take the lock again; if `WAITERS` is set, wait
//! on the condvar; else compare-exchange `state → state | WAITERS` and on success wait on the
//! condvar, on failure loop. `Condvar::wait` releases the bucket's mutex atomically with starting
//! to wait. A release that swapped out `WAITERS` takes the bucket's mutex and calls `notify_all`.
//!
//! Claim: a thread W that waits after seeing `LOCKED | WAITERS` is woken by a later release.
//! Every state change is an atomic operation on the one word, so they form one modification
//! order. Only a release clears `LOCKED` or `WAITERS`, and `WAITERS` is only ever set together
//! with `LOCKED` present. Let V be the value W saw `LOCKED | WAITERS` in — the word its
//! successful compare-exchange wrote, or the word its load read — and R the first release after
//! V in modification order. Between V and R nothing clears `WAITERS`, so R's swap reads a word
//! with `WAITERS` set and R goes on to take the bucket's mutex. Suppose R took it before W did:
//! then R's swap happens-before W's taking of the mutex (the mutex orders them), hence before W's
//! load or compare-exchange, and coherence forces that operation to see R's value or a later one
//! — not V, which precedes R. So R takes the bucket's mutex after W took it; W holds it from
//! then until `Condvar::wait` releases it, so R gets it only once W is waiting, and its
//! `notify_all` wakes W. ∎
//!
//! A woken thread loops back and competes for the lock; if it loses (another thread took the
//! lock first), it sets `WAITERS` again before sleeping. Condvar's spurious wakeups, and the
//! wakeups of other locks in the same bucket, only cost such a loop. After its swap, a release
//! touches nothing of the lock (only the bucket, found from the address taken before): the lock
//! may be taken and dropped by another thread by then.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{Condvar, Mutex, PoisonError};

const LOCKED: u32 = 1;
const WAITERS: u32 = 2;
const POISONED: u32 = 4;

/// How often a thread that finds the lock held re-reads it before it sleeps. Critical sections
/// are a few hundred instructions, so a short spin usually outlasts them.
const SPINS: u32 = 100;

/// Number of wait buckets shared by all locks.
pub const BUCKETS: usize = 64;

/// A lock with poisoning, one 32-bit word beside the data it guards (see the module docs).
pub struct SlotLock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one guard at a time (the `LOCKED` bit, taken
// with Acquire and released with Release, orders the accesses of successive holders), so sharing
// the lock between threads moves `T` between them but never shares a `T`: `T: Send` suffices,
// as for `std::sync::Mutex`. (`Send` for the lock itself is derived: `UnsafeCell<T>` is `Send`
// when `T` is.)
unsafe impl<T: Send> Sync for SlotLock<T> {}

// A panic while the lock is held poisons it, and every later `lock` reports that: the broken
// invariant is never observed unknowingly (as for `std::sync::Mutex`).
impl<T> UnwindSafe for SlotLock<T> {}
impl<T> RefUnwindSafe for SlotLock<T> {}

/// Access to a [`SlotLock`]'s value; releases the lock when dropped, poisoning it if the thread
/// is panicking. Like `&mut T`, it is `Send` only if `T` is and `Sync` only if `T` is.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct SlotGuard<'a, T> {
    lock: &'a SlotLock<T>,
    /// Whether `POISONED` was set when the lock was taken (only the holder can set it).
    poisoned: bool,
    _access: PhantomData<&'a mut T>,
}

impl<T> SlotLock<T> {
    /// A new, unlocked and unpoisoned lock.
    pub const fn new(value: T) -> SlotLock<T> {
        SlotLock { state: AtomicU32::new(0), value: UnsafeCell::new(value) }
    }

    /// Takes the lock, waiting while another thread holds it. Returns the guard and whether the
    /// lock is poisoned (a holder panicked): the value is reachable either way, and the flag is
    /// in the return value so that no caller overlooks it.
    #[inline(always)]
    pub fn lock(&self) -> (SlotGuard<'_, T>, bool) {
        let poisoned = match self.state.compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => false,
            Err(_) => self.lock_contended(),
        };
        (SlotGuard { lock: self, poisoned, _access: PhantomData }, poisoned)
    }

    /// Takes the lock when the first compare-exchange failed (held or poisoned): spins, then
    /// sleeps until it is released. Returns whether it is poisoned.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> bool {
        let mut spins = 0;
        loop {
            let state = self.state.load(Ordering::Relaxed);
            if state & LOCKED == 0 {
                // Free (perhaps poisoned): take it, keeping POISONED. WAITERS is clear here (it
                // is only set while LOCKED is).
                match self.state.compare_exchange_weak(
                    state,
                    state | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return state & POISONED != 0,
                    Err(_) => continue,
                }
            }
            if spins < SPINS {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            self.sleep();
        }
    }

    /// Releases the lock, poisoned from now on if `poison`: clears `LOCKED` and `WAITERS` and
    /// wakes the sleepers of the lock's bucket if there were any.
    ///
    /// # Safety
    /// The caller holds the lock (it owns the guard, which releases it only through this call).
    #[inline(always)]
    unsafe fn release(&self, poison: bool) {
        let address = self as *const SlotLock<T> as usize;
        // After this swap the lock may be taken, and freed, by another thread: only its address
        // is used from here on.
        if self.state.swap(if poison { POISONED } else { 0 }, Ordering::Release) & WAITERS != 0 {
            wake(address);
        }
    }

    /// Sleeps until a release that follows this call, unless the lock is found free first.
    /// Returns with the lock not taken (the caller competes for it again).
    fn sleep(&self) {
        let bucket = &BUCKETS_TABLE[bucket_index(self as *const SlotLock<T> as usize)];
        let held = bucket.mutex.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let state = self.state.load(Ordering::Relaxed);
            if state & LOCKED == 0 {
                return;
            }
            if state & WAITERS != 0
                || self
                    .state
                    .compare_exchange(state, state | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                // Releases the bucket's mutex atomically with starting to wait (the module
                // docs show why the release that clears WAITERS then wakes this thread).
                drop(bucket.condvar.wait(held).unwrap_or_else(PoisonError::into_inner));
                return;
            }
        }
    }
}

impl<T> SlotGuard<'_, T> {
    /// Releases the lock after a critical section that ran to its end: the release leaves the
    /// poison as it was, even if the thread is unwinding from a panic raised before the lock was
    /// taken (dropping the guard instead poisons the lock whenever the thread is panicking).
    /// Saves dropping's test of the thread's panic state.
    #[inline(always)]
    pub fn unlock(self) {
        let guard = ManuallyDrop::new(self);
        // SAFETY: `guard` holds the lock and is not dropped, so it releases it only here.
        unsafe { guard.lock.release(guard.poisoned) };
    }
}

impl<T> Deref for SlotGuard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock (LOCKED was set by its `lock`, and only its drop
        // clears it), so no other guard, hence no other reference to the value, exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SlotGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference handed out.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SlotGuard<'_, T> {
    /// Releases the lock, poisoning it if this thread is panicking (a poisoned lock stays so).
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock and is being dropped: it releases it only here.
        unsafe { self.lock.release(self.poisoned || std::thread::panicking()) };
    }
}

struct Bucket {
    mutex: Mutex<()>,
    condvar: Condvar,
}

#[allow(clippy::declare_interior_mutable_const)]
const IDLE: Bucket = Bucket { mutex: Mutex::new(()), condvar: Condvar::new() };
static BUCKETS_TABLE: [Bucket; BUCKETS] = [IDLE; BUCKETS];

/// The bucket of the lock at `address`. Handle slots are 64-byte aligned, so neighbouring slots
/// sleep in different buckets.
fn bucket_index(address: usize) -> usize {
    (address / 64) % BUCKETS
}

/// Wakes every thread sleeping in the bucket of the lock at `address`.
#[cold]
#[inline(never)]
fn wake(address: usize) {
    let bucket = &BUCKETS_TABLE[bucket_index(address)];
    // Taking the mutex orders this wakeup after any sleeper's check of the state (module docs).
    let _held = bucket.mutex.lock().unwrap_or_else(PoisonError::into_inner);
    bucket.condvar.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::AtomicBool;
    use std::thread;

    /// Spins (yielding) until `lock` has a sleeper registered; panics after a bounded number of
    /// rounds.
    fn until_a_thread_sleeps_on<T>(lock: &SlotLock<T>) {
        for _ in 0..10_000_000 {
            if lock.state.load(Ordering::Relaxed) & WAITERS != 0 {
                return;
            }
            thread::yield_now();
        }
        panic!("no thread went to sleep on the lock");
    }

    /// Threads adding to a plain counter under the lock: the total is exact (and under Miri,
    /// every access is checked for a data race).
    fn count_with(lock: &SlotLock<u64>, threads: u64, rounds: u64) {
        thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..rounds {
                        let (mut n, _) = lock.lock();
                        *n += 1;
                    }
                });
            }
        });
    }

    #[test]
    fn threads_counting_under_the_lock_lose_no_update() {
        let (threads, rounds) = if cfg!(miri) { (3, 150) } else { (4, 200_000) };
        let lock = SlotLock::new(0u64);
        count_with(&lock, threads, rounds);
        let (n, poisoned) = lock.lock();
        assert_eq!(*n, threads * rounds);
        assert!(!poisoned);
        drop(n);
        assert_eq!(lock.state.load(Ordering::Relaxed), 0, "released, no sleeper left");
    }

    #[test]
    fn a_panic_under_the_lock_poisons_it_for_good() {
        let lock = SlotLock::new(vec![1u8]);
        assert!(!lock.lock().1, "a new lock is not poisoned");
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let (mut v, _) = lock.lock();
            v.push(2);
            panic!("injected fault");
        }));
        assert!(caught.is_err());
        assert_eq!(lock.state.load(Ordering::Relaxed), POISONED, "released and poisoned");
        for round in 3..6u8 {
            let (mut v, poisoned) = lock.lock();
            assert!(poisoned, "still poisoned in round {round}");
            assert_eq!(v.len() as u8, round - 1, "the data written before the panic is there");
            v.push(round);
            if round % 2 == 0 {
                v.unlock();
            } else {
                drop(v);
            }
            assert_eq!(lock.state.load(Ordering::Relaxed), POISONED);
        }
        assert_eq!(*lock.lock().0, [1, 2, 3, 4, 5]);
    }

    /// Only a guard dropped by unwinding poisons: `unlock` (a critical section that ran to its
    /// end) does not, even while the thread unwinds from an earlier panic.
    #[test]
    fn unlock_never_poisons_and_drop_poisons_only_while_panicking() {
        struct LockOnDrop<'a>(&'a SlotLock<u32>, bool);
        impl Drop for LockOnDrop<'_> {
            fn drop(&mut self) {
                let (mut v, _) = self.0.lock();
                *v += 1;
                if self.1 {
                    v.unlock();
                }
            }
        }
        let lock = SlotLock::new(0);
        let (v, _) = lock.lock();
        v.unlock();
        drop(lock.lock());
        assert_eq!(lock.state.load(Ordering::Relaxed), 0);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _during_unwinding = LockOnDrop(&lock, true);
            panic!("injected fault");
        }));
        assert_eq!(lock.state.load(Ordering::Relaxed), 0, "unlock while unwinding does not poison");
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _during_unwinding = LockOnDrop(&lock, false);
            panic!("injected fault");
        }));
        assert_eq!(lock.state.load(Ordering::Relaxed), POISONED, "a drop while unwinding poisons");
        assert_eq!(*lock.lock().0, 2);
    }

    /// The contended path keeps the poison and still excludes.
    #[test]
    fn a_poisoned_lock_still_excludes_under_contention() {
        let lock = SlotLock::new(0u64);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _held = lock.lock();
            panic!("injected fault");
        }));
        let (threads, rounds) = if cfg!(miri) { (2, 100) } else { (2, 100_000) };
        count_with(&lock, threads, rounds);
        let (n, poisoned) = lock.lock();
        assert!(poisoned);
        assert_eq!(*n, threads * rounds);
    }

    #[test]
    fn a_sleeping_waiter_is_woken_by_the_release() {
        let lock = SlotLock::new(0u32);
        let (mut held, _) = lock.lock();
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let (mut v, poisoned) = lock.lock();
                assert!(!poisoned);
                *v += 1;
                *v
            });
            until_a_thread_sleeps_on(&lock);
            *held = 41;
            drop(held);
            assert_eq!(waiter.join().unwrap(), 42, "the waiter ran after the release, seeing its write");
        });
        assert_eq!(lock.state.load(Ordering::Relaxed), 0);
    }

    /// A holder that panics wakes its sleeper, which sees the poison.
    #[test]
    fn a_panicking_holder_wakes_its_waiter_with_the_poison() {
        let lock = SlotLock::new(0u32);
        let go = AtomicBool::new(false);
        thread::scope(|s| {
            let holder = s.spawn(|| {
                let (_held, _) = lock.lock();
                go.store(true, Ordering::Release);
                until_a_thread_sleeps_on(&lock);
                panic!("injected fault");
            });
            for _ in 0..10_000_000 {
                if go.load(Ordering::Acquire) {
                    break;
                }
                thread::yield_now();
            }
            assert!(go.load(Ordering::Acquire), "the holder never took the lock");
            let (_v, poisoned) = lock.lock();
            assert!(poisoned);
            assert!(holder.join().is_err());
        });
    }

    /// Two locks in the same bucket: releasing one wakes both sleepers; the other lock's sleeper
    /// finds its lock still held and sleeps again until that one is released.
    #[test]
    fn sleepers_of_locks_sharing_a_bucket_wait_for_their_own_lock() {
        #[repr(align(64))]
        struct Aligned(SlotLock<u32>);
        let locks: Vec<Aligned> = (0..=BUCKETS).map(|_| Aligned(SlotLock::new(0))).collect();
        let (a, b) = (&locks[0].0, &locks[BUCKETS].0);
        assert_eq!(bucket_index(a as *const _ as usize), bucket_index(b as *const _ as usize));
        let b_released = AtomicBool::new(false);
        let (held_a, _) = a.lock();
        let (held_b, _) = b.lock();
        thread::scope(|s| {
            let wa = s.spawn(|| *a.lock().0);
            let wb = s.spawn(|| {
                let (v, _) = b.lock();
                assert!(b_released.load(Ordering::Relaxed), "took a lock that was still held");
                *v
            });
            until_a_thread_sleeps_on(a);
            until_a_thread_sleeps_on(b);
            drop(held_a);
            assert_eq!(wa.join().unwrap(), 0);
            b_released.store(true, Ordering::Relaxed);
            drop(held_b);
            assert_eq!(wb.join().unwrap(), 0);
        });
    }
}
