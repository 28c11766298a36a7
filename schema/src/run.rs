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
    /// `lab run --slow-clients N`: what the slow clients (slowloris) attacking the server
    /// during the run saw. Absent without the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_clients: Option<SlowClients>,
}

/// The slow clients of `lab run --slow-clients N`: connections that each send a request head
/// a byte at a time and never finish it, reconnecting as soon as the server lets one go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SlowClients {
    /// `--slow-clients`: the attacking connections kept open at once.
    pub conns: u64,
    /// `--slow-every`: seconds between two bytes of a head.
    pub every_s: f64,
    /// Connections opened over the attack (reconnections included).
    pub opened: u64,
    /// Connects that failed (refused, or not accepted within a second).
    pub connect_failed: u64,
    /// Connections the server closed or reset without a response.
    pub cut_by_server: u64,
    /// Connections the server answered (and then closed), by status: `{"408": 12}`.
    pub answered: std::collections::BTreeMap<String, u64>,
    /// Median seconds a connection was held open before the server cut or answered it; absent
    /// when the server let none go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_median_s: Option<f64>,
    /// Most attacking connections open at once.
    pub peak_open: u64,
    /// Attacking connections still open when the measured run ended.
    pub open_at_end: u64,
}

impl SlowClients {
    /// Connections the server let go: cut, or answered.
    pub fn released(&self) -> u64 {
        self.cut_by_server + self.answered.values().sum::<u64>()
    }
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
