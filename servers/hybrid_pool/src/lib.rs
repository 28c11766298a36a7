//! # hybrid_pool: processes x threads, as Apache's worker MPM
//!
//! `--workers P` processes, each with `--threads-per-worker T` threads; each thread serves one connection at
//! a time. Threads make concurrency cheap (P x T connections for P processes); processes keep a
//! crash contained (an abort loses one process's T connections, not the server).
//!
//! ```text
//! parent: exactly process_pool's (lab_core::supervisor): scoreboard, respawn, recycling,
//!         SIGTERM drain, SIGHUP reload; the pool is a fixed P processes (no spare regulation)
//! worker process (threads are started here, after fork: the parent never has a thread):
//!     start T threads; mark my slot ready
//!     each thread: loop { conn = accept(); busy += 1; serve conn until it closes; busy -= 1 }
//!     after --max-requests-per-worker connections: every thread stops accepting; leave
//! ```
//!
//! **T threads in accept(), not an acceptor thread and a channel.** Each thread blocks in
//! accept() on the shared socket; the kernel hands a connection to one waiting thread. We chose
//! this over one acceptor thread feeding a crossbeam channel because:
//! - a connection is accepted only by a thread that is free to serve it: when all T threads of a
//!   process are busy, that process stops accepting and the connection waits in the kernel's
//!   backlog for another process (with a channel, the acceptor would keep accepting into a queue
//!   behind busy threads, unless it counted idle threads as Apache's listener thread does);
//! - nothing is ever accepted-but-unserved inside a process, so an abort loses only the
//!   connections being served, at most T, never a queue of accepted ones;
//! - there is no extra hop (and no extra thread) between accept and serve.
//!
//! Apache's worker MPM does use a listener thread, because it must poll several listening
//! sockets and hand keep-alive connections around (event MPM); with one socket, T acceptors are
//! simpler and as fast.
//!
//! **Accept strategies** (`--accept`, the supervisor's): `shared` as above, `reuseport` (a socket
//! per process, shared by its T threads), or `handoff`: the parent accepts and deals each
//! connection to a process whose thread asked for one, round-robin, over that process's own Unix
//! socket ([`lab_core::dealer`]); each free thread asks once, so a process is dealt at most as
//! many connections as it has threads waiting.
//!
//! **Parking** (`--park on`, Apache's event MPM proper): a serving thread is pinned by whatever
//! its connection does, so P x T slowloris connections (heads that never end) or idle keep-alive
//! clients stop the server. With parking, each worker process also runs a front thread
//! ([`lab_core::park`]): a mio event loop that accepts and holds every connection until a whole
//! request head has arrived (it peeks; nothing is consumed), applying `--header-timeout` (408)
//! and `--idle-timeout` itself, then hands it to the process's serving threads over a channel. A
//! thread answers what was sent and gives an idle keep-alive connection back (a channel and a
//! `mio::Waker`) instead of waiting on it. A front accepts only while no head of its own waits
//! for a thread, so a busy process leaves new connections to the others.
//!
//! ```text
//! worker process: start the front thread and T serving threads; mark my slot ready
//!     front: loop { poll; accept; peek; whole head? send to the threads; timeouts }
//!     each thread: loop { conn = from the front; busy += 1; serve until idle;
//!                         kept alive? give it back; busy -= 1 }
//! ```
//!
//! Measured (release build, 2 cores, other builds running, load average 10 to 80):
//! `slowhttptest -c 4000 -H -i 10 -r 400 -l 40` with a control `curl` every 0.5 s (2 s timeout)
//! during the attack, two runs each: **4 and 12 of 77** answered with `--park off`, **77 of 77**
//! both times with `--park on`, the fronts holding 1,701 and 2,088 connections mid-attack (with `--header-timeout 60s`, all 4,000, and
//! still 77 of 77). `lab load -c 1000` (keep-alive, 4 s): 1,900 timeouts without parking, none
//! with it (33,000 to 34,700 requests/s); `lab load -c 40`: 65,600 to 67,800 requests/s off,
//! 68,000 to 72,900 on (alternating runs: the hop through the front costs little here). The
//! price is in fault isolation: an abort also loses the connections its process's front held.
//! Under 50 clients opening a connection per request, 10 aborts failed 23 to 47 requests with
//! parking, 4 to 12 without. A slow request *body* still pins a thread (`slowhttptest -B`).
//!
//! **Scoreboard:** one slot per process, with `threads` (T) and `busy` (threads serving); the
//! process is idle while a thread is free. Apache's worker MPM regulates spare *threads* across
//! processes (MinSpareThreads, MaxSpareThreads); here the pool is a fixed P, replaced as they die
//! or recycle. Defaults: P = one per core, T = 25 (Apache's ThreadsPerChild).
//!
//! **Measured** (release build, 2 cores, `ab` on the same machine, other builds running, load
//! about 2.5): `ab -n 2000 -c 10` with a new connection per request: 16,900 requests/s (2 x 25),
//! against 14,400 for process_pool and 10,000–11,500 for thread_per_request. 4 x 25 holding 100
//! idle connections: 5 processes, RSS summed 16.8 MiB, PSS summed 5.8 MiB (process_pool: 11.7 MiB
//! PSS for the same 100 connections).
//!
//! **Faults cost a process's connections.** Under 50 keep-alive connections (`lab load -c50
//! -d10s`), a `kill -9` of the busiest of 3 processes x 25 threads cost 23 and 25 connections
//! per kill (two runs of five kills; process_pool: one). An abort costs the other connections of
//! the process that served `/crash?abort`: 2 to 4 per abort with 3 x 25 (the request tends to
//! reach the process with the most threads free, so the least loaded), 21 with 2 x 30
//! (process_pool: none). Measured with `lab load` counting reconnections; the tests assert the
//! bounds as counts.
//!
//! # Trade-offs
//! - Wins: concurrency of threads (hundreds of connections in a few processes, little memory);
//!   no thread or process created per connection; a crash costs one process's connections, and
//!   the process is replaced; recycling and graceful reload as in process_pool.
//! - With `--park on`: slow and idle clients cost a parked socket, not a thread; an abort also
//!   loses the connections the process's front holds.
//! - Loses: a panic that escapes, an abort, memory corruption or a `kill -9` takes down the
//!   process's connections, up to T (about 25 measured), not one; the application must be
//!   thread-safe; still a thread per connection in service, so
//!   10,000 idle keep-alive clients need 10,000 threads (the event loop's territory).

#![deny(unsafe_code)]

use lab_core::config::cores;
use lab_core::model::{self, ModelInfo, ModelOptions};
use lab_core::net::Listener;
use lab_core::park::{self, ThreadDoor};
use lab_core::supervisor::{self, Sizing, SupervisorOptions, WorkerContext};
use lab_core::{serve_connection, serve_until_idle, Config, Handler, Shutdown};
use std::io;
use std::sync::Arc;
use std::thread;

/// What the lab knows about this model.
pub const MODEL: ModelInfo = ModelInfo {
    name: "hybrid_pool",
    summary: "processes x threads, managed like Apache's worker MPM",
    flags: <Options as clap::Args>::augment_args,
    available: model::always_available,
    start: |flags| model::start(flags, run),
    variants: &[],
    conformance: &[&["--park", "on"], &["--accept", "handoff"]],
};

/// hybrid_pool's flags: Apache worker's sizes, plus the supervisor's and thread_per_request's
/// `--stack-size` (one flag, declared alike by both).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Options {
    /// Worker processes (default: one per core).
    #[arg(long, default_value_t = cores(), value_name = "N")]
    pub workers: usize,
    /// Serving threads per worker process (Apache: ThreadsPerChild). Not `--threads`: `lab run`
    /// takes both these flags and the load generator's, and `--threads` is the latter's.
    #[arg(long, default_value_t = 25, value_name = "N")]
    pub threads_per_worker: usize,
    /// Stack size of each connection thread, in bytes.
    #[arg(long, default_value_t = 128 * 1024, value_name = "BYTES")]
    pub stack_size: usize,
    #[command(flatten)]
    pub supervisor: SupervisorOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: cores(),
            threads_per_worker: 25,
            stack_size: 128 * 1024,
            supervisor: SupervisorOptions::default(),
        }
    }
}

impl ModelOptions for Options {
    fn validate(&self) -> Result<(), String> {
        if self.workers == 0 || self.workers > 256 {
            return Err("--workers must be between 1 and 256".into());
        }
        if self.threads_per_worker == 0 || self.threads_per_worker > 1024 {
            return Err("--threads-per-worker must be between 1 and 1024".into());
        }
        if self.stack_size < 32 * 1024 {
            return Err("--stack-size must be at least 32768 bytes".into());
        }
        self.supervisor.validate()
    }
}

/// Runs `--workers` processes of `--threads-per-worker` threads until `shutdown` is
/// triggered, then stops them (bounded by `config.drain_timeout`). Must be called from a
/// single-threaded process: the threads are started in the workers, after fork.
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
) -> io::Result<()> {
    let sizing = Sizing::fixed(options.workers, options.threads_per_worker);
    let worker = |ctx: WorkerContext<'_>| worker(ctx, &handler, config, options);
    supervisor::supervise(
        "hybrid_pool",
        listener,
        sizing,
        &options.supervisor,
        config,
        shutdown,
        &worker,
    )
}

/// A worker process: `--threads-per-worker` threads, each accepting on the same socket and serving one
/// connection at a time. The process leaves when every thread has.
fn worker(
    ctx: WorkerContext<'_>,
    handler: &Arc<dyn Handler>,
    config: &Config,
    options: &Options,
) -> i32 {
    if options.supervisor.park.is_on() {
        return parked_worker(ctx, handler, config, options);
    }
    let threads = options.threads_per_worker;
    let ctx = &ctx;
    let started = thread::scope(|scope| {
        let mut started = 0;
        for _ in 0..threads {
            let spawned = thread::Builder::new()
                .name("serve".into())
                .stack_size(options.stack_size)
                .spawn_scoped(scope, move || serve_thread(ctx, handler.as_ref(), config));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => eprintln!(
                    "hybrid_pool: worker {}: cannot spawn a thread: {e}",
                    lab_core::sys::pid()
                ),
            }
        }
        if started > 0 {
            ctx.slot.ready();
        }
        started
    });
    ctx.slot.exiting();
    if started == 0 {
        1
    } else {
        0
    }
}

/// One serving thread: accept (or, with `--accept handoff`, receive from the parent), serve,
/// repeat.
fn serve_thread(ctx: &WorkerContext<'_>, handler: &dyn Handler, config: &Config) {
    let Ok(mut intake) = ctx.intake() else {
        return;
    };
    while let Some(conn) = intake.take() {
        ctx.slot.begin_connection();
        if ctx.recycle_due() {
            // This process has had its connections: every thread stops accepting, finishes
            // what it has, and the process leaves (the parent replaces it).
            ctx.shutdown.trigger();
        }
        let stats = serve_connection(conn, handler, &config.limits, &ctx.shutdown);
        ctx.slot.end_connection(stats.requests);
    }
}

/// A worker process with `--park on`: a front thread (the process's event loop, which accepts
/// and holds connections until their head has arrived) and `--threads-per-worker` serving
/// threads that take connections from it and give idle keep-alive ones back.
fn parked_worker(
    ctx: WorkerContext<'_>,
    handler: &Arc<dyn Handler>,
    config: &Config,
    options: &Options,
) -> i32 {
    let (front, door) = match park::thread_front(ctx.listener, &config.limits, &ctx.shutdown) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!(
                "hybrid_pool: worker {}: cannot start the front: {e}",
                lab_core::sys::pid()
            );
            return 1;
        }
    };
    let ctx = &ctx;
    let started = thread::scope(|scope| {
        let front = thread::Builder::new()
            .name("front".into())
            .spawn_scoped(scope, move || front.run(ctx.slot));
        if front.is_err() {
            ctx.shutdown.trigger();
            return 0;
        }
        let mut started = 0;
        for _ in 0..options.threads_per_worker {
            let door = door.clone();
            let spawned = thread::Builder::new()
                .name("serve".into())
                .stack_size(options.stack_size)
                .spawn_scoped(scope, move || {
                    serve_parked(ctx, &door, handler.as_ref(), config)
                });
            if spawned.is_ok() {
                started += 1;
            }
        }
        drop(door);
        if started > 0 {
            ctx.slot.ready();
        } else {
            ctx.shutdown.trigger();
        }
        started
    });
    ctx.slot.exiting();
    if started == 0 {
        1
    } else {
        0
    }
}

/// One serving thread with `--park on`: take, serve until idle, give back, repeat.
fn serve_parked(
    ctx: &WorkerContext<'_>,
    door: &ThreadDoor,
    handler: &dyn Handler,
    config: &Config,
) {
    while let Some(conn) = door.next() {
        ctx.slot.begin_connection();
        if ctx.recycle_due() {
            ctx.shutdown.trigger();
        }
        let (stats, idle) = serve_until_idle(conn, handler, &config.limits, &ctx.shutdown);
        ctx.slot.end_connection(stats.requests);
        match idle {
            Some(conn) => door.give_back(conn),
            None => door.closed(),
        }
    }
}
