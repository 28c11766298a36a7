//! Sockets: binding a listener (TCP or Unix, [`Address`]) with a real backlog, and an accept that
//! checks for shutdown and names the limit it hits. The listener and stream types themselves,
//! [`Listener`] and [`Stream`], live in [`crate::blocking::socket`] and are re-exported here.
//!
//! Models never bind: the CLI (or a test) binds and hands the listener over. The accept loop
//! wakes up every [`POLL_INTERVAL`] (SO_RCVTIMEO on the listening socket bounds `accept`) to see
//! whether shutdown was asked for.

use crate::shutdown::Shutdown;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

pub use crate::blocking::socket::{bind_unix, remove_socket_file, Address, Listener, Stream};

/// How often a blocked accept or read wakes up to check the shutdown flag. A production server
/// would wake its threads explicitly (`shutdown(2)` on their sockets); polling keeps it simple,
/// at the price of up to this much delay when stopping.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The listen backlog asked for. The kernel caps it at `net.core.somaxconn` (4096 here).
pub const BACKLOG: i32 = 4096;

/// Binds a listener on `address` with a backlog of [`BACKLOG`]: TCP with SO_REUSEADDR, or a
/// Unix socket (a stale socket file left there is replaced; see [`bind_unix`]).
pub fn bind(address: &Address) -> io::Result<Listener> {
    Ok(match address {
        Address::Tcp(addr) => Listener::Tcp(bind_listener(*addr)?),
        Address::Unix(path) => Listener::Unix(bind_unix(path, BACKLOG)?),
    })
}

/// Binds a TCP listener with SO_REUSEADDR and a backlog of [`BACKLOG`].
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Explains a bind error: the fix, not just the errno.
pub fn explain_bind_error(address: &Address, e: &io::Error) -> String {
    let addr = match address {
        Address::Tcp(addr) => addr,
        Address::Unix(_) => {
            return match e.kind() {
                io::ErrorKind::AddrInUse => format!(
                    "--addr {address}: a server is listening on it; stop it or pick another path"
                ),
                io::ErrorKind::AlreadyExists => format!(
                    "--addr {address}: the path exists and is not a socket; it is left alone, pick another path"
                ),
                io::ErrorKind::NotFound => {
                    format!("--addr {address}: its directory does not exist")
                }
                io::ErrorKind::PermissionDenied => {
                    format!("--addr {address}: permission denied in its directory")
                }
                _ => format!("--addr {address}: cannot bind: {e}"),
            };
        }
    };
    match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "--addr {addr}: address already in use; stop the other server or pick another port (port 0 picks a free one)"
        ),
        io::ErrorKind::AddrNotAvailable => {
            format!("--addr {addr}: not an address of this machine; try 127.0.0.1")
        }
        io::ErrorKind::PermissionDenied => {
            format!("--addr {addr}: permission denied; ports below 1024 need root, pick a higher one")
        }
        _ => format!("--addr {addr}: cannot bind: {e}"),
    }
}

/// What [`Acceptor::accept_or_tick`] got.
#[derive(Debug)]
pub enum Next {
    Conn(Stream),
    /// No connection this time (a timeout, a signal, a connection reset before it was accepted).
    Tick,
    Shutdown,
}

/// Turns on SO_REUSEPORT on a socket that is already bound and listening, so that more sockets
/// may bind the same address (see [`bind_reuseport`]). TCP only: a Unix socket's path is bound
/// by one socket, so there is nothing to spread over.
pub fn enable_reuseport(listener: &Listener) -> io::Result<SocketAddr> {
    match listener {
        Listener::Tcp(l) => {
            SockRef::from(l).set_reuse_port(true)?;
            l.local_addr()
        }
        Listener::Unix(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            REUSEPORT_OVER_UNIX,
        )),
    }
}

/// Why `--accept reuseport` is refused over a Unix socket.
pub const REUSEPORT_OVER_UNIX: &str = "--accept reuseport works over TCP only: a Unix socket's path is bound by one socket (use --accept shared)";

/// Another listening socket on `addr`, with SO_REUSEPORT: the kernel spreads new connections
/// across every socket so bound (by a hash of the client's address and port). Every socket on the
/// address must have SO_REUSEPORT set, the first one included ([`enable_reuseport`]).
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<Listener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(Listener::Tcp(socket.into()))
}

/// Accepts connections, checking for shutdown every [`POLL_INTERVAL`]. Returns `None` once
/// shutdown was triggered. Errors that concern one connection (it was reset before we accepted
/// it) are skipped; running out of file descriptors is reported once a second with the fix and
/// retried after a pause, instead of spinning.
pub struct Acceptor<'a> {
    listener: &'a Listener,
    shutdown: Shutdown,
    warnings: Warnings,
}

impl<'a> Acceptor<'a> {
    pub fn new(listener: &'a Listener, shutdown: &Shutdown) -> io::Result<Self> {
        listener.set_accept_timeout(Some(POLL_INTERVAL))?;
        Ok(Acceptor {
            listener,
            shutdown: shutdown.clone(),
            warnings: Warnings::default(),
        })
    }

    /// The next connection, or `None` at shutdown.
    pub fn accept(&mut self) -> Option<Stream> {
        loop {
            match self.accept_or_tick() {
                Next::Conn(stream) => return Some(stream),
                Next::Tick => {}
                Next::Shutdown => return None,
            }
        }
    }

    /// Like [`Acceptor::accept`], but also returns [`Next::Tick`] when the wait was cut short
    /// (after [`POLL_INTERVAL`], or a signal), for a loop with other duties, such as reaping
    /// children.
    pub fn accept_or_tick(&mut self) -> Next {
        if self.shutdown.is_triggered() {
            return Next::Shutdown;
        }
        match self.listener.accept() {
            Ok(stream) => Next::Conn(stream),
            Err(e) => {
                self.on_error(e);
                Next::Tick
            }
        }
    }

    fn on_error(&mut self, e: io::Error) {
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => {}
            Some(libc::ECONNABORTED) | Some(libc::EPROTO) => {}
            Some(libc::EMFILE) | Some(libc::ENFILE) => {
                self.warn(&fd_limit_message());
                std::thread::sleep(Duration::from_millis(50));
            }
            Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
                self.warn("accept: out of kernel memory for sockets; pausing");
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                self.warn(&format!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn warn(&mut self, msg: &str) {
        self.warnings.warn(msg);
    }
}

/// The message for EMFILE: which limit, and what to do.
pub fn fd_limit_message() -> String {
    match crate::sys::fd_limits() {
        Some((soft, hard)) => format!(
            "accept: out of file descriptors (open-file limit {soft}, hard limit {hard}); \
             raise it with `ulimit -n {hard}` or serve fewer connections; pausing accept"
        ),
        None => "accept: out of file descriptors; raise `ulimit -n`; pausing accept".into(),
    }
}

/// A warning printed at most once a second: a server that keeps hitting a limit (EMFILE, an
/// accept or register that fails) says so without flooding stderr. Every accept loop (the
/// blocking acceptor, the event loops, the park front) holds one.
#[derive(Debug, Default)]
pub struct Warnings {
    last: Option<Instant>,
}

impl Warnings {
    /// Prints `msg` unless a warning was printed less than a second ago (it is formatted only
    /// when printed).
    pub fn warn(&mut self, msg: impl std::fmt::Display) {
        let now = Instant::now();
        if self.last.is_none_or(|t| now - t >= Duration::from_secs(1)) {
            eprintln!("{msg}");
            self.last = Some(now);
        }
    }
}
