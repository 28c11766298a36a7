//! The readings cannot crown a starving or noisy result: built from synthetic cells, the report
//! names a starving model with what it failed to do, calls results within noise a tie, says "too
//! small to measure" for a negative slope, and "n/a" where a ratio or a latency has no meaning.

use lab_schema::{
    Connections, Errors, Host, Latency, LoadReport, RunReport, Sample, ServerStats, Service,
    SCHEMA_VERSION,
};
use report::{CellRecord, CellStatus, Plan, Study, Workload};

struct Cell {
    workload: &'static str,
    series: &'static str,
    conns: u64,
    rps: f64,
    starved: u64,
    pss: u64,
}

/// A cell's load generator, busy (on a CPU, waiting for one) for these shares of the time.
fn with_loader(mut run: RunReport, on_cpu: f64, waiting: f64) -> RunReport {
    run.load.loader = Some(lab_schema::Loader {
        on_cpu: vec![on_cpu],
        waiting: vec![waiting],
    });
    run
}

fn run(c: &Cell) -> RunReport {
    let requests = (c.rps * 2.0) as u64;
    let latency = Latency {
        p50: 100,
        p90: 200,
        p99: 300,
        p999: 400,
        p9999: 500,
        max: 600,
        mean: 120.0,
        stdev: 10.0,
    };
    let served = c.conns - c.starved;
    RunReport {
        model: c.series.split('+').next().unwrap().to_string(),
        server_command: Vec::new(),
        date: String::new(),
        load: LoadReport {
            schema_version: SCHEMA_VERSION,
            url: String::new(),
            conns: c.conns as usize,
            threads: 1,
            rate: None,
            duration_s: 2.0,
            planned_s: 2.0,
            interrupted: false,
            requests,
            throughput_rps: c.rps,
            latency_us: if requests > 0 {
                latency
            } else {
                Latency::default()
            },
            latency_uncorrected_us: None,
            send_lag_us: None,
            connect_us: latency,
            errors: Errors::default(),
            connections: Connections {
                target: c.conns,
                established: c.conns,
                peak_open: c.conns,
            },
            service: Service {
                served: if requests > 0 { served } else { 0 },
                starved: if requests > 0 { c.starved } else { c.conns },
                ..Service::default()
            },
            timeline: Vec::new(),
            histogram: String::new(),
            uncorrected_histogram: None,
            connect_histogram: String::new(),
            tag: None,
            start_at: None,
            host: Host::default(),
            warnings: Vec::new(),
            loader: None,
        },
        server: ServerStats {
            peak_pss_bytes: c.pss,
            peak_processes: 1,
            peak_threads: 1,
            cpu_user_s: 1.0,
            cpu_sys_s: 1.0,
            cpu_source: "rusage".into(),
            samples: vec![Sample {
                t_s: 3.0,
                ..Sample::default()
            }],
            ..ServerStats::default()
        },
        leftover_processes: 0,
        server_cpus: Vec::new(),
        load_cpus: Vec::new(),
        transport: "tcp".into(),
        external: None,
        slow_clients: None,
    }
}

fn study(cells: &[Cell]) -> Study {
    let mut series: Vec<String> = Vec::new();
    for c in cells {
        if !series.contains(&c.series.to_string()) {
            series.push(c.series.to_string());
        }
    }
    let plan = Plan {
        repeat: 1,
        duration_s: 2.0,
        models: vec![
            "single_thread".into(),
            "process_pool".into(),
            "epoll".into(),
        ],
        series,
        variants: [(
            "epoll+offload".to_string(),
            vec!["--offload".to_string(), "on".to_string()],
        )]
        .into_iter()
        .collect(),
        conns: vec![10, 1000],
        workloads: vec![
            Workload {
                name: "hello".into(),
                path: "/".into(),
                about: String::new(),
            },
            Workload {
                name: "sleep".into(),
                path: "/sleep/10".into(),
                about: String::new(),
            },
        ],
        cells: cells
            .iter()
            .map(|c| CellRecord {
                id: format!("{}-{}-c{}", c.workload, c.series, c.conns),
                workload: c.workload.into(),
                series: c.series.into(),
                model: c.series.into(),
                conns: c.conns,
                status: CellStatus::Ok,
                run: 1,
                ..CellRecord::default()
            })
            .collect(),
        ..Plan::default()
    };
    Study {
        plan,
        runs: cells.iter().map(|c| Some(run(c))).collect(),
    }
}

fn markdown(study: &Study) -> String {
    let files = report::render(study);
    let (_, md) = files.iter().find(|(n, _)| n == "report.md").unwrap();
    String::from_utf8(md.clone()).unwrap()
}

#[test]
fn a_starving_or_noisy_result_is_never_crowned() {
    let cell = |workload, series, conns, rps, starved, pss| Cell {
        workload,
        series,
        conns,
        rps,
        starved,
        pss,
    };
    let s = study(&[
        cell("hello", "single_thread", 10, 30_000.0, 0, 1_000_000),
        cell("hello", "single_thread", 1000, 120_000.0, 999, 1_000_000),
        cell("hello", "process_pool", 10, 50_000.0, 0, 10_000_000),
        cell("hello", "process_pool", 1000, 98_914.0, 0, 30_000_000),
        cell("hello", "epoll", 10, 60_000.0, 0, 4_000_000),
        // Less memory at 1,000 connections than at 10: a negative slope.
        cell("hello", "epoll", 1000, 97_478.0, 0, 3_900_000),
        cell("sleep", "epoll", 10, 0.0, 0, 4_000_000),
        cell("sleep", "epoll", 1000, 0.0, 0, 4_000_000),
        cell("sleep", "epoll+offload", 10, 790.0, 0, 4_000_000),
        cell("sleep", "epoll+offload", 1000, 800.0, 0, 4_000_000),
    ]);
    let md = markdown(&s);
    // The starving model served the most requests per second, and is not named the leader.
    assert!(!md.contains("`single_thread` led"), "{md}");
    assert!(!md.contains("`single_thread` served the most"), "{md}");
    assert!(
        md.contains("`single_thread` is not ranked at 1,000 connections: it left 999 of 1,000 connections without a response"),
        "{md}"
    );
    // 98,914 against 97,478 in one run each: a tie, not "1.0x the next".
    assert!(md.contains("tied at the top"), "{md}");
    assert!(!md.contains("1.0x the next"), "{md}");
    // A negative memory slope is too small to measure, never a negative size.
    assert!(md.contains("too small to measure at this scale"), "{md}");
    assert!(!md.contains("| -"), "a negative figure in a table: {md}");
    // Zero inline answers: no ratio, and no latency for the cell without responses.
    assert!(md.contains("only `epoll+offload` answered"), "{md}");
    assert!(!md.contains("more throughput as"), "{md}");
    assert!(md.contains("n/a / n/a / n/a"), "{md}");
    for zero in [" 0 µs", "(0 µs", "|0 µs"] {
        assert!(!md.contains(zero), "{md}");
    }
}

/// A lead measured with the load generator busy nearly all the time is a floor: the throughput
/// reading says so for the cells where it was, and the ceilings name the limit instead of
/// "none": the generator when it ran nearly all the time, the CPUs when it mostly waited for
/// one. A generator with idle time is not mentioned.
#[test]
fn a_lead_the_load_generator_could_not_push_past_is_called_a_lower_bound() {
    let cell = |series, conns, rps| Cell {
        workload: "hello",
        series,
        conns,
        rps,
        starved: 0,
        pss: 1_000_000,
    };
    let cells = [
        cell("process_pool", 10, 50_000.0),
        cell("process_pool", 1000, 60_000.0),
        cell("epoll", 10, 60_000.0),
        cell("epoll", 1000, 150_000.0),
    ];
    let mut s = study(&cells);
    // epoll at 1,000: on a CPU 70%, waiting 25% (the CPUs); at 10: on a CPU 95% (the
    // generator). process_pool at 1,000: 40% and 10% (time to spare).
    s.runs[3] = Some(with_loader(s.runs[3].take().unwrap(), 0.70, 0.25));
    s.runs[2] = Some(with_loader(s.runs[2].take().unwrap(), 0.95, 0.02));
    s.runs[1] = Some(with_loader(s.runs[1].take().unwrap(), 0.40, 0.10));
    let md = markdown(&s);
    assert!(md.contains("`epoll` led with 150,000 req/s"), "{md}");
    for at in ["1,000", "10"] {
        assert!(
            md.contains(&format!(
                "At {at} connections the load generator was busy nearly all the time (on a CPU, \
                 or ready and waiting for one, at least 90% of the measured time) while loading \
                 `epoll`: that figure is what the generator and the CPUs it had could drive, a \
                 lower bound on what the server can do."
            )),
            "{md}"
        );
    }
    assert!(
        md.contains(
            "| hello | `epoll` | the CPUs, oversubscribed | every connection served, but the \
             load generator waited for a CPU much of the time (its thread on a CPU 70% and \
             waiting for one 25% of the measured time)"
        ),
        "{md}"
    );
    // process_pool's generator had time to spare: no caveat, and its ceiling stays "none".
    assert!(!md.contains("loading `process_pool`"), "{md}");
    assert!(!md.contains("`epoll` and `process_pool`"), "{md}");
    assert!(md.contains("| hello | `process_pool` | none |"), "{md}");

    // At the largest size, a generator on a CPU 95% of the time is the limit named.
    s.runs[3] = Some(with_loader(s.runs[3].take().unwrap(), 0.95, 0.02));
    let md = markdown(&s);
    assert!(
        md.contains(
            "| hello | `epoll` | the load generator | every connection served, but the load \
             generator ran nearly all the time (its thread on a CPU 95%"
        ),
        "{md}"
    );
}

#[test]
fn repeated_runs_show_median_and_spread_and_render_the_same_bytes_twice() {
    let cell = |series, conns, rps| Cell {
        workload: "hello",
        series,
        conns,
        rps,
        starved: 0,
        pss: 1_000_000 + conns * 10_000,
    };
    let mut cells = Vec::new();
    for rps in [100_000.0, 104_000.0, 98_000.0] {
        cells.push(cell("epoll", 10, rps));
        cells.push(cell("epoll", 1000, rps));
        cells.push(cell("process_pool", 10, rps / 2.0));
        cells.push(cell("process_pool", 1000, rps / 2.0));
    }
    let mut s = study(&cells);
    s.plan.repeat = 3;
    for (i, c) in s.plan.cells.iter_mut().enumerate() {
        c.run = 1 + (i / 4) as u32;
        c.id = format!("{}-r{}", c.id, c.run);
    }
    let md = markdown(&s);
    assert!(md.contains("| 100,000 (98,000–104,000) |"), "{md}");
    assert!(
        md.contains("`epoll` led with 100,000 req/s, 2.0x the next"),
        "{md}"
    );
    assert!(md.contains("bootstrap 95% intervals"), "{md}");
    // Seeded bootstrap on rayon: the same bytes every time.
    assert_eq!(report::render(&s), report::render(&s));
}

/// A study of the rates experiment alone: `series` offered each of `steps` (rate, achieved),
/// one run each; a step holds when it achieved what was offered (p99 is 300 µs, under the
/// 10 ms objective).
fn rates_study(series: &str, steps: &[(f64, f64)]) -> Study {
    let cells: Vec<Cell> = steps
        .iter()
        .map(|&(_, achieved)| Cell {
            workload: "hello",
            series: "epoll",
            conns: 10,
            rps: achieved,
            starved: 0,
            pss: 1 << 20,
        })
        .collect();
    let mut s = study(&cells);
    s.plan.series = vec![series.to_string()];
    s.plan.experiments = vec!["rates".into()];
    s.plan.rates = Some(report::RatesPlan {
        workload: "hello".into(),
        conns: 10,
        slo_us: 10_000,
        auto: true,
        asked: Vec::new(),
        start: 1000.0,
        max_steps: 6,
    });
    for (cell, &(rate, _)) in s.plan.cells.iter_mut().zip(steps) {
        cell.experiment = "rates".into();
        cell.rate = Some(rate);
        cell.series = series.to_string();
        cell.id = format!("rates-{series}-{rate}");
    }
    s
}

/// `lab report --against` compares the rates experiment's knees: a series that held a rate
/// where the baseline failed is called higher, one whose brackets overlap the baseline's is
/// within them.
#[test]
fn against_compares_the_sustained_rates_by_their_brackets() {
    let this = rates_study(
        "epoll",
        &[(1000.0, 1000.0), (2000.0, 2000.0), (4000.0, 2500.0)],
    );
    let base = rates_study("epoll", &[(1000.0, 1000.0), (2000.0, 1500.0)]);
    let files = report::against::render(&this, &base, ("new", "old"));
    let (_, md) = files.iter().find(|(n, _)| n == "report.md").unwrap();
    let md = String::from_utf8(md.clone()).unwrap();
    assert!(
        md.contains("| `epoll` | 2,000–4,000 | 1,000–2,000 | 2.00x | higher (it held where the baseline failed) |"),
        "{md}"
    );
    assert!(
        md.contains("1 of the 1 series measured in both runs moved"),
        "{md}"
    );
    // The same brackets in both: within them.
    let files = report::against::render(&this, &this, ("new", "new"));
    let (_, md) = files.iter().find(|(n, _)| n == "report.md").unwrap();
    let md = String::from_utf8(md.clone()).unwrap();
    assert!(md.contains("| 1.00x | within the brackets |"), "{md}");
    assert!(
        md.contains("0 of the 1 series measured in both runs moved"),
        "{md}"
    );
}

/// The accept section when a strategy left some loops without a connection (io_uring's rings
/// on one shared socket do): max/min is infinite, shown as such in the table and said in words
/// in the reading, never as an empty ratio.
#[test]
fn an_accept_strategy_that_starves_a_loop_is_named_in_words() {
    let s = accept_study(&[
        ("shared", vec![0, 0, 2, 35_726]),
        ("reuseport", vec![7_939, 8_223, 8_400, 8_580]),
    ]);
    let md = markdown(&s);
    let section = md
        .split("## Accept spread")
        .nth(1)
        .expect("an accept section");
    assert!(
        section.contains("| `io_uring` | `shared` | 4 loops | 0 / 1 / 35,726 | ∞ (one got none) |"),
        "{section}"
    );
    assert!(
        section.contains("`shared` least (Jain 0.250, some loops got no connection at all)"),
        "{section}"
    );
}

/// The `report.md` of `this` against `base`.
fn against_markdown(this: &Study, base: &Study) -> String {
    let files = report::against::render(this, base, ("new", "old"));
    let (_, md) = files.iter().find(|(n, _)| n == "report.md").unwrap();
    String::from_utf8(md.clone()).unwrap()
}

/// The lines of `lab report --against`'s comparison section (between its heading and the next
/// section's).
fn against_section(md: &str) -> String {
    md.split("## Against the baseline")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("an against section")
        .to_string()
}

/// One fault run: the load's connections closed mid-request (the lost requests), whether the
/// server died, and what the 5 × `/crash?abort` brought back.
type FaultRun<'a> = (u64, bool, &'a str);

/// A study of the faults experiment alone: per series, its runs (one cell each).
fn faults_study(series: &[(&'static str, &[FaultRun])]) -> Study {
    let mut cells = Vec::new();
    for (name, runs) in series {
        for _ in runs.iter() {
            cells.push(Cell {
                workload: "hello",
                series: name,
                conns: 4,
                rps: 1000.0,
                starved: 0,
                pss: 1 << 20,
            });
        }
    }
    let mut s = study(&cells);
    s.plan.experiments = vec!["faults".into()];
    s.plan.repeat = series.iter().map(|(_, r)| r.len()).max().unwrap_or(1) as u32;
    let all = series
        .iter()
        .flat_map(|(name, runs)| runs.iter().enumerate().map(move |(i, r)| (name, i, r)));
    for ((cell, run), (name, i, &(lost, died, abort))) in
        s.plan.cells.iter_mut().zip(s.runs.iter_mut()).zip(all)
    {
        cell.experiment = "faults".into();
        cell.run = i as u32 + 1;
        cell.id = format!("faults-{name}-r{}", i + 1);
        let injection =
            |kind: &str, what: &str, at_s: f64, outcome: &str, n: u32| report::Injection {
                kind: kind.into(),
                what: what.into(),
                at_s,
                outcomes: [(outcome.to_string(), n)].into_iter().collect(),
            };
        let mut injections = vec![
            injection("crash", "20 x GET /crash", 1.5, "500", 20),
            injection("abort", "5 x GET /crash?abort", 3.0, abort, 5),
        ];
        if !died {
            injections.push(injection("kill", "kill -9", 4.5, "killed", 1));
        }
        cell.faults = Some(report::FaultLog {
            injections,
            died_at_s: died.then_some(3.0),
            alive_at_end: !died,
            probe_after: if died { "refused".into() } else { "200".into() },
        });
        run.as_mut().unwrap().load.errors.closed = lost;
    }
    s
}

/// `lab report --against` compares the faults experiment per model and fault: a survival that
/// differs is named, a count is called higher only when both runs measured it 3 times and the
/// intervals do not overlap, a fault's outcome is the same or differs; a study without the
/// experiment on either side gives no table.
#[test]
fn against_compares_the_faults_per_model_and_fault() {
    let closed = "closed without a response";
    let this = faults_study(&[
        (
            "process_pool",
            &[
                (30, false, closed),
                (31, false, closed),
                (32, false, closed),
            ],
        ),
        (
            "epoll",
            &[(0, false, "500"), (1, false, "500"), (0, false, "500")],
        ),
    ]);
    let base = faults_study(&[
        (
            "process_pool",
            &[
                (10, false, closed),
                (11, false, closed),
                (12, false, closed),
            ],
        ),
        (
            "epoll",
            &[(40, true, closed), (40, true, closed), (40, true, closed)],
        ),
    ]);
    let section = against_section(&against_markdown(&this, &base));
    for row in [
        "| `process_pool` | outcome | survived (3 of 3 runs) | survived (3 of 3 runs) | same (survived) |",
        "| `process_pool` | lost requests | 31 (30–32) | 11 (10–12) | higher |",
        "| `process_pool` | 5 × /crash?abort | 5 × closed without a response; back after n/a (no second before the first fault) | 5 × closed without a response; back after n/a (no second before the first fault) | same |",
        "| `epoll` | outcome | survived (3 of 3 runs) | server died at t=3.0 s (3 of 3 runs died) | better: survived here, died in the baseline |",
        "| `epoll` | lost requests | 0 (0–1) | all after t=3.0 s (40 failed attempts) | n/a (the server died) |",
        "| `epoll` | kill -9 of a worker | 1 × killed; back after n/a (no second before the first fault) | not injected (the server was dead) | differs |",
    ] {
        assert!(section.contains(row), "{row}\n{section}");
    }
    assert!(
        section.contains("`epoll` survived the faults in this run and died in the baseline."),
        "{section}"
    );
    assert!(
        section.contains("2 of the 2 models measured in both runs changed beyond the noise"),
        "{section}"
    );
    // One run each: the counts are not called.
    let one = |lost| faults_study(&[("process_pool", &[(lost, false, closed)])]);
    let section = against_section(&against_markdown(&one(30), &one(10)));
    assert!(
        section.contains(
            "| `process_pool` | lost requests | 30 | 10 | not called (fewer than 3 runs) |"
        ),
        "{section}"
    );
    // Without the experiment in either run: no table.
    let matrix = matrix_study();
    for (a, b) in [(&this, &matrix), (&matrix, &this)] {
        let section = against_section(&against_markdown(a, b));
        assert!(!section.contains("### Fault isolation"), "{section}");
        assert!(!section.contains("lost requests"), "{section}");
    }
}

/// A study of the matrix experiment alone: one plaintext cell of `epoll`.
fn matrix_study() -> Study {
    study(&[Cell {
        workload: "hello",
        series: "epoll",
        conns: 10,
        rps: 1000.0,
        starved: 0,
        pss: 1 << 20,
    }])
}

/// A study of the accept experiment alone, one run per strategy: (strategy, connections per
/// loop) for `io_uring`.
fn accept_study(strategies: &[(&str, Vec<u64>)]) -> Study {
    let cells: Vec<Cell> = strategies
        .iter()
        .map(|_| Cell {
            workload: "hello",
            series: "io_uring",
            conns: 200,
            rps: 20_000.0,
            starved: 0,
            pss: 1 << 20,
        })
        .collect();
    let mut s = study(&cells);
    s.plan.experiments = vec!["accept".into()];
    for (c, (strategy, counts)) in s.plan.cells.iter_mut().zip(strategies) {
        c.experiment = "accept".into();
        c.id = format!("accept-io_uring-{strategy}");
        c.accept = Some(report::AcceptSpread {
            strategy: strategy.to_string(),
            unit: "loop".into(),
            per_worker: counts.clone(),
        });
    }
    s
}

/// `lab report --against` compares the accept spread per model and strategy: max/min (infinite
/// shown as the accept section shows it) and Jain's index, called less even only beyond the
/// spreads and the accept section's tie; no table when either run lacks the experiment.
#[test]
fn against_compares_the_accept_spread_per_model_and_strategy() {
    let even = vec![7_939, 8_223, 8_400, 8_580];
    let this = accept_study(&[
        ("shared", vec![0, 0, 2, 35_726]),
        ("reuseport", even.clone()),
    ]);
    let base = accept_study(&[
        ("shared", vec![8_000, 8_000, 8_000, 10_000]),
        ("reuseport", even),
    ]);
    let section = against_section(&against_markdown(&this, &base));
    assert!(
        section.contains(
            "| `io_uring` | `shared` | ∞ (one got none) | 1.25x | 0.250 | 0.990 | less even |"
        ),
        "{section}"
    );
    assert!(
        section.contains("| `io_uring` | `reuseport` | 1.08x | 1.08x | 0.999 | 0.999 | as even (the spreads overlap) |"),
        "{section}"
    );
    assert!(
        section.contains("`io_uring` with `--accept shared` spread its connections less evenly than in the baseline: Jain 0.250 against 0.990, max/min ∞ (one got none) against 1.25x."),
        "{section}"
    );
    assert!(
        section.contains("1 of the 2 strategies measured in both runs moved beyond their spread."),
        "{section}"
    );
    let matrix = matrix_study();
    for (a, b) in [(&this, &matrix), (&matrix, &this)] {
        let section = against_section(&against_markdown(a, b));
        assert!(!section.contains("### Accept spread"), "{section}");
        assert!(!section.contains("max/min"), "{section}");
    }
}
