//! The parent of a pool of worker processes, as Apache's prefork and worker MPMs run it. Both
//! process_pool (a worker is one process serving one connection at a time) and hybrid_pool (a
//! worker is a process of `--threads-per-worker` threads) are this loop; they differ only in the function a
//! worker runs.
//!
//! ```text
//! map the scoreboard; fork --start-workers workers
//! loop, waking every few milliseconds {
//!     reap ended workers: mark their slots dead; replace the ones that were not asked to go
//!         (crash, abort, kill -9, or recycled after --max-requests-per-worker)
//!     SIGTERM?  break
//!     SIGHUP?   generation += 1; fork a new generation as large as the old one;
//!               ask every old worker to finish and exit
//!     every --maintenance-interval (a "tick"), the spare-worker regulation:
//!         idle = workers of this generation that are starting or idle
//!         idle < --min-spare: fork `rate` more (1, then 2, 4, … 32 while the shortage lasts)
//!         idle > --max-spare: ask one idle worker to exit
//!         (a fixed-size pool, hybrid_pool, just tops up to its size)
//! }
//! SIGTERM every worker; wait up to --drain-timeout; SIGKILL the rest; reap them all
//! ```
//!
//! "Ask to exit" is SIGTERM to that one worker: it sets the worker's shutdown flag (the handler
//! `lab serve` installed is inherited through `fork`), so the worker stops accepting, finishes
//! the request in hand and leaves. Apache uses a "pipe of death" for idle workers and SIGUSR1 for
//! a graceful restart; a flag set by a signal does the same job here.
//!
//! The parent never serves a request and never starts a thread: it may fork at any time.

use crate::config::Config;
use crate::model::OnOff;
use crate::net;
use crate::net::Listener;
use crate::process::{self, Children};
use crate::scoreboard::{Scoreboard, Slot, State};
use crate::shutdown::Shutdown;
use crate::sys::{self, Ended, Pid};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Apache's MAX_SPAWN_RATE: the most workers forked in one tick.
pub const MAX_SPAWN_RATE: usize = 32;

/// How often the parent wakes to reap workers and look at its signal flags. Reaping promptly
/// keeps a crashed worker's replacement (and zombies) to a few milliseconds.
const WAKE: Duration = Duration::from_millis(20);

/// How the workers of a pool get their connections (`--accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AcceptMode {
    /// One listening socket; every worker blocks in accept() on it and the kernel wakes one.
    Shared,
    /// A SO_REUSEPORT socket per worker slot; the kernel spreads connections by a hash of the
    /// client's address and port. TCP only: refused with `--addr unix:PATH`.
    #[value(name = "reuseport")]
    ReusePort,
}

/// The supervisor's own flags, shared by every pool model (process_pool, hybrid_pool).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct SupervisorOptions {
    /// How often the parent looks at its workers and acts (Apache: once a second).
    #[arg(long, default_value = "1s", value_parser = lab_units::parse_duration, value_name = "DURATION")]
    pub maintenance_interval: Duration,
    /// A worker exits (and is replaced) after this many connections; 0 = never
    /// (Apache: MaxConnectionsPerChild).
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub max_requests_per_worker: u64,
    /// Workers share one listening socket, or each has its own SO_REUSEPORT socket.
    #[arg(long, value_enum, default_value_t = AcceptMode::Shared)]
    pub accept: AcceptMode,
    /// An event-driven front holds every connection until a whole request head has arrived,
    /// then hands it to a worker (Apache's event MPM), so slow or idle clients do not pin
    /// workers (see `lab_core::park`).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    pub park: OnOff,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        SupervisorOptions {
            maintenance_interval: Duration::from_secs(1),
            max_requests_per_worker: 0,
            accept: AcceptMode::Shared,
            park: OnOff::Off,
        }
    }
}

impl SupervisorOptions {
    /// Checks the values; the error names the flag.
    pub fn validate(&self) -> Result<(), String> {
        if self.maintenance_interval < Duration::from_millis(10)
            || self.maintenance_interval > Duration::from_secs(60)
        {
            return Err("--maintenance-interval must be between 10ms and 60s".into());
        }
        Ok(())
    }
}

/// How big the pool is and how it is regulated.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    /// Workers forked at start, and by each graceful reload.
    pub start: usize,
    pub min_spare: usize,
    pub max_spare: usize,
    /// Most workers of all generations at once.
    pub max_workers: usize,
    /// Serving threads in each worker.
    pub threads: usize,
    /// Spare-worker regulation (prefork), or a fixed pool of `start` workers (hybrid).
    pub regulate: bool,
}

impl Sizing {
    /// Apache prefork: workers of one thread, regulated by idle count.
    pub fn prefork(start: usize, min_spare: usize, max_spare: usize, max_workers: usize) -> Sizing {
        Sizing {
            start,
            min_spare,
            max_spare,
            max_workers,
            threads: 1,
            regulate: true,
        }
    }

    /// A fixed number of workers of `threads` threads each.
    pub fn fixed(workers: usize, threads: usize) -> Sizing {
        Sizing {
            start: workers,
            min_spare: 0,
            max_spare: workers,
            max_workers: workers,
            threads,
            regulate: false,
        }
    }

    /// Scoreboard slots: room for the pool, plus a new generation starting while the old one
    /// drains after a reload.
    fn slots(&self) -> usize {
        self.max_workers + self.start
    }
}

/// What a worker is given, in the child process.
pub struct WorkerContext<'a> {
    /// The worker's own scoreboard slot (the only one it writes).
    pub slot: &'a Slot,
    /// The socket it accepts on: the shared listener, or its own SO_REUSEPORT socket.
    pub listener: &'a Listener,
    /// Set when the worker should stop accepting and leave (SIGTERM from the parent); a worker
    /// may trigger it itself (to recycle).
    pub shutdown: Shutdown,
    /// Connections after which the worker leaves (0 = never).
    pub max_connections: u64,
}

impl WorkerContext<'_> {
    /// True once the worker has accepted its `--max-requests-per-worker` connections.
    pub fn recycle_due(&self) -> bool {
        self.max_connections > 0 && self.slot.connections() >= self.max_connections
    }
}

/// The function a worker runs; its return value is the worker's exit code.
pub type WorkerFn<'a> = &'a dyn Fn(WorkerContext<'_>) -> i32;

/// What the parent does while it waits between its looks at the workers. Without parking it
/// sleeps; with `--park on`, process_pool's parent runs its front here
/// ([`crate::park::HandoffFront`]): the front is an event loop that never blocks for long, and
/// the parent stays single-threaded, so it may still fork at any time.
pub trait ParentFront {
    /// Does its work for about `timeout`; returns how many connections it holds (for the
    /// scoreboard).
    fn run_for(&mut self, timeout: Duration) -> usize;
    /// In a newly forked worker, before it runs: close this process's copies of whatever the
    /// front holds (connections), which belong to the parent.
    fn forget_in_child(&mut self);
    /// At shutdown, before the workers are stopped.
    fn stop(&mut self);
}

/// The parent without a front: it sleeps.
struct Sleep;

impl ParentFront for Sleep {
    fn run_for(&mut self, timeout: Duration) -> usize {
        std::thread::sleep(timeout);
        0
    }
    fn forget_in_child(&mut self) {}
    fn stop(&mut self) {}
}

/// Runs the pool until `shutdown`: forks workers that run `worker`, regulates, reaps, replaces,
/// reloads on SIGHUP, and at the end stops every worker (bounded by `config.drain_timeout`).
/// `name` prefixes log lines. Must be called from a single-threaded process.
pub fn supervise(
    name: &'static str,
    listener: Listener,
    sizing: Sizing,
    options: &SupervisorOptions,
    config: &Config,
    shutdown: Shutdown,
    worker: WorkerFn<'_>,
) -> io::Result<()> {
    supervise_with_front(
        name, listener, sizing, options, config, shutdown, worker, &mut Sleep,
    )
}

/// [`supervise`], with `front` run by the parent between its looks at the workers.
#[allow(clippy::too_many_arguments)]
pub fn supervise_with_front(
    name: &'static str,
    listener: Listener,
    sizing: Sizing,
    options: &SupervisorOptions,
    config: &Config,
    shutdown: Shutdown,
    worker: WorkerFn<'_>,
    front: &mut dyn ParentFront,
) -> io::Result<()> {
    process::ensure_single_threaded(name)?;
    let board = Arc::new(Scoreboard::new(sizing.slots())?);
    board.set_generation(1);
    let shown = Arc::clone(&board);
    crate::status::set_source(move || shown.to_json());
    sys::catch_signal(libc::SIGHUP, true)?;
    let listeners = Listeners::new(listener, options.accept, sizing.slots())?;
    let mut pool = Supervisor {
        name,
        sizing,
        options: *options,
        verbose: config.verbose,
        shutdown,
        board,
        children: Children::new(),
        tenants: vec![Tenant::default(); sizing.slots()],
        listeners,
        generation: 1,
        spawn_rate: 1,
        respawn_budget: MAX_SPAWN_RATE,
        tick: TickCounts::default(),
        warned_full: false,
        worker,
        front,
    };
    let result = pool.run(config.drain_timeout);
    crate::status::clear_source();
    result
}

/// What the parent remembers about a slot's current worker.
#[derive(Debug, Clone, Copy, Default)]
struct Tenant {
    pid: Option<Pid>,
    generation: u32,
    /// The parent asked it to exit (retired, reload, shutdown): do not replace it.
    asked: bool,
}

/// What happened since the last tick, for the verbose line.
#[derive(Debug, Default)]
struct TickCounts {
    spawned: usize,
    retired: usize,
    replaced: usize,
}

/// The listening sockets: one shared by all workers, or one SO_REUSEPORT socket per slot.
enum Listeners {
    Shared(Listener),
    PerSlot {
        addr: SocketAddr,
        sockets: Vec<Option<Listener>>,
    },
}

impl Listeners {
    fn new(listener: Listener, mode: AcceptMode, slots: usize) -> io::Result<Listeners> {
        match mode {
            AcceptMode::Shared => Ok(Listeners::Shared(listener)),
            AcceptMode::ReusePort => {
                // The socket `lab serve` bound becomes slot 0's; the others bind beside it.
                // Refused over a Unix socket, naming the flag.
                let addr = net::enable_reuseport(&listener)?;
                let mut sockets: Vec<Option<Listener>> = (0..slots).map(|_| None).collect();
                sockets[0] = Some(listener);
                Ok(Listeners::PerSlot { addr, sockets })
            }
        }
    }

    /// Makes sure slot `i` has a socket (a new SO_REUSEPORT one if needed).
    fn prepare(&mut self, i: usize) -> io::Result<()> {
        if let Listeners::PerSlot { addr, sockets } = self {
            if sockets[i].is_none() {
                sockets[i] = Some(net::bind_reuseport(*addr)?);
            }
        }
        Ok(())
    }

    /// In a worker of slot `i`: closes every other slot's socket (so that closing one in the
    /// parent really removes it from the kernel's group) and returns this slot's.
    fn keep_only(&mut self, i: usize) -> &Listener {
        match self {
            Listeners::Shared(l) => l,
            Listeners::PerSlot { sockets, .. } => {
                for (j, s) in sockets.iter_mut().enumerate() {
                    if j != i {
                        s.take();
                    }
                }
                sockets[i].as_ref().expect("prepared before fork")
            }
        }
    }

    /// Moves slot `from`'s socket to slot `to` (which has none), for `to`'s worker to accept on
    /// it while `from`'s worker, which keeps its own copy, drains and exits.
    fn hand_over(&mut self, from: usize, to: usize) {
        if let Listeners::PerSlot { sockets, .. } = self {
            if sockets[to].is_none() {
                sockets[to] = sockets[from].take();
            }
        }
    }

    /// Slot `i` has no worker and will get none soon: close its socket, or the kernel would go
    /// on queueing connections on it that nobody accepts.
    fn release(&mut self, i: usize) {
        if let Listeners::PerSlot { sockets, .. } = self {
            sockets[i].take();
        }
    }
}

struct Supervisor<'w> {
    name: &'static str,
    sizing: Sizing,
    options: SupervisorOptions,
    verbose: bool,
    shutdown: Shutdown,
    board: Arc<Scoreboard>,
    children: Children,
    tenants: Vec<Tenant>,
    listeners: Listeners,
    generation: u32,
    /// Workers to fork on the next tick with too few idle (1, 2, 4, … MAX_SPAWN_RATE).
    spawn_rate: usize,
    /// Replacements allowed until the next tick (a worker that crashes at once must not make
    /// the parent fork in a tight loop).
    respawn_budget: usize,
    tick: TickCounts,
    warned_full: bool,
    worker: WorkerFn<'w>,
    front: &'w mut dyn ParentFront,
}

impl Supervisor<'_> {
    fn run(&mut self, drain: Duration) -> io::Result<()> {
        for _ in 0..self.sizing.start {
            self.spawn_any();
        }
        let mut next_tick = Instant::now() + self.options.maintenance_interval;
        loop {
            let parked = self.front.run_for(WAKE);
            self.board.set_parked(parked);
            self.reap();
            if self.shutdown.is_triggered() {
                self.front.stop();
                self.board.set_parked(0);
                break;
            }
            if sys::take_signal(libc::SIGHUP) {
                self.reload();
            }
            let now = Instant::now();
            if now >= next_tick {
                self.maintain();
                next_tick = now + self.options.maintenance_interval;
            }
        }
        if self.verbose {
            eprintln!(
                "{}: stopping {} workers (drain up to {drain:?})",
                self.name,
                self.children.len()
            );
        }
        let board = Arc::clone(&self.board);
        let tenants = &mut self.tenants;
        let killed = self.children.stop(drain, |pid, _| {
            if let Some(i) = tenants.iter().position(|t| t.pid == Some(pid)) {
                tenants[i] = Tenant::default();
                board.slot(i).mark_dead();
            }
        });
        if killed > 0 {
            eprintln!(
                "{}: {killed} workers were still busy after the drain timeout; killed them",
                self.name
            );
        }
        Ok(())
    }

    /// Forks a worker into the lowest free slot. False if there is none or fork failed.
    fn spawn_any(&mut self) -> bool {
        match self.tenants.iter().position(|t| t.pid.is_none()) {
            Some(i) => self.spawn(i),
            None => false,
        }
    }

    /// Forks a worker of the current generation into slot `i`.
    fn spawn(&mut self, i: usize) -> bool {
        if let Err(e) = self.listeners.prepare(i) {
            eprintln!(
                "{}: slot {i}: cannot open a SO_REUSEPORT socket: {e}",
                self.name
            );
            return false;
        }
        let slot = self.board.slot(i);
        slot.claim(self.generation, self.sizing.threads as u32);
        let listeners = &mut self.listeners;
        let front = &mut *self.front;
        let worker = self.worker;
        let context_shutdown = self.shutdown.clone();
        let max_connections = self.options.max_requests_per_worker;
        let spawned = self.children.spawn(|| {
            // In the worker: from here on, this process only serves.
            front.forget_in_child();
            let listener = listeners.keep_only(i);
            worker(WorkerContext {
                slot,
                listener,
                shutdown: context_shutdown,
                max_connections,
            })
        });
        match spawned {
            Ok(pid) => {
                slot.set_pid(pid);
                self.tenants[i] = Tenant {
                    pid: Some(pid),
                    generation: self.generation,
                    asked: false,
                };
                self.board.count_spawned();
                self.tick.spawned += 1;
                true
            }
            Err(e) => {
                slot.mark_dead();
                self.listeners.release(i);
                eprintln!("{}: fork failed: {e}", self.name);
                false
            }
        }
    }

    /// Reaps every ended worker; replaces the ones that left without being asked.
    fn reap(&mut self) {
        let mut ended: Vec<(Pid, Ended)> = Vec::new();
        self.children.reap(|pid, how| ended.push((pid, how)));
        for (pid, how) in ended {
            let Some(i) = self.tenants.iter().position(|t| t.pid == Some(pid)) else {
                continue;
            };
            let tenant = std::mem::take(&mut self.tenants[i]);
            self.board.slot(i).mark_dead();
            let replace = !tenant.asked
                && !self.shutdown.is_triggered()
                && tenant.generation == self.generation;
            if how != Ended::Exited(0) {
                // Worth a line even when not verbose: Apache logs "child pid N exit signal".
                eprintln!(
                    "{}: worker {pid} (slot {i}) ended with {how}{}",
                    self.name,
                    if replace { "; replacing it" } else { "" }
                );
            } else if self.verbose && replace {
                eprintln!(
                    "{}: worker {pid} (slot {i}) recycled; replacing it",
                    self.name
                );
            }
            if replace && self.respawn_budget > 0 {
                self.respawn_budget -= 1;
                if self.spawn(i) {
                    self.board.count_replaced();
                    self.tick.replaced += 1;
                    continue;
                }
            }
            self.listeners.release(i);
        }
    }

    /// SIGHUP: a new generation starts; the old one finishes its connections and exits.
    ///
    /// The new generation starts as large as the old one (at least `start`): each client of an
    /// old worker reconnects once its worker has answered its last request, and must find a
    /// worker waiting. Starting only `start` and letting the spare regulation grow the pool at
    /// its 1, 2, 4, … per tick would leave those clients in the backlog for seconds.
    ///
    /// With SO_REUSEPORT, each new worker takes over an old worker's socket instead of opening
    /// one: the old worker stops accepting, but connections the kernel already queued on its
    /// socket (or hashes to it until it closes) are accepted by its successor. A socket closed
    /// with connections queued resets them.
    fn reload(&mut self) {
        let old_generation = self.generation;
        let old: Vec<usize> = (0..self.tenants.len())
            .filter(|&i| {
                let t = &self.tenants[i];
                t.pid.is_some() && !t.asked && t.generation == old_generation
            })
            .collect();
        self.generation += 1;
        self.board.set_generation(self.generation);
        let mut started = 0;
        for k in 0..self.sizing.start.max(old.len()) {
            let Some(free) = self.tenants.iter().position(|t| t.pid.is_none()) else {
                break;
            };
            if let Some(&predecessor) = old.get(k) {
                self.listeners.hand_over(predecessor, free);
            }
            if self.spawn(free) {
                started += 1;
            }
        }
        let mut asked = 0;
        for i in 0..self.tenants.len() {
            let t = self.tenants[i];
            if let (Some(pid), false) = (t.pid, t.asked) {
                if t.generation < self.generation {
                    self.ask_to_exit(i, pid);
                    asked += 1;
                }
            }
        }
        eprintln!(
            "{}: SIGHUP: generation {} started with {started} workers; {asked} of the old \
             generation finish their connections and exit",
            self.name, self.generation
        );
    }

    fn ask_to_exit(&mut self, i: usize, pid: Pid) {
        self.tenants[i].asked = true;
        self.children.signal(pid, libc::SIGTERM);
    }

    /// One maintenance tick.
    fn maintain(&mut self) {
        self.respawn_budget = MAX_SPAWN_RATE;
        let generation = self.generation;
        let current = move |t: &Tenant| t.pid.is_some() && !t.asked && t.generation == generation;
        if self.sizing.regulate {
            self.regulate(current);
        } else {
            let live = self.tenants.iter().filter(|t| current(t)).count();
            for _ in live..self.sizing.start {
                self.spawn_any();
            }
        }
        if self.verbose {
            self.log_tick();
        }
        self.tick = TickCounts::default();
    }

    /// Apache prefork's perform_idle_server_maintenance.
    fn regulate(&mut self, current: impl Fn(&Tenant) -> bool) {
        let board = &self.board;
        let idle: Vec<usize> = (0..self.tenants.len())
            .filter(|&i| current(&self.tenants[i]))
            .filter(|&i| matches!(board.slot(i).state(), State::Starting | State::Idle))
            .collect();
        let occupied = self.tenants.iter().filter(|t| t.pid.is_some()).count();
        if idle.len() > self.sizing.max_spare {
            // Retire one idle worker per tick: the highest slot, so the table stays compact.
            let i = *idle.last().expect("more than max_spare");
            if let Some(pid) = self.tenants[i].pid {
                self.ask_to_exit(i, pid);
                self.board.count_retired();
                self.tick.retired += 1;
            }
            self.spawn_rate = 1;
        } else if idle.len() < self.sizing.min_spare {
            if occupied >= self.sizing.max_workers {
                if !self.warned_full {
                    eprintln!(
                        "{}: reached --max-workers {}; new connections wait in the backlog",
                        self.name, self.sizing.max_workers
                    );
                    self.warned_full = true;
                }
                self.spawn_rate = 1;
                return;
            }
            let n = self.spawn_rate.min(self.sizing.max_workers - occupied);
            if self.verbose && self.spawn_rate >= 8 {
                eprintln!(
                    "{}: server seems busy: forking {n} workers ({} idle, {occupied} in all)",
                    self.name,
                    idle.len()
                );
            }
            for _ in 0..n {
                self.spawn_any();
            }
            self.spawn_rate = (self.spawn_rate * 2).min(MAX_SPAWN_RATE);
        } else {
            self.spawn_rate = 1;
        }
    }

    /// `--verbose`: one line per tick.
    fn log_tick(&self) {
        let view = self.board.view();
        let count = |s: State| view.iter().filter(|w| w.state == s).count();
        let live: Vec<_> = view.iter().filter(|w| w.state != State::Dead).collect();
        let per_worker: Vec<String> = live.iter().map(|w| w.connections.to_string()).collect();
        eprintln!(
            "{}: gen {}: {} workers ({} starting, {} idle, {} busy, {} exiting); \
             tick: {} spawned, {} retired, {} replaced; {} parked; connections per worker: [{}]",
            self.name,
            self.generation,
            live.len(),
            count(State::Starting),
            count(State::Idle),
            count(State::Busy),
            count(State::Exiting),
            self.tick.spawned,
            self.tick.retired,
            self.tick.replaced,
            self.board.parked(),
            per_worker.join(" ")
        );
    }
}
