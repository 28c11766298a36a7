//! Accept spread (`--experiments accept`): each model with several workers or loops
//! (process_pool, hybrid_pool, epoll, io_uring), sized to `--accept-workers`, once per accept strategy it
//! has, under `--accept-conns` clients that open a new connection per request, so that accepting
//! is most of the work. After the load, `lab run --status-after` saves the server's `/_status`,
//! and the connections each worker (or loop) counted go into compare.json. With `--repeat`, the
//! strategies alternate run by run (A B C A B C), so that drift over the run favours none.

use crate::compare::cell::{place, Runner};
use crate::compare::plan::{job, CellSpec, Series, Target, WorkloadKind};
use http_lab::models::Model;
use report::{AcceptSpread, Plan};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A model of the experiment: its strategies, the flags that give it `workers` workers or
/// loops, and what it calls them.
struct Subject {
    model: &'static str,
    strategies: &'static [&'static str],
    unit: &'static str,
    sizing: fn(usize) -> Vec<String>,
}

const SUBJECTS: &[Subject] = &[
    Subject {
        model: "process_pool",
        strategies: &["shared", "reuseport", "handoff"],
        unit: "worker",
        // A fixed pool: the spare regulation neither grows nor shrinks it.
        sizing: |n| {
            let n = n.to_string();
            ["--start-workers", &n, "--min-spare", "1", "--max-spare", &n]
                .iter()
                .chain(&["--max-workers", &n])
                .map(|s| s.to_string())
                .collect()
        },
    },
    Subject {
        model: "hybrid_pool",
        strategies: &["shared", "reuseport", "handoff"],
        unit: "worker",
        sizing: |n| vec!["--workers".into(), n.to_string()],
    },
    Subject {
        model: "epoll",
        strategies: &["shared", "reuseport", "exclusive"],
        unit: "loop",
        sizing: |n| vec!["--loops".into(), n.to_string()],
    },
    Subject {
        model: "io_uring",
        strategies: &["shared", "reuseport"],
        unit: "loop",
        sizing: |n| vec!["--loops".into(), n.to_string()],
    },
];

/// The models of the experiment among those asked for.
fn subjects(models: &[Model]) -> Vec<(&'static Subject, Model)> {
    SUBJECTS
        .iter()
        .filter_map(|s| models.iter().find(|m| m.name() == s.model).map(|&m| (s, m)))
        .collect()
}

/// How many cells the experiment runs.
pub fn cells(models: &[Model], repeat: u32) -> usize {
    subjects(models)
        .iter()
        .map(|(s, _)| s.strategies.len())
        .sum::<usize>()
        * repeat as usize
}

/// The series names the experiment adds to the plan (its models).
pub fn series(models: &[Model]) -> Vec<String> {
    subjects(models)
        .iter()
        .map(|(s, _)| s.model.to_string())
        .collect()
}

/// Connections per worker (or loop) in a saved `/_status`: the pools' live scoreboard slots,
/// epoll's loops.
pub fn per_worker(status: &Value) -> Option<Vec<u64>> {
    let detail = &status["detail"];
    if let Some(workers) = detail["workers"].as_array() {
        return workers
            .iter()
            .filter(|w| w["state"].as_str() != Some("dead"))
            .map(|w| w["connections"].as_u64())
            .collect();
    }
    detail["loops"]
        .as_array()?
        .iter()
        .map(|l| l["accepted"].as_u64())
        .collect()
}

/// Runs every cell, run by run, each added to the plan as it starts.
pub fn run(
    models: &[Model],
    (conns, workers): (u64, usize),
    duration: Duration,
    repeat: u32,
    runner: &mut Runner,
    plan: &mut Plan,
) -> Result<(), String> {
    let out = runner.out().to_path_buf();
    let workload = WorkloadKind::Hello.workload();
    for run in 1..=repeat {
        for (subject, model) in subjects(models) {
            for &strategy in subject.strategies {
                if runner.stopped() {
                    return Ok(());
                }
                let mut id = format!("accept-{}-{strategy}", subject.model);
                if repeat > 1 {
                    id.push_str(&format!("-r{run}"));
                }
                let status_path = out.join("cells").join(format!("{id}.status.json"));
                let mut extra: Vec<String> = vec![
                    "--no-keepalive".into(),
                    "--status-after".into(),
                    status_path.display().to_string(),
                    "--accept".into(),
                    strategy.into(),
                ];
                extra.extend((subject.sizing)(workers));
                let series = Series {
                    target: Target::Model(model),
                    name: subject.model.to_string(),
                    flags: vec![],
                };
                let spec = CellSpec {
                    id,
                    experiment: "accept",
                    workload: &workload,
                    conns,
                    duration,
                    extra,
                    run,
                    rate: None,
                };
                let job = job(&out, &series, spec);
                // A cell kept by `--resume` keeps its saved status too.
                if runner.measured_before(&job).is_none() {
                    let _ = std::fs::remove_file(&status_path);
                }
                let i = place(plan, job.record.clone());
                runner.run(plan, i, &job)?;
                plan.cells[i].accept = read_spread(&status_path).map(|per_worker| AcceptSpread {
                    strategy: strategy.to_string(),
                    unit: subject.unit.to_string(),
                    per_worker,
                });
                crate::compare::output::write_plan(&out, plan)?;
            }
        }
    }
    Ok(())
}

fn read_spread(path: &Path) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(path).ok()?;
    per_worker(&serde_json::from_str(&text).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_live_pool_slots_and_from_loops() {
        let pool: Value = serde_json::from_str(
            r#"{"model":"process_pool","detail":{"workers":[
                {"slot":0,"state":"idle","connections":7},
                {"slot":1,"state":"dead","connections":3},
                {"slot":2,"state":"busy","connections":9}],"totals":{"connections":19}}}"#,
        )
        .unwrap();
        assert_eq!(per_worker(&pool), Some(vec![7, 9]));
        let epoll: Value = serde_json::from_str(
            r#"{"model":"epoll","detail":{"loops":[{"accepted":5},{"accepted":6}]}}"#,
        )
        .unwrap();
        assert_eq!(per_worker(&epoll), Some(vec![5, 6]));
        assert_eq!(per_worker(&serde_json::json!({"detail": {}})), None);
    }
}
