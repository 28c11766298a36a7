//! The `Handler` trait: the application every model serves, whatever its concurrency strategy.

use crate::request::Request;
use crate::response::{Response, Status};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What serving a request costs, declared by the handler before it runs, so that an event loop
/// can decide what to run inline and what to hand to helper threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Microseconds of CPU, no blocking: fine to run anywhere.
    Quick,
    /// Long CPU work: blocks whatever thread runs it for its duration.
    Cpu,
    /// Waits on something (disk, a database, a sleep): blocks the thread without using CPU.
    Blocking,
}

/// An application. Shared by every thread (and, after fork, every process) of a server.
pub trait Handler: Send + Sync + 'static {
    /// The cost class of this request.
    fn cost(&self, _req: &Request) -> Cost {
        Cost::Quick
    }

    /// Answers one request. May panic: the server turns a panic into a 500 and closes that
    /// connection (see [`call`]).
    fn handle(&self, req: &Request) -> Response;
}

/// Runs the handler, turning a panic into `500 Internal Server Error` with `Connection: close`.
/// One request's failure never takes the server down (an abort, of course, takes its process).
pub fn call(handler: &dyn Handler, req: &Request) -> Response {
    match catch_unwind(AssertUnwindSafe(|| handler.handle(req))) {
        Ok(resp) => resp,
        Err(_) => {
            let mut resp = Response::error(Status::INTERNAL_SERVER_ERROR, "the handler panicked");
            resp.close = true;
            resp
        }
    }
}
