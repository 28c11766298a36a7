//! `lab compare`: run the matrix of models × connections × workloads, one `lab run` per cell,
//! and render the report (the `report` crate) from what they wrote.
//!
//! ```text
//! DIR/compare.json       the plan, the environment, and each cell's command and outcome
//! DIR/cells/<cell>.json  each cell's `lab run --json` report
//! DIR/cells/<cell>.log   each cell's output (its summary, and stderr)
//! DIR/index.html, report.md, results.csv, charts/*.svg   the report (`lab report DIR` redoes it)
//! ```
//!
//! Cells run one at a time, with a pause between them so that one cell's sockets and processes
//! are gone before the next starts. A cell runs as a child process with a bound on its wall time;
//! one that fails (non-zero exit, no report, or out of time) is recorded with the reason and the
//! comparison goes on: a model that cannot hold 10,000 connections is a result, not an abort.
//!
//! # Layout
//! - `plan`: the models, workloads and sizes asked for, and the cells they make.
//! - `experiments`: one file per experiment, each turning the plan into cells (`matrix`: models ×
//!   connections × workloads, closed loop; `rates`, `faults`, `accept`).
//! - `cell`: runs one cell as a child `lab run`, bounded in time.
//! - `environment`: the machine and its limits, recorded in compare.json.
//! - `output`: writing compare.json, and `lab report DIR`.

use clap::{Args, ValueEnum};
use loadgen::{parse_count, parse_duration};
use report::{CellStatus, Plan};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod cell;
mod environment;
mod experiments;
mod output;
mod plan;

pub use output::report;
pub use plan::WorkloadKind;

use cell::Runner;
use output::write_plan;
use plan::{select_models, warmup_s};

/// What `lab compare` can measure besides the matrix; one file each under `experiments/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Experiment {
    Matrix,
    Rates,
    Faults,
    Accept,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Models to compare: `all` (every built model) or a list, e.g. `epoll,thread_per_request`.
    #[arg(long, default_value = "all", value_name = "all|A,B,…")]
    pub models: String,
    /// Connection counts (1k = 1000).
    #[arg(
        short = 'c',
        long,
        visible_alias = "connections",
        value_delimiter = ',',
        default_value = "10,100,1000,10000",
        value_parser = parse_count,
        value_name = "N,…"
    )]
    pub conns: Vec<u64>,
    /// Workloads: hello (GET /), cpu (GET /cpu/29), sleep (GET /sleep/10), static (a file).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "hello,cpu,sleep,static",
        value_name = "W,…"
    )]
    pub workloads: Vec<WorkloadKind>,
    /// Measured duration of each cell.
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Duration,
    /// Pause between cells.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub pause: Duration,
    /// Run every cell this many times. The runs are interleaved (all cells in an order shuffled
    /// with a printed seed, so that drift over the comparison favours no model) and the report
    /// shows each figure's median with its min–max band, and a bootstrap 95% interval from 3 on.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// Seed of the cell order (default: from the clock; printed, and kept in compare.json).
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// The experiments to run: `matrix` (models × --conns × --workloads, closed loop), `rates`
    /// (latency against offered load, see --rates), `faults` (fault isolation: /crash, /crash?abort
    /// and kill -9 of a worker under steady load), `accept` (accept spread: connections per
    /// worker or loop for each `--accept` strategy of process_pool, hybrid_pool and epoll).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "matrix",
        value_name = "E,…"
    )]
    pub experiments: Vec<Experiment>,
    /// Latency against offered load: run every series open loop (`lab run --rate R`) at these
    /// rates (req/s, 1k = 1000), or `auto`: find each series' highest rate with p99 under --slo,
    /// no errors and at least 99% of the rate achieved (double until it fails, then bisect).
    /// Adds the `rates` experiment.
    #[arg(long, value_name = "auto|R,…")]
    pub rates: Option<String>,
    /// The latency objective of --rates: p99 under this.
    #[arg(long, default_value = "10ms", value_parser = parse_duration, value_name = "DURATION")]
    pub slo: Duration,
    /// Connections of every --rates cell (a fixed number, as with wrk2 -c).
    #[arg(long, default_value = "10", value_parser = parse_count, value_name = "N")]
    pub rate_conns: u64,
    /// The workload of --rates (default: the first of --workloads).
    #[arg(long, value_enum, value_name = "W")]
    pub rate_workload: Option<WorkloadKind>,
    /// Connections of the steady load of `faults` (a new connection per request).
    #[arg(long, default_value = "4", value_parser = parse_count, value_name = "N")]
    pub fault_conns: u64,
    /// Clients of every `accept` cell (a new connection per request).
    #[arg(long, default_value = "200", value_parser = parse_count, value_name = "N")]
    pub accept_conns: u64,
    /// Workers (or loops) of every model in the `accept` experiment.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub accept_workers: usize,
    /// `--rates auto`: the first rate tried, req/s, and the most steps per series.
    #[arg(long, default_value = "1000", value_parser = loadgen::parse_rate, value_name = "REQ_PER_S")]
    pub start_rate: f64,
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_steps: u32,
    /// Folder for the cells and the report (default: results/compare-<unix time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub pin: crate::run::PinFlags,
}

pub fn compare(args: CompareArgs) -> Result<ExitCode, String> {
    let _ = plan::PIN_ARGS.set(args.pin.args());
    let models = select_models(&args.models)?;
    if args.conns.is_empty() || args.conns.contains(&0) {
        return Err("--conns: give one or more counts above 0, e.g. 10,100,1000".into());
    }
    if args.duration.is_zero() {
        return Err("--duration must be above 0".into());
    }
    if args.repeat == 0 {
        return Err("--repeat must be 1 or more".into());
    }
    let mut experiments = args.experiments.clone();
    if args.rates.is_some() && !experiments.contains(&Experiment::Rates) {
        experiments.push(Experiment::Rates);
    }
    let mut workloads: Vec<WorkloadKind> = Vec::new();
    for w in &args.workloads {
        if !workloads.contains(w) {
            workloads.push(*w);
        }
    }
    let rates = if experiments.contains(&Experiment::Rates) {
        Some(experiments::rates::Setup::new(&args, &workloads)?)
    } else {
        None
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from("results").join(format!("compare-{secs}"))
    });
    if out.join(report::PLAN_FILE).exists() {
        return Err(format!(
            "--out {}: this folder already holds a comparison (use `lab report {}` to redo its \
             report, or choose another folder)",
            out.display(),
            out.display()
        ));
    }
    std::fs::create_dir_all(out.join("cells"))
        .map_err(|e| format!("--out {}: {e}", out.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the lab binary: {e}"))?;
    if cfg!(debug_assertions) {
        eprintln!("warning: this `lab` is a debug build; measure with `cargo run --release`");
    }

    let mut conns = args.conns.clone();
    conns.sort_unstable();
    conns.dedup();
    let mut jobs = Vec::new();
    let matrix = experiments.contains(&Experiment::Matrix);
    if matrix {
        jobs.extend(experiments::matrix::plan_jobs(
            &models,
            &workloads,
            &conns,
            args.duration,
            args.repeat,
            &out,
        ));
    }
    if experiments.contains(&Experiment::Faults) && args.fault_conns == 0 {
        return Err("--fault-conns must be above 0".into());
    }
    let faults = experiments.contains(&Experiment::Faults);
    let accept = experiments.contains(&Experiment::Accept);
    if accept && (args.accept_conns == 0 || !(1..=64).contains(&args.accept_workers)) {
        return Err("--accept-conns must be above 0, --accept-workers between 1 and 64".into());
    }
    let mut series: Vec<String> = Vec::new();
    for job in &jobs {
        if !series.contains(&job.record.series) {
            series.push(job.record.series.clone());
        }
    }
    if let Some(setup) = &rates {
        // Fixed rates are planned now and shuffled with the matrix; a search plans as it goes.
        jobs.extend(setup.plan_fixed(&models, args.duration, &out));
        for s in setup.series(&models) {
            if !series.contains(&s.name) {
                series.push(s.name);
            }
        }
    }
    if faults {
        for s in experiments::faults::series(&models) {
            if !series.contains(&s.name) {
                series.push(s.name);
            }
        }
    }
    if accept {
        for s in experiments::accept::series(&models) {
            if !series.contains(&s) {
                series.push(s);
            }
        }
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let order = report::shuffled(jobs.len(), seed);
    let mut plan = Plan {
        command: std::iter::once("lab".to_string())
            .chain(std::env::args().skip(1))
            .collect(),
        date: httpdate::fmt_http_date(std::time::SystemTime::now()),
        finished: None,
        interrupted: false,
        elapsed_s: 0.0,
        planned_s: 0.0,
        repeat: args.repeat,
        seed,
        duration_s: args.duration.as_secs_f64(),
        pause_s: args.pause.as_secs_f64(),
        models: models.iter().map(|m| m.name().to_string()).collect(),
        variants: models
            .iter()
            .flat_map(|m| m.info().variants)
            .filter(|v| series.iter().any(|s| s == v.label))
            .map(|v| {
                let flags = v.flags.iter().map(|f| f.to_string()).collect();
                (v.label.to_string(), flags)
            })
            .collect(),
        series,
        // The matrix's sizes and workloads; none when it did not run (the other experiments
        // record their own).
        conns: if matrix { conns.clone() } else { Vec::new() },
        workloads: if matrix {
            workloads.iter().map(|w| w.workload()).collect()
        } else {
            Vec::new()
        },
        environment: environment::environment(),
        cells: jobs.iter().map(|j| j.record.clone()).collect(),
        rates: rates.as_ref().map(|r| r.record()),
    };
    write_plan(&out, &plan)?;

    let cell_s = |c: u64| warmup_s(c) + args.duration.as_secs_f64() + 1.0;
    let searched = rates.as_ref().map_or(0, |r| r.searched_cells(&models));
    let fault_cells = if faults {
        experiments::faults::series(&models).len()
    } else {
        0
    };
    let accept_cells = if accept {
        experiments::accept::cells(&models, args.repeat)
    } else {
        0
    };
    let estimate: f64 = jobs.iter().map(|j| cell_s(j.record.conns)).sum::<f64>()
        + searched as f64 * cell_s(args.rate_conns)
        + fault_cells as f64
            * (warmup_s(args.fault_conns)
                + args
                    .duration
                    .max(experiments::faults::MIN_DURATION)
                    .as_secs_f64()
                + 1.0)
        + accept_cells as f64 * cell_s(args.accept_conns)
        + args.pause.as_secs_f64()
            * (jobs.len() + searched + fault_cells + accept_cells).saturating_sub(1) as f64;
    println!(
        "lab compare: {} cells ({} models x {} sizes x {} workloads x {} runs, epoll twice where it can offload{}), about {:.0} min; writing {}",
        jobs.len() + searched + fault_cells + accept_cells,
        models.len(),
        conns.len(),
        workloads.len(),
        args.repeat,
        if searched > 0 {
            format!("; up to {searched} steps of rate searches")
        } else {
            String::new()
        },
        estimate / 60.0,
        out.display()
    );
    println!("lab compare: cells run in an order shuffled with --seed {seed}");

    let total = jobs.len() + searched + fault_cells + accept_cells;
    let mut runner = Runner::new(exe, out.clone(), args.pause, total)?;
    let started = Instant::now();
    for &i in &order {
        if runner.stopped() {
            break;
        }
        runner.run(&mut plan, i, &jobs[i])?;
    }
    if let Some(setup) = &rates {
        if !runner.stopped() {
            setup.search(&models, args.duration, &mut runner, &mut plan)?;
        }
    }
    if faults && !runner.stopped() {
        experiments::faults::run(
            &models,
            args.fault_conns,
            args.duration,
            &mut runner,
            &mut plan,
        )?;
    }
    if accept && !runner.stopped() {
        experiments::accept::run(
            &models,
            (args.accept_conns, args.accept_workers),
            args.duration,
            args.repeat,
            &mut runner,
            &mut plan,
        )?;
    }
    runner.finish();
    let interrupted = runner.stopped();
    plan.elapsed_s = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    plan.planned_s = estimate.round();
    if interrupted {
        println!(
            "lab compare: interrupted after {:.1} s of about {:.0} s; the cells not run are marked so",
            plan.elapsed_s, plan.planned_s
        );
        plan.interrupted = true;
    }
    plan.finished = Some(httpdate::fmt_http_date(std::time::SystemTime::now()));
    write_plan(&out, &plan)?;
    let files = report::write_report(&out)?;
    println!(
        "report written: {} ({} files; `lab report {}` regenerates them)",
        out.join("index.html").display(),
        files.len(),
        out.display()
    );
    if interrupted {
        return Ok(ExitCode::from(crate::INTERRUPTED));
    }
    if plan.cells.iter().all(|c| c.status != CellStatus::Ok) {
        return Err(format!(
            "every cell failed ({}); their reasons are in {}",
            plan.cells.len(),
            out.join(report::PLAN_FILE).display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
