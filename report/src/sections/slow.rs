//! Slow clients (`lab compare --experiments slow`): each model's good load without and with a
//! slowloris attack (`lab run --slow-clients N`), from each pair of cells: who held the
//! attackers as idle connections and kept serving, and whose workers the attack exhausted.

use super::{and_list, Ctx};
use crate::data::{CellRecord, CellRun, CellStatus, SlowClients};
use crate::doc::Block;
use crate::fmt;
use crate::measure::{self, ERROR_LIMIT};

/// A model *held* when, under attack, it served every good connection with at most
/// [`ERROR_LIMIT`] of attempts failing and at least this share of its calm throughput.
pub const HELD_SHARE: f64 = 0.5;

/// One series' cells: calm and attacked (one each per `--repeat` run), in plan order.
struct Pair<'a> {
    series: String,
    calm: Vec<&'a (CellRecord, Option<CellRun>)>,
    attacked: Vec<&'a (CellRecord, Option<CellRun>)>,
}

/// Whether a cell of the experiment ran under attack (its command has `--slow-clients`).
fn is_attacked(cell: &CellRecord) -> bool {
    cell.command.iter().any(|a| a == "--slow-clients")
}

/// The servers' `--header-timeout` in a cell, as its command gave it, or the default.
fn header_timeout(cell: &CellRecord) -> String {
    cell.command
        .iter()
        .position(|a| a == "--header-timeout")
        .and_then(|i| cell.command.get(i + 1))
        .map_or_else(|| "10s, the default".to_string(), |t| t.clone())
}

fn pairs(cells: &[(CellRecord, Option<CellRun>)]) -> Vec<Pair<'_>> {
    let mut out: Vec<Pair> = Vec::new();
    for c in cells {
        let i = match out.iter().position(|p| p.series == c.0.series) {
            Some(i) => i,
            None => {
                out.push(Pair {
                    series: c.0.series.clone(),
                    calm: Vec::new(),
                    attacked: Vec::new(),
                });
                out.len() - 1
            }
        };
        if is_attacked(&c.0) {
            out[i].attacked.push(c);
        } else {
            out[i].calm.push(c);
        }
    }
    out
}

/// The measured runs among `cells`.
fn measured<'a>(cells: &[&'a (CellRecord, Option<CellRun>)]) -> Vec<&'a CellRun> {
    cells
        .iter()
        .filter(|(c, _)| c.status == CellStatus::Ok)
        .filter_map(|(_, r)| r.as_ref())
        .collect()
}

/// The median of `value` over `runs` (the lower middle for an even count: a figure one run had).
fn median(runs: &[&CellRun], value: impl Fn(&CellRun) -> f64) -> Option<f64> {
    let mut v: Vec<f64> = runs.iter().map(|r| value(r)).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// What the attack did to one model.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// Every good connection served, few errors, at least [`HELD_SHARE`] of the calm throughput.
    Held,
    /// Every good connection served, but slower or with errors.
    Slowed,
    /// Good connections left without a response: the attack took the workers.
    Exhausted,
}

/// The attacked run's figures (medians over runs), for the table and the reading.
struct Figures {
    calm_rps: Option<f64>,
    rps: f64,
    served: f64,
    starved: f64,
    errors: f64,
    p99_us: Option<f64>,
    /// The run whose attack is shown (of median starved).
    attack: SlowClients,
    verdict: Verdict,
}

fn figures(pair: &Pair) -> Option<Figures> {
    let runs = measured(&pair.attacked);
    let mut shown: Vec<&CellRun> = runs
        .iter()
        .copied()
        .filter(|r| r.slow_clients.is_some())
        .collect();
    shown.sort_by_key(|r| r.load.service.starved);
    let attack = shown
        .get(shown.len().saturating_sub(1) / 2)?
        .slow_clients
        .clone()?;
    let calm_rps = median(&measured(&pair.calm), |r| r.load.throughput_rps);
    let rps = median(&shown, |r| r.load.throughput_rps)?;
    let starved = median(&shown, |r| r.load.service.starved as f64)?;
    let served = median(&shown, |r| r.load.service.served as f64)?;
    let errors = median(&shown, measure::error_share)?;
    let answered: Vec<&CellRun> = shown
        .iter()
        .copied()
        .filter(|r| measure::answered(r).is_some())
        .collect();
    let p99_us = median(&answered, |r| r.load.latency_us.p99 as f64);
    let verdict = verdict(starved, rps, errors, calm_rps);
    Some(Figures {
        calm_rps,
        rps,
        served,
        starved,
        errors,
        p99_us,
        attack,
        verdict,
    })
}

/// The verdict on an attacked run: good connections starved (median), its good requests/s, its
/// error share, and the calm run's requests/s if measured. However fast a model served the
/// good connections it did serve, one that starved any is exhausted, never held.
fn verdict(starved: f64, rps: f64, errors: f64, calm_rps: Option<f64>) -> Verdict {
    if starved >= 1.0 || rps <= 0.0 {
        Verdict::Exhausted
    } else if errors > ERROR_LIMIT || calm_rps.is_some_and(|c| rps < HELD_SHARE * c) {
        Verdict::Slowed
    } else {
        Verdict::Held
    }
}

/// Attacked throughput as a share of calm: `64%`, `0.43%`.
fn of_calm(rps: f64, calm: f64) -> String {
    if calm > 0.0 {
        fmt::percent(rps / calm)
    } else {
        "n/a".into()
    }
}

/// What the server did with the attackers, in words: `cut 3, answered 12 × 408, after a median
/// 10.2 s` or `none let go`.
fn released(a: &SlowClients) -> String {
    if a.released() == 0 {
        return "none let go".into();
    }
    let mut parts = Vec::new();
    if a.cut_by_server > 0 {
        parts.push(format!("cut {}", fmt::thousands(a.cut_by_server as f64)));
    }
    if !a.answered.is_empty() {
        let statuses: Vec<String> = a
            .answered
            .iter()
            .map(|(s, n)| format!("{} × {s}", fmt::thousands(*n as f64)))
            .collect();
        parts.push(format!("answered {}", statuses.join(", ")));
    }
    let after = a
        .held_median_s
        .map(|t| format!(", after a median {} s", fmt::fixed(t, 1)))
        .unwrap_or_default();
    format!("{}{after}", parts.join(", "))
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::Slowed => "slowed",
            Verdict::Exhausted => "exhausted",
        }
    }
}

/// One series' attacked run summed up, for `lab report --against`: the verdict in a word
/// (`held`, `slowed`, `exhausted`), how good it is (2, 1, 0), and the figures in words; `Err`:
/// why nothing was measured.
pub(crate) struct Summary {
    pub series: String,
    pub outcome: Result<(&'static str, u8, String), String>,
}

/// Each series' summary, in plan order; empty when the study has no slow experiment.
pub(crate) fn summaries(cells: &[(CellRecord, Option<CellRun>)]) -> Vec<Summary> {
    let good = cells.first().map_or(0, |(c, _)| c.conns);
    pairs(cells)
        .iter()
        .map(|pair| Summary {
            series: pair.series.clone(),
            outcome: match figures(pair) {
                Some(f) => Ok((
                    f.verdict.word(),
                    match f.verdict {
                        Verdict::Held => 2,
                        Verdict::Slowed => 1,
                        Verdict::Exhausted => 0,
                    },
                    format!(
                        "{}: {} of {} good connections served, {} req/s{}",
                        f.verdict.word(),
                        fmt::thousands(f.served),
                        fmt::thousands(good as f64),
                        fmt::thousands(f.rps),
                        f.calm_rps
                            .map(|c| format!(" ({} of calm)", of_calm(f.rps, c)))
                            .unwrap_or_default()
                    ),
                )),
                None => Err("not measured".into()),
            },
        })
        .collect()
}

impl Ctx<'_> {
    pub(super) fn slow_clients(&mut self) {
        let cells = super::experiment_cells(self.s, "slow");
        if cells.is_empty() {
            return;
        }
        let pairs = pairs(&cells);
        let attackers = cells
            .iter()
            .filter_map(|(_, r)| r.as_ref()?.slow_clients.as_ref())
            .map(|a| (a.conns, a.every_s))
            .next();
        let good = cells.first().map_or(0, |(c, _)| c.conns);
        self.section("slow", "Slow clients");
        let (n, every) = attackers.unwrap_or((0, 1.0));
        self.para(format!(
            "Each model served a steady good load ({} clients in closed loop, a new connection \
             per request, `GET /`) twice for the same time: calm, then while {} slow clients \
             (slowloris) attacked it. Each attacker opens a connection in the warm-up, sends a \
             request line and a header, then one more header byte every {} s and never the \
             blank line that would end the head; when the server closes or answers it (408 once \
             `--header-timeout` is past), it reconnects at once. A model with a fixed number of \
             workers gives each attacker a worker that waits for the rest of the head; an event \
             loop holds it as one more idle socket. *Starved*: good connections that got no \
             response in the whole run. A model *held* when it served every good connection \
             with at most {} of attempts failing and at least {} of its calm throughput.",
            fmt::thousands(good as f64),
            fmt::thousands(n as f64),
            fmt::fixed(every, 1),
            fmt::percent(ERROR_LIMIT),
            fmt::percent(HELD_SHARE),
        ));
        let head: Vec<String> = [
            "model",
            "good req/s: calm → attacked",
            "good connections served / starved",
            "good p99 (attacked)",
            "attackers open at peak",
            "attackers let go by the server",
        ]
        .map(String::from)
        .to_vec();
        let mut rows = Vec::new();
        let (mut held, mut slowed, mut exhausted) = (Vec::new(), Vec::new(), Vec::new());
        let mut lines = Vec::new();
        for pair in &pairs {
            let name = format!("`{}`", pair.series);
            let Some(f) = figures(pair) else {
                let why = if pair
                    .attacked
                    .iter()
                    .any(|(c, _)| c.status == CellStatus::Failed)
                {
                    "the attacked cell failed (section 5)"
                } else {
                    "not run"
                };
                let mut row = vec![name, why.to_string()];
                row.resize(head.len(), String::new());
                rows.push(row);
                continue;
            };
            let rps = match f.calm_rps {
                Some(c) => format!(
                    "{} → {} ({})",
                    fmt::thousands(c),
                    fmt::thousands(f.rps),
                    of_calm(f.rps, c)
                ),
                None => format!("not measured → {}", fmt::thousands(f.rps)),
            };
            rows.push(vec![
                name.clone(),
                rps,
                format!(
                    "{} / {} of {}",
                    fmt::thousands(f.served),
                    fmt::thousands(f.starved),
                    fmt::thousands(good as f64)
                ),
                f.p99_us
                    .map(fmt::latency_us)
                    .unwrap_or_else(|| "no response".into()),
                format!(
                    "{} of {}",
                    fmt::thousands(f.attack.peak_open as f64),
                    fmt::thousands(f.attack.conns as f64)
                ),
                released(&f.attack),
            ]);
            let timeout = pair
                .attacked
                .first()
                .map_or_else(String::new, |(c, _)| header_timeout(c));
            let defence = if f.attack.released() == 0 {
                format!(
                    "it let none of the attackers go within the run (`--header-timeout` \
                     {timeout})"
                )
            } else {
                format!(
                    "the server {} (`--header-timeout` {timeout})",
                    released(&f.attack)
                )
            };
            match f.verdict {
                Verdict::Exhausted => {
                    exhausted.push(name.clone());
                    lines.push(format!(
                        "{name} was exhausted by the attack: it left {} of its {} good \
                         connections without a response ({} req/s{}), while {} attackers were \
                         open at once; {defence}.",
                        fmt::thousands(f.starved),
                        fmt::thousands(good as f64),
                        fmt::thousands(f.rps),
                        f.calm_rps
                            .map(|c| format!(" against {} calm", fmt::thousands(c)))
                            .unwrap_or_default(),
                        fmt::thousands(f.attack.peak_open as f64),
                    ));
                }
                Verdict::Slowed => {
                    slowed.push(name.clone());
                    lines.push(format!(
                        "{name} served every good connection but the attack cost it: {} req/s{}, \
                         {} of attempts failed; {defence}.",
                        fmt::thousands(f.rps),
                        f.calm_rps
                            .map(|c| format!(" against {} calm", fmt::thousands(c)))
                            .unwrap_or_default(),
                        fmt::percent(f.errors),
                    ));
                }
                Verdict::Held => held.push((name, f)),
            }
        }
        self.push(Block::Table { head, rows });
        let mut reading = Vec::new();
        if !held.is_empty() {
            let names: Vec<String> = held
                .iter()
                .map(|(n, f)| {
                    format!(
                        "{n} ({} of its attackers open at once, {} req/s{})",
                        fmt::thousands(f.attack.peak_open as f64),
                        fmt::thousands(f.rps),
                        f.calm_rps
                            .filter(|&c| c > 0.0)
                            .map(|c| format!(", {} of calm", of_calm(f.rps, c)))
                            .unwrap_or_default()
                    )
                })
                .collect();
            reading.push(format!(
                "Held against the attack, serving every good connection: {}.",
                and_list(&names)
            ));
        } else {
            reading.push(
                "No model held: under attack each left good connections without a response, \
                 slowed below half its calm throughput or failed more attempts."
                    .into(),
            );
        }
        if !exhausted.is_empty() {
            reading.push(format!(
                "Exhausted (good clients starved): {}.",
                and_list(&exhausted)
            ));
        }
        if !slowed.is_empty() {
            reading.push(format!(
                "Served everyone, but slowed by the attack: {}.",
                and_list(&slowed)
            ));
        }
        reading.extend(lines);
        self.reading(reading);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_that_starved_a_good_connection_is_exhausted_however_fast() {
        assert_eq!(
            verdict(1.0, 50_000.0, 0.0, Some(10_000.0)),
            Verdict::Exhausted
        );
        assert_eq!(verdict(0.0, 0.0, 0.0, Some(10_000.0)), Verdict::Exhausted);
        assert_eq!(verdict(0.0, 4_000.0, 0.0, Some(10_000.0)), Verdict::Slowed);
        assert_eq!(verdict(0.0, 9_000.0, 0.02, Some(10_000.0)), Verdict::Slowed);
        assert_eq!(verdict(0.0, 6_000.0, 0.0, Some(10_000.0)), Verdict::Held);
        assert_eq!(verdict(0.0, 6_000.0, 0.0, None), Verdict::Held);
    }

    #[test]
    fn released_attackers_in_words() {
        let mut a = SlowClients::default();
        assert_eq!(released(&a), "none let go");
        a.cut_by_server = 3;
        a.answered.insert("408".into(), 1_200);
        a.held_median_s = Some(10.04);
        assert_eq!(
            released(&a),
            "cut 3, answered 1,200 × 408, after a median 10.0 s"
        );
    }
}
