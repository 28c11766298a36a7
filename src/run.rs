//! `lab run`: start `lab serve` as a child process, load it, measure its process tree, stop it.
//!
//! The server runs in its own process (so a forking model forks a single-threaded process, and
//! its memory is measured apart from the load generator's). While the load runs, the server's
//! whole process tree is sampled from /proc (PSS, because RSS counts the copy-on-write pages of
//! forked workers many times over). At the end the server gets SIGTERM and must exit, with no
//! process of its tree left behind.
//!
//! The server's CPU time is the kernel's own total for its whole tree: `lab run` is the server's
//! parent, so once it has waited for the server, `getrusage(RUSAGE_CHILDREN)` has grown by the
//! CPU of the server and of every descendant the server reaped (the forking models reap all of
//! theirs before they exit). The `/proc` samples keep the per-second curve.
//!
//! `--server-cpus` and `--load-cpus` pin the two sides apart (`sched_setaffinity`): the server is
//! pinned between fork and exec, so its every thread and forked worker inherits the set; the load
//! generator pins each of its threads. Both lists are recorded in the report.
//!
//! `--external NAME=URL` loads a server outside the lab instead (nginx, say: a baseline) and
//! measures it the same way when its process is known: `--external-cmd` starts it (the lab is its
//! parent, so its CPU is the kernel's rusage again) and stops it after, `--external-pid` samples a
//! running one. Without either the report's server figures are marked not measured.
//!
//! The server runs in a process group of its own, so a terminal's Ctrl-C reaches only `lab`,
//! which stops the load (counting nothing after the signal as an error), then the server, and
//! writes its report marked `interrupted`.

use crate::load::{is_stdout, run_load, summary, write_json, LoadFlags};
use crate::serve::ServerFlags;
use clap::{ArgMatches, Args};
use http_lab::models::{self, Model};
use lab_schema::RunReport;
use loadgen::procmon;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often the server's process tree is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long the server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The server model to run (see `lab models`).
    #[arg(long, value_enum, required_unless_present = "external")]
    pub model: Option<Model>,
    /// Request path to load.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// Directory the server serves under /static/.
    #[arg(long, value_name = "DIR")]
    pub docroot: Option<PathBuf>,
    #[command(flatten)]
    pub load: LoadFlags,
    #[command(flatten)]
    pub server: ServerFlags,
    #[command(flatten)]
    pub pin: PinFlags,
    #[command(flatten)]
    pub transport: TransportFlag,
    #[command(flatten)]
    pub knee: crate::knee::KneeFlags,
    #[command(flatten)]
    pub faults: crate::faults::FaultFlags,
    #[command(flatten)]
    pub slow: crate::slow::SlowFlags,
    #[command(flatten)]
    pub external: ExternalFlags,
    /// After the load, save the server's `GET /_status` (the pools' scoreboard, the event loops'
    /// counters: connections per worker or loop) to FILE, before the server is stopped.
    #[arg(long, value_name = "FILE")]
    pub status_after: Option<PathBuf>,
}

/// A server outside the lab instead of a model (`lab run --external nginx=http://127.0.0.1:8090/`).
#[derive(Args, Debug, Clone, Default)]
pub struct ExternalFlags {
    /// Load a server outside the lab (nginx, say) instead of a model: NAME=URL. Its memory and
    /// CPU are measured only with --external-pid or --external-cmd.
    #[arg(long, value_name = "NAME=URL", conflicts_with = "model")]
    pub external: Option<String>,
    /// The pid of the --external server, whose process tree is sampled like a model's.
    #[arg(
        long,
        value_name = "PID",
        requires = "external",
        conflicts_with = "external_cmd"
    )]
    pub external_pid: Option<u32>,
    /// A command that starts the --external server in the foreground (`sh -c`); the lab starts
    /// it, waits for the URL to answer, measures its process tree and stops it (SIGTERM) after.
    #[arg(long, value_name = "CMD", requires = "external")]
    pub external_cmd: Option<String>,
}

/// How the load generator reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transport {
    /// Loopback TCP: `lab serve --addr 127.0.0.1:0`.
    #[default]
    Tcp,
    /// A Unix domain socket in a temporary directory: `lab serve --addr unix:DIR/lab.sock`.
    Unix,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        }
    }
}

/// `--transport` (`lab run`, and `lab compare`, which passes it on).
#[derive(Args, Debug, Clone, Default)]
pub struct TransportFlag {
    /// How the load reaches the server: `tcp` (loopback TCP) or `unix` (a Unix domain socket in
    /// a temporary directory: no TCP stack in the way, so the models' user-space costs show
    /// more). Recorded in the JSON report.
    #[arg(long, value_enum, default_value = "tcp")]
    pub transport: Transport,
}

impl TransportFlag {
    /// The flag as `lab run` takes it, for a command line (nothing for the default).
    pub fn args(&self) -> Vec<String> {
        match self.transport {
            Transport::Tcp => Vec::new(),
            Transport::Unix => vec!["--transport".into(), "unix".into()],
        }
    }
}

/// Which CPUs each side may run on (`lab run`, and `lab compare`, which passes them on).
#[derive(Args, Debug, Clone, Default)]
pub struct PinFlags {
    /// Pin the server (every process and thread of it) to these CPUs: `0`, `1`, `0-1`, `0,2-3`.
    #[arg(long, value_parser = CpuList::parse, value_name = "LIST")]
    pub server_cpus: Option<CpuList>,
    /// Pin the load generator's threads to these CPUs (as --server-cpus). `--server-cpus 0
    /// --load-cpus 1` gives each side a core of its own on a 2-core machine.
    #[arg(long, value_parser = CpuList::parse, value_name = "LIST")]
    pub load_cpus: Option<CpuList>,
}

impl PinFlags {
    /// The flags as `lab run` takes them, for a command line (`lab compare`'s cells).
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, list) in [
            ("--server-cpus", &self.server_cpus),
            ("--load-cpus", &self.load_cpus),
        ] {
            if let Some(list) = list {
                out.extend([flag.to_string(), loadgen::affinity::format_cpus(&list.0)]);
            }
        }
        out
    }
}

/// A checked CPU list: every CPU in it is one this process may run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl CpuList {
    fn parse(text: &str) -> Result<CpuList, String> {
        loadgen::affinity::parse_cpus(text).map(CpuList)
    }
}

pub fn run(args: RunArgs, matches: &ArgMatches) -> Result<ExitCode, String> {
    let Some(model) = args.model else {
        return run_external(&args, matches);
    };
    model
        .available()
        .map_err(|why| format!("--model {}: {why}", model.name()))?;
    // Refuse bad flags before starting anything.
    args.server.config()?;
    models::check_flags_apply(model, &args.server.models.0)?;
    let transport = args.transport.transport;
    models::check_transport(&args.server.models.0, transport == Transport::Unix)?;
    // The model reads and checks its own flags (the entry point it returns is not needed here:
    // the server is a child process).
    drop((model.info().start)(&args.server.models.0)?);
    let checked = args
        .load
        .config(&format!("http://127.0.0.1:1{}", args.path))?;
    args.slow.check(&checked)?;
    if args.knee.find_max_rate && args.slow.slow_clients.is_some() {
        return Err(
            "--slow-clients: not with --find-max-rate (the search runs its own loads)".into(),
        );
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the lab binary: {e}"))?;
    // Over a Unix socket: `lab.sock` in a directory of our own, removed when we are done (the
    // server removes its socket file when it stops).
    let socket_dir = match transport {
        Transport::Tcp => None,
        Transport::Unix => Some(
            tempfile::Builder::new()
                .prefix("lab-run-")
                .tempdir()
                .map_err(|e| {
                    format!("--transport unix: cannot make a directory for the socket: {e}")
                })?,
        ),
    };
    let addr = match &socket_dir {
        None => "127.0.0.1:0".to_string(),
        Some(dir) => format!("unix:{}", dir.path().join("lab.sock").display()),
    };
    let mut serve_args: Vec<String> = ["serve", "--model", model.name(), "--addr", &addr]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(dir) = &args.docroot {
        serve_args.extend(["--docroot".to_string(), dir.display().to_string()]);
    }
    serve_args.extend(forwarded_server_flags(matches));

    // The CPU of children reaped before this server (none, in `lab run`), to subtract.
    let cpu_before = procmon::children_cpu().unwrap_or_default();
    let server_cpus = args
        .pin
        .server_cpus
        .clone()
        .map(|l| l.0)
        .unwrap_or_default();
    let load_cpus = args.pin.load_cpus.clone().map(|l| l.0).unwrap_or_default();
    let mut server = Server::start(&exe, &serve_args, &server_cpus)?;
    // `http://127.0.0.1:PORT/path` or `unix:/tmp/lab-run-X/lab.sock:/path`.
    let url = format!("{}{}", server.base, args.path);
    let mut config = args.load.config(&url)?;
    config.cpus = load_cpus.clone();
    if args.load.warmup.is_none() {
        // Let every connection open before measuring: the ramp at --connect-rate, plus half a second.
        config.warmup = Duration::from_secs_f64(config.conns as f64 / config.connect_rate + 0.5);
    }
    if args.knee.find_max_rate {
        let found = crate::knee::find_max_rate(model.name(), &config, &args.knee);
        let leftover = server.stop();
        let found = found?;
        if let Some(path) = &args.load.json {
            let text = serde_json::to_string_pretty(&found)
                .map_err(|e| format!("cannot encode the search: {e}"))?;
            write_json(path, &text)?;
        }
        if leftover > 0 {
            return Err(format!(
                "{leftover} server processes were still alive after SIGTERM (killed)"
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sampler = procmon::Sampler::start(server.pid(), SAMPLE_EVERY);
    let injector = args.faults.inject_faults.as_ref().map(|_| {
        crate::faults::spawn(
            config.target.clone(),
            server.pid(),
            config.warmup,
            config.duration,
        )
    });
    let attack = start_attack(&args.slow, &config)?;
    let result = run_load(&config);
    let slow_clients = attack.map(crate::slow::Attack::stop).transpose()?;
    let status = args
        .status_after
        .as_ref()
        .map(|path| fetch_status(&config.target).and_then(|body| write_json(path, &body)));
    let mut stats = sampler.stop();
    if let (Some(path), Some(injector)) = (&args.faults.inject_faults, injector) {
        let log = injector
            .join()
            .map_err(|_| "the fault injector panicked".to_string())?;
        crate::faults::write(path, &log)?;
    }
    let leftover = server.stop();
    let report = result?;
    if let Some(Err(e)) = status {
        return Err(format!("--status-after: {e}"));
    }
    if leftover == 0 {
        // The server has exited and been waited for: its tree's CPU is in our children's rusage.
        if let Ok(after) = procmon::children_cpu() {
            stats.cpu_user_s = after.0.saturating_sub(cpu_before.0).as_secs_f64();
            stats.cpu_sys_s = after.1.saturating_sub(cpu_before.1).as_secs_f64();
            stats.cpu_source = "rusage".into();
        }
    }

    let run = RunReport {
        model: model.name().to_string(),
        server_command: std::iter::once("lab".to_string())
            .chain(serve_args)
            .collect(),
        date: httpdate::fmt_http_date(std::time::SystemTime::now()),
        load: report,
        server: stats,
        leftover_processes: leftover as u64,
        server_cpus,
        load_cpus,
        transport: transport.name().to_string(),
        external: None,
        slow_clients,
    };
    finish(&args, run, leftover)
}

/// `--slow-clients`: starts the attackers at the start of the warm-up. The load generator's
/// preflight runs first, so that the fd limit is raised before the attackers take any.
fn start_attack(
    slow: &crate::slow::SlowFlags,
    config: &loadgen::Config,
) -> Result<Option<crate::slow::Attack>, String> {
    let Some(n) = slow.slow_clients else {
        return Ok(None);
    };
    loadgen::preflight(config).map_err(|e| e.to_string())?;
    Ok(Some(crate::slow::spawn(
        config.target.clone(),
        n,
        slow.slow_every,
        config.warmup,
        config.duration,
    )))
}

/// Prints the summaries, writes the JSON report and says how the run ended.
fn finish(args: &RunArgs, run: RunReport, leftover: usize) -> Result<ExitCode, String> {
    let path = args
        .load
        .json
        .clone()
        .unwrap_or_else(|| default_json_path(&run));
    let to_stdout = is_stdout(&path);
    summary(&run.load.summary(), to_stdout);
    if run.server_measured() {
        summary(&server_summary(&run), to_stdout);
    } else {
        summary(
            &format!(
                "Server ({}): not measured (its process is not known: give --external-pid or \
                 --external-cmd)\n",
                run.model
            ),
            to_stdout,
        );
    }
    if let Some(slow) = &run.slow_clients {
        summary(&crate::slow::summary(slow), to_stdout);
    }
    write_json(&path, &run.to_json())?;
    if !to_stdout {
        println!("report written to {}", path.display());
    }
    if leftover > 0 {
        return Err(format!(
            "{leftover} server processes were still alive after SIGTERM (killed)"
        ));
    }
    crate::load::exit_code(&run.load)
}

/// The body of one `GET /_status` on a fresh connection (bounded: 5 s), over TCP or a Unix
/// socket as the load went.
fn fetch_status(target: &loadgen::Target) -> Result<String, String> {
    use std::io::Write;
    let timeout = Duration::from_secs(5);
    let mut conn =
        crate::external::connect(target, timeout).map_err(|e| format!("GET /_status: {e}"))?;
    conn.set_read_timeout(Some(timeout)).ok();
    conn.set_write_timeout(Some(timeout)).ok();
    let host = match target {
        loadgen::Target::Tcp(addr) => addr.to_string(),
        loadgen::Target::Unix(_) => loadgen::config::UNIX_HOST.to_string(),
    };
    conn.write_all(
        format!("GET /_status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| format!("GET /_status: {e}"))?;
    let mut text = String::new();
    conn.take(16 * 1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("GET /_status: {e}"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("GET /_status: no complete response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "GET /_status: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    Ok(body.to_string())
}

/// `lab run --external NAME=URL`: the same load and measurement against a server outside the lab.
/// With `--external-cmd` the server is started and stopped around the run and its CPU comes from
/// the kernel's rusage, as a model's; with `--external-pid` its tree is sampled from `/proc` and
/// its CPU and context switches are what it spent from just before the load to the end; with
/// neither, nothing of the server is measured.
fn run_external(args: &RunArgs, matches: &ArgMatches) -> Result<ExitCode, String> {
    let spec = args.external.external.as_deref().unwrap_or_default();
    let (name, url) = crate::external::parse_spec(spec)?;
    if let Some(flag) = forwarded_server_flags(matches).first() {
        return Err(format!(
            "{flag}: a flag of the lab's models; an --external server takes none"
        ));
    }
    if args.knee.find_max_rate {
        return Err(
            "--find-max-rate: not with --external (use `lab compare --rates auto \
                    --external NAME=URL`)"
                .into(),
        );
    }
    if args.faults.inject_faults.is_some() {
        return Err(
            "--inject-faults: not with --external (the faults need the lab's routes)".into(),
        );
    }
    if args.transport.transport == Transport::Unix {
        return Err(
            "--transport: not with --external (its URL says how to reach it, e.g. \
             unix:/run/nginx.sock:/)"
                .into(),
        );
    }
    let server_cpus = args
        .pin
        .server_cpus
        .clone()
        .map(|l| l.0)
        .unwrap_or_default();
    let load_cpus = args.pin.load_cpus.clone().map(|l| l.0).unwrap_or_default();
    if !server_cpus.is_empty() && args.external.external_cmd.is_none() {
        return Err(
            "--server-cpus: only a server the lab starts can be pinned (--external-cmd)".into(),
        );
    }
    let mut config = args.load.config(&url)?;
    args.slow.check(&config)?;
    config.cpus = load_cpus.clone();
    if args.load.warmup.is_none() {
        config.warmup = Duration::from_secs_f64(config.conns as f64 / config.connect_rate + 0.5);
    }
    let cpu_before = procmon::children_cpu().unwrap_or_default();
    let mut started = match &args.external.external_cmd {
        Some(cmd) => Some(crate::external::Started::start(cmd, &url, &server_cpus)?),
        None => None,
    };
    let pid = match (&started, args.external.external_pid) {
        (Some(s), _) => Some(s.pid()),
        (None, Some(pid)) => {
            crate::external::check_pid(pid, &url)?;
            Some(pid)
        }
        (None, None) => {
            crate::external::probe(&url).map_err(|e| format!("--external {spec}: {e}"))?;
            None
        }
    };
    // A server running before the lab came has CPU and context switches of its past: the
    // figures are the growth over the run.
    let baseline = match (&started, pid) {
        (None, Some(pid)) => Some(procmon::Sampler::start(pid, SAMPLE_EVERY).stop()),
        _ => None,
    };
    let sampler = pid.map(|p| procmon::Sampler::start(p, SAMPLE_EVERY));
    let attack = start_attack(&args.slow, &config)?;
    let result = run_load(&config);
    let slow_clients = attack.map(crate::slow::Attack::stop).transpose()?;
    let mut stats = sampler.map(|s| s.stop()).unwrap_or_default();
    let leftover = started.as_mut().map_or(0, |s| s.stop());
    let report = result?;
    if let Some(base) = baseline {
        stats.cpu_user_s = (stats.cpu_user_s - base.cpu_user_s).max(0.0);
        stats.cpu_sys_s = (stats.cpu_sys_s - base.cpu_sys_s).max(0.0);
        stats.ctx_voluntary = stats.ctx_voluntary.saturating_sub(base.ctx_voluntary);
        stats.ctx_involuntary = stats.ctx_involuntary.saturating_sub(base.ctx_involuntary);
    } else if started.is_some() && leftover == 0 {
        if let Ok(after) = procmon::children_cpu() {
            stats.cpu_user_s = after.0.saturating_sub(cpu_before.0).as_secs_f64();
            stats.cpu_sys_s = after.1.saturating_sub(cpu_before.1).as_secs_f64();
            stats.cpu_source = "rusage".into();
        }
    }
    let run = RunReport {
        model: name.clone(),
        server_command: args.external.external_cmd.iter().cloned().collect(),
        date: httpdate::fmt_http_date(std::time::SystemTime::now()),
        load: report,
        server: stats,
        leftover_processes: leftover as u64,
        server_cpus,
        load_cpus,
        transport: if url.starts_with("unix:") {
            "unix"
        } else {
            "tcp"
        }
        .to_string(),
        external: Some(lab_schema::External {
            name,
            url,
            command: args.external.external_cmd.clone(),
            pid: args.external.external_pid,
            measured: pid.is_some(),
        }),
        slow_clients,
    };
    finish(args, run, leftover)
}

/// `results/<model>-c<conns>-<unix time>.json`
fn default_json_path(run: &RunReport) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("results").join(format!("{}-c{}-{}.json", run.model, run.load.conns, secs))
}

/// The server flags given on the command line, to pass on to `lab serve` as they were typed.
/// Walks `ServerFlags`' own argument list, so a flag added there is forwarded without edits here.
fn forwarded_server_flags(matches: &ArgMatches) -> Vec<String> {
    let cmd = ServerFlags::augment_args(clap::Command::new("flags"));
    let mut out = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if matches.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        if arg.get_action().takes_values() {
            for value in matches.get_raw(id).into_iter().flatten() {
                out.push(format!("--{long}"));
                out.push(value.to_string_lossy().into_owned());
            }
        } else {
            out.push(format!("--{long}"));
        }
    }
    out
}

fn server_summary(run: &RunReport) -> String {
    let s = &run.server;
    let service = &run.load.service;
    let per_conn = if service.starved > 0 {
        // Connections in the listen backlog cost the server nothing: no per-connection figure.
        format!(
            "none per connection: only {} of {} connections were served",
            service.served,
            service.served + service.starved
        )
    } else if run.load.connections.peak_open > 0 {
        format!(
            "{:.1} KiB per connection at peak",
            s.peak_pss_bytes as f64 / 1024.0 / run.load.connections.peak_open as f64
        )
    } else {
        "n/a".into()
    };
    let per_req = |x: u64| {
        if run.load.requests > 0 {
            format!("{:.3}", x as f64 / run.load.requests as f64)
        } else {
            "n/a".into()
        }
    };
    format!(
        "Server ({model}, sampled every {every} ms from /proc, whole process tree):\n\
         \x20 peak PSS        {pss:>10.1} MiB   ({per_conn})\n\
         \x20 peak RSS        {rss:>10.1} MiB\n\
         \x20 processes       {procs:>10}       threads {threads}\n\
         \x20 CPU user/sys    {user:>10.3} s / {sys:.3} s ({source})\n\
         \x20 ctx switches    {vol:>10} voluntary, {invol} involuntary ({vpr} and {ipr} per request)\n\
         \x20 open fds (peak) {fds:>10}\n\
         \x20 left after SIGTERM: {left}\n",
        model = run.model,
        every = SAMPLE_EVERY.as_millis(),
        pss = s.peak_pss_bytes as f64 / 1048576.0,
        rss = s.peak_rss_bytes as f64 / 1048576.0,
        procs = s.peak_processes,
        threads = s.peak_threads,
        user = s.cpu_user_s,
        sys = s.cpu_sys_s,
        source = if s.cpu_source == "rusage" {
            "the kernel's rusage of the whole tree"
        } else {
            "sampled from /proc"
        },
        vol = s.ctx_voluntary,
        invol = s.ctx_involuntary,
        vpr = per_req(s.ctx_voluntary),
        ipr = per_req(s.ctx_involuntary),
        fds = s.peak_fds,
        left = run.leftover_processes,
    )
}

/// The `lab serve` child.
struct Server {
    child: Child,
    /// What the load's URL starts with: `http://127.0.0.1:PORT` or `unix:/path/lab.sock:`.
    base: String,
    stderr: Option<StderrText>,
}

impl Server {
    /// Starts `lab serve` with `args`, pinned to `cpus` unless it is empty.
    fn start(exe: &std::path::Path, args: &[String], cpus: &[usize]) -> Result<Server, String> {
        let mut command = Command::new(exe);
        if !cpus.is_empty() {
            loadgen::affinity::pin_command(&mut command, cpus)
                .map_err(|e| format!("--server-cpus: {e}"))?;
        }
        let mut child = command
            .args(args)
            // A process group of its own: a terminal's Ctrl-C goes to `lab` only, which stops
            // the load first and then the server, so the shutdown is not measured as errors.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `lab serve`: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        // Keep the server's stderr (the last 64 KiB) to show if something goes wrong.
        let stderr = StderrText::read(stderr, 64 * 1024 * 1024, 64 * 1024);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
            let _ = tx.send(first);
            for _ in lines {} // keep draining so the server never blocks on stdout
        });
        let mut server = Server {
            child,
            base: String::new(),
            stderr: Some(stderr),
        };
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let base = match line.trim().strip_prefix("listening on ") {
            Some(unix) if unix.starts_with("unix:") => Some(format!("{unix}:")),
            Some(http) if http.starts_with("http://") => Some(http.to_string()),
            _ => None,
        };
        match base {
            Some(base) => {
                server.base = base;
                Ok(server)
            }
            None => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                let err = server
                    .stderr
                    .take()
                    .map(StderrText::wait)
                    .unwrap_or_default();
                Err(format!("`lab serve` did not start: {}", err.trim()))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, a bounded wait, then SIGKILL to anything left. Returns how many processes of the
    /// tree had to be killed.
    fn stop(&mut self) -> usize {
        let left = stop_tree(&mut self.child, Duration::from_secs(15), "lab run: server");
        if let Some(s) = self.stderr.take() {
            let text = s.wait();
            if !left.is_empty() && !text.is_empty() {
                eprintln!("server stderr (tail):\n{}", text.trim_end());
            }
        }
        left.len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Stops a started server and its process tree: SIGTERM to the child, up to `grace` for it to
/// exit, 2 s more for its children to be reaped, then SIGKILL (with a line naming `who`) to every
/// process of the tree still alive. Returns the pids that had to be killed.
pub(crate) fn stop_tree(child: &mut std::process::Child, grace: Duration, who: &str) -> Vec<u32> {
    let pid = child.id();
    let tree = procmon::tree_pids(pid);
    lab_core::sys::kill(pid as i32, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Children may need a moment to be reaped by their own parent. The tree is read again too:
    // a pool may have forked a worker since the first reading.
    let settle = Instant::now() + Duration::from_secs(2);
    let mut left: Vec<u32> = tree
        .into_iter()
        .chain(procmon::tree_pids(pid))
        .filter(|&p| procmon::is_alive(p))
        .collect();
    left.sort_unstable();
    left.dedup();
    while !left.is_empty() && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
        left.retain(|&p| procmon::is_alive(p));
    }
    for &p in &left {
        eprintln!("{who} process {p} outlived SIGTERM; killing it");
        lab_core::sys::kill(p as i32, libc::SIGKILL);
    }
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    left
}

/// A child's stderr, read to its end on a thread of its own, for the text to be shown if
/// something went wrong. The pipe ends only when every process holding it has exited, and a
/// process that left the child's tree (a daemon that double-forked: nginx without
/// `daemon off`, say) can hold it for ever, so [`StderrText::wait`] waits a bounded time.
pub(crate) struct StderrText {
    text: mpsc::Receiver<String>,
}

/// How long [`StderrText::wait`] waits for the end of the pipe once the child has ended.
const STDERR_GRACE: Duration = Duration::from_secs(5);

impl StderrText {
    /// Reads up to `cap` bytes of `pipe`, keeping the last `keep` of them.
    pub(crate) fn read(pipe: impl Read + Send + 'static, cap: u64, keep: usize) -> StderrText {
        let (tx, text) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = BufReader::new(pipe).take(cap).read_to_end(&mut bytes);
            let start = bytes.len().saturating_sub(keep);
            let _ = tx.send(String::from_utf8_lossy(&bytes[start..]).into_owned());
        });
        StderrText { text }
    }

    /// The text, once the pipe has ended; if it has not within [`STDERR_GRACE`] (call this once
    /// the child has ended), a line that says so (the reading thread is left to end with the
    /// pipe).
    pub(crate) fn wait(self) -> String {
        self.text.recv_timeout(STDERR_GRACE).unwrap_or_else(|_| {
            format!(
                "(stderr still held open {} s after the process ended: a process it started \
                 outlived it outside its process tree, and was left running)",
                STDERR_GRACE.as_secs()
            )
        })
    }
}
