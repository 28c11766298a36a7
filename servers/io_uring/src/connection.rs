//! One connection on a ring: its socket, its HTTP session (the toolkit's, which does no I/O),
//! and the two operations it may have in the kernel: one multishot receive and one send.
//!
//! ```text
//!   recv (multishot, armed once) ──completion: bytes in a ring buffer──▶ session.received
//!   session.take_output ──▶ send (one at a time; a short send is resubmitted for the rest)
//!   close: cancel what is in flight; the socket is closed when the last completion arrives
//! ```

use lab_core::net::Stream;
use lab_evloop::{Session, Wait};

/// The multishot receive of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// Not armed: the next settle arms it if the connection wants bytes.
    Off,
    /// Armed: completions keep coming until one arrives without the MORE flag.
    Armed,
    /// Cancellation asked; its last completion has not arrived yet.
    Cancelling,
}

#[derive(Debug)]
pub struct Connection {
    pub stream: Stream,
    pub session: Session,
    pub recv: Recv,
    /// Bytes of the send in flight, and where in its buffer it started (0: no send in flight).
    pub sending: usize,
    pub send_from: usize,
    pub send_cancelled: bool,
    /// Closed by the loop: waiting for its operations' last completions before the slot (and
    /// the socket) is released.
    pub closed: bool,
    /// Queued in this round's settle list.
    pub dirty: bool,
    /// Bytes thrown away while lingering.
    pub discarded: usize,
}

impl Connection {
    pub fn new(stream: Stream, id: u32) -> Self {
        Connection {
            stream,
            session: Session::new(id),
            recv: Recv::Off,
            sending: 0,
            send_from: 0,
            send_cancelled: false,
            closed: false,
            dirty: false,
            discarded: 0,
        }
    }

    /// Bytes handed to the kernel and not yet confirmed sent.
    pub fn unsent(&self) -> usize {
        self.sending
    }

    pub fn is_idle(&self) -> bool {
        self.session.wait(self.unsent()) == Wait::Idle
    }

    /// Nothing of this connection is in the kernel any more: its slot can be reused.
    pub fn released(&self) -> bool {
        self.closed && self.recv == Recv::Off && self.sending == 0
    }
}
