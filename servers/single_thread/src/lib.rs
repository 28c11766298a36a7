//! # single_thread: one connection at a time
//!
//! The first server anyone writes, and the lecture's starting point:
//!
//! ```text
//! loop {
//!     conn = accept()
//!     serve conn until it closes or idles out
//! }
//! ```
//!
//! **What happens to the second client?** It connects (the kernel completes the TCP handshake and
//! queues it in the listen backlog), sends its request, and waits. Nobody reads it until the first
//! client's connection ends. With keep-alive, "ends" means: the first client closes, or it sits idle
//! for `--idle-timeout`. That is why the idle timeout matters most here: a single idle keep-alive
//! client holds the whole server for that long, and a slow client (slowloris) holds it for up to
//! `--header-timeout` per request. Clients beyond the backlog (4096 here, `somaxconn`) are refused
//! or have their SYNs dropped and retried after 1 s, 3 s, ...
//!
//! # Trade-offs
//! - Wins: the least code and memory (one thread, one buffer); no locks, no races; the best possible
//!   latency for a single sequential client; trivially correct.
//! - Loses: concurrency is exactly one. Throughput is one connection's request rate; any blocking
//!   work (`/sleep`, disk) or CPU work (`/cpu`) stalls every other client; a second core is unused.
//!   Under `lab run --conns 100` all but one connection wait, and their latency is the sum of the
//!   others' service times.

#![deny(unsafe_code)]

use lab_core::model::{self, ModelInfo, NoOptions};
use lab_core::net::Listener;
use lab_core::{serve_connection, Acceptor, Config, Handler, Shutdown};
use std::io;
use std::sync::Arc;

/// What the lab knows about this model.
pub const MODEL: ModelInfo = ModelInfo {
    name: "single_thread",
    summary: "accept, serve that connection until it closes, accept the next",
    flags: <NoOptions as clap::Args>::augment_args,
    available: model::always_available,
    start: |flags| model::start(flags, run),
    variants: &[],
    conformance: &[],
};

/// Serves connections from `listener`, one at a time, until `shutdown` is triggered. The
/// connection in progress at shutdown finishes its current request (it is not interrupted).
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    _options: &NoOptions,
    shutdown: Shutdown,
) -> io::Result<()> {
    let mut acceptor = Acceptor::new(&listener, &shutdown)?;
    while let Some(conn) = acceptor.accept() {
        let stats = serve_connection(conn, handler.as_ref(), &config.limits, &shutdown);
        if config.verbose {
            eprintln!(
                "single_thread: connection closed after {} requests",
                stats.requests
            );
        }
    }
    Ok(())
}
