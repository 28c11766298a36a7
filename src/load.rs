//! `lab load`: the load generator against any HTTP/1.1 server (nginx included), wrk-style.

use clap::Args;
use loadgen::{parse_duration, Config, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// How the load is shaped: shared by `lab load` and `lab run`.
#[derive(Args, Debug, Clone)]
pub struct LoadFlags {
    /// Connections kept open at once.
    #[arg(short = 'c', long, default_value_t = 100, value_name = "N")]
    pub conns: usize,
    /// Measured duration (e.g. 10s, 500ms, 2m).
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: std::time::Duration,
    /// Load-generator threads (event loops). Default 1, so that the server keeps the other core.
    #[arg(short = 't', long, default_value_t = 1, value_name = "T")]
    pub threads: usize,
    /// Open loop (as wrk2): this many requests per second in total, latency measured from when
    /// each request was due (corrects coordinated omission). Default: closed loop (as wrk).
    #[arg(short = 'R', long, value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
    /// Stop after exactly N measured requests.
    #[arg(long, value_name = "N")]
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
    #[arg(long, default_value_t = 2000.0, value_name = "PER_S")]
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
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/
    pub url: String,
    #[command(flatten)]
    pub load: LoadFlags,
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
    print!("{}", report.summary());
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

/// Writes `text` to `path`, creating its directory.
pub fn write_json(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("--json {}: {e}", path.display()))
}
