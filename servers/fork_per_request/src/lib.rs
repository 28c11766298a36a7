//! # fork_per_request: a new process for every connection
//!
//! The classic Unix server (inetd, early Apache, CGI): the parent only accepts, and each
//! connection gets a process of its own that runs the same blocking loop as `single_thread`.
//!
//! ```text
//! loop {
//!     reap every child that has ended (waitpid WNOHANG): no zombies
//!     if --max-children are alive: wait for one to end (the backlog holds new connections)
//!     conn = accept()
//!     if fork() == child {
//!         serve conn until it closes (keep-alive included); _exit(0)
//!     }
//!     close(conn)        // the parent's copy; the child has its own
//! }
//! at SIGTERM: SIGTERM every child, wait up to --drain-timeout, SIGKILL the rest, reap them all
//! ```
//!
//! The parent learns that a child ended from SIGCHLD: the handler only sets a flag, but because
//! it is installed without SA_RESTART it also interrupts the parent's `accept`, which returns
//! EINTR, and the loop reaps at once. A child is a zombie for microseconds, not until the next
//! connection. Each child asks the kernel to kill it if the parent dies (PR_SET_PDEATHSIG), so a
//! `kill -9` of the parent leaves nothing behind either.
//!
//! **Does every connection duplicate the server's memory?** No: `fork` copies the page *tables*,
//! not the pages. Parent and child share every page copy-on-write until one of them writes to it;
//! a child serving `/hello` writes only its stack, its heap's few touched pages and the buffers it
//! allocates. So summing RSS over the children overstates memory enormously: RSS counts each
//! shared page once *per process*. PSS (proportional set size, in `/proc/PID/smaps_rollup`) divides
//! each shared page among the processes sharing it, and sums to the real total. What fork does
//! cost is time: copying page tables, a new task, the exit and the reap, for every connection.
//!
//! **Measured** (release build, 2 cores, `ab` on the same machine, while other builds and tests
//! ran: load average about 2.5, so read the ratios, not the absolutes):
//!
//! | `ab -n 2000 -c 10`, a new connection per request | requests/s | per request |
//! |---|---|---|
//! | thread_per_request | 9,900 – 11,500 | 0.87 – 1.0 ms |
//! | fork_per_request | 3,300 – 3,400 | 2.9 – 3.1 ms |
//! | process_pool (10 workers) | 14,400 | 0.69 ms |
//!
//! So fork + exit + reap costs about 0.2 ms of CPU per connection more than a thread spawn on
//! these 2 cores (2.9 ms vs 0.9 ms per request at 10 concurrent, i.e. about 1/3300 s vs 1/10700 s of
//! server time per connection). With keep-alive (`ab -k -n 20000 -c 10`) the fork is paid once
//! per connection and fork_per_request serves 75,000 requests/s, as fast as any blocking model.
//!
//! Memory, with 100 idle keep-alive connections open (one `GET /hello` each), summed over the
//! process tree by `servers/fork_per_request/measure-memory.sh` from `/proc/PID/smaps_rollup`:
//!
//! | | processes | RSS summed | PSS summed |
//! |---|---|---|---|
//! | fork_per_request, no connection | 1 | 4.1 MiB | 2.4 MiB |
//! | fork_per_request, 100 connections | 101 | 153 MiB | 11.6 MiB |
//! | thread_per_request, 100 connections | 1 | 6.4 MiB | 4.7 MiB |
//!
//! RSS says 1.5 MiB per connection; PSS says about 90 KiB, the pages each child really wrote
//! (stack, heap, buffers). Page tables and the kernel's task structures come on top and are in
//! neither number; they are why 10,000 children cost more than 10,000 threads. Under 2,000 slow
//! readers (`slowhttptest -X`, 1 MiB file, README "Hardening") the tree peaked at 2,001
//! processes, 4,294 MiB of RSS and **180 MiB of PSS** (7,091 MiB when each child built its
//! pipelined responses in memory).
//!
//! Every child's first panic is its process's first: with `RUST_BACKTRACE=1` and Rust's default
//! panic hook, each `GET /crash` loaded symbols for a backtrace, and `wrk -c10 …/crash` got 12-13
//! requests/s. With the server's own hook (one line with `-v`, no backtrace,
//! [`lab_core::handler`]): 3,162-3,242 requests/s.
//!
//! # Trade-offs
//! - Wins: isolation. A child that crashes, aborts (`/crash?abort`), leaks (`/alloc`) or corrupts
//!   its memory takes down one connection; its memory is returned when it exits. Simple blocking
//!   code, every core used, and no shared state between connections to get wrong.
//! - Loses: a `fork` + exit + `waitpid` per connection, which dominates short connections
//!   (see the numbers above); per-process kernel memory (page tables, task struct, kernel stack)
//!   for every open connection; nothing can be cached across connections (each child's cache
//!   dies with it); a process per idle keep-alive client. A pool (process_pool) pays the fork once
//!   per worker instead of once per connection.

#![deny(unsafe_code)]

use lab_core::model::{self, ModelInfo, ModelOptions};
use lab_core::net::Listener;
use lab_core::process::{self, Children};
use lab_core::sys::{self, Ended, SharedMem};
use lab_core::{serve_connection, Acceptor, Config, Handler, Next, Shutdown};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// What the lab knows about this model.
pub const MODEL: ModelInfo = ModelInfo {
    name: "fork_per_request",
    summary: "fork a child for every accepted connection; the parent reaps",
    flags: <Options as clap::Args>::augment_args,
    available: model::always_available,
    start: |flags| model::start(flags, run),
    variants: &[],
    conformance: &[],
};

/// fork_per_request's flags.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Options {
    /// Most live children at once (at the cap, accept waits). Enough for the lab's
    /// 10,000-connection runs: each child holds one connection.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_children: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_children: 10_000,
        }
    }
}

impl ModelOptions for Options {
    fn validate(&self) -> Result<(), String> {
        if self.max_children == 0 || self.max_children > 100_000 {
            return Err("--max-children must be between 1 and 100000".into());
        }
        Ok(())
    }
}

/// Counters in shared memory, so that `/_status`, answered by a child, sees the parent's numbers.
const LIVE: usize = 0;
const FORKED: usize = 1;

/// Serves every connection from `listener` in a child process of its own until `shutdown` is
/// triggered, then stops the children (bounded by `config.drain_timeout`). Must be called from a
/// single-threaded process.
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
) -> io::Result<()> {
    process::ensure_single_threaded("fork_per_request")?;
    sys::catch_signal(sys::SIGCHLD, false)?;
    let counts = Arc::new(SharedMem::<AtomicU64>::new(2)?);
    let shown = Arc::clone(&counts);
    let parent = sys::pid();
    let max_children = options.max_children;
    lab_core::status::set_source(move || {
        let c = shown.as_slice();
        format!(
            "{{\"parent\":{parent},\"children\":{},\"forked\":{},\"max_children\":{max_children}}}",
            c[LIVE].load(Relaxed),
            c[FORKED].load(Relaxed)
        )
    });
    let result = serve(&listener, handler, config, max_children, &shutdown, &counts);
    lab_core::status::clear_source();
    result
}

fn serve(
    listener: &Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    max_children: usize,
    shutdown: &Shutdown,
    counts: &SharedMem<AtomicU64>,
) -> io::Result<()> {
    let counts = counts.as_slice();
    let verbose = config.verbose;
    let log_end = |pid: sys::Pid, how: Ended| {
        if how != Ended::Exited(0) {
            eprintln!("fork_per_request: child {pid} ended with {how}");
        }
    };
    let mut children = Children::new();
    let mut acceptor = Acceptor::new(listener, shutdown)?;
    loop {
        children.reap(log_end);
        counts[LIVE].store(children.len() as u64, Relaxed);
        // At the cap, accept nothing: new connections wait in the listen backlog.
        if children.len() >= max_children {
            if shutdown.is_triggered() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let conn = match acceptor.accept_or_tick() {
            Next::Conn(conn) => conn,
            Next::Tick => continue,
            Next::Shutdown => break,
        };
        let spawned = children.spawn(|| {
            // The child: serve this one connection, then leave.
            let stats = serve_connection(conn, handler.as_ref(), &config.limits, shutdown);
            if verbose {
                // One write, so that it cannot split another process's line on stderr.
                let line = format!(
                    "fork_per_request: child {} served {} requests\n",
                    sys::pid(),
                    stats.requests
                );
                eprint!("{line}");
            }
            0
        });
        // In the parent, `conn` was moved into the closure and dropped with it: our copy is
        // closed, and the connection lives on in the child alone.
        match spawned {
            Ok(_) => {
                counts[FORKED].fetch_add(1, Relaxed);
                counts[LIVE].store(children.len() as u64, Relaxed);
            }
            Err(e) => {
                eprintln!(
                    "fork_per_request: fork failed ({e}) with {} children; \
                     lower --max-children or raise the process limit (ulimit -u)",
                    children.len()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let killed = children.stop(config.drain_timeout, log_end);
    if killed > 0 {
        eprintln!("fork_per_request: {killed} children still busy after the drain timeout; killed");
    }
    Ok(())
}
