//! Server configuration: what every model reads. A model's own knobs are its own options struct,
//! in its own crate ([`crate::model`]); the pools' shared ones are [`crate::supervisor`]'s.

use crate::limits::Limits;
use std::time::Duration;

/// Everything a model's `run` is told besides its own options.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    /// At shutdown, how long in-flight connections may take to finish before the server exits.
    pub drain_timeout: Duration,
    /// Log what the model is doing (one line per event worth seeing) on stderr.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            drain_timeout: Duration::from_secs(5),
            verbose: false,
        }
    }
}

impl Config {
    /// Checks the whole configuration; the error names the flag.
    pub fn validate(&self) -> Result<(), String> {
        self.limits.validate()
    }
}

/// The CPUs this process may use: the default for "one per core" settings (`--loops`,
/// hybrid_pool's `--workers`).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
