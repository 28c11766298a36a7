//! # process_pool: prefork, as Apache's prefork MPM
//!
//! The parent binds the listener and forks workers up front; each worker is a process that
//! accepts and serves one connection at a time, for many connections. The fork is paid once per
//! worker, not once per connection, and a crash still takes down only one connection.
//!
//! ```text
//! parent (lab_core::supervisor, shared with hybrid_pool):
//!     map the scoreboard (shared memory); fork --start-workers workers
//!     every tick (--maintenance-interval, 1 s):
//!         idle < --min-spare: fork 1, then 2, 4, … 32 per tick while the shortage lasts
//!         idle > --max-spare: ask one idle worker to exit
//!     a worker died (abort, kill -9) or recycled: reap it, fork a replacement into its slot
//!     SIGHUP: fork a new generation as large as the old one, ask the old one to finish and exit
//!     SIGTERM: ask every worker to finish; after --drain-timeout, SIGKILL
//! worker:
//!     mark my slot idle
//!     loop { conn = accept(); mark busy; serve conn until it closes; mark idle;
//!            after --max-requests-per-worker connections: leave }
//! ```
//!
//! **The scoreboard** ([`lab_core::scoreboard`]) is an anonymous `MAP_SHARED` mapping made
//! before the first fork: one slot per worker with its pid, generation, state (starting, idle,
//! busy, exiting, dead) and counts of connections and requests. A worker writes only its own
//! slot; the parent reads them all on each tick, and `GET /_status`, answered by whichever worker
//! accepts it, returns the whole table as JSON. `--verbose` prints one line per tick: workers by
//! state, spawned, retired, replaced, and connections per worker.
//!
//! **Defaults** are Apache prefork's: 5 workers at start, 5 to 10 spare, at most 256 workers
//! (Apache's ServerLimit); a production server sizes `--max-workers` to its memory divided by a
//! worker's private memory (PSS, not RSS: see fork_per_request).
//!
//! **Accept: shared or SO_REUSEPORT** (`--accept`). Shared: every worker blocks in accept() on one
//! socket. Linux wakes exactly one waiter per connection (exclusive wait), in FIFO order, so
//! there is no thundering herd with a single listener and the load is spread round-robin
//! (Apache uses no accept mutex in that case either). Measured with `ab -n 2000 -c 4` and 4 workers:
//! 493/504/506/498 connections per worker, shared; 500/495/511/496 with SO_REUSEPORT, where
//! each slot has its own socket and the kernel hashes each client address and port to one.
//! SO_REUSEPORT's catch: connections already queued on a socket are reset when that socket closes.
//! Here a socket closes when its slot is emptied by the spare regulation retiring a worker; a
//! recycled or crashed worker's socket stays open in the parent for its replacement, and at a
//! reload each new worker takes over an old worker's socket. Linux ≥ 5.14 can migrate queued
//! connections instead (`net.ipv4.tcp_migrate_req`). With a shared socket, nothing queued is ever
//! lost: the queue belongs to the one socket. The other catch: the hash pins a new connection to
//! one socket, and so to one worker, even while a keep-alive client holds that worker and others
//! are idle (`lab load -c50` against 60 workers: 33 requests timed out in 10 s; shared: none).
//!
//! **Accept: handoff** (`--accept handoff`, [`lab_core::dealer`]): the parent alone accepts, and
//! passes each connection's descriptor (`SCM_RIGHTS`) to a worker round-robin over the worker's
//! own Unix socket, as the Node.js cluster module does by default on Linux. A worker asks for a
//! connection (a one-byte message) whenever it is free, and only a worker that asked is dealt
//! one, so nothing waits behind a busy worker; while no worker has asked, connections wait in the
//! kernel's backlog. A connection dealt to a worker that dies before taking it is taken back by
//! the parent and dealt to another (the log says how many). The price: every connection passes
//! through the parent, one process for the whole pool. Measured (release build, 2 cores shared
//! with the load generator and other builds, load average 15 to 35; `lab compare --models
//! process_pool,hybrid_pool,epoll --experiments accept --accept-conns 200 --accept-workers 4
//! --duration 5s --repeat 3`, strategies alternating, two such runs): 4 workers, 200 clients
//! opening a connection per request, every strategy spread evenly (Jain's index 0.996 to 1.000);
//! server CPU per connection 20 to 24 µs shared or reuseport, 49 to 50 µs handoff (2.1x and 2.4x
//! shared's); requests/s within run-to-run noise of shared (0.9x to 1.2x).
//!
//! **Keep-alive** is prefork's weak spot: an idle keep-alive client holds a whole worker for up
//! to `--idle-timeout`, so N such clients need N processes. Slow clients are worse: a slowloris
//! attack (thousands of connections, each trickling a request head that never ends) pins every
//! worker, and `--header-timeout` only frees one to be pinned again at once.
//!
//! **Parking** (`--park on`, what Apache's event MPM and nginx do): the parent also runs a front
//! ([`lab_core::park`]), a mio event loop that accepts every connection and holds it until a
//! whole request head has arrived (it peeks with `MSG_PEEK` and runs the parser on what it sees;
//! nothing is consumed), applying `--header-timeout` (408) and `--idle-timeout` itself. Only then
//! does it pass the connection's file descriptor over a Unix socket to whichever idle worker
//! takes it (`SCM_RIGHTS`, [`lab_core::handoff`]: several workers wait on one socket, as they
//! would on a listener). A worker answers what was sent and, when the connection is idle and
//! kept alive, passes it back to the front instead of waiting on it.
//!
//! ```text
//! parent: as above, but between its looks at the workers it runs the front (20 ms at a time)
//!         instead of sleeping; it stays one thread, so it may still fork (a new worker first
//!         closes its copies of the connections the front holds)
//! worker: loop { conn = receive from the front; mark busy; serve until idle;
//!                kept alive? send it back; mark idle }
//! ```
//!
//! Measured (release build, 2 cores, other builds running, load average 10 to 80):
//! `slowhttptest -c 4000 -H -i 10 -r 400 -l 40` with a control `curl` every 0.5 s (2 s timeout)
//! during the attack, two runs each: **6 and 9 of 77** answered with `--park off`, **77 of 77**
//! both times with `--park on`, the front holding 1,823 and 2,231 connections mid-attack (with `--header-timeout 60s`, all 4,000, and still
//! 77 of 77). `lab load -c 1000` (keep-alive, 4 s): 1,972 timeouts with parking off (only as
//! many connections as workers get served), none with it on (15,700 to 27,600 requests/s). The
//! price is two descriptor passes, a peek and a parse per keep-alive request, all through one
//! parent: `lab load -c 8`, 37,500 to 42,000 requests/s with parking, 71,000 to 74,000 without
//! (alternating runs). Re-measure with `lab serve --model process_pool --park on|off` and the
//! commands above. A slow request *body* still pins a worker (`slowhttptest -B`), as in Apache's
//! event MPM; `--accept reuseport` does not combine with parking (the front does the accepting).
//!
//! **Graceful reload** (SIGHUP) fails no request, keep-alive clients included: the new
//! generation starts as large as the old one, so every client has a worker when it reconnects; an
//! old worker waiting on an idle keep-alive connection does not close it under a client that may
//! be sending its next request, but waits (up to 1 s) for that request and answers it with
//! `Connection: close` ([`lab_core::serve_connection`]). Five SIGHUPs during `wrk -t1 -c50
//! -d10s` (after a warm-up run that grew the pool to 50 workers): 0 failed requests, against 144
//! (90 resets, 54 timeouts) when old workers closed idle connections at once and the new
//! generation started with `--start-workers`; `lab load` the same way: 0 against 148.
//!
//! **Faults cost one connection.** Under 50 keep-alive connections (`lab load -c50 -d10s`, 60
//! workers), five `/crash?abort` requests cost no other connection, and five `kill -9` of a busy
//! worker cost 5 connections, one each (hybrid_pool: about 25 per `kill -9`; see there).
//!
//! **Measured** (release build, 2 cores, `ab` on the same machine, other builds running,
//! load about 2.5): `ab -n 2000 -c 10`, a new connection per request: 14,400 requests/s with 10
//! workers, against 3,300 for fork_per_request and 10,000–11,500 for thread_per_request. 100
//! workers holding 100 idle connections: RSS summed 184 MiB, PSS summed 11.7 MiB (about 90 KiB
//! private memory per worker).
//!
//! # Trade-offs
//! - Wins: no fork per connection; isolation (an abort, a leak or a `kill -9` costs one
//!   connection, as measured, and one replacement fork); no locks or shared mutable state in the
//!   application; recycling bounds the damage of slow leaks; graceful reload without a failed
//!   request.
//! - With `--park on`: slow and idle clients cost a parked socket, not a worker; each keep-alive
//!   request costs two descriptor passes, and the parent's front is one thread for all.
//! - Loses: concurrency is the number of processes, and each idle keep-alive client pins one; a
//!   process per connection in memory (page tables, kernel stacks) and in context switches; the
//!   pool follows load only at the tick's pace (1, 2, 4, … per second); no in-memory state shared
//!   between workers except what is put in shared memory by hand.

#![deny(unsafe_code)]

use lab_core::model::{self, ModelInfo, ModelOptions};
use lab_core::net::Listener;
use lab_core::park::{self, HandoffDoor};
use lab_core::supervisor::{self, Sizing, SupervisorOptions, WorkerContext};
use lab_core::{serve_connection, serve_until_idle, AcceptMode, Config, Handler, Shutdown};
use std::io;
use std::sync::Arc;

/// What the lab knows about this model.
pub const MODEL: ModelInfo = ModelInfo {
    name: "process_pool",
    summary: "prefork workers accepting on a shared socket, managed like Apache prefork",
    flags: <Options as clap::Args>::augment_args,
    available: model::always_available,
    start: |flags| model::start(flags, run),
    variants: &[],
    conformance: &[
        &["--accept", "reuseport"],
        &["--park", "on"],
        &["--accept", "handoff"],
    ],
};

/// process_pool's flags: Apache prefork's, with its defaults.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Options {
    /// Workers forked at start (Apache: StartServers); a SIGHUP reload forks as many as the old
    /// generation had, and at least this many.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub start_workers: usize,
    /// Fewer idle workers than this and the parent forks more (MinSpareServers).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub min_spare: usize,
    /// More idle workers than this and the parent retires one per tick (MaxSpareServers).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_spare: usize,
    /// Most worker processes at once (MaxRequestWorkers).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_workers: usize,
    #[command(flatten)]
    pub supervisor: SupervisorOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            start_workers: 5,
            min_spare: 5,
            max_spare: 10,
            max_workers: 256,
            supervisor: SupervisorOptions::default(),
        }
    }
}

impl ModelOptions for Options {
    fn validate(&self) -> Result<(), String> {
        if self.max_workers == 0 || self.max_workers > 4096 {
            return Err("--max-workers must be between 1 and 4096".into());
        }
        if self.start_workers == 0 || self.start_workers > self.max_workers {
            return Err("--start-workers must be between 1 and --max-workers".into());
        }
        if self.min_spare == 0 || self.min_spare > self.max_workers {
            return Err("--min-spare must be between 1 and --max-workers".into());
        }
        if self.max_spare < self.min_spare {
            return Err("--max-spare must be at least --min-spare".into());
        }
        if self.supervisor.park.is_on() && self.supervisor.accept.accept == AcceptMode::ReusePort {
            return Err("--park on: the front accepts on one socket; use --accept shared".into());
        }
        self.supervisor.validate()
    }
}

/// Runs the pool until `shutdown` is triggered, then stops the workers (bounded by
/// `config.drain_timeout`). Must be called from a single-threaded process.
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
) -> io::Result<()> {
    let o = options;
    let sizing = Sizing::prefork(o.start_workers, o.min_spare, o.max_spare, o.max_workers);
    if o.supervisor.park.is_on() {
        // `--park on`: the parent runs the front, and workers take connections from it.
        let (mut front, door) = park::handoff_front(&listener, &config.limits)?;
        let worker = |ctx: WorkerContext<'_>| parked_worker(ctx, &door, handler.as_ref(), config);
        return supervisor::supervise_with_front(
            "process_pool",
            listener,
            sizing,
            &o.supervisor,
            config,
            shutdown,
            &worker,
            &mut front,
        );
    }
    let worker = |ctx: WorkerContext<'_>| worker(ctx, handler.as_ref(), config);
    supervisor::supervise(
        "process_pool",
        listener,
        sizing,
        &o.supervisor,
        config,
        shutdown,
        &worker,
    )
}

/// A worker's whole life: accept (or, with `--accept handoff`, receive from the parent), serve,
/// repeat; one connection at a time.
fn worker(ctx: WorkerContext<'_>, handler: &dyn Handler, config: &Config) -> i32 {
    let Ok(mut intake) = ctx.intake() else {
        return 1;
    };
    ctx.slot.ready();
    while let Some(conn) = intake.take() {
        ctx.slot.begin_connection();
        let stats = serve_connection(conn, handler, &config.limits, &ctx.shutdown);
        ctx.slot.end_connection(stats.requests);
        if ctx.recycle_due() {
            break;
        }
    }
    ctx.slot.exiting();
    0
}

/// A worker with `--park on`: take a connection whose head has arrived, answer what it sent,
/// give it back to the front while it is idle; one connection at a time.
fn parked_worker(
    ctx: WorkerContext<'_>,
    door: &HandoffDoor,
    handler: &dyn Handler,
    config: &Config,
) -> i32 {
    ctx.slot.ready();
    while let Some(conn) = door.next(&ctx.shutdown) {
        ctx.slot.begin_connection();
        let (stats, idle) = serve_until_idle(conn, handler, &config.limits, &ctx.shutdown);
        ctx.slot.end_connection(stats.requests);
        if let Some(conn) = idle {
            door.give_back(conn);
        }
        if ctx.recycle_due() {
            break;
        }
    }
    ctx.slot.exiting();
    0
}
