//! The deadline set: every connection's one deadline, ordered, so that a loop sleeps until the
//! first and then pops the expired ones. A slow client costs an entry here, not a thread.
//!
//! Keys are the loop's slab indexes (epoll's `Token`s). A connection's deadline changes often
//! (each request moves it), so [`Deadlines::update`] takes the old value to find the entry.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Deadlines {
    set: BTreeSet<(Instant, usize)>,
}

impl Deadlines {
    pub fn new() -> Self {
        Deadlines::default()
    }

    /// Moves `key`'s deadline from `old` to `new` (either may be `None`).
    pub fn update(&mut self, key: usize, old: Option<Instant>, new: Option<Instant>) {
        if old == new {
            return;
        }
        if let Some(old) = old {
            self.set.remove(&(old, key));
        }
        if let Some(new) = new {
            self.set.insert((new, key));
        }
    }

    /// The first deadline, if any.
    pub fn first(&self) -> Option<Instant> {
        self.set.first().map(|&(deadline, _)| deadline)
    }

    /// Removes and returns a key whose deadline is at or before `now`, earliest first.
    pub fn pop_expired(&mut self, now: Instant) -> Option<usize> {
        match self.set.first() {
            Some(&(deadline, _)) if deadline <= now => self.set.pop_first().map(|(_, key)| key),
            _ => None,
        }
    }

    /// How long a loop may wait: until the first deadline, or `extra` (an accept pause), capped
    /// at `max` (so that a flag such as shutdown is seen).
    pub fn wait_time(&self, now: Instant, extra: Option<Instant>, max: Duration) -> Duration {
        let mut next = now + max;
        if let Some(deadline) = self.first() {
            next = next.min(deadline);
        }
        if let Some(at) = extra {
            next = next.min(at);
        }
        next.saturating_duration_since(now)
    }
}
