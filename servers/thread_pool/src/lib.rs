//! # thread_pool: a fixed pool of threads fed by one acceptor through a bounded queue
//!
//! The classic executor (Java's `ThreadPoolExecutor`, the lecture's "thread pool with a
//! queue"): one thread accepts, and a fixed number of worker threads take connections from a
//! bounded queue and serve each until it closes, with the same blocking loop as
//! thread_per_request.
//!
//! ```text
//! start --pool-size workers: loop { conn = queue.pop(); serve conn until it closes }
//! loop {                                  // the acceptor: this thread
//!     conn = accept()
//!     queue.push(conn)                    // waits while --queue-size connections are waiting
//! }
//! ```
//!
//! Unlike hybrid_pool, the workers never call `accept` themselves: the queue is in user space,
//! between the acceptor and the pool, and its length is a number the server can see (and show
//! in `/_status`) and bound. When it is full, the acceptor stops accepting and new connections
//! wait in the kernel's listen backlog.
//!
//! **Measured** (2-core VM, release build, `lab run --model M --conns C --duration 4s`, the two
//! models alternated twice, with other builds running on the machine: ratios, not absolutes):
//!
//! | | thread_per_request c=100 | thread_pool c=100 | thread_per_request c=1000 | thread_pool c=1000 |
//! |---|---|---|---|---|
//! | requests/s | 64,800-71,500 | 51,500-74,800 | 54,500-57,900 | 71,100-71,900 |
//! | server PSS | 3.9 MiB | 3.1 MiB | 23.3 MiB | 3.1-3.2 MiB |
//! | server CPU per request | 9.4-11.1 µs | 11.6-12.6 µs | 18.9-19.2 µs | 12.3-14.0 µs |
//! | threads | 101 | 65 | 1,001 | 65 |
//! | requests timed out | 0 | 108 | 0 | 2,808 |
//!
//! At 1,000 connections the pool's memory stays that of 64 threads (thread_per_request pays
//! 23.8 KiB per connection) and its CPU per request stays flat, but only 64 connections are
//! served at a time: the others sit in the queue until the load generator's 2 s timeout, and
//! its higher requests/s is 64 lucky connections' (see the served/starved counts of a run).
//!
//! # Trade-offs
//! - Wins over thread_per_request: no thread created per connection (no `clone()` and exit each
//!   time), memory fixed at start (`--pool-size` stacks), and a cap on concurrency that is also
//!   a cap on the CPU and memory the handlers can take.
//! - Loses: a keep-alive connection holds its worker until it closes or idles out, so with more
//!   connections than workers the rest wait in the queue, *unserved*, for as long as the first
//!   ones keep talking: a student's load test shows them as starved connections. Slow or
//!   blocking handlers (`/sleep`) cap throughput at `pool-size / service time`. An event loop
//!   (epoll) or a front that parks idle connections (Apache's event MPM) is the cure.

#![deny(unsafe_code)]

use crossbeam_channel::{bounded, RecvTimeoutError, SendTimeoutError};
use lab_core::model::{self, ModelInfo, ModelOptions};
use lab_core::net::{Listener, Stream};
use lab_core::{serve_connection, Acceptor, Config, Handler, Shutdown, Tracker};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// What the lab knows about this model.
pub const MODEL: ModelInfo = ModelInfo {
    name: "thread_pool",
    summary: "a fixed pool of threads fed by one acceptor through a bounded queue",
    flags: <Options as clap::Args>::augment_args,
    available: model::always_available,
    start: |flags| model::start(flags, run),
    variants: &[],
    conformance: &[&["--pool-size", "2", "--queue-size", "1"]],
};

/// thread_pool's flags.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Options {
    /// Worker threads, each serving one connection at a time.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub pool_size: usize,
    /// Accepted connections waiting for a worker; when full, accept waits.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub queue_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 64,
            queue_size: 1024,
        }
    }
}

impl ModelOptions for Options {
    fn validate(&self) -> Result<(), String> {
        if self.pool_size == 0 || self.pool_size > 10_000 {
            return Err("--pool-size must be between 1 and 10000".into());
        }
        if self.queue_size == 0 || self.queue_size > 100_000 {
            return Err("--queue-size must be between 1 and 100000".into());
        }
        Ok(())
    }
}

/// How often a waiting acceptor or worker looks at the shutdown flag.
const TICK: Duration = Duration::from_millis(100);
/// Stack of each worker thread (thread_per_request's default: the handlers need little).
const STACK_SIZE: usize = 128 * 1024;

/// Serves `listener` with a pool of `options.pool_size` threads until `shutdown`, then lets the
/// workers finish the connections they hold and the ones queued (bounded by the drain timeout).
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
) -> io::Result<()> {
    let (queue, jobs) = bounded::<Stream>(options.queue_size);
    let busy = Tracker::new();
    let queued = Arc::new(AtomicU64::new(0));
    let shown = (busy.clone(), Arc::clone(&queued), *options);
    lab_core::status::set_source(move || {
        let (busy, queued, o) = &shown;
        format!(
            "{{\"pool_size\":{},\"busy\":{},\"queued\":{},\"queue_size\":{}}}",
            o.pool_size,
            busy.live(),
            queued.load(Relaxed),
            o.queue_size
        )
    });

    // The pool: each worker takes the next connection and serves it until it closes.
    for _ in 0..options.pool_size {
        let (jobs, handler, busy, queued) = (
            jobs.clone(),
            Arc::clone(&handler),
            busy.clone(),
            Arc::clone(&queued),
        );
        let (limits, stop) = (config.limits, shutdown.clone());
        thread::Builder::new()
            .name("worker".into())
            .stack_size(STACK_SIZE)
            .spawn(move || loop {
                match jobs.recv_timeout(TICK) {
                    Ok(conn) => {
                        queued.fetch_sub(1, Relaxed);
                        let _serving = busy.enter();
                        serve_connection(conn, handler.as_ref(), &limits, &stop);
                    }
                    // Nothing queued: at shutdown the acceptor has dropped its end, and once
                    // the queue is empty the channel says Disconnected.
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            })?;
    }

    // The acceptor: this thread.
    let mut acceptor = Acceptor::new(&listener, &shutdown)?;
    'accept: while let Some(conn) = acceptor.accept() {
        queued.fetch_add(1, Relaxed);
        let mut conn = conn;
        // A full queue: wait (the kernel's backlog holds the newer arrivals meanwhile).
        loop {
            match queue.send_timeout(conn, TICK) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(back)) if !shutdown.is_triggered() => conn = back,
                Err(_) => {
                    queued.fetch_sub(1, Relaxed);
                    break 'accept;
                }
            }
        }
    }
    drop(queue);

    // Drain: the workers serve what they hold and what is queued (each answer says
    // `Connection: close` now), then leave.
    let deadline = std::time::Instant::now() + config.drain_timeout;
    while (busy.live() > 0 || queued.load(Relaxed) > 0) && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let left = busy.live() as u64 + queued.load(Relaxed);
    if left > 0 {
        eprintln!("thread_pool: {left} connections still open after the drain timeout");
    }
    lab_core::status::clear_source();
    Ok(())
}
