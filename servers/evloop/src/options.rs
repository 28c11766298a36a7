//! The flags both event-loop models take (`--loops`, `--offload`, `--offload-threads`,
//! `--accept`): one
//! struct, so that the two declarations the lab registers once cannot drift apart.

use lab_core::config::cores;
use lab_core::model::{AcceptFlag, AcceptMode, ModelOptions, OnOff};

/// An event-loop model's flags.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Options {
    /// Event loops, each a thread with its own poll or ring (default: one per core).
    #[arg(long, default_value_t = cores(), value_name = "N")]
    pub loops: usize,
    /// Run CPU-bound and blocking requests on helper threads (on) or inline on the loop (off).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    pub offload: OnOff,
    /// Helper threads for offloaded requests (default: four per core).
    #[arg(long, default_value_t = 4 * cores(), value_name = "N")]
    pub offload_threads: usize,
    /// `--accept shared|reuseport|exclusive` (epoll; io_uring's rings take `shared` and `reuseport`).
    #[command(flatten)]
    pub accept: AcceptFlag,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            loops: cores(),
            offload: OnOff::Off,
            offload_threads: 4 * cores(),
            accept: AcceptFlag::default(),
        }
    }
}

impl ModelOptions for Options {
    fn validate(&self) -> Result<(), String> {
        if self.loops == 0 || self.loops > 256 {
            return Err("--loops must be between 1 and 256".into());
        }
        if self.offload_threads == 0 || self.offload_threads > 4096 {
            return Err("--offload-threads must be between 1 and 4096".into());
        }
        let loops = [
            AcceptMode::Shared,
            AcceptMode::ReusePort,
            AcceptMode::Exclusive,
        ];
        self.accept.check("event-loop", &loops)
    }
}
