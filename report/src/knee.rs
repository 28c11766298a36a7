//! The knee of a latency curve: the highest offered rate a server sustains.
//!
//! A rate is *sustained* when an open-loop run at it ([`verdict`]) had no errors, achieved at
//! least 99% of the offered rate, and kept p99 under the objective (the SLO). [`Search`] finds
//! the highest such rate by bracketing, as one would by hand: double from a start rate until a
//! rate fails (or halve until one passes), then bisect between the highest pass and the lowest
//! fail, for at most a fixed number of steps. The result is a bracket, not a point: the knee lies
//! between the highest rate that passed and the lowest that failed, and on a shared machine that
//! bracket moves from run to run.
//!
//! `lab run --find-max-rate` and `lab compare --rates auto` both use this, and the report judges
//! every step again from its cell's JSON with the same [`verdict`].

/// Achieved throughput must reach this share of the offered rate.
pub const ACHIEVED_SHARE: f64 = 0.99;
/// The bisection stops once the bracket is this narrow (highest fail / highest pass).
pub const PRECISION: f64 = 1.05;
/// Send lag (how late the load generator sent, p99) above which a failed step is blamed on the
/// load generator as much as on the server, in microseconds.
pub const LOADER_LAG_US: u64 = 1000;

/// Whether an open-loop run at `offered` req/s met the objective; if not, why not, in words.
pub fn verdict(load: &lab_schema::LoadReport, offered: f64, slo_us: u64) -> Result<(), String> {
    let mut why = Vec::new();
    if load.interrupted {
        why.push("it was interrupted".to_string());
    }
    let errors = load.errors.total();
    if errors > 0 {
        why.push(format!("{errors} errors"));
    }
    if load.throughput_rps < ACHIEVED_SHARE * offered {
        why.push(format!(
            "achieved {} req/s of {} offered",
            crate::fmt::thousands(load.throughput_rps),
            crate::fmt::thousands(offered)
        ));
    }
    if load.requests == 0 {
        why.push("no response".to_string());
    } else if load.latency_us.p99 >= slo_us {
        why.push(format!(
            "p99 {} over the {} objective",
            crate::fmt::latency_us(load.latency_us.p99 as f64),
            crate::fmt::latency_us(slo_us as f64)
        ));
    }
    if why.is_empty() {
        return Ok(());
    }
    let mut text = why.join(", ");
    if let Some(lag) = &load.send_lag_us {
        if lag.p99 > LOADER_LAG_US {
            text.push_str(&format!(
                " (the load generator itself sent late: p99 {} behind schedule)",
                crate::fmt::latency_us(lag.p99 as f64)
            ));
        }
    }
    Err(text)
}

/// Whether a failed step says more about the load generator than about the server: it sent its
/// requests late by at least half the objective (p99), so that lateness alone, counted in every
/// latency from the moment a request was due, could have broken the objective. On a shared
/// machine this happens when the loader is not scheduled; the search runs such a step again once.
pub fn loader_bound(load: &lab_schema::LoadReport, slo_us: u64) -> bool {
    load.send_lag_us
        .as_ref()
        .is_some_and(|lag| lag.p99.saturating_mul(2) >= slo_us)
}

/// How a step went, for [`Search::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Held,
    Failed,
    /// Failed, but the load generator was late ([`loader_bound`]): tried once more.
    LoaderBound,
}

/// A bracketing search for the highest sustained rate.
#[derive(Debug, Clone)]
pub struct Search {
    /// The highest rate that passed, and the lowest that failed, so far.
    pass: Option<f64>,
    fail: Option<f64>,
    start: f64,
    steps: u32,
    max_steps: u32,
    /// A loader-bound rate to try again (once).
    again: Option<f64>,
    retried: Vec<f64>,
}

impl Search {
    pub fn new(start: f64, max_steps: u32) -> Search {
        Search {
            pass: None,
            fail: None,
            start: start.max(1.0).round(),
            steps: 0,
            max_steps,
            again: None,
            retried: Vec::new(),
        }
    }

    /// The next rate to try, or `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        if self.steps >= self.max_steps {
            return None;
        }
        if let Some(rate) = self.again {
            return Some(rate);
        }
        let next = match (self.pass, self.fail) {
            (None, None) => self.start,
            (Some(p), None) => p * 2.0,
            (None, Some(f)) if f <= 1.0 => return None,
            (None, Some(f)) => (f / 2.0).max(1.0),
            (Some(p), Some(f)) if f / p <= PRECISION || f - p <= 1.0 => return None,
            (Some(p), Some(f)) => (p + f) / 2.0,
        };
        Some(next.round())
    }

    /// Records how a step went.
    pub fn record(&mut self, rate: f64, step: Step) {
        self.steps += 1;
        self.again = None;
        if step == Step::LoaderBound && !self.retried.contains(&rate) {
            self.retried.push(rate);
            self.again = Some(rate);
            return;
        }
        if step == Step::Held {
            self.pass = Some(self.pass.map_or(rate, |p| p.max(rate)));
        } else {
            self.fail = Some(self.fail.map_or(rate, |f| f.min(rate)));
        }
    }

    /// (highest rate that passed, lowest rate that failed).
    pub fn bracket(&self) -> (Option<f64>, Option<f64>) {
        (self.pass, self.fail)
    }

    pub fn steps(&self) -> u32 {
        self.steps
    }
}

/// The bracket of a finished set of steps `(offered rate, passed)`, in any order: the highest
/// rate that passed and the lowest rate above it that failed. A pass above a fail (noise) is
/// kept: the knee is where the server last held.
pub fn bracket(steps: &[(f64, bool)]) -> (Option<f64>, Option<f64>) {
    let pass = steps
        .iter()
        .filter(|s| s.1)
        .map(|s| s.0)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let fail = steps
        .iter()
        .filter(|s| !s.1 && pass.is_none_or(|p| s.0 > p))
        .map(|s| s.0)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
    (pass, fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search against a server that sustains exactly `capacity`.
    fn search(capacity: f64, start: f64, max_steps: u32) -> (Vec<f64>, Search) {
        let mut s = Search::new(start, max_steps);
        let mut tried = Vec::new();
        while let Some(r) = s.next() {
            tried.push(r);
            s.record(
                r,
                if r <= capacity {
                    Step::Held
                } else {
                    Step::Failed
                },
            );
        }
        (tried, s)
    }

    #[test]
    fn doubles_until_it_fails_then_bisects() {
        let (tried, s) = search(5000.0, 1000.0, 8);
        assert_eq!(&tried[..4], &[1000.0, 2000.0, 4000.0, 8000.0]);
        assert_eq!(tried[4], 6000.0);
        assert_eq!(tried.len(), 8);
        let (pass, fail) = s.bracket();
        assert!(pass.unwrap() <= 5000.0 && fail.unwrap() > 5000.0);
        assert!(fail.unwrap() / pass.unwrap() < 1.2, "{tried:?}");
    }

    #[test]
    fn halves_when_the_start_is_too_high_and_stops_when_narrow() {
        let (tried, s) = search(200.0, 1000.0, 20);
        assert_eq!(&tried[..3], &[1000.0, 500.0, 250.0]);
        let (pass, fail) = s.bracket();
        assert!(pass.unwrap() <= 200.0 && fail.unwrap() > 200.0);
        assert!(fail.unwrap() / pass.unwrap() <= PRECISION, "{tried:?}");
        assert!(tried.len() < 20);
    }

    #[test]
    fn a_server_that_never_fails_is_a_lower_bound() {
        let (tried, s) = search(f64::INFINITY, 100.0, 4);
        assert_eq!(tried, vec![100.0, 200.0, 400.0, 800.0]);
        assert_eq!(s.bracket(), (Some(800.0), None));
    }

    #[test]
    fn a_loader_bound_step_is_tried_once_more() {
        let mut s = Search::new(100.0, 8);
        assert_eq!(s.next(), Some(100.0));
        s.record(100.0, Step::LoaderBound);
        assert_eq!(s.next(), Some(100.0), "tried again");
        s.record(100.0, Step::LoaderBound);
        assert_eq!(
            s.bracket(),
            (None, Some(100.0)),
            "twice counts as a failure"
        );
        assert_eq!(s.next(), Some(50.0));
        s.record(50.0, Step::Held);
        assert_eq!(s.steps(), 3);
    }

    #[test]
    fn bracket_of_steps_ignores_failures_below_the_highest_pass() {
        let steps = [(100.0, true), (200.0, false), (150.0, true), (175.0, false)];
        assert_eq!(bracket(&steps), (Some(150.0), Some(175.0)));
        let noisy = [(100.0, false), (200.0, true), (400.0, false)];
        assert_eq!(bracket(&noisy), (Some(200.0), Some(400.0)));
        assert_eq!(bracket(&[(100.0, false)]), (None, Some(100.0)));
    }
}
