//! A connection's life, in wrk's three callbacks: `connected`, `writable`,
//! `readable`; plus the ways it ends (`close`, `fail`, `timed_out`).
//!
//! Per-connection state is kept small (about 150 bytes plus one in-flight
//! record per pipelined request): there is no per-connection buffer; the
//! request bytes are shared and the read buffer belongs to the thread.
//!
//! Every I/O call has three outcomes, as in wrk: done, try again later
//! (`WouldBlock`: wait for the next readiness event), or an error, which is
//! counted by kind and answered by closing and reopening the connection.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Target;
use crate::response::{Done, Parser};
use crate::stats::ErrorKind;
use crate::worker::Worker;

/// First wait before reconnecting after a failed connect; it doubles up to
/// `MAX_BACKOFF_MS`, so a dead target costs a few attempts per second per
/// connection instead of a busy loop.
const FIRST_BACKOFF_MS: u32 = 10;
const MAX_BACKOFF_MS: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// No socket, nothing planned (before the ramp reaches it, or after the end).
    Idle,
    /// A non-blocking connect is under way.
    Connecting,
    /// Connected.
    Open,
    /// Waiting out a back-off in the worker's `retries` heap.
    Waiting,
}

/// One request on the wire: when it was due (open loop; equal to `sent` in
/// closed loop) and when it was written, in microseconds since the epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    pub due: u64,
    pub sent: u64,
}

pub(crate) struct Conn {
    stream: Option<Sock>,
    pub state: State,
    parser: Parser,
    /// Requests written (or queued to write) and not yet answered, oldest first.
    pub inflight: VecDeque<Sent>,
    /// Bytes of queued requests not yet written.
    unwritten: usize,
    /// When the connect started, or when `closing` was set.
    pub since: u64,
    /// The server will close this connection; send nothing more.
    pub closing: bool,
    /// Requests sent on this connection (one at most without keep-alive).
    sent_here: u32,
    /// Open loop: when the next request is due (fractional microseconds,
    /// so a schedule does not drift).
    next_due: f64,
    /// Has ever connected: the open-loop schedule starts at the first connect.
    started: bool,
    /// This connection has an entry in the worker's `schedule` heap.
    pub scheduled: bool,
    backoff_ms: u32,
    /// Responses this slot got in the measured part (across reconnects).
    pub responses: u64,
    /// When this slot first tried to connect, and when its first response
    /// came (warm-up included), microseconds since the epoch.
    pub first_connect: Option<u64>,
    pub first_response: Option<u64>,
}

impl Conn {
    pub fn new(depth: usize) -> Conn {
        Conn {
            stream: None,
            state: State::Idle,
            parser: Parser::new(),
            inflight: VecDeque::with_capacity(depth),
            unwritten: 0,
            since: 0,
            closing: false,
            sent_here: 0,
            next_due: 0.0,
            started: false,
            scheduled: false,
            backoff_ms: FIRST_BACKOFF_MS,
            responses: 0,
            first_connect: None,
            first_response: None,
        }
    }
}

/// A connection's socket: TCP, or a Unix domain socket (`unix:/path` targets).
enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Sock::Tcp(s) => s,
            Sock::Unix(s) => s,
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Sock::Tcp(s) => s.take_error(),
            Sock::Unix(s) => s.take_error(),
        }
    }

    /// `Ok` once the connect has completed; `NotConnected` while it is under way.
    fn check_connected(&self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.peer_addr().map(drop),
            Sock::Unix(s) => s.peer_addr().map(drop),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }
}

/// A non-blocking socket connecting to `target`: TCP with Nagle off, or a
/// Unix stream socket (whose connect completes at once, or fails with
/// `WouldBlock` when the server's backlog is full: counted as a connect error
/// and retried after a back-off).
fn open_socket(target: &Target) -> io::Result<Sock> {
    let addr = match target {
        Target::Tcp(addr) => *addr,
        Target::Unix(path) => return UnixStream::connect(path).map(Sock::Unix),
    };
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(Sock::Tcp(TcpStream::from_std(socket.into())))
}

impl Worker<'_> {
    /// Start a non-blocking connect for connection `i`.
    pub fn connect(&mut self, i: usize) {
        let c = &mut self.conns[i];
        c.since = self.now;
        c.first_connect.get_or_insert(self.now);
        let stream = open_socket(&self.plan.target).and_then(|mut s| {
            // Both interests, once: mio is edge-triggered, so a writable
            // edge only comes when the send buffer drains after being full,
            // and we never need to re-register.
            self.poll.registry().register(
                s.source(),
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(s)
        });
        match stream {
            Ok(s) => {
                c.stream = Some(s);
                c.state = State::Connecting;
            }
            Err(e) => self.connect_failed(i, ErrorKind::of_connect(&e)),
        }
    }

    /// Dispatch one readiness event. Spurious events are normal (a stale
    /// event for a socket that was just replaced, a wake-up with nothing to
    /// read) and end in `WouldBlock`.
    /// `closed`: the event also reports a hang-up or an error.
    pub fn event(&mut self, i: usize, readable: bool, writable: bool, closed: bool) {
        if self.conns[i].state == State::Connecting {
            self.connect_event(i);
        }
        if self.conns[i].state != State::Open {
            return;
        }
        if writable {
            self.write(i);
        }
        if readable {
            self.readable(i, closed);
        }
    }

    /// The connect finished, one way or the other, or this is a spurious wake-up.
    fn connect_event(&mut self, i: usize) {
        let Some(stream) = &self.conns[i].stream else {
            return;
        };
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return self.connect_failed(i, ErrorKind::of_connect(&e)),
            Ok(None) => {}
        }
        match stream.check_connected() {
            Ok(()) => self.connected(i),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => self.connect_failed(i, ErrorKind::of_connect(&e)),
        }
    }

    /// Callback 1: the connection is up. Record the connect time and send.
    fn connected(&mut self, i: usize) {
        let now = self.now;
        let c = &mut self.conns[i];
        self.stats.connect.saturating_record(now - c.since);
        self.stats.established += 1;
        self.shared.live.opened();
        c.state = State::Open;
        c.backoff_ms = FIRST_BACKOFF_MS;
        c.sent_here = 0;
        c.closing = false;
        if !c.started {
            c.started = true;
            c.next_due = now as f64;
        }
        self.pump(i);
    }

    /// Queue as many requests as the pipeline depth, the schedule (open
    /// loop) and the budget allow, then write them.
    pub fn pump(&mut self, i: usize) {
        self.pump_from(i, false);
    }

    /// `pump` for a connection whose scheduled time has come: the requests
    /// it sends now were held up by nothing but the load generator, so how
    /// late they are is its send lag.
    pub fn pump_due(&mut self, i: usize) {
        self.pump_from(i, true);
    }

    fn pump_from(&mut self, i: usize, on_time: bool) {
        let now = self.now;
        let depth = self.plan.depth;
        let every = self.plan.request_every_us;
        let max_here = if self.plan.keepalive { u32::MAX } else { 1 };
        loop {
            let c = &self.conns[i];
            if !self.sending
                || c.state != State::Open
                || c.closing
                || c.inflight.len() >= depth
                || c.sent_here >= max_here
            {
                break;
            }
            let due = match every {
                None => now,
                Some(_) if c.next_due > now as f64 => {
                    if !c.scheduled {
                        self.schedule
                            .push(std::cmp::Reverse((c.next_due as u64, i)));
                        self.conns[i].scheduled = true;
                    }
                    break;
                }
                Some(_) => c.next_due as u64,
            };
            if due >= self.plan.end_us {
                break;
            }
            if !self.claim(due >= self.plan.measure_us) {
                break;
            }
            if on_time && due >= self.plan.measure_us {
                self.stats.send_lag(now.saturating_sub(due));
            }
            let c = &mut self.conns[i];
            c.inflight.push_back(Sent { due, sent: now });
            c.unwritten += self.plan.request.len;
            c.sent_here += 1;
            if let Some(every) = every {
                c.next_due += every;
            }
            self.inflight += 1;
        }
        self.write(i);
    }

    /// Callback 2: write what is queued until done or `WouldBlock`.
    fn write(&mut self, i: usize) {
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            if c.unwritten == 0 {
                return;
            }
            match stream.write(self.plan.request.pending(c.unwritten)) {
                Ok(0) => return self.fail(i, ErrorKind::Write),
                Ok(n) => c.unwritten -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail(i, ErrorKind::Write),
            }
        }
    }

    /// Callback 3: read into the thread's buffer and parse responses.
    /// `closed`: the peer has closed too, so read to the end.
    fn readable(&mut self, i: usize, closed: bool) {
        // Borrow the shared buffer out of `self` while callbacks use `self`.
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(stream) = self.conns[i].stream.as_mut() {
            match stream.read(&mut buf) {
                Ok(0) => {
                    self.eof(i);
                    break;
                }
                Ok(n) => {
                    if !self.consume(i, &buf[..n]) {
                        break;
                    }
                    // The next requests, one per response just read, go out in one write: a
                    // pipelining client sends its window's worth at once, as wrk's batches do.
                    // Sending each as its response is parsed would cost a syscall (and a TCP
                    // segment, and a server read) per request, and the load generator, not the
                    // server, would be what a pipelined run measures.
                    self.pump(i);
                    // A short read drained the socket; the kernel signals
                    // the next arrival with a new edge, so the read that
                    // would only say `WouldBlock` can be skipped (tokio does
                    // the same). Not if this edge also carried the FIN:
                    // no other edge will come for it.
                    if n < buf.len() && !closed {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.fail(i, ErrorKind::Read);
                    break;
                }
            }
        }
        self.buf = buf;
    }

    /// Parse `data`; `false` if the connection was closed on the way.
    fn consume(&mut self, i: usize, mut data: &[u8]) -> bool {
        let head = self.plan.request.is_head;
        while !data.is_empty() {
            match self.conns[i].parser.feed(data, head) {
                Ok((n, done)) => {
                    data = &data[n..];
                    if let Some(done) = done {
                        if !self.response(i, done) {
                            return false;
                        }
                    } else if n == 0 {
                        break;
                    }
                }
                Err(_) => {
                    self.fail(i, ErrorKind::Read);
                    return false;
                }
            }
        }
        true
    }

    /// A complete response: record it (the caller sends the next requests, once the whole read
    /// is parsed). `false` if the connection was closed.
    fn response(&mut self, i: usize, done: Done) -> bool {
        let now = self.now;
        let Some(sent) = self.conns[i].inflight.pop_front() else {
            // A response nobody asked for: the stream is out of step.
            self.fail(i, ErrorKind::Read);
            return false;
        };
        self.inflight -= 1;
        self.unflushed_responses += 1;
        self.conns[i].first_response.get_or_insert(now);
        if sent.due >= self.plan.measure_us {
            self.conns[i].responses += 1;
            self.stats
                .response(now.saturating_sub(sent.due), now.saturating_sub(sent.sent));
            if done.status >= 500 {
                self.error(ErrorKind::Status5xx, 1);
            } else if done.status >= 400 {
                self.error(ErrorKind::Status4xx, 1);
            }
        }
        let c = &mut self.conns[i];
        if done.close || !self.plan.keepalive {
            // Let the server close first (then the TIME_WAIT state, and the
            // port it holds, stays on the server's side); `expire` closes
            // it for us if the server forgets.
            c.closing = true;
            c.since = now;
        }
        true
    }

    /// The server closed the connection.
    fn eof(&mut self, i: usize) {
        if let Some(done) = self.conns[i].parser.eof() {
            self.response(i, done);
        }
        let lost = self.close(i);
        self.error(ErrorKind::Closed, lost);
        self.reconnect(i, false);
    }

    /// Close the socket and forget the connection's requests; returns how
    /// many requests were lost.
    pub fn close(&mut self, i: usize) -> u64 {
        let c = &mut self.conns[i];
        // Closing the descriptor also removes it from the epoll set, so no
        // `deregister` call is needed.
        c.stream = None;
        if c.state == State::Open {
            self.shared.live.closed();
        }
        c.state = State::Idle;
        let lost = c.inflight.len();
        c.inflight.clear();
        c.unwritten = 0;
        c.closing = false;
        c.parser.reset();
        self.inflight -= lost;
        lost as u64
    }

    /// Count an error (only once measuring has begun).
    pub fn error(&mut self, kind: ErrorKind, n: u64) {
        if n > 0 && self.measuring() {
            self.stats.error(kind, n);
            self.unflushed_errors += n;
        }
    }

    /// A read or write failed: count one error per lost request (at least
    /// one), close and reconnect.
    fn fail(&mut self, i: usize, kind: ErrorKind) {
        let lost = self.close(i);
        self.error(kind, lost.max(1));
        self.reconnect(i, false);
    }

    /// The connect or the oldest request took too long.
    pub fn timed_out(&mut self, i: usize) {
        match self.conns[i].state {
            State::Connecting => self.connect_failed(i, ErrorKind::ConnectTimeout),
            _ => {
                let closing = self.conns[i].closing;
                let lost = self.close(i);
                if !closing || lost > 0 {
                    self.error(ErrorKind::Timeout, lost.max(1));
                }
                self.reconnect(i, false);
            }
        }
    }

    fn connect_failed(&mut self, i: usize, kind: ErrorKind) {
        self.close(i);
        self.error(kind, 1);
        self.reconnect(i, true);
    }

    /// Open connection `i` again: now, or after its back-off.
    fn reconnect(&mut self, i: usize, backoff: bool) {
        if !self.sending {
            return;
        }
        if backoff {
            let c = &mut self.conns[i];
            c.state = State::Waiting;
            let when = self.now + u64::from(c.backoff_ms) * 1000;
            c.backoff_ms = (c.backoff_ms * 2).min(MAX_BACKOFF_MS);
            self.retries.push(std::cmp::Reverse((when, i)));
        } else {
            self.connect(i);
        }
    }
}
