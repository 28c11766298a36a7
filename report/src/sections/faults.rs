//! Fault isolation (`lab compare --experiments faults`): what a handler panic, a process abort
//! and a `kill -9` of a worker cost each model under steady load, from each cell's fault log
//! and its per-second timeline.

use super::{and_list, Ctx};
use crate::chart::{Line, Panel, XAxis};
use crate::data::{CellRecord, CellRun, CellStatus, FaultLog, Injection};
use crate::doc::Block;
use crate::fmt;
use crate::stats::{seed_of, Spread};

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

/// The cells of one series (one per `--repeat` run), in plan order.
type Group<'a> = Vec<&'a (CellRecord, Option<CellRun>)>;

/// The study's fault cells grouped by series, in plan order.
fn groups(cells: &[(CellRecord, Option<CellRun>)]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = Vec::new();
    for c in cells {
        match groups.iter_mut().find(|g| g[0].0.series == c.0.series) {
            Some(g) => g.push(c),
            None => groups.push(vec![c]),
        }
    }
    groups
}

/// Requests of the load that got no response (status errors had one).
fn lost_of(run: &CellRun) -> f64 {
    let e = &run.load.errors;
    (e.total() - e.status) as f64
}

/// Connections of the load reset or closed mid-request.
fn broken_of(run: &CellRun) -> f64 {
    let e = &run.load.errors;
    (e.read + e.write + e.closed) as f64
}

/// The faults in the order they are injected: kind, and the table's heading.
pub(crate) const FAULTS: [(&str, &str); 3] = [
    ("crash", "20 × /crash"),
    ("abort", "5 × /crash?abort"),
    ("kill", "kill -9 of a worker"),
];

/// One series' fault cells (its `--repeat` runs) summed up: the section's row, and what
/// `lab report --against` compares.
pub(crate) struct Summary<'a> {
    pub series: String,
    /// The run shown: the one of median losses among those measured (else the first).
    shown: &'a (CellRecord, Option<CellRun>),
    /// What the runs measured; `Err`: why nothing was (`not run`, or the cell failed).
    pub outcome: Result<Outcome, String>,
}

/// What a series' measured fault runs showed.
pub(crate) struct Outcome {
    /// The table's *outcome*: survived, or when the server died, with the runs' count when
    /// repeated.
    pub fate: String,
    /// Runs measured, and those the server survived (never died, alive at the end).
    pub measured: usize,
    pub survived: usize,
    /// *Lost* and *broken* as the table says them, and their spread over the measured runs.
    pub lost_text: String,
    pub broken_text: String,
    pub lost: Option<Spread>,
    pub broken: Option<Spread>,
    /// Per fault of [`FAULTS`] in the run shown: when it was injected and what came back (or
    /// that the server was dead), what came back alone, and how long throughput took to be
    /// back.
    injected: Vec<String>,
    pub came_back: Vec<String>,
    pub back: Vec<String>,
    /// `GET /` after the run shown.
    pub probe_after: String,
    /// The reading's sentence, and whether the run shown survived and answered afterwards.
    line: String,
    answered_after: bool,
}

/// Each series' fault cells summed up, in plan order; empty when the study has no faults
/// experiment.
pub(crate) fn summaries(cells: &[(CellRecord, Option<CellRun>)]) -> Vec<Summary<'_>> {
    groups(cells).iter().map(|g| summarise(g)).collect()
}

fn summarise<'a>(group: &[&'a (CellRecord, Option<CellRun>)]) -> Summary<'a> {
    // With `--repeat`, a series' runs make one row: the run of median losses is shown, with
    // the counts' median and min–max and how many runs the server survived.
    let mut measured: Group = group
        .iter()
        .copied()
        .filter(|(c, r)| c.faults.is_some() && c.status == CellStatus::Ok && r.is_some())
        .collect();
    measured.sort_by(|a, b| {
        let l = |x: &(CellRecord, Option<CellRun>)| x.1.as_ref().map_or(0.0, lost_of);
        l(a).total_cmp(&l(b))
    });
    let shown = measured
        .get(measured.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(group[0]);
    let (cell, run) = shown;
    let series = cell.series.clone();
    let runs = group.len();
    let name = format!("`{}`", cell.series);
    let (Some(log), Some(run)) = (
        &cell.faults,
        run.as_ref().filter(|_| cell.status == CellStatus::Ok),
    ) else {
        let why = match cell.status {
            CellStatus::Pending => "not run".into(),
            _ => "the cell failed (section 5)".into(),
        };
        return Summary {
            series,
            shown,
            outcome: Err(why),
        };
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
    let injected: Vec<String> = FAULTS
        .iter()
        .map(|(k, _)| match by_kind(k) {
            Some(i) => format!("t={} s: {}", fmt::fixed(i.at_s, 1), outcomes(i)),
            None => "not injected (the server was dead)".into(),
        })
        .collect();
    let came_back: Vec<String> = FAULTS
        .iter()
        .map(|(k, _)| match by_kind(k) {
            Some(i) => outcomes(i),
            None => "not injected (the server was dead)".into(),
        })
        .collect();
    let back: Vec<String> = FAULTS
        .iter()
        .map(|(k, _)| match by_kind(k) {
            Some(i) if log.died_at_s.is_none_or(|d| d > i.at_s + 1.0) => recovery(run, log, i),
            Some(_) => "died".into(),
            None => "—".into(),
        })
        .collect();
    let spread_of = |value: fn(&CellRun) -> f64| {
        let values: Vec<f64> = measured
            .iter()
            .filter_map(|(_, r)| r.as_ref().map(value))
            .collect();
        Spread::of(&values, seed_of(&cell.series))
    };
    let (lost_spread, broken_spread) = (spread_of(lost_of), spread_of(broken_of));
    let alive = measured
        .iter()
        .filter(|(c, _)| {
            c.faults
                .as_ref()
                .is_some_and(|f| f.died_at_s.is_none() && f.alive_at_end)
        })
        .count();
    let (fate, lost_text, broken_text) = if runs > 1 {
        let fate = if alive == measured.len() {
            format!("survived ({alive} of {runs} runs)")
        } else if alive == 0 {
            format!("{outcome} ({} of {runs} runs died)", measured.len())
        } else {
            format!("survived {alive} of {runs} runs; {outcome} in the one shown")
        };
        let show = |s: &Option<Spread>| s.map(|v| fmt::spread(&v, fmt::thousands));
        (
            fate,
            match (log.died_at_s, show(&lost_spread)) {
                (None, Some(l)) => l,
                (_, _) => lost_text,
            },
            show(&broken_spread).unwrap_or_else(|| fmt::thousands(broken as f64)),
        )
    } else {
        (outcome, lost_text, fmt::thousands(broken as f64))
    };
    let answered_after = log.died_at_s.is_none() && log.alive_at_end && log.probe_after == "200";
    let line = match log.died_at_s {
        Some(t) => {
            // The injection that began last before the death.
            let cause = log
                .injections
                .iter()
                .filter(|i| i.at_s <= t + 0.05)
                .max_by(|a, b| a.at_s.total_cmp(&b.at_s));
            match cause {
                Some(i) => format!(
                    "{name} died at t={} s, {} s after `{}` began ({}), and the load got no response after it ({} failed attempts).",
                    fmt::fixed(t, 1),
                    fmt::fixed((t - i.at_s).max(0.0), 1),
                    i.what,
                    outcomes(i),
                    fmt::thousands(lost as f64)
                ),
                None => format!("{name} died at t={} s, before any fault.", fmt::fixed(t, 1)),
            }
        }
        None if answered_after => {
            let abort = by_kind("abort").map(outcomes).unwrap_or_default();
            format!(
                "{name} survived every fault and still answered afterwards; the aborts \
                 came back as {abort}; the load lost {} of its requests and had {} of its connections broken.",
                fmt::thousands(lost as f64),
                fmt::thousands(broken as f64)
            )
        }
        None => format!(
            "{name} did not die during the run, but afterwards `GET /` got: {}.",
            log.probe_after
        ),
    };
    Summary {
        series,
        shown,
        outcome: Ok(Outcome {
            fate,
            measured: measured.len(),
            survived: alive,
            lost_text,
            broken_text,
            lost: lost_spread,
            broken: broken_spread,
            injected,
            came_back,
            back,
            probe_after: log.probe_after.clone(),
            line,
            answered_after,
        }),
    }
}

impl Ctx<'_> {
    pub(super) fn faults(&mut self) {
        let cells = super::experiment_cells(self.s, "faults");
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
        let mut head: Vec<String> = ["model", "outcome", "lost", "broken"]
            .map(String::from)
            .to_vec();
        head.extend(FAULTS.iter().map(|(_, h)| h.to_string()));
        head.extend(["back after (crash / abort / kill)", "GET / after the run"].map(String::from));
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut survived = Vec::new();
        let summaries = summaries(&cells);
        let shown_cells: Vec<&(CellRecord, Option<CellRun>)> =
            summaries.iter().map(|s| s.shown).collect();
        for s in &summaries {
            let name = format!("`{}`", s.series);
            let o = match &s.outcome {
                Ok(o) => o,
                Err(why) => {
                    let mut row = vec![name, why.clone()];
                    row.resize(head.len(), String::new());
                    rows.push(row);
                    continue;
                }
            };
            let mut row = vec![
                name.clone(),
                o.fate.clone(),
                o.lost_text.clone(),
                o.broken_text.clone(),
            ];
            row.extend(o.injected.iter().cloned());
            row.push(o.back.join(" / "));
            row.push(o.probe_after.clone());
            rows.push(row);
            if o.answered_after {
                survived.push(name);
            }
            lines.push(o.line.clone());
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
