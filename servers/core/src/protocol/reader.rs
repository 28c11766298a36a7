//! The request reader: turns the bytes a connection has received into whole requests.
//!
//! This is the piece every model shares, blocking or not. It owns no socket: the caller reads into
//! an [`Input`] and calls [`RequestReader::next_into`], which parses in place from the front of
//! the unconsumed bytes and consumes each complete request by moving the input's offset (no byte
//! is moved per request; the input compacts at most once per read). `Partial` is a normal answer
//! (read more and call again), which is how an event loop accumulates a request across readiness
//! events and how pipelined requests (several in one read) come out one at a time, in order.
//!
//! The request is parsed into a [`Request`] the caller keeps and passes again for the next one:
//! its head's storage is reused (a request without a body costs no allocation) and the request
//! never moves, which in a pipelined batch of small requests is a cost of its own (a `Request` is
//! over 100 bytes). [`RequestReader::advance`] returns a new request each time (it allocates), for
//! tests and tools.

use crate::body::BodyDecoder;
use crate::error::Rejection;
use crate::input::Input;
use crate::limits::Limits;
use crate::parse::parse_head_into;
use crate::request::{Framing, Head, Request};

/// What the buffered bytes amount to.
#[derive(Debug)]
pub enum Progress {
    /// A whole request, consumed from the front of the input.
    Complete(Request),
    /// The client sent `Expect: 100-continue` and is waiting before it sends the body: write
    /// `100 Continue` ([`crate::response::CONTINUE_100`]), then keep reading.
    Continue,
    /// Not a whole request yet: read more.
    Partial,
}

/// What [`RequestReader::next_into`] found; `Complete`: the request it was given now holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    Complete,
    /// See [`Progress::Continue`].
    Continue,
    Partial,
}

/// Parse state of one connection. Small when idle: an idle connection holds no buffers here.
#[derive(Debug, Default)]
pub struct RequestReader {
    body: Option<Box<BodyInProgress>>,
}

#[derive(Debug)]
struct BodyInProgress {
    head: Head,
    decoder: BodyDecoder,
    body: Vec<u8>,
    continue_sent: bool,
}

impl RequestReader {
    pub fn new() -> Self {
        RequestReader { body: None }
    }

    /// True while a head has arrived and its body is being read.
    pub fn in_body(&self) -> bool {
        self.body.is_some()
    }

    /// [`RequestReader::next_into`] into a new request (it allocates).
    pub fn advance(&mut self, input: &mut Input, limits: &Limits) -> Result<Progress, Rejection> {
        let mut request = Request::default();
        Ok(match self.next_into(input, limits, &mut request)? {
            Parsed::Complete => Progress::Complete(request),
            Parsed::Continue => Progress::Continue,
            Parsed::Partial => Progress::Partial,
        })
    }

    /// Consumes bytes from the front of `input`; a whole request is parsed into `request`, in
    /// place, reusing its storage (pass the same request again for the next one). An `Err` means:
    /// answer with the rejection's status and close the connection; the reader must not be used
    /// again.
    pub fn next_into(
        &mut self,
        input: &mut Input,
        limits: &Limits,
        request: &mut Request,
    ) -> Result<Parsed, Rejection> {
        if self.body.is_none() {
            if input.is_empty() {
                // The end of every batch of pipelined requests: nothing to parse.
                return Ok(Parsed::Partial);
            }
            let Some(consumed) = parse_head_into(input.bytes(), limits, &mut request.head)? else {
                return Ok(Parsed::Partial);
            };
            input.consume(consumed);
            let decoder = match request.head.framing {
                Framing::None => {
                    if request.body.capacity() > 0 {
                        // The last request's body: not kept for the next (it may be large).
                        request.body = Vec::new();
                    }
                    return Ok(Parsed::Complete);
                }
                Framing::Length(n) => BodyDecoder::length(n),
                Framing::Chunked => BodyDecoder::chunked(),
            };
            let capacity = match request.head.framing {
                Framing::Length(n) => n as usize,
                _ => 0,
            };
            self.body = Some(Box::new(BodyInProgress {
                head: std::mem::take(&mut request.head),
                decoder,
                body: Vec::with_capacity(capacity),
                continue_sent: false,
            }));
        }
        let state = self.body.as_mut().expect("set above");
        let (used, done) = state.decoder.decode(
            input.bytes(),
            &mut state.body,
            limits.max_body_bytes,
            limits.max_head_bytes,
        )?;
        input.consume(used);
        if done {
            let state = self.body.take().expect("set above");
            request.head = state.head;
            request.body = state.body;
            return Ok(Parsed::Complete);
        }
        // RFC 9110 section 10.1.1: send 100 Continue only if none of the body has arrived yet.
        if state.head.expect_continue && !state.continue_sent && state.body.is_empty() && used == 0
        {
            state.continue_sent = true;
            return Ok(Parsed::Continue);
        }
        Ok(Parsed::Partial)
    }
}
