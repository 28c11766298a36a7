//! # thread_per_request: a new thread for every connection
//!
//! The lecture's second design: the main thread only accepts, and each connection gets a thread
//! of its own that runs the same blocking loop as `single_thread`.
//!
//! ```text
//! loop {
//!     wait until fewer than --max-threads connections are live
//!     conn = accept()
//!     spawn thread { serve conn until it closes }
//! }
//! ```
//!
//! Blocking is now harmless to others: a `/sleep/100` blocks its own thread, and the kernel runs
//! the rest. Both cores are used. The price is one thread per connection: a stack, a kernel task,
//! a scheduler entry, and a `clone()` and thread exit per connection.
//!
//! **Memory per thread.** Each thread reserves `--stack-size` bytes of address space (default
//! 128 KiB; Rust's default is 2 MiB, glibc's 8 MiB) but touches only the pages it uses.
//! Measured on the lab's 2-core VM (release build, nothing else loading the server): a Python
//! client opened 5,000 idle keep-alive connections (one `GET /hello` each, then silence) to
//! `lab serve --model thread_per_request`, and PSS was read from `/proc/<pid>/smaps_rollup`
//! before and after: **22.7 KiB per connection** (5,001 threads, 1.5 MiB → 112 MiB PSS). That is
//! the touched stack pages, the 4 KiB read buffer and the thread's share of its malloc arena.
//! Before the read buffer went from 8 to 4 KiB and the write buffer became lazy, it was 30 KiB.
//! The kernel adds about 16 KiB per thread (kernel stack, task struct) that PSS does not show.
//! Under load, `lab run --model thread_per_request --conns 10000` held all 10,000 connections
//! with 10,001 threads and 217 MiB PSS (22 KiB per connection), at 60,000 requests/s against
//! epoll's 102,000 with 3.4 MiB in the same conditions.
//!
//! **Slow readers.** 2,000 connections pipelining requests for a 1 MiB file and reading 32 bytes a
//! second (`slowhttptest -X`, README "Hardening"): peak RSS 48.8 MiB, 10.3 MiB 5 s after
//! (idle 5.1 MiB), because each thread writes a response (a file: `sendfile`) before parsing the
//! next and the heap is trimmed when the live count falls ([`lab_core::memory`]). When the
//! blocking loop built every pipelined response in memory first, the same attack took 6,053 MiB.
//! About 5 MiB of what stays is glibc's cache of exited threads' stacks (up to 40 MiB of stacks).
//!
//! **At the cap.** With `--max-threads N` live, the acceptor stops accepting; new connections
//! wait in the listen backlog (up to `somaxconn`) and are served as threads finish.
//!
//! # Trade-offs
//! - Wins: simple blocking code per connection; blocking and CPU-heavy handlers do not stall other
//!   connections; uses every core; good for hundreds to a few thousand connections.
//! - Loses: memory and scheduling cost grow with connections (10,000 idle keep-alive clients are
//!   10,000 sleeping threads); spawning a thread per connection costs tens of microseconds, which
//!   dominates short connections; a thread per connection gives no back-pressure except the cap.
//!   A thread pool (hybrid_pool) fixes the spawn cost; an event loop (epoll) fixes the memory.

#![deny(unsafe_code)]

use lab_core::model::{self, ModelInfo, ModelOptions};
use lab_core::net::Listener;
use lab_core::{serve_connection, Acceptor, Config, Handler, Shutdown, Tracker};
use std::io;
use std::sync::Arc;
use std::thread;

/// What the lab knows about this model.
pub const MODEL: ModelInfo = ModelInfo {
    name: "thread_per_request",
    summary: "spawn a thread for every accepted connection",
    flags: <Options as clap::Args>::augment_args,
    available: model::always_available,
    start: |flags| model::start(flags, run),
    variants: &[],
    conformance: &[],
};

/// thread_per_request's flags.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Options {
    /// Stack size of each connection thread, in bytes.
    #[arg(long, default_value_t = DEFAULT_STACK_SIZE, value_name = "BYTES")]
    pub stack_size: usize,
    /// Most connection threads at once (at the cap, accept waits).
    #[arg(long, default_value_t = 12_000, value_name = "N")]
    pub max_threads: usize,
}

/// 128 KiB of stack is plenty for the lab's handlers (the deepest is fib(42): 42 frames) and is
/// only reserved, not touched: 10,000 threads reserve 1.25 GiB of address space but use a few
/// pages each. Linux's default of 8 MiB would reserve 80 GiB.
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            stack_size: DEFAULT_STACK_SIZE,
            max_threads: 12_000,
        }
    }
}

impl ModelOptions for Options {
    fn validate(&self) -> Result<(), String> {
        if self.stack_size < 32 * 1024 {
            return Err("--stack-size must be at least 32768 bytes".into());
        }
        if self.max_threads == 0 {
            return Err("--max-threads must be at least 1".into());
        }
        Ok(())
    }
}

/// Serves every connection from `listener` on a thread of its own until `shutdown` is triggered,
/// then waits up to `config.drain_timeout` for live connections to finish.
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
) -> io::Result<()> {
    let live = Tracker::new();
    let mut acceptor = Acceptor::new(&listener, &shutdown)?;
    loop {
        // At the cap, stop accepting: the backlog holds new connections until a thread ends.
        if !live.wait_below(options.max_threads, &shutdown) {
            break;
        }
        let Some(conn) = acceptor.accept() else { break };
        let guard = live.enter();
        let handler = Arc::clone(&handler);
        let limits = config.limits;
        let stop = shutdown.clone();
        let spawned = thread::Builder::new()
            .name("conn".into())
            .stack_size(options.stack_size)
            .spawn(move || {
                let _guard = guard;
                serve_connection(conn, handler.as_ref(), &limits, &stop);
            });
        if let Err(e) = spawned {
            // The connection (moved into the failed closure) is dropped, which closes it.
            eprintln!(
                "thread_per_request: cannot spawn a thread ({e}); {} live. \
                 Lower --max-threads or raise the process limit (ulimit -u, kernel.threads-max)",
                live.live()
            );
            thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let left = live.wait_idle(config.drain_timeout);
    if left > 0 {
        eprintln!("thread_per_request: {left} connections still open after the drain timeout");
    }
    Ok(())
}
