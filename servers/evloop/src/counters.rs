//! Per-loop counters: how many connections each loop holds and has served. `/_status` shows
//! them (through `lab_core::status`) and `--verbose` prints one line per loop per second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One loop's counters, updated by the loop (relaxed atomics: they are statistics).
#[derive(Debug, Default)]
pub struct LoopCounters {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Requests answered since start (error responses included).
    pub requests: AtomicU64,
    /// Requests handed to the offload pool since start.
    pub offloaded: AtomicU64,
}

/// The counters of every loop, in loop order: how connections spread across loops.
#[derive(Debug, Default)]
pub struct Counters {
    pub loops: Vec<Arc<LoopCounters>>,
}

impl Counters {
    pub fn new(loops: usize) -> Self {
        Counters {
            loops: (0..loops).map(|_| Arc::default()).collect(),
        }
    }

    /// The counters as JSON for `/_status`: `{"loops":[{"open":..,"accepted":..,..},..]}`.
    pub fn to_json(&self) -> String {
        self.to_json_with(|_| String::new())
    }

    /// [`Counters::to_json`], with `extra(loop)` (`,"name":value` pairs, or nothing) appended
    /// to each loop's object: a model's own per-loop numbers.
    pub fn to_json_with(&self, extra: impl Fn(usize) -> String) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let loops: Vec<String> = self
            .loops
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{{\"open\":{},\"accepted\":{},\"requests\":{},\"offloaded\":{}{}}}",
                    c.open.load(Relaxed),
                    c.accepted.load(Relaxed),
                    c.requests.load(Relaxed),
                    c.offloaded.load(Relaxed),
                    extra(i)
                )
            })
            .collect();
        format!("{{\"loops\":[{}]}}", loops.join(","))
    }
}

/// With `--verbose`, one line per second per loop: how the connections spread across loops.
pub struct Report {
    model: &'static str,
    index: usize,
    last: Instant,
    accepted: u64,
    requests: u64,
}

impl Report {
    pub fn new(model: &'static str, index: usize) -> Self {
        Report {
            model,
            index,
            last: Instant::now(),
            accepted: 0,
            requests: 0,
        }
    }

    pub fn maybe_print(&mut self, counters: &LoopCounters) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        let open = counters.open.load(Ordering::Relaxed);
        let accepted = counters.accepted.load(Ordering::Relaxed);
        let requests = counters.requests.load(Ordering::Relaxed);
        if open > 0 || accepted != self.accepted || requests != self.requests {
            eprintln!(
                "{} loop {}: {open} open, {} accepted, {} requests in the last second",
                self.model,
                self.index,
                accepted - self.accepted,
                requests - self.requests
            );
        }
        self.accepted = accepted;
        self.requests = requests;
    }
}
