//! Fault isolation (`lab compare --experiments faults`): what a handler panic, a process abort
//! and a `kill -9` of a worker cost each model under steady load, from each cell's fault log
//! and its per-second timeline.

use super::{and_list, Ctx};
use crate::chart::{Line, Panel, XAxis};
use crate::data::{CellRecord, CellRun, CellStatus, FaultLog, Injection};
use crate::doc::Block;
use crate::fmt;

/// Throughput counts as recovered once a second reaches this share of the median second before
/// the first fault (the share is low because single seconds vary by half on a shared machine).
pub const RECOVERED_SHARE: f64 = 0.5;

/// The outcomes of an injection in words: `20 × 500`, `4 refused, 1 closed without a response`.
fn outcomes(inj: &Injection) -> String {
    let mut parts: Vec<(u32, &str)> = inj.outcomes.iter().map(|(k, v)| (*v, k.as_str())).collect();
    parts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    parts
        .iter()
        .map(|(n, what)| format!("{n} × {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds from `inj` until throughput was back (see [`RECOVERED_SHARE`]), in words.
fn recovery(run: &CellRun, log: &FaultLog, inj: &Injection) -> String {
    let timeline = &run.load.timeline;
    let first = log
        .injections
        .iter()
        .map(|i| i.at_s)
        .fold(f64::INFINITY, f64::min);
    let mut before: Vec<f64> = timeline
        .iter()
        .filter(|s| (s.second + 1) as f64 <= first)
        .map(|s| s.requests as f64)
        .collect();
    if before.is_empty() {
        return "n/a (no second before the first fault)".into();
    }
    before.sort_by(f64::total_cmp);
    let baseline = before[before.len() / 2];
    let start = inj.at_s.floor() as u64;
    match timeline
        .iter()
        .filter(|s| s.second >= start)
        .find(|s| s.requests as f64 >= RECOVERED_SHARE * baseline)
    {
        Some(s) if s.second == start => "no dip (≤ 1 s)".into(),
        Some(s) => format!("{} s", s.second - start),
        None => "not within the run".into(),
    }
}

impl Ctx<'_> {
    pub(super) fn faults(&mut self) {
        let cells: Vec<(CellRecord, Option<CellRun>)> = self
            .s
            .experiment("faults")
            .into_iter()
            .map(|(c, r)| (c.clone(), r.cloned()))
            .collect();
        if cells.is_empty() {
            return;
        }
        self.section("faults", "Fault isolation");
        self.para(
            "Each model served a steady load (closed loop, a new connection per request, `GET /`) \
             while faults were injected at fixed moments of the measured run, each faulty request \
             on a connection of its own: at a quarter, 20 × `GET /crash` (the handler panics); at \
             half, 5 × `GET /crash?abort` (the serving process aborts); at three quarters, \
             `kill -9` of the oldest worker process, where the server has any. *Lost* counts the \
             load's requests that got no response; *broken* the load's connections reset or \
             closed mid-request. *Back after* is the time until a second's throughput reached \
             half the median second before the first fault (single seconds vary that much on a \
             shared machine); the timeline has a resolution of one second.",
        );
        let externals: Vec<String> = self
            .s
            .plan
            .externals
            .iter()
            .map(|e| format!("`{}`", e.name))
            .collect();
        if !externals.is_empty() {
            self.para(format!(
                "Not in this experiment: {} (external servers have neither the lab's `/crash` \
                 route nor workers the lab knows to kill).",
                and_list(&externals)
            ));
        }
        let head = [
            "model",
            "outcome",
            "lost",
            "broken",
            "20 × /crash",
            "5 × /crash?abort",
            "kill -9 of a worker",
            "back after (crash / abort / kill)",
            "GET / after the run",
        ]
        .map(String::from)
        .to_vec();
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut survived = Vec::new();
        // With `--repeat`, a series' runs make one row: the run of median losses is shown, with
        // the counts' median and min–max and how many runs the server survived.
        let mut groups: Vec<Vec<&(CellRecord, Option<CellRun>)>> = Vec::new();
        for c in &cells {
            match groups.iter_mut().find(|g| g[0].0.series == c.0.series) {
                Some(g) => g.push(c),
                None => groups.push(vec![c]),
            }
        }
        let lost_of = |run: &CellRun| {
            let e = &run.load.errors;
            (e.total() - e.status) as f64
        };
        let mut shown_cells: Vec<&(CellRecord, Option<CellRun>)> = Vec::new();
        for group in &groups {
            let mut measured: Vec<&(CellRecord, Option<CellRun>)> = group
                .iter()
                .copied()
                .filter(|(c, r)| c.faults.is_some() && c.status == CellStatus::Ok && r.is_some())
                .collect();
            measured.sort_by(|a, b| {
                let l = |x: &(CellRecord, Option<CellRun>)| x.1.as_ref().map_or(0.0, lost_of);
                l(a).total_cmp(&l(b))
            });
            let pick = measured
                .get(measured.len().saturating_sub(1) / 2)
                .copied()
                .unwrap_or(group[0]);
            shown_cells.push(pick);
            let (cell, run) = pick;
            let runs = group.len();
            let name = format!("`{}`", cell.series);
            let (Some(log), Some(run)) = (
                &cell.faults,
                run.as_ref().filter(|_| cell.status == CellStatus::Ok),
            ) else {
                let mut row = vec![
                    name.clone(),
                    match cell.status {
                        CellStatus::Pending => "not run".into(),
                        _ => "the cell failed (section 5)".into(),
                    },
                ];
                row.resize(head.len(), String::new());
                rows.push(row);
                continue;
            };
            let by_kind = |k: &str| log.injections.iter().find(|i| i.kind == k);
            let e = &run.load.errors;
            let lost = e.total() - e.status;
            // After a death the load generator's attempts are refused as fast as it retries:
            // the count is of failed attempts, not of the requests a live server would have had.
            let lost_text = match log.died_at_s {
                Some(t) => format!(
                    "all after t={} s ({} failed attempts)",
                    fmt::fixed(t, 1),
                    fmt::thousands(lost as f64)
                ),
                None => fmt::thousands(lost as f64),
            };
            let broken = e.read + e.write + e.closed;
            let outcome = match log.died_at_s {
                Some(t) => format!("server died at t={} s", fmt::fixed(t, 1)),
                None if log.alive_at_end => "survived".into(),
                None => "gone at the end".into(),
            };
            let cell_of = |k: &str| match by_kind(k) {
                Some(i) => format!("t={} s: {}", fmt::fixed(i.at_s, 1), outcomes(i)),
                None => "not injected (the server was dead)".into(),
            };
            let back: Vec<String> = ["crash", "abort", "kill"]
                .iter()
                .map(|k| match by_kind(k) {
                    Some(i) if log.died_at_s.is_none_or(|d| d > i.at_s + 1.0) => {
                        recovery(run, log, i)
                    }
                    Some(_) => "died".into(),
                    None => "—".into(),
                })
                .collect();
            let spread_of = |value: &dyn Fn(&CellRun) -> f64| {
                let values: Vec<f64> = measured
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().map(value))
                    .collect();
                crate::stats::Spread::of(&values, crate::stats::seed_of(&cell.series))
            };
            let (outcome, lost_text, broken_text) = if runs > 1 {
                let alive = measured
                    .iter()
                    .filter(|(c, _)| {
                        c.faults
                            .as_ref()
                            .is_some_and(|f| f.died_at_s.is_none() && f.alive_at_end)
                    })
                    .count();
                let fate = if alive == measured.len() {
                    format!("survived ({alive} of {runs} runs)")
                } else if alive == 0 {
                    format!("{outcome} ({} of {runs} runs died)", measured.len())
                } else {
                    format!("survived {alive} of {runs} runs; {outcome} in the one shown")
                };
                let lost_spread = spread_of(&lost_of).map(|v| fmt::spread(&v, fmt::thousands));
                let broken_spread = spread_of(&|r: &CellRun| {
                    let e = &r.load.errors;
                    (e.read + e.write + e.closed) as f64
                })
                .map(|v| fmt::spread(&v, fmt::thousands));
                (
                    fate,
                    match (log.died_at_s, lost_spread) {
                        (None, Some(l)) => l,
                        (_, _) => lost_text,
                    },
                    broken_spread.unwrap_or_else(|| fmt::thousands(broken as f64)),
                )
            } else {
                (outcome, lost_text, fmt::thousands(broken as f64))
            };
            rows.push(vec![
                name.clone(),
                outcome,
                lost_text,
                broken_text,
                cell_of("crash"),
                cell_of("abort"),
                cell_of("kill"),
                back.join(" / "),
                log.probe_after.clone(),
            ]);
            match log.died_at_s {
                Some(t) => {
                    // The injection that began last before the death.
                    let cause = log
                        .injections
                        .iter()
                        .filter(|i| i.at_s <= t + 0.05)
                        .max_by(|a, b| a.at_s.total_cmp(&b.at_s));
                    lines.push(match cause {
                        Some(i) => format!(
                            "{name} died at t={} s, {} s after `{}` began ({}), and the load got no response after it ({} failed attempts).",
                            fmt::fixed(t, 1),
                            fmt::fixed((t - i.at_s).max(0.0), 1),
                            i.what,
                            outcomes(i),
                            fmt::thousands(lost as f64)
                        ),
                        None => format!("{name} died at t={} s, before any fault.", fmt::fixed(t, 1)),
                    });
                }
                None if log.alive_at_end && log.probe_after == "200" => {
                    survived.push(name.clone());
                    let abort = by_kind("abort").map(outcomes).unwrap_or_default();
                    lines.push(format!(
                        "{name} survived every fault and still answered afterwards; the aborts \
                         came back as {abort}; the load lost {} of its requests and had {} of its connections broken.",
                        fmt::thousands(lost as f64),
                        fmt::thousands(broken as f64)
                    ));
                }
                None => lines.push(format!(
                    "{name} did not die during the run, but afterwards `GET /` got: {}.",
                    log.probe_after
                )),
            }
        }
        if !survived.is_empty() {
            lines.insert(
                0,
                format!("Survived all three faults: {}.", and_list(&survived)),
            );
        }
        self.push(Block::Table { head, rows });
        // The timeline of every cell the reading names: throughput per second through the faults.
        let shown: Vec<(String, Vec<(f64, f64)>)> = shown_cells
            .iter()
            .filter(|(c, _)| c.status == CellStatus::Ok)
            .filter_map(|(c, r)| r.as_ref().map(|r| (c.series.clone(), r)))
            .map(|(s, r)| {
                let points = r
                    .load
                    .timeline
                    .iter()
                    .map(|x| (x.second as f64 + 1.0, x.requests as f64))
                    .collect();
                (s, points)
            })
            .collect();
        if !shown.is_empty() {
            let names: Vec<&str> = shown.iter().map(|(s, _)| s.as_str()).collect();
            let legend = self.legend(&names);
            let panel = Panel {
                title: "responses per second; faults at 1/4 (crash), 1/2 (abort), 3/4 (kill)"
                    .into(),
                y_desc: "req/s".into(),
                y_log: false,
                y_fmt: fmt::thousands,
                x: XAxis::Seconds,
                lines: shown
                    .iter()
                    .map(|(s, points)| Line {
                        color: self.color(s),
                        points: points.clone(),
                        bars: Vec::new(),
                        dashed: false,
                    })
                    .collect(),
            };
            self.chart(
                "faults",
                "Throughput per second of each model while faults were injected".into(),
                &[panel],
                1,
                &legend,
            );
        }
        self.reading(lines);
    }
}
