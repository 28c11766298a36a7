//! # io_uring: completion-based event loops
//!
//! The successor of epoll, past the lecture. epoll is **readiness**: the kernel says "this
//! socket can be read now", and the loop then makes the `read` itself, one syscall per socket
//! per event, plus a `write` per response. io_uring is **completion**: the loop tells the kernel,
//! once, "whenever bytes arrive on this socket, put them in one of these buffers and tell me",
//! and later finds "connection 7: 78 bytes in buffer 12" in a completion queue it shares with
//! the kernel (memory both see, so reading it costs no syscall). Sends are requests too, queued
//! in a submission queue and handed over in one `io_uring_enter` together with the wait for the
//! next completions. A busy loop makes one syscall per *round*, not two per request.
//!
//! ```text
//! loop {                                       // one per --loops, each with its own ring
//!     io_uring_enter(submit: every send and re-arm queued last round, wait: ≥1 completion or
//!                    the next deadline)
//!     for completion {
//!         ACCEPT (one completion per connection; on a shared socket re-armed each time,
//!                 see "Accepting") => arm its receive
//!         RECV   (multishot, into the provided buffer ring) => parse, answer, queue the response;
//!                 give the buffer back to the ring at once
//!         SEND   => done, or short: queue the rest
//!         WAKE   (the offload pool wrote the loop's eventfd) => queue the pool's answers
//!     }
//!     settle the connections touched; expire deadlines; at shutdown: cancel the accept, drain
//! }
//! ```
//!
//! **An idle connection holds no buffer**, as in epoll. A receive does not name a buffer: it
//! names a *group*, the loop's provided buffer ring (`RING_BUFFERS` × 4 KiB), and the kernel
//! picks one only when bytes arrive. The loop copies them into its scratch buffer, gives the ring
//! buffer back and parses there (the toolkit's `Session`, which does no I/O); only a partial
//! request is kept in a buffer of the connection's own. An idle keep-alive connection costs a
//! slab slot (a [`connection::Connection`], ~170 bytes), a deadline and the kernel's record of
//! its armed receive (kernel memory, not in our PSS).
//!
//! **Everything else is the toolkit's** (lab-evloop), shared with epoll: the buffer pool, the
//! deadline set (header/body → 408, idle, write, linger → close; the wait's timeout is the first
//! deadline, at most 250 ms so that shutdown is seen), the offload pool (`--offload on`: Cpu and
//! Blocking requests go to `--offload-threads` helpers; the answer comes back on a channel and
//! an eventfd the ring has a read pending on), per-loop counters for `/_status` and `--verbose`,
//! and the connection states. Back-pressure: at 64 KiB of unsent output a connection stops
//! answering; at 64 KiB of unparsed input its receive is cancelled until the input is used.
//! A file body (the docroot's) is not read whole: sends come from our buffers, so the session
//! reads it 64 KiB at a time, the next chunk when the last has been taken (epoll instead hands
//! the file to the kernel with `sendfile`); a slow reader holds one chunk, and
//! `tests/slow_readers.rs` holds this model to it. A loop trims the heap when its open count
//! falls after a wave (`lab_core::memory`). Under `slowhttptest -X` (2,000 connections
//! pipelining 3 requests for a 1 MiB file, README "Hardening"): peak RSS 142 MiB (2,000 chunks),
//! 9.2 MiB 5 s after (idle 6.1 MiB); when responses held whole files, 2,019 and 1,692 MiB.
//!
//! **Closing is asynchronous too.** The kernel holds a reference to a socket while an operation
//! on it is in flight, and writes into memory we gave it. So closing cancels the connection's
//! receive (and send), and the socket is closed and its slot reused only when the last
//! completion is in; send buffers are owned by the [`sys`] module until their completion. That
//! module holds every `unsafe` of the crate.
//!
//! **Where io_uring is unavailable** (a kernel older than 6.0, `kernel.io_uring_disabled`, or a
//! container whose seccomp profile forbids it, as Docker's default does), [`availability`] says
//! why and what to do, `lab serve` fails with that line, and `lab models`, the conformance suite
//! and `lab compare` skip the model with it.
//!
//! **Measured** (2-core VM, Linux 6.18, release `lab`, `--loops 1` for both models; the VM was
//! shared with half a dozen compilers, load average 7 to 29, so only ratios from runs that
//! alternate epoll, io_uring, epoll, io_uring in one session mean anything):
//! - **Syscalls per request** (`perf stat -e raw_syscalls:sys_enter` on the server while
//!   `lab load -c 100 --requests 100000` runs; `strace -c -f` agrees): epoll **2.02** (a `read`
//!   and a `write` per request, plus `epoll_wait` per batch), io_uring **0.08** (one
//!   `io_uring_enter` per round of about 13 requests). Pipelined 16 deep: epoll 0.70, io_uring
//!   0.1 to 0.4 (fewer requests per round when the client is slow to send).
//! - **Server CPU per request** (threads' `schedstat` run time, `/proc/PID/stat` agrees), `wrk
//!   -t1 -c100 -d5s`, 8 alternating pairs: epoll 170,000 to 183,000 requests per CPU-second
//!   (5.6 µs each), io_uring 192,000 to 202,000 (5.0 µs): **1.10x** (pairwise median; 1.11x
//!   over all runs). With a 16-request pipeline (`wrk -s pipeline.lua`): 1.70-1.76 M against
//!   1.84-2.02 M requests per CPU-second, **1.11x**. The rest is the kernel's TCP work, the same
//!   for both: `perf` puts 86% (epoll) and 91% (io_uring) of the loop's time in the kernel.
//! - **Throughput**: the load generator, not the server, was the bottleneck (the server used a
//!   quarter to a half of a core), so the figures follow the neighbours' load: over the same 8
//!   pairs io_uring served 1.21x epoll's requests (pairwise 0.62x to 1.94x); pipelined 1.06x
//!   (pairwise median 1.01x).
//! - **10,000 connections**: `lab run --model io_uring --conns 10000`: all 10,000 established,
//!   0 errors, 48,000 requests/s. Idle keep-alive connections (a client opens 10,000, one
//!   `GET /` each, keeps them open; PSS from `/proc/PID/smaps_rollup`): **333 bytes each**
//!   (epoll in the same run: 178); the slab slot is 144 bytes, the rest is the slab's and the
//!   deadline set's growth and the response buffers the pool keeps after 10,000 sends in flight
//!   at once (epoll writes each response at once and needs fewer).
//!
//! The scripts are in `servers/io_uring/bench/` (`compare.py`, `syscalls.sh`, `idle.py`).
//!
//! **Accepting.** With `--loops N` the rings share one listening socket (`--accept shared`, the
//! default) or each has a SO_REUSEPORT socket of its own (`--accept reuseport`: the kernel
//! hashes each client to one). On a socket of its own (reuseport, or a single ring) a ring arms
//! one *multishot* accept: armed once, a completion per connection. On the shared socket each
//! ring keeps one *single* accept in flight and re-arms it when it completes, because of how
//! the kernel hands an arrival to one of several waiting accepts. An accept that finds no
//! connection waits on the socket's wait queue as an *exclusive* waiter (io_uring arms its
//! poll with EPOLLEXCLUSIVE, so that an arrival wakes one ring, not all), queued at the tail;
//! an arrival wakes the first exclusive waiter. A multishot accept's entry stays where it is
//! after each wake-up, and takes the wake-up even while its ring is busy (the ring accepts
//! when it next enters the kernel, then keeps accepting until the queue is empty). So with
//! multishot accepts on the shared socket (what `shared` first did here) the ring whose entry
//! came first took every connection while the other rings sat idle: `lab compare
//! --experiments accept` (4 rings, 200 clients opening a connection per request, 3 runs) gave
//! 0 / 0 / 2 / 35,726 connections per ring, Jain 0.25. A single accept's entry is removed when
//! it is woken, and queued again at the tail when its ring re-arms, so the waiting rings take
//! turns, as threads blocked in `accept` do, and a busy ring takes at most one connection per
//! round. Measured the same way (release build, epoll's cells alternating with these, other
//! builds running): `shared` 31,939 / 31,759 / 32,123 / 31,999, 15,662 / 15,535 / 15,832 /
//! 15,197 and 23,077 / 24,826 / 23,340 / 23,141 per ring (Jain 1.000, 1.000, 0.999), as even
//! as `reuseport` (Jain 1.000); server CPU per connection 32 µs against reuseport's 34 µs.
//! (One ring taking everything used less CPU per connection, 21 µs, and served 4% to 8% more
//! connections per second, 3 alternating pairs of `lab run --loops 4 --conns 200
//! --no-keepalive`, on this 2-core VM where the load generator needs a core too: one busy
//! thread instead of four. Keep-alive plaintext, `--loops 2 --conns 100`, 13 alternating pairs:
//! the spread served 0.97x as many requests per second, pairwise median, range 0.80x to 1.59x.)
//! The catch, shared with EPOLLEXCLUSIVE and reuseport: an arrival can wake a ring that is
//! stuck in a long handler (`--offload off`); its connection then waits in the backlog until
//! another ring re-arms or is woken by the next arrival (it accepts the oldest first). There is
//! no `exclusive` flag: io_uring's accept always waits exclusively.
//!
//! # Trade-offs
//! - Wins: fewer syscalls (one enter per round, multishot operations armed once), so less CPU
//!   per request when many connections are busy; no readiness edge cases (no `WouldBlock`, no
//!   edge-triggered "read until drained", no interest re-registration); the same model fits
//!   files and sockets (epoll cannot wait for a disk read).
//! - Loses: Linux only (6.0+ for what this model uses), often disabled in containers for its
//!   security record; the kernel writes into our memory later, so buffer ownership must be
//!   managed by hand (`unsafe`, leaking rather than freeing at exit if the kernel still holds
//!   it); closing takes a round trip; a busy connection's data waits in the completion queue
//!   rather than in the socket, so back-pressure needs cancelling the receive.
//!
//! # Layout
//! - [`event_loop`]: one loop: submit and wait, dispatch completions, settle, timers, drain.
//! - [`connection`]: a connection's socket, session and operations in flight.
//! - [`sys`]: the ring, the provided buffer ring, the eventfd: every `unsafe`.

#![deny(unsafe_code)]

pub mod connection;
pub mod event_loop;
#[allow(unsafe_code)]
pub mod sys;

use event_loop::{Accepting, EventLoop};
use lab_core::model::{self, ModelInfo, Variant};
use lab_core::net::Listener;
use lab_core::{Config, Handler, Shutdown};
use lab_evloop::lifecycle;
pub use lab_evloop::{Counters, Env, LoopCounters, Options};
use std::io;
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;

/// Submission queue entries per ring (completions: four times as many). Each round queues at
/// most a send and a re-arm per connection touched; a full queue is submitted early.
const RING_ENTRIES: u32 = 1024;

/// Provided buffers per loop (a power of two), each [`lab_evloop::buffers::READ_CHUNK`] bytes:
/// 2 MiB per loop. A buffer is held only from its completion to the end of its processing,
/// so this bounds arrivals per round, not connections; when they run out, a receive ends with
/// ENOBUFS and is re-armed.
const RING_BUFFERS: u16 = 512;

/// Single accepts each ring keeps in flight on a shared listening socket (`--accept shared`).
/// One is enough for an even spread (each ring takes a connection per round, and the rings
/// that wait take turns); four spread as evenly in the accept experiment.
const SHARED_ACCEPTS: usize = 1;

/// The kernel this model needs: multishot receive (6.0); multishot accept and provided buffer
/// rings came in 5.19.
const MIN_KERNEL: (u32, u32) = (6, 0);

/// What the lab knows about this model. Its flags are epoll's (the toolkit's [`Options`]).
pub const MODEL: ModelInfo = ModelInfo {
    name: "io_uring",
    summary:
        "completion-based event loops on io_uring: multishot accept and receive, batched sends",
    flags: <Options as clap::Args>::augment_args,
    available: availability,
    start: |flags| {
        // The toolkit's flags include epoll's `--accept`: io_uring has no EPOLLEXCLUSIVE.
        if let Ok(o) = <Options as clap::FromArgMatches>::from_arg_matches(flags) {
            o.accept.check("io_uring", &ACCEPT)?;
        }
        model::start(flags, run)
    },
    variants: &[Variant {
        label: "io_uring+offload",
        flags: &["--offload", "on"],
        only_offloadable: true,
    }],
    conformance: &[&["--offload", "on"], &["--loops", "1"]],
};

/// Whether io_uring can run here, checked once: `Err` says why not and what to do.
pub fn availability() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE.get_or_init(probe).clone()
}

/// Set (to anything but `0`) to treat io_uring as unavailable: to try the fallback path, or to
/// keep `lab compare --models all` and the tests off io_uring on a machine where it misbehaves.
pub const DISABLE_ENV: &str = "HTTP_LAB_DISABLE_IO_URING";

fn probe() -> Result<(), String> {
    if std::env::var_os(DISABLE_ENV).is_some_and(|v| v != "0") {
        return Err(format!(
            "disabled by {DISABLE_ENV} in the environment: unset it to use io_uring"
        ));
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if let Some(version) = kernel_version(&release) {
        if version < MIN_KERNEL {
            return Err(format!(
                "io_uring needs Linux {}.{} or newer (multishot receive); this kernel is {}",
                MIN_KERNEL.0,
                MIN_KERNEL.1,
                release.trim()
            ));
        }
    }
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if disabled == 2 {
        return Err(
            "io_uring is disabled on this machine (kernel.io_uring_disabled=2): \
                    run `sysctl kernel.io_uring_disabled=0` as root"
                .into(),
        );
    }
    match sys::Ring::new(8, 1, lab_evloop::buffers::READ_CHUNK) {
        Ok(ring) => match ring.missing_opcodes() {
            Ok(missing) if missing.is_empty() => Ok(()),
            Ok(missing) => Err(format!(
                "this kernel's io_uring lacks {}; use --model epoll",
                missing.join(", ")
            )),
            Err(e) => Err(format!("cannot probe io_uring's operations: {e}")),
        },
        Err(e) => Err(match e.raw_os_error() {
            Some(libc::EPERM) if disabled == 1 => "io_uring is restricted to a group \
                (kernel.io_uring_disabled=1): run `sysctl kernel.io_uring_disabled=0` as root, \
                or add this user to kernel.io_uring_group"
                .into(),
            Some(libc::EPERM) | Some(libc::ENOSYS) => format!(
                "io_uring is blocked ({e}): a container's seccomp profile forbids it (Docker's \
                 default does): run with --security-opt seccomp=unconfined, or use --model epoll"
            ),
            Some(libc::EINVAL) => format!(
                "io_uring lacks a feature this model needs (provided buffer rings, Linux 5.19+): \
                 {e}; use --model epoll"
            ),
            _ => format!("io_uring cannot be set up: {e}; use --model epoll"),
        }),
    }
}

/// "6.18.44-fc" → (6, 18).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The `--accept` strategies of this model.
const ACCEPT: [lab_core::AcceptMode; 2] = [
    lab_core::AcceptMode::Shared,
    lab_core::AcceptMode::ReusePort,
];

/// How each ring accepts (the crate's "Accepting"): a multishot accept where the socket is the
/// ring's alone (`reuseport`, or a single ring), single accepts re-armed one by one where rings
/// share it.
fn accepting(options: &Options) -> Accepting {
    match options.accept.accept {
        _ if options.loops <= 1 => Accepting::Multishot,
        lab_core::AcceptMode::ReusePort => Accepting::Multishot,
        _ => Accepting::OneShot(SHARED_ACCEPTS),
    }
}

/// Serves `listener` with `options.loops` rings until `shutdown` is triggered and the loops
/// have drained.
pub fn run(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
) -> io::Result<()> {
    lifecycle::with_status(options.loops.max(1), |counters| {
        run_with_counters(listener, handler, config, options, shutdown, counters)
    })
}

/// [`run`], with counters the caller can read while it runs (`counters.loops.len()` must be
/// `options.loops`).
pub fn run_with_counters(
    listener: Listener,
    handler: Arc<dyn Handler>,
    config: &Config,
    options: &Options,
    shutdown: Shutdown,
    counters: Arc<Counters>,
) -> io::Result<()> {
    availability().map_err(|reason| io::Error::new(io::ErrorKind::Unsupported, reason))?;
    let loops = lifecycle::loops("io_uring", options, &counters)?;
    // shared: one socket, each ring with a single accept on it at a time; reuseport: a socket
    // (and a multishot accept) per ring.
    let sockets = lifecycle::loop_listeners("io_uring", &listener, options, &ACCEPT, false)?;
    drop(listener);
    let pool = lifecycle::start_offload(
        "io_uring",
        &handler,
        options,
        loops,
        "rings",
        config.verbose,
    )?;

    // Each ring is created on its loop's thread (a SINGLE_ISSUER ring belongs to the thread
    // that made it); each loop reports its setup before serving, so a failure stops `run`.
    let (ready_tx, ready) = mpsc::channel::<io::Result<()>>();
    let mut threads = Vec::with_capacity(loops);
    let mut result = Ok(());
    let accepting = accepting(options);
    for ((index, loop_counters), listener) in counters.loops.iter().enumerate().zip(sockets) {
        let wake = Arc::new(sys::EventFd::new()?);
        let (env, results) = lifecycle::loop_env(
            &handler,
            config,
            &shutdown,
            loop_counters,
            pool.as_ref(),
            || {
                let wake = Arc::clone(&wake);
                Arc::new(move || wake.wake())
            },
        );
        let ready_tx = ready_tx.clone();
        let (verbose, drain_timeout) = (config.verbose, config.drain_timeout);
        let spawned = thread::Builder::new()
            .name(format!("io_uring-loop-{index}"))
            .spawn(move || {
                let setup =
                    sys::Ring::new(RING_ENTRIES, RING_BUFFERS, lab_evloop::buffers::READ_CHUNK)
                        .and_then(|ring| {
                            EventLoop::new(
                                index,
                                ring,
                                listener,
                                accepting,
                                wake,
                                results,
                                env,
                                verbose,
                                drain_timeout,
                            )
                        });
                match setup {
                    Ok(event_loop) => {
                        let _ = ready_tx.send(Ok(()));
                        event_loop.run()
                    }
                    Err(e) => {
                        let e = io::Error::new(e.kind(), format!("cannot set up a ring: {e}"));
                        let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        Err(e)
                    }
                }
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    drop(ready_tx);
    for _ in 0..threads.len() {
        if let Ok(Err(e)) = ready.recv() {
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    if result.is_err() {
        // Without all its loops the server cannot run as configured: stop the ones that started.
        shutdown.trigger();
    }
    let result = lifecycle::join_loops("io_uring", threads, result);
    lifecycle::stop_offload("io_uring", pool);
    result
}

#[cfg(test)]
mod tests {
    use super::{accepting, kernel_version, Accepting, Options, SHARED_ACCEPTS};
    use lab_core::AcceptMode;

    #[test]
    fn multishot_accept_only_on_a_socket_of_the_rings_own() {
        let with = |loops, accept| {
            let mut options = Options {
                loops,
                ..Options::default()
            };
            options.accept.accept = accept;
            accepting(&options)
        };
        let shared = Accepting::OneShot(SHARED_ACCEPTS);
        assert_eq!(with(4, AcceptMode::Shared), shared);
        assert_eq!(with(2, AcceptMode::Shared), shared);
        assert_eq!(with(1, AcceptMode::Shared), Accepting::Multishot);
        assert_eq!(with(4, AcceptMode::ReusePort), Accepting::Multishot);
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(kernel_version("6.18.44-fc-v669\n"), Some((6, 18)));
        assert_eq!(kernel_version("5.15.0-91-generic"), Some((5, 15)));
        assert_eq!(kernel_version("nonsense"), None);
    }
}
