//! The matrix: every series (model, and its variants where they apply) × connection count ×
//! workload, closed loop, each cell `--repeat` times.

use crate::compare::plan::{job, series_for, CellSpec, Job, WorkloadKind};
use http_lab::models::Model;
use std::path::Path;
use std::time::Duration;

/// Every cell, workload by workload, model by model, size by size, run by run.
pub fn plan_jobs(
    models: &[Model],
    workloads: &[WorkloadKind],
    conns: &[u64],
    duration: Duration,
    repeat: u32,
    out: &Path,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for &w in workloads {
        let workload = w.workload();
        for series in series_for(models, w) {
            for (&c, run) in conns.iter().flat_map(|c| (1..=repeat).map(move |r| (c, r))) {
                let mut id = format!("{}-{}-c{c}", workload.name, series.name.replace('+', "-"));
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
