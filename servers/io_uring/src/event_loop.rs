//! One completion loop: a thread, a ring, a slab of connections, the toolkit's deadline set.
//!
//! ```text
//! loop {
//!     submit what was queued (sends, re-armed receives) and wait for ≥1 completion,
//!         at most until the next deadline (one io_uring_enter)
//!     for completion {
//!         ACCEPT => a new connection: arm its multishot receive (re-arm accept if it ended:
//!                   a single accept on a shared socket always does)
//!         RECV   => bytes in a ring buffer: session.received, give the buffer back at once
//!         SEND   => the send is done (or short: send the rest)
//!         WAKE   => take the offload pool's answers; read the eventfd again
//!     }
//!     settle every connection touched: queue its send, close, linger, arm or cancel its receive,
//!         move its deadline
//!     expire deadlines: header/body → 408 and close; idle, write, linger → close
//!     at shutdown: cancel the accept, close idle connections, exit once empty or at the drain timeout
//! }
//! ```

use crate::connection::{Connection, Recv};
use crate::sys::{self, Completion, EventFd, Ring};
use crossbeam_channel::Receiver;
use lab_core::memory::Trimmer;
use lab_core::net::fd_limit_message;
use lab_core::net::Warnings;
use lab_core::net::{Listener, Stream};
use lab_evloop::connection::{LINGER_MAX_BYTES, OUTPUT_HIGH_WATER};
use lab_evloop::offload::Done;
use lab_evloop::{Deadlines, Env, Report, State, Wait};
use std::io;
use std::net::Shutdown as Direction;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a wait lasts, so that shutdown is noticed (the flag is not a file descriptor).
const MAX_WAIT: Duration = Duration::from_millis(250);

/// How long accept pauses when the process is out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Above this much received-but-unparsed input (a client pipelining while its connection waits
/// for the pool or for the client to read), the receive is cancelled until the input is used.
const INPUT_HIGH_WATER: usize = OUTPUT_HIGH_WATER;

/// At exit, how long to wait for the kernel to finish cancelled operations.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

// What an operation is, in the low byte of its user data; the connection's key above it.
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const WAKE: u64 = 4;
const CANCEL: u64 = 5;

fn tag(kind: u64, key: usize) -> u64 {
    ((key as u64) << 8) | kind
}

/// How a loop keeps an accept armed on its listening socket (the crate's "Accepting").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepting {
    /// One multishot accept, armed once: for a socket that is this loop's alone (`reuseport`).
    Multishot,
    /// This many single accepts in flight, each re-armed when it completes: for a socket every
    /// loop shares (`shared`), where a multishot accept would take every connection for the
    /// loop that armed first.
    OneShot(usize),
}

pub struct EventLoop {
    pub index: usize,
    ring: Ring,
    /// `None` once draining: the loop accepts no more.
    listener: Option<Listener>,
    accepting: Accepting,
    /// Accepts in flight (a multishot one counts once).
    accepts_armed: usize,
    accept_paused_until: Option<Instant>,
    wake: Arc<EventFd>,
    results: Receiver<Done>,
    connections: Vec<Option<Connection>>,
    free: Vec<usize>,
    /// Connections that are open (not closed and waiting for their last completions).
    open: usize,
    /// Gives the heap's free pages back when the open count falls after a wave.
    trimmer: Trimmer,
    next_id: u32,
    timers: Deadlines,
    /// Connections touched by this round's completions, settled once at its end.
    dirty: Vec<usize>,
    /// The clock, read once per round (after each wait): what sessions stamp their clocks with.
    now: Instant,
    env: Env,
    warnings: Warnings,
    verbose: bool,
    drain_timeout: Duration,
}

impl EventLoop {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: usize,
        ring: Ring,
        listener: Listener,
        accepting: Accepting,
        wake: Arc<EventFd>,
        results: Receiver<Done>,
        env: Env,
        verbose: bool,
        drain_timeout: Duration,
    ) -> io::Result<EventLoop> {
        let mut event_loop = EventLoop {
            index,
            ring,
            listener: Some(listener),
            accepting,
            accepts_armed: 0,
            accept_paused_until: None,
            wake,
            results,
            connections: Vec::new(),
            free: Vec::new(),
            open: 0,
            trimmer: Trimmer::new(),
            next_id: 0,
            timers: Deadlines::new(),
            dirty: Vec::new(),
            now: Instant::now(),
            env,
            warnings: Warnings::default(),
            verbose,
            drain_timeout,
        };
        event_loop.arm_accept()?;
        let wake = Arc::clone(&event_loop.wake);
        event_loop.ring.read_wake(&wake, tag(WAKE, 0))?;
        Ok(event_loop)
    }

    /// Runs until shutdown is triggered and the loop has drained (or the drain timed out).
    pub fn run(mut self) -> io::Result<()> {
        let mut completions = Vec::with_capacity(1024);
        let mut drain_deadline = None;
        let mut report = Report::new("io_uring", self.index);
        let result = loop {
            let wait = self
                .timers
                .wait_time(Instant::now(), self.accept_paused_until, MAX_WAIT);
            if let Err(e) = self.ring.submit_and_wait(wait) {
                break Err(e);
            }
            self.now = Instant::now();
            self.env.now = self.now; // kept in step (the session takes `now` as an argument)
            completions.clear();
            self.ring.completions(&mut completions);
            for c in &completions {
                if let Err(e) = self.complete(c) {
                    // Only the loop's own operations (accept, the eventfd) fail the loop.
                    self.warn(&format!("{e}"));
                }
            }
            self.settle_dirty();
            self.expire_deadlines();
            if self.verbose {
                report.maybe_print(&self.env.counters);
            }
            if self.drain_over(&mut drain_deadline) {
                break Ok(());
            }
        };
        // Close what is left (drain timeout), then let the kernel finish before freeing memory.
        for key in 0..self.connections.len() {
            self.close(key);
        }
        self.ring.cancel_all(CANCEL_GRACE);
        result
    }

    fn complete(&mut self, c: &Completion) -> io::Result<()> {
        let key = (c.user_data >> 8) as usize;
        match c.user_data & 0xff {
            ACCEPT => self.accepted(c),
            RECV => {
                self.received(key, c);
                Ok(())
            }
            SEND => {
                self.sent(key, c);
                Ok(())
            }
            WAKE => {
                self.collect_answers();
                let wake = Arc::clone(&self.wake);
                self.ring.read_wake(&wake, tag(WAKE, 0))
            }
            // A cancellation's own completion (or cancel_all's): nothing to do.
            _ => {
                if let Some(bid) = c.buffer() {
                    self.ring.recycle(bid);
                }
                Ok(())
            }
        }
    }

    /// Arms the accept (multishot), or tops the single accepts up to their number.
    fn arm_accept(&mut self) -> io::Result<()> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        let fd = listener.as_raw_fd();
        match self.accepting {
            Accepting::Multishot if self.accepts_armed == 0 => {
                self.ring.accept_multi(fd, tag(ACCEPT, 0))?;
                self.accepts_armed = 1;
            }
            Accepting::Multishot => {}
            Accepting::OneShot(n) => {
                while self.accepts_armed < n {
                    self.ring.accept_one(fd, tag(ACCEPT, 0))?;
                    self.accepts_armed += 1;
                }
            }
        }
        Ok(())
    }

    /// An accept completion: a new connection, or the end of the multishot accept (a single
    /// accept always ends).
    fn accepted(&mut self, c: &Completion) -> io::Result<()> {
        if !c.more() {
            self.accepts_armed = self.accepts_armed.saturating_sub(1);
        }
        if c.result >= 0 {
            let fd = sys::adopt_fd(c.result);
            let Some(listener) = &self.listener else {
                return Ok(()); // draining: dropped, so closed
            };
            if self.env.shutdown.is_triggered() {
                return Ok(());
            }
            let stream = listener.adopt(fd);
            self.add(stream);
        } else {
            match -c.result {
                libc::ECANCELED => {}
                libc::ECONNABORTED | libc::EPROTO | libc::EINTR | libc::EAGAIN => {}
                libc::EMFILE | libc::ENFILE => {
                    self.warn(&fd_limit_message());
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return Ok(());
                }
                errno => {
                    let e = io::Error::from_raw_os_error(errno);
                    self.warn(&format!("accept failed: {e}; pausing accept"));
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return Ok(());
                }
            }
        }
        if self.accept_paused_until.is_none() {
            self.arm_accept()?;
        }
        Ok(())
    }

    fn add(&mut self, stream: Stream) {
        // Nagle would hold back a small response waiting for the ACK of the previous one (TCP
        // only: a no-op on a Unix socket).
        let _ = stream.set_nodelay(true);
        let key = match self.free.pop() {
            Some(key) => key,
            None => {
                self.connections.push(None);
                self.connections.len() - 1
            }
        };
        self.next_id = self.next_id.wrapping_add(1);
        self.connections[key] = Some(Connection::new(stream, self.next_id));
        self.open += 1;
        let counters = &self.env.counters;
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        counters.open.fetch_add(1, Ordering::Relaxed);
        // Settling arms the receive and starts the idle clock.
        self.mark(key);
    }

    /// A receive completion: bytes (in a ring buffer), the peer's EOF, or the end of the
    /// multishot receive.
    fn received(&mut self, key: usize, c: &Completion) {
        let Some(Some(conn)) = self.connections.get_mut(key) else {
            if let Some(bid) = c.buffer() {
                self.ring.recycle(bid);
            }
            return;
        };
        if !c.more() {
            conn.recv = Recv::Off;
        }
        if let Some(bid) = c.buffer() {
            let len = c.result.max(0) as usize;
            if conn.closed {
                self.ring.recycle(bid);
            } else if conn.session.state == State::Lingering {
                self.ring.recycle(bid);
                conn.discarded += len;
            } else {
                let env = &mut self.env;
                let (unsent, now) = (conn.unsent(), self.now);
                let session = &mut conn.session;
                self.ring.with_buffer(bid, len, |bytes| {
                    session.received(key, bytes, unsent, now, env)
                });
            }
        } else if c.result == 0 {
            let unsent = conn.unsent();
            conn.session.peer_closed(unsent);
        } else if c.result < 0 {
            match -c.result {
                // Out of ring buffers (a burst): re-armed when settled. Cancelled: by us.
                libc::ENOBUFS | libc::ECANCELED => {}
                // A reset, a broken pipe: this connection is over; the loop goes on.
                _ => {
                    if !conn.closed {
                        self.close(key);
                    }
                }
            }
        }
        self.mark(key);
    }

    /// A send completion: all of it went, part of it went (send the rest), or it failed.
    fn sent(&mut self, key: usize, c: &Completion) {
        let mut buf = self.ring.take_send(key);
        let Some(Some(conn)) = self.connections.get_mut(key) else {
            return;
        };
        let sending = std::mem::replace(&mut conn.sending, 0);
        let from = conn.send_from;
        if c.result < 0 || conn.closed {
            self.env.buffers.give(&mut buf);
            if !conn.closed {
                self.close(key);
            }
            self.mark(key);
            return;
        }
        let n = c.result as usize;
        conn.session.sent(self.now);
        if n < sending {
            // A short send (the socket buffer filled): send the rest.
            let fd = conn.stream.as_raw_fd();
            conn.sending = sending - n;
            conn.send_from = from + n;
            if self
                .ring
                .send(key, fd, buf, from + n, tag(SEND, key))
                .is_err()
            {
                conn.sending = 0;
                self.close(key);
            }
        } else {
            self.env.buffers.give(&mut buf);
        }
        self.mark(key);
    }

    /// Takes every answer the offload pool has sent back, and resumes its connection.
    fn collect_answers(&mut self) {
        while let Ok(done) = self.results.try_recv() {
            let Done {
                key,
                id,
                request,
                response,
            } = done;
            let Some(Some(conn)) = self.connections.get_mut(key) else {
                continue;
            };
            let parked = conn.session.state == State::Offloaded;
            if conn.closed || conn.session.id != id || !parked {
                continue;
            }
            let unsent = conn.unsent();
            conn.session
                .resume(key, &request, response, unsent, self.now, &mut self.env);
            self.mark(key);
        }
    }

    fn mark(&mut self, key: usize) {
        if let Some(Some(conn)) = self.connections.get_mut(key) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    fn settle_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            self.settle(key);
        }
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty; // keep the allocation
        }
    }

    /// Brings a connection's operations up to date with its session: this is where sends are
    /// queued (all of a round's, submitted together by the next wait), where a finished
    /// connection is closed, and where its deadline moves.
    fn settle(&mut self, key: usize) {
        let Some(Some(conn)) = self.connections.get_mut(key) else {
            return;
        };
        conn.dirty = false;
        if conn.closed {
            if conn.released() {
                self.release(key);
            }
            return;
        }
        let env = &mut self.env;
        // Input that waited (for the pool, or for the client to read) can be answered now.
        if conn.session.state == State::Reading {
            let unsent = conn.unsent();
            conn.session.answer_buffered(key, unsent, self.now, env);
        }
        // One send in flight at a time, with everything queued since.
        if conn.sending == 0 && conn.session.queued_output() > 0 {
            let buf = conn.session.take_output();
            let fd = conn.stream.as_raw_fd();
            conn.sending = buf.len();
            conn.send_from = 0;
            if self.ring.send(key, fd, buf, 0, tag(SEND, key)).is_err() {
                conn.sending = 0;
                return self.close(key);
            }
        }
        if let State::Closing { linger } = conn.session.state {
            if conn.sending == 0 && conn.session.queued_output() == 0 {
                let _ = conn.stream.shutdown(Direction::Write);
                if !linger || conn.session.peer_closed {
                    return self.close(key);
                }
                conn.session.linger(self.now);
                conn.session.release(&mut self.env);
            }
        }
        if conn.session.state == State::Lingering
            && (conn.session.peer_closed || conn.discarded > LINGER_MAX_BYTES)
        {
            return self.close(key);
        }
        if self.env.shutdown.is_triggered() && conn.is_idle() {
            return self.close(key);
        }
        // The receive: armed while the connection takes bytes, cancelled while too much waits.
        let wants_bytes =
            !conn.session.peer_closed && conn.session.buffered_input() <= INPUT_HIGH_WATER;
        match conn.recv {
            Recv::Off if wants_bytes => {
                if self
                    .ring
                    .recv_multi(conn.stream.as_raw_fd(), tag(RECV, key))
                    .is_err()
                {
                    return self.close(key);
                }
                conn.recv = Recv::Armed;
            }
            Recv::Armed if !wants_bytes && !conn.session.peer_closed => {
                let _ = self.ring.cancel(tag(RECV, key), tag(CANCEL, key));
                conn.recv = Recv::Cancelling;
            }
            _ => {}
        }
        // The deadline set holds at most one entry per connection, `session.deadline`, and
        // it may be *earlier* than the connection's real deadline: an entry is only moved
        // earlier (a request, then its send, each push the deadline out: that would be two
        // ordered-set updates per request), and an entry that fires early is put back at the
        // real deadline (`expire_deadlines`). See `Deadlines::settle`.
        let deadline = conn.session.next_deadline(conn.unsent(), &self.env.limits);
        self.timers
            .settle(key, &mut conn.session.deadline, deadline);
    }

    /// Closes a connection: cancels what it has in the kernel; the socket closes (and the slot
    /// is reused) once the last completion is in.
    fn close(&mut self, key: usize) {
        let Some(Some(conn)) = self.connections.get_mut(key) else {
            return;
        };
        if conn.closed {
            return;
        }
        conn.closed = true;
        conn.session.release(&mut self.env);
        self.timers.update(key, conn.session.deadline, None);
        conn.session.deadline = None;
        if conn.recv == Recv::Armed {
            let _ = self.ring.cancel(tag(RECV, key), tag(CANCEL, key));
            conn.recv = Recv::Cancelling;
        }
        if conn.sending > 0 && !conn.send_cancelled {
            let _ = self.ring.cancel(tag(SEND, key), tag(CANCEL, key));
            conn.send_cancelled = true;
        }
        self.open -= 1;
        self.env.counters.open.fetch_sub(1, Ordering::Relaxed);
        self.trimmer.observe_and_trim(self.open);
        if conn.released() {
            self.release(key);
        } else {
            self.mark(key);
        }
    }

    fn release(&mut self, key: usize) {
        // Dropping the connection closes its socket.
        self.connections[key] = None;
        self.free.push(key);
    }

    /// Acts on every deadline that has passed, and resumes accepting after a pause.
    fn expire_deadlines(&mut self) {
        let now = Instant::now();
        if self.accept_paused_until.is_some_and(|t| t <= now) {
            self.accept_paused_until = None;
            if let Err(e) = self.arm_accept() {
                self.warn(&format!("cannot re-arm accept: {e}"));
                self.accept_paused_until = Some(now + ACCEPT_PAUSE);
            }
        }
        while let Some(key) = self.timers.pop_expired(now) {
            let Some(Some(conn)) = self.connections.get_mut(key) else {
                continue;
            };
            conn.session.deadline = None;
            // The entry may have fired early (see `settle`): put it back at the real deadline.
            let unsent = conn.unsent();
            let deadline = conn.session.next_deadline(unsent, &self.env.limits);
            if deadline.is_none()
                || self
                    .timers
                    .refire(key, &mut conn.session.deadline, deadline, now)
            {
                continue; // offloaded (no clock runs), or not yet due
            }
            match conn.session.wait(unsent) {
                // Header or body too slow: answer 408 and close (a slowloris gets no more time).
                Wait::Request => {
                    conn.session.time_out(now, &mut self.env);
                    self.mark(key);
                }
                // Idle keep-alive, a client that does not read, lingering: just close.
                _ => self.close(key),
            }
        }
        self.settle_dirty();
    }

    /// At shutdown: starts the drain (once) and says whether it is over.
    fn drain_over(&mut self, drain_deadline: &mut Option<Instant>) -> bool {
        if !self.env.shutdown.is_triggered() {
            return false;
        }
        let deadline = *drain_deadline
            .get_or_insert_with(|| self.begin_drain(Instant::now() + self.drain_timeout));
        let over = self.open == 0 || Instant::now() >= deadline;
        if over && self.verbose && self.open > 0 {
            eprintln!(
                "io_uring loop {}: drain timeout, closing {} connections",
                self.index, self.open
            );
        }
        over
    }

    /// Shutdown: stop accepting, close idle connections. Busy ones finish their request (their
    /// response says `Connection: close`), bounded by the drain deadline.
    fn begin_drain(&mut self, deadline: Instant) -> Instant {
        if self.listener.take().is_some() {
            // A cancel by user data ends one matching operation: one per accept in flight.
            for _ in 0..self.accepts_armed {
                let _ = self.ring.cancel(tag(ACCEPT, 0), tag(CANCEL, 0));
            }
        }
        self.accept_paused_until = None;
        let idle: Vec<usize> = (0..self.connections.len())
            .filter(|&k| matches!(&self.connections[k], Some(c) if !c.closed && c.is_idle()))
            .collect();
        for key in idle {
            self.close(key);
        }
        self.settle_dirty();
        if self.verbose {
            eprintln!(
                "io_uring loop {}: draining {} connections",
                self.index, self.open
            );
        }
        deadline
    }

    fn warn(&mut self, msg: &str) {
        self.warnings
            .warn(format_args!("io_uring loop {}: {msg}", self.index));
    }
}
