//! A global allocator that counts allocations, for the tests that prove a request path allocates
//! nothing in steady state (`tests/allocations.rs` here and in the epoll model). It wraps the
//! system allocator and counts every `alloc`, `alloc_zeroed` and `realloc`, on every thread of
//! the test process: the server's threads and the client's alike, so a test's client must not
//! allocate while it measures, except inside [`uncounted`]. Frees are not counted (a free without an allocation is impossible
//! in a window that starts and ends with the same state).
//!
//! Its one `unsafe impl` is why it lives in a module named `sys` (see `tests/invariants.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set while this thread runs [`uncounted`]. Const-initialised, without a destructor: reading
    /// it from the allocator allocates nothing.
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Allocations (and reallocations) made so far by every thread of this process.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Runs `f` with this thread's allocations left out of the count: a client that must look at
/// the server (read /proc) inside its measured window does it here.
pub fn uncounted<R>(f: impl FnOnce() -> R) -> R {
    UNCOUNTED.with(|u| u.set(true));
    let result = f();
    UNCOUNTED.with(|u| u.set(false));
    result
}

/// Counts one allocation, unless this thread is in [`uncounted`].
fn count() {
    if !UNCOUNTED.with(|u| u.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// caller's obligations are passed on as they are; the counter is an atomic add.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded (see the impl's comment).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded (see the impl's comment).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded (see the impl's comment).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded (see the impl's comment).
        unsafe { System.dealloc(ptr, layout) }
    }
}
