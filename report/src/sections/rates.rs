//! Latency against offered load (`lab compare --rates`): the hockey stick of every queueing
//! system, and each series' knee, judged again here from each cell's JSON ([`knee::verdict`]).

use super::{and_list, ms, Ctx, LATENCY_PICKS};
use crate::chart::{Key, Line, Panel, XAxis};
use crate::data::{CellRun, CellStatus, RatesPlan};
use crate::doc::Block;
use crate::fmt;
use crate::knee;

/// The grey of the objective's line (the palette's first grey).
const SLO_COLOR: usize = 8;

/// One rate of a series: (offered, the run shown, passed, why not, every measured run).
type StepRuns = (f64, CellRun, bool, Option<String>, Vec<CellRun>);

/// One series' steps and what they make.
pub(super) struct Knee {
    pub(super) series: String,
    /// By offered rate. With `--repeat`, the run shown is the one of median p99, and a step
    /// passed when most of its runs did (as `lab compare --rates auto` decided it).
    steps: Vec<StepRuns>,
    /// Steps whose cells all failed outright (no report).
    failed_cells: usize,
    pub(super) held: Option<f64>,
    pub(super) broke: Option<f64>,
}

impl Knee {
    /// The step at `rate` (the one that held, if it was run again).
    fn step(&self, rate: f64, held: bool) -> Option<&StepRuns> {
        let at = || self.steps.iter().filter(|s| s.0 == rate);
        at().find(|s| s.2 == held).or_else(|| at().next())
    }
}

impl Ctx<'_> {
    pub(super) fn knees(&self, rp: &RatesPlan) -> Vec<Knee> {
        let cells = self.s.experiment("rates");
        let mut out = Vec::new();
        for series in &self.s.plan.series {
            let mine: Vec<_> = cells.iter().filter(|(c, _)| &c.series == series).collect();
            if mine.is_empty() {
                continue;
            }
            // The runs of one step are consecutive in the plan, from run 1 on.
            let mut groups: Vec<(f64, Vec<_>)> = Vec::new();
            for (cell, run) in mine {
                let Some(rate) = cell.rate else { continue };
                match groups.last_mut() {
                    Some(g) if cell.run > 1 && g.0 == rate => g.1.push((*cell, *run)),
                    _ => groups.push((rate, vec![(*cell, *run)])),
                }
            }
            let mut steps = Vec::new();
            let mut failed_cells = 0;
            let mut verdicts = Vec::new();
            for (rate, group) in groups {
                let mut ok: Vec<&CellRun> = group
                    .iter()
                    .filter(|(c, _)| c.status == CellStatus::Ok)
                    .filter_map(|(_, r)| *r)
                    .collect();
                let failed = group
                    .iter()
                    .filter(|(c, _)| c.status == CellStatus::Failed)
                    .count();
                if ok.is_empty() {
                    if failed > 0 {
                        failed_cells += 1;
                        verdicts.push((rate, false));
                    }
                    continue;
                }
                ok.sort_by_key(|r| r.load.latency_us.p99);
                let shown = ok[(ok.len() - 1) / 2];
                let held = ok
                    .iter()
                    .filter(|r| knee::verdict(&r.load, rate, rp.slo_us).is_ok())
                    .count();
                let runs = ok.len() + failed;
                let passed = held * 2 > runs;
                let why = if passed {
                    None
                } else {
                    let own = knee::verdict(&shown.load, rate, rp.slo_us).err();
                    Some(match (own, runs > 1) {
                        (Some(w), false) => w,
                        (Some(w), true) => format!("{w} (held in {held} of {runs} runs)"),
                        (None, _) => format!("held in only {held} of {runs} runs"),
                    })
                };
                verdicts.push((rate, passed));
                steps.push((
                    rate,
                    shown.clone(),
                    passed,
                    why,
                    ok.iter().map(|r| (*r).clone()).collect(),
                ));
            }
            steps.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (held, broke) = knee::bracket(&verdicts);
            out.push(Knee {
                series: series.clone(),
                steps,
                failed_cells,
                held,
                broke,
            });
        }
        out
    }

    pub(super) fn rates(&mut self) {
        let Some(rp) = self.s.plan.rates.clone() else {
            return;
        };
        self.section("rates", "Latency against offered load (open loop)");
        let slo = fmt::latency_us(rp.slo_us as f64);
        let how = if rp.auto {
            format!(
                "For each series a search picked the rates: starting at {} req/s it doubled until \
                 a rate failed (or halved until one held), then bisected between the highest rate \
                 that held and the lowest that failed, at most {} steps.",
                fmt::thousands(rp.start),
                rp.max_steps
            )
        } else {
            format!(
                "Rates offered: {} req/s.",
                and_list(
                    &rp.asked
                        .iter()
                        .map(|r| fmt::thousands(*r))
                        .collect::<Vec<_>>()
                )
            )
        };
        self.para(format!(
            "Each cell is one `lab run --rate R`: the load generator sends R requests a second in \
             total over {conns} whatever the server's pace (open loop, as wrk2), and \
             measures each latency from when the request was due, so a server that falls behind \
             shows its queue. Workload {w}. A rate is *held* when it had no errors, achieved at \
             least {share} of the rate offered, and kept p99 under the objective, {slo}. {how} \
             Each chart plots every measured rate at the throughput actually achieved; past the \
             knee the line turns up (latency grows with the queue) or back (less is achieved \
             than offered). {repeats}",
            repeats = if self.s.plan.repeat > 1 {
                format!(
                    "Each rate ran {} times per series (`--repeat`, each search step too): a rate \
                     is held when most of its runs held, and the charts show the run of median \
                     p99 with the min–max of the runs as bars.",
                    self.s.plan.repeat
                )
            } else {
                "Each rate ran once per series, so the knee is a bracket measured once: on a \
                 shared machine it moves from run to run."
                    .to_string()
            },
            conns = if rp.conns == 1 {
                "one connection".to_string()
            } else {
                format!("{} connections", fmt::thousands(rp.conns as f64))
            },
            w = rp.workload,
            share = fmt::percent(knee::ACHIEVED_SHARE),
        ));
        let knees = self.knees(&rp);
        let names: Vec<&str> = knees.iter().map(|k| k.series.as_str()).collect();
        let picks = LATENCY_PICKS;
        let max_x = knees
            .iter()
            .flat_map(|k| k.steps.iter().map(|s| s.1.load.throughput_rps))
            .fold(0.0_f64, f64::max);
        let panels: Vec<Panel> = picks
            .iter()
            .map(|(name, pick)| {
                let mut lines: Vec<Line> = knees
                    .iter()
                    .map(|k| Line {
                        color: self.color(&k.series),
                        points: k
                            .steps
                            .iter()
                            .filter_map(|(_, run, _, _, _)| {
                                pick(run).map(|y| (run.load.throughput_rps, y))
                            })
                            .collect(),
                        bars: k
                            .steps
                            .iter()
                            .filter(|s| s.4.len() > 1)
                            .filter_map(|(_, run, _, _, all)| {
                                let ys: Vec<f64> = all.iter().filter_map(pick).collect();
                                let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
                                let hi = ys.iter().copied().fold(0.0, f64::max);
                                lo.is_finite().then_some((run.load.throughput_rps, lo, hi))
                            })
                            .collect(),
                        dashed: false,
                    })
                    .collect();
                if *name == "p99" && max_x > 0.0 {
                    lines.push(Line {
                        color: SLO_COLOR,
                        points: vec![(0.0, ms(rp.slo_us as f64)), (max_x, ms(rp.slo_us as f64))],
                        bars: Vec::new(),
                        dashed: true,
                    });
                }
                Panel {
                    title: format!("{name} against achieved throughput"),
                    y_desc: "ms".into(),
                    y_log: true,
                    y_fmt: fmt::axis_ms,
                    x: XAxis::Rate,
                    lines,
                }
            })
            .collect();
        let mut legend: Vec<Key> = self.legend(&names);
        legend.push((format!("objective {slo}"), SLO_COLOR, true));
        self.chart(
            "rates",
            format!(
                "Latency p50, p99 and p99.9 against achieved throughput, open loop, workload {}",
                rp.workload
            ),
            &panels,
            3,
            &legend,
        );
        self.knee_table(&knees);
        let lines = self.knee_reading(&knees, &rp);
        self.reading(lines);
    }

    fn knee_table(&mut self, knees: &[Knee]) {
        let head = [
            "model",
            "sustained rate",
            "p99 there",
            "first rate that failed",
            "why it failed",
            "steps",
        ]
        .map(String::from)
        .to_vec();
        let mut rows = Vec::new();
        for k in knees {
            let held = match (k.held, k.broke) {
                (Some(h), Some(_)) => format!("{} req/s", fmt::thousands(h)),
                (Some(h), None) => format!("at least {} req/s", fmt::thousands(h)),
                (None, _) => "none held".into(),
            };
            let p99 = k
                .held
                .and_then(|h| k.step(h, true))
                .map(|s| fmt::latency_us(s.1.load.latency_us.p99 as f64))
                .unwrap_or_default();
            let (broke, why) = match k.broke {
                Some(b) => (
                    format!("{} req/s", fmt::thousands(b)),
                    k.step(b, false)
                        .and_then(|s| s.3.clone())
                        .unwrap_or_else(|| "the cell failed (section 5)".into()),
                ),
                None => (String::new(), String::new()),
            };
            let steps = k.steps.len() + k.failed_cells;
            rows.push(vec![
                format!("`{}`", k.series),
                held,
                p99,
                broke,
                why,
                steps.to_string(),
            ]);
        }
        self.push(Block::Table { head, rows });
    }

    /// Who sustained the most, and whether that is clear of the other brackets.
    fn knee_reading(&self, knees: &[Knee], rp: &RatesPlan) -> Vec<String> {
        let mut lines = Vec::new();
        let mut held: Vec<&Knee> = knees.iter().filter(|k| k.held.is_some()).collect();
        held.sort_by(|a, b| b.held.unwrap_or(0.0).total_cmp(&a.held.unwrap_or(0.0)));
        let rate = |k: &Knee| {
            let h = fmt::thousands(k.held.unwrap_or(0.0));
            match k.broke {
                Some(b) => format!("{h} req/s (failed at {})", fmt::thousands(b)),
                None => format!("at least {h} req/s (no rate tried failed)"),
            }
        };
        match held.as_slice() {
            [] => {}
            [only] => lines.push(format!(
                "Only `{}` held a rate with p99 under {}: {}.",
                only.series,
                fmt::latency_us(rp.slo_us as f64),
                rate(only)
            )),
            [a, b, ..] => {
                // The knee lies between the highest held and the lowest failed rate. If the
                // runner-up's bracket reaches the leader's held rate, the order is not measured.
                let overlap = b.broke.is_none_or(|bb| bb > a.held.unwrap_or(0.0));
                if overlap {
                    lines.push(format!(
                        "`{}` and `{}` sustained the most, {} and {}: their brackets overlap, so \
                         which is higher is not measured ({}).",
                        a.series,
                        b.series,
                        rate(a),
                        rate(b),
                        if rp.auto {
                            "more --max-steps narrow the brackets"
                        } else {
                            "offer higher rates, or use --rates auto"
                        }
                    ));
                } else {
                    lines.push(format!(
                        "`{}` sustained the highest rate with p99 under {}: {}, {} the next, `{}`'s {}.",
                        a.series,
                        fmt::latency_us(rp.slo_us as f64),
                        rate(a),
                        fmt::ratio(a.held.unwrap_or(0.0), b.held.unwrap_or(1.0)),
                        b.series,
                        rate(b)
                    ));
                }
                if let Some(last) = held.last().filter(|l| l.series != b.series) {
                    lines.push(format!(
                        "The lowest was `{}`'s: {}.",
                        last.series,
                        rate(last)
                    ));
                }
            }
        }
        for k in knees.iter().filter(|k| k.held.is_none()) {
            let lowest = k.steps.first();
            lines.push(match lowest {
                Some((r, _, _, why, _)) => format!(
                    "`{}` held no rate tried, down to {} req/s: {}.",
                    k.series,
                    fmt::thousands(*r),
                    why.clone().unwrap_or_default()
                ),
                None => format!("`{}` has no measured rate.", k.series),
            });
        }
        // The hockey stick in numbers: p99 at the held rate against p99 at the first failure.
        for k in knees {
            if let (Some(h), Some(b)) = (
                k.held.and_then(|h| k.step(h, true)),
                k.broke.and_then(|b| k.step(b, false)),
            ) {
                if b.1.load.requests > 0 && h.1.load.latency_us.p99 > 0 {
                    lines.push(format!(
                        "`{}`: p99 {} at {} req/s, {} at {} req/s ({} for {} more offered load).",
                        k.series,
                        fmt::latency_us(h.1.load.latency_us.p99 as f64),
                        fmt::thousands(h.0),
                        fmt::latency_us(b.1.load.latency_us.p99 as f64),
                        fmt::thousands(b.0),
                        fmt::times(b.1.load.latency_us.p99 as f64 / h.1.load.latency_us.p99 as f64),
                        fmt::percent(b.0 / h.0 - 1.0)
                    ));
                }
            }
        }
        lines
    }

    /// The summary's line on sustained rates.
    pub(super) fn rates_summary(&self) -> Option<String> {
        let rp = self.s.plan.rates.clone()?;
        let knees = self.knees(&rp);
        let items: Vec<String> = knees
            .iter()
            .map(|k| match (k.held, k.broke) {
                (Some(h), Some(_)) => format!("`{}` {} req/s", k.series, fmt::thousands(h)),
                (Some(h), None) => format!("`{}` at least {} req/s", k.series, fmt::thousands(h)),
                (None, _) => format!("`{}` none", k.series),
            })
            .collect();
        (!items.is_empty()).then(|| {
            format!(
                "Sustained open-loop rate on {} with p99 under {}, no errors and {} achieved \
                 (section \"Latency against offered load\"): {}.",
                rp.workload,
                fmt::latency_us(rp.slo_us as f64),
                fmt::percent(knee::ACHIEVED_SHARE),
                and_list(&items)
            )
        })
    }
}
