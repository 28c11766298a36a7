//! End to end, one benchmark per built model: ten keep-alive `GET /` requests, one after the
//! other, over one loopback connection. What it measures is a request's round trip through the
//! kernel and the model's path from socket to handler and back, with no concurrency; the
//! concurrent picture is `lab compare`'s job.
//!
//! The thread and event-loop models run in this process (their `run` on a thread, bound to
//! 127.0.0.1:0, as the tests do). A model that forks is started as `lab serve` instead: forking a
//! process that runs criterion's threads would copy them into every child. The list of models
//! comes from `lab models`, so a model built later is benchmarked without an edit here.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lab_core::{Config, Handler, LabApp, Shutdown};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const REQUESTS_PER_ITER: u64 = 10;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

type RunFn = fn(TcpListener, Arc<dyn Handler>, &Config, Shutdown) -> std::io::Result<()>;

/// The models that can run inside this process.
fn in_process(model: &str) -> Option<RunFn> {
    match model {
        "single_thread" => Some(lab_single_thread::run),
        "thread_per_request" => Some(lab_thread_per_request::run),
        "epoll" => Some(lab_epoll::run),
        "io_uring" => Some(lab_io_uring::run),
        _ => None,
    }
}

/// A running server, in this process or as a `lab serve` child; stopped on drop.
enum Server {
    Thread {
        shutdown: Shutdown,
        thread: Option<std::thread::JoinHandle<()>>,
        _site: tempfile::TempDir,
    },
    Process(Child),
}

impl Drop for Server {
    fn drop(&mut self) {
        match self {
            Server::Thread {
                shutdown, thread, ..
            } => {
                shutdown.trigger();
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            Server::Process(child) => {
                let _ = Command::new("kill").arg(child.id().to_string()).status();
                let _ = child.wait();
            }
        }
    }
}

fn start(model: &str) -> (Server, SocketAddr) {
    if let Some(run) = in_process(model) {
        let site = tempfile::tempdir().expect("temp dir");
        lab_core::static_files::write_sample_site(site.path()).expect("sample site");
        let app: Arc<dyn Handler> = Arc::new(LabApp::new(site.path(), model).expect("app"));
        let listener = lab_core::bind_listener("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let config = Config::default();
        let thread = std::thread::spawn(move || {
            let _ = run(listener, app, &config, stop);
        });
        let server = Server::Thread {
            shutdown,
            thread: Some(thread),
            _site: site,
        };
        return (server, addr);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["serve", "--model", model, "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lab serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("lab serve --model {model}: unexpected {line:?}"))
        .parse()
        .expect("address");
    (Server::Process(child), addr)
}

/// Sends one request and reads its response (head, then Content-Length bytes of body).
fn round_trip(conn: &mut TcpStream, buf: &mut Vec<u8>) {
    conn.write_all(REQUEST).expect("write");
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            assert!(head.starts_with("http/1.1 200"), "{head}");
            if buf.len() >= end + 4 + len {
                return;
            }
        }
        let n = conn.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The built models that can run here, from `lab models` (lines without "not built yet" or
/// "unavailable").
fn built_models() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("models")
        .output()
        .expect("lab models");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("not built yet") && !l.contains("(unavailable: "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("end_to_end");
    group.throughput(Throughput::Elements(REQUESTS_PER_ITER));
    group.measurement_time(Duration::from_secs(3));
    for model in built_models() {
        let (server, addr) = start(&model);
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_nodelay(true).expect("nodelay");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = Vec::with_capacity(4096);
        group.bench_function(format!("{model}/10_keepalive_requests"), |b| {
            b.iter(|| {
                for _ in 0..REQUESTS_PER_ITER {
                    round_trip(&mut conn, &mut buf);
                }
            })
        });
        // Close the client first: single_thread serves this one connection until it ends.
        drop(conn);
        drop(server);
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
