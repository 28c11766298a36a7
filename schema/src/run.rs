//! [`RunReport`]: what `lab run --json` writes.

use serde::{Deserialize, Serialize};

use crate::{LoadReport, ServerStats};

/// `lab run`'s report: the load generator's report, the model, and the server's costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    pub model: String,
    /// The `lab serve` command line that was run (its port was 0: the kernel picked one).
    #[serde(default)]
    pub server_command: Vec<String>,
    /// HTTP date of the run.
    #[serde(default)]
    pub date: String,
    #[serde(flatten)]
    pub load: LoadReport,
    pub server: ServerStats,
    /// Server processes still alive after SIGTERM and the drain timeout (must be 0).
    #[serde(default)]
    pub leftover_processes: u64,
    /// `--server-cpus`: the CPUs the server was pinned to (every process and thread of it);
    /// empty when it was not pinned.
    #[serde(default)]
    pub server_cpus: Vec<usize>,
    /// `--load-cpus`: the CPUs the load generator's threads were pinned to; empty when not.
    #[serde(default)]
    pub load_cpus: Vec<usize>,
    /// `--transport`: `tcp` (loopback TCP) or `unix` (a Unix domain socket); reports from
    /// before the flag: `tcp`.
    #[serde(default = "tcp")]
    pub transport: String,
}

fn tcp() -> String {
    "tcp".into()
}

impl RunReport {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<RunReport, serde_json::Error> {
        serde_json::from_str(text)
    }
}
