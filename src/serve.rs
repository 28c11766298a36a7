//! `lab serve`: bind, build the application, run one model until a signal.

use crate::models::Model;
use clap::Args;
use lab_core::{
    net, static_files, AcceptMode, Config, EpollOptions, ForkOptions, HybridOptions, LabApp,
    Limits, PoolOptions, Shutdown, ThreadOptions,
};
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
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory served under /static/ (default: a small sample site in a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub docroot: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerFlags,
}

/// Limits, timeouts and per-model knobs: everything that becomes a `lab_core::Config`.
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
    /// thread_per_request: stack size of each connection thread, in bytes.
    #[arg(long, default_value_t = ThreadOptions::default().stack_size, value_name = "BYTES")]
    pub stack_size: usize,
    /// thread_per_request: most connection threads at once (at the cap, accept waits).
    #[arg(long, default_value_t = ThreadOptions::default().max_threads, value_name = "N")]
    pub max_threads: usize,
    /// epoll: event loops, each a thread with its own poll (default: one per core).
    #[arg(long, default_value_t = EpollOptions::default().loops, value_name = "N")]
    pub loops: usize,
    /// epoll: run CPU-bound and blocking requests on helper threads (on) or inline on the loop (off).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    pub offload: OnOff,
    /// epoll: helper threads for offloaded requests.
    #[arg(long, default_value_t = EpollOptions::default().offload_threads, value_name = "N")]
    pub offload_threads: usize,
    /// fork_per_request: most live children at once (at the cap, accept waits).
    #[arg(long, default_value_t = ForkOptions::default().max_children, value_name = "N")]
    pub max_children: usize,
    /// process_pool: workers forked at start, and by each SIGHUP reload (Apache: StartServers).
    #[arg(long, default_value_t = PoolOptions::default().start_workers, value_name = "N")]
    pub start_workers: usize,
    /// process_pool: fewer idle workers than this and the parent forks more (MinSpareServers).
    #[arg(long, default_value_t = PoolOptions::default().min_spare, value_name = "N")]
    pub min_spare: usize,
    /// process_pool: more idle workers than this and the parent retires one per tick (MaxSpareServers).
    #[arg(long, default_value_t = PoolOptions::default().max_spare, value_name = "N")]
    pub max_spare: usize,
    /// process_pool: most worker processes at once (MaxRequestWorkers).
    #[arg(long, default_value_t = PoolOptions::default().max_workers, value_name = "N")]
    pub max_workers: usize,
    /// process_pool, hybrid_pool: how often the parent looks at its workers and acts.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub maintenance_interval: Duration,
    /// process_pool, hybrid_pool: a worker exits (and is replaced) after this many connections; 0 = never.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub max_requests_per_worker: u64,
    /// process_pool, hybrid_pool: workers share one listening socket, or each has its own SO_REUSEPORT socket.
    #[arg(long, value_enum, default_value_t = Accept::Shared)]
    pub accept: Accept,
    /// hybrid_pool: worker processes (default: one per core).
    #[arg(long, default_value_t = HybridOptions::default().workers, value_name = "N")]
    pub workers: usize,
    /// hybrid_pool: serving threads per worker process (Apache: ThreadsPerChild). Not `--threads`:
    /// `lab run` takes both these flags and the load generator's, and `--threads` is the latter's.
    #[arg(long, default_value_t = HybridOptions::default().threads, value_name = "N")]
    pub threads_per_worker: usize,
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
            threads: ThreadOptions {
                stack_size: self.stack_size,
                max_threads: self.max_threads,
            },
            epoll: EpollOptions {
                loops: self.loops,
                offload: self.offload == OnOff::On,
                offload_threads: self.offload_threads,
            },
            fork: ForkOptions {
                max_children: self.max_children,
            },
            pool: PoolOptions {
                start_workers: self.start_workers,
                min_spare: self.min_spare,
                max_spare: self.max_spare,
                max_workers: self.max_workers,
                maintenance_interval: self.maintenance_interval,
                max_requests_per_worker: self.max_requests_per_worker,
                accept: match self.accept {
                    Accept::Shared => AcceptMode::Shared,
                    Accept::Reuseport => AcceptMode::ReusePort,
                },
            },
            hybrid: HybridOptions {
                workers: self.workers,
                threads: self.threads_per_worker,
            },
        };
        config.validate()?;
        Ok(config)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// How pool workers get connections (`--accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accept {
    /// Every worker blocks in accept() on the one listening socket.
    Shared,
    /// Each worker slot has its own SO_REUSEPORT socket; the kernel spreads connections.
    Reuseport,
}

pub fn serve(args: ServeArgs) -> Result<(), String> {
    let run = args.model.runner().ok_or_else(|| {
        format!(
            "--model {}: this model is not built yet (see `lab models`)",
            args.model.name()
        )
    })?;
    let config = args.server.config()?;

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

    let listener =
        net::bind_listener(args.addr).map_err(|e| net::explain_bind_error(args.addr, &e))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;

    let shutdown = Shutdown::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, shutdown.flag())
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }

    // Handler panics (`GET /crash`) cost one line with -v, never a backtrace capture.
    lab_core::install_panic_hook(config.verbose);

    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{local}");
    let _ = stdout.flush();
    if config.verbose {
        eprintln!("{}: docroot {}", args.model.name(), docroot.display());
    }
    run(listener, Arc::new(app), &config, shutdown)
        .map_err(|e| format!("{}: {e}", args.model.name()))
}
