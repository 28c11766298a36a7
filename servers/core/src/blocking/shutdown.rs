//! Graceful shutdown and counting live connections.
//!
//! [`Shutdown`] is a flag that a signal handler (or a test) sets; every loop checks it at least
//! every [`crate::net::POLL_INTERVAL`]. [`Tracker`] counts live connections so that a model can cap
//! them and, at shutdown, wait (bounded) for in-flight ones to finish, and gives the heap's free
//! pages back after a wave of them ends ([`crate::memory`]).

use crate::memory::Trimmer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Set once, when the server should stop accepting and drain.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Asks every loop holding a clone to stop.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    #[inline]
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// Counts live connections (or threads). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Tracker(Arc<(Mutex<Counts>, Condvar)>);

#[derive(Debug, Default)]
struct Counts {
    live: usize,
    trimmer: Trimmer,
}

/// Held for as long as a connection lives; dropping it decrements the count.
#[derive(Debug)]
pub struct TrackerGuard(Tracker);

impl Tracker {
    pub fn new() -> Self {
        Tracker::default()
    }

    /// Counts one more live connection.
    pub fn enter(&self) -> TrackerGuard {
        self.lock().live += 1;
        TrackerGuard(self.clone())
    }

    /// Live connections now.
    pub fn live(&self) -> usize {
        self.lock().live
    }

    /// Waits until fewer than `max` are live. Returns false if shutdown was triggered first.
    pub fn wait_below(&self, max: usize, shutdown: &Shutdown) -> bool {
        let (_, cv) = &*self.0;
        let mut counts = self.lock();
        while counts.live >= max {
            if shutdown.is_triggered() {
                return false;
            }
            counts = cv
                .wait_timeout(counts, crate::net::POLL_INTERVAL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits up to `timeout` for every connection to end; returns how many are still live.
    pub fn wait_idle(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let (_, cv) = &*self.0;
        let mut counts = self.lock();
        while counts.live > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            counts = cv
                .wait_timeout(counts, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        counts.live
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic while holding this lock cannot leave the count inconsistent: use it anyway.
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        let mut counts = self.0.lock();
        counts.live -= 1;
        let live = counts.live;
        let trim = counts.trimmer.observe(live);
        drop(counts);
        self.0 .0 .1.notify_all();
        if trim {
            // The heap walk happens outside the lock, in the thread that is leaving anyway.
            crate::sys::trim_heap();
        }
    }
}
