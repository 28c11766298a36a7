//! Graceful shutdown and counting live connections.
//!
//! [`Shutdown`] is a flag that a signal handler (or a test) sets; every loop checks it at least
//! every [`crate::net::POLL_INTERVAL`]. [`Tracker`] counts live connections so that a model can cap
//! them and, at shutdown, wait (bounded) for in-flight ones to finish.

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
pub struct Tracker(Arc<(Mutex<usize>, Condvar)>);

/// Held for as long as a connection lives; dropping it decrements the count.
#[derive(Debug)]
pub struct TrackerGuard(Tracker);

impl Tracker {
    pub fn new() -> Self {
        Tracker::default()
    }

    /// Counts one more live connection.
    pub fn enter(&self) -> TrackerGuard {
        *self.lock() += 1;
        TrackerGuard(self.clone())
    }

    /// Live connections now.
    pub fn live(&self) -> usize {
        *self.lock()
    }

    /// Waits until fewer than `max` are live. Returns false if shutdown was triggered first.
    pub fn wait_below(&self, max: usize, shutdown: &Shutdown) -> bool {
        let (_, cv) = &*self.0;
        let mut live = self.lock();
        while *live >= max {
            if shutdown.is_triggered() {
                return false;
            }
            live = cv
                .wait_timeout(live, crate::net::POLL_INTERVAL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits up to `timeout` for every connection to end; returns how many are still live.
    pub fn wait_idle(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let (_, cv) = &*self.0;
        let mut live = self.lock();
        while *live > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            live = cv
                .wait_timeout(live, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *live
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        // A panic while holding this lock cannot leave the count inconsistent: use it anyway.
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        let mut live = self.0.lock();
        *live -= 1;
        self.0 .0 .1.notify_all();
    }
}
