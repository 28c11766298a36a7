//! `lab load`: the load generator against any HTTP/1.1 server (nginx included), wrk-style.

use clap::Args;
use loadgen::{parse_count, parse_duration, parse_rate, parse_start_at, Config, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// How the load is shaped: shared by `lab load` and `lab run`.
#[derive(Args, Debug, Clone)]
pub struct LoadFlags {
    /// Connections kept open at once (1k = 1000).
    #[arg(short = 'c', long, visible_alias = "connections", default_value = "100",
          value_parser = count_usize, value_name = "N")]
    pub conns: usize,
    /// Measured duration (e.g. 10s, 500ms, 2m).
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: std::time::Duration,
    /// Load-generator threads (event loops). Default 1, so that the server keeps the other core.
    #[arg(short = 't', long, default_value_t = 1, value_name = "T")]
    pub threads: usize,
    /// Open loop (as wrk2): this many requests per second in total, latency measured from when
    /// each request was due (corrects coordinated omission). Default: closed loop (as wrk).
    /// 10k = 10000.
    #[arg(short = 'R', long, value_parser = parse_rate, value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
    /// Stop after exactly N measured requests (1M = 1000000).
    #[arg(long, value_parser = parse_count, value_name = "N")]
    pub requests: Option<u64>,
    /// Requests in flight per connection (HTTP/1.1 pipelining).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub pipeline: usize,
    /// A new connection per request (as ab without -k).
    #[arg(long)]
    pub no_keepalive: bool,
    /// Run this long before measuring.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Option<std::time::Duration>,
    /// A request not answered within this counts as a timeout.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: std::time::Duration,
    /// New connections per second while ramping up (keeps SYNs within the server's backlog).
    #[arg(long, default_value = "2000", value_parser = parse_rate, value_name = "PER_S")]
    pub connect_rate: f64,
    /// Request method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Extra request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long)]
    pub body: Option<String>,
    /// Accepted for wrk compatibility: the latency distribution is always printed.
    #[arg(long, hide = true)]
    pub latency: bool,
    /// No live progress line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Start at this moment: Unix seconds (`date +%s`) or RFC 3339 (2026-01-01T12:00:00Z), so
    /// that loaders started by ssh, pdsh or srun on several machines begin together (`lab merge`).
    #[arg(long, value_parser = parse_start_at, value_name = "TIME")]
    pub start_at: Option<std::time::SystemTime>,
    /// A name for this loader, recorded in the JSON report (e.g. the host name).
    #[arg(long, value_name = "NAME")]
    pub tag: Option<String>,
    /// Also write the report as JSON to FILE; `-` writes it to standard output (and the
    /// summary to standard error).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/, or a Unix domain socket and the path to load:
    /// unix:/run/lab.sock:/hello (sent with `Host: localhost`).
    pub url: String,
    #[command(flatten)]
    pub load: LoadFlags,
}

/// A count with wrk's suffixes (`1k`), as a `usize`.
fn count_usize(s: &str) -> Result<usize, String> {
    let n = parse_count(s).map_err(|e| e.to_string())?;
    usize::try_from(n).map_err(|_| format!("{s:?}: too large"))
}

impl LoadFlags {
    /// The load generator's configuration for `url`. The error names the flag.
    pub fn config(&self, url: &str) -> Result<Config, String> {
        let mut config = Config::for_url(url).map_err(|e| format!("URL {url}: {e}"))?;
        config.conns = self.conns;
        config.threads = self.threads;
        config.duration = self.duration;
        config.rate = self.rate;
        config.requests = self.requests;
        config.pipeline = self.pipeline;
        config.keepalive = !self.no_keepalive;
        config.warmup = self.warmup.unwrap_or_default();
        config.timeout = self.timeout;
        config.connect_rate = self.connect_rate;
        config.method = self.method.clone();
        config.quiet = self.quiet;
        config.start_at = self.start_at;
        config.tag = self.tag.clone();
        for header in &self.headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| format!("--header {header:?}: expected \"Name: value\""))?;
            config
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
        if let Some(body) = &self.body {
            config.body = body.clone().into_bytes();
        }
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// Runs the load until done or Ctrl-C, returning the report.
pub fn run_load(config: &Config) -> Result<Report, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    for warning in loadgen::preflight(config).map_err(|e| e.to_string())? {
        eprintln!("warning: {warning}");
    }
    loadgen::run_until(config, &stop).map_err(|e| e.to_string())
}

pub fn load(args: LoadArgs) -> Result<ExitCode, String> {
    let config = args.load.config(&args.url)?;
    let report = run_load(&config)?;
    let to_stdout = args.load.json.as_deref().is_some_and(is_stdout);
    summary(&report.summary(), to_stdout);
    if let Some(path) = &args.load.json {
        write_json(path, &report.to_json())?;
    }
    exit_code(&report)
}

/// How a run ends: 130 (as a shell reports Ctrl-C) when interrupted; an error naming the cause
/// when not one request succeeded; else success.
pub fn exit_code(report: &Report) -> Result<ExitCode, String> {
    if report.interrupted {
        return Ok(ExitCode::from(crate::INTERRUPTED));
    }
    let answered = report.requests.saturating_sub(report.errors.status);
    if answered == 0 {
        let e = &report.errors;
        let cause = if report.connections.established == 0 && e.connect > 0 {
            format!(
                "no connection could be made ({} connect errors: {} refused, {} timed out)",
                e.connect, e.connect_refused, e.connect_timeout
            )
        } else if report.connections.established == 0 {
            "no connection could be made".to_string()
        } else if report.requests > 0 {
            format!("every response was an error status ({} of them)", e.status)
        } else {
            format!(
                "connections opened but no response came ({} timeouts, {} closed, {} read errors)",
                e.timeout, e.closed, e.read
            )
        };
        return Err(format!("no request succeeded: {cause}"));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--json -` means standard output.
pub fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// Prints the human summary: on stdout, or on stderr when the JSON goes to stdout.
pub fn summary(text: &str, json_on_stdout: bool) {
    if json_on_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// Writes `text` to `path` (creating its directory), or to standard output if `path` is `-`.
pub fn write_json(path: &std::path::Path, text: &str) -> Result<(), String> {
    if is_stdout(path) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        return writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("--json -: {e}"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("--json {}: {e}", path.display()))
}
