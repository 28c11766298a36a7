//! The matrix: every series (model, and its variants where they apply) × connection count ×
//! workload, closed loop, each cell `--repeat` times.

use crate::compare::plan::{duration_arg, Job, WorkloadKind};
use http_lab::models::Model;
use report::{CellRecord, CellStatus};
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
        let mut series: Vec<(Model, String, Vec<&str>)> = Vec::new();
        for &m in models {
            series.push((m, m.name().to_string(), vec![]));
            for v in m.info().variants {
                if !v.only_offloadable || w.offloadable() {
                    series.push((m, v.label.to_string(), v.flags.to_vec()));
                }
            }
        }
        for (model, name, flags) in series {
            for (&c, run) in conns.iter().flat_map(|c| (1..=repeat).map(move |r| (c, r))) {
                let mut id = format!("{}-{}-c{c}", workload.name, name.replace('+', "-"));
                if repeat > 1 {
                    id.push_str(&format!("-r{run}"));
                }
                let json = out.join("cells").join(format!("{id}.json"));
                let mut args: Vec<String> = vec![
                    "run".into(),
                    "--model".into(),
                    model.name().into(),
                    "--conns".into(),
                    c.to_string(),
                    "--path".into(),
                    workload.path.clone(),
                    "--duration".into(),
                    duration_arg(duration),
                    "--quiet".into(),
                    "--json".into(),
                    json.display().to_string(),
                ];
                args.extend(flags.iter().map(|f| f.to_string()));
                let record = CellRecord {
                    id,
                    workload: workload.name.clone(),
                    series: name.clone(),
                    model: model.name().into(),
                    conns: c,
                    command: std::iter::once("lab".to_string())
                        .chain(args.iter().cloned())
                        .collect(),
                    status: CellStatus::Pending,
                    reason: None,
                    wall_s: 0.0,
                    run,
                };
                jobs.push(Job { record, args });
            }
        }
    }
    jobs
}
