//! Server configuration: what every model reads, plus each model's own knobs.

use crate::limits::Limits;
use std::time::Duration;

/// Everything a model's `run` is told. Each model reads the common part and its own section;
/// a new model adds a section here (and flags in the CLI), nothing else.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    /// At shutdown, how long in-flight connections may take to finish before the server exits.
    pub drain_timeout: Duration,
    /// Log what the model is doing (one line per event worth seeing) on stderr.
    pub verbose: bool,
    pub threads: ThreadOptions,
    pub epoll: EpollOptions,
    pub fork: ForkOptions,
    pub pool: PoolOptions,
    pub hybrid: HybridOptions,
}

/// For models that start a thread per connection.
#[derive(Debug, Clone, Copy)]
pub struct ThreadOptions {
    /// Stack reserved for each connection thread, in bytes.
    pub stack_size: usize,
    /// Most connection threads at once; at the cap, accept waits (the backlog holds the rest).
    pub max_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            drain_timeout: Duration::from_secs(5),
            verbose: false,
            threads: ThreadOptions::default(),
            epoll: EpollOptions::default(),
            fork: ForkOptions::default(),
            pool: PoolOptions::default(),
            hybrid: HybridOptions::default(),
        }
    }
}

/// For the event-loop model.
#[derive(Debug, Clone, Copy)]
pub struct EpollOptions {
    /// Event loops (threads), each with its own `Poll`. Default: one per core.
    pub loops: usize,
    /// Hand CPU-bound and blocking requests to helper threads instead of running them inline.
    pub offload: bool,
    /// Helper threads for offloaded requests.
    pub offload_threads: usize,
}

impl Default for EpollOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        EpollOptions {
            loops: cores,
            offload: false,
            offload_threads: 4 * cores,
        }
    }
}

impl Default for ThreadOptions {
    fn default() -> Self {
        // 128 KiB of stack is plenty for the lab's handlers (the deepest is fib(42): 42 frames)
        // and is only reserved, not touched: 10,000 threads reserve 1.25 GiB of address space but
        // use a few pages each. Linux's default of 8 MiB would reserve 80 GiB.
        ThreadOptions {
            stack_size: 128 * 1024,
            max_threads: 12_000,
        }
    }
}

/// For fork_per_request.
#[derive(Debug, Clone, Copy)]
pub struct ForkOptions {
    /// Most live children at once; at the cap, accept waits (the backlog holds the rest).
    pub max_children: usize,
}

impl Default for ForkOptions {
    fn default() -> Self {
        // Enough for the lab's 10,000-connection runs: each child holds one connection (two fds
        // counting the listener it inherited; the parent holds one per child only briefly).
        ForkOptions {
            max_children: 10_000,
        }
    }
}

/// How the workers of a pool get their connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptMode {
    /// One listening socket; every worker blocks in accept() on it and the kernel wakes one.
    Shared,
    /// A SO_REUSEPORT socket per worker slot; the kernel spreads connections by a hash of the
    /// client's address and port.
    ReusePort,
}

/// For the pools of processes (process_pool, and hybrid_pool's processes): Apache prefork's knobs.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Workers forked at start (Apache: StartServers, default 5).
    pub start_workers: usize,
    /// Below this many idle workers the parent forks more (MinSpareServers, default 5).
    pub min_spare: usize,
    /// Above this many idle workers the parent retires one per tick (MaxSpareServers, default 10).
    pub max_spare: usize,
    /// Most workers at once (MaxRequestWorkers / ServerLimit, default 256).
    pub max_workers: usize,
    /// How often the parent counts idle workers and acts (Apache: once a second).
    pub maintenance_interval: Duration,
    /// A worker exits after serving this many connections, and is replaced (0 = never;
    /// Apache: MaxConnectionsPerChild, formerly MaxRequestsPerChild).
    pub max_requests_per_worker: u64,
    pub accept: AcceptMode,
    /// `--park on`: an event-driven front holds every connection until a whole request head has
    /// arrived, and only then hands it to a worker (Apache's event MPM; see [`crate::park`]).
    pub park: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            start_workers: 5,
            min_spare: 5,
            max_spare: 10,
            max_workers: 256,
            maintenance_interval: Duration::from_secs(1),
            max_requests_per_worker: 0,
            accept: AcceptMode::Shared,
            park: false,
        }
    }
}

/// For hybrid_pool: processes x threads (Apache's worker MPM).
#[derive(Debug, Clone, Copy)]
pub struct HybridOptions {
    /// Worker processes (default: one per core).
    pub workers: usize,
    /// Serving threads in each worker process (Apache: ThreadsPerChild, default 25).
    pub threads: usize,
}

impl Default for HybridOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        HybridOptions {
            workers: cores,
            threads: 25,
        }
    }
}

impl Config {
    /// Checks the whole configuration; the error names the flag.
    pub fn validate(&self) -> Result<(), String> {
        self.limits.validate()?;
        if self.threads.stack_size < 32 * 1024 {
            return Err("--stack-size must be at least 32768 bytes".into());
        }
        if self.threads.max_threads == 0 {
            return Err("--max-threads must be at least 1".into());
        }
        if self.epoll.loops == 0 || self.epoll.loops > 256 {
            return Err("--loops must be between 1 and 256".into());
        }
        if self.epoll.offload_threads == 0 || self.epoll.offload_threads > 4096 {
            return Err("--offload-threads must be between 1 and 4096".into());
        }
        if self.fork.max_children == 0 || self.fork.max_children > 100_000 {
            return Err("--max-children must be between 1 and 100000".into());
        }
        let pool = &self.pool;
        if pool.max_workers == 0 || pool.max_workers > 4096 {
            return Err("--max-workers must be between 1 and 4096".into());
        }
        if pool.start_workers == 0 || pool.start_workers > pool.max_workers {
            return Err("--start-workers must be between 1 and --max-workers".into());
        }
        if pool.min_spare == 0 || pool.min_spare > pool.max_workers {
            return Err("--min-spare must be between 1 and --max-workers".into());
        }
        if pool.max_spare < pool.min_spare {
            return Err("--max-spare must be at least --min-spare".into());
        }
        if pool.maintenance_interval < Duration::from_millis(10)
            || pool.maintenance_interval > Duration::from_secs(60)
        {
            return Err("--maintenance-interval must be between 10ms and 60s".into());
        }
        if self.hybrid.workers == 0 || self.hybrid.workers > 256 {
            return Err("--workers must be between 1 and 256".into());
        }
        if self.hybrid.threads == 0 || self.hybrid.threads > 1024 {
            return Err("--threads-per-worker must be between 1 and 1024".into());
        }
        Ok(())
    }
}
