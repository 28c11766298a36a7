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
    /// `lab run --external NAME=URL`: the server was not a model of the lab but a server given by
    /// its URL (nginx, say); `model` is its NAME. Absent for a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
}

/// A server outside the lab, loaded by URL (`lab run --external`, `lab compare --external`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct External {
    pub name: String,
    pub url: String,
    /// `--external-cmd`: the command the lab started (and stopped) around the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// `--external-pid`: the running process whose tree was sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Whether `server` was measured (a command or a pid was given). When false, every figure
    /// of `server` is 0 and means "not measured", never "none".
    pub measured: bool,
}

impl RunReport {
    /// Whether `server` holds measured figures: always for a model, for an external server only
    /// when its process was known (`--external-pid` or `--external-cmd`).
    pub fn server_measured(&self) -> bool {
        self.external.as_ref().is_none_or(|e| e.measured)
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<RunReport, serde_json::Error> {
        serde_json::from_str(text)
    }
}

fn tcp() -> String {
    "tcp".into()
}
