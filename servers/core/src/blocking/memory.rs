//! Giving memory back after a wave of connections.
//!
//! When many connections end, what they freed goes back to the allocator, not to the kernel:
//! glibc returns a heap's free pages only from its top, and a threaded server has an arena per
//! thread group (up to 8 per core), each left with hundreds of KiB of free but resident pages.
//! After 2,000 slow-reading connections closed, thread_per_request stayed at 4.7x its idle RSS
//! (16 arenas of about 700 KiB each) until [`Trimmer`] asked glibc to give the free pages back.
//!
//! A [`Trimmer`] watches a live count (connections or threads) and trims the heap
//! ([`crate::sys::trim_heap`]) when the count has fallen to a quarter of its peak since the last
//! trim, by at least [`TRIM_MIN_DROP`]: after a wave, a few times, not on every close. A trim
//! walks the heaps' free lists, so a server under steady load, whose count does not swing like
//! that, never pays for one.

/// The smallest drop of the live count that is worth a trim: below it, what the connections
/// freed (a few KiB each, 64 KiB for an io_uring connection sending a file) is not worth a walk
/// of the heap.
pub const TRIM_MIN_DROP: usize = 64;

/// Decides when a falling live count is worth trimming the heap.
#[derive(Debug, Default, Clone)]
pub struct Trimmer {
    /// The highest live count since the last trim.
    peak: usize,
}

impl Trimmer {
    pub fn new() -> Trimmer {
        Trimmer::default()
    }

    /// Records the live count; returns true when it has fallen far enough that the heap should
    /// be trimmed now (the caller trims, outside any lock: [`Trimmer::observe_and_trim`]).
    pub fn observe(&mut self, live: usize) -> bool {
        self.peak = self.peak.max(live);
        let fell = live <= self.peak / 4 && self.peak - live >= TRIM_MIN_DROP;
        if fell {
            self.peak = live;
        }
        fell
    }

    /// [`Trimmer::observe`], and trims if it says so.
    pub fn observe_and_trim(&mut self, live: usize) {
        if self.observe(live) {
            crate::sys::trim_heap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_a_few_times_per_wave_and_never_under_a_steady_load() {
        let mut t = Trimmer::new();
        // Steady load around 100 connections: never.
        for live in (0..1000).map(|i| 90 + i % 20) {
            assert!(!t.observe(live));
        }
        // The load ends: one trim.
        assert!(t.observe(0));
        // A wave of 2,000 that drains: trims at 500, 125 and 31, then the drop is too small.
        let trims: Vec<usize> = (1..=2000)
            .chain((0..2000).rev())
            .filter(|&live| t.observe(live))
            .collect();
        assert_eq!(trims, vec![500, 125, 31]);
    }
}
