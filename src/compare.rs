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

use clap::{Args, ValueEnum};
use http_lab::models::{self, Model};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loadgen::{parse_count, parse_duration};
use report::{CellRecord, CellStatus, Environment, Plan, Workload};
use std::io::{IsTerminal, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `GET /cpu/<n>`: naive Fibonacci of n. fib(29) is about 1.6 million calls, 1.2 ms of CPU on the
/// lab's 2-core VM (`cargo bench --bench core -- cpu` measures it).
const CPU_N: u32 = 29;
/// Time a cell may take beyond its duration and warm-up before it is killed.
const CELL_SLACK: Duration = Duration::from_secs(60);
/// After SIGTERM, how long a cell gets to stop its server and exit before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(20);
/// Lines of a failed cell's stderr kept as its reason.
const REASON_LINES: usize = 8;

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
    #[command(flatten)]
    pub pin: crate::run::PinFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    Hello,
    Cpu,
    Sleep,
    Static,
}

impl WorkloadKind {
    fn workload(self) -> Workload {
        let (name, path, about) = match self {
            WorkloadKind::Hello => ("hello", "/".to_string(), "plaintext, 13 bytes"),
            WorkloadKind::Cpu => ("cpu", format!("/cpu/{CPU_N}"), "about 1 ms of CPU"),
            WorkloadKind::Sleep => ("sleep", "/sleep/10".into(), "blocks 10 ms"),
            WorkloadKind::Static => (
                "static",
                "/static/index.html".into(),
                "a small file from disk",
            ),
        };
        Workload {
            name: name.into(),
            path,
            about: about.into(),
        }
    }

    /// Blocking or CPU-heavy: `epoll` runs it twice, with `--offload` off and on.
    fn offloadable(self) -> bool {
        matches!(self, WorkloadKind::Cpu | WorkloadKind::Sleep)
    }
}

/// One cell to run.
struct Job {
    record: CellRecord,
    /// The arguments after `lab`.
    args: Vec<String>,
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
    let mut jobs = plan_jobs(
        &models,
        &workloads,
        &conns,
        args.duration,
        args.repeat,
        &out,
    );
    // --server-cpus and --load-cpus go to every cell's `lab run` as they were given.
    for job in &mut jobs {
        job.args.extend(args.pin.args());
        job.record.command.extend(args.pin.args());
    }
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
        environment: environment(),
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

/// `all` means every model that can run here (the others are named, with the reason, and
/// skipped); otherwise a comma-separated list of models.
fn select_models(text: &str) -> Result<Vec<Model>, String> {
    if text.trim() == "all" {
        let mut runnable = Vec::new();
        for &m in models::ALL {
            match m.available() {
                Ok(()) => runnable.push(m),
                Err(why) => eprintln!("skipping {}: {why}", m.name()),
            }
        }
        return Ok(runnable);
    }
    let mut models = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let model = Model::from_str(name, false).map_err(|_| {
            let names: Vec<&str> = models::ALL.iter().map(|m| m.name()).collect();
            let near = names
                .iter()
                .map(|n| (edit_distance(name, n), *n))
                .filter(|&(d, _)| d <= 2)
                .min()
                .map(|(_, n)| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            format!(
                "--models: unknown model `{name}` (expected all or some of {}){near}",
                names.join(", ")
            )
        })?;
        if let Err(why) = model.available() {
            return Err(format!("--models: `{name}` cannot run here: {why}"));
        }
        if !models.contains(&model) {
            models.push(model);
        }
    }
    if models.is_empty() {
        return Err("--models: name at least one model, or all".into());
    }
    // The lecture's order, whatever order they were typed in: the report lists them so.
    models.sort_by_key(|m| models::ALL.iter().position(|x| x == m));
    Ok(models)
}

/// Levenshtein distance, for "did you mean" (clap does this for its own value lists).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The warm-up `lab run` uses by default: every connection opens at 2,000 a second, plus 0.5 s.
fn warmup_s(conns: u64) -> f64 {
    conns as f64 / 2000.0 + 0.5
}

fn duration_arg(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Every cell, workload by workload, model by model, size by size, run by run.
fn plan_jobs(
    models: &[Model],
    workloads: &[WorkloadKind],
    conns: &[u64],
    duration: Duration,
    repeat: u32,
    out: &Path,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for &w in workloads {
        let workload = w.workload();
        let mut series: Vec<(Model, String, Vec<&str>)> = Vec::new();
        for &m in models {
            series.push((m, m.name().to_string(), vec![]));
            for v in m.info().variants {
                if !v.only_offloadable || w.offloadable() {
                    series.push((m, v.label.to_string(), v.flags.to_vec()));
                }
            }
        }
        for (model, name, flags) in series {
            for (&c, run) in conns.iter().flat_map(|c| (1..=repeat).map(move |r| (c, r))) {
                let mut id = format!("{}-{}-c{c}", workload.name, name.replace('+', "-"));
                if repeat > 1 {
                    id.push_str(&format!("-r{run}"));
                }
                let json = out.join("cells").join(format!("{id}.json"));
                let mut args: Vec<String> = vec![
                    "run".into(),
                    "--model".into(),
                    model.name().into(),
                    "--conns".into(),
                    c.to_string(),
                    "--path".into(),
                    workload.path.clone(),
                    "--duration".into(),
                    duration_arg(duration),
                    "--quiet".into(),
                    "--json".into(),
                    json.display().to_string(),
                ];
                args.extend(flags.iter().map(|f| f.to_string()));
                let record = CellRecord {
                    id,
                    workload: workload.name.clone(),
                    series: name.clone(),
                    model: model.name().into(),
                    conns: c,
                    command: std::iter::once("lab".to_string())
                        .chain(args.iter().cloned())
                        .collect(),
                    status: CellStatus::Pending,
                    reason: None,
                    wall_s: 0.0,
                    run,
                };
                jobs.push(Job { record, args });
            }
        }
    }
    jobs
}

struct Outcome {
    wall: Duration,
    /// `None` if the cell succeeded; else why not.
    failure: Option<String>,
    /// One line for the console.
    summary: String,
}

/// Runs one `lab run` with its output in `cells/<id>.log`, bounded by `limit`.
fn run_cell(exe: &Path, job: &Job, out: &Path, limit: Duration, stop: &AtomicBool) -> Outcome {
    let start = Instant::now();
    let failed = |reason: String| Outcome {
        wall: start.elapsed(),
        failure: Some(reason),
        summary: String::new(),
    };
    let log_path = out.join("cells").join(format!("{}.log", job.record.id));
    let json_path = out.join(job.record.file());
    let _ = std::fs::remove_file(&json_path);
    let log = match std::fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return failed(format!("cannot create {}: {e}", log_path.display())),
    };
    let mut child = match Command::new(exe)
        .args(&job.args)
        // Its own process group: a terminal's Ctrl-C reaches `lab compare` only, which passes
        // it on as SIGTERM, so the cell stops its load before its server.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start `lab run`: {e}")),
    };
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(16 * 1024 * 1024).read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let deadline = start + limit;
    let mut timed_out = false;
    let mut forwarded = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if stop.load(Ordering::Relaxed) && !forwarded {
            lab_core::sys::kill(child.id() as i32, libc::SIGTERM);
            forwarded = true;
        }
        if Instant::now() >= deadline && !timed_out {
            timed_out = true;
            terminate(&mut child);
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err_text = reader.join().unwrap_or_default();
    // Keep stderr in the cell's log too, after the summary.
    if !err_text.is_empty() {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&log_path) {
            let _ = write!(f, "\n--- stderr ---\n{err_text}");
        }
    }
    let tail = tail_lines(&err_text, REASON_LINES);
    let with_tail = |head: String| {
        if tail.is_empty() {
            head
        } else {
            format!("{head}\n{tail}")
        }
    };
    if timed_out {
        return failed(with_tail(format!(
            "timed out: still running after {} s and was killed",
            limit.as_secs()
        )));
    }
    if forwarded {
        return failed("interrupted".into());
    }
    match status {
        Some(s) if s.success() => {}
        Some(s) => return failed(with_tail(format!("`lab run` exited with {s}"))),
        None => return failed("cannot wait for `lab run`".into()),
    }
    let summary = match std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|t| serde_json::from_str::<report::CellRun>(&t).ok())
    {
        Some(run) => format!(
            "{:>10.0} req/s  p99 {:>8} ms  errors {}{}",
            run.load.throughput_rps,
            if run.load.requests > 0 {
                format!("{:.2}", run.load.latency_us.p99 as f64 / 1000.0)
            } else {
                "n/a".into()
            },
            run.load.errors.total(),
            match run.load.service.starved {
                0 => String::new(),
                n => format!("  starved {n} of {}", run.load.conns),
            }
        ),
        None => return failed(with_tail("`lab run` wrote no readable report".into())),
    };
    Outcome {
        wall: start.elapsed(),
        failure: None,
        summary,
    }
}

/// SIGTERM to `lab run` (it stops its load and its server), then SIGKILL to its whole tree.
fn terminate(child: &mut std::process::Child) {
    let pid = child.id();
    let tree = loadgen::procmon::tree_pids(pid);
    lab_core::sys::kill(pid as i32, libc::SIGTERM);
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in tree.into_iter().chain(loadgen::procmon::tree_pids(pid)) {
        if loadgen::procmon::is_alive(p) {
            lab_core::sys::kill(p as i32, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn write_plan(out: &Path, plan: &Plan) -> Result<(), String> {
    let path = out.join(report::PLAN_FILE);
    let text =
        serde_json::to_string_pretty(plan).map_err(|e| format!("cannot encode the plan: {e}"))?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The machine and its limits, read from /proc and two cheap commands.
fn environment() -> Environment {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let (soft, hard) = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            let w: Vec<&str> = l["Max open files".len()..].split_whitespace().collect();
            (
                w.first().unwrap_or(&"").to_string(),
                w.get(1).unwrap_or(&"").to_string(),
            )
        })
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default();
    let command_line = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    Environment {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        memory_bytes,
        kernel: read("/proc/sys/kernel/osrelease"),
        os,
        open_files_soft: soft,
        open_files_hard: hard,
        somaxconn: read("/proc/sys/net/core/somaxconn"),
        ip_local_port_range: read("/proc/sys/net/ipv4/ip_local_port_range"),
        threads_max: read("/proc/sys/kernel/threads-max"),
        pid_max: read("/proc/sys/kernel/pid_max"),
        max_map_count: read("/proc/sys/vm/max_map_count"),
        rustc: command_line("rustc", &["--version"]),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        lab_version: env!("CARGO_PKG_VERSION").into(),
        // The commit `lab` was built from (build.rs), not whatever checkout it runs in.
        git_commit: env!("LAB_GIT_COMMIT").into(),
    }
}

/// `lab report DIR`: render the report again from the folder's JSON.
pub fn report(dir: &Path) -> Result<(), String> {
    let files = report::write_report(dir)?;
    for f in &files {
        println!("{}", dir.join(f).display());
    }
    Ok(())
}
