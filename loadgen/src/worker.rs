//! One event-loop thread: wrk's `thread` struct and its `aeMain` loop.
//!
//! A worker owns `conns / threads` connections, one `mio::Poll`, one 64 KiB
//! read buffer shared by all its connections, and its own histograms. Each
//! round of the loop it takes the time once, does what is due (open the
//! next connections of the ramp, retry failed connects, send open-loop
//! requests whose time has come, expire timeouts, close a second of the
//! timeline), then sleeps in `poll` until the next of those deadlines or an
//! I/O event. Events go to the connection callbacks in `conn.rs`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::{Events, Poll, Token};

use crate::config::Target;
use crate::conn::{Conn, State};
use crate::request::Request;
use crate::stats::{Live, SecondRow, ThreadStats};
use crate::sys::Timer;

/// The shared read buffer. wrk uses 8 KiB; 64 KiB drains a pipelined burst
/// in one call. Per thread, not per connection.
const READ_BUF: usize = 64 * 1024;
/// How often every connection is checked for timeouts.
const SCAN_US: u64 = 50_000;
/// How many events one `poll` returns at most.
const EVENTS: usize = 1024;
/// The timer's token, beside the connections' `Token(index)`.
const TIMER: Token = Token(usize::MAX);
/// The last stretch before a deadline is waited out by polling without
/// sleeping, because waking from a sleep takes tens of microseconds.
const SPIN_US: u64 = 30;

/// State shared by every worker and the calling thread.
pub(crate) struct Shared {
    pub live: Live,
    /// `requests` mode: measured requests not yet claimed by any connection.
    pub budget: Option<AtomicU64>,
    /// Set by the calling thread to end the run early.
    pub stop: AtomicBool,
}

impl Shared {
    /// Take one request from the budget; `false` when it is spent.
    fn claim(&self) -> bool {
        match &self.budget {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }

    fn budget_spent(&self) -> bool {
        matches!(&self.budget, Some(left) if left.load(Ordering::Relaxed) == 0)
    }
}

/// What one worker is to do. All times are microseconds since `epoch`,
/// which every worker shares.
pub(crate) struct Plan {
    pub epoch: Instant,
    /// The warm-up ends and measuring begins.
    pub measure_us: u64,
    /// Measuring ends; no request is sent after this.
    pub end_us: u64,
    /// How long to wait for responses still in flight at `end_us`.
    pub drain_us: u64,
    pub timeout_us: u64,
    /// Ramp: this worker opens one new connection every this many microseconds.
    pub connect_every_us: f64,
    /// Open loop: each connection sends one request every this many microseconds.
    pub request_every_us: Option<f64>,
    pub depth: usize,
    pub keepalive: bool,
    pub target: Target,
    pub request: Request,
    pub conns: usize,
}

pub(crate) struct Worker<'a> {
    pub plan: Plan,
    pub shared: &'a Shared,
    rows: Sender<SecondRow>,
    pub poll: Poll,
    pub conns: Vec<Conn>,
    pub buf: Vec<u8>,
    pub stats: ThreadStats,
    /// The time of this round, microseconds since the epoch.
    pub now: u64,
    /// New requests may be sent (false after the end or when the budget is spent).
    pub sending: bool,
    /// Requests written or being written and not yet answered, all connections.
    pub inflight: usize,
    /// Responses and errors since the last update of `shared.live`.
    pub unflushed_responses: u64,
    pub unflushed_errors: u64,
    /// Open-loop requests waiting for their time: (due, connection).
    pub schedule: BinaryHeap<Reverse<(u64, usize)>>,
    /// Connections waiting out a back-off before reconnecting: (when, connection).
    pub retries: BinaryHeap<Reverse<(u64, usize)>>,
    /// The ramp has opened connections `0..ramped`.
    ramped: usize,
    next_scan: u64,
    /// Wakes `poll` at the next deadline to the microsecond, and the
    /// deadline it is set for.
    timer: Timer,
    timer_at: u64,
    /// When measuring began (microseconds since the epoch) and this thread's schedstat then.
    busy_from: Option<(u64, (u64, u64))>,
}

impl<'a> Worker<'a> {
    pub fn new(plan: Plan, shared: &'a Shared, rows: Sender<SecondRow>) -> io::Result<Self> {
        let open_loop = plan.request_every_us.is_some();
        let conns = (0..plan.conns).map(|_| Conn::new(plan.depth)).collect();
        let poll = Poll::new()?;
        let timer = Timer::new()?;
        poll.registry().register(
            &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&timer)),
            TIMER,
            mio::Interest::READABLE,
        )?;
        Ok(Worker {
            poll,
            timer,
            timer_at: u64::MAX,
            busy_from: None,
            conns,
            buf: vec![0; READ_BUF],
            stats: ThreadStats::new(open_loop),
            now: 0,
            sending: true,
            inflight: 0,
            unflushed_responses: 0,
            unflushed_errors: 0,
            schedule: BinaryHeap::new(),
            retries: BinaryHeap::new(),
            ramped: 0,
            next_scan: 0,
            plan,
            shared,
            rows,
        })
    }

    /// Are we past the warm-up?
    pub fn measuring(&self) -> bool {
        self.now >= self.plan.measure_us
    }

    /// Claim a request from the budget (only measured requests count).
    pub fn claim(&mut self, measured: bool) -> bool {
        if !measured || self.shared.claim() {
            return true;
        }
        self.stop_sending();
        false
    }

    /// No request is sent after this (the end, or the budget spent): the measured time ends
    /// here, and with it the measure of how busy this thread was.
    fn stop_sending(&mut self) {
        self.sending = false;
        self.stats.finished_us = self.now.min(self.plan.end_us);
        self.stats.busy = self.busy_since_measuring();
    }

    /// The shares of the time since measuring began that this thread was on a CPU and waiting
    /// for one.
    fn busy_since_measuring(&self) -> Option<(f64, f64)> {
        let (from, (cpu0, wait0)) = self.busy_from?;
        let (cpu, wait) = crate::procmon::this_thread_schedstat()?;
        let wall_ns = (self.now.checked_sub(from)? * 1000) as f64;
        // A kernel that keeps no schedstat prints zeros: no figure, rather than an idle 0%.
        (wall_ns > 0.0 && cpu > 0).then(|| {
            (
                cpu.saturating_sub(cpu0) as f64 / wall_ns,
                wait.saturating_sub(wait0) as f64 / wall_ns,
            )
        })
    }

    fn tick(&mut self) {
        self.now = self.plan.epoch.elapsed().as_micros() as u64;
    }

    /// Run until the end of the measured part plus the drain, then return
    /// what was measured.
    pub fn run(mut self) -> io::Result<ThreadStats> {
        let mut events = Events::with_capacity(EVENTS);
        let last_second = self
            .plan
            .end_us
            .saturating_sub(self.plan.measure_us)
            .div_ceil(1_000_000)
            .max(1)
            - 1;
        loop {
            self.tick();
            if self.busy_from.is_none() && self.measuring() {
                self.busy_from = crate::procmon::this_thread_schedstat().map(|s| (self.now, s));
            }
            if self.sending && (self.now >= self.plan.end_us || self.shared.budget_spent()) {
                self.stop_sending();
            }
            let drained = !self.sending && self.inflight == 0;
            let late = self.now >= self.plan.end_us + self.plan.drain_us;
            if drained || late || self.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            // Close the seconds that have passed; responses drained after
            // the end land in the last second.
            if self.measuring() {
                let second = (self.now - self.plan.measure_us) / 1_000_000;
                while self.stats.row.second < second.min(last_second) {
                    self.send_row();
                }
            }
            self.ramp();
            self.due_retries();
            self.due_requests();
            if self.now >= self.next_scan {
                self.next_scan = self.now + SCAN_US;
                self.expire();
            }

            let timeout = self.wait_for(self.next_deadline())?;
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.tick();
            for event in events.iter() {
                if event.token() == TIMER {
                    self.timer.clear();
                    self.timer_at = u64::MAX;
                    continue;
                }
                let Token(i) = event.token();
                // An error or hang-up is reported to both callbacks: the
                // next read or write returns it (or the EOF) and counts it.
                let trouble = event.is_error() || event.is_read_closed();
                self.event(
                    i,
                    event.is_readable() || trouble,
                    event.is_writable() || trouble,
                    trouble,
                );
            }
            self.flush_live();
        }
        // Stopped early (interrupted): the measured time ends now, before the closes below.
        if self.sending {
            self.tick();
            self.stop_sending();
        }
        // The last (partial) second's row counts the connections open when the run ended, before
        // they are closed below.
        if self.measuring() {
            self.send_row();
        }
        // Whatever is still open is abandoned: close it so the gauges are right.
        for i in 0..self.conns.len() {
            self.close(i);
        }
        self.flush_live();
        for c in &self.conns {
            self.stats.per_conn.push(c.responses);
            if let (Some(a), Some(b)) = (c.first_connect, c.first_response) {
                self.stats.first_response_us.push(b.saturating_sub(a));
            }
        }
        Ok(self.stats)
    }

    fn send_row(&mut self) {
        let open = self.conns.iter().filter(|c| c.state == State::Open).count();
        let row = self.stats.take_row(open as u64);
        // The receiver only goes away if the caller gave up on us.
        let _ = self.rows.send(row);
    }

    fn flush_live(&mut self) {
        let live = &self.shared.live;
        if self.unflushed_responses > 0 {
            live.requests
                .fetch_add(self.unflushed_responses, Ordering::Relaxed);
            self.unflushed_responses = 0;
        }
        if self.unflushed_errors > 0 {
            live.errors
                .fetch_add(self.unflushed_errors, Ordering::Relaxed);
            self.unflushed_errors = 0;
        }
    }

    /// Open the connections whose turn in the ramp has come.
    fn ramp(&mut self) {
        if !self.sending {
            return;
        }
        let allowed = 1 + (self.now as f64 / self.plan.connect_every_us) as usize;
        while self.ramped < self.conns.len().min(allowed) {
            let i = self.ramped;
            self.ramped += 1;
            self.connect(i);
        }
    }

    fn due_retries(&mut self) {
        while let Some(&Reverse((when, i))) = self.retries.peek() {
            if when > self.now {
                break;
            }
            self.retries.pop();
            if self.conns[i].state == State::Waiting {
                if self.sending {
                    self.connect(i);
                } else {
                    self.conns[i].state = State::Idle;
                }
            }
        }
    }

    /// Send the open-loop requests whose time has come. The clock is read
    /// again for each, so `sent` (and the send lag) is the moment of the write.
    fn due_requests(&mut self) {
        while let Some(&Reverse((due, i))) = self.schedule.peek() {
            if due > self.now {
                break;
            }
            self.schedule.pop();
            self.conns[i].scheduled = false;
            self.tick();
            self.pump_due(i);
        }
    }

    /// How `poll` waits for `deadline`: a deadline within `SPIN_US` is
    /// polled for without sleeping; a later one sets the timer for
    /// `SPIN_US` before it, and `poll` sleeps until the timer or an event.
    fn wait_for(&mut self, deadline: u64) -> io::Result<Option<Duration>> {
        let left = deadline.saturating_sub(self.now);
        if left <= SPIN_US {
            return Ok(Some(Duration::ZERO));
        }
        let wake = deadline - SPIN_US;
        if wake != self.timer_at {
            self.timer.set(Duration::from_micros(wake - self.now))?;
            self.timer_at = wake;
        }
        // The timer wakes us; this bound only guards against a lost wake-up.
        Ok(Some(Duration::from_micros(left + 1000)))
    }

    /// Close connections whose connect or oldest request has taken longer
    /// than the timeout, and those the server should have closed by now.
    fn expire(&mut self) {
        let timeout = self.plan.timeout_us;
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            let since = match c.state {
                State::Connecting => c.since,
                State::Open if c.closing => c.since,
                State::Open => match c.inflight.front() {
                    Some(sent) => sent.sent,
                    None => continue,
                },
                _ => continue,
            };
            if self.now.saturating_sub(since) >= timeout {
                self.timed_out(i);
            }
        }
    }

    /// The next moment something is due, to bound the sleep in `poll`.
    fn next_deadline(&self) -> u64 {
        let mut next = self.next_scan;
        if let Some(Reverse((due, _))) = self.schedule.peek() {
            next = next.min(*due);
        }
        if let Some(Reverse((when, _))) = self.retries.peek() {
            next = next.min(*when);
        }
        if self.sending && self.ramped < self.conns.len() {
            let at = (self.ramped as f64 * self.plan.connect_every_us) as u64;
            next = next.min(at);
        }
        if self.sending {
            next = next.min(self.plan.end_us);
        } else {
            next = next.min(self.plan.end_us + self.plan.drain_us);
        }
        if self.measuring() {
            let second = (self.now - self.plan.measure_us) / 1_000_000;
            next = next.min(self.plan.measure_us + (second + 1) * 1_000_000);
        }
        next.max(self.now)
    }
}
