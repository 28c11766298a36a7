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
//! A series is a model (and each of its variants where they apply), a model with flags of its own
//! (`--series 'epoll --loops 1'`), or a server outside the lab (`--external nginx=URL`, a
//! baseline, run on the plaintext workload only). Every cell's load generator runs with the same
//! `--threads`, `--pipeline` and `--timeout`, recorded in compare.json.
//!
//! compare.json is rewritten after every cell, so an interrupted comparison is resumable:
//! `--resume DIR` plans the same cells, keeps those measured and runs the rest.
//!
//! # Layout
//! - `plan`: the series (models, `--series`, `--external`), workloads and sizes asked for, and
//!   the cells they make.
//! - `experiments`: one file per experiment, each turning the plan into cells (`matrix`: series ×
//!   connections × workloads, closed loop; `rates`, `faults`, `accept`, `slow`).
//! - `cell`: runs one cell as a child `lab run`, bounded in time (or keeps it, resuming).
//! - `resume`: `--resume DIR`: the arguments to resume with, and the check that the plan is DIR's.
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
mod resume;

pub use output::report;
pub use plan::WorkloadKind;

use cell::Runner;
use output::write_plan;
use plan::{select_models, warmup_s, Lineup};

/// What `lab compare` can measure besides the matrix; one file each under `experiments/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Experiment {
    Matrix,
    Rates,
    Faults,
    Accept,
    Slow,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Models to compare: `all` (every built model) or a list, e.g. `epoll,thread_per_request`.
    /// Default: all, unless --series is given.
    #[arg(long, value_name = "all|A,B,…")]
    pub models: Option<String>,
    /// A series of its own: a model and its flags, e.g. `--series 'epoll --loops 1' --series
    /// 'epoll --loops 2'` (repeatable; labelled as typed). Given, it replaces the default model
    /// list (add --models to keep some).
    #[arg(long = "series", value_name = "'MODEL FLAGS…'")]
    pub series: Vec<String>,
    /// A server outside the lab as a series: NAME=URL (repeatable), loaded at that URL in the
    /// plaintext (hello) workload of the matrix and in --rates when they run hello.
    #[arg(long, value_name = "NAME=URL")]
    pub external: Vec<String>,
    /// The pid of an --external server, whose process tree is then sampled like a model's (the
    /// first --external-pid or --external-cmd goes with the first --external, and so on).
    #[arg(long, value_name = "PID")]
    pub external_pid: Vec<u32>,
    /// A command starting an --external server in the foreground: the lab starts it before each
    /// of its cells, waits for the URL to answer, measures it and stops it (SIGTERM) after.
    #[arg(long, value_name = "CMD")]
    pub external_cmd: Vec<String>,
    /// Load-generator threads of every cell (`lab run -t`).
    #[arg(short = 't', long, default_value_t = 1, value_name = "T")]
    pub threads: usize,
    /// Requests in flight per connection in every cell (HTTP/1.1 pipelining; `lab run --pipeline`).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub pipeline: usize,
    /// A request not answered within this counts as a timeout, in every cell.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Resume the comparison in DIR: run the cells it has not measured (unrun, or interrupted)
    /// and write the whole report. Alone, it resumes the plan as first typed (with
    /// `--external-pid`, a restarted external server's new pid); with other flags, they must
    /// make the same plan.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
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
    /// worker or loop for each `--accept` strategy of process_pool, hybrid_pool, epoll and io_uring),
    /// `slow` (slow clients: a steady load without and with slowloris connections that trickle
    /// a request head and never finish it).
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
    /// Slow clients (slowloris connections) of every attacked `slow` cell.
    #[arg(long, default_value = "200", value_parser = parse_count, value_name = "N")]
    pub slow_conns: u64,
    /// Connections of the good load of every `slow` cell (a new connection per request).
    #[arg(long, default_value = "20", value_parser = parse_count, value_name = "N")]
    pub slow_good_conns: u64,
    /// The servers' `--header-timeout` in every `slow` cell (their defence: a head not complete
    /// in time gets 408 and a close); default: the servers' own, 10 s.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub slow_header_timeout: Option<Duration>,
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
    #[command(flatten)]
    pub transport: crate::run::TransportFlag,
}

pub fn compare(args: CompareArgs) -> Result<ExitCode, String> {
    let (args, previous) = match args.resume.clone() {
        Some(dir) => {
            let (args, previous) = resume::arguments(args, &dir)?;
            (args, Some(previous))
        }
        None => (args, None),
    };
    let _ = plan::PIN.set(args.pin.clone());
    let _ = plan::TRANSPORT_ARGS.set(args.transport.args());
    let lineup = lineup(&args)?;
    let models = lineup.all_models();
    if args.conns.is_empty() || args.conns.contains(&0) {
        return Err("--conns: give one or more counts above 0, e.g. 10,100,1000".into());
    }
    if args.duration.is_zero() {
        return Err("--duration must be above 0".into());
    }
    if args.repeat == 0 {
        return Err("--repeat must be 1 or more".into());
    }
    let load = load_flags(&args)?;
    let _ = plan::LOAD_ARGS.set(load.1.clone());
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
    if previous.is_none() && out.join(report::PLAN_FILE).exists() {
        return Err(format!(
            "--out {}: this folder already holds a comparison (`lab compare --resume {}` runs \
             what it has not measured, `lab report {}` redoes its report; or choose another folder)",
            out.display(),
            out.display(),
            out.display()
        ));
    }
    check_externals(&lineup, previous.as_ref().map(|_| out.as_path()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the lab binary: {e}"))?;

    let mut conns = args.conns.clone();
    conns.sort_unstable();
    conns.dedup();
    let mut jobs = Vec::new();
    let matrix = experiments.contains(&Experiment::Matrix);
    if matrix {
        jobs.extend(experiments::matrix::plan_jobs(
            &lineup,
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
    let slow = experiments.contains(&Experiment::Slow);
    if slow && (args.slow_conns == 0 || args.slow_good_conns == 0) {
        return Err("--slow-conns and --slow-good-conns must be above 0".into());
    }
    let mut series: Vec<String> = Vec::new();
    let mut all_series = Vec::new();
    for job in &jobs {
        if !series.contains(&job.record.series) {
            series.push(job.record.series.clone());
        }
    }
    for w in &workloads {
        all_series.extend(lineup.series_for(*w));
    }
    if let Some(setup) = &rates {
        // Fixed rates are planned now and shuffled with the matrix; a search plans as it goes.
        jobs.extend(setup.plan_fixed(&lineup, args.duration, &out));
        for s in setup.series(&lineup) {
            if !series.contains(&s.name) {
                series.push(s.name.clone());
            }
            all_series.push(s);
        }
    }
    if faults {
        for s in experiments::faults::series(&lineup) {
            if !series.contains(&s.name) {
                series.push(s.name.clone());
            }
            all_series.push(s);
        }
    }
    if slow {
        for s in experiments::slow::series(&lineup) {
            if !series.contains(&s.name) {
                series.push(s.name.clone());
            }
            all_series.push(s);
        }
    }
    if accept {
        for s in experiments::accept::series(&models) {
            if !series.contains(&s) {
                series.push(s);
            }
        }
    }
    let unserved: Vec<&str> = lineup
        .externals
        .iter()
        .filter(|e| !series.contains(&e.name))
        .map(|e| e.name.as_str())
        .collect();
    if !unserved.is_empty() {
        return Err(format!(
            "--external {}: an external server runs only the plaintext workload (hello) of the \
             matrix or of --rates, and none runs here",
            unserved.join(", ")
        ));
    }
    let seed = args
        .seed
        .or(previous.as_ref().map(|p| p.seed))
        .unwrap_or_else(|| {
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
        variants: all_series
            .iter()
            .filter(|s| !s.flags.is_empty() && series.contains(&s.name))
            .map(|s| (s.name.clone(), s.flags.clone()))
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
        transport: args.transport.transport.name().to_string(),
        cells: jobs.iter().map(|j| j.record.clone()).collect(),
        rates: rates.as_ref().map(|r| r.record()),
        experiments: experiments
            .iter()
            .filter_map(|e| e.to_possible_value().map(|v| v.get_name().to_string()))
            .collect(),
        externals: lineup.externals.iter().map(|e| e.record()).collect(),
        load: load.0,
        resumed: Vec::new(),
    };
    let mut earlier_s = 0.0;
    if let Some(old) = &previous {
        resume::check_same(old, &plan, &out)?;
        // The comparison stays the one first typed; the resumes are dated.
        plan.command = old.command.clone();
        plan.date = old.date.clone();
        plan.resumed = old.resumed.clone();
        plan.resumed
            .push(httpdate::fmt_http_date(std::time::SystemTime::now()));
        plan.environment = old.environment.clone();
        earlier_s = old.elapsed_s;
        // Cells the earlier run added as it went (searches, faults) stay until met again.
        for c in &old.cells[jobs.len()..] {
            plan.cells.push(c.clone());
        }
    }
    std::fs::create_dir_all(out.join("cells"))
        .map_err(|e| format!("--out {}: {e}", out.display()))?;
    write_plan(&out, &plan)?;
    if cfg!(debug_assertions) {
        eprintln!("warning: this `lab` is a debug build; measure with `cargo run --release`");
    }

    let cell_s = |c: u64| warmup_s(c) + args.duration.as_secs_f64() + 1.0;
    let searched = rates.as_ref().map_or(0, |r| r.searched_cells(&lineup));
    let fault_cells = if faults {
        experiments::faults::series(&lineup).len() * args.repeat as usize
    } else {
        0
    };
    let accept_cells = if accept {
        experiments::accept::cells(&models, args.repeat)
    } else {
        0
    };
    let slow_cells = if slow {
        experiments::slow::cells(&lineup, args.repeat)
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
        + slow_cells as f64 * cell_s(args.slow_good_conns)
        + args.pause.as_secs_f64()
            * (jobs.len() + searched + fault_cells + accept_cells + slow_cells).saturating_sub(1)
                as f64;
    println!(
        "lab compare: {} cells ({} series x {} sizes x {} workloads x {} runs, epoll twice where it can offload{}), about {:.0} min; writing {}",
        jobs.len() + searched + fault_cells + accept_cells + slow_cells,
        plan.series.len(),
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

    let total = jobs.len() + searched + fault_cells + accept_cells + slow_cells;
    let mut runner = Runner::new(exe, out.clone(), args.pause, total)?;
    if let Some(old) = previous {
        runner.resume_from(old.cells, &jobs);
    }
    let started = Instant::now();
    for &i in &order {
        if runner.stopped() {
            break;
        }
        runner.run(&mut plan, i, &jobs[i])?;
    }
    if let Some(setup) = &rates {
        if !runner.stopped() {
            setup.search(&lineup, args.duration, &mut runner, &mut plan)?;
        }
    }
    if faults && !runner.stopped() {
        experiments::faults::run(
            &lineup,
            args.fault_conns,
            args.duration,
            args.repeat,
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
    if slow && !runner.stopped() {
        experiments::slow::run(
            &lineup,
            (
                args.slow_good_conns,
                args.slow_conns,
                args.slow_header_timeout,
            ),
            args.duration,
            args.repeat,
            &mut runner,
            &mut plan,
        )?;
    }
    runner.finish();
    let interrupted = runner.stopped();
    plan.elapsed_s = ((earlier_s + started.elapsed().as_secs_f64()) * 10.0).round() / 10.0;
    plan.planned_s = estimate.round();
    let (ran, kept) = runner.counts();
    if plan.resumed.is_empty() {
        println!("lab compare: {ran} cells run");
    } else {
        println!("lab compare: {ran} cells run, {kept} kept as measured before (--resume)");
    }
    if interrupted {
        println!(
            "lab compare: interrupted after {:.1} s of about {:.0} s; the cells not run are marked so (`lab compare --resume {}` runs them)",
            plan.elapsed_s, plan.planned_s, out.display()
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

/// The series asked for: `--models` (default all, unless `--series` is given), each `--series`,
/// each `--external` with its pid or command.
fn lineup(args: &CompareArgs) -> Result<Lineup, String> {
    let custom = args
        .series
        .iter()
        .map(|t| plan::parse_series(t))
        .collect::<Result<Vec<_>, _>>()?;
    let models = match (&args.models, custom.is_empty()) {
        (Some(text), _) => select_models(text)?,
        (None, true) => select_models("all")?,
        (None, false) => Vec::new(),
    };
    if args.external_pid.len() + args.external_cmd.len() > args.external.len() {
        return Err(format!(
            "--external-pid/--external-cmd: {} given for {} --external (each goes with the \
             --external of its place: the first with the first)",
            args.external_pid.len() + args.external_cmd.len(),
            args.external.len()
        ));
    }
    if !args.external_pid.is_empty() && !args.external_cmd.is_empty() {
        return Err(
            "--external-pid and --external-cmd: give one kind for all the --external servers \
             (pids for servers already running, or commands for the lab to start)"
                .into(),
        );
    }
    let mut externals: Vec<plan::External> = Vec::new();
    for (i, text) in args.external.iter().enumerate() {
        let (name, url) = crate::external::parse_spec(text)?;
        let clash = models.iter().any(|m| m.name() == name)
            || custom.iter().any(|s| s.name == name)
            || externals.iter().any(|e| e.name == name);
        if clash {
            return Err(format!(
                "--external {text}: the name `{name}` is already a series"
            ));
        }
        externals.push(plan::External {
            name,
            url,
            pid: args.external_pid.get(i).copied(),
            cmd: args.external_cmd.get(i).cloned(),
        });
    }
    let mut unique: Vec<plan::Series> = Vec::new();
    for s in custom {
        if models.iter().any(|m| m.name() == s.name) || unique.iter().any(|u| u.name == s.name) {
            continue;
        }
        unique.push(s);
    }
    let lineup = Lineup {
        models,
        custom: unique,
        externals,
    };
    lineup.check_unique()?;
    Ok(lineup)
}

/// Before any cell: each external server answers (or its command starts it and it answers, then
/// is stopped again), and each pid is alive; the error names the flag (and, resuming `dir`, how
/// to give a restarted server's new pid).
fn check_externals(lineup: &Lineup, resuming: Option<&std::path::Path>) -> Result<(), String> {
    for e in &lineup.externals {
        if let Some(cmd) = &e.cmd {
            let mut started = crate::external::Started::start(cmd, &e.url, &[])?;
            started.stop();
        } else {
            crate::external::probe(&e.url)
                .map_err(|why| format!("--external {}={}: {why}", e.name, e.url))?;
            if let Some(pid) = e.pid {
                crate::external::check_pid(pid, &e.url).map_err(|why| match resuming {
                    Some(dir) => format!(
                        "{why}: if the server at {} was restarted, `lab compare --resume {} \
                         --external-pid PID` resumes with its new pid",
                        e.url,
                        dir.display()
                    ),
                    None => why,
                })?;
            }
        }
    }
    Ok(())
}

/// The load flags of every cell: as compare.json records them, and as `lab run` takes them
/// (only those not at `lab run`'s default, so that the commands stay short).
fn load_flags(args: &CompareArgs) -> Result<(report::LoadPlan, Vec<String>), String> {
    if args.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    if args.pipeline == 0 || args.pipeline > 1024 {
        return Err("--pipeline must be between 1 and 1024".into());
    }
    if args.timeout.is_zero() {
        return Err("--timeout must be above 0".into());
    }
    let record = report::LoadPlan {
        threads: args.threads as u64,
        pipeline: args.pipeline as u64,
        timeout_s: args.timeout.as_secs_f64(),
    };
    let default = report::LoadPlan::default();
    let mut flags = Vec::new();
    if record.threads != default.threads {
        flags.extend(["--threads".to_string(), record.threads.to_string()]);
    }
    if record.pipeline != default.pipeline {
        flags.extend(["--pipeline".to_string(), record.pipeline.to_string()]);
    }
    if record.timeout_s != default.timeout_s {
        flags.extend(["--timeout".to_string(), plan::duration_arg(args.timeout)]);
    }
    Ok((record, flags))
}
