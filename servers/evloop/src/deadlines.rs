//! The deadline set: every connection's one deadline, ordered, so that a loop sleeps until the
//! first and then pops the expired ones. A slow client costs an entry here, not a thread.
//!
//! Keys are the loop's slab indexes (epoll's `Token`s). A connection's deadline changes often
//! (each request moves it), so [`Deadlines::update`] takes the old value to find the entry.
//!
//! Moving an entry is an ordered-set remove and insert, a few dozen nanoseconds, and a pipelined
//! client moves its deadline on every batch of requests. So the loops keep entries *lazily*
//! ([`Deadlines::settle`]): an entry is moved only when the new deadline is earlier; one that is
//! later leaves the entry where it was, the entry fires early, and the loop puts it back at the
//! real deadline then ([`Deadlines::refire`]). No deadline fires late: an entry is never later
//! than its connection's deadline. A busy connection costs one update per timeout period (seconds)
//! instead of one per batch (microseconds). nginx's `ngx_add_timer` saves the same work another
//! way: it skips the move when the new time differs from the old by less than a threshold.

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

    /// Lazily brings `key`'s entry (`entry`, what the set holds for it) in line with its
    /// deadline (`deadline`): moved only if it must fire earlier (or no longer at all), left
    /// where it is if the deadline moved later. The loop then checks, when the entry fires,
    /// whether the connection's deadline has really passed ([`Deadlines::refire`]).
    pub fn settle(&mut self, key: usize, entry: &mut Option<Instant>, deadline: Option<Instant>) {
        let keep = matches!((*entry, deadline), (Some(e), Some(d)) if e <= d);
        if !keep {
            self.update(key, *entry, deadline);
            *entry = deadline;
        }
    }

    /// For an entry just popped by [`Deadlines::pop_expired`] (so `entry` is now `None`): if the
    /// connection's real deadline, `deadline`, is still to come, puts the entry back there and
    /// returns true (nothing expired: the entry was early). False: the deadline has passed, or
    /// no clock runs (`None`), and the loop acts on the connection's wait.
    pub fn refire(
        &mut self,
        key: usize,
        entry: &mut Option<Instant>,
        deadline: Option<Instant>,
        now: Instant,
    ) -> bool {
        match deadline {
            Some(real) if real > now => {
                self.update(key, *entry, Some(real));
                *entry = Some(real);
                true
            }
            _ => false,
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

    #[test]
    fn a_lazy_entry_moves_only_earlier_and_fires_at_the_real_deadline() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut d = Deadlines::new();
        let mut entry = None;
        d.settle(7, &mut entry, Some(t0 + s));
        assert_eq!(entry, Some(t0 + s));
        // Later: the entry stays (no set update), and so fires early.
        d.settle(7, &mut entry, Some(t0 + 3 * s));
        assert_eq!((entry, d.first()), (Some(t0 + s), Some(t0 + s)));
        // Earlier: it moves.
        d.settle(7, &mut entry, Some(t0 + s / 2));
        assert_eq!((entry, d.first()), (Some(t0 + s / 2), Some(t0 + s / 2)));
        d.settle(7, &mut entry, Some(t0 + 3 * s));
        // It fires at t0 + s/2, early: the real deadline (3 s) is put back, nothing expires.
        assert_eq!(d.pop_expired(t0 + s), Some(7));
        entry = None;
        assert!(d.refire(7, &mut entry, Some(t0 + 3 * s), t0 + s));
        assert_eq!((entry, d.first()), (Some(t0 + 3 * s), Some(t0 + 3 * s)));
        assert_eq!(d.pop_expired(t0 + 2 * s), None);
        // At 3 s it has really passed.
        assert_eq!(d.pop_expired(t0 + 3 * s), Some(7));
        entry = None;
        assert!(!d.refire(7, &mut entry, Some(t0 + 3 * s), t0 + 3 * s));
        // No clock at all: the entry goes.
        d.settle(7, &mut entry, Some(t0 + s));
        d.settle(7, &mut entry, None);
        assert_eq!((entry, d.first()), (None, None));
    }
}
