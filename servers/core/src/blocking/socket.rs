//! One listener type and one stream type for both transports: TCP (`127.0.0.1:8080`) and Unix
//! domain sockets (`unix:/run/lab.sock`). Every model takes a [`Listener`] and serves
//! [`Stream`]s, so `lab serve --addr unix:/path` works for all of them without a model knowing
//! which transport it serves.
//!
//! Both are enums over the standard library's sockets, and do what the models need of either:
//! `Read`/`Write` (also through `&Stream`), timeouts, non-blocking mode, half-close, `peek` (the
//! park front), file descriptors (`AsFd`, for `sendfile`, `SCM_RIGHTS` and io_uring), and
//! registration with a mio `Poll` (the event loops and the park front register them directly).
//! What only TCP has is skipped for Unix sockets: [`Stream::set_nodelay`] is a no-op there (a
//! Unix socket has no Nagle), and SO_REUSEPORT is refused (one path binds one socket).
//!
//! Why a Unix socket at all: over loopback TCP most of a plaintext server's time is the kernel's
//! TCP stack (segments, ACKs, checksums, the loopback device). A Unix stream socket copies bytes
//! from one socket buffer to the other and wakes the reader, so the user-space differences
//! between models show more.

use crate::sys;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a server listens: a TCP address, or the path of a Unix socket (`unix:/path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes, NUL included).
pub const MAX_UNIX_PATH: usize = 107;

impl Address {
    /// Reads `unix:PATH`; anything else is given to `tcp` (the caller's reading of `IP:PORT`).
    /// The error does not name the flag; the caller adds it.
    pub fn parse(
        s: &str,
        tcp: impl FnOnce(&str) -> Result<SocketAddr, String>,
    ) -> Result<Address, String> {
        match s.strip_prefix("unix:") {
            Some(path) => Address::unix(path).map_err(|e| format!("{s}: {e}")),
            None => tcp(s).map(Address::Tcp),
        }
    }

    /// A Unix socket address, checked: not empty, short enough for `sun_path`.
    pub fn unix(path: impl Into<PathBuf>) -> Result<Address, String> {
        let path = path.into();
        let len = path.as_os_str().len();
        if len == 0 {
            return Err("expected unix:PATH, the path of a socket file".into());
        }
        if len > MAX_UNIX_PATH {
            return Err(format!(
                "a Unix socket's path holds at most {MAX_UNIX_PATH} bytes; this one has {len} (use a shorter, or relative, path)"
            ));
        }
        Ok(Address::Unix(path))
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Address::Unix(_))
    }

    /// How a client reaches it: `http://127.0.0.1:8080` or `unix:/path`.
    pub fn url(&self) -> String {
        match self {
            Address::Tcp(a) => format!("http://{a}"),
            Address::Unix(p) => format!("unix:{}", p.display()),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "{a}"),
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A listening socket, TCP or Unix.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A connected socket, TCP or Unix.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Binds a Unix stream socket at `path` with a backlog of `backlog`. A socket file left at the
/// path by a server that did not exit cleanly is removed first, but only if it is a socket and
/// nobody answers on it: a live server's socket is `AddrInUse`, any other file `AlreadyExists`
/// (never unlinked).
pub fn bind_unix(path: &Path, backlog: i32) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "a server is listening on it",
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket (not removed)",
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Removes the socket file of a Unix listener at shutdown, if it is still a socket (another
/// server may have replaced it by then with a file of its own: that is left alone).
pub fn remove_socket_file(address: &Address) {
    if let Address::Unix(path) = address {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Listener {
    /// Accepts one connection, as the socket is set (blocking, with the timeout of
    /// [`Listener::set_accept_timeout`], or non-blocking). The connection is blocking.
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }

    /// Accepts one connection already non-blocking (`accept4` with `SOCK_NONBLOCK`: no second
    /// system call), for an event loop. The listener itself should be non-blocking.
    pub fn accept_nonblocking(&self) -> io::Result<Stream> {
        let fd = sys::accept_nonblocking(self.as_fd())?;
        Ok(self.adopt(fd))
    }

    /// Wraps a connection accepted on this listener by other means (io_uring's accept, which
    /// returns a bare descriptor) in the right kind of stream.
    pub fn adopt(&self, fd: OwnedFd) -> Stream {
        match self {
            Listener::Tcp(_) => Stream::Tcp(TcpStream::from(fd)),
            Listener::Unix(_) => Stream::Unix(UnixStream::from(fd)),
        }
    }

    pub fn try_clone(&self) -> io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l) => Listener::Unix(l.try_clone()?),
        })
    }

    /// Non-blocking mode belongs to the open socket: every clone of it changes too.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(on),
            Listener::Unix(l) => l.set_nonblocking(on),
        }
    }

    /// Bounds a blocking `accept` (SO_RCVTIMEO on the listening socket): it then fails with
    /// `WouldBlock`, so an accept loop can look at the shutdown flag.
    pub fn set_accept_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        SockRef::from(self).set_read_timeout(timeout)
    }

    /// Where it listens (the real port when port 0 was asked for).
    pub fn local_address(&self) -> io::Result<Address> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Address::Tcp),
            Listener::Unix(l) => {
                let addr = l.local_addr()?;
                let path = addr.as_pathname().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "an unnamed Unix socket")
                })?;
                Ok(Address::Unix(path.to_path_buf()))
            }
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Listener::Unix(_))
    }
}

impl Stream {
    /// A connection received as a bare descriptor (passed by another process with
    /// `SCM_RIGHTS`): asks the kernel which kind of socket it is.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Stream> {
        let domain = SockRef::from(&fd).domain()?;
        Ok(if domain == Domain::UNIX {
            Stream::Unix(UnixStream::from(fd))
        } else {
            Stream::Tcp(TcpStream::from(fd))
        })
    }

    /// TCP_NODELAY on a TCP connection (Nagle would hold back a small response waiting for the
    /// ACK of the previous one); nothing on a Unix socket, which has no Nagle.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(on),
            Stream::Unix(_) => Ok(()),
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            Stream::Unix(s) => s.set_write_timeout(timeout),
        }
    }

    /// Half- or fully closes the connection (`shutdown(2)`).
    pub fn shutdown(&self, how: Direction) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// Reads what has arrived without consuming it (`MSG_PEEK`): the park front looks at a
    /// request head and leaves it for the worker.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        sys::peek(self.as_fd(), buf)
    }

    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// Who is at the other end, for logs: `127.0.0.1:53312`, or `unix` (a Unix client's socket
    /// usually has no name).
    pub fn peer_label(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map_or_else(|_| "tcp".into(), |a| a.to_string()),
            Stream::Unix(s) => s
                .peer_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| format!("unix:{}", p.display())))
                .unwrap_or_else(|| "unix".into()),
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, Stream::Unix(_))
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

macro_rules! fd_impls {
    ($ty:ident) => {
        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                match self {
                    $ty::Tcp(s) => s.as_fd(),
                    $ty::Unix(s) => s.as_fd(),
                }
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.as_fd().as_raw_fd()
            }
        }

        impl From<$ty> for OwnedFd {
            fn from(socket: $ty) -> OwnedFd {
                match socket {
                    $ty::Tcp(s) => s.into(),
                    $ty::Unix(s) => s.into(),
                }
            }
        }

        /// Registered with a mio `Poll` by its descriptor, as mio's own sockets are: the event
        /// loops and the park front poll either kind alike.
        impl mio::event::Source for $ty {
            fn register(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> io::Result<()> {
                mio::unix::SourceFd(&self.as_raw_fd()).register(registry, token, interests)
            }

            fn reregister(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> io::Result<()> {
                mio::unix::SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
            }

            fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
                mio::unix::SourceFd(&self.as_raw_fd()).deregister(registry)
            }
        }
    };
}

fd_impls!(Listener);
fd_impls!(Stream);

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Listener {
        Listener::Tcp(l)
    }
}

impl From<UnixListener> for Listener {
    fn from(l: UnixListener) -> Listener {
        Listener::Unix(l)
    }
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Stream {
        Stream::Tcp(s)
    }
}

impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Stream {
        Stream::Unix(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_and_print_both_ways() {
        let tcp = |s: &str| s.parse::<SocketAddr>().map_err(|e| e.to_string());
        assert_eq!(
            Address::parse("unix:/tmp/a.sock", tcp).unwrap(),
            Address::Unix("/tmp/a.sock".into())
        );
        assert_eq!(
            Address::parse("127.0.0.1:80", tcp).unwrap().url(),
            "http://127.0.0.1:80"
        );
        assert_eq!(
            Address::Unix("/tmp/a.sock".into()).to_string(),
            "unix:/tmp/a.sock"
        );
        assert!(Address::parse("unix:", tcp).is_err());
        let long = format!("unix:/{}", "x".repeat(200));
        assert!(Address::parse(&long, tcp).unwrap_err().contains("at most"));
    }

    #[test]
    fn a_stale_socket_is_replaced_but_a_live_one_or_a_regular_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let live = bind_unix(&path, 16).unwrap();
        assert_eq!(
            bind_unix(&path, 16).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(live); // the file stays, nobody listens: stale
        let again = bind_unix(&path, 16).unwrap();
        drop(again);
        let file = dir.path().join("f");
        std::fs::write(&file, b"keep me").unwrap();
        assert_eq!(
            bind_unix(&file, 16).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
        remove_socket_file(&Address::Unix(file.clone()));
        assert!(file.exists(), "a regular file is never removed");
        remove_socket_file(&Address::Unix(path.clone()));
        assert!(!path.exists());
    }

    #[test]
    fn a_unix_connection_reads_writes_peeks_and_survives_a_descriptor_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let listener = Listener::from(bind_unix(&dir.path().join("s"), 16).unwrap());
        let Address::Unix(path) = listener.local_address().unwrap() else {
            panic!("not a unix address");
        };
        let mut client = UnixStream::connect(&path).unwrap();
        let server = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        server.set_nodelay(true).unwrap(); // a no-op, not an error
        let mut buf = [0u8; 4];
        assert_eq!(server.peek(&mut buf).unwrap(), 4);
        let server = Stream::from_fd(OwnedFd::from(server)).unwrap();
        assert!(server.is_unix());
        (&server).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping", "peek consumed nothing");
        (&server).write_all(b"pong").unwrap();
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    }
}
