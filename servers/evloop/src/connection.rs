//! The pieces of a connection's state machine that do not depend on how bytes move: what a loop
//! lends its connections ([`Env`]), where a connection is in its life ([`State`]), which clock
//! runs for it ([`Wait`]), what the loop does with it next ([`Flow`]), and the limits every
//! event loop applies the same way.
//!
//! ```text
//!            ┌──────── answer from the pool ───────┐
//!            ▼                                     │
//!  accept ─▶ Reading ── Cpu/Blocking request ─▶ Offloaded
//!            │  ▲ keep-alive
//!            │  └──────────┐
//!            ├─ response with Connection: close, rejection, EOF ─▶ Closing ─▶ Lingering ─▶ closed
//!            └─ idle timeout, error ─▶ closed
//! ```

use crate::buffers::Buffers;
use crate::counters::LoopCounters;
use crate::offload::{Job, Reply};
use crossbeam_channel::Sender;
use lab_core::{Cost, Handler, Limits, Request, Shutdown};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Above this much unwritten output (a file being streamed counts with what is left of it), a
/// connection stops answering (and so stops reading) until the client reads: back-pressure
/// against a client that pipelines without reading. The blocking loop uses the same bound.
pub const OUTPUT_HIGH_WATER: usize = lab_core::conn::OUTPUT_HIGH_WATER;

/// After the last response of a connection, how long we keep reading (and discarding) before
/// closing, so that unread request bytes do not make the kernel answer with RST and destroy
/// our response (Apache's "lingering close"; the blocking loop does the same).
pub const LINGER: Duration = Duration::from_secs(2);

/// The most bytes discarded while lingering.
pub const LINGER_MAX_BYTES: usize = 1024 * 1024;

/// What a loop lends its connections while it drives them: everything that is per loop, not
/// per connection.
pub struct Env {
    pub handler: Arc<dyn Handler>,
    pub limits: Limits,
    pub shutdown: Shutdown,
    pub buffers: Buffers,
    /// Present when offload is on: where Cpu and Blocking requests go, and how they come back.
    pub offload: Option<(Sender<Job>, Reply)>,
    pub counters: Arc<LoopCounters>,
    /// The loop's clock: read once when a wait returns, and (epoll) again after each batch of
    /// handler calls (they may take long), never per read, write or request. On a VM a clock read
    /// costs tens of nanoseconds, about as much as parsing a small request. Timestamps taken
    /// from it (when a request began, the last I/O) are early by at most the I/O work done
    /// since it was read (no handler runs in between), so a deadline fires at most that early.
    pub now: Instant,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Reading requests and answering them.
    Reading,
    /// A request is with the offload pool. Nothing more is parsed (pipelined bytes wait in
    /// `input`) so that responses stay in request order.
    Offloaded,
    /// The last response is queued; once written, the write side is shut down.
    Closing { linger: bool },
    /// Write side shut down; discarding what the client still sends until it closes.
    Lingering,
}

/// What the loop should do with a connection after driving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Open,
    /// Open, and it stopped reading to give the others a turn: drive it again next turn,
    /// without waiting for an event (none will come for bytes already queued).
    Again,
    Close,
}

/// Which clock runs for a connection now, and so what its deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Nothing: a request is with the offload pool.
    Handler,
    /// Keep-alive, between requests. Expiry: close quietly.
    Idle,
    /// Receiving a head or a body. Expiry: 408, then close.
    Request,
    /// Waiting for the client to read our output. Expiry: close.
    Write,
    /// Lingering. Expiry: close.
    Linger,
}

/// The handler's cost class; a panicking `cost` counts as Quick (and `call` then catches the
/// handler's own panic), so that one bad request cannot take the loop down.
pub fn cost(handler: &dyn Handler, request: &Request) -> Cost {
    lab_core::handler::cost(handler, request)
}

/// With offload on, hands a Cpu or Blocking request to the pool, as connection `key` (its slot,
/// and `id` to tell a reused slot's answers apart), and returns true: the request is taken out of
/// `request` (left empty) and the caller parks the connection ([`State::Offloaded`]). A Quick
/// request, or any request with offload off, stays where it is, to be answered inline (false).
#[inline]
pub fn offload(env: &Env, key: usize, id: u32, request: &mut Request) -> bool {
    // With offload off (the default) this is one test, inlined into the request path: it runs
    // for every request.
    match &env.offload {
        None => false,
        Some((jobs, reply)) => hand_over(env, jobs, reply, key, id, request),
    }
}

/// [`offload`] with the pool on.
fn hand_over(
    env: &Env,
    jobs: &Sender<Job>,
    reply: &Reply,
    key: usize,
    id: u32,
    request: &mut Request,
) -> bool {
    if cost(env.handler.as_ref(), request) == Cost::Quick {
        return false;
    }
    let job = Job {
        key,
        id,
        request: std::mem::take(request),
        reply: reply.clone(),
    };
    match jobs.send(job) {
        Ok(()) => {
            env.counters
                .offloaded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            true
        }
        // The pool is gone (it outlives the loops, so this is a bug): answer inline.
        Err(failed) => {
            *request = failed.into_inner().request;
            false
        }
    }
}

pub fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

pub fn interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}
