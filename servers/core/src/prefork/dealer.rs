//! `--accept handoff`: the parent alone accepts, and deals each connection to a worker
//! round-robin, passing its file descriptor over the worker's own Unix socket
//! ([`crate::handoff`], `SCM_RIGHTS`). This is what the Node.js cluster module does by default on
//! Linux (its `RoundRobinHandle`), and the pools' third way for connections to reach workers,
//! beside a shared listening socket and SO_REUSEPORT.
//!
//! ```text
//! parent (between its looks at the workers, instead of sleeping; still one thread):
//!     poll { the listener, every worker's channel }
//!     a worker asked (one byte per connection it is ready for): credits[worker] += 1
//!     while some worker of the current generation has a credit:
//!         conn = a connection taken back from a dead worker, or accept()   (none: stop)
//!         worker = the next one after the last dealt, in slot order, with a credit
//!         send conn's descriptor to it; close ours; credits[worker] -= 1
//! worker:
//!     loop { ask; conn = receive (checking for shutdown every POLL_INTERVAL); serve conn }
//! a worker ended: every connection still in its channel (sent, never taken) is taken back by
//!     the parent and dealt to the others, and the log says how many
//! ```
//!
//! The parent accepts only while a worker has asked: otherwise connections wait in the kernel's
//! backlog, as with a shared socket, and nothing accepted waits behind a busy worker. A worker
//! asked to exit (spare regulation, a reload) is dealt nothing more.
//!
//! The cost, against a shared socket: every connection passes through the parent (a wake-up, an
//! accept, a `sendmsg`, a close) and the worker (an ask and a `recvmsg`), and the parent is one
//! thread for the whole pool. The gain: the spread is the parent's choice, not the kernel's.

use crate::handoff::{ConnReceiver, ConnSender};
use crate::net::{fd_limit_message, Listener, Stream, Warnings};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX);

/// After running out of file descriptors, how long the parent stops accepting.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// One worker slot's channel, and what the parent knows of it.
struct Link {
    tx: ConnSender,
    /// The worker's end, kept open in the parent to take back what a dead worker never took.
    rx: ConnReceiver,
    /// Connections the worker asked for and has not been sent.
    credits: usize,
    /// False once the worker was asked to exit: it is dealt nothing more.
    dealing: bool,
    /// Its queue was full at the last send: skipped until it asks again (it has taken one).
    full: bool,
}

/// The parent's accept-and-deal loop.
pub struct Dealer {
    poll: Poll,
    events: Events,
    listener: Option<Listener>,
    /// Edge-triggered readiness: the listener may hold connections we have not accepted.
    accept_pending: bool,
    accept_paused_until: Option<Instant>,
    links: Vec<Option<Link>>,
    /// The slot dealt to last: the next deal starts after it.
    last: usize,
    /// Connections taken back from dead workers, dealt before any new one is accepted.
    waiting: VecDeque<Stream>,
    warnings: Warnings,
}

impl Dealer {
    /// A dealer accepting on (a duplicate of) `listener`, for up to `slots` workers.
    pub fn new(listener: &Listener, slots: usize) -> io::Result<Dealer> {
        let mut listener = listener.try_clone()?;
        listener.set_nonblocking(true)?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Dealer {
            poll,
            events: Events::with_capacity(256),
            listener: Some(listener),
            accept_pending: true,
            accept_paused_until: None,
            links: (0..slots).map(|_| None).collect(),
            last: slots.saturating_sub(1),
            waiting: VecDeque::new(),
            warnings: Warnings::default(),
        })
    }

    /// Before forking a worker into slot `i`: its channel (made once per slot), with no credit.
    pub fn prepare(&mut self, i: usize) -> io::Result<()> {
        if self.links[i].is_none() {
            let (tx, rx) = crate::handoff::channel()?;
            tx.set_nonblocking(true)?;
            // The worker waits in slices, to notice shutdown.
            rx.set_timeout(Some(crate::net::POLL_INTERVAL))?;
            self.poll.registry().register(
                &mut SourceFd(&tx.as_fd().as_raw_fd()),
                Token(i),
                Interest::READABLE,
            )?;
            self.links[i] = Some(Link {
                tx,
                rx,
                credits: 0,
                dealing: true,
                full: false,
            });
        }
        let link = self.links[i].as_mut().expect("made above");
        link.tx.take_asks();
        link.credits = 0;
        link.dealing = true;
        link.full = false;
        Ok(())
    }

    /// In the worker of slot `i`, after fork: closes this process's copies of the listener, of
    /// the other slots' channels and of the connections waiting here (the parent's), and returns
    /// the worker's end of its own channel. The poll is shared with the parent and not touched.
    pub fn keep_only(&mut self, i: usize) -> Option<&ConnReceiver> {
        // Dropping a mio source only closes our descriptor; it does not deregister.
        self.listener = None;
        self.waiting.clear();
        for (j, link) in self.links.iter_mut().enumerate() {
            if j != i {
                link.take();
            }
        }
        self.links[i].as_ref().map(|l| &l.rx)
    }

    /// Slot `i`'s worker was asked to exit: deal it nothing more.
    pub fn stop_dealing(&mut self, i: usize) {
        if let Some(link) = self.links[i].as_mut() {
            link.dealing = false;
            link.credits = 0;
        }
    }

    /// Slot `i`'s worker has ended (and been reaped): takes back every connection it was sent
    /// and never took, to deal to the others first. Returns how many.
    pub fn take_back(&mut self, i: usize) -> usize {
        let Some(link) = self.links[i].as_mut() else {
            return 0;
        };
        link.tx.take_asks();
        link.credits = 0;
        link.dealing = false;
        let conns = link.rx.take_all();
        let n = conns.len();
        for conn in conns.into_iter().rev() {
            self.waiting.push_front(conn);
        }
        n
    }

    /// Slot `i` gets no worker soon: closes its channel (after [`Dealer::take_back`]).
    pub fn release(&mut self, i: usize) {
        if let Some(link) = self.links[i].take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&link.tx.as_fd().as_raw_fd()));
        }
    }

    /// Connections accepted (or taken back) and not yet dealt.
    pub fn held(&self) -> usize {
        self.waiting.len()
    }

    /// Accepts and deals for about `timeout`.
    pub fn run_for(&mut self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            self.deal();
            let now = Instant::now();
            if now >= deadline {
                return self.held();
            }
            let mut wait = deadline - now;
            if let Some(until) = self.accept_paused_until {
                wait = wait.min(until.saturating_duration_since(now));
            }
            if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.warnings.warn(format!("handoff: poll failed: {e}"));
                }
            }
            for event in self.events.iter() {
                match event.token() {
                    LISTENER => self.accept_pending = true,
                    Token(i) => {
                        if let Some(Some(link)) = self.links.get_mut(i) {
                            let asks = link.tx.take_asks();
                            if link.dealing && asks > 0 {
                                link.credits += asks;
                                link.full = false;
                            }
                        }
                    }
                }
            }
        }
    }

    /// At shutdown: stops accepting and closes what waits here.
    pub fn stop(&mut self) {
        self.listener = None;
        self.waiting.clear();
    }

    /// Deals while a worker has a credit and there is a connection to deal.
    fn deal(&mut self) {
        while let Some(i) = self.next_worker() {
            let Some(conn) = self.waiting.pop_front().or_else(|| self.accept()) else {
                return;
            };
            let link = self.links[i].as_mut().expect("next_worker checked");
            match link.tx.send(&conn) {
                // The worker has its own descriptor now; ours closes here.
                Ok(()) => {
                    link.credits -= 1;
                    self.last = i;
                }
                Err(e) => {
                    // A full queue (the worker asked for more than the socket holds, and has
                    // not taken them yet): this worker is skipped until it asks again; its
                    // credits stand, for its threads still wait. The others may be dealt.
                    if e.kind() != io::ErrorKind::WouldBlock {
                        self.warnings
                            .warn(format!("handoff: cannot pass a connection: {e}"));
                    }
                    link.full = true;
                    self.waiting.push_front(conn);
                }
            }
        }
    }

    /// The next slot after the last dealt, in slot order, whose worker has a credit.
    fn next_worker(&self) -> Option<usize> {
        let n = self.links.len();
        (1..=n).map(|k| (self.last + k) % n).find(|&j| {
            self.links[j]
                .as_ref()
                .is_some_and(|l| l.dealing && !l.full && l.credits > 0)
        })
    }

    fn accept(&mut self) -> Option<Stream> {
        if !self.accept_pending {
            return None;
        }
        if let Some(until) = self.accept_paused_until {
            if Instant::now() < until {
                return None;
            }
            self.accept_paused_until = None;
        }
        loop {
            let listener = self.listener.as_ref()?;
            // The listener is non-blocking; the connection comes blocking, as the worker's
            // blocking loop wants it (the flag travels with it).
            match listener.accept() {
                Ok(stream) => return Some(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return None;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) | Some(libc::ECONNABORTED) | Some(libc::EPROTO) => {}
                    Some(libc::EMFILE) | Some(libc::ENFILE) => {
                        self.warnings.warn(fd_limit_message());
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        return None;
                    }
                    _ => {
                        self.warnings.warn(format!("handoff: accept failed: {e}"));
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        return None;
                    }
                },
            }
        }
    }
}
