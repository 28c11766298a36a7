//! Parking: an event-driven front that holds connections while they have no whole request head,
//! so that a blocking worker only ever gets a connection it can answer at once. This is how
//! Apache's event MPM (its listener thread) and nginx keep slow and idle clients from pinning
//! workers; the pools turn it on with `--park on`.
//!
//! ```text
//! front (one mio loop):
//!     accept every new connection; park it (register for readable)
//!     readable: peek at what arrived (MSG_PEEK: nothing is consumed) and run the parser on it
//!         still a partial head: stay parked
//!         a whole head, or bytes the parser refuses, or --max-header-bytes of them: hand over
//!     every few ms: close the parked ones past --idle-timeout (nothing sent yet) and answer
//!         408 to those past --header-timeout (a head started, not finished), as the blocking
//!         loop does
//!     a connection given back by a worker (keep-alive, idle): park it again
//! worker (blocking, lab_core::conn::serve_until_idle):
//!     take a connection; answer every request it sent; idle? give it back to the front
//! ```
//!
//! Because the front only peeks, the worker gets an untouched socket and the ordinary blocking
//! loop reads the request as if it had accepted the connection itself.
//!
//! What a worker still does itself, and a production front would take over: reading a request
//! body (a client trickling its body pins a worker, `slowhttptest -B`; Apache's event MPM has the
//! same limit), writing a response to a client that reads slowly, and the lingering close after
//! an error (Apache's event MPM hands both of the latter back to its listener).
//!
//! Two fronts share [`ParkingLot`], which is the loop's state and one turn of it:
//! - [`ThreadFront`] (hybrid_pool): a thread in each worker process, handing connections to the
//!   process's serving threads over a channel; they come back over another, with a
//!   [`mio::Waker`]. Open with [`thread_front`].
//! - [`HandoffFront`] (process_pool): the parent process runs it between its looks at the
//!   workers ([`crate::supervisor::ParentFront`]) and passes each connection's file descriptor to
//!   whichever idle worker process takes it ([`crate::handoff`]); a worker sends an idle
//!   keep-alive connection's descriptor back the same way.

use crate::conn::LINGER;
use crate::handoff::{ConnReceiver, ConnSender};
use crate::limits::Limits;
use crate::net::Warnings;
use crate::net::POLL_INTERVAL;
use crate::net::{Listener, Stream};
use crate::parse::{parse_head, HeadStatus};
use crate::response::write_rejection;
use crate::scoreboard::Slot;
use crate::shutdown::Shutdown;
use crate::supervisor::ParentFront;
use crate::Rejection;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::Shutdown as Direction;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
/// Connections coming back from the workers (a Waker, or a Unix socket's readiness).
const RETURNS: Token = Token(1);
const FIRST_CONNECTION: usize = 2;

/// How often the deadlines of parked connections are checked. Timeouts are whole seconds in
/// practice; a production front would keep a timer wheel instead of sweeping.
const SWEEP_EVERY: Duration = Duration::from_millis(50);

/// After running out of file descriptors, how long the front stops accepting.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// When a worker process's front stops (hybrid_pool: shutdown, reload, recycling), how long a
/// connection it accepted may still take to send its head. The blocking loop gives a connection
/// accepted just before shutdown the same grace; closing it unanswered would fail a request
/// across a graceful reload.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// One parked connection.
#[derive(Debug)]
struct Parked {
    /// Non-blocking, registered with the front's poll (TCP or Unix alike).
    stream: Stream,
    /// When the current wait began: parked (the idle clock), or the first byte of a head (the
    /// header clock), or the 408 (the linger clock).
    since: Instant,
    state: Waiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Nothing of a next request yet: closed after --idle-timeout.
    Idle,
    /// Part of a head: answered 408 after --header-timeout.
    Head,
    /// Answered 408 and half-closed: reading and discarding until the client closes, for up
    /// to [`LINGER`], so that our answer is not destroyed by a reset.
    Closing,
}

/// The front's state: a poll, the listening socket, the parked connections, and the ones ready
/// to be handed to a worker.
pub struct ParkingLot {
    poll: Poll,
    events: Events,
    listener: Option<Listener>,
    /// The listener reported a connection we have not accepted yet (edge-triggered readiness:
    /// no new event comes until we have accepted everything).
    accept_pending: bool,
    accept_paused_until: Option<Instant>,
    warnings: Warnings,
    parked: HashMap<Token, Parked>,
    next_token: usize,
    /// Whole heads, waiting for a worker.
    ready: VecDeque<Stream>,
    limits: Limits,
    /// Where heads are peeked into: one byte more than --max-header-bytes, so that a head that
    /// fills the limit is seen as too large (the worker answers 431).
    peek: Vec<u8>,
    next_sweep: Instant,
}

impl ParkingLot {
    /// A front accepting on (a duplicate of) `listener`, which it switches to non-blocking: in a
    /// pool with parking, only fronts accept.
    pub fn new(listener: &Listener, limits: &Limits) -> io::Result<ParkingLot> {
        let mut listener = listener.try_clone()?;
        listener.set_nonblocking(true)?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(ParkingLot {
            poll,
            events: Events::with_capacity(1024),
            listener: Some(listener),
            accept_pending: true,
            accept_paused_until: None,
            warnings: Warnings::default(),
            parked: HashMap::new(),
            next_token: FIRST_CONNECTION,
            ready: VecDeque::new(),
            limits: *limits,
            peek: vec![0; limits.max_head_bytes + 1],
            next_sweep: Instant::now() + SWEEP_EVERY,
        })
    }

    fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Connections held here (parked, or ready and not yet handed over).
    pub fn held(&self) -> usize {
        self.parked.len() + self.ready.len()
    }

    /// Parks a connection that a worker gave back (idle, keep-alive). If its next request has
    /// already arrived, registering reports it readable at once.
    pub fn park(&mut self, stream: Stream) {
        if stream.set_nonblocking(true).is_err() {
            return; // dropped: closed
        }
        self.insert(stream);
    }

    fn insert(&mut self, mut stream: Stream) {
        let token = Token(self.next_token);
        self.next_token += 1;
        if self
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_err()
        {
            return;
        }
        let parked = Parked {
            stream,
            since: Instant::now(),
            state: Waiting::Idle,
        };
        self.parked.insert(token, parked);
    }

    /// One turn of the loop: waits up to `timeout` for events, accepts (if `accept`), looks at
    /// every connection that got bytes, and applies the timeouts. Connections with a whole head
    /// are then in [`ParkingLot::ready`]. Returns true if a worker gave a connection back (the
    /// Waker or the return socket was signalled).
    pub fn turn(&mut self, timeout: Duration, accept: bool) -> bool {
        let mut returns = false;
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.warn(&format!("park: poll failed: {e}"));
            }
        }
        let tokens: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
        for token in tokens {
            match token {
                LISTENER => self.accept_pending = true,
                RETURNS => returns = true,
                token => self.on_readable(token),
            }
        }
        if accept {
            self.accept_all();
        }
        if Instant::now() >= self.next_sweep {
            self.sweep();
            self.next_sweep = Instant::now() + SWEEP_EVERY;
        }
        returns
    }

    /// The connections whose head is complete, oldest first, to be handed to workers (a front
    /// that cannot hand one over now puts it back at the front).
    pub fn ready(&mut self) -> &mut VecDeque<Stream> {
        &mut self.ready
    }

    /// Begins a drain: stops accepting. The connections held here, idle keep-alive ones
    /// included, may still complete a head while the caller goes on turning, for a moment: a
    /// keep-alive client may be sending its next request as the drain starts, and closing its
    /// connection under it would fail that request across a graceful reload (the blocking loop
    /// gives the same grace; the worker answers with `Connection: close`).
    pub fn stop_accepting(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.registry().deregister(&mut listener);
        }
    }

    /// Stops accepting and closes every connection held here (at shutdown).
    pub fn close_all(&mut self) {
        self.listener = None;
        self.parked.clear();
        self.ready.clear();
    }

    /// In a process forked from the front's: closes this copy of every connection the front
    /// holds, without touching the poll (which the fork shares with the parent). Otherwise the
    /// child would keep them open after the front closes them, and their clients would wait.
    pub fn forget(&mut self) {
        // Dropping a mio socket only closes our descriptor; it does not deregister.
        self.listener = None;
        self.parked.clear();
        self.ready.clear();
    }

    fn accept_all(&mut self) {
        if !self.accept_pending {
            return;
        }
        if let Some(until) = self.accept_paused_until {
            if Instant::now() < until {
                return;
            }
            self.accept_paused_until = None;
        }
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept_nonblocking() {
                Ok(stream) => self.insert(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) | Some(libc::ECONNABORTED) | Some(libc::EPROTO) => {}
                    Some(libc::EMFILE) | Some(libc::ENFILE) => {
                        self.warn(&crate::net::fd_limit_message());
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        return;
                    }
                    _ => {
                        self.warn(&format!("park: accept failed: {e}"));
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        return;
                    }
                },
            }
        }
    }

    /// Bytes arrived (or the client closed): look without consuming.
    fn on_readable(&mut self, token: Token) {
        let Some(conn) = self.parked.get_mut(&token) else {
            return; // already gone: a spurious event
        };
        if conn.state == Waiting::Closing {
            if discard_input(&mut conn.stream) {
                self.close(token);
            }
            return;
        }
        let n = loop {
            match conn.stream.peek(&mut self.peek) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.close(token);
                    return;
                }
            }
        };
        if n == 0 {
            self.close(token); // the client closed
            return;
        }
        if conn.state == Waiting::Idle {
            // The first byte of a head: the header clock starts now.
            conn.state = Waiting::Head;
            conn.since = Instant::now();
        }
        // Partial: wait for more. A whole head or one the parser refuses (too large, malformed):
        // the worker's own parse reaches the same verdict and answers it.
        if !matches!(
            parse_head(&self.peek[..n], &self.limits),
            Ok(HeadStatus::Partial)
        ) {
            self.hand_over(token);
        }
    }

    fn hand_over(&mut self, token: Token) {
        let Some(mut conn) = self.parked.remove(&token) else {
            return;
        };
        // Deregister before anyone else reads it: this poll must not report it any more.
        if self.registry().deregister(&mut conn.stream).is_err() {
            return;
        }
        self.ready.push_back(conn.stream);
    }

    fn close(&mut self, token: Token) {
        if let Some(mut conn) = self.parked.remove(&token) {
            let _ = self.registry().deregister(&mut conn.stream);
        }
    }

    /// The timeouts, as the blocking loop applies them.
    fn sweep(&mut self) {
        let now = Instant::now();
        let limits = self.limits;
        let expired: Vec<(Token, Waiting)> = self
            .parked
            .iter()
            .filter(|(_, c)| {
                let limit = match c.state {
                    Waiting::Idle => limits.idle_timeout,
                    Waiting::Head => limits.header_timeout,
                    Waiting::Closing => LINGER,
                };
                now >= c.since + limit
            })
            .map(|(&t, c)| (t, c.state))
            .collect();
        for (token, state) in expired {
            match state {
                Waiting::Idle | Waiting::Closing => self.close(token),
                Waiting::Head => self.time_out(token),
            }
        }
    }

    /// A head that did not arrive within --header-timeout: 408, half-close, linger.
    fn time_out(&mut self, token: Token) {
        let Some(conn) = self.parked.get_mut(&token) else {
            return;
        };
        // Consume what the client sent, so that closing later does not reset the connection.
        if discard_input(&mut conn.stream) {
            self.close(token);
            return;
        }
        let mut answer = Vec::new();
        write_rejection(Rejection::Timeout, &mut answer);
        // A few hundred bytes into an empty send buffer: one non-blocking write does it.
        if conn.stream.write_all(&answer).is_err() {
            self.close(token);
            return;
        }
        let _ = conn.stream.shutdown(Direction::Write);
        conn.state = Waiting::Closing;
        conn.since = Instant::now();
    }

    fn warn(&mut self, msg: &str) {
        self.warnings.warn(msg);
    }
}

/// Reads and discards what is there without blocking. True if the connection is finished (the
/// client closed, an error, or it sent more than a lingering close is worth).
fn discard_input(stream: &mut Stream) -> bool {
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(n) => {
                total += n;
                if total > 1024 * 1024 {
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// hybrid_pool: a front thread per worker process.

/// The front of one worker process (hybrid_pool): run it on its own thread with
/// [`ThreadFront::run`].
pub struct ThreadFront {
    lot: ParkingLot,
    to_threads: crossbeam_channel::Sender<Stream>,
    returned: crossbeam_channel::Receiver<Stream>,
    shutdown: Shutdown,
    /// Connections the serving threads hold (shared with [`ThreadDoor`]).
    out: Arc<AtomicUsize>,
}

/// What a serving thread holds: where it takes connections and gives idle ones back.
#[derive(Clone)]
pub struct ThreadDoor {
    from_front: crossbeam_channel::Receiver<Stream>,
    to_front: crossbeam_channel::Sender<Stream>,
    waker: Arc<Waker>,
    /// Connections taken and not yet given back or closed: while any is out, a draining front
    /// waits (within its grace), for one may still come back.
    out: Arc<AtomicUsize>,
}

/// A front for this process on `listener`, and the door its serving threads use.
pub fn thread_front(
    listener: &Listener,
    limits: &Limits,
    shutdown: &Shutdown,
) -> io::Result<(ThreadFront, ThreadDoor)> {
    let lot = ParkingLot::new(listener, limits)?;
    let waker = Arc::new(Waker::new(lot.registry(), RETURNS)?);
    let (to_threads, from_front) = crossbeam_channel::unbounded();
    let (to_front, returned) = crossbeam_channel::unbounded();
    let out = Arc::new(AtomicUsize::new(0));
    let front = ThreadFront {
        lot,
        to_threads,
        returned,
        shutdown: shutdown.clone(),
        out: Arc::clone(&out),
    };
    let door = ThreadDoor {
        from_front,
        to_front,
        waker,
        out,
    };
    Ok((front, door))
}

impl ThreadFront {
    /// Runs until shutdown, then closes what it holds; dropping the channel then tells the
    /// serving threads (once they have served what was already handed over) to stop.
    /// `slot` shows how many connections are parked here.
    pub fn run(mut self, slot: &Slot) {
        while !self.shutdown.is_triggered() {
            // Accept only while no head waits for a thread of this process: when all of them
            // are busy, new connections stay in the kernel's queue for another process.
            let accept = self.to_threads.is_empty();
            let returns = self.lot.turn(POLL_INTERVAL / 5, accept);
            if returns {
                for conn in self.returned.try_iter() {
                    self.lot.park(conn);
                }
            }
            for conn in self.lot.ready().drain(..) {
                let _ = self.to_threads.send(conn);
            }
            slot.set_parked(self.lot.held());
        }
        // Drain: whoever is about to send a head gets a moment to, and is served. That
        // includes a connection a serving thread gave back as the drain began (it saw no
        // shutdown yet): taken in here, not left in the channel to be closed with it under a
        // client that is sending its next request. So the drain lasts while connections are
        // parked or out with the threads (they come back, or are closed by the thread).
        self.lot.stop_accepting();
        let grace = Instant::now() + DRAIN_GRACE;
        loop {
            // `out` first: a thread gives back, then counts its connection in; seeing it in
            // means the connection is already in the channel.
            let out = self.out.load(Ordering::SeqCst);
            for conn in self.returned.try_iter() {
                self.lot.park(conn);
            }
            if (self.lot.held() == 0 && out == 0) || Instant::now() >= grace {
                break;
            }
            self.lot.turn(POLL_INTERVAL / 5, false);
            for conn in self.lot.ready().drain(..) {
                let _ = self.to_threads.send(conn);
            }
            slot.set_parked(self.lot.held());
        }
        self.lot.close_all();
        slot.set_parked(0);
    }
}

impl ThreadDoor {
    /// The next connection with a whole head, or `None` once the front has stopped and every
    /// connection it handed over has been taken.
    /// The caller then holds it until [`ThreadDoor::give_back`] or [`ThreadDoor::closed`].
    pub fn next(&self) -> Option<Stream> {
        loop {
            match self.from_front.recv_timeout(POLL_INTERVAL) {
                Ok(conn) => {
                    self.out.fetch_add(1, Ordering::SeqCst);
                    return Some(conn);
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Gives an idle keep-alive connection back to the front (closed if the front is gone).
    pub fn give_back(&self, conn: Stream) {
        if self.to_front.send(conn).is_ok() {
            let _ = self.waker.wake();
        }
        self.out.fetch_sub(1, Ordering::SeqCst);
    }

    /// The connection taken last is closed (served to its end): it is not coming back.
    pub fn closed(&self) {
        self.out.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// process_pool: the parent's front, passing descriptors to worker processes.

/// The parent's front (process_pool): connections go to worker processes, and come back, as
/// file descriptors over Unix sockets ([`crate::handoff`]).
pub struct HandoffFront {
    lot: ParkingLot,
    to_workers: ConnSender,
    from_workers: ConnReceiver,
}

/// What a worker process holds: where it takes connections and gives idle ones back.
pub struct HandoffDoor {
    from_front: ConnReceiver,
    to_front: ConnSender,
}

/// A front for the parent on `listener`, and the door the worker processes (forked later)
/// use.
pub fn handoff_front(
    listener: &Listener,
    limits: &Limits,
) -> io::Result<(HandoffFront, HandoffDoor)> {
    let lot = ParkingLot::new(listener, limits)?;
    let (to_workers, from_front) = crate::handoff::channel()?;
    let (to_front, from_workers) = crate::handoff::channel()?;
    // The front never blocks; a worker waits for a connection in slices, to check for
    // shutdown, and gives one back within a bounded time (or closes it).
    to_workers.set_nonblocking(true)?;
    from_workers.set_nonblocking(true)?;
    from_front.set_timeout(Some(POLL_INTERVAL))?;
    to_front.set_timeout(Some(Duration::from_secs(1)))?;
    lot.registry().register(
        &mut SourceFd(&from_workers.as_fd().as_raw_fd()),
        RETURNS,
        Interest::READABLE,
    )?;
    let front = HandoffFront {
        lot,
        to_workers,
        from_workers,
    };
    let door = HandoffDoor {
        from_front,
        to_front,
    };
    Ok((front, door))
}

impl HandoffFront {
    fn turn(&mut self, timeout: Duration) {
        // With heads waiting for a worker, come back soon to try again.
        let timeout = if self.lot.ready.is_empty() {
            timeout
        } else {
            timeout.min(Duration::from_millis(2))
        };
        if self.lot.turn(timeout, true) {
            // Edge-triggered: take every connection given back, until none is left (a message
            // that carried no connection is consumed all the same; the count bounds the loop).
            for _ in 0..100_000 {
                match self.from_workers.recv() {
                    Ok(conn) => self.lot.park(conn),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {}
                }
            }
        }
        while let Some(conn) = self.lot.ready.pop_front() {
            match self.to_workers.send(&conn) {
                // The worker has its own descriptor now; ours closes here.
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The queue to the workers is full: every worker is busy. Keep it; the
                    // parent forks more workers on its next tick.
                    self.lot.ready.push_front(conn);
                    break;
                }
                Err(e) => {
                    self.lot
                        .warn(&format!("park: cannot hand a connection over: {e}"));
                }
            }
        }
    }
}

impl ParentFront for HandoffFront {
    fn run_for(&mut self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return self.lot.held();
            }
            self.turn(deadline - now);
        }
    }

    fn forget_in_child(&mut self) {
        self.lot.forget();
    }

    fn stop(&mut self) {
        self.lot.close_all();
    }
}

impl HandoffDoor {
    /// The next connection with a whole head, or `None` at shutdown.
    pub fn next(&self, shutdown: &Shutdown) -> Option<Stream> {
        while !shutdown.is_triggered() {
            // The front's sockets are non-blocking; the blocking loop wants a blocking one.
            match self
                .from_front
                .recv()
                .and_then(|c| c.set_nonblocking(false).map(|_| c))
            {
                Ok(conn) => return Some(conn),
                Err(e) if is_retry(&e) => {}
                Err(e) => {
                    eprintln!(
                        "park: worker {}: cannot take a connection: {e}",
                        crate::sys::pid()
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        None
    }

    /// Gives an idle keep-alive connection back to the front (within a second, or it is
    /// closed: the client sees an idle connection closed, as after --idle-timeout).
    pub fn give_back(&self, conn: Stream) {
        let _ = self.to_front.send(&conn);
    }
}

fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{TcpListener, TcpStream};

    fn lot_with(limits: Limits) -> (ParkingLot, std::net::SocketAddr) {
        let listener = Listener::from(TcpListener::bind("127.0.0.1:0").unwrap());
        let Ok(crate::net::Address::Tcp(addr)) = listener.local_address() else {
            panic!("a TCP listener");
        };
        (ParkingLot::new(&listener, &limits).unwrap(), addr)
    }

    /// Turns until `done` holds (at most 200 turns of 10 ms).
    fn turn_until(lot: &mut ParkingLot, mut done: impl FnMut(&mut ParkingLot) -> bool) -> bool {
        for _ in 0..200 {
            lot.turn(Duration::from_millis(10), true);
            if done(lot) {
                return true;
            }
        }
        false
    }

    #[test]
    fn a_connection_is_handed_over_when_its_head_is_whole_and_untouched() {
        let (mut lot, addr) = lot_with(Limits::default());
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
        assert!(turn_until(&mut lot, |l| l.held() == 1));
        for _ in 0..5 {
            lot.turn(Duration::from_millis(10), true);
        }
        assert!(lot.ready().is_empty(), "a partial head stays parked");
        client.write_all(b"\r\n").unwrap();
        assert!(turn_until(&mut lot, |l| !l.ready().is_empty()));
        let mut conn = lot.ready().pop_front().unwrap();
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = [0u8; 27];
        conn.read_exact(&mut head).unwrap();
        assert_eq!(
            &head, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
            "nothing was consumed"
        );
        assert_eq!(lot.held(), 0);
    }

    #[test]
    fn a_head_that_does_not_finish_in_time_gets_408() {
        let limits = Limits {
            header_timeout: Duration::from_millis(100),
            ..Limits::default()
        };
        let (mut lot, addr) = lot_with(limits);
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let mut answer = Vec::new();
        let answered = turn_until(&mut lot, |_| {
            let mut chunk = [0u8; 512];
            match client.read(&mut chunk) {
                Ok(0) => true,
                Ok(n) => {
                    answer.extend_from_slice(&chunk[..n]);
                    false
                }
                Err(_) => false,
            }
        });
        assert!(answered, "the connection was not closed");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        assert!(lot.ready().is_empty());
    }

    #[test]
    fn an_oversized_head_is_handed_over_for_the_worker_to_refuse() {
        let limits = Limits {
            max_head_bytes: 64,
            max_target_bytes: 32,
            ..Limits::default()
        };
        let (mut lot, addr) = lot_with(limits);
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .write_all(format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(100)).as_bytes())
            .unwrap();
        assert!(turn_until(&mut lot, |l| !l.ready().is_empty()));
    }
}
