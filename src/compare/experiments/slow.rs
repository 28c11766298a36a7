//! Slow clients (`--experiments slow`): every series under a steady good load (closed loop,
//! `--slow-good-conns` clients, a new connection per request, as in `faults`) twice, for the
//! same duration: once calm, once while `lab run --slow-clients` keeps `--slow-conns`
//! slowloris connections on the server (each trickles a request head a byte a second and never
//! finishes it). A model with a fixed number of workers gives them all to the attack and its good
//! clients wait or starve; an event loop holds the attackers as idle sockets. The server's
//! `--header-timeout` (408 to a head not finished in time) is its defence:
//! `--slow-header-timeout 1s` gives it to every cell, to show what it buys.
//!
//! A cell where the good load got no response at all is a result (the attack won), not a failed
//! cell. With `--repeat N` the pair runs N times, run by run (calm, attack, calm, attack), so
//! that drift over the comparison favours neither. External servers are not in this
//! experiment.

use crate::compare::cell::{place, Runner};
use crate::compare::plan::{duration_arg, job, CellSpec, Lineup, Series, WorkloadKind};
use report::Plan;
use std::time::Duration;

/// The series of the experiment: each model once, and each `--series` as given.
pub fn series(lineup: &Lineup) -> Vec<Series> {
    lineup.plain()
}

/// How many cells the experiment runs: a calm one and an attacked one per series and run.
pub fn cells(lineup: &Lineup, repeat: u32) -> usize {
    series(lineup).len() * 2 * repeat as usize
}

/// Plans and runs the cells, each added to the plan as it starts: per series and run, calm then
/// under attack. `(good, attackers, header_timeout)`: the good load's connections, the slow
/// clients, and the servers' `--header-timeout` if not their default.
pub fn run(
    lineup: &Lineup,
    (good, attackers, header_timeout): (u64, u64, Option<Duration>),
    duration: Duration,
    repeat: u32,
    runner: &mut Runner,
    plan: &mut Plan,
) -> Result<(), String> {
    let workload = WorkloadKind::Hello.workload();
    let out = runner.out().to_path_buf();
    for (run, series) in (1..=repeat).flat_map(|r| series(lineup).into_iter().map(move |s| (r, s)))
    {
        for attacked in [false, true] {
            if runner.stopped() {
                return Ok(());
            }
            let mut id = format!(
                "slow-{}-{}",
                series.slug(),
                if attacked { "attack" } else { "calm" }
            );
            if repeat > 1 {
                id.push_str(&format!("-r{run}"));
            }
            let mut extra = vec!["--no-keepalive".to_string()];
            if let Some(t) = header_timeout {
                extra.extend(["--header-timeout".to_string(), duration_arg(t)]);
            }
            if attacked {
                extra.extend(["--slow-clients".to_string(), attackers.to_string()]);
            }
            let spec = CellSpec {
                id,
                experiment: "slow",
                workload: &workload,
                conns: good,
                duration,
                extra,
                run,
                rate: None,
            };
            let mut job = job(&out, &series, spec);
            // Good clients the attack starved are the result, not a failed cell.
            job.nothing_served_is_a_result = attacked;
            let i = place(plan, job.record.clone());
            runner.run(plan, i, &job)?;
        }
    }
    Ok(())
}
