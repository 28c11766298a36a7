//! The report's content: seven sections of charts, tables and readings, each reading computed
//! from the measured cells (who led, where a curve broke, by how much).

use crate::chart::{self, Key, Line, Panel, XAxis};
use crate::data::{CellRecord, CellRun, CellStatus, Study};
use crate::doc::{Block, Document};
use crate::fmt;
use crate::measure::{self, bands, curve, fit, largest_measured, ranking};
use crate::stats::Spread;

mod accept;
mod ceilings;
mod environment;
mod failures;
mod faults;
mod rates;
mod resources;
mod slow;
mod speed;
mod timelines;

struct Ctx<'a> {
    s: &'a Study,
    sizes: Vec<u64>,
    blocks: Vec<Block>,
    chart_no: usize,
    /// The series in colour order: the plan's, then (with `--against`) the baseline's others.
    palette: &'a [String],
    /// With `--against`: the baseline's charts, drawn under this run's.
    overlay: Option<&'a Overlay>,
    /// Every chart's name and panels, in order (what an overlay is made of).
    drawn: Vec<(String, Vec<Panel>)>,
}

/// A baseline run's charts, to draw under this run's (`lab report DIR --against OTHER`).
pub struct Overlay {
    /// Names of the two runs, for the legends.
    pub this: String,
    pub base: String,
    /// The baseline's charts: name and panels, in its order.
    pub charts: Vec<(String, Vec<Panel>)>,
}

pub fn build(study: &Study) -> Document {
    run(study, &study.plan.series, None).0
}

/// The charts `study` would draw, with series coloured by `palette` (a baseline's, to overlay).
pub fn charts(study: &Study, palette: &[String]) -> Vec<(String, Vec<Panel>)> {
    run(study, palette, None).1
}

/// The report of `study` with `overlay`'s lines drawn under each of its charts.
pub fn build_overlaid(study: &Study, palette: &[String], overlay: &Overlay) -> Document {
    run(study, palette, Some(overlay)).0
}

/// Each series' sustained open-loop rate as the rates section finds it: (series, the highest
/// rate that held, the lowest that failed), in plan order; empty when the study has no rates
/// experiment. For `lab report --against`.
pub fn knee_brackets(study: &Study) -> Vec<(String, Option<f64>, Option<f64>)> {
    let Some(rp) = study.plan.rates.clone() else {
        return Vec::new();
    };
    let cx = Ctx {
        s: study,
        sizes: Vec::new(),
        blocks: Vec::new(),
        chart_no: 0,
        palette: &study.plan.series,
        overlay: None,
        drawn: Vec::new(),
    };
    cx.knees(&rp)
        .into_iter()
        .map(|k| (k.series, k.held, k.broke))
        .collect()
}

/// The cells of one experiment besides the matrix (`faults`, `accept`, `slow`), as the sections read
/// them.
pub(crate) fn experiment_cells(
    study: &Study,
    experiment: &str,
) -> Vec<(CellRecord, Option<CellRun>)> {
    study
        .experiment(experiment)
        .into_iter()
        .map(|(c, r)| (c.clone(), r.cloned()))
        .collect()
}

pub(crate) use accept::{balances, jain_text, ratio_text as max_min_text, Balance, JAIN_TIE};
pub(crate) use faults::{summaries as fault_summaries, Outcome as FaultOutcome, FAULTS};
pub(crate) use slow::summaries as slow_summaries;

fn run<'a>(
    study: &'a Study,
    palette: &'a [String],
    overlay: Option<&'a Overlay>,
) -> (Document, Vec<(String, Vec<Panel>)>) {
    let mut sizes = study.plan.conns.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut cx = Ctx {
        s: study,
        sizes,
        blocks: Vec::new(),
        chart_no: 0,
        palette,
        overlay,
        drawn: Vec::new(),
    };
    cx.summary();
    cx.models();
    cx.throughput();
    cx.latency();
    cx.rates();
    cx.timelines();
    cx.memory();
    cx.costs();
    cx.errors();
    cx.ceilings();
    cx.faults();
    cx.accept();
    cx.slow_clients();
    cx.handlers();
    cx.environment();
    let p = &study.plan;
    let ok = p
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Ok)
        .count();
    let document = Document {
        title: "http-lab: server models compared".into(),
        subtitle: format!(
            "{} models, {} workloads, {} connection counts, {} s per cell{}: {} of {} runs measured. Run started {}.",
            p.models.len(),
            p.workloads.len(),
            cx.sizes.len(),
            fmt::fixed(p.duration_s, 1),
            if p.repeat > 1 {
                format!(", {} runs each (median and min–max shown)", p.repeat)
            } else {
                String::new()
            },
            ok,
            p.cells.len(),
            p.date
        ),
        blocks: cx.blocks,
    };
    (document, cx.drawn)
}

/// A series' colour: its place in the plan's series, which `lab compare` lists in the lab's
/// registry order (the report names no model itself).
fn series_color(name: &str, plan_series: &[String]) -> usize {
    plan_series.iter().position(|s| s == name).unwrap_or(0)
}

/// How the load generator ran every cell, in words: `one thread, keep-alive, like `wrk -t1``.
fn load_words(l: &crate::data::LoadPlan) -> String {
    let mut text = if l.threads == 1 {
        "one thread, keep-alive".to_string()
    } else {
        format!("{} threads, keep-alive", l.threads)
    };
    if l.pipeline > 1 {
        text.push_str(&format!(
            ", {} requests pipelined on each connection",
            l.pipeline
        ));
    }
    text.push_str(&format!(
        ", a {} timeout per request, like `wrk -t{}`; `lab compare --threads {} --pipeline {}`",
        fmt::latency_us(l.timeout_s * 1e6),
        l.threads,
        l.threads,
        l.pipeline
    ));
    text
}

/// The pids an `--external` server's cells sampled, distinct, in plan order: more than one when
/// the server was restarted and the comparison resumed with its new pid (`--external-pid`).
fn external_pids(study: &Study, e: &lab_schema::External) -> Vec<u32> {
    let mut pids: Vec<u32> = Vec::new();
    for (c, r) in study.plan.cells.iter().zip(&study.runs) {
        let pid = r
            .as_ref()
            .and_then(|r| r.external.as_ref())
            .and_then(|x| x.pid);
        if let (true, Some(pid)) = (c.series == e.name, pid) {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    if pids.is_empty() {
        pids.extend(e.pid);
    }
    pids
}

/// `process 12` or `processes 12 and 34 (restarted during the comparison)`.
fn processes_words(pids: &[u32]) -> String {
    match pids {
        [one] => format!("process {one}"),
        _ => format!(
            "processes {} (restarted during the comparison)",
            and_list(&pids.iter().map(u32::to_string).collect::<Vec<_>>())
        ),
    }
}

/// The `--external` servers in words, for the setup paragraph (empty when there are none).
fn externals_words(study: &Study) -> String {
    study
        .plan
        .externals
        .iter()
        .map(|e| {
            let how = match (&e.command, e.pid) {
                (Some(cmd), _) => format!(
                    "started for each of its cells by `{cmd}` and measured like a model's server"
                ),
                (None, Some(_)) => format!(
                    "already running as {}, whose tree was sampled (its CPU and context \
                     switches counted from the start of each cell's load)",
                    processes_words(&external_pids(study, e))
                ),
                (None, None) => "its memory and CPU not measured (no pid or command given)".into(),
            };
            format!(
                " `{}` is an external server at {}, {how}; it runs only the plaintext workload, \
                 at that URL, and no fault experiment.",
                e.name, e.url
            )
        })
        .collect()
}

/// This run's panels with the baseline's lines of the panel of the same title (a horizontal
/// reference such as an objective is not repeated), the connection sizes of both on the axis,
/// and the legend with any series only the baseline has.
fn overlaid(
    panels: &[Panel],
    base: &[Panel],
    legend: &[Key],
    palette: &[String],
) -> (Vec<Panel>, Vec<Vec<Line>>, Vec<Key>) {
    let mut legend = legend.to_vec();
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for panel in panels {
        let mut panel = panel.clone();
        let theirs: Vec<Line> = base
            .iter()
            .find(|b| b.title == panel.title)
            .map(|b| {
                if let (XAxis::Conns(ours), XAxis::Conns(other)) = (&mut panel.x, &b.x) {
                    ours.extend(other);
                    ours.sort_unstable();
                    ours.dedup();
                }
                b.lines
                    .iter()
                    .filter(|l| !chart::is_reference(l))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for l in &theirs {
            if !legend.iter().any(|k| k.1 == l.color) {
                if let Some(name) = palette.get(l.color) {
                    legend.push((name.clone(), l.color, false));
                }
            }
        }
        out.push(panel);
        lines.push(theirs);
    }
    (out, lines, legend)
}

/// `a`, `a` and `b`, `a`, `b` and `c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// Reads one figure from a run (`None` when it has none to give, e.g. no response).
type Pick = fn(&CellRun) -> Option<f64>;

/// The latency percentiles charted side by side, in milliseconds; a run without a response has
/// none.
const LATENCY_PICKS: [(&str, Pick); 3] = [
    ("p50", |r| {
        measure::answered(r).map(|r| ms(r.load.latency_us.p50 as f64))
    }),
    ("p99", |r| {
        measure::answered(r).map(|r| ms(r.load.latency_us.p99 as f64))
    }),
    ("p99.9", |r| {
        measure::answered(r).map(|r| ms(r.load.latency_us.p999 as f64))
    }),
];

impl Ctx<'_> {
    fn color(&self, series: &str) -> usize {
        series_color(series, self.palette)
    }

    fn legend(&self, series: &[&str]) -> Vec<Key> {
        series
            .iter()
            .map(|s| (s.to_string(), self.color(s), false))
            .collect()
    }

    fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    fn section(&mut self, id: &str, title: &str) {
        self.push(Block::Section {
            id: id.into(),
            title: title.into(),
        });
    }

    fn para(&mut self, text: impl Into<String>) {
        self.push(Block::Para(text.into()));
    }

    fn reading(&mut self, lines: Vec<String>) {
        if !lines.is_empty() {
            self.push(Block::Reading(lines));
        }
    }

    fn chart(&mut self, name: &str, alt: String, panels: &[Panel], cols: usize, legend: &[Key]) {
        self.chart_no += 1;
        // The same chart of the baseline: by name, the n-th of that name if there are several.
        let nth = self.drawn.iter().filter(|(n, _)| n == name).count();
        self.drawn.push((name.to_string(), panels.to_vec()));
        let svg = match self.overlay {
            None => chart::draw(panels, cols, legend),
            Some(o) => {
                let base = o
                    .charts
                    .iter()
                    .filter(|(n, _)| n == name)
                    .nth(nth)
                    .map(|(_, p)| p.as_slice())
                    .unwrap_or(&[]);
                let (panels, lines, legend) = overlaid(panels, base, legend, self.palette);
                chart::draw_overlaid(&panels, &lines, cols, &legend, Some((&o.this, &o.base)))
            }
        };
        self.push(Block::Chart {
            file: format!("{:02}-{name}.svg", self.chart_no),
            alt,
            svg,
        });
    }

    fn workloads(&self) -> Vec<(String, String)> {
        self.s
            .plan
            .workloads
            .iter()
            .map(|w| (w.name.clone(), w.path.clone()))
            .collect()
    }

    /// All series measured on any workload, in plan order.
    fn all_series(&self) -> Vec<String> {
        self.s
            .plan
            .series
            .iter()
            .filter(|s| self.s.plan.cells.iter().any(|c| &c.series == *s))
            .cloned()
            .collect()
    }

    /// One panel: `value` against connections, a line per series.
    /// `y` is the y axis: its unit, whether it is logarithmic, and its label format.
    fn conns_panel(
        &self,
        title: String,
        y: (&str, bool, fn(f64) -> String),
        workload: &str,
        series: &[&str],
        value: impl Fn(&CellRun) -> Option<f64> + Copy,
    ) -> Panel {
        let (y_desc, y_log, y_fmt) = y;
        Panel {
            title,
            y_desc: y_desc.into(),
            y_log,
            y_fmt,
            x: XAxis::Conns(self.sizes.clone()),
            lines: series
                .iter()
                .map(|s| {
                    let b = bands(self.s, workload, s, value);
                    Line {
                        color: self.color(s),
                        points: b.iter().map(|(c, v)| (*c, v.median)).collect(),
                        bars: b
                            .iter()
                            .filter(|(_, v)| v.n > 1)
                            .map(|(c, v)| (*c, v.min, v.max))
                            .collect(),
                        dashed: false,
                    }
                })
                .collect(),
        }
    }

    /// One figure of a cell as a table shows it: the median, with the min–max of the runs when
    /// there were several; `n/a` when no run has it (no response: no latency).
    fn fig(
        &self,
        w: &str,
        s: &str,
        c: u64,
        value: impl Fn(&CellRun) -> Option<f64>,
        f: impl Fn(f64) -> String,
    ) -> String {
        match measure::spread(self.s, w, s, c, value) {
            Some(v) => fmt::spread(&v, f),
            None => "n/a".into(),
        }
    }

    /// Who led on `value` (larger is better) at `conns` on `w`, in sentences. Only cells that
    /// served every connection with at most 1% errors are ranked; a leader is named only when it
    /// is clear of the runner-up's run-to-run noise, else the top results tie; every other cell
    /// is named with what it failed to do.
    /// The throughput reading's caveat at `conns` connections: the ranked series (served every
    /// connection) whose cell had the load generator saturated, so that its figure is a floor on
    /// the server's rate, not the rate.
    fn generator_bound(&self, w: &str, conns: u64) -> Option<String> {
        let bound: Vec<String> = self
            .s
            .series_of(w)
            .into_iter()
            .filter(|s| measure::trouble(self.s, w, s, conns).is_none())
            .filter(|s| {
                self.s
                    .ok(w, s, conns)
                    .and_then(|r| r.load.loader.as_ref())
                    .is_some_and(|l| l.saturated())
            })
            .map(|s| format!("`{s}`"))
            .collect();
        if bound.is_empty() {
            return None;
        }
        let (figures, servers) = if bound.len() == 1 {
            ("that figure is", "a lower bound on what the server")
        } else {
            ("those figures are", "lower bounds on what those servers")
        };
        Some(format!(
            "At {} connections the load generator was busy nearly all the time (on a CPU, or \
             ready and waiting for one, at least {} of the measured time) while loading {}: \
             {figures} what the generator and the CPUs it had could drive, {servers} can do. A \
             quiet machine with the two sides on CPUs apart (`--server-cpus`, `--load-cpus`), \
             or more load-generator `--threads` when a core is spare, would tell.",
            fmt::thousands(conns as f64),
            fmt::percent(lab_schema::Loader::SATURATED),
            and_list(&bound)
        ))
    }

    fn leaders(
        &self,
        w: &str,
        conns: u64,
        value: impl Fn(&CellRun) -> Option<f64>,
        unit: &str,
    ) -> Vec<String> {
        let at = fmt::thousands(conns as f64);
        let num = |v: &Spread| format!("{} {unit}", fmt::thousands(v.median));
        let ranked = measure::ranked(self.s, w, conns, value);
        let (ok, troubled): (Vec<_>, Vec<_>) = ranked
            .into_iter()
            .partition(|(s, _)| measure::trouble(self.s, w, s, conns).is_none());
        let mut lines = Vec::new();
        match ok.as_slice() {
            [] => lines.push(format!(
                "**{w}**: at {at} connections no model served every connection with at most {} errors.",
                fmt::percent(measure::ERROR_LIMIT)
            )),
            [(only, v)] => lines.push(format!(
                "**{w}**: at {at} connections only `{only}` served every connection with at most {} errors: {}.",
                fmt::percent(measure::ERROR_LIMIT),
                num(v)
            )),
            [(a, va), rest @ ..] => {
                let tied: Vec<&(String, Spread)> = rest
                    .iter()
                    .filter(|(_, v)| va.ties(v, measure::SINGLE_RUN_NOISE))
                    .collect();
                if tied.is_empty() {
                    let (b, vb) = &rest[0];
                    lines.push(format!(
                        "**{w}**: at {at} connections `{a}` led with {}, {} the next, `{b}` ({}).",
                        num(va),
                        fmt::ratio(va.median, vb.median),
                        num(vb)
                    ));
                } else {
                    let mut names = vec![format!("`{a}` ({})", num(va))];
                    names.extend(tied.iter().map(|(s, v)| format!("`{s}` ({})", num(v))));
                    lines.push(format!(
                        "**{w}**: at {at} connections {} tied at the top: their difference is within the run-to-run noise{}.",
                        and_list(&names),
                        if va.n >= 3 {
                            " (their 95% intervals overlap)".to_string()
                        } else if va.n == 2 {
                            " (their min–max bands overlap)".to_string()
                        } else {
                            format!(
                                " (one run each: closer than {}; `--repeat 3` measures the noise)",
                                fmt::percent(measure::SINGLE_RUN_NOISE)
                            )
                        }
                    ));
                }
            }
        }
        for (s, v) in troubled {
            if let Some(what) = measure::trouble(self.s, w, &s, conns) {
                let served = if v.median > 0.0 {
                    format!(" ({} for the ones it served)", num(&v))
                } else {
                    String::new()
                };
                lines.push(format!(
                    "`{s}` is not ranked at {at} connections: it {what}{served}."
                ));
            }
        }
        lines
    }

    /// A table: a row per (workload, series), a column per size, `value(workload, series,
    /// conns)` in each cell that has a successful run.
    fn size_table(&self, first: &str, value: impl Fn(&str, &str, u64) -> String) -> Block {
        let mut head = vec!["workload".to_string(), "model".to_string()];
        head.extend(
            self.sizes
                .iter()
                .map(|c| format!("{} {first}", fmt::thousands(*c as f64))),
        );
        let mut rows = Vec::new();
        for (w, _) in self.workloads() {
            for s in self.s.series_of(&w) {
                let mut row = vec![w.clone(), format!("`{s}`")];
                for &c in &self.sizes {
                    row.push(match self.s.cell(&w, s, c) {
                        None => String::new(),
                        Some((cell, run)) => match (cell.status, run) {
                            (CellStatus::Ok, Some(_)) => value(&w, s, c),
                            (CellStatus::Failed, _) => "failed".into(),
                            _ => "not run".into(),
                        },
                    });
                }
                rows.push(row);
            }
        }
        Block::Table { head, rows }
    }

    fn summary(&mut self) {
        self.section("summary", "What was measured");
        let p = &self.s.plan;
        let wl: Vec<String> = p
            .workloads
            .iter()
            .map(|w| {
                if w.about.is_empty() {
                    format!("**{}** `GET {}`", w.name, w.path)
                } else {
                    format!("**{}** `GET {}` ({})", w.name, w.path, w.about)
                }
            })
            .collect();
        let sizes: Vec<String> = self
            .sizes
            .iter()
            .map(|c| fmt::thousands(*c as f64))
            .collect();
        let repeats = if p.repeat > 1 {
            format!(
                " Each cell ran {} times, all runs interleaved in an order shuffled with seed {} \
                 (`lab compare --seed {}` repeats it); every figure is the median of the runs, with \
                 their min–max in brackets and as bars on the charts, and readings compare {}.",
                p.repeat,
                p.seed,
                p.seed,
                if p.repeat >= 3 {
                    "bootstrap 95% intervals of the medians (2,000 resamples, seeded from the cell's name)"
                } else {
                    "the min–max bands"
                }
            )
        } else {
            format!(
                " Each cell ran once, so run-to-run noise is not measured: results closer than {} \
                 are called a tie (`--repeat 3` measures it).",
                fmt::percent(measure::SINGLE_RUN_NOISE)
            )
        };
        let text = format!(
            "Every cell of the matrix is one `lab run`: the model is started as a child process \
             (`lab serve --addr 127.0.0.1:0`), loaded by the closed-loop load generator ({load}) \
             with a fixed number of connections for {d} s after a warm-up \
             in which every connection opens, while the server's whole process tree is sampled from \
             `/proc` every 200 ms. Cells run one at a time with a {pause} s pause between them. \
             Workloads: {wl}. Connections: {sizes}. Series: {series}{variants}.{externals}{repeats} \
             A model is named a leader only if it served every connection (none starved) with at \
             most {limit} of attempts failing.",
            limit = fmt::percent(measure::ERROR_LIMIT),
            load = load_words(&p.load),
            externals = externals_words(self.s),
            variants = p
                .variants
                .iter()
                .filter_map(|(label, flags)| {
                    let (base, _) = label.split_once('+')?;
                    Some(format!("; `{label}` is `{base}` with `{}`", flags.join(" ")))
                })
                .collect::<String>(),
            d = fmt::fixed(p.duration_s, 1),
            pause = fmt::fixed(p.pause_s, 1),
            wl = and_list(&wl),
            sizes = and_list(&sizes),
            series = and_list(
                &self
                    .all_series()
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
            ),
        );
        self.para(text);
        let mut lines = Vec::new();
        for (w, _) in self.workloads() {
            let Some(top) = largest_measured(self.s, &w) else {
                lines.push(format!("**{w}**: no cell was measured."));
                continue;
            };
            lines.extend(self.leaders(&w, top, |r| Some(r.load.throughput_rps), "req/s"));
            lines.extend(self.generator_bound(&w, top));
            let worst_p99 = measure::ranked(self.s, &w, top, |r| {
                measure::answered(r).map(|r| r.load.latency_us.p99 as f64)
            });
            if let Some((slow, p99)) = worst_p99.first() {
                lines.push(format!(
                    "The worst p99 at {} connections was `{slow}`'s, {}.",
                    fmt::thousands(top as f64),
                    fmt::latency_us(p99.median)
                ));
            }
        }
        let failed = p
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::Failed)
            .count();
        let pending = p
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::Pending)
            .count();
        if failed > 0 {
            lines.push(format!(
                "{failed} {} failed (section 5 says how and why).",
                if failed == 1 { "cell" } else { "cells" }
            ));
        }
        if pending > 0 {
            lines.push(format!(
                "{pending} cells were not run (the comparison was interrupted)."
            ));
        }
        if p.interrupted {
            lines.push(format!(
                "The comparison was interrupted after {} s of about {} s.",
                fmt::fixed(p.elapsed_s, 1),
                fmt::fixed(p.planned_s, 0)
            ));
        }
        lines.extend(self.rates_summary());
        self.reading(lines);
    }

    fn models(&mut self) {
        self.section("models", "The models");
        self.para(
            "Each model's description is the opening of its crate's documentation \
             (`servers/<model>/src/lib.rs`); below it, that model's results in this run.",
        );
        let models = self.s.plan.models.clone();
        for m in models {
            let doc = crate::model_doc(&m);
            let mut results = Vec::new();
            let mut own: Vec<String> = vec![m.clone()];
            own.extend(
                self.s
                    .plan
                    .series
                    .iter()
                    .filter(|s| {
                        s.strip_prefix(m.as_str())
                            .is_some_and(|r| r.starts_with('+') || r.starts_with(' '))
                    })
                    .cloned(),
            );
            for series in own {
                for (w, _) in self.workloads() {
                    let pts = curve(self.s, &w, &series, |r| Some(r.load.throughput_rps));
                    let Some(best) = pts.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)) else {
                        continue;
                    };
                    let name = match series.strip_prefix(m.as_str()) {
                        Some(rest) if !rest.is_empty() => {
                            format!("{w}, {}", rest.trim_start_matches('+').trim())
                        }
                        _ => w.clone(),
                    };
                    let mut line = format!(
                        "**{name}**: best {} req/s (at {} connections)",
                        fmt::thousands(best.1),
                        fmt::thousands(best.0)
                    );
                    let failed: Vec<String> = self
                        .s
                        .plan
                        .cells
                        .iter()
                        .filter(|c| {
                            c.workload == w && c.series == series && c.status == CellStatus::Failed
                        })
                        .map(|c| fmt::thousands(c.conns as f64))
                        .collect();
                    let mut failed = failed;
                    failed.dedup();
                    if !failed.is_empty() {
                        line.push_str(&format!("; failed at {}", and_list(&failed)));
                    }
                    results.push(line);
                }
            }
            let (title, paragraph, tradeoffs) = match doc {
                Some(d) => (
                    d.title.to_string(),
                    d.paragraph.to_string(),
                    d.tradeoffs.iter().map(|t| t.to_string()).collect(),
                ),
                None => (String::new(), String::new(), Vec::new()),
            };
            self.push(Block::Model {
                color: chart::color_hex(self.color(&m)),
                name: m,
                title,
                paragraph,
                tradeoffs,
                results,
            });
        }
        for e in self.s.plan.externals.clone() {
            let mut results = Vec::new();
            for (w, _) in self.workloads() {
                let pts = curve(self.s, &w, &e.name, |r| Some(r.load.throughput_rps));
                if let Some(best) = pts.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)) {
                    results.push(format!(
                        "**{w}**: best {} req/s (at {} connections)",
                        fmt::thousands(best.1),
                        fmt::thousands(best.0)
                    ));
                }
            }
            let how = match (&e.command, e.pid) {
                (Some(cmd), _) => format!("The lab started it for each cell with `{cmd}`, measured its process tree like a model's and stopped it after."),
                (None, Some(_)) => format!("It ran as {}; the lab sampled its process tree during each cell.", processes_words(&external_pids(self.s, &e))),
                (None, None) => "Its memory and CPU were not measured: the lab did not know its process (`--external-pid` or `--external-cmd` measures it).".into(),
            };
            self.push(Block::Model {
                color: chart::color_hex(self.color(&e.name)),
                name: e.name.clone(),
                title: "An external server, a baseline".into(),
                paragraph: format!(
                    "Not one of the lab's models: a server given by its URL, {}, loaded by the \
                     same load generator in the plaintext workload. {how}",
                    e.url
                ),
                tradeoffs: Vec::new(),
                results,
            });
        }
    }
}
