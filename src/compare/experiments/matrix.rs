//! The matrix: every series (model, and its variants where they apply; each `--series`; each
//! `--external` server on the plaintext workload) × connection count × workload, closed loop,
//! each cell `--repeat` times.

use crate::compare::plan::{job, CellSpec, Job, Lineup, WorkloadKind};
use std::path::Path;
use std::time::Duration;

/// Every cell, workload by workload, series by series, size by size, run by run.
pub fn plan_jobs(
    lineup: &Lineup,
    workloads: &[WorkloadKind],
    conns: &[u64],
    duration: Duration,
    repeat: u32,
    out: &Path,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for &w in workloads {
        let workload = w.workload();
        for series in lineup.series_for(w) {
            for (&c, run) in conns.iter().flat_map(|c| (1..=repeat).map(move |r| (c, r))) {
                let mut id = format!("{}-{}-c{c}", workload.name, series.slug());
                if repeat > 1 {
                    id.push_str(&format!("-r{run}"));
                }
                let spec = CellSpec {
                    id,
                    experiment: "",
                    workload: &workload,
                    conns: c,
                    duration,
                    extra: vec![],
                    run,
                    rate: None,
                };
                jobs.push(job(out, &series, spec));
            }
        }
    }
    jobs
}
