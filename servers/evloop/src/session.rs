//! One connection's HTTP exchange without its socket: a completion-based loop (io_uring) hands
//! it the bytes a receive brought and takes the bytes to send from it. It answers requests in
//! order (pipelining), parks the connection while an offloaded request runs, applies
//! back-pressure, and says which clock runs ([`Wait`]) and when it expires.
//!
//! ```text
//!   received(bytes) ─▶ input ─▶ RequestReader::next_into ─▶ handler (inline) ─▶ output
//!                                        │                                        │
//!                                        └─▶ offload pool ─▶ resume(response) ───┘
//!   the transport takes `output` (take_output), sends it, and reports what is still unsent
//! ```
//!
//! The epoll model's `Connection` does the same work interleaved with its non-blocking reads
//! and writes (readiness: it pulls bytes when the kernel says they are there); a session is
//! pushed bytes instead (completion: the kernel already read them into a buffer of ours).

use crate::connection::{offload, Env, State, Wait, LINGER, OUTPUT_HIGH_WATER};
use lab_core::response::FileBody;
use lab_core::{
    call, respond, write_rejection, Input, Limits, Parsed, Rejection, Request, RequestReader,
    Response, CONTINUE_100,
};

/// How much of a file body is read into the output at a time: the transport sends from our
/// buffers, so a file goes out in chunks, each read when the previous one has been taken. A slow
/// reader holds one chunk, never the file.
pub const FILE_CHUNK: usize = 64 * 1024;
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Debug)]
pub struct Session {
    /// Tells this connection from an earlier one in the same slot (for offload answers).
    pub id: u32,
    pub state: State,
    /// The client half-closed: no more requests will come.
    pub peer_closed: bool,
    reader: RequestReader,
    /// Received bytes not yet consumed by the reader: empty and unallocated between requests.
    input: Input,
    /// Responses queued and not yet taken by the transport: empty and unallocated when idle.
    output: Vec<u8>,
    /// A file body still to send after `output` (boxed: most sessions have none). While it is
    /// here nothing more is answered, so responses stay in order.
    file: Option<Box<FileBody>>,
    /// When the current request's first byte arrived, or when the session could take it (after
    /// an offloaded request or a file body it was pipelined behind): the header and body clocks.
    request_start: Instant,
    /// When the last response was queued or the last send made progress (idle, write and
    /// linger clocks).
    last_io: Instant,
    /// The deadline this connection has in the loop's deadline set, if any.
    pub deadline: Option<Instant>,
}

impl Session {
    pub fn new(id: u32) -> Self {
        let now = Instant::now();
        Session {
            id,
            state: State::Reading,
            peer_closed: false,
            reader: RequestReader::new(),
            input: Input::new(),
            output: Vec::new(),
            file: None,
            request_start: now,
            last_io: now,
            deadline: None,
        }
    }

    /// Bytes received and waiting to be parsed (while offloaded or under back-pressure).
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// Bytes queued for the transport to take, the rest of a file body included.
    pub fn queued_output(&self) -> usize {
        let file = self.file.as_ref().map_or(0, |f| f.remaining());
        self.output
            .len()
            .saturating_add(usize::try_from(file).unwrap_or(usize::MAX))
    }

    /// Whether the next buffered request may be answered now: not while offloaded or closing,
    /// not while a file body is still going out, not while the output is over the bound.
    fn can_answer(&self, unsent: usize) -> bool {
        self.state == State::Reading
            && self.file.is_none()
            && unsent + self.queued_output() < OUTPUT_HIGH_WATER
    }

    /// Which clock runs, given the bytes the transport has taken but not yet sent.
    pub fn wait(&self, unsent: usize) -> Wait {
        match self.state {
            State::Offloaded => Wait::Handler,
            State::Lingering => Wait::Linger,
            _ if unsent + self.queued_output() > 0 => Wait::Write,
            State::Closing { .. } => Wait::Write,
            State::Reading if self.reader.in_body() || !self.input.is_empty() => Wait::Request,
            State::Reading => Wait::Idle,
        }
    }

    /// When the current wait times out.
    pub fn next_deadline(&self, unsent: usize, limits: &Limits) -> Option<Instant> {
        match self.wait(unsent) {
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

    /// The transport sent some bytes (at `now`): the write and linger clocks restart.
    pub fn sent(&mut self, now: Instant) {
        self.last_io = now;
    }

    /// Starts lingering (the transport shut down the write side).
    pub fn linger(&mut self, now: Instant) {
        self.state = State::Lingering;
        self.last_io = now;
    }

    /// The client closed its side. Complete requests are still answered (and written); a
    /// partial one never will be.
    pub fn peer_closed(&mut self, unsent: usize) {
        self.peer_closed = true;
        self.check_peer(unsent);
    }

    /// After the client's EOF, once nothing more can be answered: close after writing.
    fn check_peer(&mut self, unsent: usize) {
        if self.peer_closed && self.can_answer(unsent) {
            self.state = State::Closing { linger: false };
        }
    }

    /// Takes the queued output (to send it); leaves none. Once the responses are out, each call
    /// takes the next chunk of a file body. A file that cannot be read any more cannot keep the
    /// length its head promised: the connection closes.
    pub fn take_output(&mut self) -> Vec<u8> {
        if self.output.is_empty() {
            if let Some(file) = &mut self.file {
                let mut chunk = Vec::with_capacity(FILE_CHUNK.min(file.remaining() as usize));
                if file.append_chunk(&mut chunk, FILE_CHUNK).is_err() {
                    self.state = State::Closing { linger: false };
                    self.file = None;
                } else if file.remaining() == 0 {
                    self.file = None;
                    // Requests buffered behind the file could not be answered while it went
                    // out: their header clock starts now (as after an offloaded request).
                    self.request_start = Instant::now();
                }
                return chunk;
            }
        }
        std::mem::take(&mut self.output)
    }

    /// Bytes arrived. Answers every complete request among them unless the connection must
    /// wait (offloaded, or `unsent` plus queued output is past the high-water mark), in which
    /// case they stay buffered until [`Session::answer_buffered`]. `now` is the loop's clock
    /// for this round (one clock read per round, not several per request).
    pub fn received(
        &mut self,
        key: usize,
        bytes: &[u8],
        unsent: usize,
        now: Instant,
        env: &mut Env,
    ) {
        if self.state == State::Lingering || matches!(self.state, State::Closing { .. }) {
            return; // discarded: nothing more is answered
        }
        if self.input.is_empty() && !self.reader.in_body() {
            // The first byte of a request: the header clock starts now.
            self.request_start = now;
        }
        if !self.input.is_empty() {
            self.input.extend_from_slice(bytes);
            return self.answer_buffered(key, unsent, now, env);
        }
        // Parse in the loop's scratch buffer; only a partial request is copied out into a
        // buffer of the connection's own.
        let mut scratch = std::mem::take(&mut env.buffers.scratch);
        scratch.clear();
        scratch.extend_from_slice(bytes);
        self.answer_from(key, &mut scratch, unsent, now, env);
        if !scratch.is_empty() {
            self.input = env.buffers.take_copy(scratch.bytes());
            scratch.clear();
        }
        env.buffers.scratch = scratch;
    }

    /// Answers what is buffered (after an offloaded answer came back, or output drained).
    pub fn answer_buffered(&mut self, key: usize, unsent: usize, now: Instant, env: &mut Env) {
        if self.input.is_empty() {
            return self.check_peer(unsent);
        }
        let mut input = std::mem::take(&mut self.input);
        self.answer_from(key, &mut input, unsent, now, env);
        self.input = input;
        if self.input.is_empty() {
            env.buffers.give_input(&mut self.input);
        }
        self.check_peer(unsent);
    }

    /// Answers every complete request in `input`, in order (pipelining), until one must wait.
    fn answer_from(
        &mut self,
        key: usize,
        input: &mut Input,
        unsent: usize,
        now: Instant,
        env: &mut Env,
    ) {
        // Every request of the batch is parsed into the loop's one request, in place, and the
        // shared request counter is added to once for the batch (an atomic add per request
        // costs as much as some of the parsing), as epoll's loop does.
        let mut request = env.buffers.take_request();
        let mut answered = 0;
        self.answer_into(key, input, unsent, now, &mut request, &mut answered, env);
        env.buffers.give_request(request);
        if answered > 0 {
            env.counters.requests.fetch_add(answered, Ordering::Relaxed);
        }
    }

    /// [`Self::answer_from`]'s loop, parsing into `request`; `answered` counts the responses it
    /// queues.
    #[allow(clippy::too_many_arguments)]
    fn answer_into(
        &mut self,
        key: usize,
        input: &mut Input,
        unsent: usize,
        now: Instant,
        request: &mut Request,
        answered: &mut u64,
        env: &mut Env,
    ) {
        while self.can_answer(unsent) {
            match self.reader.next_into(input, &env.limits, request) {
                Ok(Parsed::Complete) => {
                    // Pipelined bytes after it are the next request, arriving now.
                    self.request_start = now;
                    if self.offload(key, request, env) {
                        return; // parked until the pool answers
                    }
                    let response = call(env.handler.as_ref(), request);
                    self.queue(request, response, now, env);
                    *answered += 1;
                }
                Ok(Parsed::Continue) => {
                    self.output_buffer(env).extend_from_slice(CONTINUE_100);
                }
                Ok(Parsed::Partial) => return,
                Err(rejection) => {
                    input.clear();
                    return self.reject(rejection, now, env);
                }
            }
        }
    }

    /// Writes the answer to `request`, counted, and decides whether the connection stays open.
    fn queue_response(
        &mut self,
        request: &Request,
        response: Response,
        now: Instant,
        env: &mut Env,
    ) {
        self.queue(request, response, now, env);
        env.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// [`Self::queue_response`] without counting the response. A file body is kept open and
    /// read a chunk at a time by `take_output`.
    fn queue(&mut self, request: &Request, response: Response, now: Instant, env: &mut Env) {
        let shutting_down = env.shutdown.is_triggered();
        let queued = respond(request, response, shutting_down, self.output_buffer(env));
        self.file = queued.file.map(Box::new);
        self.last_io = now;
        if !queued.keep_alive {
            self.state = State::Closing { linger: true };
        }
    }

    /// Answers a refused request (or a timeout) and closes after writing it.
    fn reject(&mut self, rejection: Rejection, now: Instant, env: &mut Env) {
        write_rejection(rejection, self.output_buffer(env));
        env.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.last_io = now;
        self.state = State::Closing { linger: true };
    }

    /// The header or body deadline passed: 408, then close.
    pub fn time_out(&mut self, now: Instant, env: &mut Env) {
        env.buffers.give_input(&mut self.input);
        self.reject(Rejection::Timeout, now, env);
    }

    /// An answer came back from the offload pool: queue it, then answer what was pipelined
    /// behind it.
    pub fn resume(
        &mut self,
        key: usize,
        request: &Request,
        response: Response,
        unsent: usize,
        now: Instant,
        env: &mut Env,
    ) {
        self.state = State::Reading;
        // Requests pipelined behind the offloaded one could not be answered while it ran: their
        // header clock starts now, not when they were received (else a slow handler turns a
        // request the client finishes after this answer into a 408).
        self.request_start = now;
        self.queue_response(request, response, now, env);
        self.answer_buffered(key, unsent, now, env);
    }

    /// With offload on, hands a Cpu or Blocking request to the pool and parks the connection
    /// (returns `None`); gives a Quick request back to be answered inline.
    fn offload(&mut self, key: usize, request: &mut Request, env: &mut Env) -> bool {
        let parked = offload(env, key, self.id, request);
        if parked {
            self.state = State::Offloaded;
        }
        parked
    }

    /// The output buffer, borrowed from the pool if the session holds none.
    fn output_buffer(&mut self, env: &mut Env) -> &mut Vec<u8> {
        if self.output.capacity() == 0 {
            self.output = env.buffers.take();
        }
        &mut self.output
    }

    /// Gives every buffer back to the loop's pool (the connection is closing).
    pub fn release(&mut self, env: &mut Env) {
        env.buffers.give_input(&mut self.input);
        env.buffers.give(&mut self.output);
    }
}
