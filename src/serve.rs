//! `lab serve`: bind, build the application, run one model until a signal.

use clap::Args;
use http_lab::models::{self, Model, ModelFlags};
use lab_core::{net, net::Address, static_files, Config, LabApp, Limits, Shutdown};
use loadgen::parse_duration;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The server model to run (see `lab models`).
    #[arg(long, value_enum)]
    pub model: Model,
    /// Address to listen on: IP:PORT, HOST:PORT (its first IPv4 address), :PORT (every IPv4
    /// interface, for load from other machines) or unix:PATH (a Unix domain socket; a stale
    /// socket file there is replaced, any other file refused, and it is removed at exit). Port 0
    /// picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_address)]
    pub addr: Address,
    /// Directory served under /static/ (default: a small sample site in a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub docroot: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerFlags,
}

/// `--addr`: `unix:/path`, or a TCP address (below).
fn parse_address(s: &str) -> Result<Address, String> {
    Address::parse(s, parse_listen_addr)
}

/// A TCP `--addr`: `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080` (resolved; IPv4 preferred, so
/// that `localhost` means 127.0.0.1 whatever the resolver's order) or `:8080` (0.0.0.0, as Go
/// and nginx read a port alone).
fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{s:?}: expected :PORT with PORT in 0..65535"))?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|e| format!("{s:?}: expected IP:PORT, HOST:PORT or :PORT ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s:?}: the name has no address"))
}

/// Limits, timeouts and the models' own flags: what `lab serve` hands a model.
#[derive(Args, Debug, Clone)]
pub struct ServerFlags {
    /// Largest request head (request line and header fields), in bytes; above it: 431.
    #[arg(long, default_value_t = Limits::default().max_head_bytes, value_name = "BYTES")]
    pub max_header_bytes: usize,
    /// Most header fields in one request; above it: 431.
    #[arg(long, default_value_t = Limits::default().max_headers, value_name = "N")]
    pub max_headers: usize,
    /// Longest request target, in bytes; above it: 414.
    #[arg(long, default_value_t = Limits::default().max_target_bytes, value_name = "BYTES")]
    pub max_target_bytes: usize,
    /// Largest request body, in bytes; above it: 413 without reading the body.
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Time to receive a complete request head from its first byte (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub header_timeout: Duration,
    /// Time to receive a whole request, head and body, from its first byte.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub body_timeout: Duration,
    /// How long a keep-alive connection may stay idle between requests.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// How long writing a response may block on a client that does not read.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub write_timeout: Duration,
    /// At shutdown, how long in-flight connections may take to finish.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub drain_timeout: Duration,
    /// Every model's own flags (each model crate declares its own; see `lab models`).
    #[command(flatten)]
    pub models: ModelFlags,
    /// Log what the model does on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

impl ServerFlags {
    pub fn config(&self) -> Result<Config, String> {
        let config = Config {
            limits: Limits {
                max_head_bytes: self.max_header_bytes,
                max_headers: self.max_headers,
                max_target_bytes: self.max_target_bytes,
                max_body_bytes: self.max_body_bytes,
                header_timeout: self.header_timeout,
                body_timeout: self.body_timeout,
                idle_timeout: self.idle_timeout,
                write_timeout: self.write_timeout,
            },
            drain_timeout: self.drain_timeout,
            verbose: self.verbose,
        };
        config.validate()?;
        Ok(config)
    }
}

pub fn serve(args: ServeArgs) -> Result<(), String> {
    args.model
        .available()
        .map_err(|why| format!("--model {}: {why}", args.model.name()))?;
    let config = args.server.config()?;
    let run = (args.model.info().start)(&args.server.models.0)?;
    models::check_flags_apply(args.model, &args.server.models.0)?;
    models::check_transport(&args.server.models.0, args.addr.is_unix())?;

    // The docroot: the user's, or a sample site in a temporary directory removed at exit.
    let _sample_site;
    let docroot = match &args.docroot {
        Some(dir) if dir.is_dir() => dir.clone(),
        Some(dir) => return Err(format!("--docroot {}: not a directory", dir.display())),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("http-lab-site-")
                .tempdir()
                .map_err(|e| format!("cannot create the sample site: {e}"))?;
            static_files::write_sample_site(dir.path())
                .map_err(|e| format!("cannot write the sample site: {e}"))?;
            let path = dir.path().to_path_buf();
            _sample_site = dir;
            path
        }
    };
    let app = LabApp::new(&docroot, args.model.name())
        .map_err(|e| format!("--docroot {}: {e}", docroot.display()))?;

    let listener = net::bind(&args.addr).map_err(|e| net::explain_bind_error(&args.addr, &e))?;
    let local = match listener.local_address() {
        Ok(local) => local,
        Err(e) => {
            net::remove_socket_file(&args.addr);
            return Err(format!("cannot read the bound address: {e}"));
        }
    };

    let shutdown = Shutdown::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, shutdown.flag())
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }

    // Handler panics (`GET /crash`) cost one line with -v, never a backtrace capture.
    lab_core::install_panic_hook(config.verbose);

    let mut stdout = std::io::stdout();
    // `listening on http://127.0.0.1:8080` or `listening on unix:/path`.
    let _ = writeln!(stdout, "listening on {}", local.url());
    let _ = stdout.flush();
    if config.verbose {
        eprintln!("{}: docroot {}", args.model.name(), docroot.display());
    }
    let result = run(listener, Arc::new(app), &config, shutdown)
        .map_err(|e| format!("{}: {e}", args.model.name()));
    // Only this process returns here (forked workers and children exit on their own), so the
    // socket file is removed once, when the server stops.
    net::remove_socket_file(&local);
    result
}
