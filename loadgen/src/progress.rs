//! The live progress line: elapsed time, requests per second, open
//! connections, errors. Drawn by the calling thread from the shared
//! counters (the event loops never touch the terminal), and only when
//! stdout is a terminal and the run is not quiet.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::Live;

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    /// Requests counted at the last redraw, and when.
    last: (u64, Instant),
    rate: f64,
}

impl Progress {
    pub fn new(quiet: bool, total: Duration) -> Progress {
        let bar = (!quiet && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total.as_secs().max(1)),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            let style =
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            last: (0, Instant::now()),
            rate: 0.0,
        }
    }

    /// Redraw from the counters. Cheap enough to call every 100 ms.
    pub fn update(&mut self, live: &Live, elapsed: Duration, warming: bool) {
        let Some(bar) = &self.bar else {
            return;
        };
        let requests = live.requests.load(Ordering::Relaxed);
        let (last, at) = self.last;
        let dt = at.elapsed().as_secs_f64();
        if dt >= 0.5 {
            self.rate = (requests - last) as f64 / dt;
            self.last = (requests, Instant::now());
        }
        bar.set_position(elapsed.as_secs());
        bar.set_message(format!(
            "{}{:.0} req/s, {} open, {} errors",
            if warming { "warm-up: " } else { "" },
            self.rate,
            live.open.load(Ordering::Relaxed),
            live.errors.load(Ordering::Relaxed),
        ));
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
