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

#[cfg(test)]
mod tests {
    use super::Deadlines;
    use std::time::{Duration, Instant};

    #[test]
    fn expired_keys_come_out_earliest_first_and_moved_ones_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut d = Deadlines::new();
        d.update(1, None, Some(t0 + 3 * s));
        d.update(2, None, Some(t0 + s));
        d.update(3, None, Some(t0 + 2 * s));
        // Key 1 moves earlier; its old entry must be gone.
        d.update(1, Some(t0 + 3 * s), Some(t0 + s / 2));
        // Key 3 is removed.
        d.update(3, Some(t0 + 2 * s), None);
        assert_eq!(d.first(), Some(t0 + s / 2));
        assert_eq!(d.wait_time(t0, None, 10 * s), s / 2);
        assert_eq!(d.wait_time(t0, Some(t0 + s / 4), 10 * s), s / 4);
        let now = t0 + 5 * s;
        let expired: Vec<usize> = std::iter::from_fn(|| d.pop_expired(now)).collect();
        assert_eq!(expired, [1, 2]);
        assert_eq!(d.first(), None);
        assert_eq!(d.wait_time(now, None, 10 * s), 10 * s);
    }
}
