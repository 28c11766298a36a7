//! The `Handler` trait: the application every model serves, whatever its concurrency strategy.
//!
//! A handler may panic: [`call`] turns the panic into a 500 for that request, and the server goes
//! on. The panic itself must stay cheap, because a client can ask for one (`GET /crash`): Rust's
//! default panic hook prints the message and, when `RUST_BACKTRACE` is set, captures and
//! symbolises a backtrace first, which loads the binary's debug symbols (most of the cost falls on
//! the first panic of each process). With `RUST_BACKTRACE=1`, `wrk -c10 …/crash` got 12-13
//! requests/s from fork_per_request, whose every child is a first panic, and 6,400-6,500 from
//! thread_per_request at 94 MB of RSS. [`install_panic_hook`] replaces it for handler panics
//! with one short line (with `-v`, else nothing) and no backtrace, whatever the environment
//! says: 3,200 and 11,600 requests/s, thread_per_request at 5.8 MB. Any other panic (a bug in a
//! server) still goes to the default hook.

use crate::request::Request;
use crate::response::{Response, Status};
use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

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
#[inline]
pub fn call(handler: &dyn Handler, req: &Request) -> Response {
    in_handler(|| handler.handle(req)).unwrap_or_else(|| {
        let mut resp = Response::error(Status::INTERNAL_SERVER_ERROR, "the handler panicked");
        resp.close = true;
        resp
    })
}

/// The handler's cost class; a panicking `cost` counts as Quick (and [`call`] then catches the
/// handler's own panic), so that one bad request cannot take an event loop down.
pub fn cost(handler: &dyn Handler, req: &Request) -> Cost {
    in_handler(|| handler.cost(req)).unwrap_or(Cost::Quick)
}

thread_local! {
    /// True while this thread runs handler code: the panic hook tells handler panics (expected,
    /// answered with a 500) from the server's own (bugs).
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as handler code: `None` if it panicked.
#[inline]
fn in_handler<R>(f: impl FnOnce() -> R) -> Option<R> {
    let outer = IN_HANDLER.with(|flag| flag.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_HANDLER.with(|flag| flag.set(outer));
    result.ok()
}

/// Installs the process's panic hook (`lab serve` does, before the model starts, so forked
/// children inherit it). A panic in handler code prints one line when `verbose`, nothing
/// otherwise, and never captures a backtrace; any other panic goes to the hook that was
/// installed before (Rust's default: message, and a backtrace if `RUST_BACKTRACE` asks).
pub fn install_panic_hook(verbose: bool) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_HANDLER.with(Cell::get) {
            return previous(info);
        }
        if verbose {
            // One write of the whole line (`eprintln!` writes the newline separately), so that
            // lines from several processes sharing stderr (fork_per_request) never interleave.
            let line = format!("{}\n", panic_line(info.payload(), info.location()));
            eprint!("{line}");
        }
    }));
}

/// `handler panicked at src/app.rs:150:17 (pid 4242): /crash: ...`: where and why, on one line.
fn panic_line(payload: &(dyn Any + Send), location: Option<&Location<'_>>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let location = location
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "an unknown place".into());
    let message = message.lines().next().unwrap_or("");
    format!(
        "handler panicked at {location} (pid {}): {message}",
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_code_is_marked_only_while_it_runs() {
        assert!(!IN_HANDLER.with(Cell::get));
        assert_eq!(in_handler(|| IN_HANDLER.with(Cell::get)), Some(true));
        assert_eq!(in_handler(|| -> () { panic!("x") }), None);
        assert!(!IN_HANDLER.with(Cell::get));
    }

    #[test]
    fn the_panic_line_is_one_line() {
        let line = panic_line(&"first\nsecond", Some(Location::caller()));
        assert!(line.starts_with("handler panicked at "), "{line}");
        assert!(line.ends_with(": first"), "{line}");
        let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert!(panic_line(owned.as_ref(), None).ends_with(": owned"));
    }
}
