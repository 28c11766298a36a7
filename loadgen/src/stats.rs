//! What each thread records, and how the threads' records are merged.
//!
//! Each event-loop thread owns its histograms and counters outright, so the
//! hot path never touches shared memory except for a few relaxed atomic
//! adds per poll round that feed the progress line ([`Live`]). Histograms
//! are merged once, at the end; per-second rows go to the calling thread
//! over a channel as each second closes.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

use lab_schema::{Errors, Second};

/// Highest latency recorded: one hour, in microseconds.
pub(crate) const MAX_US: u64 = 3_600_000_000;

/// The histogram used for whole-run latencies: 1 us to 1 h, 3 significant figures.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds are valid")
}

/// The histogram used per second of the timeline: 2 significant figures is
/// plenty for a p99 and keeps each one ~25 KiB.
pub(crate) fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("constant bounds are valid")
}

/// One failure, as counted in [`Errors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    ConnectRefused,
    ConnectTimeout,
    ConnectFdLimit,
    ConnectPortLimit,
    ConnectOther,
    Read,
    Write,
    Timeout,
    Status4xx,
    Status5xx,
    Closed,
}

impl ErrorKind {
    /// Classify a failed `socket()` or `connect()`.
    pub fn of_connect(e: &std::io::Error) -> ErrorKind {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => ErrorKind::ConnectRefused,
            Some(libc::ETIMEDOUT) => ErrorKind::ConnectTimeout,
            Some(libc::EMFILE) | Some(libc::ENFILE) => ErrorKind::ConnectFdLimit,
            Some(libc::EADDRNOTAVAIL) => ErrorKind::ConnectPortLimit,
            _ => ErrorKind::ConnectOther,
        }
    }
}

/// Count `n` errors of `kind` in `errors` (in its kind's total too).
pub(crate) fn count(errors: &mut Errors, kind: ErrorKind, n: u64) {
    use ErrorKind::*;
    match kind {
        ConnectRefused | ConnectTimeout | ConnectFdLimit | ConnectPortLimit | ConnectOther => {
            errors.connect += n
        }
        Status4xx | Status5xx => errors.status += n,
        _ => {}
    }
    let field = match kind {
        ConnectRefused => &mut errors.connect_refused,
        ConnectTimeout => &mut errors.connect_timeout,
        ConnectFdLimit => &mut errors.connect_fd_limit,
        ConnectPortLimit => &mut errors.connect_port_limit,
        ConnectOther => &mut errors.connect_other,
        Read => &mut errors.read,
        Write => &mut errors.write,
        Timeout => &mut errors.timeout,
        Status4xx => &mut errors.status_4xx,
        Status5xx => &mut errors.status_5xx,
        Closed => &mut errors.closed,
    };
    *field += n;
}

/// Counters shared by all threads for the live progress line and the
/// connection gauges.
#[derive(Default)]
pub(crate) struct Live {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub open: AtomicU64,
    pub peak_open: AtomicU64,
}

impl Live {
    pub fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_open.fetch_max(now, Ordering::Relaxed);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A thread's row for one second, sent to the calling thread.
pub(crate) struct SecondRow {
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub open: u64,
    pub latency: Histogram<u64>,
}

/// Everything one thread measured.
pub(crate) struct ThreadStats {
    pub latency: Histogram<u64>,
    pub uncorrected: Option<Histogram<u64>>,
    /// Open loop: due time to write, for requests sent when their time came.
    pub send_lag: Option<Histogram<u64>>,
    pub connect: Histogram<u64>,
    pub errors: Errors,
    pub requests: u64,
    pub established: u64,
    /// When this thread stopped sending, microseconds since the run's epoch.
    pub finished_us: u64,
    /// Measured responses of each connection slot, and the time from each
    /// slot's first connect to its first response (slots that got one).
    pub per_conn: Vec<u64>,
    pub first_response_us: Vec<u64>,
    /// The second being accumulated.
    pub row: SecondRow,
    /// Over the measured time: the share of it this thread was on a CPU, and the share it was
    /// ready but waiting for one (`None` if `/proc` could not say).
    pub busy: Option<(f64, f64)>,
}

impl ThreadStats {
    pub fn new(open_loop: bool) -> ThreadStats {
        ThreadStats {
            latency: histogram(),
            uncorrected: open_loop.then(histogram),
            send_lag: open_loop.then(histogram),
            connect: histogram(),
            errors: Errors::default(),
            requests: 0,
            established: 0,
            finished_us: 0,
            per_conn: Vec::new(),
            first_response_us: Vec::new(),
            busy: None,
            row: SecondRow {
                second: 0,
                requests: 0,
                errors: 0,
                open: 0,
                latency: second_histogram(),
            },
        }
    }

    /// Record one measured response.
    pub fn response(&mut self, corrected_us: u64, uncorrected_us: u64) {
        self.latency.saturating_record(corrected_us);
        if let Some(h) = &mut self.uncorrected {
            h.saturating_record(uncorrected_us);
        }
        self.row.latency.saturating_record(corrected_us);
        self.requests += 1;
        self.row.requests += 1;
    }

    /// Record how late one request left (open loop).
    pub fn send_lag(&mut self, us: u64) {
        if let Some(h) = &mut self.send_lag {
            // Zero is a valid lag; the histogram starts at 1 us.
            h.saturating_record(us.max(1));
        }
    }

    pub fn error(&mut self, kind: ErrorKind, n: u64) {
        count(&mut self.errors, kind, n);
        self.row.errors += n;
    }

    /// Close the current second: return its row and start the next.
    pub fn take_row(&mut self, open: u64) -> SecondRow {
        let next = SecondRow {
            second: self.row.second + 1,
            requests: 0,
            errors: 0,
            open: 0,
            latency: second_histogram(),
        };
        let mut row = std::mem::replace(&mut self.row, next);
        row.open = open;
        row
    }
}

/// Merges the threads' rows into the timeline as they arrive. A second's
/// histogram is dropped as soon as every thread has reported it.
pub(crate) struct Timeline {
    threads: usize,
    rows: Vec<(Second, usize, Option<Histogram<u64>>)>,
}

impl Timeline {
    pub fn new(threads: usize) -> Timeline {
        Timeline {
            threads,
            rows: Vec::new(),
        }
    }

    pub fn add(&mut self, row: SecondRow) {
        let i = row.second as usize;
        while self.rows.len() <= i {
            let second = Second {
                second: self.rows.len() as u64,
                ..Second::default()
            };
            self.rows.push((second, 0, Some(second_histogram())));
        }
        let (sec, seen, hist) = &mut self.rows[i];
        sec.requests += row.requests;
        sec.errors += row.errors;
        sec.open_conns += row.open;
        *seen += 1;
        if let Some(h) = hist {
            let _ = h.add(&row.latency);
        }
        if *seen == self.threads {
            Self::close(sec, hist);
        }
    }

    fn close(sec: &mut Second, hist: &mut Option<Histogram<u64>>) {
        if let Some(h) = hist.take() {
            sec.p99_us = if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.99)
            };
        }
    }

    pub fn finish(mut self) -> Vec<Second> {
        self.rows
            .iter_mut()
            .map(|(sec, _, hist)| {
                Self::close(sec, hist);
                *sec
            })
            .collect()
    }
}
