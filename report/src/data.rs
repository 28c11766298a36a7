//! What a `lab compare` folder holds, and reading it back.
//!
//! ```text
//! DIR/compare.json        the plan (models, sizes, workloads, duration, the command, the
//!                         environment) and one record per cell: its command, ok or failed and why
//! DIR/cells/<cell>.json   each cell's `lab run --json` report, as `lab run` wrote it
//! ```
//!
//! Everything the report shows comes from these files, so `lab report DIR` renders the same bytes
//! as the `lab compare` that wrote them.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file that describes a comparison run.
pub const PLAN_FILE: &str = "compare.json";

/// `compare.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// The `lab compare` command line that made this folder.
    pub command: Vec<String>,
    /// HTTP dates: when the run started and (once it did) finished.
    pub date: String,
    #[serde(default)]
    pub finished: Option<String>,
    /// The comparison was stopped early (Ctrl-C, SIGTERM), after `elapsed_s` of about
    /// `planned_s` seconds.
    #[serde(default)]
    pub interrupted: bool,
    #[serde(default)]
    pub elapsed_s: f64,
    #[serde(default)]
    pub planned_s: f64,
    /// Runs of each cell (`--repeat`; files before it: 1).
    #[serde(default = "one")]
    pub repeat: u32,
    /// Seed of the shuffled order in which the cells ran (`--seed`).
    #[serde(default)]
    pub seed: u64,
    /// The measured duration of every cell, seconds.
    pub duration_s: f64,
    /// The pause between cells, seconds.
    #[serde(default)]
    pub pause_s: f64,
    /// Models asked for (`--models`, `all` expanded).
    pub models: Vec<String>,
    /// What is compared: the models, plus their variants (e.g. `epoll+offload`) where run.
    pub series: Vec<String>,
    /// Each variant series and the flags that make it from its model (`epoll+offload`:
    /// `--offload on`), from the model's own description.
    #[serde(default)]
    pub variants: std::collections::BTreeMap<String, Vec<String>>,
    pub conns: Vec<u64>,
    pub workloads: Vec<Workload>,
    pub environment: Environment,
    /// `--transport`: how every cell's load reached its server, `tcp` (loopback TCP) or `unix`
    /// (a Unix domain socket); files before the flag: `tcp`.
    #[serde(default = "tcp")]
    pub transport: String,
    pub cells: Vec<CellRecord>,
    /// `--rates`: latency against offered load (its cells have `experiment` `rates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<RatesPlan>,
    /// `--experiments`, as run (`matrix`, `rates`, `faults`, ...); empty in files before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<String>,
    /// `--external NAME=URL`: servers outside the lab compared as series (their cells' `model`
    /// is their name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub externals: Vec<lab_schema::External>,
    /// The load generator's flags of every cell (`--threads`, `--pipeline`, `--timeout`).
    #[serde(default)]
    pub load: LoadPlan,
    /// `--resume`: when the comparison was resumed (HTTP dates), once per resume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed: Vec<String>,
}

/// How every cell's load generator ran: `lab compare --threads T --pipeline N --timeout D`,
/// passed on to each `lab run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadPlan {
    /// Load-generator threads (event loops).
    pub threads: u64,
    /// Requests in flight per connection (HTTP/1.1 pipelining; 1: none).
    pub pipeline: u64,
    /// A request not answered within this counts as a timeout, seconds.
    pub timeout_s: f64,
}

impl Default for LoadPlan {
    /// `lab run`'s defaults, which every comparison before these flags used.
    fn default() -> LoadPlan {
        LoadPlan {
            threads: 1,
            pipeline: 1,
            timeout_s: 2.0,
        }
    }
}

/// The `rates` experiment: every series open loop at offered rates, with a fixed number of
/// connections, on one workload; either a given list of rates or (`auto`) a search per series
/// for the highest rate that meets the objective ([`crate::knee`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RatesPlan {
    pub workload: String,
    pub conns: u64,
    /// The latency objective: p99 under this, microseconds (`--slo`).
    pub slo_us: u64,
    /// `--rates auto`: a bracketing search per series; else the rates given.
    pub auto: bool,
    /// The rates given, req/s (empty for `auto`).
    #[serde(default)]
    pub asked: Vec<f64>,
    /// `auto`: the search's first rate and its most steps.
    #[serde(default)]
    pub start: f64,
    #[serde(default)]
    pub max_steps: u32,
}

fn tcp() -> String {
    "tcp".into()
}

/// One workload: a request path and the server flags it needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Workload {
    pub name: String,
    pub path: String,
    /// What the workload stands for, one line.
    #[serde(default)]
    pub about: String,
}

/// The machine and its limits, as found when the run started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Environment {
    pub cpu_model: String,
    pub cores: u64,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    /// `ulimit -n` of `lab compare` (soft, hard); the load generator raises soft to hard.
    pub open_files_soft: String,
    pub open_files_hard: String,
    /// `/proc/sys/net/core/somaxconn`: the listen backlog cap.
    pub somaxconn: String,
    /// `/proc/sys/net/ipv4/ip_local_port_range`: the client ports.
    pub ip_local_port_range: String,
    /// `/proc/sys/kernel/threads-max`, `/proc/sys/kernel/pid_max`, `/proc/sys/vm/max_map_count`.
    pub threads_max: String,
    pub pid_max: String,
    pub max_map_count: String,
    pub rustc: String,
    /// `release` or `debug`: the build of `lab` that ran.
    pub build: String,
    pub lab_version: String,
    pub git_commit: String,
}

/// How one cell of the matrix went.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Not run (yet): an interrupted comparison.
    #[default]
    Pending,
    Ok,
    Failed,
}

/// One cell: a series (model) at one size on one workload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellRecord {
    /// `<workload>-<series>-c<conns>`, also the file name under `cells/`.
    pub id: String,
    pub workload: String,
    pub series: String,
    pub model: String,
    pub conns: u64,
    /// The exact `lab run` command of this cell.
    pub command: Vec<String>,
    pub status: CellStatus,
    /// Why it failed: the exit status and the tail of its stderr.
    #[serde(default)]
    pub reason: Option<String>,
    /// Wall time the cell took, warm-up and server start included.
    #[serde(default)]
    pub wall_s: f64,
    /// Which run of the cell this is, from 1 (`--repeat`).
    #[serde(default = "one")]
    pub run: u32,
    /// The experiment the cell belongs to: empty for the matrix, else `rates` or `faults`.
    /// Only matrix cells are looked up by (workload, series, conns).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub experiment: String,
    /// `rates`: the offered rate of this open-loop cell, req/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// `faults`: what the injected faults did (`lab run --inject-faults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultLog>,
    /// `accept`: the strategy and how the server spread the connections over its workers or
    /// loops (`lab run --status-after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<AcceptSpread>,
}

/// How one `accept` cell's server spread its connections: per worker (the pools' scoreboard)
/// or per loop (epoll's counters), as its `GET /_status` reported them after the load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AcceptSpread {
    /// `--accept`: `shared`, `reuseport`, `handoff` or `exclusive`.
    pub strategy: String,
    /// `worker` or `loop`.
    pub unit: String,
    /// Connections each worker (or loop) accepted since the server started, warm-up and the
    /// one `GET /_status` included, in slot (or loop) order.
    pub per_worker: Vec<u64>,
}

/// The faults injected into one cell's server under steady load, and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultLog {
    pub injections: Vec<Injection>,
    /// When the server's main process died, seconds into the measured run (none: it did not).
    #[serde(default)]
    pub died_at_s: Option<f64>,
    /// Its main process was alive when the run ended.
    pub alive_at_end: bool,
    /// A fresh `GET /` after the run: its status, or what went wrong (`refused`, `reset`, ...).
    pub probe_after: String,
}

/// One injection: a burst of faulty requests, or a `kill -9`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Injection {
    /// `crash`, `abort` or `kill`.
    pub kind: String,
    /// In words: `20 x GET /crash`.
    pub what: String,
    /// Seconds into the measured run.
    pub at_s: f64,
    /// What came back, counted: `500`, `closed without a response`, `reset`, `refused`,
    /// `killed`, ...
    pub outcomes: std::collections::BTreeMap<String, u32>,
}

fn one() -> u32 {
    1
}

impl CellRecord {
    /// The last non-empty line of why the cell failed (the `lab run` error that ended it).
    pub fn reason_line(&self) -> Option<&str> {
        self.reason
            .as_deref()
            .and_then(|r| r.lines().rev().find(|l| !l.trim().is_empty()))
    }

    /// The cell's report, relative to the folder.
    pub fn file(&self) -> String {
        format!("cells/{}.json", self.id)
    }
}

/// A `lab run --json` report: the one schema, from `lab-schema`.
pub type CellRun = lab_schema::RunReport;
/// What a cell's slow clients saw (`lab run --slow-clients`), in its report.
pub use lab_schema::SlowClients;

/// The run of median throughput.
fn representative<'a>(runs: &[&'a CellRun]) -> Option<&'a CellRun> {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.load.throughput_rps.total_cmp(&b.load.throughput_rps));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// A comparison read back: the plan and each cell's report (if it has one).
#[derive(Debug, Clone)]
pub struct Study {
    pub plan: Plan,
    /// Parallel to `plan.cells`.
    pub runs: Vec<Option<CellRun>>,
}

impl Study {
    /// Reads `DIR/compare.json` and every `DIR/cells/<cell>.json` it names.
    pub fn load(dir: &Path) -> Result<Study, String> {
        let plan_path = dir.join(PLAN_FILE);
        let text = std::fs::read_to_string(&plan_path)
            .map_err(|e| format!("{}: {e}", plan_path.display()))?;
        let plan: Plan =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", plan_path.display()))?;
        let mut runs = Vec::with_capacity(plan.cells.len());
        for cell in &plan.cells {
            let path = dir.join(cell.file());
            let run = match std::fs::read_to_string(&path) {
                Ok(text) => Some(
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
                ),
                Err(_) => None,
            };
            runs.push(run);
        }
        Ok(Study { plan, runs })
    }

    /// The cell of `series` at `conns` on `workload`, with its report if it has one. With
    /// repetitions: the run [`Study::ok`] picks if any run succeeded, else the first run.
    pub fn cell(
        &self,
        workload: &str,
        series: &str,
        conns: u64,
    ) -> Option<(&CellRecord, Option<&CellRun>)> {
        let runs: Vec<(&CellRecord, Option<&CellRun>)> = self.records(workload, series, conns);
        let ok = self.runs_of(workload, series, conns);
        if let Some(pick) = representative(&ok) {
            return runs
                .into_iter()
                .find(|(_, r)| r.is_some_and(|r| std::ptr::eq(r, pick)));
        }
        runs.into_iter().next()
    }

    /// The cells of `experiment` with their reports, in plan order.
    pub fn experiment(&self, experiment: &str) -> Vec<(&CellRecord, Option<&CellRun>)> {
        self.plan
            .cells
            .iter()
            .zip(&self.runs)
            .filter(|(c, _)| c.experiment == experiment)
            .map(|(c, r)| (c, r.as_ref()))
            .collect()
    }

    /// Every run of a (matrix) cell (one per `--repeat`), in plan order.
    pub fn records(
        &self,
        workload: &str,
        series: &str,
        conns: u64,
    ) -> Vec<(&CellRecord, Option<&CellRun>)> {
        self.plan
            .cells
            .iter()
            .zip(&self.runs)
            .filter(|(c, _)| {
                c.experiment.is_empty()
                    && c.workload == workload
                    && c.series == series
                    && c.conns == conns
            })
            .map(|(c, r)| (c, r.as_ref()))
            .collect()
    }

    /// The successful runs of a cell, in plan order.
    pub fn runs_of(&self, workload: &str, series: &str, conns: u64) -> Vec<&CellRun> {
        self.records(workload, series, conns)
            .into_iter()
            .filter(|(c, _)| c.status == CellStatus::Ok)
            .filter_map(|(_, r)| r)
            .collect()
    }

    /// The successful measurement of a cell, if any; with repetitions, the run of median
    /// throughput (the lower of the middle two for an even count), so that one run's figures are
    /// shown together. Tables and readings take each figure's own median through `measure`.
    pub fn ok(&self, workload: &str, series: &str, conns: u64) -> Option<&CellRun> {
        representative(&self.runs_of(workload, series, conns))
    }

    /// Whether the server of `series` was measured: always for the lab's models; for an
    /// `--external` server only when its process was known (`--external-pid`/`--external-cmd`).
    pub fn server_measured(&self, series: &str) -> bool {
        !self
            .plan
            .externals
            .iter()
            .any(|e| e.name == series && !e.measured)
    }

    /// The `--external` servers whose memory and CPU were not measured, by name.
    pub fn unmeasured(&self) -> Vec<&str> {
        self.plan
            .externals
            .iter()
            .filter(|e| !e.measured)
            .map(|e| e.name.as_str())
            .collect()
    }

    /// The series measured on `workload`, in plan order.
    pub fn series_of(&self, workload: &str) -> Vec<&str> {
        self.plan
            .series
            .iter()
            .filter(|s| {
                self.plan
                    .cells
                    .iter()
                    .any(|c| c.experiment.is_empty() && c.workload == workload && &c.series == *s)
            })
            .map(String::as_str)
            .collect()
    }
}
