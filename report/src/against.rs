//! `lab report DIR --against OTHER`: this run's report with a baseline run overlaid, so that a
//! student shows what a change did. Every chart draws the baseline's lines (dashed, lighter,
//! hollow markers) under this run's; a section after the summary gives, per series × workload ×
//! connections, this run's figure over the baseline's for throughput, p99 and CPU per request,
//! says which changed beyond the run-to-run noise (when both runs measured it, `--repeat 3` or
//! more), lists the cells only one run has, and warns when the runs differ in how they were
//! measured (machine, build, transport, CPU pinning, duration, load flags). Where both runs ran
//! them, it sets the experiments besides the matrix side by side too: each series' sustained rate
//! (`rates`), each model's fate and losses under the faults and what each fault brought back
//! (`faults`), and each model and strategy's spread of connections over its workers (`accept`).
//! A figure is called higher or lower only when the two runs' brackets or spreads do not overlap.
//!
//! The files go to `DIR/against/` (`index.html`, `report.md`, `charts/*.svg`), beside the plain
//! report, which stays as `lab compare` wrote it. Like the plain report, the render is a pure
//! function of the two folders' JSON (and the two names given): the same bytes every time.

use crate::data::{CellRun, CellStatus, Study};
use crate::doc::{Block, Document};
use crate::fmt;
use crate::measure;
use crate::sections::{self, Overlay};
use crate::stats::Spread;
use std::path::Path;

/// The folder, inside this run's, that the overlaid report is written to.
pub const AGAINST_DIR: &str = "against";

/// A figure compared between the runs: its name, its unit, larger is better, how to read it
/// from a run, how to print it.
struct Figure {
    name: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    pick: fn(&CellRun) -> Option<f64>,
    show: fn(f64) -> String,
}

const FIGURES: [Figure; 3] = [
    Figure {
        name: "throughput",
        unit: "req/s",
        higher_is_better: true,
        pick: |r| Some(r.load.throughput_rps),
        show: fmt::thousands,
    },
    Figure {
        name: "p99",
        unit: "",
        higher_is_better: false,
        pick: |r| measure::answered(r).map(|r| r.load.latency_us.p99 as f64),
        show: fmt::latency_us,
    },
    Figure {
        name: "CPU per request",
        unit: "µs",
        higher_is_better: false,
        pick: measure::cpu_us_per_request,
        show: |v| fmt::fixed(v, 1),
    },
];

/// Runs per cell that the noise call needs in both runs: with fewer, the interval is not there.
const RUNS_FOR_NOISE: usize = 3;

/// The report files of `this` against `base`, as (path relative to `DIR/against`, contents).
/// `names` are how the legends and text call the two runs.
pub fn render(this: &Study, base: &Study, names: (&str, &str)) -> Vec<(String, Vec<u8>)> {
    let document = build(this, base, names);
    let mut files = vec![
        ("index.html".to_string(), document.to_html().into_bytes()),
        ("report.md".to_string(), document.to_markdown().into_bytes()),
    ];
    for (name, svg) in document.charts() {
        files.push((format!("charts/{name}"), svg.as_bytes().to_vec()));
    }
    files
}

/// Reads `dir` and `other`, renders the overlaid report and writes it into `dir/against/`.
/// Returns the paths written, relative to `dir`.
pub fn write(dir: &Path, other: &Path) -> Result<Vec<String>, String> {
    let this = Study::load(dir)?;
    let base = Study::load(other)?;
    let (a, b) = names(dir, other);
    let files = render(&this, &base, (&a, &b));
    let written = crate::write_files(&dir.join(AGAINST_DIR), files)?;
    Ok(written
        .into_iter()
        .map(|f| format!("{AGAINST_DIR}/{f}"))
        .collect())
}

/// The runs' names: their folders' last components, or the paths as given when those are equal.
fn names(dir: &Path, other: &Path) -> (String, String) {
    let last = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let (a, b) = (last(dir), last(other));
    if a == b {
        (dir.display().to_string(), other.display().to_string())
    } else {
        (a, b)
    }
}

/// The series in colour order: this run's, then the baseline's others.
fn palette(this: &Study, base: &Study) -> Vec<String> {
    let mut p = this.plan.series.clone();
    for s in &base.plan.series {
        if !p.contains(s) {
            p.push(s.clone());
        }
    }
    p
}

fn build(this: &Study, base: &Study, (a, b): (&str, &str)) -> Document {
    let palette = palette(this, base);
    let overlay = Overlay {
        this: a.to_string(),
        base: b.to_string(),
        charts: sections::charts(base, &palette),
    };
    let mut doc = sections::build_overlaid(this, &palette, &overlay);
    doc.title = format!("http-lab: {a} against {b}");
    doc.subtitle = format!(
        "This run `{a}` (solid lines, filled markers) against the baseline `{b}` (dashed, lighter, \
         hollow markers) on every chart. This run: {}",
        doc.subtitle
    );
    // After the summary, before the models.
    let at = doc
        .blocks
        .iter()
        .position(|b| matches!(b, Block::Section { id, .. } if id == "models"))
        .unwrap_or(doc.blocks.len());
    let blocks = comparison(this, base, (a, b));
    doc.blocks.splice(at..at, blocks);
    doc
}

/// A matrix cell: workload, series, connections.
type Key = (String, String, u64);

/// The matrix cells of a study, in plan order, once each.
fn keys(s: &Study) -> Vec<Key> {
    let mut out: Vec<Key> = Vec::new();
    for c in s.plan.cells.iter().filter(|c| c.experiment.is_empty()) {
        let k = (c.workload.clone(), c.series.clone(), c.conns);
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// How a cell fared in a run: measured, failed in every run, or not run.
fn state(s: &Study, (w, series, c): &Key) -> &'static str {
    let records = s.records(w, series, *c);
    if records
        .iter()
        .any(|(r, run)| r.status == CellStatus::Ok && run.is_some())
    {
        "measured"
    } else if records.iter().any(|(r, _)| r.status == CellStatus::Failed) {
        "failed"
    } else {
        "not run"
    }
}

/// This run's figure over the baseline's, both measured.
struct Ratio {
    this: Spread,
    base: Spread,
}

impl Ratio {
    fn value(&self) -> f64 {
        if self.base.median > 0.0 {
            self.this.median / self.base.median
        } else {
            f64::NAN
        }
    }

    /// `Some(true)`: beyond the noise (the intervals do not overlap); `Some(false)`: within it;
    /// `None`: a run has too few repetitions to say.
    fn changed(&self) -> Option<bool> {
        (self.this.n >= RUNS_FOR_NOISE && self.base.n >= RUNS_FOR_NOISE)
            .then(|| !self.this.ties(&self.base, measure::SINGLE_RUN_NOISE))
    }
}

fn ratio_text(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}x")
    } else {
        "n/a".into()
    }
}

fn comparison(this: &Study, base: &Study, (a, b): (&str, &str)) -> Vec<Block> {
    let mut blocks = vec![Block::Section {
        id: "against".into(),
        title: "Against the baseline".into(),
    }];
    let runs_text = |s: &Study| {
        if s.plan.repeat > 1 {
            format!("{} runs per cell", s.plan.repeat)
        } else {
            "one run per cell".to_string()
        }
    };
    blocks.push(Block::Para(format!(
        "This run `{a}` (started {}, {}) against the baseline `{b}` (started {}, {}). Each ratio \
         is this run's median over the baseline's, for every cell (workload × model × \
         connections) measured in both. A change is called beyond the noise when both runs \
         measured the cell {RUNS_FOR_NOISE} times or more (`--repeat {RUNS_FOR_NOISE}`) and the \
         bootstrap 95% intervals of the two medians do not overlap; within the noise when they \
         do. With fewer runs the noise is not measured and no ratio can be called either way.",
        this.plan.date,
        runs_text(this),
        base.plan.date,
        runs_text(base),
    )));
    let warnings = differences(this, base);
    if !warnings.is_empty() {
        blocks.push(Block::Para(format!(
            "**Warning**: the two runs were not measured alike, so a ratio mixes the change with \
             that difference: {}.",
            warnings.join("; ")
        )));
    }
    let ours = keys(this);
    let theirs = keys(base);
    let both: Vec<&Key> = ours.iter().filter(|k| theirs.contains(k)).collect();
    let mut head: Vec<String> = vec!["workload".into(), "model".into(), "conns".into()];
    for f in &FIGURES {
        let unit = if f.unit.is_empty() {
            String::new()
        } else {
            format!(", {}", f.unit)
        };
        head.push(format!("{}{unit}: this", f.name));
        head.push("baseline".into());
        head.push("ratio".into());
    }
    let mut rows = Vec::new();
    // Per figure: every ratio measured in both, with its key.
    let mut ratios: Vec<Vec<(&Key, Ratio)>> = FIGURES.iter().map(|_| Vec::new()).collect();
    for k in &both {
        let (w, s, c) = k;
        let mut row = vec![w.clone(), format!("`{s}`"), fmt::thousands(*c as f64)];
        let (st_this, st_base) = (state(this, k), state(base, k));
        for (i, f) in FIGURES.iter().enumerate() {
            let get = |study: &Study, st: &str| match st {
                "measured" => measure::spread(study, w, s, *c, f.pick),
                _ => None,
            };
            let (x, y) = (get(this, st_this), get(base, st_base));
            // Medians only: the runs' spread is in each run's own report, and the ratio's
            // call (changed or noise) says what it means here.
            let show = |v: &Option<Spread>, st: &str| match v {
                Some(v) => (f.show)(v.median),
                None if st == "measured" => "n/a".into(),
                None => st.to_string(),
            };
            row.push(show(&x, st_this));
            row.push(show(&y, st_base));
            row.push(match (x, y) {
                (Some(x), Some(y)) => {
                    let r = Ratio { this: x, base: y };
                    let text = ratio_text(r.value());
                    let cell = match r.changed() {
                        Some(true) => format!("**{text}** (changed)"),
                        Some(false) => format!("{text} (noise)"),
                        None => text,
                    };
                    if r.value().is_finite() {
                        ratios[i].push((*k, r));
                    }
                    cell
                }
                _ => "n/a".into(),
            });
        }
        rows.push(row);
    }
    if rows.is_empty() {
        blocks.push(Block::Para(
            "No cell (workload, model, connections) was measured in both runs: there is nothing \
             to divide."
                .into(),
        ));
    } else {
        blocks.push(Block::Table { head, rows });
    }
    blocks.push(Block::Reading(reading(&ratios, this, base)));
    blocks.extend(knees(this, base));
    blocks.extend(faults(this, base));
    blocks.extend(accept(this, base));
    blocks.extend(slow_clients(this, base));
    // Cells only one run has: listed, never dropped in silence.
    let only: Vec<Vec<String>> = ours
        .iter()
        .filter(|k| !theirs.contains(k))
        .map(|k| (k, format!("this run only ({})", state(this, k))))
        .chain(
            theirs
                .iter()
                .filter(|k| !ours.contains(k))
                .map(|k| (k, format!("baseline only ({})", state(base, k)))),
        )
        .map(|((w, s, c), which)| {
            vec![
                w.clone(),
                format!("`{s}`"),
                fmt::thousands(*c as f64),
                which,
            ]
        })
        .collect();
    let experiments = experiments_in_one(this, base);
    if !only.is_empty() || !experiments.is_empty() {
        blocks.push(Block::Subheading("In only one of the runs".into()));
        if !only.is_empty() {
            blocks.push(Block::Para(format!(
                "{} {} of the matrix {} in only one run, so {} no ratio:",
                only.len(),
                if only.len() == 1 { "cell" } else { "cells" },
                if only.len() == 1 { "is" } else { "are" },
                if only.len() == 1 {
                    "it has"
                } else {
                    "they have"
                },
            )));
            blocks.push(Block::Table {
                head: vec![
                    "workload".into(),
                    "model".into(),
                    "conns".into(),
                    "measured in".into(),
                ],
                rows: only,
            });
        }
        if !experiments.is_empty() {
            blocks.push(Block::Reading(experiments));
        }
    }
    blocks
}

/// The sustained open-loop rate of each series in both runs (the rates experiment's knees): a
/// table and a reading. A knee is a bracket (the highest rate that held, the lowest that failed),
/// so a ratio is called a change only when the brackets do not overlap.
fn knees(this: &Study, base: &Study) -> Vec<Block> {
    let (ours, theirs) = (sections::knee_brackets(this), sections::knee_brackets(base));
    if ours.is_empty() || theirs.is_empty() {
        return Vec::new();
    }
    let bracket = |held: Option<f64>, broke: Option<f64>| match (held, broke) {
        (Some(h), Some(b)) => format!("{}–{}", fmt::thousands(h), fmt::thousands(b)),
        (Some(h), None) => format!("≥ {}", fmt::thousands(h)),
        (None, Some(b)) => format!("none (< {})", fmt::thousands(b)),
        (None, None) => "not measured".into(),
    };
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (series, held, broke) in &ours {
        let Some((_, b_held, b_broke)) = theirs.iter().find(|(s, _, _)| s == series) else {
            continue;
        };
        let ratio = match (held, b_held) {
            (Some(x), Some(y)) if *y > 0.0 => x / y,
            _ => f64::NAN,
        };
        // Brackets [held, broke) that do not overlap: one run held where the other failed.
        let up = matches!((held, b_broke), (Some(h), Some(b)) if h >= b);
        let down = matches!((broke, b_held), (Some(b), Some(h)) if *b <= *h);
        let call = if up {
            "higher (it held where the baseline failed)"
        } else if down {
            "lower (it failed where the baseline held)"
        } else {
            "within the brackets"
        };
        rows.push(vec![
            format!("`{series}`"),
            bracket(*held, *broke),
            bracket(*b_held, *b_broke),
            ratio_text(ratio),
            call.to_string(),
        ]);
        if up || down {
            lines.push(format!(
                "`{series}`: sustained rate {} in this run, {} in the baseline: {call}.",
                bracket(*held, *broke),
                bracket(*b_held, *b_broke)
            ));
        }
    }
    if rows.is_empty() {
        return Vec::new();
    }
    let moved = lines.len();
    let runs = |s: &Study| match s.plan.repeat {
        0 | 1 => "one run".to_string(),
        n => format!("the majority of {n} runs"),
    };
    lines.push(format!(
        "{moved} of the {} series measured in both runs moved beyond their brackets; a ratio \
         inside them is the search's resolution, not a change. Each step's verdict is {} here \
         and {} in the baseline: a series whose brackets only touch differs at one step, which \
         {}.",
        rows.len(),
        runs(this),
        runs(base),
        if this.plan.repeat >= 3 && base.plan.repeat >= 3 {
            "is a difference to check again rather than a proven one"
        } else {
            "one run each can flip on noise alone (`--repeat 3` for both runs)"
        }
    ));
    vec![
        Block::Subheading("Sustained rate (the rates experiment's knee)".into()),
        Block::Para(
            "Per series, the open-loop rate each run sustained with its latency objective met: \
             the highest offered rate that held and the lowest that failed (req/s), and the \
             ratio of the rates that held."
                .into(),
        ),
        Block::Table {
            head: vec![
                "series".into(),
                "this run (held–failed)".into(),
                "baseline (held–failed)".into(),
                "ratio of held".into(),
                "reading".into(),
            ],
            rows,
        },
        Block::Reading(lines),
    ]
}

/// A count over a series' runs in both studies (lost requests, broken connections), as a
/// ratio's call reads it: higher or lower only when both runs measured it [`RUNS_FOR_NOISE`]
/// times or more and the 95% intervals of the medians do not overlap.
fn count_call(this: &Spread, base: &Spread) -> &'static str {
    let r = Ratio {
        this: *this,
        base: *base,
    };
    match r.changed() {
        Some(true) if this.median > base.median => "higher",
        Some(true) => "lower",
        Some(false) => "within the noise",
        None => "not called (fewer than 3 runs)",
    }
}

/// The faults experiment in both runs: per model, its fate, the load's losses and what each
/// fault brought back, this run's against the baseline's.
fn faults(this: &Study, base: &Study) -> Vec<Block> {
    let (ours, theirs) = (
        sections::experiment_cells(this, "faults"),
        sections::experiment_cells(base, "faults"),
    );
    let (ours, theirs) = (
        sections::fault_summaries(&ours),
        sections::fault_summaries(&theirs),
    );
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let (mut compared, mut moved) = (0, 0);
    let mut few_runs = false;
    for x in &ours {
        let Some(y) = theirs.iter().find(|y| y.series == x.series) else {
            continue;
        };
        compared += 1;
        let name = format!("`{}`", x.series);
        let (a, b) = match (&x.outcome, &y.outcome) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let why = |o: &Result<sections::FaultOutcome, String>| match o {
                    Ok(o) => o.fate.clone(),
                    Err(why) => why.clone(),
                };
                rows.push(vec![
                    name,
                    "outcome".into(),
                    why(a),
                    why(b),
                    "n/a (not measured in both)".into(),
                ]);
                continue;
            }
        };
        // Fate: survived every run, died in every run, or some of each.
        let all = |o: &sections::FaultOutcome| o.survived == o.measured;
        let none = |o: &sections::FaultOutcome| o.survived == 0;
        let before = lines.len();
        let fate = match (all(a), all(b)) {
            (true, true) => "same (survived)".to_string(),
            _ if none(a) && none(b) => "same (died)".to_string(),
            (true, false) if none(b) => {
                lines.push(format!(
                    "{name} survived the faults in this run and died in the baseline."
                ));
                "better: survived here, died in the baseline".into()
            }
            (false, true) if none(a) => {
                lines.push(format!(
                    "{name} died under the faults in this run and survived them in the baseline."
                ));
                "worse: died here, survived in the baseline".into()
            }
            _ => {
                lines.push(format!(
                    "{name} survived {} of {} runs here and {} of {} in the baseline.",
                    a.survived, a.measured, b.survived, b.measured
                ));
                format!(
                    "survived {} of {} here, {} of {} in the baseline",
                    a.survived, a.measured, b.survived, b.measured
                )
            }
        };
        rows.push(vec![
            name.clone(),
            "outcome".into(),
            a.fate.clone(),
            b.fate.clone(),
            fate,
        ]);
        // Counts: a death turns the rest of the run into refused attempts, not comparable.
        for (what, text, spread) in [
            (
                "lost requests",
                (&a.lost_text, &b.lost_text),
                (&a.lost, &b.lost),
            ),
            (
                "broken connections",
                (&a.broken_text, &b.broken_text),
                (&a.broken, &b.broken),
            ),
        ] {
            let call = match spread {
                _ if !all(a) || !all(b) => "n/a (the server died)",
                (Some(x), Some(y)) => {
                    few_runs |= x.n < RUNS_FOR_NOISE || y.n < RUNS_FOR_NOISE;
                    let call = count_call(x, y);
                    if matches!(call, "higher" | "lower") {
                        lines.push(format!(
                            "{name}: {what} {call} than in the baseline ({} against {}; the 95% \
                             intervals of the medians do not overlap).",
                            text.0, text.1
                        ));
                    }
                    call
                }
                _ => "n/a",
            };
            rows.push(vec![
                name.clone(),
                what.into(),
                text.0.clone(),
                text.1.clone(),
                call.into(),
            ]);
        }
        if lines.len() > before {
            moved += 1;
        }
        for (i, (_, heading)) in sections::FAULTS.iter().enumerate() {
            let cell = |o: &sections::FaultOutcome| match o.back[i].as_str() {
                "—" => o.came_back[i].clone(),
                "died" => format!("{}; died", o.came_back[i]),
                back => format!("{}; back after {back}", o.came_back[i]),
            };
            let same = a.came_back[i] == b.came_back[i];
            rows.push(vec![
                name.clone(),
                heading.to_string(),
                cell(a),
                cell(b),
                if same { "same" } else { "differs" }.into(),
            ]);
        }
    }
    if rows.is_empty() {
        return Vec::new();
    }
    lines.push(format!(
        "{moved} of the {compared} models measured in both runs changed beyond the noise \
         (survival, lost requests or broken connections)."
    ));
    if few_runs {
        lines.push(format!(
            "Lost requests and broken connections are not called higher or lower here: that \
             takes {RUNS_FOR_NOISE} runs or more of each model in both runs (`--repeat \
             {RUNS_FOR_NOISE}`); one run's counts move with the load's timing."
        ));
    }
    vec![
        Block::Subheading("Fault isolation".into()),
        Block::Para(format!(
            "Per model, how the faults experiment went in each run: the outcome, the load's \
             requests that got no response and its connections broken (medians and min–max \
             over the runs), and for each fault what came back and how long throughput took \
             to be back (in the run of median losses, as the faults section shows it). A \
             difference in survival is always named; a count is called higher or lower \
             only when both runs measured it {RUNS_FOR_NOISE} times or more and the 95% \
             intervals of the medians do not overlap; what a fault brought back is the same \
             or differs."
        )),
        Block::Table {
            head: vec![
                "model".into(),
                "measure".into(),
                "this run".into(),
                "baseline".into(),
                "reading".into(),
            ],
            rows,
        },
        Block::Reading(lines),
    ]
}

/// The slow-clients experiment in both runs: per model, whether it held against the attack,
/// was slowed or exhausted, this run's against the baseline's.
fn slow_clients(this: &Study, base: &Study) -> Vec<Block> {
    let (ours, theirs) = (
        sections::slow_summaries(&sections::experiment_cells(this, "slow")),
        sections::slow_summaries(&sections::experiment_cells(base, "slow")),
    );
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for x in &ours {
        let Some(y) = theirs.iter().find(|y| y.series == x.series) else {
            continue;
        };
        let name = format!("`{}`", x.series);
        let text = |o: &Result<(&str, u8, String), String>| match o {
            Ok((_, _, t)) => t.clone(),
            Err(why) => why.clone(),
        };
        let call = match (&x.outcome, &y.outcome) {
            // An attack that did not get in shows nothing to compare.
            (Ok((a, _, _)), Ok((b, _, _))) if *a == "not attacked" || *b == "not attacked" => {
                format!("n/a ({a} here, {b} in the baseline)")
            }
            (Ok((a, ra, _)), Ok((b, rb, _))) if ra == rb => format!("same ({a})"),
            (Ok((a, ra, _)), Ok((b, rb, _))) => {
                let call = if ra > rb { "better" } else { "worse" };
                lines.push(format!(
                    "{name} fared {call} against the slow clients in this run: {a} here, {b} in \
                     the baseline."
                ));
                format!("{call}: {a} here, {b} in the baseline")
            }
            _ => "n/a (not measured in both)".into(),
        };
        rows.push(vec![name, text(&x.outcome), text(&y.outcome), call]);
    }
    if rows.is_empty() {
        return Vec::new();
    }
    if lines.is_empty() {
        lines.push(
            "Every model measured in both runs fared the same against the slow clients (held, \
             slowed or exhausted)."
                .into(),
        );
    }
    vec![
        Block::Subheading("Slow clients".into()),
        Block::Para(
            "Per model, how it fared under the slow clients' attack in each run, as the \
             slow-clients section says it: *held* (every good connection served, few errors, at \
             least half its calm throughput), *slowed* (every good connection served, but not \
             so) or *exhausted* (good connections starved). A change of verdict is named; the \
             throughput is one run's and moves with the machine's load."
                .into(),
        ),
        Block::Table {
            head: vec![
                "model".into(),
                "this run".into(),
                "baseline".into(),
                "reading".into(),
            ],
            rows,
        },
        Block::Reading(lines),
    ]
}

/// The accept experiment in both runs: per model and strategy, how evenly the connections were
/// shared out (max/min and Jain's index), this run's against the baseline's. Jain's index is
/// called more or less even only when the two runs' spreads do not overlap.
fn accept(this: &Study, base: &Study) -> Vec<Block> {
    let (ours, theirs) = (
        sections::experiment_cells(this, "accept"),
        sections::experiment_cells(base, "accept"),
    );
    let (ours, theirs) = (sections::balances(&ours), sections::balances(&theirs));
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut single = false;
    for x in &ours {
        let Some(y) = theirs
            .iter()
            .find(|y| y.model == x.model && y.strategy == x.strategy)
        else {
            continue;
        };
        let ratio = |b: &sections::Balance| {
            if b.runs == 0 {
                "no run measured".to_string()
            } else {
                sections::max_min_text(b.max_min)
            }
        };
        let jain = |b: &sections::Balance| {
            b.jain
                .map_or("n/a".to_string(), |s| fmt::spread(&s, sections::jain_text))
        };
        let call = match (&x.jain, &y.jain) {
            (Some(j), Some(k)) => {
                single |= j.n < 2 || k.n < 2;
                if j.ties(k, sections::JAIN_TIE) {
                    "as even (the spreads overlap)".to_string()
                } else if (j.median - k.median).abs() <= sections::JAIN_TIE {
                    // The accept section's own tie: indexes this close are called even.
                    format!("as even (within {})", sections::JAIN_TIE)
                } else {
                    let more = j.median > k.median;
                    lines.push(format!(
                        "`{}` with `--accept {}` spread its connections {} evenly than in the \
                         baseline: Jain {} against {}, max/min {} against {}.",
                        x.model,
                        x.strategy,
                        if more { "more" } else { "less" },
                        jain(x),
                        jain(y),
                        ratio(x),
                        ratio(y)
                    ));
                    if more { "more even" } else { "less even" }.to_string()
                }
            }
            _ => "n/a".to_string(),
        };
        rows.push(vec![
            format!("`{}`", x.model),
            format!("`{}`", x.strategy),
            ratio(x),
            ratio(y),
            jain(x),
            jain(y),
            call,
        ]);
    }
    if rows.is_empty() {
        return Vec::new();
    }
    lines.push(format!(
        "{} of the {} strategies measured in both runs moved beyond their spread.",
        lines.len(),
        rows.len()
    ));
    if single {
        lines.push(
            "Some strategies were measured once in one of the runs: one run has no spread, so \
             a difference there can be run-to-run noise (`--repeat 3` for both runs gives each \
             a spread)."
                .to_string(),
        );
    }
    vec![
        Block::Subheading("Accept spread".into()),
        Block::Para(format!(
            "Per model and accept strategy, how evenly each run shared its connections out over \
             the workers (or loops), as the accept section measures it: the busiest worker's \
             connections over the idlest's (max/min, the median over the runs; ∞ when one got \
             none) and Jain's fairness index (1: even; 1/n: one got all; median and min–max). \
             A strategy is called more or less even only when the Jain indexes' spreads do not \
             overlap (the 95% interval of the median with 3 runs or more, else min–max) and \
             their medians are more than {tie} apart (the accept section calls indexes closer \
             than that even).",
            tie = sections::JAIN_TIE
        )),
        Block::Table {
            head: vec![
                "model".into(),
                "--accept".into(),
                "max/min: this".into(),
                "baseline".into(),
                "Jain: this".into(),
                "baseline".into(),
                "reading".into(),
            ],
            rows,
        },
        Block::Reading(lines),
    ]
}

/// What the ratios say: per figure, the geometric mean and range over the cells, then which
/// changed beyond the noise (or that the noise was not measured), largest first.
fn reading(ratios: &[Vec<(&Key, Ratio)>], this: &Study, base: &Study) -> Vec<String> {
    let mut lines = Vec::new();
    for (f, rs) in FIGURES.iter().zip(ratios) {
        if rs.is_empty() {
            continue;
        }
        let logs: Vec<f64> = rs
            .iter()
            .map(|(_, r)| r.value())
            .filter(|v| *v > 0.0)
            .map(f64::ln)
            .collect();
        if logs.is_empty() {
            continue;
        }
        let mean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
        let lo = logs.iter().copied().fold(f64::INFINITY, f64::min).exp();
        let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max).exp();
        let better = if f.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        lines.push(format!(
            "**{}** ({better}): over the {} {} measured in both runs, this run's was {} the \
             baseline's (geometric mean of the ratios; from {} to {}).",
            f.name,
            logs.len(),
            if logs.len() == 1 { "cell" } else { "cells" },
            ratio_text(mean),
            ratio_text(lo),
            ratio_text(hi),
        ));
    }
    let all: Vec<(&Figure, &Key, &Ratio)> = FIGURES
        .iter()
        .zip(ratios)
        .flat_map(|(f, rs)| rs.iter().map(move |(k, r)| (f, *k, r)))
        .collect();
    if all.is_empty() {
        return lines;
    }
    let tested: Vec<&(&Figure, &Key, &Ratio)> = all
        .iter()
        .filter(|(_, _, r)| r.changed().is_some())
        .collect();
    let mut changed: Vec<&(&Figure, &Key, &Ratio)> = tested
        .iter()
        .copied()
        .filter(|(_, _, r)| r.changed() == Some(true))
        .collect();
    changed.sort_by(|x, y| {
        x.2.value()
            .ln()
            .abs()
            .total_cmp(&y.2.value().ln().abs())
            .reverse()
    });
    let describe = |(f, (w, s, c), r): &(&Figure, &Key, &Ratio)| {
        let up = r.value() > 1.0;
        let verdict = if up == f.higher_is_better {
            "better"
        } else {
            "worse"
        };
        format!(
            "`{s}` on {w} at {} connections: {} {} → {} ({}, {verdict})",
            fmt::thousands(*c as f64),
            f.name,
            (f.show)(r.base.median),
            (f.show)(r.this.median),
            ratio_text(r.value()),
        )
    };
    const SHOWN: usize = 8;
    if !tested.is_empty() {
        lines.push(format!(
            "{} of the {} ratios that both runs measured {RUNS_FOR_NOISE} times or more changed \
             beyond the noise (the 95% intervals of the medians do not overlap); the other {} are \
             within it.",
            changed.len(),
            tested.len(),
            tested.len() - changed.len()
        ));
        for c in changed.iter().take(SHOWN) {
            lines.push(format!("Changed: {}.", describe(c)));
        }
        if changed.len() > SHOWN {
            lines.push(format!(
                "… and {} more changes beyond the noise (the table has them all).",
                changed.len() - SHOWN
            ));
        }
    }
    let untested = all.len() - tested.len();
    if untested > 0 {
        let few = |s: &Study| s.plan.repeat < RUNS_FOR_NOISE as u32;
        let who = match (few(this), few(base)) {
            (true, true) => {
                format!("neither run measured each cell {RUNS_FOR_NOISE} times or more")
            }
            (true, false) => {
                format!("this run did not measure each cell {RUNS_FOR_NOISE} times or more")
            }
            (false, true) => {
                format!("the baseline did not measure each cell {RUNS_FOR_NOISE} times or more")
            }
            (false, false) => format!(
                "some cells have fewer than {RUNS_FOR_NOISE} successful runs in one of them"
            ),
        };
        lines.push(format!(
            "{untested} of the ratios cannot be called a change or noise: {who}, and \
             one run each cannot separate a change from \
             run-to-run noise (on a shared machine a few percent either way is common). \
             `lab compare --repeat {RUNS_FOR_NOISE}` for both runs separates them."
        ));
        let mut big: Vec<&(&Figure, &Key, &Ratio)> = all
            .iter()
            .filter(|(_, _, r)| r.changed().is_none())
            .filter(|(_, _, r)| (r.value().ln()).abs() > (1.0 + measure::SINGLE_RUN_NOISE).ln())
            .collect();
        big.sort_by(|x, y| {
            x.2.value()
                .ln()
                .abs()
                .total_cmp(&y.2.value().ln().abs())
                .reverse()
        });
        for c in big.iter().take(SHOWN) {
            lines.push(format!("Largest untested difference: {}.", describe(c)));
        }
    }
    lines
}

/// Experiments besides the matrix (rates, faults, …) that ran in only one of the runs.
fn experiments_in_one(this: &Study, base: &Study) -> Vec<String> {
    let names = |s: &Study| {
        let mut v: Vec<String> = s
            .plan
            .cells
            .iter()
            .filter(|c| !c.experiment.is_empty())
            .map(|c| c.experiment.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let (x, y) = (names(this), names(base));
    let mut lines = Vec::new();
    for e in x.iter().filter(|e| !y.contains(e)) {
        lines.push(format!(
            "The `{e}` experiment ran in this run only: its charts have no baseline lines."
        ));
    }
    for e in y.iter().filter(|e| !x.contains(e)) {
        lines.push(format!(
            "The `{e}` experiment ran in the baseline only: this report has no section for it."
        ));
    }
    lines
}

/// How the two runs were measured differently, one phrase each.
fn differences(this: &Study, base: &Study) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |what: &str, a: String, b: String| {
        if a != b {
            let show = |v: &str| {
                if v.is_empty() || v == "none" {
                    "none".to_string()
                } else {
                    format!("`{v}`")
                }
            };
            out.push(format!(
                "{what}: {} here, {} in the baseline",
                show(&a),
                show(&b)
            ));
        }
    };
    let (e, f) = (&this.plan.environment, &base.plan.environment);
    differ("machine (CPU)", e.cpu_model.clone(), f.cpu_model.clone());
    differ("cores", e.cores.to_string(), f.cores.to_string());
    differ(
        "memory",
        fmt::bytes(e.memory_bytes as f64),
        fmt::bytes(f.memory_bytes as f64),
    );
    differ("kernel", e.kernel.clone(), f.kernel.clone());
    differ("build of lab", e.build.clone(), f.build.clone());
    // compare.json records it (`tcp` for files from before `--transport`).
    differ(
        "transport",
        this.plan.transport.clone(),
        base.plan.transport.clone(),
    );
    for (flag, what) in [
        ("--threads", "load generator threads"),
        ("--pipeline", "pipelining"),
    ] {
        differ(
            what,
            flag_value(&this.plan.command, flag),
            flag_value(&base.plan.command, flag),
        );
    }
    // Pinning: what the cells' runs recorded, or where they agree, the flags given.
    let cpus: [(&str, &str, Cpus); 2] = [
        ("--server-cpus", "server CPU pinning", |r| &r.server_cpus),
        ("--load-cpus", "load generator CPU pinning", |r| {
            &r.load_cpus
        }),
    ];
    for (flag, what, recorded) in cpus {
        let (a, b) = (pinned(this, recorded), pinned(base, recorded));
        if a != b {
            differ(what, a, b);
        } else {
            let given = |s: &Study| match flag_value(&s.plan.command, flag) {
                v if v.is_empty() => "none".to_string(),
                v => v,
            };
            differ(what, given(this), given(base));
        }
    }
    differ(
        "measured seconds per cell",
        fmt::fixed(this.plan.duration_s, 1),
        fmt::fixed(base.plan.duration_s, 1),
    );
    for w in &this.plan.workloads {
        if let Some(v) = base.plan.workloads.iter().find(|v| v.name == w.name) {
            differ(
                &format!("the path of workload {}", w.name),
                w.path.clone(),
                v.path.clone(),
            );
        }
    }
    out
}

/// The value of `--flag V` or `--flag=V` in a command line; empty when absent.
fn flag_value(command: &[String], flag: &str) -> String {
    let prefix = format!("{flag}=");
    command
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            if a == flag {
                command.get(i + 1).cloned()
            } else {
                a.strip_prefix(&prefix).map(str::to_string)
            }
        })
        .unwrap_or_default()
}

/// Reads the CPUs a run was pinned to.
type Cpus = fn(&CellRun) -> &Vec<usize>;

/// The CPU sets the cells' runs recorded, distinct, in plan order (`0,1`; `none` when not
/// pinned; `0 | 1` if the cells differ).
fn pinned(s: &Study, cpus: Cpus) -> String {
    let mut seen: Vec<String> = Vec::new();
    for r in s.runs.iter().flatten() {
        let set = cpus(r)
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let set = if set.is_empty() { "none".into() } else { set };
        if !seen.contains(&set) {
            seen.push(set);
        }
    }
    seen.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_in_both_spellings() {
        let cmd: Vec<String> = ["lab", "compare", "--transport", "unix", "--load-cpus=1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(flag_value(&cmd, "--transport"), "unix");
        assert_eq!(flag_value(&cmd, "--load-cpus"), "1");
        assert_eq!(flag_value(&cmd, "--server-cpus"), "");
    }

    #[test]
    fn runs_are_named_by_folder_or_by_path_when_those_match() {
        assert_eq!(
            names(Path::new("/a/new"), Path::new("/b/old")),
            ("new".to_string(), "old".to_string())
        );
        assert_eq!(
            names(Path::new("/a/out"), Path::new("/b/out")),
            ("/a/out".to_string(), "/b/out".to_string())
        );
    }
}
