//! Accept spread (`lab compare --experiments accept`): how each multi-worker model's accept
//! strategies share connections out over its workers (or loops), from the counts the server
//! itself reported in `GET /_status`, and what each strategy costs per connection.

use super::{and_list, Ctx};
use crate::chart::{Key, Line, Panel, XAxis};
use crate::data::{AcceptSpread, CellRecord, CellRun, CellStatus};
use crate::fmt;
use crate::stats::{jain_index, max_min_ratio, median, seed_of, Spread};

/// The colour of the even-share reference line.
const EVEN_COLOR: usize = 8;
/// Jain's indexes closer than this are called even.
pub(crate) const JAIN_TIE: f64 = 0.01;
/// CPU per connection within this share of the cheapest is called a tie (rusage over a few
/// seconds on a shared machine moves by a few percent from run to run).
const CPU_TIE: f64 = 0.05;
/// Requests per second within this share of the fastest are called a tie (a closed loop on a
/// shared 2-core machine moves by 10% and more from run to run).
const RPS_TIE: f64 = 0.10;

/// One run's figures.
struct Measured {
    min: f64,
    median: f64,
    max: f64,
    ratio: f64,
    jain: f64,
    rps: f64,
    /// Server CPU (user + system, the whole tree) per connection the server counted, µs.
    cpu_us: f64,
    /// Each worker's share of the connections, %, from the fewest to the most.
    shares: Vec<f64>,
}

fn measured(spread: &AcceptSpread, run: &CellRun) -> Option<Measured> {
    let counts = &spread.per_worker;
    let total: u64 = counts.iter().sum();
    // No leader may be a run that starved a connection or failed more than 1% of attempts.
    let load = &run.load;
    let attempts = load.requests + load.errors.total();
    if counts.is_empty()
        || total == 0
        || load.service.starved > 0
        || load.errors.total() as f64 > 0.01 * attempts as f64
    {
        return None;
    }
    let mut sorted: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let cpu = run.server.cpu_user_s + run.server.cpu_sys_s;
    Some(Measured {
        min: sorted[0],
        median: median(&sorted),
        max: sorted[sorted.len() - 1],
        ratio: max_min_ratio(counts),
        jain: jain_index(counts),
        rps: run.load.throughput_rps,
        cpu_us: cpu * 1e6 / total as f64,
        shares: sorted.iter().map(|&c| c * 100.0 / total as f64).collect(),
    })
}

/// A model × strategy: its runs' figures.
struct Group {
    model: String,
    strategy: String,
    unit: String,
    workers: usize,
    runs: Vec<Measured>,
    failed: usize,
}

impl Group {
    fn spread(&self, pick: fn(&Measured) -> f64) -> Option<Spread> {
        let values: Vec<f64> = self.runs.iter().map(pick).collect();
        Spread::of(
            &values,
            seed_of(&format!("accept {} {}", self.model, self.strategy)),
        )
    }

    fn median(&self, pick: fn(&Measured) -> f64) -> f64 {
        self.spread(pick).map_or(f64::NAN, |s| s.median)
    }

    /// The median over the runs of max/min, which is infinite in a run where some worker got
    /// no connection ([`Spread`] leaves such values out, and would have no median at all when
    /// every run has one).
    fn median_ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self.runs.iter().map(|m| m.ratio).collect();
        if ratios.is_empty() {
            return f64::NAN;
        }
        ratios.sort_by(f64::total_cmp);
        median(&ratios)
    }

    /// Rank by rank, the median over the runs of the share of connections the worker of that
    /// rank got (rank 1: the one that got the fewest), with the runs' min–max.
    fn ranked_shares(&self) -> Vec<(f64, f64, f64, f64)> {
        (0..self.workers)
            .filter_map(|rank| {
                let values: Vec<f64> = self
                    .runs
                    .iter()
                    .filter_map(|m| m.shares.get(rank).copied())
                    .collect();
                let spread = Spread::of(
                    &values,
                    seed_of(&format!("accept {} {} {rank}", self.model, self.strategy)),
                )?;
                Some(((rank + 1) as f64, spread.median, spread.min, spread.max))
            })
            .collect()
    }
}

/// The colour of a strategy on the accept chart: the same strategy, the same colour, in every
/// model's panel.
fn strategy_color(strategy: &str) -> usize {
    ["shared", "reuseport", "handoff", "exclusive"]
        .iter()
        .position(|s| *s == strategy)
        .unwrap_or(4)
}

fn groups(cells: &[(CellRecord, Option<CellRun>)]) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for (cell, run) in cells {
        let Some(spread) = &cell.accept else { continue };
        let i = match out
            .iter()
            .position(|g| g.model == cell.model && g.strategy == spread.strategy)
        {
            Some(i) => i,
            None => {
                out.push(Group {
                    model: cell.model.clone(),
                    strategy: spread.strategy.clone(),
                    unit: spread.unit.clone(),
                    workers: spread.per_worker.len(),
                    runs: Vec::new(),
                    failed: 0,
                });
                out.len() - 1
            }
        };
        let figures = run
            .as_ref()
            .filter(|_| cell.status == CellStatus::Ok)
            .and_then(|r| measured(spread, r));
        match figures {
            Some(m) => out[i].runs.push(m),
            None => out[i].failed += 1,
        }
    }
    // Models in the plan's order (the cells ran so), strategies as they first appear.
    out
}

/// How evenly one model × strategy shared its connections out over the runs measured, for
/// `lab report --against`.
pub(crate) struct Balance {
    pub model: String,
    pub strategy: String,
    /// Runs measured (a run that failed, starved a connection or lost over 1% is not).
    pub runs: usize,
    /// The median over the runs of max/min: infinite when a worker got no connection.
    pub max_min: f64,
    /// Jain's index over the runs.
    pub jain: Option<Spread>,
}

/// Each model × strategy's balance, models in plan order, strategies as they first appear;
/// empty when the study has no accept experiment.
pub(crate) fn balances(cells: &[(CellRecord, Option<CellRun>)]) -> Vec<Balance> {
    groups(cells)
        .iter()
        .map(|g| Balance {
            model: g.model.clone(),
            strategy: g.strategy.clone(),
            runs: g.runs.len(),
            max_min: g.median_ratio(),
            jain: g.spread(|m| m.jain),
        })
        .collect()
}

pub(crate) fn jain_text(j: f64) -> String {
    fmt::fixed(j, 3)
}

pub(crate) fn ratio_text(r: f64) -> String {
    if r.is_infinite() {
        "∞ (one got none)".into()
    } else {
        format!("{}x", fmt::fixed(r, 2))
    }
}

impl Ctx<'_> {
    pub(super) fn accept(&mut self) {
        let cells = super::experiment_cells(self.s, "accept");
        if cells.is_empty() {
            return;
        }
        let conns = cells.first().map_or(0, |(c, _)| c.conns);
        self.section("accept", "Accept spread");
        self.para(format!(
            "How the models with several workers (or event loops) share new connections out, by \
             accept strategy: `shared` (one listening socket; the kernel wakes a waiting \
             accept), `reuseport` (a SO_REUSEPORT socket per worker or loop; the kernel hashes \
             each client's address and port to one), `handoff` (the pools: the parent alone \
             accepts and passes each connection's descriptor to a worker that asked for one, \
             round-robin, over a Unix socket, as the Node.js cluster module does) and \
             `exclusive` (epoll: one shared socket registered with EPOLLEXCLUSIVE, so one loop \
             is woken per connection). Each cell ran {conns} clients opening a new connection \
             per request (`Connection: close`), so accepting is most of the work. The counts \
             per worker are the server's own (`GET /_status` after the load: the pools' \
             scoreboard, epoll's per-loop counters), warm-up included. *Jain* is Jain's \
             fairness index, (Σx)²/(n·Σx²): 1 when every worker got the same, 1/n when one got \
             all. *CPU per connection* is the server's whole-tree CPU (user + system) over the \
             connections it counted; with several runs, medians and their min–max."
        ));
        let groups = groups(&cells);
        let head = [
            "model",
            "--accept",
            "workers",
            "connections per worker (min / median / max)",
            "max/min",
            "Jain",
            "req/s",
            "server CPU per connection",
            "vs shared (CPU, req/s)",
        ]
        .map(String::from)
        .to_vec();
        let mut rows = Vec::new();
        for g in &groups {
            let mut row = vec![
                format!("`{}`", g.model),
                format!("`{}`", g.strategy),
                format!("{} {}s", g.workers, g.unit),
            ];
            if g.runs.is_empty() {
                row.push(format!(
                    "no run measured ({} failed, starved a connection or lost over 1%)",
                    g.failed
                ));
                row.resize(head.len(), String::new());
                rows.push(row);
                continue;
            }
            let count = |v: f64| fmt::thousands(v.round());
            row.push(format!(
                "{} / {} / {}",
                count(g.median(|m| m.min)),
                count(g.median(|m| m.median)),
                count(g.median(|m| m.max))
            ));
            row.push(ratio_text(g.median_ratio()));
            row.push(
                g.spread(|m| m.jain)
                    .map_or(String::new(), |s| fmt::spread(&s, jain_text)),
            );
            row.push(
                g.spread(|m| m.rps)
                    .map_or(String::new(), |s| fmt::spread(&s, fmt::thousands)),
            );
            row.push(g.spread(|m| m.cpu_us).map_or(String::new(), |s| {
                fmt::spread(&s, |v| format!("{} µs", fmt::fixed(v, 1)))
            }));
            let shared = groups
                .iter()
                .find(|o| o.model == g.model && o.strategy == "shared" && !o.runs.is_empty());
            row.push(match shared {
                Some(s) if g.strategy != "shared" => format!(
                    "{}, {}",
                    fmt::ratio(g.median(|m| m.cpu_us), s.median(|m| m.cpu_us)),
                    fmt::ratio(g.median(|m| m.rps), s.median(|m| m.rps))
                ),
                _ => String::new(),
            });
            rows.push(row);
        }
        self.push(crate::doc::Block::Table { head, rows });
        self.accept_chart(&groups);
        let lines = self.accept_reading(&groups);
        self.reading(lines);
    }

    /// A panel per model: each strategy's share of connections per worker, the workers ranked
    /// from the fewest to the most, beside the even share (100/n %): a flat line on the even
    /// share is a perfect spread, a line that climbs to the right is an uneven one.
    fn accept_chart(&mut self, groups: &[Group]) {
        let mut panels = Vec::new();
        let mut strategies: Vec<&str> = Vec::new();
        let mut models: Vec<&str> = Vec::new();
        for g in groups {
            if !models.contains(&g.model.as_str()) {
                models.push(&g.model);
            }
        }
        for model in models {
            let mine: Vec<&Group> = groups
                .iter()
                .filter(|g| g.model == model && !g.runs.is_empty() && g.workers > 0)
                .collect();
            let Some(workers) = mine.iter().map(|g| g.workers).max() else {
                continue;
            };
            let mut lines: Vec<Line> = mine
                .iter()
                .map(|g| {
                    if !strategies.contains(&g.strategy.as_str()) {
                        strategies.push(&g.strategy);
                    }
                    let ranked = g.ranked_shares();
                    Line {
                        color: strategy_color(&g.strategy),
                        points: ranked.iter().map(|&(x, y, _, _)| (x, y)).collect(),
                        bars: if g.runs.len() > 1 {
                            ranked.iter().map(|&(x, _, lo, hi)| (x, lo, hi)).collect()
                        } else {
                            Vec::new()
                        },
                        dashed: false,
                    }
                })
                .collect();
            let even = 100.0 / workers as f64;
            lines.push(Line {
                color: EVEN_COLOR,
                points: vec![(0.6, even), (workers as f64 + 0.4, even)],
                bars: Vec::new(),
                dashed: true,
            });
            panels.push(Panel {
                title: format!("{model}: share of connections per {}", mine[0].unit),
                y_desc: "% of connections".into(),
                y_log: false,
                y_fmt: fmt::thousands,
                x: XAxis::Rank(workers),
                lines,
            });
        }
        if panels.is_empty() {
            return;
        }
        let mut legend: Vec<Key> = strategies
            .iter()
            .map(|s| (format!("--accept {s}"), strategy_color(s), false))
            .collect();
        legend.push(("even share (100/n %)".into(), EVEN_COLOR, true));
        let cols = panels.len().min(3);
        self.chart(
            "accept",
            "Each accept strategy's share of connections per worker or loop, workers ranked \
             from the fewest connections to the most, beside the even share"
                .into(),
            &panels,
            cols,
            &legend,
        );
    }

    fn accept_reading(&self, groups: &[Group]) -> Vec<String> {
        let mut models: Vec<&str> = Vec::new();
        for g in groups {
            if !models.contains(&g.model.as_str()) {
                models.push(&g.model);
            }
        }
        let mut lines = Vec::new();
        for model in models {
            let mine: Vec<&Group> = groups
                .iter()
                .filter(|g| g.model == model && !g.runs.is_empty())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let jain = |g: &Group| g.median(|m| m.jain);
            let best = mine
                .iter()
                .map(|g| jain(g))
                .fold(f64::NEG_INFINITY, f64::max);
            let even: Vec<String> = mine
                .iter()
                .filter(|g| best - jain(g) <= JAIN_TIE)
                .map(|g| format!("`{}`", g.strategy))
                .collect();
            let worst = mine
                .iter()
                .min_by(|a, b| jain(a).total_cmp(&jain(b)))
                .expect("not empty");
            let mut line = if even.len() == mine.len() {
                format!(
                    "`{model}`: every strategy spread evenly (Jain within {JAIN_TIE} of {})",
                    jain_text(best)
                )
            } else {
                let ratio = worst.median_ratio();
                let spread = if ratio.is_finite() {
                    format!(
                        "the busiest {} got {} the idlest's connections",
                        worst.unit,
                        ratio_text(ratio)
                    )
                } else {
                    format!("some {}s got no connection at all", worst.unit)
                };
                format!(
                    "`{model}`: {} spread most evenly (Jain {}); `{}` least (Jain {}, {spread})",
                    and_list(&even),
                    jain_text(best),
                    worst.strategy,
                    jain_text(jain(worst)),
                )
            };
            let cpu = |g: &Group| g.median(|m| m.cpu_us);
            let cheapest = mine
                .iter()
                .min_by(|a, b| cpu(a).total_cmp(&cpu(b)))
                .expect("not empty");
            let close: Vec<String> = mine
                .iter()
                .filter(|g| g.strategy != cheapest.strategy)
                .filter(|g| cpu(g) <= cpu(cheapest) * (1.0 + CPU_TIE))
                .map(|g| format!("`{}`", g.strategy))
                .collect();
            line.push_str(&format!(
                ". Cheapest per connection: `{}` ({} µs of server CPU{}",
                cheapest.strategy,
                fmt::fixed(cpu(cheapest), 1),
                if close.is_empty() {
                    String::new()
                } else {
                    format!(", {} within {:.0}%", and_list(&close), CPU_TIE * 100.0)
                }
            ));
            let rps = |g: &Group| g.median(|m| m.rps);
            let most = mine.iter().map(|g| rps(g)).fold(0.0, f64::max);
            let fastest: Vec<String> = mine
                .iter()
                .filter(|g| rps(g) >= most * (1.0 - RPS_TIE))
                .map(|g| format!("`{}`", g.strategy))
                .collect();
            let shared = mine.iter().find(|g| g.strategy == "shared");
            let handoff = mine.iter().find(|g| g.strategy == "handoff");
            if let (Some(s), Some(h)) = (shared, handoff) {
                line.push_str(&format!(
                    "); `handoff` took {} `shared`'s server CPU per connection and served {} \
                     its requests per second",
                    fmt::ratio(cpu(h), cpu(s)),
                    fmt::ratio(h.median(|m| m.rps), s.median(|m| m.rps))
                ));
            } else {
                line.push(')');
            }
            if fastest.len() == mine.len() {
                line.push_str(&format!(
                    "; requests per second within {:.0}% of each other",
                    RPS_TIE * 100.0
                ));
            } else {
                line.push_str(&format!(
                    "; most requests per second: {} ({})",
                    and_list(&fastest),
                    fmt::thousands(most)
                ));
            }
            let runs = mine.iter().map(|g| g.runs.len()).min().unwrap_or(0);
            if runs < 2 {
                line.push_str(
                    " (one run each: cost differences of a few percent are within run-to-run noise)",
                );
            }
            line.push('.');
            lines.push(line);
        }
        lines
    }
}
