//! What an event-loop model's `run` does around its loops, the same for epoll and io_uring:
//! publish the loops' counters in `/_status`, start the offload pool (`--offload on`), build each
//! loop's [`Env`], then join the loops and stop the pool. A model keeps only what is its own:
//! how it waits (a `mio::Poll`, a ring) and how a helper wakes it.

use crate::offload::{Done, Pool, Reply, Waker};
use crate::{Buffers, Counters, Env, LoopCounters, Options};
use crossbeam_channel::Receiver;
use lab_core::net::Listener;
use lab_core::{AcceptMode, Config, Handler, Shutdown};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `run` waits for the offload helpers to exit after the loops have returned.
pub const POOL_STOP_GRACE: Duration = Duration::from_millis(200);

/// Runs `serve` with fresh counters for `loops` loops, shown by `GET /_status` meanwhile.
pub fn with_status(
    loops: usize,
    serve: impl FnOnce(Arc<Counters>) -> io::Result<()>,
) -> io::Result<()> {
    let counters = Arc::new(Counters::new(loops));
    let shown = Arc::clone(&counters);
    lab_core::status::set_source(move || shown.to_json());
    let result = serve(counters);
    lab_core::status::clear_source();
    result
}

/// Checks that there is one [`LoopCounters`] per loop, and returns the number of loops.
pub fn loops(model: &str, options: &Options, counters: &Counters) -> io::Result<usize> {
    let loops = options.loops.max(1);
    if counters.loops.len() != loops {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{model}: one LoopCounters per loop"),
        ));
    }
    Ok(loops)
}

/// One listening socket per loop, for `--accept`: with `shared` and `exclusive` every loop gets
/// a clone of `listener` (one socket, one file description, one accept queue); with `reuseport`
/// loop 0 keeps `listener` and each other loop binds a SO_REUSEPORT socket of its own beside it,
/// so the kernel hashes each client to one loop's queue (TCP only: over a Unix socket it is
/// refused, naming the flag). A strategy not in `allowed` is refused, naming the flag. With
/// `nonblocking` every socket is made non-blocking (a readiness loop needs it; the clones share
/// the setting).
pub fn loop_listeners(
    model: &str,
    listener: &Listener,
    options: &Options,
    allowed: &[AcceptMode],
    nonblocking: bool,
) -> io::Result<Vec<Listener>> {
    options
        .accept
        .check(model, allowed)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let reuseport = match options.accept.accept {
        AcceptMode::ReusePort => Some(lab_core::net::enable_reuseport(listener)?),
        _ => None,
    };
    if nonblocking {
        listener.set_nonblocking(true)?;
    }
    (0..options.loops.max(1))
        .map(|index| match reuseport {
            Some(addr) if index > 0 => {
                let socket = lab_core::net::bind_reuseport(addr)?;
                if nonblocking {
                    socket.set_nonblocking(true)?;
                }
                Ok(socket)
            }
            _ => listener.try_clone(),
        })
        .collect()
}

/// Starts the offload pool when `--offload on`; with `-v`, says how the `loops` loops (`what`:
/// "event loops", "rings") run their handlers.
pub fn start_offload(
    model: &'static str,
    handler: &Arc<dyn Handler>,
    options: &Options,
    loops: usize,
    what: &str,
    verbose: bool,
) -> io::Result<Option<Pool>> {
    let pool = match options.offload.is_on() {
        true => Some(Pool::start(
            model,
            Arc::clone(handler),
            options.offload_threads,
        )?),
        false => None,
    };
    if verbose {
        let offload = match options.offload.is_on() {
            true => format!("offload on ({} helper threads)", options.offload_threads),
            false => "offload off (handlers run inline)".into(),
        };
        let sockets = match options.accept.accept {
            AcceptMode::ReusePort => "a SO_REUSEPORT listening socket each",
            AcceptMode::Exclusive => "one listening socket (EPOLLEXCLUSIVE)",
            _ => "sharing one listening socket",
        };
        eprintln!("{model}: {loops} {what}, {sockets}, {offload}");
    }
    Ok(pool)
}

/// One loop's environment, and the channel its offloaded requests come back on. `waker` is
/// asked for only when the pool runs.
pub fn loop_env(
    handler: &Arc<dyn Handler>,
    config: &Config,
    shutdown: &Shutdown,
    counters: &Arc<LoopCounters>,
    pool: Option<&Pool>,
    waker: impl FnOnce() -> Waker,
) -> (Env, Receiver<Done>) {
    let (results_tx, results) = crossbeam_channel::unbounded();
    let offload = pool.map(|pool| {
        (
            pool.sender(),
            Reply {
                results: results_tx,
                waker: waker(),
            },
        )
    });
    let env = Env {
        handler: Arc::clone(handler),
        limits: config.limits,
        shutdown: shutdown.clone(),
        buffers: Buffers::new(),
        offload,
        counters: Arc::clone(counters),
    };
    (env, results)
}

/// Waits for every loop; the first error (`result`'s, or a loop's) is `run`'s. Each loop's
/// error is also printed, naming the model.
pub fn join_loops(
    model: &str,
    threads: Vec<JoinHandle<io::Result<()>>>,
    mut result: io::Result<()>,
) -> io::Result<()> {
    for thread in threads {
        let outcome = match thread.join() {
            Ok(outcome) => outcome,
            Err(_) => Err(io::Error::other(format!("{model}: an event loop panicked"))),
        };
        if let Err(e) = outcome {
            eprintln!("{model}: {e}");
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    result
}

/// Stops the offload pool once the loops are gone. The loops were every sender of jobs, so idle
/// helpers exit at once; a loop that drained cleanly has no job out, so a helper still busy now
/// is running a request whose connection the drain timeout already closed: waiting for it is
/// useless.
pub fn stop_offload(model: &str, pool: Option<Pool>) {
    if let Some(pool) = pool {
        let left = pool.stop(Instant::now() + POOL_STOP_GRACE);
        if left > 0 {
            eprintln!(
                "{model}: {left} offload threads still busy after the drain; not waiting for them"
            );
        }
    }
}
