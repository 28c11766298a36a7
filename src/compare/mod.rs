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
//!   connections × workloads, closed loop).
//! - `cell`: runs one cell as a child `lab run`, bounded in time.
//! - `environment`: the machine and its limits, recorded in compare.json.
//! - `output`: writing compare.json, and `lab report DIR`.

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loadgen::{parse_count, parse_duration};
use report::{CellStatus, Plan};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod cell;
mod environment;
mod experiments;
mod output;
mod plan;

pub use output::report;
pub use plan::WorkloadKind;

use cell::run_cell;
use output::write_plan;
use plan::{select_models, warmup_s};

/// Time a cell may take beyond its duration and warm-up before it is killed.
const CELL_SLACK: Duration = Duration::from_secs(60);

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
    /// Folder for the cells and the report (default: results/compare-<unix time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn compare(args: CompareArgs) -> Result<ExitCode, String> {
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

    let mut workloads: Vec<WorkloadKind> = Vec::new();
    for w in &args.workloads {
        if !workloads.contains(w) {
            workloads.push(*w);
        }
    }
    let mut conns = args.conns.clone();
    conns.sort_unstable();
    conns.dedup();
    let jobs = experiments::matrix::plan_jobs(
        &models,
        &workloads,
        &conns,
        args.duration,
        args.repeat,
        &out,
    );
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let order = report::shuffled(jobs.len(), seed);
    let mut series: Vec<String> = Vec::new();
    for job in &jobs {
        if !series.contains(&job.record.series) {
            series.push(job.record.series.clone());
        }
    }
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
        conns: conns.clone(),
        workloads: workloads.iter().map(|w| w.workload()).collect(),
        environment: environment::environment(),
        cells: jobs.iter().map(|j| j.record.clone()).collect(),
    };
    write_plan(&out, &plan)?;

    let estimate: f64 = jobs
        .iter()
        .map(|j| warmup_s(j.record.conns) + args.duration.as_secs_f64() + 1.0)
        .sum::<f64>()
        + args.pause.as_secs_f64() * jobs.len().saturating_sub(1) as f64;
    println!(
        "lab compare: {} cells ({} models x {} sizes x {} workloads x {} runs, epoll twice where it can offload), about {:.0} min; writing {}",
        jobs.len(),
        models.len(),
        conns.len(),
        workloads.len(),
        args.repeat,
        estimate / 60.0,
        out.display()
    );
    println!("lab compare: cells run in an order shuffled with --seed {seed}");

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cells  {elapsed} (eta {eta})  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let say = |line: String| {
        if progress.is_hidden() {
            println!("{line}");
        } else {
            progress.println(line);
        }
    };

    let started = Instant::now();
    for (n, &i) in order.iter().enumerate() {
        let job = &jobs[i];
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if n > 0 {
            std::thread::sleep(args.pause);
        }
        progress.set_message(job.record.id.clone());
        let limit =
            args.duration + Duration::from_secs_f64(warmup_s(job.record.conns)) + CELL_SLACK;
        let outcome = run_cell(&exe, job, &out, limit, &stop);
        let cell = &mut plan.cells[i];
        cell.wall_s = (outcome.wall.as_secs_f64() * 10.0).round() / 10.0;
        match outcome.failure {
            None => {
                cell.status = CellStatus::Ok;
                say(format!(
                    "[{}/{}] {:<34} {}",
                    n + 1,
                    jobs.len(),
                    job.record.id,
                    outcome.summary
                ));
            }
            Some(reason) => {
                cell.status = CellStatus::Failed;
                say(format!(
                    "[{}/{}] {:<34} FAILED: {}",
                    n + 1,
                    jobs.len(),
                    job.record.id,
                    reason.lines().last().unwrap_or("")
                ));
                cell.reason = Some(reason);
            }
        }
        write_plan(&out, &plan)?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    let interrupted = stop.load(Ordering::Relaxed);
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
