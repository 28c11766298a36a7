//! Handing a connection to another process: its file descriptor, passed over a Unix socket.
//!
//! [`channel`] is a connected pair of Unix datagram sockets, made before `fork` so that every
//! process forked afterwards holds both ends. Each message carries one descriptor
//! (`SCM_RIGHTS`, [`crate::sys::send_fd`]): the receiver gets its own descriptor for the same
//! connection (TCP or Unix), as if it had accepted it. Several processes may wait on the same receiving
//! end; the kernel gives each message to exactly one of them, as it gives each connection of a
//! shared listening socket to one `accept`. Messages not yet taken wait in the socket's queue,
//! as connections wait in a listen backlog; a full queue makes a non-blocking sender get
//! `WouldBlock`.
//!
//! process_pool's front ([`crate::park::HandoffFront`]) sends connections with a whole request
//! head to its workers this way, and the workers send idle keep-alive connections back.

use crate::net::Stream;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// The sending end.
#[derive(Debug)]
pub struct ConnSender(UnixDatagram);

/// The receiving end (may be shared by several processes).
#[derive(Debug)]
pub struct ConnReceiver(UnixDatagram);

/// A new channel for connections between processes.
pub fn channel() -> io::Result<(ConnSender, ConnReceiver)> {
    let (tx, rx) = UnixDatagram::pair()?;
    Ok((ConnSender(tx), ConnReceiver(rx)))
}

impl ConnSender {
    /// Sends `conn`; the caller's descriptor stays open (drop it to close this copy).
    pub fn send(&self, conn: &Stream) -> io::Result<()> {
        crate::sys::send_fd(&self.0, conn.as_fd())
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.0.set_nonblocking(on)
    }

    /// How long a blocking send may wait for room in the queue.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(timeout)
    }
}

impl ConnReceiver {
    /// Receives a connection. It comes as the sender left it, blocking or not (the flag
    /// belongs to the open connection, shared by every descriptor of it): set it as needed.
    /// Which kind of socket it is (TCP or Unix) is asked of the kernel.
    pub fn recv(&self) -> io::Result<Stream> {
        Stream::from_fd(crate::sys::recv_fd(&self.0)?)
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.0.set_nonblocking(on)
    }

    /// How long a blocking receive may wait (`WouldBlock` after it).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }
}

impl AsFd for ConnReceiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// Passes `accepted` over a channel and writes through what arrives, then closes it: returns
    /// whether it arrived as a Unix socket, and what the client read until the close.
    fn pass(accepted: Stream, client: Stream) -> (bool, String) {
        let (tx, rx) = channel().unwrap();
        rx.set_timeout(Some(Duration::from_secs(5))).unwrap();
        tx.send(&accepted).unwrap();
        drop(accepted); // the receiver's descriptor keeps the connection open
        let received = rx.recv().unwrap();
        let unix = received.is_unix();
        (&received).write_all(b"through the handoff").unwrap();
        drop(received);
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut text = String::new();
        (&client).read_to_string(&mut text).unwrap();
        (unix, text)
    }

    #[test]
    fn a_connection_passed_over_the_channel_is_the_same_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let accepted = Stream::from(listener.accept().unwrap().0);
        let (unix, text) = pass(accepted, Stream::from(client));
        assert!(!unix);
        assert_eq!(text, "through the handoff");
    }

    #[test]
    fn a_unix_connection_passed_over_the_channel_stays_a_unix_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = crate::net::bind_unix(&path, 16).unwrap();
        let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let accepted = Stream::from(listener.accept().unwrap().0);
        let (unix, text) = pass(accepted, Stream::from(client));
        assert!(unix);
        assert_eq!(text, "through the handoff");
    }

    #[test]
    fn an_empty_channel_times_out() {
        let (_tx, rx) = channel().unwrap();
        rx.set_timeout(Some(Duration::from_millis(20))).unwrap();
        let e = rx.recv().unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        );
    }
}
