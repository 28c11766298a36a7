//! One event loop: a thread, a `Poll`, a slab of connections, a timer set. The shape of mio's
//! `examples/tcp_server.rs`, plus what a server needs on top: deadlines, an accept pause at the
//! file-descriptor limit, answers from the offload pool, and a graceful drain.

use crate::connection::{interrupted, would_block, Connection, Env, Flow, State, Wait};
use crate::offload::Done;
use crossbeam_channel::Receiver;
use lab_core::memory::Trimmer;
use lab_core::net::fd_limit_message;
use lab_core::net::Warnings;
use lab_core::net::{Listener, Stream};
use lab_evloop::{Deadlines, Report};
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The listening socket's token. Connections use their slab index as token.
pub const SERVER: Token = Token(usize::MAX);
/// The token of the waker the offload pool uses to hand answers back.
pub const WAKER: Token = Token(usize::MAX - 1);

/// The longest `poll` waits, so that shutdown is noticed (the flag is not a file descriptor).
const MAX_WAIT: Duration = Duration::from_millis(250);

/// How long accept pauses when the process is out of file descriptors. Without the pause,
/// accept would fail again at once: the connection stays in the backlog, readiness stays.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Events handled per `poll` call. More are simply returned by the next call.
const EVENTS_CAPACITY: usize = 1024;

/// The socket a loop accepts on, and how it waits for it.
pub struct Listening {
    pub socket: Listener,
    /// Register it with EPOLLEXCLUSIVE (`--accept exclusive`): one waiting loop is woken per
    /// arrival, not all of them.
    pub exclusive: bool,
}

pub struct EventLoop {
    pub index: usize,
    poll: Poll,
    /// `None` once draining: the loop accepts no more.
    listener: Option<Listener>,
    /// The listener was registered with EPOLLEXCLUSIVE (`--accept exclusive`), by hand.
    exclusive: bool,
    /// Connections by token; free slots are reused (a slab).
    connections: Vec<Option<Connection>>,
    free: Vec<usize>,
    next_id: u32,
    /// Connections that yielded with bytes possibly left unread: driven again next turn.
    again: Vec<Token>,
    /// Every connection's deadline, ordered: the first entry is the next to expire.
    timers: Deadlines,
    /// Answers from the offload pool (with offload off, nobody ever sends on it).
    results: Receiver<Done>,
    env: Env,
    accept_paused_until: Option<Instant>,
    /// Gives the heap's free pages back when the open count falls after a wave.
    trimmer: Trimmer,
    warnings: Warnings,
    verbose: bool,
    drain_timeout: Duration,
}

impl EventLoop {
    pub fn new(
        index: usize,
        poll: Poll,
        listening: Listening,
        results: Receiver<Done>,
        env: Env,
        verbose: bool,
        drain_timeout: Duration,
    ) -> io::Result<EventLoop> {
        let Listening {
            socket: mut listener,
            exclusive,
        } = listening;
        if exclusive {
            crate::sys::register_exclusive(&poll, listener.as_fd(), SERVER)?;
        } else {
            poll.registry()
                .register(&mut listener, SERVER, Interest::READABLE)?;
        }
        Ok(EventLoop {
            index,
            poll,
            listener: Some(listener),
            exclusive,
            connections: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            again: Vec::new(),
            timers: Deadlines::new(),
            results,
            env,
            accept_paused_until: None,
            trimmer: Trimmer::new(),
            warnings: Warnings::default(),
            verbose,
            drain_timeout,
        })
    }

    /// Runs until shutdown is triggered and the loop has drained (or the drain timed out).
    ///
    /// ```text
    /// loop {
    ///     poll(timeout = time to the next deadline, at most 250 ms)
    ///     for event { SERVER: accept all | WAKER: collect answers | token: advance(conn) }
    ///     expire deadlines; at shutdown: stop accepting, close idle connections, exit when empty
    /// }
    /// ```
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        let mut drain_deadline = None;
        let mut report = Report::new("epoll", self.index);
        loop {
            if let Err(err) = self.poll.poll(&mut events, Some(self.wait_time())) {
                if interrupted(&err) {
                    continue;
                }
                return Err(err);
            }
            // The one clock read of the turn (answering a batch reads it again, see `Env::now`).
            self.env.now = Instant::now();
            for event in events.iter() {
                // Checked per event, not per batch: with handlers inline, one batch of
                // `/sleep` requests can outlast the drain timeout by itself.
                if self.drain_over(&mut drain_deadline) {
                    return Ok(());
                }
                match event.token() {
                    SERVER => self.accept_all(),
                    WAKER => self.collect_answers(),
                    // Readable, writable, hung up or error: `advance` tries what makes sense
                    // in the connection's state. An event for a token closed earlier in this
                    // batch (or reused since) is spurious, and spurious events are harmless.
                    token => {
                        // EPOLLRDHUP: the peer's FIN is queued, so read until EOF this time.
                        let read_closed = event.is_read_closed() || event.is_error();
                        self.drive(token, |conn, env| {
                            conn.eof_pending |= read_closed;
                            conn.advance(token, env)
                        })
                    }
                }
            }
            let mut again = std::mem::take(&mut self.again);
            for &token in &again {
                self.drive(token, |conn, env| conn.advance(token, env));
            }
            again.clear();
            if self.again.is_empty() {
                self.again = again; // keep the allocation: a turn allocates nothing
            }
            self.expire_deadlines();
            if self.verbose {
                report.maybe_print(&self.env.counters);
            }
            if self.drain_over(&mut drain_deadline) {
                return Ok(());
            }
        }
    }

    /// At shutdown: starts the drain (once) and says whether it is over: nothing left open, or
    /// the drain timeout passed (what is still open is closed when the loop is dropped).
    fn drain_over(&mut self, drain_deadline: &mut Option<Instant>) -> bool {
        if !self.env.shutdown.is_triggered() {
            return false;
        }
        let deadline = *drain_deadline
            .get_or_insert_with(|| self.begin_drain(Instant::now() + self.drain_timeout));
        let over = self.open() == 0 || Instant::now() >= deadline;
        if over && self.verbose && self.open() > 0 {
            eprintln!(
                "epoll loop {}: drain timeout, closing {} connections",
                self.index,
                self.open()
            );
        }
        over
    }

    /// How long `poll` may sleep: until the next deadline or accept resumption, capped. Counted
    /// from the loop's clock, which may be a little behind: the wait is then a little short,
    /// which costs at most one more turn.
    fn wait_time(&self) -> Duration {
        if !self.again.is_empty() {
            return Duration::ZERO;
        }
        self.timers
            .wait_time(self.env.now, self.accept_paused_until, MAX_WAIT)
    }

    fn open(&self) -> usize {
        self.connections.len() - self.free.len()
    }

    /// Accepts until `WouldBlock`. Edge-triggered readiness is reported once per new arrival:
    /// stopping early would leave connections in the backlog with no event to remind us.
    fn accept_all(&mut self) {
        if self.accept_paused_until.is_some() {
            return; // expire_deadlines resumes accepting
        }
        loop {
            // Each accepted connection is served at once (its request may already be there),
            // so with inline blocking handlers this loop can run for long: stop at shutdown.
            if self.env.shutdown.is_triggered() {
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept_nonblocking() {
                Ok(stream) => self.add(stream),
                // The backlog is empty. Every loop is woken for every arrival on the shared
                // socket, so most loops get here at once: that is the (small) thundering herd
                // that `--accept exclusive` (EPOLLEXCLUSIVE) and `reuseport` avoid.
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => {}
                // The client gave up before we accepted it: its problem, not ours.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNABORTED) | Some(libc::EPROTO)
                    ) => {}
                Err(e) => {
                    let msg = match e.raw_os_error() {
                        Some(libc::EMFILE) | Some(libc::ENFILE) => fd_limit_message(),
                        _ => format!("accept failed: {e}; pausing accept"),
                    };
                    self.warn(&msg);
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    fn add(&mut self, mut stream: Stream) {
        // Nagle would hold back a small response waiting for the ACK of the previous one (TCP
        // only; a Unix socket has no Nagle, and this is a no-op there).
        let _ = stream.set_nodelay(true);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.connections.push(None);
                self.connections.len() - 1
            }
        };
        let token = Token(index);
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
        {
            self.warn(&format!("cannot register a connection: {e}"));
            self.free.push(index);
            return;
        }
        self.next_id = self.next_id.wrapping_add(1);
        self.connections[index] = Some(Connection::new(stream, self.next_id));
        let counters = &self.env.counters;
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        counters.open.fetch_add(1, Ordering::Relaxed);
        // The request may already be here; with edge-triggered readiness its event may have
        // fired before we registered. Read now rather than wait for more bytes.
        self.drive(token, |conn, env| conn.advance(token, env));
    }

    /// Runs `step` on a connection, then brings the loop's view of it up to date: closes it, or
    /// updates its interest and its deadline.
    fn drive(&mut self, token: Token, step: impl FnOnce(&mut Connection, &mut Env) -> Flow) {
        let Some(Some(conn)) = self.connections.get_mut(token.0) else {
            return;
        };
        let mut flow = step(conn, &mut self.env);
        if flow != Flow::Close && self.env.shutdown.is_triggered() && conn.is_idle() {
            flow = Flow::Close;
        }
        if flow == Flow::Again {
            self.again.push(token);
        }
        if flow != Flow::Close {
            let interest = conn.wanted_interest();
            if interest != conn.interest {
                // Only when it changes: each change is an epoll_ctl syscall.
                match self
                    .poll
                    .registry()
                    .reregister(&mut conn.stream, token, interest)
                {
                    Ok(()) => conn.interest = interest,
                    Err(_) => flow = Flow::Close,
                }
            }
        }
        if flow == Flow::Close {
            self.close(token);
            return;
        }
        // Lazily: the entry moves only if the deadline came earlier. Each batch of a pipelining
        // client pushes its deadline later, and moving the entry every time would be an
        // ordered-set remove and insert per batch; instead the entry fires early, once per
        // timeout period, and `expire_deadlines` puts it back at the real deadline.
        let deadline = conn.next_deadline(&self.env.limits);
        self.timers.settle(token.0, &mut conn.deadline, deadline);
    }

    fn close(&mut self, token: Token) {
        let Some(slot) = self.connections.get_mut(token.0) else {
            return;
        };
        let Some(mut conn) = slot.take() else { return };
        self.timers.update(token.0, conn.deadline, None);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.free.push(token.0);
        self.env.counters.open.fetch_sub(1, Ordering::Relaxed);
        drop(conn); // closes the socket and frees its buffers
        self.trimmer.observe_and_trim(self.open());
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
            let token = Token(key);
            let current = matches!(
                self.connections.get(token.0),
                Some(Some(conn)) if conn.id == id && conn.state == State::Offloaded
            );
            if current {
                self.drive(token, |conn, env| {
                    conn.resume(token, &request, response, env)
                });
            }
        }
    }

    /// Acts on every deadline that has passed, and resumes accepting after a pause.
    fn expire_deadlines(&mut self) {
        // The loop's clock, read after the wait or after this turn's last batch of handler
        // calls: a deadline that passed since (during this turn's reads and writes) is seen
        // next turn, late by at most that I/O work.
        let now = self.env.now;
        if self.accept_paused_until.is_some_and(|t| t <= now) {
            self.accept_paused_until = None;
            self.accept_all();
        }
        while let Some(key) = self.timers.pop_expired(now) {
            let token = Token(key);
            let Some(Some(conn)) = self.connections.get_mut(token.0) else {
                continue;
            };
            conn.deadline = None;
            // The entry may have fired early (see `drive`): put it back at the real deadline.
            let deadline = conn.next_deadline(&self.env.limits);
            if deadline.is_none()
                || self
                    .timers
                    .refire(token.0, &mut conn.deadline, deadline, now)
            {
                continue; // offloaded (no clock runs), or not yet due
            }
            match conn.wait() {
                // Header or body too slow: answer 408 and close (a slowloris gets no more time).
                Wait::Request => self.drive(token, |conn, env| conn.time_out(token, env)),
                // Idle keep-alive, a client that does not read, lingering: just close.
                _ => self.close(token),
            }
        }
    }

    /// Shutdown: stop accepting, close idle connections. Busy ones finish their request (their
    /// response says `Connection: close`), bounded by the drain deadline.
    fn begin_drain(&mut self, deadline: Instant) -> Instant {
        if let Some(mut listener) = self.listener.take() {
            if self.exclusive {
                let _ = crate::sys::deregister(&self.poll, listener.as_fd());
            } else {
                let _ = self.poll.registry().deregister(&mut listener);
            }
        }
        self.accept_paused_until = None;
        let idle: Vec<Token> = (0..self.connections.len())
            .filter(|&i| matches!(&self.connections[i], Some(conn) if conn.is_idle()))
            .map(Token)
            .collect();
        for token in idle {
            self.close(token);
        }
        if self.verbose {
            eprintln!(
                "epoll loop {}: draining {} connections",
                self.index,
                self.open()
            );
        }
        deadline
    }

    fn warn(&mut self, msg: &str) {
        self.warnings
            .warn(format_args!("epoll loop {}: {msg}", self.index));
    }
}
