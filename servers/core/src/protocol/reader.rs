//! The request reader: turns the bytes a connection has received into whole requests.
//!
//! This is the piece every model shares, blocking or not. It owns no socket: the caller reads into
//! an [`Input`] and calls [`RequestReader::advance_with`], which parses in place from the front of
//! the unconsumed bytes and consumes each complete request by moving the input's offset (no byte
//! is moved per request; the input compacts at most once per read). `Partial` is a normal answer
//! (read more and call again), which is how an event loop accumulates a request across readiness
//! events and how pipelined requests (several in one read) come out one at a time, in order.
//!
//! A request's head is copied into storage from a [`Spare`] that the caller gives back once the
//! request is answered ([`Spare::recycle`]): a request without a body then costs no allocation.
//! [`RequestReader::advance`] is the same without a spare kept (it allocates two vectors a
//! request), for tests and tools.

use crate::body::BodyDecoder;
use crate::error::Rejection;
use crate::input::Input;
use crate::limits::Limits;
use crate::parse::{parse_head_into, HeadStatus};
use crate::request::{Framing, Head, Request, Spare};

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

    /// [`RequestReader::advance_with`] with no storage kept between requests.
    pub fn advance(&mut self, input: &mut Input, limits: &Limits) -> Result<Progress, Rejection> {
        self.advance_with(input, limits, &mut Spare::new())
    }

    /// Consumes bytes from the front of `input`; a head is copied into storage from `spare`. An
    /// `Err` means: answer with the rejection's status and close the connection; the reader must
    /// not be used again.
    pub fn advance_with(
        &mut self,
        input: &mut Input,
        limits: &Limits,
        spare: &mut Spare,
    ) -> Result<Progress, Rejection> {
        if self.body.is_none() {
            let (head, consumed) = match parse_head_into(input.bytes(), limits, spare)? {
                HeadStatus::Partial => return Ok(Progress::Partial),
                HeadStatus::Complete(head, consumed) => (head, consumed),
            };
            input.consume(consumed);
            let decoder = match head.framing {
                Framing::None => {
                    return Ok(Progress::Complete(Request {
                        head,
                        body: Vec::new(),
                    }))
                }
                Framing::Length(n) => BodyDecoder::length(n),
                Framing::Chunked => BodyDecoder::chunked(),
            };
            let capacity = match head.framing {
                Framing::Length(n) => n as usize,
                _ => 0,
            };
            self.body = Some(Box::new(BodyInProgress {
                head,
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
            return Ok(Progress::Complete(Request {
                head: state.head,
                body: state.body,
            }));
        }
        // RFC 9110 section 10.1.1: send 100 Continue only if none of the body has arrived yet.
        if state.head.expect_continue && !state.continue_sent && state.body.is_empty() && used == 0
        {
            state.continue_sent = true;
            return Ok(Progress::Continue);
        }
        Ok(Progress::Partial)
    }
}
