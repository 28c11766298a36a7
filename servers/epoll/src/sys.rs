//! The one raw call mio does not offer: registering the listening socket with
//! `EPOLLEXCLUSIVE` (`--accept exclusive`). mio registers every source edge-triggered
//! (`EPOLLET`) and stores the token in the event's data word; this registers the listener the
//! same way, plus `EPOLLEXCLUSIVE`, so that the loop's `Poll` reports it as it reports any
//! source. A source registered here is removed with [`deregister`], not through mio's
//! registry (which does not know it).

use mio::{Poll, Token};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Adds `fd` to `poll`'s epoll set, readable, edge-triggered and exclusive: when a connection
/// arrives on a socket several loops wait on, the kernel wakes one (or a few) of them instead of
/// all. (`EPOLLRDHUP` is not allowed with `EPOLLEXCLUSIVE`; a listener does not need it.)
pub fn register_exclusive(poll: &Poll, fd: BorrowedFd<'_>, token: Token) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET | libc::EPOLLEXCLUSIVE) as u32,
        u64: token.0 as u64,
    };
    // SAFETY: epoll_ctl reads the event we pass (alive for the call) and the two descriptors,
    // which the caller's borrows keep open; it writes nothing of ours.
    let rc = unsafe {
        libc::epoll_ctl(
            poll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut event,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes `fd` (added with [`register_exclusive`]) from `poll`'s epoll set.
pub fn deregister(poll: &Poll, fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: as above; EPOLL_CTL_DEL ignores the event pointer (null is allowed since 2.6.9).
    let rc = unsafe {
        libc::epoll_ctl(
            poll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd.as_raw_fd(),
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
