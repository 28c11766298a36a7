//! One client connection as a state machine driven by readiness events.
//!
//! The blocking loop in `lab_core::conn` keeps its place in the program counter: "I am reading
//! a head", "I am writing". An event loop cannot block, so that place is kept here, in
//! [`State`] and the reader, and [`Connection::advance`] moves it forward as far as it can go
//! without blocking each time something happens (readiness, an offloaded answer, a deadline).
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

use crate::buffers::{Buffers, READ_CHUNK};
use lab_core::response::FileBody;
use lab_core::{
    call, respond, write_rejection, Input, Limits, Parsed, Rejection, Request, RequestReader,
    Response, CONTINUE_100,
};
// The pieces that do not depend on epoll live in the toolkit, shared with io_uring.
use lab_core::net::Stream;
pub use lab_evloop::connection::{
    cost, interrupted, offload, would_block, Env, Flow, State, Wait, LINGER, LINGER_MAX_BYTES,
    OUTPUT_HIGH_WATER,
};
use mio::{Interest, Token};
use std::io::{self, Write};
use std::net::Shutdown as Direction;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Reads per [`Connection::advance`] before the connection yields to the others: a client that
/// pipelines without pause (and reads its answers) would otherwise keep the loop to itself.
const MAX_READS_PER_TURN: usize = 16;

/// One connection. Kept small: 144 bytes, buffers not included (see the `size_of` test; they
/// are empty and unallocated while idle), which is most of what an idle keep-alive connection costs in user space.
#[derive(Debug)]
pub struct Connection {
    pub stream: Stream,
    /// Tells this connection from an earlier one with the same token (for offload answers).
    pub id: u32,
    pub state: State,
    /// The interest registered with the `Poll`, so that it is changed only when it changes.
    pub interest: Interest,
    /// The client half-closed: no more requests will come.
    peer_closed: bool,
    /// An event said the peer's FIN is queued (EPOLLRDHUP): read until EOF, not just until a
    /// short read.
    pub eof_pending: bool,
    reader: RequestReader,
    /// Received bytes not yet consumed by the reader: empty and unallocated between requests.
    input: Input,
    /// Bytes to write, from `written` on: empty and unallocated once written.
    output: Vec<u8>,
    written: usize,
    /// A file body to stream once `output` is written (boxed: most connections have none). While
    /// it is here nothing more is answered, so responses stay in order.
    file: Option<Box<FileBody>>,
    /// When the current request's first byte arrived (header and body clocks).
    request_start: Instant,
    /// When the last response was queued or the last write made progress (idle, write and
    /// linger clocks).
    last_io: Instant,
    /// This connection's entry in the loop's timer set, if any: never later than its real
    /// deadline, maybe earlier (the loop moves entries lazily, see `Deadlines::settle`).
    pub deadline: Option<Instant>,
}

impl Connection {
    pub fn new(stream: Stream, id: u32) -> Self {
        let now = Instant::now();
        Connection {
            stream,
            id,
            state: State::Reading,
            interest: Interest::READABLE,
            peer_closed: false,
            eof_pending: false,
            reader: RequestReader::new(),
            input: Input::new(),
            output: Vec::new(),
            written: 0,
            file: None,
            request_start: now,
            last_io: now,
            deadline: None,
        }
    }

    /// Output queued but not yet accepted by the kernel, the rest of a streamed file included.
    pub fn pending_output(&self) -> usize {
        let file = self.file.as_ref().map_or(0, |f| f.remaining());
        (self.output.len() - self.written)
            .saturating_add(usize::try_from(file).unwrap_or(usize::MAX))
    }

    /// Whether the next buffered request may be answered (and more bytes read) now: not while
    /// a request is offloaded or the connection is closing, not while a file is being streamed
    /// (its response must end before the next begins), not while the output is over the bound.
    fn can_answer(&self) -> bool {
        self.state == State::Reading
            && self.file.is_none()
            && self.pending_output() < OUTPUT_HIGH_WATER
    }

    /// Idle keep-alive: nothing buffered, nothing being received, written, or computed.
    pub fn is_idle(&self) -> bool {
        self.wait() == Wait::Idle
    }

    pub fn wait(&self) -> Wait {
        match self.state {
            State::Offloaded => Wait::Handler,
            State::Lingering => Wait::Linger,
            _ if self.pending_output() > 0 => Wait::Write,
            State::Closing { .. } => Wait::Write,
            State::Reading if self.reader.in_body() || !self.input.is_empty() => Wait::Request,
            State::Reading => Wait::Idle,
        }
    }

    /// When the current wait times out.
    pub fn next_deadline(&self, limits: &Limits) -> Option<Instant> {
        match self.wait() {
            Wait::Handler => None,
            Wait::Idle => Some(self.last_io + limits.idle_timeout),
            Wait::Request if self.reader.in_body() => {
                Some(self.request_start + limits.body_timeout)
            }
            Wait::Request => Some(self.request_start + limits.header_timeout),
            Wait::Write => Some(self.last_io + limits.write_timeout),
            Wait::Linger => Some(self.last_io + LINGER),
        }
    }

    /// Moves the connection forward as far as it goes without blocking. Called for every
    /// event, whatever its kind: trying a read or a write that is not ready costs one syscall
    /// that answers `WouldBlock`, and this way a spurious wake-up is harmless by construction.
    pub fn advance(&mut self, token: Token, env: &mut Env) -> Flow {
        match self.try_advance(token, env) {
            Ok(flow) => flow,
            // A reset, a broken pipe: this connection is over; the loop goes on.
            Err(_) => Flow::Close,
        }
    }

    fn try_advance(&mut self, token: Token, env: &mut Env) -> io::Result<Flow> {
        let mut yielded = false;
        if self.state == State::Reading {
            yielded = self.pump(token, env)?;
        }
        // Responses queued before an offloaded request are written while it runs.
        self.flush(env)?;
        if let State::Closing { linger } = self.state {
            if self.pending_output() > 0 {
                return Ok(Flow::Open);
            }
            let _ = self.stream.shutdown(Direction::Write);
            env.buffers.give_input(&mut self.input);
            if !linger || self.peer_closed {
                return Ok(Flow::Close);
            }
            self.state = State::Lingering;
            self.last_io = Instant::now();
        }
        if self.state == State::Lingering {
            return self.discard(&mut env.buffers);
        }
        Ok(if yielded { Flow::Again } else { Flow::Open })
    }

    /// The heart of the model: answer what is buffered, write, read more; repeat until the
    /// socket has nothing more to read (`WouldBlock`) or the connection must wait. Returns true
    /// if it stopped only to give other connections a turn.
    fn pump(&mut self, token: Token, env: &mut Env) -> io::Result<bool> {
        // Parse in the loop's scratch buffer when nothing is left over from an earlier read;
        // only a partial request is copied out into a buffer of the connection's own.
        let own = !self.input.is_empty();
        let mut input = if own {
            std::mem::take(&mut self.input)
        } else {
            std::mem::take(&mut env.buffers.scratch)
        };
        let result = self.pump_from(token, &mut input, env);
        if own {
            self.input = input;
            if self.input.is_empty() {
                env.buffers.give_input(&mut self.input);
            }
        } else {
            if !input.is_empty() {
                self.input = env.buffers.take_copy(input.bytes());
                input.clear();
            }
            env.buffers.scratch = input;
        }
        result
    }

    fn pump_from(&mut self, token: Token, input: &mut Input, env: &mut Env) -> io::Result<bool> {
        let mut drained = false;
        for _ in 0..MAX_READS_PER_TURN {
            self.answer_and_flush(token, input, env)?;
            if drained {
                // The last read was short: it took everything the socket had. Data that arrives
                // from now on raises a new edge-triggered event, so a read now would only answer
                // `WouldBlock`: save that syscall (nginx does the same when it has EPOLLRDHUP,
                // which is why a FIN makes us read on until EOF, see `eof_pending`).
                return Ok(false);
            }
            if !self.can_answer() {
                // Back-pressure or a parked request: reading on would only pile up requests
                // we cannot answer yet (in memory). We stop before `WouldBlock`, so readiness
                // may be left unconsumed: with edge-triggered notification no new event comes
                // for bytes already queued. That is why the loop drives the connection again
                // when it is writable or its answer comes back, and this read is retried then.
                return Ok(false);
            }
            let was_waiting = input.is_empty() && !self.reader.in_body();
            match input.read_from(&mut self.stream, READ_CHUNK) {
                Ok(0) => {
                    // The client closed its side. Complete requests were answered above; a
                    // partial one never will be.
                    self.peer_closed = true;
                    self.state = State::Closing { linger: false };
                    return Ok(false);
                }
                Ok(n) => {
                    if was_waiting {
                        // The first byte of a request: the header clock starts now (the
                        // loop's clock: no handler ran since it was read).
                        self.request_start = env.now;
                    }
                    drained = n < READ_CHUNK && !self.eof_pending;
                }
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        // Answer what the last read brought before yielding.
        self.answer_and_flush(token, input, env)?;
        Ok(self.state == State::Reading)
    }

    /// Answers buffered requests and writes, for as long as writing makes room for more
    /// answers. Returns when the socket is full (a WRITABLE event brings us back), when no
    /// whole request is buffered, or when one is parked with the offload pool.
    fn answer_and_flush(
        &mut self,
        token: Token,
        input: &mut Input,
        env: &mut Env,
    ) -> io::Result<()> {
        loop {
            let blocked = self.answer_buffered(token, input, env);
            self.flush(env)?;
            // Only back-pressure can be relieved by the write just made; after a partial or
            // parked request, answering again would change nothing.
            if !blocked || !self.can_answer() {
                return Ok(());
            }
        }
    }

    /// Answers every complete request in `input`, in order (pipelining), until one must wait.
    /// Returns true if it stopped for back-pressure (output over the bound, or a file to
    /// stream) with requests possibly still buffered.
    fn answer_buffered(&mut self, token: Token, input: &mut Input, env: &mut Env) -> bool {
        // One look at the clock and one update of the shared request counter for the batch, not
        // one per request (an atomic add costs as much as some of the parsing).
        let now = env.now;
        let mut answered = 0;
        // Every request of the batch is parsed into the loop's one request, in place.
        let mut request = env.buffers.take_request();
        let blocked = self.answer_batch(token, input, now, &mut request, &mut answered, env);
        env.buffers.give_request(request);
        if answered > 0 {
            env.counters.requests.fetch_add(answered, Ordering::Relaxed);
            // The handlers may have taken long: what follows (the write's timestamp, the next
            // request's first byte) must not be dated from before them.
            env.now = Instant::now();
        }
        blocked
    }

    /// [`Self::answer_buffered`]'s loop, parsing into `request`; `answered` counts the
    /// responses it queues.
    fn answer_batch(
        &mut self,
        token: Token,
        input: &mut Input,
        now: Instant,
        request: &mut Request,
        answered: &mut u64,
        env: &mut Env,
    ) -> bool {
        loop {
            if !self.can_answer() {
                return self.state == State::Reading && !input.is_empty();
            }
            // Parsed in place from `input`, consumed by offset, into `request`'s storage.
            match self.reader.next_into(input, &env.limits, request) {
                Ok(Parsed::Complete) => {
                    // Pipelined bytes after it are the next request, arriving now.
                    self.request_start = now;
                    if self.offload(token, request, env) {
                        return false; // parked until the pool answers
                    }
                    let response = call(env.handler.as_ref(), request);
                    self.queue(request, response, now, env);
                    *answered += 1;
                }
                Ok(Parsed::Continue) => {
                    self.output_buffer(&mut env.buffers)
                        .extend_from_slice(CONTINUE_100);
                }
                Ok(Parsed::Partial) => return false,
                Err(rejection) => {
                    self.reject(rejection, input, env);
                    return false;
                }
            }
        }
    }

    /// Writes the answer to `request` and decides whether the connection stays open.
    /// A file body is kept open and streamed by `flush` once the head is out.
    pub fn queue_response(
        &mut self,
        request: &Request,
        response: Response,
        now: Instant,
        env: &mut Env,
    ) {
        self.queue(request, response, now, env);
        env.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// [`Self::queue_response`] without counting the response.
    fn queue(&mut self, request: &Request, response: Response, now: Instant, env: &mut Env) {
        // Read after the handler ran, not once per batch: a shutdown that came while a slow
        // handler ran must still say `Connection: close` on its response.
        let shutting_down = env.shutdown.is_triggered();
        let queued = respond(
            request,
            response,
            shutting_down,
            self.output_buffer(&mut env.buffers),
        );
        self.file = queued.file.map(Box::new);
        self.last_io = now;
        if !queued.keep_alive {
            self.state = State::Closing { linger: true };
        }
    }

    /// Answers a refused request (or a timeout) and closes after writing it.
    pub fn reject(&mut self, rejection: Rejection, input: &mut Input, env: &mut Env) {
        write_rejection(rejection, self.output_buffer(&mut env.buffers));
        env.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.last_io = Instant::now();
        input.clear();
        self.state = State::Closing { linger: true };
    }

    /// The header or body deadline passed: 408, then close.
    pub fn time_out(&mut self, token: Token, env: &mut Env) -> Flow {
        let mut input = std::mem::take(&mut self.input);
        self.reject(Rejection::Timeout, &mut input, env);
        env.buffers.give_input(&mut input);
        self.advance(token, env)
    }

    /// An answer came back from the offload pool.
    pub fn resume(
        &mut self,
        token: Token,
        request: &Request,
        response: Response,
        env: &mut Env,
    ) -> Flow {
        self.state = State::Reading;
        // Requests pipelined behind the offloaded one could not be answered while it ran: their
        // header clock starts now, not when it was received (else a slow handler, or a machine
        // under load, turns a complete buffered request into a 408).
        let now = Instant::now();
        self.request_start = now;
        self.queue_response(request, response, now, env);
        self.advance(token, env)
    }

    /// With offload on, hands a Cpu or Blocking request to the pool and parks the connection
    /// (returns `None`); gives a Quick request back to be answered inline.
    fn offload(&mut self, token: Token, request: &mut Request, env: &mut Env) -> bool {
        let parked = offload(env, token.0, self.id, request);
        if parked {
            self.state = State::Offloaded;
        }
        parked
    }

    /// The output buffer, borrowed from the pool if the connection holds none.
    fn output_buffer(&mut self, buffers: &mut Buffers) -> &mut Vec<u8> {
        if self.output.capacity() == 0 {
            self.output = buffers.take();
        }
        &mut self.output
    }

    /// Writes queued output, then streams the file body if there is one, until it is all
    /// written or the socket would block.
    fn flush(&mut self, env: &mut Env) -> io::Result<()> {
        let buffers = &mut env.buffers;
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    self.last_io = env.now;
                }
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if self.output.capacity() > 0 {
            self.written = 0;
            buffers.give(&mut self.output);
        }
        // The head is out: now the file, from the page cache to the socket (sendfile), as much
        // as the socket buffer takes. A slow reader holds an open file here, not its bytes.
        while let Some(file) = &mut self.file {
            if file.remaining() == 0 {
                self.file = None;
                // Likewise for requests buffered behind a streamed file.
                self.request_start = Instant::now();
                break;
            }
            match file.send_to(&self.stream) {
                Ok(_) => self.last_io = Instant::now(),
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Lingering: read and throw away until the client closes (or it sends too much).
    fn discard(&mut self, buffers: &mut Buffers) -> io::Result<Flow> {
        let scratch = &mut buffers.scratch;
        let mut discarded = 0;
        loop {
            scratch.clear();
            match scratch.read_from(&mut self.stream, READ_CHUNK) {
                Ok(0) => return Ok(Flow::Close),
                Ok(n) => {
                    discarded += n;
                    if discarded > LINGER_MAX_BYTES {
                        return Ok(Flow::Close);
                    }
                }
                Err(e) if would_block(&e) => {
                    scratch.clear();
                    return Ok(Flow::Open);
                }
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The interest this connection needs now: always readable (to see requests, or the close
    /// while lingering), writable only while output waits for room in the socket buffer.
    pub fn wanted_interest(&self) -> Interest {
        if self.pending_output() > 0 {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }
}
