//! Fault isolation (`--experiments faults`): every model under steady load (closed loop,
//! `--fault-conns` connections, a new connection per request so that a model that serves one
//! connection at a time still lets the faulty requests in) while `lab run --inject-faults`
//! sends 20 × `/crash`, 5 × `/crash?abort` and, where the server has worker processes, one
//! `kill -9`. A model that dies is a result: its cell is measured (the load ran to the end
//! against a dead port) and the report says when it died.

use crate::compare::cell::Runner;
use crate::compare::plan::{job, series_for, CellSpec, Series, WorkloadKind};
use http_lab::models::Model;
use report::{CellRun, CellStatus, FaultLog, Plan};
use std::time::Duration;

/// The shortest fault cell: each injection (at 1/4, 1/2 and 3/4 of the run) gets at least a
/// whole second of the per-second timeline before the next.
pub const MIN_DURATION: Duration = Duration::from_secs(6);

/// The series of the experiment: each model once (its variants change how it serves, not
/// whether a fault takes it down).
pub fn series(models: &[Model]) -> Vec<Series> {
    series_for(models, WorkloadKind::Hello)
        .into_iter()
        .filter(|s| s.flags.is_empty())
        .collect()
}

/// Plans and runs one fault cell per model, each added to the plan as it starts.
pub fn run(
    models: &[Model],
    conns: u64,
    duration: Duration,
    runner: &mut Runner,
    plan: &mut Plan,
) -> Result<(), String> {
    let duration = duration.max(MIN_DURATION);
    let workload = WorkloadKind::Hello.workload();
    let out = runner.out().to_path_buf();
    for series in series(models) {
        if runner.stopped() {
            return Ok(());
        }
        let id = format!("faults-{}", series.name.replace('+', "-"));
        let log_path = out.join("cells").join(format!("{id}.faults.json"));
        let _ = std::fs::remove_file(&log_path);
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
            run: 1,
            rate: None,
        };
        let job = job(&out, &series, spec);
        plan.cells.push(job.record.clone());
        let i = plan.cells.len() - 1;
        runner.run(plan, i, &job)?;
        let log: Option<FaultLog> = std::fs::read_to_string(&log_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let measured = std::fs::read_to_string(out.join(job.record.file()))
            .ok()
            .and_then(|t| serde_json::from_str::<CellRun>(&t).ok())
            .is_some();
        let cell = &mut plan.cells[i];
        if let Some(log) = log {
            // A server that died under the faults is the result, not a failed cell.
            if measured
                && cell.status == CellStatus::Failed
                && cell.reason.as_deref() != Some("interrupted")
            {
                cell.status = CellStatus::Ok;
                cell.reason = None;
            }
            cell.faults = Some(log);
        }
        crate::compare::output::write_plan(&out, plan)?;
    }
    Ok(())
}
