//! # report: the comparison report of a `lab compare` run
//!
//! `lab compare` runs a matrix of cells (model × connections × workload), each one `lab run`,
//! and keeps their JSON in one folder. This crate reads that folder back ([`Study::load`]) and
//! renders it ([`render`]) into:
//!
//! - `index.html`: one self-contained page (inline CSS, inline SVG charts drawn with plotters, no
//!   script, nothing fetched) that opens in any browser;
//! - `report.md`: the same tables and readings, with the charts as `charts/*.svg` beside it;
//! - `results.csv`: one row per cell.
//!
//! The render is a pure function of the JSON: no clock, no unseeded randomness (the bootstrap's
//! generator is seeded from each cell's name), no hash-map order, floats through fixed formats. So `lab report DIR` rewrites every file byte for byte as `lab compare`
//! wrote it, and a grader can check a hand-in by regenerating it.
//!
//! Every chart and table comes with a *reading*, sentences computed from the numbers (which model
//! led and by how much, where a curve broke, what failed and why), and every model with the
//! opening of its own crate's `//!` doc, embedded at build time by `build.rs`.
//!
//! # Layout
//! - [`against`]: `lab report DIR --against OTHER`: the report with a baseline run overlaid, and
//!   the ratios of the two runs.
//! - [`data`]: the folder's files: [`Plan`] (`compare.json`), [`CellRun`] (a `lab run` report).
//! - [`knee`]: the highest sustained offered rate: the objective and the bracketing search.
//! - `measure`: numbers derived from cells: per-request costs, error share, least squares.
//! - [`stats`]: repetitions: median and spread, the bootstrap interval, the seeded shuffle.
//! - `sections`: the seven sections, their charts, tables and readings (`speed`: 1 and 2,
//!   `resources`: 3 and 4, `failures`: 5 and 6, `environment`: 7), and one per experiment besides
//!   the matrix (`rates`: latency against offered load), shown only when it ran.
//! - `chart`: line charts as SVG with plotters.
//! - `doc`: the report as blocks, written out as HTML and as Markdown.
//! - `fmt`: every number's format, HTML escaping.
//!
//! # Invariants
//! - Depends on no server crate (model descriptions are read from source text at build time).
//! - Same input, same bytes.

#![deny(unsafe_code)]

pub mod against;
pub mod data;
pub mod knee;

mod chart;
mod doc;
mod fmt;
mod measure;
mod sections;
pub mod stats;

pub use data::{
    AcceptSpread, CellRecord, CellRun, CellStatus, Environment, FaultLog, Injection, LoadPlan,
    Plan, RatesPlan, Study, Workload, PLAN_FILE,
};
pub use stats::shuffled;

use std::path::Path;

/// One model's description, from the `//!` doc of `servers/<model>/src/lib.rs`.
#[derive(Debug, Clone, Copy)]
pub struct ModelDoc {
    pub model: &'static str,
    /// The doc's `# ` title.
    pub title: &'static str,
    /// Its first paragraph of prose.
    pub paragraph: &'static str,
    /// The bullets of its `# Trade-offs` section.
    pub tradeoffs: &'static [&'static str],
}

/// Every model crate found at build time.
pub static MODEL_DOCS: &[ModelDoc] = include!(concat!(env!("OUT_DIR"), "/model_docs.rs"));

/// The description of `model`, if its crate existed when this was built.
pub fn model_doc(model: &str) -> Option<&'static ModelDoc> {
    MODEL_DOCS.iter().find(|d| d.model == model)
}

/// The files of the report, as (path relative to the folder, contents), in a fixed order.
pub fn render(study: &Study) -> Vec<(String, Vec<u8>)> {
    let document = sections::build(study);
    let mut files = vec![
        ("index.html".to_string(), document.to_html().into_bytes()),
        ("report.md".to_string(), document.to_markdown().into_bytes()),
        ("results.csv".to_string(), csv(study).into_bytes()),
    ];
    for (name, svg) in document.charts() {
        files.push((format!("charts/{name}"), svg.as_bytes().to_vec()));
    }
    files
}

/// Reads `dir`, renders the report and writes its files into `dir`. Returns the paths written.
pub fn write_report(dir: &Path) -> Result<Vec<String>, String> {
    let study = Study::load(dir)?;
    write_files(dir, render(&study))
}

/// Writes `files` (path relative to `dir`, contents) into `dir`, first removing any chart under
/// `dir/charts` that they do not have (a stale one from an earlier render). Returns their paths.
fn write_files(dir: &Path, files: Vec<(String, Vec<u8>)>) -> Result<Vec<String>, String> {
    let charts = dir.join("charts");
    if let Ok(entries) = std::fs::read_dir(&charts) {
        for entry in entries.flatten() {
            let name = format!("charts/{}", entry.file_name().to_string_lossy());
            if name.ends_with(".svg") && !files.iter().any(|(f, _)| *f == name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(name);
    }
    Ok(written)
}

/// `results.csv`: one row per cell of the plan, failed and unrun cells included.
fn csv(study: &Study) -> String {
    use crate::fmt::{csv as q, fixed};
    let head = [
        "workload",
        "model",
        "series",
        "path",
        "conns",
        "status",
        "reason",
        "duration_s",
        "requests",
        "throughput_rps",
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "p9999_us",
        "max_us",
        "mean_us",
        "errors",
        "err_connect",
        "err_read",
        "err_write",
        "err_timeout",
        "err_status",
        "err_closed",
        "established",
        "peak_open",
        "peak_pss_bytes",
        "peak_rss_bytes",
        "peak_processes",
        "peak_threads",
        "cpu_user_s",
        "cpu_sys_s",
        "ctx_voluntary",
        "ctx_involuntary",
        "peak_fds",
        "leftover_processes",
        "served",
        "starved",
        "fairness",
        "first_response_p99_us",
        "cpu_source",
        "run",
        "cell_wall_s",
    ];
    let mut out = head.join(",");
    out.push('\n');
    for (cell, run) in study.plan.cells.iter().zip(&study.runs) {
        let path = study
            .plan
            .workloads
            .iter()
            .find(|w| w.name == cell.workload)
            .map(|w| w.path.clone())
            .unwrap_or_default();
        let status = match cell.status {
            CellStatus::Ok => "ok",
            CellStatus::Failed => "failed",
            CellStatus::Pending => "not_run",
        };
        let mut row = vec![
            q(&cell.workload),
            q(&cell.model),
            q(&cell.series),
            q(&path),
            cell.conns.to_string(),
            status.to_string(),
            q(cell.reason_line().unwrap_or("").trim()),
        ];
        match run.as_ref().filter(|_| cell.status == CellStatus::Ok) {
            Some(r) => {
                let l = &r.load.latency_us;
                let e = &r.load.errors;
                let s = &r.server;
                // No response, no latency: empty fields, never 0.
                let answered = r.load.requests > 0;
                // An external server not measured: empty fields, never 0.
                let server = |v: String| {
                    if r.server_measured() {
                        v
                    } else {
                        String::new()
                    }
                };
                let lat = |v: u64| {
                    if answered {
                        v.to_string()
                    } else {
                        String::new()
                    }
                };
                row.extend([
                    fixed(r.load.duration_s, 3),
                    r.load.requests.to_string(),
                    fixed(r.load.throughput_rps, 1),
                    lat(l.p50),
                    lat(l.p90),
                    lat(l.p99),
                    lat(l.p999),
                    lat(l.p9999),
                    lat(l.max),
                    if answered {
                        fixed(l.mean, 1)
                    } else {
                        String::new()
                    },
                    e.total().to_string(),
                    e.connect.to_string(),
                    e.read.to_string(),
                    e.write.to_string(),
                    e.timeout.to_string(),
                    e.status.to_string(),
                    e.closed.to_string(),
                    r.load.connections.established.to_string(),
                    r.load.connections.peak_open.to_string(),
                    server(s.peak_pss_bytes.to_string()),
                    server(s.peak_rss_bytes.to_string()),
                    server(s.peak_processes.to_string()),
                    server(s.peak_threads.to_string()),
                    server(fixed(s.cpu_user_s, 3)),
                    server(fixed(s.cpu_sys_s, 3)),
                    server(s.ctx_voluntary.to_string()),
                    server(s.ctx_involuntary.to_string()),
                    server(s.peak_fds.to_string()),
                    r.leftover_processes.to_string(),
                    r.load.service.served.to_string(),
                    r.load.service.starved.to_string(),
                    fixed(r.load.service.fairness, 4),
                    if r.load.service.served > 0 {
                        r.load.service.first_response_us.p99.to_string()
                    } else {
                        String::new()
                    },
                    server(q(&s.cpu_source)),
                ]);
            }
            None => row.extend(std::iter::repeat_n(String::new(), head.len() - 9)),
        }
        row.push(cell.run.to_string());
        row.push(fixed(cell.wall_s, 1));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
