//! # lab-core: what every http-lab server model shares
//!
//! The lecture's six server designs differ only in *how* they get a connection to a piece of code
//! that serves it: one at a time, a process each, a pool of processes, a thread each, processes of
//! threads, or an event loop. Everything else (reading HTTP/1.1 off the wire, framing bodies,
//! deciding keep-alive, writing responses, limits and timeouts, the application itself) is the same
//! for all of them and lives here, once. A model crate holds only its strategy.
//!
//! A request's path through this crate:
//!
//! ```text
//! bytes from a socket ─▶ input::Input ─▶ reader::RequestReader::next_into ─▶ parse::parse_head_into
//!   (read into once,                             │                              (httparse + RFC rules)
//!    consumed by offset)                         │                            body::BodyDecoder
//!                                                ▼
//!                        request::Request ─▶ handler::call(&dyn Handler) ─▶ response::Response
//!                     (parsed in place; its          │                        │ write_to(Vec<u8>)
//!                      storage takes the next)    app::LabApp                 ▼
//!                                                                       bytes to the socket
//! ```
//!
//! The parser never reads a socket: it is handed bytes and answers `Complete` or `Partial`, so the
//! blocking loop in [`conn`] and a non-blocking event loop drive the same code.
//!
//! # Layout: four layers, a folder each
//! 1. [`protocol`], HTTP/1.1 without I/O (a test checks that nothing in it reads or writes):
//!    - [`limits`]: sizes and timeouts, each a `lab serve` flag.
//!    - [`error`]: [`Rejection`], why a request is refused, each mapped to one status code.
//!    - [`parse`]: the request head: httparse, then Host, Content-Length, Transfer-Encoding, ….
//!    - [`body`]: body decoders for Content-Length and chunked framing.
//!    - [`input`]: [`Input`], a connection's received bytes, read into once and consumed by offset.
//!    - [`reader`]: per-connection state that turns buffered bytes into whole requests.
//!    - [`request`]: [`Request`], [`Head`], [`Method`], (parsed into in place, request after request).
//! 2. [`blocking`], I/O:
//!    - [`response`]: [`Response`], [`Status`], writing a response with Date, Server and framing
//!      (a body of bytes, or a file sent with `sendfile`).
//!    - [`conn`]: the blocking connection loop every blocking model calls.
//!    - [`net`]: [`Listener`] and [`Stream`], TCP or Unix (`--addr unix:/path`); binding with a real
//!      backlog; an accept loop that checks shutdown and names limits.
//!    - [`shutdown`]: the shutdown flag and the live-connection tracker.
//!    - [`memory`]: giving the heap's free pages back to the kernel after a wave of connections.
//! 3. [`prefork`], the pools' machinery:
//!    - [`process`]: forking children, reaping them, stopping them (bounded) at shutdown.
//!    - [`scoreboard`]: a pool's shared-memory table of workers (pid, state, counts), Apache style.
//!    - [`supervisor`]: a pool's parent: spare-worker regulation, recycling, respawn, SIGTERM drain,
//!      SIGHUP reload. process_pool and hybrid_pool differ only in what a worker runs.
//!    - [`park`]: `--park on`: an event-driven front holds connections until a whole request head
//!      has arrived, then hands them to a pool's workers (threads, or processes via [`handoff`]).
//!    - [`handoff`]: passing a connection's file descriptor to another process over a Unix socket.
//! 4. [`application`], the app and the model description:
//!    - [`handler`]: the [`Handler`] trait, route costs, panic isolation.
//!    - [`app`]: [`LabApp`], the routes every model serves; [`static_files`]: the docroot.
//!    - [`status`]: what a model adds to `GET /_status` (loop counters, a scoreboard).
//!    - [`config`]: what every model's `run` is told (limits, drain timeout, verbosity).
//!    - [`model`]: what a model tells the lab about itself ([`ModelInfo`]: name, flags, entry point).
//!
//! Beside them: [`sys`], every raw `libc` call (fork, waitpid, kill, mmap, sigaction, prctl,
//! sendmsg, openat2, sendfile), each with its safety argument; and `fuzzing` (hidden), the
//! properties the fuzz targets in `fuzz/` and `tests/fuzz_corpus.rs` check.

#![deny(unsafe_code)]

// The four layers, one folder each (see each folder's `mod.rs`); their modules are re-exported
// here, so `lab_core::parse` and `lab_core::supervisor` name the same things as before.
pub mod application;
pub mod blocking;
pub mod prefork;
pub mod protocol;

pub use application::{app, config, handler, model, static_files, status};
pub use blocking::{conn, memory, net, response, shutdown};
pub use prefork::{dealer, handoff, park, process, scoreboard, supervisor};
pub use protocol::{body, error, input, limits, parse, reader, request};

#[doc(hidden)]
pub mod fuzzing;
#[allow(unsafe_code)] // the one module that may: each block has its SAFETY comment
pub mod sys;

pub use app::LabApp;
pub use config::Config;
pub use conn::{serve_connection, serve_until_idle, ConnStats};
pub use error::Rejection;
pub use handler::{call, install_panic_hook, Cost, Handler};
pub use input::Input;
pub use limits::Limits;
pub use model::{AcceptFlag, AcceptMode, ModelInfo, ModelOptions, NoOptions, OnOff, Runner};
pub use net::{bind_listener, Acceptor, Address, Listener, Next, Stream};
pub use reader::{Parsed, Progress, RequestReader};
pub use request::{Framing, Head, Method, Request};
pub use response::{respond, write_rejection, Response, Status, CONTINUE_100};
pub use shutdown::{Shutdown, Tracker, TrackerGuard};
pub use supervisor::SupervisorOptions;
