//! The blocking connection loop: serve one connection until it closes. Every blocking model
//! (single_thread, thread_per_request, the process models) calls [`serve_connection`]; only what
//! surrounds the call differs between them. The pools with `--park on` call
//! [`serve_until_idle`] instead, which gives an idle keep-alive connection back to their front
//! ([`crate::park`]) rather than waiting on it.
//!
//! ```text
//! loop {
//!     while a complete request is buffered: handle it, queue the response
//!         (write what is queued first if it is a file or the queue passed 64 KiB)
//!     write the queued responses (one write for the whole batch)
//!     if the connection must close: close
//!     read more (bounded by the header, body or idle deadline)
//! }
//! ```
//!
//! **No allocation per request.** The connection reads into one [`Input`] (its room zero-filled
//! once, here, not before every read), the reader parses in place and consumes by offset, each
//! request is parsed into the one before it (its head copied into that storage), and responses are
//! appended to one output buffer that keeps its capacity and is written once per batch. A GET
//! without a body therefore costs no heap allocation once the connection has warmed up
//! (`tests/allocations.rs` counts: 0 over 1,300 requests, where there were 2 a request before).
//!
//! **Memory stays bounded whatever the client does.** Small pipelined responses are written in
//! one batch, but the queue is written out as soon as it passes [`OUTPUT_HIGH_WATER`], and a file
//! is streamed to the socket (sendfile) before the next request is parsed. A client that
//! pipelines requests for a large file and reads slowly therefore blocks its own connection in
//! `write` (until `--write-timeout`), holding no more than the queue's bound and the kernel's
//! socket buffer. Before, every pipelined response was built in memory first: 2,000 such
//! connections (`slowhttptest -X`, 1 MiB file, 3 requests each) took thread_per_request to
//! 6,053 MiB of RSS; now 48.8 MiB.

use crate::error::Rejection;
use crate::handler::{call, Handler};
use crate::input::Input;
use crate::limits::Limits;
use crate::net::{Stream, POLL_INTERVAL};
use crate::reader::{Parsed, RequestReader};
use crate::request::Request;
use crate::response::{respond, write_rejection, FileBody, CONTINUE_100};
use crate::shutdown::Shutdown;
use std::io::{self, Read, Write};
use std::net::Shutdown as Direction;
use std::time::{Duration, Instant};

/// How much is read from the socket at a time. A production server would size this to the
/// typical request; 4 KiB holds a typical head, or several pipelined ones, and is one page.
const READ_CHUNK: usize = 4 * 1024;

/// After an error response, how long we keep reading (and discarding) before closing, so that the
/// client reads our answer instead of a connection reset (Apache's "lingering close").
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Queued output above which the loop writes before answering the next pipelined request. A
/// production server picks about a socket buffer: enough to batch many small responses into one
/// write, small enough that a client which does not read cannot make the server hold much.
pub const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// An output buffer that grew past this (a large body in memory, `/echo`) is freed after it is
/// written instead of being kept for the rest of the connection.
const MAX_KEPT_OUTPUT: usize = 2 * OUTPUT_HIGH_WATER;

/// At shutdown, how long an idle connection (just accepted, or kept alive between requests)
/// still gets to send its next request, which is then answered with `Connection: close`. A
/// client that has just read a keep-alive response may already be sending its next request:
/// closing the connection under it would fail that request (a client may retry an idempotent
/// request on a reused connection; wrk and our load generator count it as an error). A
/// connection that sends nothing within this grace (or its idle timeout) is closed. It must stay
/// below `--drain-timeout`, after which the pools SIGKILL what is left.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How a connection ended, for a model's bookkeeping (scoreboards count requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnStats {
    /// Requests answered (error responses included).
    pub requests: u64,
}

/// Serves one connection until the client closes it, a timeout expires, the server shuts down,
/// or an error response ends it. Never panics on I/O errors; a handler's panic becomes a 500.
pub fn serve_connection(
    stream: Stream,
    handler: &dyn Handler,
    limits: &Limits,
    shutdown: &Shutdown,
) -> ConnStats {
    serve(stream, handler, limits, shutdown, None)
}

/// Like [`serve_connection`], but a keep-alive connection is given back (`Some`) instead of
/// waited on once it is idle: every request it sent has been answered and nothing more is
/// buffered. The pools with `--park on` call this and hand the connection back to their front
/// ([`crate::park`]), which waits for its next request without holding a worker. `None`: the
/// connection is closed (by either side, a timeout, an error, or shutdown).
pub fn serve_until_idle(
    stream: Stream,
    handler: &dyn Handler,
    limits: &Limits,
    shutdown: &Shutdown,
) -> (ConnStats, Option<Stream>) {
    let mut idle = None;
    let stats = serve(stream, handler, limits, shutdown, Some(&mut idle));
    (stats, idle)
}

/// The loop. With `give_back`, an idle keep-alive connection is moved there instead of waited on.
fn serve(
    mut stream: Stream,
    handler: &dyn Handler,
    limits: &Limits,
    shutdown: &Shutdown,
    mut give_back: Option<&mut Option<Stream>>,
) -> ConnStats {
    let mut stats = ConnStats::default();
    // Nagle would hold back a small response waiting for the ACK of the previous one (TCP only:
    // a no-op on a Unix socket). The loop
    // needs a blocking socket (with timeouts): one handed over by an event-driven front may
    // still be non-blocking, and would then fail a large write half-way and spin on reads.
    let setup = stream
        .set_nodelay(true)
        .and_then(|_| stream.set_nonblocking(false))
        .and_then(|_| stream.set_read_timeout(Some(POLL_INTERVAL)))
        .and_then(|_| stream.set_write_timeout(Some(limits.write_timeout)));
    if setup.is_err() {
        return stats;
    }
    let mut reader = RequestReader::new();
    // Read into once per read, consumed by offset; its room is zero-filled here, once.
    let mut buf = Input::with_capacity(READ_CHUNK);
    // Each request is parsed into this one, in the storage the last one left: no allocation
    // per request.
    let mut req = Request::default();
    // Responses are appended here and written once per batch; it keeps its capacity.
    let mut out: Vec<u8> = Vec::new();
    // When the current wait began: the last answer (idle clock) or the request's first byte
    // (header and body clocks).
    let mut wait_start = Instant::now();
    // At shutdown, until when an idle connection may still send its next request.
    let mut drain_until: Option<Instant> = None;
    loop {
        // 1. Answer every complete request already buffered (pipelining), in order.
        let mut close = false;
        loop {
            match reader.next_into(&mut buf, limits, &mut req) {
                Ok(Parsed::Complete) => {
                    let resp = call(handler, &req);
                    let queued = respond(&req, resp, shutdown.is_triggered(), &mut out);
                    stats.requests += 1;
                    // Back-pressure: a file, or a queue past the bound, goes out before the
                    // next request is even parsed, so a client that does not read blocks
                    // here instead of making us build its answers in memory.
                    let must_send = queued.file.is_some() || out.len() >= OUTPUT_HIGH_WATER;
                    if must_send && send(&mut stream, &mut out, queued.file).is_err() {
                        return stats;
                    }
                    wait_start = Instant::now();
                    if !queued.keep_alive {
                        close = true;
                        break;
                    }
                }
                Ok(Parsed::Continue) => {
                    out.extend_from_slice(CONTINUE_100);
                    wait_start = Instant::now();
                    break;
                }
                Ok(Parsed::Partial) => break,
                Err(rejection) => {
                    reject(&mut stream, &mut out, rejection);
                    stats.requests += 1;
                    return stats;
                }
            }
        }
        // 2. Write what was queued.
        if send(&mut stream, &mut out, None).is_err() {
            return stats;
        }
        if close {
            if buf.is_empty() {
                let _ = stream.shutdown(Direction::Write);
            } else {
                // The client pipelined more after the closing request: closing with those bytes
                // unread would send RST, which can destroy the response still in flight.
                lingering_close(&mut stream);
            }
            return stats;
        }
        // 3. Read more, within the deadline that applies now.
        let idle = buf.is_empty() && !reader.in_body();
        if idle && stats.requests > 0 && !shutdown.is_triggered() {
            if let Some(back) = give_back.as_mut() {
                **back = Some(stream);
                return stats;
            }
        }
        // At shutdown, an idle connection is not closed at once: its next request may be on
        // the wire already (a keep-alive client sends it as soon as it has read our last
        // answer; a pool worker told to leave may accept one last connection as the signal
        // lands). Closing it now would fail that request across a graceful reload, so it gets
        // DRAIN_GRACE to arrive, and its answer says `Connection: close` (step 1).
        if idle && shutdown.is_triggered() {
            let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN_GRACE);
            if Instant::now() >= until {
                return stats;
            }
        }
        let deadline = wait_start
            + if idle {
                limits.idle_timeout
            } else if reader.in_body() {
                limits.body_timeout
            } else {
                limits.header_timeout
            };
        match buf.read_from(&mut stream, READ_CHUNK) {
            Ok(0) => return stats, // the client closed
            Ok(_) => {
                if idle {
                    // First byte of a new request: the header clock starts now.
                    wait_start = Instant::now();
                }
            }
            Err(e) if is_timeout(&e) => {
                if Instant::now() >= deadline {
                    if !idle {
                        reject(&mut stream, &mut out, Rejection::Timeout);
                        stats.requests += 1;
                    }
                    return stats;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return stats,
        }
        // A slow client that trickles bytes never hits the read timeout; check the clock anyway.
        if !idle && Instant::now() >= deadline {
            reject(&mut stream, &mut out, Rejection::Timeout);
            stats.requests += 1;
            return stats;
        }
    }
}

/// Writes `out`, then streams `file` after it; leaves `out` empty (and small).
fn send(stream: &mut Stream, out: &mut Vec<u8>, file: Option<FileBody>) -> io::Result<()> {
    if !out.is_empty() {
        stream.write_all(out)?;
        out.clear();
        if out.capacity() > MAX_KEPT_OUTPUT {
            *out = Vec::new();
        }
    }
    if let Some(mut file) = file {
        file.send_all(stream)?;
    }
    Ok(())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Answers a rejection with `Connection: close`, then closes gracefully.
fn reject(stream: &mut Stream, out: &mut Vec<u8>, rejection: Rejection) {
    write_rejection(rejection, out);
    if stream.write_all(out).is_ok() {
        lingering_close(stream);
    }
    out.clear();
}

/// Half-closes, then reads and discards for up to [`LINGER`] (or until the client closes), so that
/// unread request bytes do not make the kernel answer with RST and destroy our response.
pub fn lingering_close(stream: &mut Stream) {
    let _ = stream.shutdown(Direction::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut discarded = 0usize;
    while Instant::now() < deadline && discarded < 1024 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => discarded += n,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
