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
        Ok(())
    }
}
