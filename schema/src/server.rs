//! What the server under test cost: [`ServerStats`], from the `/proc` sampler
//! and, for CPU, the kernel's own accounting.

use serde::{Deserialize, Serialize};

/// What the server's process tree cost over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerStats {
    pub peak_pss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub peak_processes: u64,
    pub peak_threads: u64,
    /// CPU seconds in user mode, the whole tree. With `cpu_source` `rusage`
    /// (`lab run`), the kernel's total for every process of the tree,
    /// reaped after the server exited (`getrusage(RUSAGE_CHILDREN)`): exact.
    /// With `proc`, the highest total the sampler saw.
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// Where the CPU totals come from: `rusage` or `proc` (files written
    /// before this field existed: `proc`).
    #[serde(default = "proc_source")]
    pub cpu_source: String,
    /// Context switches of every thread seen (exited threads keep their last count).
    pub ctx_voluntary: u64,
    pub ctx_involuntary: u64,
    pub peak_fds: u64,
    pub samples: Vec<Sample>,
}

fn proc_source() -> String {
    "proc".into()
}

/// One sample of the tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sample {
    /// Seconds since the sampler started.
    pub t_s: f64,
    pub pss_bytes: u64,
    pub rss_bytes: u64,
    pub processes: u64,
    pub threads: u64,
    /// User and system CPU so far, from `/proc/PID/stat` (clock ticks, 10 ms each).
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// CPU so far, user and system together, to the nanosecond: every live
    /// thread's `/proc/PID/task/TID/schedstat`, plus what exited threads and
    /// reaped children left in the tick counts.
    #[serde(default)]
    pub cpu_s: f64,
    pub fds: u64,
}
