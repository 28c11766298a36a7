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
    /// Every good connection served, but fewer than half the attackers were ever open at once
    /// (their connects failed): the attack did not get in, so holding is not shown.
    Unattacked,
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
    // The connections served and starved, and the attack shown, are those of the run that
    // starved the most: a model that starved good clients in any run is exhausted, never
    // held by a median of counts from different runs.
    shown.sort_by_key(|r| r.load.service.starved);
    let worst = *shown.last()?;
    let attack = worst.slow_clients.clone()?;
    let calm_rps = median(&measured(&pair.calm), |r| r.load.throughput_rps);
    let rps = median(&shown, |r| r.load.throughput_rps)?;
    let starved = worst.load.service.starved as f64;
    let served = worst.load.service.served as f64;
    let errors = median(&shown, measure::error_share)?;
    let answered: Vec<&CellRun> = shown
        .iter()
        .copied()
        .filter(|r| measure::answered(r).is_some())
        .collect();
    let p99_us = median(&answered, |r| r.load.latency_us.p99 as f64);
    let verdict = match verdict(starved, rps, errors, calm_rps) {
        Verdict::Exhausted => Verdict::Exhausted,
        _ if attack.peak_open * 2 < attack.conns => Verdict::Unattacked,
        v => v,
    };
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

/// The verdict on an attacked run: good connections starved (in the run that starved the
/// most), its good requests/s, its error share, and the calm run's requests/s if measured.
/// However fast a model served the good connections it did serve, one that starved any is
/// exhausted, never held; without a calm run there is nothing to hold against.
fn verdict(starved: f64, rps: f64, errors: f64, calm_rps: Option<f64>) -> Verdict {
    if starved >= 1.0 || rps <= 0.0 {
        Verdict::Exhausted
    } else if errors > ERROR_LIMIT || calm_rps.is_none_or(|c| rps < HELD_SHARE * c) {
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
            Verdict::Unattacked => "not attacked",
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
                        Verdict::Unattacked => 1,
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
             with at most {} of attempts failing and at least {} of its calm throughput; a run \
             in which fewer than half the attackers were ever open at once (their connects \
             failed) shows no holding, and is called *not attacked*.",
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
                match f.attack.connect_failed {
                    0 => format!(
                        "{} of {}",
                        fmt::thousands(f.attack.peak_open as f64),
                        fmt::thousands(f.attack.conns as f64)
                    ),
                    n => format!(
                        "{} of {} ({} connects failed)",
                        fmt::thousands(f.attack.peak_open as f64),
                        fmt::thousands(f.attack.conns as f64),
                        fmt::thousands(n as f64)
                    ),
                },
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
                    let cost = match f.calm_rps {
                        Some(c) => format!(
                            "but the attack cost it: {} req/s against {} calm",
                            fmt::thousands(f.rps),
                            fmt::thousands(c)
                        ),
                        None => format!(
                            "({} req/s), but its calm cell was not measured, so what the attack \
                             cost it is unknown",
                            fmt::thousands(f.rps)
                        ),
                    };
                    lines.push(format!(
                        "{name} served every good connection {cost}, {} of attempts failed; \
                         {defence}.",
                        fmt::percent(f.errors),
                    ));
                }
                Verdict::Held => held.push((name, f)),
                Verdict::Unattacked => lines.push(format!(
                    "{name}: the attack did not get in (at most {} of {} attackers open at once, \
                     {} connects failed), so whether it holds is not shown.",
                    fmt::thousands(f.attack.peak_open as f64),
                    fmt::thousands(f.attack.conns as f64),
                    fmt::thousands(f.attack.connect_failed as f64)
                )),
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
        // No calm run: nothing to have held against.
        assert_eq!(verdict(0.0, 6_000.0, 0.0, None), Verdict::Slowed);
    }

    /// A cell of the experiment and its run: attacked or calm, its good connections starved
    /// and served, its good requests/s.
    fn cell(attacked: bool, run: u32, starved: u64, rps: f64) -> (CellRecord, Option<CellRun>) {
        let lat = serde_json::to_value(lab_schema::Latency::default()).unwrap();
        let service = lab_schema::Service {
            served: 20 - starved,
            starved,
            ..lab_schema::Service::default()
        };
        let mut report = serde_json::json!({
            "model": "epoll", "server_command": [], "date": "", "url": "http://x/", "conns": 20,
            "threads": 1, "duration_s": 2.0, "planned_s": 2.0, "requests": 100,
            "throughput_rps": rps, "latency_us": lat, "connect_us": lat,
            "errors": serde_json::to_value(lab_schema::Errors::default()).unwrap(),
            "connections": serde_json::to_value(lab_schema::Connections::default()).unwrap(),
            "service": serde_json::to_value(service).unwrap(),
            "timeline": [], "histogram": "", "host": {"cores": 2, "kernel": "6"},
            "server": serde_json::to_value(lab_schema::ServerStats::default()).unwrap(),
            "leftover_processes": 0,
        });
        let mut command = vec!["lab".to_string(), "run".to_string()];
        if attacked {
            report["slow_clients"] = serde_json::to_value(SlowClients::default()).unwrap();
            command.extend(["--slow-clients".to_string(), "200".to_string()]);
        }
        let record = CellRecord {
            series: "epoll".into(),
            conns: 20,
            command,
            status: CellStatus::Ok,
            run,
            experiment: "slow".into(),
            ..CellRecord::default()
        };
        (record, Some(serde_json::from_value(report).unwrap()))
    }

    #[test]
    fn a_model_that_starved_good_clients_in_one_run_of_two_is_exhausted() {
        // Run 1 under attack starved none, run 2 half its 20 (serving the rest fast): the lower
        // middle of each figure would say 0 starved at 5,000 req/s, held; the run that starved
        // the most says exhausted.
        let cells = [
            cell(false, 1, 0, 10_000.0),
            cell(true, 1, 0, 9_000.0),
            cell(false, 2, 0, 10_000.0),
            cell(true, 2, 10, 5_000.0),
        ];
        let summary = &summaries(&cells)[0];
        let (word, _, _) = summary.outcome.as_ref().unwrap();
        assert_eq!(*word, "exhausted");
        // Both runs served every good connection: held.
        let cells = [
            cell(false, 1, 0, 10_000.0),
            cell(true, 1, 0, 9_000.0),
            cell(false, 2, 0, 10_000.0),
            cell(true, 2, 0, 8_000.0),
        ];
        assert_eq!(summaries(&cells)[0].outcome.as_ref().unwrap().0, "held");
    }

    #[test]
    fn an_attack_that_did_not_get_in_shows_no_holding() {
        let attacked = |peak_open: u64, starved: u64| {
            let (record, run) = cell(true, 1, starved, 9_000.0);
            let mut run = run.unwrap();
            run.slow_clients = Some(SlowClients {
                conns: 200,
                peak_open,
                connect_failed: 500,
                ..SlowClients::default()
            });
            (record, Some(run))
        };
        let verdict = |peak_open, starved| {
            let cells = [cell(false, 1, 0, 10_000.0), attacked(peak_open, starved)];
            summaries(&cells)[0].outcome.as_ref().unwrap().0
        };
        // 40 of 200 attackers ever open: not attacked, not held.
        assert_eq!(verdict(40, 0), "not attacked");
        // A good client starved by the few that got in: exhausted all the same.
        assert_eq!(verdict(40, 1), "exhausted");
        // Half or more in: the verdict stands.
        assert_eq!(verdict(100, 0), "held");
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
