//! Fault isolation (`--experiments faults`): every model under steady load (closed loop,
//! `--fault-conns` connections, a new connection per request so that a model that serves one
//! connection at a time still lets the faulty requests in) while `lab run --inject-faults`
//! sends 20 × `/crash`, 5 × `/crash?abort` and, where the server has worker processes, one
//! `kill -9`. A model that dies is a result: its cell is measured (the load ran to the end
//! against a dead port) and the report says when it died.
//!
//! With `--repeat N` every series' cell runs N times, run by run (all series once, then all
//! again), and the report gives the median of the counts with their min–max, and how many runs
//! the server survived. External servers are not in this experiment: the faults need the lab's
//! own routes (`/crash`) and a worker to kill.

use crate::compare::cell::{place, Runner};
use crate::compare::plan::{job, CellSpec, Lineup, Series, WorkloadKind};
use report::{FaultLog, Plan};
use std::time::Duration;

/// The shortest fault cell: each injection (at 1/4, 1/2 and 3/4 of the run) gets at least a
/// whole second of the per-second timeline before the next.
pub const MIN_DURATION: Duration = Duration::from_secs(6);

/// The series of the experiment: each model once (its built-in variants change how it serves,
/// not whether a fault takes it down), and each `--series` as given.
pub fn series(lineup: &Lineup) -> Vec<Series> {
    lineup.plain()
}

/// Plans and runs `repeat` fault cells per series, each added to the plan as it starts.
pub fn run(
    lineup: &Lineup,
    conns: u64,
    duration: Duration,
    repeat: u32,
    runner: &mut Runner,
    plan: &mut Plan,
) -> Result<(), String> {
    let duration = duration.max(MIN_DURATION);
    let workload = WorkloadKind::Hello.workload();
    let out = runner.out().to_path_buf();
    for (run, series) in (1..=repeat).flat_map(|r| series(lineup).into_iter().map(move |s| (r, s)))
    {
        if runner.stopped() {
            return Ok(());
        }
        let mut id = format!("faults-{}", series.slug());
        if repeat > 1 {
            id.push_str(&format!("-r{run}"));
        }
        let log_path = out.join("cells").join(format!("{id}.faults.json"));
        let spec = CellSpec {
            id,
            experiment: "faults",
            workload: &workload,
            conns,
            duration,
            extra: vec![
                "--no-keepalive".into(),
                "--inject-faults".into(),
                log_path.display().to_string(),
            ],
            run,
            rate: None,
        };
        let mut job = job(&out, &series, spec);
        // A server that died under the faults is the result, not a failed cell.
        job.nothing_served_is_a_result = true;
        if runner.measured_before(&job).is_none() {
            let _ = std::fs::remove_file(&log_path);
        }
        let i = place(plan, job.record.clone());
        runner.run(plan, i, &job)?;
        let log: Option<FaultLog> = std::fs::read_to_string(&log_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(log) = log {
            plan.cells[i].faults = Some(log);
        }
        crate::compare::output::write_plan(&out, plan)?;
    }
    Ok(())
}
